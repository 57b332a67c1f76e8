// Pointer information 700 (seed 000 §4.4, seed 002 §5.4, FIG. 26): the ring pointers of a
// group's journal volume. One set per (group, reader): on a primary there is one set per
// secondary that reads the group's journal (multi-target, seed 002 embodiment 4); the newest
// pointers of every set of a group move together, the oldest/read/retry pointers are each
// reader's own. A secondary keeps one set (reader 0 = itself).
//
// Positions are byte offsets inside the journal volume, held as float64 so journal volumes
// may exceed 4 GiB without BigInt. All fields are written under the group's lock.
//
//  off size field               meaning
//    0    4 group_number        owning group; 0 = set unused
//    4    4 reader_system       the secondary this set serves (primary side); 0 on a secondary
//    8    4 journal_volume      journal logical volume number
//   12    4 reserved
//   16    8 ui_head             update-information area head
//   24    8 wd_head             write-data area head (= exclusive end of the update-information area)
//   32    8 ui_newest           where the next update information goes
//   40    8 ui_oldest           update information of the oldest retained journal
//   48    8 wd_newest           where the next write data goes
//   56    8 wd_oldest           write data of the oldest retained journal
//   64    8 read_start          primary only: next journal to send
//   72    8 retry_start         primary only: first journal sent for the previous journal read command
//   80    8 capacity_bytes      journal volume size (end of the write-data area)
//   88    8 batch_wd_bytes      primary: write-data-area bytes of the journals in [retry start, read start)
//   96    8 read_number         primary: update number of the journal at read start;
//                               secondary: update number expected at ui newest (next to store)
//  104    8 oldest_number       update number of the journal at ui oldest
//  112    4 batch_count         primary: journals in [retry start, read start)
//  116    4 ui_slot_bytes       bytes per update information: 512 (one block); other values only in tests of the seeds' worked examples
//  120    8 last_read_ms        primary: when this reader's last journal read command arrived

import { RecordTable, defineStruct } from './struct.ts';

export const POINTER_INFO = defineStruct('pointer-info-700', 128, [
  { name: 'group_number', offset: 0, size: 4, type: 'u32', meaning: 'owning group, 0 = unused' },
  { name: 'reader_system', offset: 4, size: 4, type: 'u32', meaning: 'secondary served by this set' },
  { name: 'journal_volume', offset: 8, size: 4, type: 'u32', meaning: 'journal logical volume' },
  { name: 'ui_head', offset: 16, size: 8, type: 'f64', meaning: 'update-information area head' },
  { name: 'wd_head', offset: 24, size: 8, type: 'f64', meaning: 'write-data area head' },
  { name: 'ui_newest', offset: 32, size: 8, type: 'f64', meaning: 'update-information newest' },
  { name: 'ui_oldest', offset: 40, size: 8, type: 'f64', meaning: 'update-information oldest' },
  { name: 'wd_newest', offset: 48, size: 8, type: 'f64', meaning: 'write-data newest' },
  { name: 'wd_oldest', offset: 56, size: 8, type: 'f64', meaning: 'write-data oldest' },
  { name: 'read_start', offset: 64, size: 8, type: 'f64', meaning: 'read start (primary)' },
  { name: 'retry_start', offset: 72, size: 8, type: 'f64', meaning: 'retry start (primary)' },
  { name: 'capacity_bytes', offset: 80, size: 8, type: 'f64', meaning: 'journal volume size' },
  { name: 'batch_wd_bytes', offset: 88, size: 8, type: 'f64', meaning: 'write data of the last batch sent' },
  { name: 'read_number', offset: 96, size: 8, type: 'f64', meaning: 'update number at read start' },
  { name: 'oldest_number', offset: 104, size: 8, type: 'f64', meaning: 'update number at ui oldest' },
  { name: 'batch_count', offset: 112, size: 4, type: 'u32', meaning: 'journals of the last batch sent' },
  { name: 'ui_slot_bytes', offset: 116, size: 4, type: 'u32', meaning: 'bytes per update information' },
  { name: 'last_read_ms', offset: 120, size: 8, type: 'f64', meaning: 'last journal read command' },
]);

export type PointerField = 'ui_head' | 'wd_head' | 'ui_newest' | 'ui_oldest' | 'wd_newest' | 'wd_oldest' | 'read_start' | 'retry_start' | 'capacity_bytes' |
  'batch_wd_bytes' | 'read_number' | 'oldest_number' | 'last_read_ms';

const O = POINTER_INFO.offsets;

export class PointerTable extends RecordTable {
  constructor(buffer: SharedArrayBuffer, byteOffset: number, count: number) {
    super(POINTER_INFO, buffer, byteOffset, count);
  }
  groupNumber(s: number): number { return this.view.getUint32(this.at(s) + O.group_number, true); }
  readerSystem(s: number): number { return this.view.getUint32(this.at(s) + O.reader_system, true); }
  journalVolume(s: number): number { return this.view.getUint32(this.at(s) + O.journal_volume, true); }
  get(s: number, field: PointerField): number { return this.view.getFloat64(this.at(s) + O[field], true); }
  batchCount(s: number): number { return this.view.getUint32(this.at(s) + O.batch_count, true); }
  setBatchCount(s: number, n: number): void { this.view.setUint32(this.at(s) + O.batch_count, n, true); }
  setReaderSystem(s: number, system: number): void { this.view.setUint32(this.at(s) + O.reader_system, system, true); }
  uiSlotBytes(s: number): number { return this.view.getUint32(this.at(s) + O.ui_slot_bytes, true); }
  setUiSlotBytes(s: number, bytes: number): void { this.view.setUint32(this.at(s) + O.ui_slot_bytes, bytes, true); }
  set(s: number, field: PointerField, value: number): void { this.view.setFloat64(this.at(s) + O[field], value, true); }

  /**
   * Initialises a set for a newly registered journal volume (seed 000 §5.1 S920 interp.):
   * both newest and oldest pointers at their area heads, read start = retry start = ui head.
   */
  initialise(s: number, group: number, readerSystem: number, journalVolume: number, uiAreaBytes: number, capacityBytes: number, firstNumber = 1): void {
    this.clear(s);
    const base = this.at(s);
    this.view.setUint32(base + O.group_number, group, true);
    this.view.setUint32(base + O.reader_system, readerSystem, true);
    this.view.setUint32(base + O.journal_volume, journalVolume, true);
    for (const f of ['ui_head', 'ui_newest', 'ui_oldest', 'read_start', 'retry_start'] as const) this.set(s, f, 0);
    for (const f of ['wd_head', 'wd_newest', 'wd_oldest'] as const) this.set(s, f, uiAreaBytes);
    this.set(s, 'capacity_bytes', capacityBytes);
    this.setUiSlotBytes(s, 512);
    this.set(s, 'read_number', firstNumber);
    this.set(s, 'oldest_number', firstNumber);
  }
}
