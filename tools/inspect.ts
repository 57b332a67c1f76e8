// Offline inspection: a dump of a system's shared (control) memory, and the journal volume on a
// drive image, decoded without running the system.
//
// Memory dump file (little-endian), written by the control operation dumpMemory:
//   0  u32 magic 'JCFD'   4 u32 version (1)   8 u32 configuration JSON bytes   12 u32 control memory bytes
//   16 the system configuration (JSON, UTF-8), then the control memory image byte for byte
// The image starts with the region table (hal/shared-memory.ts); the inspector checks it against
// the layout the configuration gives, as a processor does at attach.

import { readFileSync, writeFileSync, openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { crc32c } from '../hal/crc32c.ts';
import { readRegionTable } from '../hal/shared-memory.ts';
import { UpdateBitmaps } from '../firmware/bitmap.ts';
import { BLOCK_BYTES, type SystemConfig } from '../firmware/config.ts';
import { UI_SLOT_BYTES, splitJournalVolume } from '../firmware/journal-ring.ts';
import { ControlMemory } from '../firmware/layout.ts';
import { GroupState } from '../firmware/structs/group-info.ts';
import { PairState } from '../firmware/structs/pair-info.ts';
import { decodeUpdateInfo, emptyUpdateInfo, validateUpdateInfo } from '../firmware/structs/update-info-codec.ts';
import { VolumeState } from '../firmware/structs/volume-info.ts';
import type { DecodedValue } from '../firmware/structs/struct.ts';
import type { StorageSystem } from './system.ts';

export const DUMP_FILE_MAGIC = 0x4446434a; // 'JCFD'
export const DUMP_FILE_VERSION = 1;
const DUMP_HEADER_BYTES = 16;
/** Update-information records listed at most by one journal inspection. */
export const JOURNAL_RECORDS_LISTED_MAX = 10_000;

/** Writes the control memory of a running system (a snapshot: processors keep running). */
export function writeMemoryDump(system: StorageSystem, path: string): { path: string; bytes: number; regions: number } {
  const config = Buffer.from(JSON.stringify(system.config), 'utf8');
  const image = new Uint8Array(system.shared.control);
  const header = Buffer.alloc(DUMP_HEADER_BYTES);
  header.writeUInt32LE(DUMP_FILE_MAGIC, 0);
  header.writeUInt32LE(DUMP_FILE_VERSION, 4);
  header.writeUInt32LE(config.byteLength, 8);
  header.writeUInt32LE(image.byteLength, 12);
  writeFileSync(path, Buffer.concat([header, config, Buffer.from(image)]));
  return { path, bytes: DUMP_HEADER_BYTES + config.byteLength + image.byteLength, regions: readRegionTable(system.shared.control).regions.length };
}

export function readMemoryDump(path: string): { config: SystemConfig; mem: ControlMemory } {
  const file = readFileSync(path);
  if (file.byteLength < DUMP_HEADER_BYTES || file.readUInt32LE(0) !== DUMP_FILE_MAGIC) throw new Error(`${path}: not a memory dump (no 'JCFD' magic)`);
  if (file.readUInt32LE(4) !== DUMP_FILE_VERSION) throw new Error(`${path}: dump version ${file.readUInt32LE(4)}, this inspector reads ${DUMP_FILE_VERSION}`);
  const configBytes = file.readUInt32LE(8);
  const imageBytes = file.readUInt32LE(12);
  if (DUMP_HEADER_BYTES + configBytes + imageBytes !== file.byteLength) throw new Error(`${path}: header says ${DUMP_HEADER_BYTES + configBytes + imageBytes} bytes, the file has ${file.byteLength} (truncated?)`);
  const config = JSON.parse(file.subarray(DUMP_HEADER_BYTES, DUMP_HEADER_BYTES + configBytes).toString('utf8')) as SystemConfig;
  const control = new SharedArrayBuffer(imageBytes);
  new Uint8Array(control).set(file.subarray(DUMP_HEADER_BYTES + configBytes));
  const mem = new ControlMemory(config, control, new SharedArrayBuffer(config.cacheBytes), { singleThreaded: true, ownerId: 0xfff1 });
  mem.verifyHeader();
  return { config, mem };
}

export type Rows = Array<Record<string, DecodedValue | boolean>>;

/** The control blocks of a dump that are in use, as tables (section name -> rows). */
export function inspectMemory(path: string): Record<string, Rows> {
  const { config, mem } = readMemoryDump(path);
  const table = readRegionTable(mem.controlBuffer);
  const out: Record<string, Rows> = {};
  out.regions = table.regions.map((r) => ({ id: r.id, name: r.name, offset: r.byteOffset, bytes: r.byteCount, record: r.recordBytes, records: r.recordCount }));
  out.system = [{ system: table.systemNumber, name: config.name, ...systemRecord(mem) }];
  out.volumes = [];
  for (let v = 1; v < mem.volumes.count; v++) if (mem.volumes.state(v) !== VolumeState.UNUSED) out.volumes.push(mem.volumes.decode(v));
  out.groups = [];
  for (let g = 1; g < mem.groups.count; g++) if (mem.groups.state(g) !== GroupState.UNUSED) out.groups.push(mem.groups.decode(g));
  out.pairs = [];
  for (let p = 1; p < mem.pairs.count; p++) if (mem.pairs.state(p) !== PairState.UNUSED) out.pairs.push(mem.pairs.decode(p));
  out.pointers = [];
  for (let s = 0; s < mem.pointers.count; s++) if (mem.pointers.groupNumber(s) !== 0) out.pointers.push({ set: s, ...mem.pointers.decode(s) });
  const bitmaps = new UpdateBitmaps(mem);
  out.bitmaps = [];
  for (let v = 1; v < mem.volumes.count; v++) {
    if (mem.volumes.state(v) === VolumeState.UNUSED) continue;
    const marked = bitmaps.count(v);
    if (marked === 0) continue;
    const list = bitmaps.list(v);
    out.bitmaps.push({ volume: v, trackBlocks: bitmaps.trackBlocks(v), tracks: bitmaps.tracks(v), marked, first: list.slice(0, 8).join(' ') + (list.length > 8 ? ' …' : '') });
  }
  out.locks = [];
  for (let i = 0; i < mem.geometry.lockCount; i++) {
    const s = mem.locks.statsObject(i);
    if (s.contended > 0) out.locks.push({ lock: i, ...s });
  }
  return out;
}

function systemRecord(mem: ControlMemory): Record<string, DecodedValue> {
  const v = new DataView(mem.controlBuffer, mem.regions.get(1)!.byteOffset, 64);
  return { run_state: ['booting', 'running', 'stopping', 'stopped'][v.getInt32(0, true)] ?? 'unknown', processors_started: v.getInt32(4, true), failed_processor: v.getInt32(12, true) - 1, undestaged_slots: v.getInt32(20, true) };
}

/**
 * The update-information area of a journal volume on a drive image: every slot that is not
 * blank, with the validator's verdict and, for a valid record, whether its write data (at its
 * position in the write-data area) matches the data checksum.
 */
export function inspectJournal(drivePath: string, o: { startBlock: number; blocks: number; maxTransferBytes?: number }): { geometry: { uiHead: number; wdHead: number; capacity: number }; records: Rows; blank: number; listedMax: boolean } {
  const fd = openSync(drivePath, 'r');
  try {
    const size = fstatSync(fd).size;
    const capacity = o.blocks * BLOCK_BYTES;
    if ((o.startBlock + o.blocks) * BLOCK_BYTES > size) throw new Error(`${drivePath}: blocks ${o.startBlock}..${o.startBlock + o.blocks - 1} are beyond the image's ${size / BLOCK_BYTES} blocks`);
    const geometry = splitJournalVolume(capacity);
    const read = (offset: number, bytes: number): Uint8Array => {
      const out = new Uint8Array(bytes);
      readSync(fd, out, 0, bytes, o.startBlock * BLOCK_BYTES + offset);
      return out;
    };
    const area = read(geometry.uiHead, geometry.wdHead - geometry.uiHead);
    const view = new DataView(area.buffer);
    const maxBlocks = (o.maxTransferBytes ?? 16 * 1024 * 1024) / BLOCK_BYTES;
    const records: Rows = [];
    let blank = 0;
    const f = emptyUpdateInfo();
    for (let at = 0; at + UI_SLOT_BYTES <= area.byteLength; at += UI_SLOT_BYTES) {
      if (area.subarray(at, at + 64).every((b) => b === 0)) {
        blank++;
        continue;
      }
      if (records.length >= JOURNAL_RECORDS_LISTED_MAX) {
        markOverwritten(records, geometry);
        return { geometry, records, blank, listedMax: true };
      }
      const verdict = validateUpdateInfo(view, area, at, maxBlocks);
      if (verdict !== null) {
        records.push({ slot: at / UI_SLOT_BYTES, verdict });
        continue;
      }
      decodeUpdateInfo(view, at, f);
      const bytes = f.dataBlocks * BLOCK_BYTES;
      let data = 'not checked';
      if ((f.flags & 1) !== 0) {
        data = 'none (initial copy reads the volume)';
      } else if (f.dataPosition >= geometry.wdHead && f.dataPosition < geometry.capacity) {
        // Write data may wrap from the end of the write-data area to its head.
        const first = Math.min(bytes, geometry.capacity - f.dataPosition);
        const buffer = new Uint8Array(bytes);
        buffer.set(read(f.dataPosition, first), 0);
        if (first < bytes) buffer.set(read(geometry.wdHead, bytes - first), first);
        data = crc32c(buffer, 0, bytes) === f.dataChecksum ? 'ok' : 'data checksum mismatch';
      }
      records.push({ slot: at / UI_SLOT_BYTES, verdict: 'ok', update: f.updateNumber, group: f.groupNumber, volume: f.targetVolume, block: f.targetBlock, blocks: f.dataBlocks, position: f.dataPosition, data, initialCopy: (f.flags & 1) !== 0 });
    }
    markOverwritten(records, geometry);
    return { geometry, records, blank, listedMax: false };
  } finally {
    closeSync(fd);
  }
}

/**
 * The write-data area is a ring reused after release: a record whose data a later journal
 * overwrote is not damaged, only released. Its mismatch is reported as such.
 */
function markOverwritten(records: Rows, g: { wdHead: number; capacity: number }): void {
  const size = g.capacity - g.wdHead;
  const span = (r: Rows[number]): [number, number] => {
    const from = (r.position as number) - g.wdHead;
    return [from, from + (r.blocks as number) * BLOCK_BYTES];
  };
  const overlaps = (a: [number, number], b: [number, number]): boolean => {
    // Either may wrap past the end of the ring: compare against b shifted by one ring too.
    for (const shift of [-size, 0, size]) if (a[0] < b[1] + shift && b[0] + shift < a[1]) return true;
    return false;
  };
  const live = records.filter((r) => r.verdict === 'ok' && typeof r.data === 'string' && !(r.data as string).startsWith('none'));
  for (const r of live) {
    if (r.data !== 'data checksum mismatch') continue;
    const mine = span(r);
    const later = live.find((o) => (o.update as number) > (r.update as number) && overlaps(mine, span(o)));
    if (later) r.data = `overwritten by update ${later.update as number} (released)`;
  }
}
