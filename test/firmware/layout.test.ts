// Layout tests: every shared-memory record is where its documentation says it is.
//
// The expected numbers below are COPIED from the byte-layout tables in the header comments of
// firmware/structs/*.ts, hal/lock.ts, hal/mailbox.ts and hal/shared-memory.ts. They are
// deliberately hard-coded: a layout change that forgets to update its documented table (and
// this copy of it) fails here. The "independent decoder" at the end reads a dump of control
// memory with nothing but DataView and these documented numbers.

import { describe, expect, it, test } from 'vitest';
import {
  LOCK_ACQUISITIONS_OFFSET_BYTES,
  LOCK_CONTENDED_OFFSET_BYTES,
  LOCK_OWNER_OFFSET_BYTES,
  LOCK_SLEEPS_OFFSET_BYTES,
  LOCK_SPINS_OFFSET_BYTES,
  LOCK_STATE_OFFSET_BYTES,
  LockTable,
} from '../../hal/lock.ts';
import {
  MAILBOX_CAPACITY_OFFSET_BYTES,
  MAILBOX_CELL_BYTES,
  MAILBOX_DEQUEUE_POSITION_OFFSET_BYTES,
  MAILBOX_ENQUEUE_POSITION_OFFSET_BYTES,
  MAILBOX_ENTRY_WORDS,
  MAILBOX_FULL_REJECTIONS_OFFSET_BYTES,
  MAILBOX_HEADER_BYTES,
  MAILBOX_MAX_CAPACITY,
  MAILBOX_MIN_CAPACITY,
  MAILBOX_POPS_OFFSET_BYTES,
  MAILBOX_PUSHES_OFFSET_BYTES,
  Mailbox,
} from '../../hal/mailbox.ts';
import { DOORBELL_SLOT_BYTES } from '../../hal/doorbell.ts';
import {
  SHM_ALIGN_BYTES,
  SHM_HEADER_BYTES,
  SHM_MAGIC,
  SHM_REGION_ENTRY_BYTES,
  SHM_REGION_NAME_BYTES,
  SHM_VERSION,
  readRegionTable,
} from '../../hal/shared-memory.ts';
import { AssertionError } from '../../firmware/assert.ts';
import { DEFAULT_CONFIG, LINKS_MAX, type SystemConfig } from '../../firmware/config.ts';
import { ControlMemory, RegionId, SystemWord, geometryOf, lockMapOf, planControlMemory } from '../../firmware/layout.ts';
import {
  CACHE_CONTROL_BYTES,
  CACHE_SLOT_HEADER,
  CacheControlWord,
  DIRECTORY_BUCKET_BYTES,
  SLOT_FLAG_FREE,
  SLOT_FLAG_IN_DIRECTORY,
  SLOT_HEADER_WORDS,
  SlotWord,
} from '../../firmware/structs/cache-slot.ts';
import {
  GROUP_INFO,
  GROUP_PAIRS_MAX,
  GroupFlag,
  GroupRole,
  GroupState,
  GroupTable,
  ReadPolicy,
  StorePolicy,
  SuspendReason,
} from '../../firmware/structs/group-info.ts';
import { PAIR_INFO, PairFlag, PairState, PairTable } from '../../firmware/structs/pair-info.ts';
import { POINTER_INFO, PointerTable, type PointerField } from '../../firmware/structs/pointer-info.ts';
import { STAT_BLOCK_BYTES, STAT_COUNTERS_PER_PROCESSOR } from '../../firmware/structs/statistics.ts';
import { decodeRecord, defineStruct, type FieldType, type StructLayout } from '../../firmware/structs/struct.ts';
import { GROUP_SERVICE_TASKS, GroupService, TASK_F64S, TASK_RECORD, TASK_WORDS, TaskF64, TaskKind, TaskWord } from '../../firmware/structs/task.ts';
import { UPDATE_INFO, UPDATE_INFO_BYTES, UpdateInfo } from '../../firmware/structs/update-info.ts';
import { NO_DRIVE, VOLUME_FLAG_JOURNAL, VOLUME_INFO, VolumeState, VolumeTable } from '../../firmware/structs/volume-info.ts';
import { ReleaseMode } from '../../firmware/link-protocol.ts';
import { SENT_BATCHES_BYTES, SENT_BATCHES_MAX, SentBatches } from '../../firmware/sent-batches.ts';
import { freshSystem, pattern, smallConfig } from '../support/harness.ts';

function must<T>(value: T | undefined | null, what = 'value'): T {
  if (value === undefined || value === null) throw new Error(`${what} is missing`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// 1. The documented tables, copied by hand. [name, offset, size, type]
// ---------------------------------------------------------------------------------------------

type Row = readonly [name: string, offset: number, size: number, type: FieldType];

const DOCUMENTED: ReadonlyArray<{ layout: StructLayout; name: string; size: number; rows: readonly Row[] }> = [
  {
    layout: VOLUME_INFO, name: 'volume-info-400', size: 64, rows: [
      ['number', 0, 4, 'u32'],
      ['state', 4, 1, 'u8'],
      ['flags', 5, 1, 'u8'],
      // 6..7 reserved
      ['format', 8, 8, 'ascii'],
      ['capacity_blocks', 16, 4, 'u32'],
      ['pair_number', 20, 4, 'u32'],
      ['drive_number', 24, 4, 'u32'],
      ['drive_start_block', 28, 4, 'u32'],
      ['group_number', 32, 4, 'u32'],
      ['generation', 36, 4, 'u32'],
      ['mirror_number', 40, 4, 'u32'],
      // 44..63 reserved
    ],
  },
  {
    layout: PAIR_INFO, name: 'pair-info-500', size: 64, rows: [
      ['number', 0, 4, 'u32'],
      ['state', 4, 1, 'u8'],
      ['flags', 5, 1, 'u8'],
      // 6..7 reserved
      ['primary_system', 8, 4, 'u32'],
      ['primary_volume', 12, 4, 'u32'],
      ['secondary_system', 16, 4, 'u32'],
      ['secondary_volume', 20, 4, 'u32'],
      ['group_number', 24, 4, 'u32'],
      ['copied_blocks', 28, 4, 'u32'],
      ['forward_next', 32, 4, 'i32'],
      ['forward_serving', 36, 4, 'i32'],
      // 40..63 reserved
    ],
  },
  {
    layout: GROUP_INFO, name: 'group-info-600', size: 256, rows: [
      ['number', 0, 4, 'u32'],
      ['state', 4, 1, 'u8'],
      ['role', 5, 1, 'u8'],
      ['journal_volume_count', 6, 1, 'u8'],
      ['pair_count', 7, 1, 'u8'],
      ['journal_volume_0', 8, 4, 'u32'],
      ['journal_volume_1', 12, 4, 'u32'],
      ['update_number', 16, 8, 'f64'],
      ['partner_system', 24, 4, 'u32'],
      ['partner_group', 28, 4, 'u32'],
      ['restored_number', 32, 8, 'f64'],
      ['link_number', 40, 4, 'u32'],
      ['read_policy', 44, 1, 'u8'],
      ['store_policy', 45, 1, 'u8'],
      ['suspend_reason', 46, 1, 'u8'],
      ['flags', 47, 1, 'u8'],
      ['read_interval_ms', 48, 4, 'u32'],
      ['batch_journals_max', 52, 4, 'u32'],
      ['link_timeout_ms', 56, 4, 'u32'],
      ['initial_copy_blocks', 60, 4, 'u32'],
      ['restored_time_ms', 64, 8, 'f64'],
      ['journals_created', 72, 8, 'f64'],
      ['journals_sent', 80, 8, 'f64'],
      ['journals_restored', 88, 8, 'f64'],
      ['last_contact_ms', 96, 8, 'f64'],
      ['received_number', 104, 8, 'f64'],
      ['primary_usage', 112, 8, 'f64'],
      ['failing_since_ms', 120, 8, 'f64'],
      ['release_mode', 128, 1, 'u8'],
      ['read_window', 129, 1, 'u8'],
      ['read_links', 130, 6, 'u16[]'],
      // 136..191 reserved
      ['pair_set', 192, 64, 'u16[]'],
    ],
  },
  {
    layout: POINTER_INFO, name: 'pointer-info-700', size: 128, rows: [
      ['group_number', 0, 4, 'u32'],
      ['reader_system', 4, 4, 'u32'],
      ['journal_volume', 8, 4, 'u32'],
      // 12..15 reserved
      ['ui_head', 16, 8, 'f64'],
      ['wd_head', 24, 8, 'f64'],
      ['ui_newest', 32, 8, 'f64'],
      ['ui_oldest', 40, 8, 'f64'],
      ['wd_newest', 48, 8, 'f64'],
      ['wd_oldest', 56, 8, 'f64'],
      ['read_start', 64, 8, 'f64'],
      ['retry_start', 72, 8, 'f64'],
      ['capacity_bytes', 80, 8, 'f64'],
      ['batch_wd_bytes', 88, 8, 'f64'],
      ['read_number', 96, 8, 'f64'],
      ['oldest_number', 104, 8, 'f64'],
      ['batch_count', 112, 4, 'u32'],
      ['ui_slot_bytes', 116, 4, 'u32'],
      ['last_read_ms', 120, 8, 'f64'],
    ],
  },
  {
    layout: UPDATE_INFO, name: 'update-info', size: 64, rows: [
      ['magic', 0, 4, 'u32'],
      ['flags', 4, 2, 'u16'],
      // 6..7 reserved
      ['receive_ms', 8, 8, 'f64'],
      ['update_number', 16, 8, 'f64'],
      ['group_number', 24, 4, 'u32'],
      ['target_volume', 28, 4, 'u32'],
      ['target_block', 32, 4, 'u32'],
      ['data_blocks', 36, 4, 'u32'],
      ['data_volume', 40, 4, 'u32'],
      ['data_checksum', 44, 4, 'u32'],
      ['data_position', 48, 8, 'f64'],
      // 56..59 reserved
      ['header_checksum', 60, 4, 'u32'],
    ],
  },
  {
    layout: CACHE_SLOT_HEADER, name: 'cache-slot-header', size: 64, rows: [
      ['volume', 0, 4, 'i32'],
      ['slot_number', 4, 4, 'u32'],
      ['pin_count', 8, 4, 'i32'],
      ['hash_next', 12, 4, 'i32'],
      ['lru_prev', 16, 4, 'i32'],
      ['lru_next', 20, 4, 'i32'],
      ['flags', 24, 4, 'u32'],
      // 28..31 reserved
      ['valid', 32, 16, 'ascii'], // u32[4] bitmap, decoded as raw bytes by decodeRecord
      ['dirty', 48, 16, 'ascii'],
    ],
  },
  {
    layout: TASK_RECORD, name: 'task', size: 128, rows: [
      ['state', 0, 4, 'i32'],
      ['wait', 4, 4, 'i32'],
      ['port_slot', 8, 4, 'i32'],
      ['opcode', 12, 4, 'i32'],
      ['volume', 16, 4, 'i32'],
      ['lba', 20, 4, 'i32'],
      ['byte_length', 24, 4, 'i32'],
      ['cursor_bytes', 28, 4, 'i32'],
      ['cache_slot', 32, 4, 'i32'],
      ['attempts', 36, 4, 'i32'],
      ['generation', 40, 4, 'i32'],
      ['kind', 44, 4, 'i32'],
      ['phase', 48, 4, 'i32'],
      ['group', 52, 4, 'i32'],
      ['pair', 56, 4, 'i32'],
      ['aux_cursor', 60, 4, 'i32'],
      ['wake_ms', 64, 8, 'f64'],
      ['update_number', 72, 8, 'f64'],
      ['ui_position', 80, 8, 'f64'],
      ['wd_position', 88, 8, 'f64'],
      ['count', 96, 4, 'i32'],
      ['aux0', 100, 4, 'i32'],
      ['aux1', 104, 4, 'i32'],
      ['aux2', 108, 4, 'i32'],
      ['received_ms', 112, 8, 'f64'],
      ['aux_f64', 120, 8, 'f64'],
    ],
  },
];

describe('struct layouts equal their documented tables', () => {
  for (const doc of DOCUMENTED) {
    test(`${doc.name}: record size ${doc.size} and every field's offset, size and type`, () => {
      expect(doc.layout.name).toBe(doc.name);
      expect(doc.layout.size).toBe(doc.size);
      const actual = doc.layout.fields.map((f) => [f.name, f.offset, f.size, f.type] as const);
      expect(actual).toEqual(doc.rows);
      const offsets: Record<string, number> = {};
      for (const [name, offset] of doc.rows) offsets[name] = offset;
      expect({ ...doc.layout.offsets }).toEqual(offsets);
    });
  }

  test('layouts are frozen', () => {
    for (const doc of DOCUMENTED) {
      expect(Object.isFrozen(doc.layout)).toBe(true);
      expect(Object.isFrozen(doc.layout.fields)).toBe(true);
      expect(Object.isFrozen(doc.layout.offsets)).toBe(true);
      for (const f of doc.layout.fields) expect(Object.isFrozen(f)).toBe(true);
    }
  });

  test('derived sizes and word indexes agree with the tables', () => {
    expect(UPDATE_INFO_BYTES).toBe(64);
    expect(UpdateInfo.offsets).toBe(UPDATE_INFO.offsets);
    // Cache slot header words (int32): offset / 4 of the documented table.
    expect(SLOT_HEADER_WORDS).toBe(16);
    expect({ ...SlotWord }).toEqual({
      VOLUME: 0, SLOT_NUMBER: 1, PIN_COUNT: 2, HASH_NEXT: 3, LRU_PREV: 4, LRU_NEXT: 5, FLAGS: 6, VALID: 8, DIRTY: 12,
    });
    // Cache control words (documented in cache-slot.ts).
    expect(CACHE_CONTROL_BYTES).toBe(64);
    expect({ ...CacheControlWord }).toEqual({
      FREE_HEAD: 0, LRU_HEAD: 1, LRU_TAIL: 2, DIRTY_SLOTS: 3, USED_SLOTS: 4, SLOT_COUNT: 5, SECTORS_PER_SLOT: 6, BUCKET_COUNT: 7,
    });
    expect(DIRECTORY_BUCKET_BYTES).toBe(4);
    // Task words are hard-coded in task.ts separately from TASK_RECORD: they must agree.
    expect(TASK_WORDS).toBe(32);
    expect({ ...TaskWord }).toEqual({
      STATE: 0, WAIT: 1, PORT_SLOT: 2, OPCODE: 3, VOLUME: 4, LBA: 5, BYTE_LENGTH: 6, CURSOR: 7, CACHE_SLOT: 8, ATTEMPTS: 9, GENERATION: 10,
      KIND: 11, PHASE: 12, GROUP: 13, PAIR: 14, AUX_CURSOR: 15, COUNT: 24, AUX0: 25, AUX1: 26, AUX2: 27,
    });
    for (const [name, word] of Object.entries(TaskWord)) {
      const field = name === 'CURSOR' ? 'cursor_bytes' : name.toLowerCase();
      expect(TASK_RECORD.offsets[field as keyof typeof TASK_RECORD.offsets], name).toBe(word * 4);
      expect(TASK_RECORD.fields.find((f) => f.name === field)?.type, name).toBe('i32');
    }
    // Float64 indexes (= byte offset / 8) of the task record's float64 fields.
    expect(TASK_F64S).toBe(16);
    expect({ ...TaskF64 }).toEqual({ WAKE_MS: 8, UPDATE_NUMBER: 9, UI_POSITION: 10, WD_POSITION: 11, RECEIVED_MS: 14, AUX_F64: 15 });
    for (const [name, index] of Object.entries(TaskF64)) {
      const field = name.toLowerCase();
      expect(TASK_RECORD.offsets[field as keyof typeof TASK_RECORD.offsets], name).toBe(index * 8);
      expect(TASK_RECORD.fields.find((f) => f.name === field)?.type, name).toBe('f64');
    }
    // Every field of the record is reachable through exactly one of the two index maps.
    expect(Object.keys(TaskWord).length + Object.keys(TaskF64).length).toBe(TASK_RECORD.fields.length);
    expect(STAT_COUNTERS_PER_PROCESSOR).toBe(32);
    expect(STAT_BLOCK_BYTES).toBe(256);
    expect(DOORBELL_SLOT_BYTES).toBe(64);
  });

  test('LockTable record (hal/lock.ts table)', () => {
    expect(LockTable.RECORD_BYTES).toBe(64);
    expect(LockTable.bytesFor(3)).toBe(192);
    expect(LOCK_STATE_OFFSET_BYTES).toBe(0);
    expect(LOCK_OWNER_OFFSET_BYTES).toBe(4);
    expect(LOCK_ACQUISITIONS_OFFSET_BYTES).toBe(8);
    expect(LOCK_CONTENDED_OFFSET_BYTES).toBe(16);
    expect(LOCK_SPINS_OFFSET_BYTES).toBe(24);
    expect(LOCK_SLEEPS_OFFSET_BYTES).toBe(32);

    const base = 128;
    const buffer = new SharedArrayBuffer(base + LockTable.bytesFor(3));
    const locks = new LockTable(buffer, base, 3, { singleThreaded: true, ownerId: 41 });
    locks.format();
    locks.lock(1);
    const raw = new DataView(buffer);
    expect(raw.getInt32(base + 64 + 0, true)).toBe(1); // state: locked
    expect(raw.getInt32(base + 64 + 4, true)).toBe(42); // owner: id + 1
    expect(raw.getFloat64(base + 64 + 8, true)).toBe(1); // acquisitions
    expect(raw.getInt32(base + 0, true)).toBe(0);
    expect(raw.getInt32(base + 128, true)).toBe(0);
    locks.unlock(1);
    expect(raw.getInt32(base + 64 + 0, true)).toBe(0);
    expect(raw.getInt32(base + 64 + 4, true)).toBe(0);
  });

  test('Mailbox layout constants (hal/mailbox.ts table)', () => {
    expect(MAILBOX_ENTRY_WORDS).toBe(6);
    expect(MAILBOX_HEADER_BYTES).toBe(192);
    expect(MAILBOX_CELL_BYTES).toBe(32);
    expect(MAILBOX_MIN_CAPACITY).toBe(2);
    expect(MAILBOX_MAX_CAPACITY).toBe(2 ** 30);
    expect(MAILBOX_CAPACITY_OFFSET_BYTES).toBe(0);
    expect(MAILBOX_ENQUEUE_POSITION_OFFSET_BYTES).toBe(64);
    expect(MAILBOX_PUSHES_OFFSET_BYTES).toBe(68);
    expect(MAILBOX_FULL_REJECTIONS_OFFSET_BYTES).toBe(76);
    expect(MAILBOX_DEQUEUE_POSITION_OFFSET_BYTES).toBe(128);
    expect(MAILBOX_POPS_OFFSET_BYTES).toBe(132);
    expect(Mailbox.bytesFor(16)).toBe(192 + 16 * 32);
  });

  test('shared-memory header constants (hal/shared-memory.ts table)', () => {
    expect(SHM_MAGIC).toBe(0x4652434a);
    expect(SHM_VERSION).toBe(1);
    expect(SHM_HEADER_BYTES).toBe(32);
    expect(SHM_REGION_ENTRY_BYTES).toBe(32);
    expect(SHM_REGION_NAME_BYTES).toBe(12);
    expect(SHM_ALIGN_BYTES).toBe(64);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. defineStruct and decodeRecord
// ---------------------------------------------------------------------------------------------

describe('defineStruct', () => {
  test('accepts a well-formed layout and records the offsets', () => {
    const s = defineStruct('ok', 16, [
      { name: 'a', offset: 0, size: 4, type: 'u32', meaning: '' },
      { name: 'b', offset: 4, size: 2, type: 'u16', meaning: '' },
      { name: 'c', offset: 8, size: 8, type: 'f64', meaning: '' },
    ]);
    expect(s.size).toBe(16);
    expect({ ...s.offsets }).toEqual({ a: 0, b: 4, c: 8 });
  });

  test('rejects a misaligned field', () => {
    const make = () => defineStruct('bad', 16, [{ name: 'x', offset: 2, size: 4, type: 'u32', meaning: '' }]);
    expect(make).toThrow(AssertionError);
    expect(make).toThrow('bad.x: offset 2 is not 4-byte aligned');
    expect(() => defineStruct('bad', 16, [{ name: 'f', offset: 4, size: 8, type: 'f64', meaning: '' }]))
      .toThrow('bad.f: offset 4 is not 8-byte aligned');
  });

  test('rejects an overlapping (or out-of-order) field', () => {
    const make = () => defineStruct('bad', 16, [
      { name: 'a', offset: 0, size: 4, type: 'u32', meaning: '' },
      { name: 'b', offset: 2, size: 2, type: 'u16', meaning: '' },
    ]);
    expect(make).toThrow(AssertionError);
    expect(make).toThrow('bad.b: overlaps the previous field or is out of order');
    expect(() => defineStruct('bad', 16, [
      { name: 'a', offset: 8, size: 4, type: 'u32', meaning: '' },
      { name: 'b', offset: 0, size: 4, type: 'u32', meaning: '' },
    ])).toThrow('bad.b: overlaps the previous field or is out of order');
  });

  test('rejects a field past the end of the record', () => {
    const make = () => defineStruct('bad', 8, [{ name: 'tail', offset: 8, size: 4, type: 'u32', meaning: '' }]);
    expect(make).toThrow(AssertionError);
    expect(make).toThrow('bad.tail: ends past the record size 8');
    expect(() => defineStruct('bad', 16, [{ name: 'name', offset: 8, size: 9, type: 'ascii', meaning: '' }]))
      .toThrow('bad.name: ends past the record size 16');
  });

  test('rejects a size that does not match the type, and a record size not a multiple of 8', () => {
    expect(() => defineStruct('bad', 8, [{ name: 'w', offset: 0, size: 2, type: 'u32', meaning: '' }]))
      .toThrow('bad.w: size 2 does not match u32');
    expect(() => defineStruct('bad', 12, [{ name: 'w', offset: 0, size: 4, type: 'u32', meaning: '' }]))
      .toThrow('bad: record size 12 is not a multiple of 8');
  });

  test('decodeRecord reads every field type little-endian at its offset', () => {
    const s = defineStruct('all', 32, [
      { name: 'a', offset: 0, size: 1, type: 'u8', meaning: '' },
      { name: 'b', offset: 2, size: 2, type: 'u16', meaning: '' },
      { name: 'c', offset: 4, size: 4, type: 'u32', meaning: '' },
      { name: 'd', offset: 8, size: 4, type: 'i32', meaning: '' },
      { name: 'e', offset: 16, size: 8, type: 'f64', meaning: '' },
      { name: 'f', offset: 24, size: 4, type: 'ascii', meaning: '' },
      { name: 'g', offset: 28, size: 4, type: 'u16[]', meaning: '' },
    ]);
    const bytes = new Uint8Array(8 + 32);
    const v = new DataView(bytes.buffer);
    const at = 8;
    v.setUint8(at + 0, 0xfe);
    v.setUint16(at + 2, 0xbeef, true);
    v.setUint32(at + 4, 0xdeadbeef, true);
    v.setInt32(at + 8, -7, true);
    v.setFloat64(at + 16, 2 ** 40 + 0.5, true);
    bytes.set([0x41, 0x42, 0, 0x43], at + 24);
    v.setUint16(at + 28, 1, true);
    v.setUint16(at + 30, 65535, true);
    expect(decodeRecord(s, v, at)).toEqual({ a: 0xfe, b: 0xbeef, c: 0xdeadbeef, d: -7, e: 2 ** 40 + 0.5, f: 'AB', g: [1, 65535] });
  });
});

// ---------------------------------------------------------------------------------------------
// 3. Accessors write exactly where the tables say
// ---------------------------------------------------------------------------------------------

/** A buffer with a guard area before the table, so a table offset other than 0 is exercised. */
const GUARD = 192;
function tableBuffer(recordBytes: number, count: number): { buffer: SharedArrayBuffer; raw: DataView; rec: (i: number) => number } {
  const buffer = new SharedArrayBuffer(GUARD + recordBytes * count + GUARD);
  return { buffer, raw: new DataView(buffer), rec: (i) => GUARD + i * recordBytes };
}
function guardsClean(buffer: SharedArrayBuffer, tableBytes: number): boolean {
  const bytes = new Uint8Array(buffer);
  return bytes.subarray(0, GUARD).every((b) => b === 0) && bytes.subarray(GUARD + tableBytes).every((b) => b === 0);
}
function recordsClean(buffer: SharedArrayBuffer, recordBytes: number, indexes: number[]): boolean {
  const bytes = new Uint8Array(buffer);
  return indexes.every((i) => bytes.subarray(GUARD + i * recordBytes, GUARD + (i + 1) * recordBytes).every((b) => b === 0));
}

describe('VolumeTable accessors', () => {
  test('define and every getter/setter round trip, raw bytes at the documented offsets', () => {
    const count = 5;
    const { buffer, raw, rec } = tableBuffer(64, count);
    const t = new VolumeTable(buffer, GUARD, count);
    const v = 2;
    const b = rec(v);
    t.define(v, 'OPEN3', 0x8000_0001, NO_DRIVE, 0xfffffff0, VolumeState.NORMAL);
    expect(t.number(v)).toBe(2);
    expect(t.format(v)).toBe('OPEN3');
    expect(t.capacityBlocks(v)).toBe(0x8000_0001);
    expect(t.driveNumber(v)).toBe(0xffffffff);
    expect(t.driveStartBlock(v)).toBe(0xfffffff0);
    expect(t.state(v)).toBe(VolumeState.NORMAL);
    expect(t.flags(v)).toBe(0);
    expect(t.pairNumber(v)).toBe(0);
    expect(t.groupNumber(v)).toBe(0);
    expect(t.generation(v)).toBe(1); // a fresh record (generation 0) defined once

    expect(raw.getUint32(b + 0, true)).toBe(2);
    expect(raw.getUint8(b + 4)).toBe(VolumeState.NORMAL);
    expect(Array.from(new Uint8Array(buffer, b + 8, 8))).toEqual([0x4f, 0x50, 0x45, 0x4e, 0x33, 0, 0, 0]); // 'OPEN3' NUL-padded
    expect(raw.getUint32(b + 16, true)).toBe(0x8000_0001);
    expect(raw.getUint32(b + 24, true)).toBe(0xffffffff);
    expect(raw.getUint32(b + 28, true)).toBe(0xfffffff0);
    expect(raw.getUint32(b + 36, true)).toBe(1);

    t.setState(v, VolumeState.SECONDARY);
    t.setFlags(v, VOLUME_FLAG_JOURNAL | 0x80);
    t.setPairNumber(v, 0xfedc_ba98);
    t.setGroupNumber(v, 0x1234_5678);
    expect(t.state(v)).toBe(VolumeState.SECONDARY);
    expect(t.flags(v)).toBe(0x81);
    expect(t.pairNumber(v)).toBe(0xfedc_ba98);
    expect(t.groupNumber(v)).toBe(0x1234_5678);
    expect(raw.getUint8(b + 4)).toBe(VolumeState.SECONDARY);
    expect(raw.getUint8(b + 5)).toBe(0x81);
    expect(raw.getUint16(b + 6, true)).toBe(0); // reserved
    expect(raw.getUint32(b + 20, true)).toBe(0xfedc_ba98);
    expect(raw.getUint32(b + 32, true)).toBe(0x1234_5678);
    expect(raw.getUint32(b + 36, true)).toBe(1); // generation: the setters leave it alone
    expect(new Uint8Array(buffer, b + 40, 24).every((x) => x === 0)).toBe(true); // reserved tail

    // An 8-character format fills the field with no terminator and does not spill.
    t.define(v, 'ABCDEFGH', 1, 0, 0, VolumeState.UNUSED);
    expect(t.format(v)).toBe('ABCDEFGH');
    expect(raw.getUint32(b + 16, true)).toBe(1);
    // define clears what an earlier life of the record left (flags, pair, group).
    expect(t.flags(v)).toBe(0);
    expect(t.pairNumber(v)).toBe(0);
    expect(t.groupNumber(v)).toBe(0);
    expect(t.state(v)).toBe(VolumeState.UNUSED);
    // ... but keeps the generation across the clear, and bumps it.
    expect(t.generation(v)).toBe(2);
    expect(raw.getUint32(b + 36, true)).toBe(2);
    t.bumpGeneration(v);
    expect(t.generation(v)).toBe(3);
    expect(raw.getUint32(b + 36, true)).toBe(3);
    // u32 wrap-around, for bumpGeneration and for define.
    raw.setUint32(b + 36, 0xffffffff, true);
    t.bumpGeneration(v);
    expect(t.generation(v)).toBe(0);
    raw.setUint32(b + 36, 0xffffffff, true);
    t.define(v, 'ABCDEFGH', 1, 0, 0, VolumeState.UNUSED);
    expect(t.generation(v)).toBe(0);
    t.bumpGeneration(v);
    expect(raw.getUint32(b + 36, true)).toBe(1);
    expect(new Uint8Array(buffer, b + 40, 24).every((x) => x === 0)).toBe(true);

    // Only record v was touched.
    expect(recordsClean(buffer, 64, [0, 1, 3, 4])).toBe(true);
    expect(guardsClean(buffer, 64 * count)).toBe(true);
    expect(t.decode(v)).toEqual({
      number: 2, state: VolumeState.UNUSED, flags: 0, format: 'ABCDEFGH', capacity_blocks: 1, pair_number: 0, drive_number: 0, drive_start_block: 0, group_number: 0, generation: 1, mirror_number: 0,
    });
  });

  test('exists() covers 1..count-1 and the accessors reject an out-of-range record', () => {
    const { buffer } = tableBuffer(64, 4);
    const t = new VolumeTable(buffer, GUARD, 4);
    expect([0, 1, 3, 4, 1.5, -1].map((v) => t.exists(v))).toEqual([false, true, true, false, false, false]);
    expect(() => t.number(4)).toThrow('volume-info-400: record 4 out of range 0..3');
    expect(() => t.setState(-1, VolumeState.NORMAL)).toThrow(AssertionError);
  });
});

describe('PairTable accessors', () => {
  test('register and every getter/setter round trip, raw bytes at the documented offsets', () => {
    const count = 4;
    const { buffer, raw, rec } = tableBuffer(64, count);
    const t = new PairTable(buffer, GUARD, count);
    const p = 3;
    const b = rec(p);
    t.register(p, 0xffff, 0xfffffffe, 0x10001, 77, 0x8000_0000);
    expect(t.state(p)).toBe(PairState.NOT_COPIED);
    expect(t.primarySystem(p)).toBe(0xffff);
    expect(t.primaryVolume(p)).toBe(0xfffffffe);
    expect(t.secondarySystem(p)).toBe(0x10001);
    expect(t.secondaryVolume(p)).toBe(77);
    expect(t.groupNumber(p)).toBe(0x8000_0000);
    expect(t.copiedBlocks(p)).toBe(0);
    expect(t.flags(p)).toBe(0);
    expect(raw.getUint32(b + 0, true)).toBe(3); // number
    expect(raw.getUint8(b + 4)).toBe(PairState.NOT_COPIED);
    expect(raw.getUint8(b + 5)).toBe(0); // flags
    expect(raw.getUint32(b + 8, true)).toBe(0xffff);
    expect(raw.getUint32(b + 12, true)).toBe(0xfffffffe);
    expect(raw.getUint32(b + 16, true)).toBe(0x10001);
    expect(raw.getUint32(b + 20, true)).toBe(77);
    expect(raw.getUint32(b + 24, true)).toBe(0x8000_0000);

    t.setState(p, PairState.COPYING);
    t.setCopiedBlocks(p, 0xffff_fff0);
    expect(t.state(p)).toBe(PairState.COPYING);
    expect(t.copiedBlocks(p)).toBe(0xffff_fff0);
    expect(raw.getUint8(b + 4)).toBe(PairState.COPYING);
    expect(raw.getUint32(b + 28, true)).toBe(0xffff_fff0);
    expect(new Uint8Array(buffer, b + 5, 3).every((x) => x === 0)).toBe(true);
    expect(new Uint8Array(buffer, b + 32, 32).every((x) => x === 0)).toBe(true);

    // flags: u8 at offset 5, next to the state and leaving it alone.
    expect(PairFlag.RESYNC).toBe(1);
    t.setFlags(p, PairFlag.RESYNC);
    expect(t.flags(p)).toBe(PairFlag.RESYNC);
    expect(raw.getUint8(b + 5)).toBe(PairFlag.RESYNC);
    t.setFlags(p, 0xff);
    expect(t.flags(p)).toBe(0xff);
    expect(raw.getUint8(b + 5)).toBe(0xff);
    expect(raw.getUint8(b + 4)).toBe(PairState.COPYING);
    expect(raw.getUint16(b + 6, true)).toBe(0); // reserved
    expect(t.decode(p)).toMatchObject({ state: PairState.COPYING, flags: 0xff });
    raw.setUint8(b + 5, 0x42);
    expect(t.flags(p)).toBe(0x42);
    expect(new Uint8Array(buffer, b + 32, 32).every((x) => x === 0)).toBe(true);

    // register again clears the progress and the flags of the previous pair.
    t.register(p, 1, 2, 3, 4, 5);
    expect(t.copiedBlocks(p)).toBe(0);
    expect(t.flags(p)).toBe(0);
    expect(t.state(p)).toBe(PairState.NOT_COPIED);
    expect(recordsClean(buffer, 64, [0, 1, 2])).toBe(true);
    expect(guardsClean(buffer, 64 * count)).toBe(true);
    expect(t.decode(p)).toEqual({
      number: 3, state: PairState.NOT_COPIED, flags: 0, primary_system: 1, primary_volume: 2, secondary_system: 3, secondary_volume: 4, group_number: 5, copied_blocks: 0,
      forward_next: 0, forward_serving: 0,
    });
  });

  test('exists() covers 1..count-1', () => {
    const { buffer } = tableBuffer(64, 4);
    const t = new PairTable(buffer, GUARD, 4);
    expect([0, 1, 3, 4, 1.5, -1].map((p) => t.exists(p))).toEqual([false, true, true, false, false, false]);
  });
});

describe('GroupTable accessors', () => {
  test('create and every getter/setter round trip, raw bytes at the documented offsets', () => {
    const count = 4;
    const { buffer, raw, rec } = tableBuffer(256, count);
    const t = new GroupTable(buffer, GUARD, count);
    const g = 1;
    const b = rec(g);
    t.create(g, GroupRole.PRIMARY);
    expect(raw.getUint32(b + 0, true)).toBe(1);
    expect(t.state(g)).toBe(GroupState.NORMAL);
    expect(raw.getUint8(b + 4)).toBe(GroupState.NORMAL);
    expect(t.role(g)).toBe(GroupRole.PRIMARY);
    expect(raw.getUint8(b + 5)).toBe(GroupRole.PRIMARY);
    expect(t.updateNumber(g)).toBe(1);
    expect(raw.getFloat64(b + 16, true)).toBe(1);
    expect(t.restoredNumber(g)).toBe(0);
    expect(t.pairCount(g)).toBe(0);
    expect(t.journalVolume(g)).toBe(0);

    t.setState(g, GroupState.FAILURE);
    t.setRole(g, GroupRole.SECONDARY);
    expect(t.state(g)).toBe(GroupState.FAILURE);
    expect(t.role(g)).toBe(GroupRole.SECONDARY);
    expect(raw.getUint8(b + 4)).toBe(GroupState.FAILURE);
    expect(raw.getUint8(b + 5)).toBe(GroupRole.SECONDARY);

    // update_number: float64, exact above 2^32.
    t.setUpdateNumber(g, 2 ** 40 + 3);
    expect(t.updateNumber(g)).toBe(2 ** 40 + 3);
    expect(raw.getFloat64(b + 16, true)).toBe(2 ** 40 + 3);
    t.setUpdateNumber(g, 2 ** 53);
    expect(t.updateNumber(g)).toBe(2 ** 53);
    t.setRestoredNumber(g, 2 ** 40 + 2);
    expect(t.restoredNumber(g)).toBe(2 ** 40 + 2);
    expect(raw.getFloat64(b + 32, true)).toBe(2 ** 40 + 2);

    t.setPartner(g, 0xfffe, 0x1_0203);
    expect(t.partnerSystem(g)).toBe(0xfffe);
    expect(t.partnerGroup(g)).toBe(0x1_0203);
    expect(raw.getUint32(b + 24, true)).toBe(0xfffe);
    expect(raw.getUint32(b + 28, true)).toBe(0x1_0203);

    // The model fields 40..128 (not written here), reserved 129..191 and the empty pair set
    // 192..255 untouched; neighbours and guards untouched.
    expect(new Uint8Array(buffer, b + 40, 216).every((x) => x === 0)).toBe(true);
    expect(recordsClean(buffer, 256, [0, 2, 3])).toBe(true);
    expect(guardsClean(buffer, 256 * count)).toBe(true);
  });

  type U8Field = Parameters<GroupTable['u8']>[1];
  type U32Field = Parameters<GroupTable['u32']>[1];
  type F64Field = Parameters<GroupTable['f64']>[1];
  // [field, documented offset, a value that fills the type's range]
  const U8S: ReadonlyArray<readonly [U8Field, number, number]> = [
    ['state', 4, GroupState.ABNORMAL], ['role', 5, GroupRole.SECONDARY], ['read_policy', 44, ReadPolicy.TRAFFIC],
    ['store_policy', 45, StorePolicy.HOLD], ['suspend_reason', 46, SuspendReason.JOURNAL_VOLUME], ['flags', 47, 0xff],
    ['release_mode', 128, ReleaseMode.UP_TO], ['read_window', 129, 8],
  ];
  const U32S: ReadonlyArray<readonly [U32Field, number, number]> = [
    ['link_number', 40, 8], ['read_interval_ms', 48, 0xffff_fffe], ['batch_journals_max', 52, 0x8000_0001],
    ['link_timeout_ms', 56, 0x1234_5678], ['initial_copy_blocks', 60, 0xffff_ffff],
  ];
  const F64S: ReadonlyArray<readonly [F64Field, number, number]> = [
    ['update_number', 16, 2 ** 53], ['restored_number', 32, 2 ** 40 + 1], ['restored_time_ms', 64, 1767225600000.25],
    ['journals_created', 72, 2 ** 33 + 3], ['journals_sent', 80, 2 ** 33 + 5], ['journals_restored', 88, 2 ** 33 + 7],
    ['last_contact_ms', 96, 1767225600123.5], ['received_number', 104, 2 ** 40 + 9], ['primary_usage', 112, 0.625],
    ['failing_since_ms', 120, 1767225601000.75],
  ];

  test('every model field through u8/u32/f64 and their setters, raw bytes at the documented offsets', () => {
    const count = 4;
    const { buffer, raw, rec } = tableBuffer(256, count);
    const t = new GroupTable(buffer, GUARD, count);
    const g = 2;
    const b = rec(g);
    t.create(g, GroupRole.PRIMARY);
    // After create: number, state normal, role, update number 1, everything else 0.
    for (const [field] of U8S) expect(t.u8(g, field), field).toBe(field === 'state' ? GroupState.NORMAL : field === 'role' ? GroupRole.PRIMARY : 0);
    for (const [field] of U32S) expect(t.u32(g, field), field).toBe(0);
    for (const [field] of F64S) expect(t.f64(g, field), field).toBe(field === 'update_number' ? 1 : 0);

    // Each setter writes its field at its documented offset, in the documented type.
    for (const [field, offset, value] of U8S) {
      t.setU8(g, field, value);
      expect(t.u8(g, field), field).toBe(value);
      expect(raw.getUint8(b + offset), field).toBe(value);
    }
    for (const [field, offset, value] of U32S) {
      t.setU32(g, field, value);
      expect(t.u32(g, field), field).toBe(value);
      expect(raw.getUint32(b + offset, true), field).toBe(value);
    }
    for (const [field, offset, value] of F64S) {
      t.setF64(g, field, value);
      expect(t.f64(g, field), field).toBe(value);
      expect(raw.getFloat64(b + offset, true), field).toBe(value);
    }
    // ... and none overwrote another: every field still reads what was written into it.
    for (const [field, offset, value] of U8S) expect(raw.getUint8(b + offset), field).toBe(value);
    for (const [field, offset, value] of U32S) expect(raw.getUint32(b + offset, true), field).toBe(value);
    for (const [field, offset, value] of F64S) expect(raw.getFloat64(b + offset, true), field).toBe(value);
    // The dedicated accessors read the same bytes as the generic ones.
    expect(t.state(g)).toBe(GroupState.ABNORMAL);
    expect(t.role(g)).toBe(GroupRole.SECONDARY);
    expect(t.updateNumber(g)).toBe(2 ** 53);
    expect(t.restoredNumber(g)).toBe(2 ** 40 + 1);
    // Raw writes are read back by the accessors.
    raw.setUint32(b + 40, 3, true);
    raw.setUint8(b + 44, ReadPolicy.FIXED);
    raw.setFloat64(b + 112, 0.25, true);
    expect([t.u32(g, 'link_number'), t.u8(g, 'read_policy'), t.f64(g, 'primary_usage')]).toEqual([3, ReadPolicy.FIXED, 0.25]);

    const decoded = t.decode(g);
    expect(decoded).toMatchObject({
      number: 2, state: GroupState.ABNORMAL, role: GroupRole.SECONDARY, link_number: 3, read_policy: ReadPolicy.FIXED,
      store_policy: StorePolicy.HOLD, suspend_reason: SuspendReason.JOURNAL_VOLUME, flags: 0xff, read_interval_ms: 0xffff_fffe,
      batch_journals_max: 0x8000_0001, link_timeout_ms: 0x1234_5678, initial_copy_blocks: 0xffff_ffff, restored_time_ms: 1767225600000.25,
      journals_created: 2 ** 33 + 3, journals_sent: 2 ** 33 + 5, journals_restored: 2 ** 33 + 7, last_contact_ms: 1767225600123.5,
      received_number: 2 ** 40 + 9, primary_usage: 0.25, failing_since_ms: 1767225601000.75, release_mode: ReleaseMode.UP_TO,
      read_window: 8,
    });
    // release_mode is one byte at 128, read_window at 129; read_links, reserved 136..191 and the
    // (empty) pair set untouched; neighbours and guards untouched.
    expect(raw.getUint8(b + 128)).toBe(ReleaseMode.UP_TO);
    expect(raw.getUint8(b + 129)).toBe(8);
    expect(new Uint8Array(buffer, b + 130, 126).every((x) => x === 0)).toBe(true);

    // read links: link_number is link 0; the further ones are u16 at 130, 132, 134.
    t.setReadLink(g, 1, 5);
    t.setReadLink(g, 3, 0xfffe);
    expect([0, 1, 2, 3].map((i) => t.readLink(g, i))).toEqual([3, 5, 0, 0xfffe]);
    expect([raw.getUint16(b + 130, true), raw.getUint16(b + 132, true), raw.getUint16(b + 134, true)]).toEqual([5, 0, 0xfffe]);
    expect(() => t.setReadLink(g, 0, 1)).toThrow(/read link index 0/);
    expect(() => t.setReadLink(g, 4, 1)).toThrow(/read link index 4/);
    t.setReadLink(g, 1, 0);
    t.setReadLink(g, 3, 0);
    expect(recordsClean(buffer, 256, [0, 1, 3])).toBe(true);
    expect(guardsClean(buffer, 256 * count)).toBe(true);

    // create clears what an earlier life of the record left.
    t.create(g, GroupRole.SECONDARY);
    expect(raw.getUint32(b, true)).toBe(2);
    expect([raw.getUint8(b + 4), raw.getUint8(b + 5)]).toEqual([GroupState.NORMAL, GroupRole.SECONDARY]);
    expect(raw.getFloat64(b + 16, true)).toBe(1);
    expect(new Uint8Array(buffer, b + 6, 10).every((x) => x === 0)).toBe(true);
    expect(new Uint8Array(buffer, b + 24, 232).every((x) => x === 0)).toBe(true);
  });

  test('addF64 accumulates in place; hasFlag/setFlag set and clear single bits of flags at offset 47', () => {
    const { buffer, raw, rec } = tableBuffer(256, 3);
    const t = new GroupTable(buffer, GUARD, 3);
    const g = 1;
    const b = rec(g);
    t.create(g, GroupRole.PRIMARY);
    t.addF64(g, 'journals_created', 1);
    t.addF64(g, 'journals_created', 1);
    expect(t.f64(g, 'journals_created')).toBe(2);
    expect(raw.getFloat64(b + 72, true)).toBe(2);
    t.setF64(g, 'journals_sent', 2 ** 40);
    t.addF64(g, 'journals_sent', 3);
    t.addF64(g, 'journals_sent', -1);
    expect(raw.getFloat64(b + 80, true)).toBe(2 ** 40 + 2);
    t.addF64(g, 'update_number', 2 ** 40);
    expect(t.updateNumber(g)).toBe(2 ** 40 + 1);
    expect(raw.getFloat64(b + 16, true)).toBe(2 ** 40 + 1);
    expect(raw.getFloat64(b + 88, true)).toBe(0); // the neighbours of the counters are untouched
    expect(raw.getFloat64(b + 64, true)).toBe(0);

    // Every GroupFlag is a distinct single bit of the u8.
    const bits = Object.values(GroupFlag);
    for (const bit of bits) expect(bit > 0 && bit <= 0x80 && (bit & (bit - 1)) === 0, `flag ${bit}`).toBe(true);
    expect(new Set(bits).size).toBe(bits.length);
    expect(GroupFlag).toMatchObject({ COPY_STARTED: 1, TAKEN_OVER: 2, RESYNC_PENDING: 4, READ_STOPPED: 8 });
    t.setU8(g, 'suspend_reason', SuspendReason.LINK);
    for (const flag of Object.values(GroupFlag)) expect(t.hasFlag(g, flag)).toBe(false);
    t.setFlag(g, GroupFlag.COPY_STARTED, true);
    t.setFlag(g, GroupFlag.READ_STOPPED, true);
    t.setFlag(g, GroupFlag.READ_STOPPED, true); // setting twice is setting once
    expect(raw.getUint8(b + 47)).toBe(GroupFlag.COPY_STARTED | GroupFlag.READ_STOPPED);
    expect([t.hasFlag(g, GroupFlag.COPY_STARTED), t.hasFlag(g, GroupFlag.TAKEN_OVER), t.hasFlag(g, GroupFlag.RESYNC_PENDING), t.hasFlag(g, GroupFlag.READ_STOPPED)])
      .toEqual([true, false, false, true]);
    t.setFlag(g, GroupFlag.COPY_STARTED, false);
    t.setFlag(g, GroupFlag.TAKEN_OVER, false); // clearing a clear bit changes nothing
    expect(raw.getUint8(b + 47)).toBe(GroupFlag.READ_STOPPED);
    expect(t.u8(g, 'flags')).toBe(GroupFlag.READ_STOPPED);
    expect(t.hasFlag(g, GroupFlag.COPY_STARTED)).toBe(false);
    raw.setUint8(b + 47, 0x80 | GroupFlag.TAKEN_OVER);
    expect(t.hasFlag(g, GroupFlag.TAKEN_OVER)).toBe(true);
    t.setFlag(g, GroupFlag.RESYNC_PENDING, true);
    t.setFlag(g, GroupFlag.TAKEN_OVER, false);
    expect(raw.getUint8(b + 47)).toBe(0x80 | GroupFlag.RESYNC_PENDING); // other bits kept
    expect(raw.getUint8(b + 46)).toBe(SuspendReason.LINK); // the neighbouring byte untouched
    expect(raw.getUint32(b + 48, true)).toBe(0);
    expect(recordsClean(buffer, 256, [0, 2])).toBe(true);
    expect(guardsClean(buffer, 256 * 3)).toBe(true);
  });

  test('exists() covers 1..count-1', () => {
    const { buffer } = tableBuffer(256, 4);
    const t = new GroupTable(buffer, GUARD, 4);
    expect([0, 1, 3, 4, 1.5, -1].map((g) => t.exists(g))).toEqual([false, true, true, false, false, false]);
  });

  test('setJournalVolume keeps journal_volume_count right', () => {
    const { buffer, raw, rec } = tableBuffer(256, 3);
    const t = new GroupTable(buffer, GUARD, 3);
    const g = 2;
    const b = rec(g);
    t.create(g, GroupRole.PRIMARY);
    const count = (): number => raw.getUint8(b + 6);
    expect(count()).toBe(0);
    t.setJournalVolume(g, 0, 5);
    expect(t.journalVolume(g)).toBe(5);
    expect(t.journalVolume(g, 0)).toBe(5);
    expect(raw.getUint32(b + 8, true)).toBe(5);
    expect(count()).toBe(1);
    t.setJournalVolume(g, 1, 0xffff_fff7);
    expect(t.journalVolume(g, 1)).toBe(0xffff_fff7);
    expect(raw.getUint32(b + 12, true)).toBe(0xffff_fff7);
    expect(count()).toBe(2);
    t.setJournalVolume(g, 0, 6); // replace: still two
    expect(count()).toBe(2);
    t.setJournalVolume(g, 0, 0);
    expect(count()).toBe(1);
    expect(t.journalVolume(g, 1)).toBe(0xffff_fff7);
    t.setJournalVolume(g, 1, 0);
    expect(count()).toBe(0);
    t.setJournalVolume(g, 1, 9); // only the second slot used
    expect(count()).toBe(1);
    expect(t.decode(g)).toMatchObject({ journal_volume_count: 1, journal_volume_0: 0, journal_volume_1: 9 });
  });

  test(`pair_set: addPair up to ${GROUP_PAIRS_MAX} entries, then false; pairAt and raw u16s at offset 192`, () => {
    const { buffer, raw, rec } = tableBuffer(256, 3);
    const t = new GroupTable(buffer, GUARD, 3);
    const g = 1;
    const b = rec(g);
    t.create(g, GroupRole.PRIMARY);
    expect(GROUP_PAIRS_MAX).toBe(32); // 64 bytes of u16
    const pairOf = (i: number): number => (i === 0 ? 65535 : 1000 + i * 7);
    for (let i = 0; i < GROUP_PAIRS_MAX; i++) {
      expect(t.addPair(g, pairOf(i))).toBe(true);
      expect(t.pairCount(g)).toBe(i + 1);
      expect(raw.getUint8(b + 7)).toBe(i + 1);
    }
    expect(t.addPair(g, 4242)).toBe(false);
    expect(t.pairCount(g)).toBe(GROUP_PAIRS_MAX);
    for (let i = 0; i < GROUP_PAIRS_MAX; i++) {
      expect(t.pairAt(g, i)).toBe(pairOf(i));
      expect(raw.getUint16(b + 192 + i * 2, true)).toBe(pairOf(i));
    }
    expect(() => t.pairAt(g, GROUP_PAIRS_MAX)).toThrow('group 1: pair set index 32 out of range');
    expect(() => t.pairAt(g, -1)).toThrow(AssertionError);
    // The full set ends exactly at the record end: the next record is untouched, and nothing
    // between the fixed fields and the set (40..191) was written.
    expect(new Uint8Array(buffer, b + 40, 152).every((x) => x === 0)).toBe(true);
    expect(recordsClean(buffer, 256, [0, 2])).toBe(true);
    expect(guardsClean(buffer, 256 * 3)).toBe(true);
    const decoded = t.decode(g);
    expect(decoded.pair_set).toEqual(Array.from({ length: GROUP_PAIRS_MAX }, (_, i) => pairOf(i)));
  });

  test('removePair keeps the order of the others, zeroes the freed u16 at offset 192 + 2 * count, false if absent', () => {
    const { buffer, raw, rec } = tableBuffer(256, 3);
    const t = new GroupTable(buffer, GUARD, 3);
    const g = 1;
    const b = rec(g);
    t.create(g, GroupRole.PRIMARY);
    const set = (): number[] => Array.from({ length: t.pairCount(g) }, (_, i) => t.pairAt(g, i));
    const rawSet = (n: number): number[] => Array.from({ length: n }, (_, i) => raw.getUint16(b + 192 + i * 2, true));
    for (const p of [11, 22, 33, 44, 65535]) expect(t.addPair(g, p)).toBe(true);
    expect(t.removePair(g, 33)).toBe(true);
    expect(set()).toEqual([11, 22, 44, 65535]);
    expect(raw.getUint8(b + 7)).toBe(4);
    expect(rawSet(6)).toEqual([11, 22, 44, 65535, 0, 0]);
    expect(t.removePair(g, 33)).toBe(false); // absent: nothing changes
    expect(t.removePair(g, 0)).toBe(false);
    expect(rawSet(6)).toEqual([11, 22, 44, 65535, 0, 0]);
    expect(raw.getUint8(b + 7)).toBe(4);
    expect(t.removePair(g, 65535)).toBe(true); // the last entry
    expect(t.removePair(g, 11)).toBe(true); // the first entry
    expect(set()).toEqual([22, 44]);
    expect(rawSet(5)).toEqual([22, 44, 0, 0, 0]);
    expect(t.addPair(g, 7)).toBe(true); // appended after the remaining ones
    expect(set()).toEqual([22, 44, 7]);
    for (const p of [22, 44, 7]) expect(t.removePair(g, p)).toBe(true);
    expect(t.pairCount(g)).toBe(0);
    expect(new Uint8Array(buffer, b + 192, 64).every((x) => x === 0)).toBe(true);
    // A full set: removing an entry makes room again.
    for (let i = 1; i <= GROUP_PAIRS_MAX; i++) expect(t.addPair(g, i)).toBe(true);
    expect(t.removePair(g, 1)).toBe(true);
    expect(raw.getUint16(b + 192 + (GROUP_PAIRS_MAX - 1) * 2, true)).toBe(0);
    expect(t.addPair(g, 99)).toBe(true);
    expect(raw.getUint16(b + 254, true)).toBe(99);
    expect(t.pairAt(g, 0)).toBe(2);
    expect(recordsClean(buffer, 256, [0, 2])).toBe(true);
    expect(guardsClean(buffer, 256 * 3)).toBe(true);
  });
});

describe('PointerTable accessors', () => {
  const FIELDS: ReadonlyArray<readonly [PointerField, number]> = [
    ['ui_head', 16], ['wd_head', 24], ['ui_newest', 32], ['ui_oldest', 40], ['wd_newest', 48],
    ['wd_oldest', 56], ['read_start', 64], ['retry_start', 72], ['capacity_bytes', 80],
    ['batch_wd_bytes', 88], ['read_number', 96], ['oldest_number', 104], ['last_read_ms', 120],
  ];

  test('initialise writes the exact documented starting pointers', () => {
    const count = 6;
    const { buffer, raw, rec } = tableBuffer(128, count);
    const t = new PointerTable(buffer, GUARD, count);
    // Dirty the record first: initialise must clear it.
    new Uint8Array(buffer, rec(4), 128).fill(0xaa);
    const ui = 2 ** 32 + 4096;
    const capacity = 2 ** 35 + 512;
    t.initialise(4, 7, 0xfffe, 0x1_0000_0000 - 2, ui, capacity);
    const b = rec(4);
    expect(t.groupNumber(4)).toBe(7);
    expect(t.readerSystem(4)).toBe(0xfffe);
    expect(t.journalVolume(4)).toBe(0xffff_fffe);
    expect(raw.getUint32(b + 0, true)).toBe(7);
    expect(raw.getUint32(b + 4, true)).toBe(0xfffe);
    expect(raw.getUint32(b + 8, true)).toBe(0xffff_fffe);
    // firstNumber defaults to 1: read_number and oldest_number start there.
    const expected: Record<PointerField, number> = {
      ui_head: 0, ui_newest: 0, ui_oldest: 0, read_start: 0, retry_start: 0,
      wd_head: ui, wd_newest: ui, wd_oldest: ui, capacity_bytes: capacity,
      batch_wd_bytes: 0, read_number: 1, oldest_number: 1, last_read_ms: 0,
    };
    for (const [field, offset] of FIELDS) {
      expect(t.get(4, field), field).toBe(expected[field]);
      expect(raw.getFloat64(b + offset, true), field).toBe(expected[field]);
    }
    expect(t.batchCount(4)).toBe(0);
    expect(raw.getUint32(b + 112, true)).toBe(0); // batch_count
    expect(t.uiSlotBytes(4)).toBe(512); // one block per update information
    expect(raw.getUint32(b + 116, true)).toBe(512); // ui_slot_bytes
    expect(raw.getUint32(b + 12, true)).toBe(0); // reserved
    expect(recordsClean(buffer, 128, [0, 1, 2, 3, 5])).toBe(true);
    expect(guardsClean(buffer, 128 * count)).toBe(true);

    // An explicit firstNumber (a secondary that joins a running journal), over a dirty record.
    new Uint8Array(buffer, rec(2), 128).fill(0x55);
    t.initialise(2, 3, 0, 9, 4096, 2 ** 20, 2 ** 40 + 7);
    const b2 = rec(2);
    expect(t.get(2, 'read_number')).toBe(2 ** 40 + 7);
    expect(t.get(2, 'oldest_number')).toBe(2 ** 40 + 7);
    expect(raw.getFloat64(b2 + 96, true)).toBe(2 ** 40 + 7);
    expect(raw.getFloat64(b2 + 104, true)).toBe(2 ** 40 + 7);
    expect(raw.getFloat64(b2 + 88, true)).toBe(0); // batch_wd_bytes
    expect(raw.getUint32(b2 + 112, true)).toBe(0); // batch_count
    expect(raw.getUint32(b2 + 116, true)).toBe(512); // ui_slot_bytes
    expect(raw.getUint32(b2 + 12, true)).toBe(0); // reserved
    expect(raw.getFloat64(b2 + 120, true)).toBe(0); // last_read_ms
    expect(raw.getFloat64(b2 + 80, true)).toBe(2 ** 20);
    expect(recordsClean(buffer, 128, [0, 1, 3, 5])).toBe(true);
  });

  test('batch_count (u32 at 112), ui_slot_bytes (u32 at 116) and reader_system (u32 at 4): accessors and raw bytes', () => {
    const { buffer, raw, rec } = tableBuffer(128, 3);
    const t = new PointerTable(buffer, GUARD, 3);
    t.initialise(1, 1, 0, 9, 4096, 2 ** 40);
    const b = rec(1);
    t.setBatchCount(1, 0xffff_fffe);
    expect(t.batchCount(1)).toBe(0xffff_fffe);
    expect(raw.getUint32(b + 112, true)).toBe(0xffff_fffe);
    raw.setUint32(b + 112, 17, true);
    expect(t.batchCount(1)).toBe(17);
    t.setUiSlotBytes(1, 0xffff_fff0);
    expect(t.uiSlotBytes(1)).toBe(0xffff_fff0);
    expect(raw.getUint32(b + 116, true)).toBe(0xffff_fff0);
    raw.setUint32(b + 116, 64, true);
    expect(t.uiSlotBytes(1)).toBe(64);
    expect(t.batchCount(1)).toBe(17);
    t.setReaderSystem(1, 0xfffe);
    expect(t.readerSystem(1)).toBe(0xfffe);
    expect(raw.getUint32(b + 4, true)).toBe(0xfffe);
    // Neither touched its neighbours.
    expect(raw.getFloat64(b + 104, true)).toBe(1); // oldest_number
    expect(raw.getFloat64(b + 120, true)).toBe(0); // last_read_ms
    expect(raw.getUint32(b + 12, true)).toBe(0); // reserved
    expect(raw.getUint32(b + 0, true)).toBe(1);
    expect(raw.getUint32(b + 8, true)).toBe(9);
    expect(t.decode(1)).toMatchObject({ reader_system: 0xfffe, batch_count: 17, ui_slot_bytes: 64, read_number: 1, oldest_number: 1 });
    expect(recordsClean(buffer, 128, [0, 2])).toBe(true);
    expect(guardsClean(buffer, 128 * 3)).toBe(true);
  });

  test('get/set of every PointerField with values above 2^32', () => {
    const { buffer, raw, rec } = tableBuffer(128, 3);
    const t = new PointerTable(buffer, GUARD, 3);
    t.initialise(1, 1, 0, 9, 4096, 2 ** 40);
    FIELDS.forEach(([field], i) => t.set(1, field, 2 ** 33 + i * 4096 + 1));
    FIELDS.forEach(([field, offset], i) => {
      const value = 2 ** 33 + i * 4096 + 1;
      expect(t.get(1, field), field).toBe(value);
      expect(raw.getFloat64(rec(1) + offset, true), field).toBe(value);
    });
    const decoded = t.decode(1);
    FIELDS.forEach(([field], i) => expect(decoded[field]).toBe(2 ** 33 + i * 4096 + 1));
    expect(recordsClean(buffer, 128, [0, 2])).toBe(true);
  });
});

describe('UpdateInfo table', () => {
  test('decode reads the documented offsets', () => {
    const { buffer, raw, rec } = tableBuffer(64, 2);
    const t = UpdateInfo.table(buffer, GUARD, 2);
    const b = rec(1);
    raw.setUint32(b + 0, 0x314c4e4a, true);
    raw.setUint16(b + 4, 1, true);
    raw.setFloat64(b + 8, 1767225600000.25, true);
    raw.setFloat64(b + 16, 2 ** 40 + 3, true);
    raw.setUint32(b + 24, 11, true);
    raw.setUint32(b + 28, 12, true);
    raw.setUint32(b + 32, 13, true);
    raw.setUint32(b + 36, 14, true);
    raw.setUint32(b + 40, 15, true);
    raw.setUint32(b + 44, 0xcafef00d, true);
    raw.setFloat64(b + 48, 2 ** 36 + 512, true);
    raw.setUint32(b + 56, 0xffffffff, true); // reserved: not a field
    raw.setUint32(b + 60, 0x12345678, true);
    expect(t.decode(1)).toEqual({
      magic: 0x314c4e4a, flags: 1, receive_ms: 1767225600000.25, update_number: 2 ** 40 + 3, group_number: 11,
      target_volume: 12, target_block: 13, data_blocks: 14, data_volume: 15, data_checksum: 0xcafef00d,
      data_position: 2 ** 36 + 512, header_checksum: 0x12345678,
    });
    t.clear(1);
    expect(recordsClean(buffer, 64, [0, 1])).toBe(true);
  });
});

describe('SentBatches (firmware/sent-batches.ts table)', () => {
  // Per pointer set, 288 bytes: head u32 at 0, length u32 at 4, 8 reserved, then 16 entries of
  // 16 bytes at 16 + 16 * i (first_number f64 at +0, count u32 at +8, wd_bytes u32 at +12), then
  // 16 reserved bytes (272..287).
  const SET_BYTES = 288;
  const entryAt = (set: number, index: number): number => GUARD + set * SET_BYTES + 16 + index * 16;
  // The k-th batch pushed: a first number above 2^32, counts and byte counts filling a u32.
  const batch = (k: number): [number, number, number] => [2 ** 40 + k * 1000, k === 3 ? 0xffff_ffff : k + 1, k === 5 ? 0xffff_fffe : k * 4096];

  function fresh(sets: number) {
    const buffer = new ArrayBuffer(GUARD + sets * SET_BYTES + GUARD);
    const raw = new DataView(buffer);
    const sent = new SentBatches(new DataView(buffer, GUARD, sets * SET_BYTES));
    const head = (set: number): number => raw.getUint32(GUARD + set * SET_BYTES, true);
    const length = (set: number): number => raw.getUint32(GUARD + set * SET_BYTES + 4, true);
    const setClean = (set: number): boolean => new Uint8Array(buffer, GUARD + set * SET_BYTES, SET_BYTES).every((x) => x === 0);
    const guardsClean = (): boolean => new Uint8Array(buffer, 0, GUARD).every((x) => x === 0) &&
      new Uint8Array(buffer, GUARD + sets * SET_BYTES).every((x) => x === 0);
    return { buffer, raw, sent, head, length, setClean, guardsClean };
  }

  test('constants: 16 entries, 288 bytes per pointer set', () => {
    expect(SENT_BATCHES_MAX).toBe(16);
    expect(SENT_BATCHES_BYTES).toBe(288);
    expect(SENT_BATCHES_BYTES).toBe(16 + SENT_BATCHES_MAX * 16 + 16);
  });

  test('push up to SENT_BATCHES_MAX then false; FIFO across the wrap of the ring; pop; length; clear', () => {
    const { buffer, raw, sent, head, length, setClean, guardsClean } = fresh(3);
    const s = 1;
    // Empty: length 0, and nothing to read or release.
    expect(sent.length(s)).toBe(0);
    expect(() => sent.firstNumber(s)).toThrow(AssertionError);
    expect(() => sent.firstNumber(s)).toThrow('pointer set 1: no sent batch');
    expect(() => sent.pop(s)).toThrow('pointer set 1: no sent batch to release');

    // Fill the ring: batches 0..15 at entries 0..15, head stays 0.
    for (let k = 0; k < SENT_BATCHES_MAX; k++) {
      expect(sent.push(s, ...batch(k)), `push ${k}`).toBe(true);
      expect(sent.length(s)).toBe(k + 1);
      expect(length(s)).toBe(k + 1);
      expect(head(s)).toBe(0);
      const at = entryAt(s, k);
      expect([raw.getFloat64(at, true), raw.getUint32(at + 8, true), raw.getUint32(at + 12, true)], `entry ${k}`).toEqual(batch(k));
    }
    const full = new Uint8Array(buffer).slice();
    expect(sent.push(s, 1, 1, 1)).toBe(false);
    expect(sent.length(s)).toBe(SENT_BATCHES_MAX);
    expect(new Uint8Array(buffer)).toEqual(full); // a refused push writes nothing
    expect([sent.firstNumber(s), sent.count(s), sent.wdBytes(s)]).toEqual(batch(0));

    // Release the five oldest, in order.
    for (let k = 0; k < 5; k++) {
      expect([sent.firstNumber(s), sent.count(s), sent.wdBytes(s)], `oldest before pop ${k}`).toEqual(batch(k));
      sent.pop(s);
      expect([head(s), length(s)]).toEqual([k + 1, SENT_BATCHES_MAX - k - 1]);
    }
    // Five more: they wrap around into entries 0..4.
    for (let k = 16; k < 21; k++) expect(sent.push(s, ...batch(k)), `push ${k}`).toBe(true);
    expect(sent.push(s, 1, 1, 1)).toBe(false);
    expect([head(s), sent.length(s)]).toEqual([5, SENT_BATCHES_MAX]);
    for (let k = 16; k < 21; k++) {
      const at = entryAt(s, k - 16);
      expect([raw.getFloat64(at, true), raw.getUint32(at + 8, true), raw.getUint32(at + 12, true)], `wrapped entry ${k}`).toEqual(batch(k));
    }

    // Everything comes back out oldest first: 5..15, then 16..20; head wraps 15 -> 0.
    const order: Array<[number, number, number]> = [];
    while (sent.length(s) > 0) {
      order.push([sent.firstNumber(s), sent.count(s), sent.wdBytes(s)]);
      sent.pop(s);
    }
    expect(order).toEqual(Array.from({ length: 16 }, (_, i) => batch(i + 5)));
    expect([head(s), length(s)]).toEqual([(5 + 16) % 16, 0]);
    expect(() => sent.pop(s)).toThrow(AssertionError);

    // Reserved header bytes (8..15) and tail (272..287) never written; other sets and guards untouched.
    const base = GUARD + s * SET_BYTES;
    expect(new Uint8Array(buffer, base + 8, 8).every((x) => x === 0)).toBe(true);
    expect(new Uint8Array(buffer, base + 272, 16).every((x) => x === 0)).toBe(true);
    expect(setClean(0)).toBe(true);
    expect(setClean(2)).toBe(true);
    expect(guardsClean()).toBe(true);

    // clear: head and length back to 0; the next push goes to entry 0.
    expect(sent.push(s, ...batch(30))).toBe(true);
    expect([head(s), length(s)]).toEqual([5, 1]);
    sent.clear(s);
    expect([head(s), length(s), sent.length(s)]).toEqual([0, 0, 0]);
    expect(sent.push(s, ...batch(31))).toBe(true);
    expect([sent.firstNumber(s), sent.count(s), sent.wdBytes(s)]).toEqual(batch(31));
    expect(raw.getFloat64(entryAt(s, 0), true)).toBe(batch(31)[0]);
    expect(setClean(0)).toBe(true);
    expect(setClean(2)).toBe(true);
  });

  test('pointer sets are independent, 288 bytes apart', () => {
    const { raw, sent, head, length, guardsClean } = fresh(3);
    expect(sent.push(0, ...batch(1))).toBe(true);
    expect(sent.push(2, ...batch(2))).toBe(true);
    expect(sent.push(2, ...batch(3))).toBe(true);
    expect([sent.length(0), sent.length(1), sent.length(2)]).toEqual([1, 0, 2]);
    expect([length(0), length(1), length(2)]).toEqual([1, 0, 2]);
    expect(raw.getFloat64(entryAt(0, 0), true)).toBe(batch(1)[0]);
    expect(raw.getFloat64(entryAt(2, 0), true)).toBe(batch(2)[0]);
    expect(raw.getFloat64(entryAt(2, 1), true)).toBe(batch(3)[0]);
    sent.pop(2);
    expect([sent.firstNumber(2), sent.count(2), sent.wdBytes(2)]).toEqual(batch(3));
    expect([sent.firstNumber(0), sent.count(0), sent.wdBytes(0)]).toEqual(batch(1));
    expect([head(0), head(1), head(2)]).toEqual([0, 0, 1]);
    sent.clear(0);
    expect([sent.length(0), sent.length(2)]).toEqual([0, 1]);
    expect(guardsClean()).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// 4. Region plan and geometry
// ---------------------------------------------------------------------------------------------

function isPow2(n: number): boolean {
  return Number.isInteger(n) && n > 0 && Number.isInteger(Math.log2(n));
}

describe('geometry and lock map', () => {
  // [label, config, tasks per processor computed by hand: hostQueueDepth + (groupsMax + 1) * 3 + LINKS_MAX 8 + 1
  //  + one mirror service task per mirror pair number (mirrorPairsMax, default 8)]
  const configs: Array<[string, SystemConfig, number]> = [
    ['DEFAULT_CONFIG', DEFAULT_CONFIG, 32 + 17 * 3 + 8 + 1 + 8],
    ['smallConfig', smallConfig(), 4 + 17 * 3 + 8 + 1 + 8],
    ['24 slots', smallConfig({ cacheBytes: 24 * 4096 }), 72],
    ['8 slots of 64 KiB', smallConfig({ cacheBytes: 8 * 65536, slotBytes: 65536 }), 72],
    ['33 slots, 255 groups', smallConfig({ cacheBytes: 33 * 8192, slotBytes: 8192, groupsMax: 255 }), 4 + 256 * 3 + 8 + 1 + 8],
    ['64 KiB journal batches, 2 groups, 16 host tasks', smallConfig({ journalBatchBytes: 64 * 1024, groupsMax: 2, hostQueueDepth: 16, mailboxCapacity: 32 }), 16 + 3 * 3 + 8 + 1 + 8],
    ['2 mirror pairs', smallConfig({ mirrorPairsMax: 2, mirrorBitmapBytes: 128 }), 4 + 17 * 3 + 8 + 1 + 2],
  ];
  test('LINKS_MAX and GROUP_SERVICE_TASKS are the documented 8 and 3', () => {
    expect(LINKS_MAX).toBe(8);
    expect(GROUP_SERVICE_TASKS).toBe(3);
    expect({ ...GroupService }).toEqual({ JOURNAL_READ: 0, RESTORE: 1, INITIAL_COPY: 2 });
  });
  for (const [label, config, tasksPerProcessor] of configs) {
    test(`${label}: bucket count, lock ranges, region sizes`, () => {
      const g = geometryOf(config);
      expect(g.slotCount).toBe(config.cacheBytes / config.slotBytes);
      expect(g.sectorsPerSlot).toBe(config.slotBytes / 512);
      expect(g.processors).toBe(config.channelAdapters + config.diskAdapters);
      expect(isPow2(g.bucketCount)).toBe(true);
      expect(g.bucketCount).toBeGreaterThanOrEqual(2 * g.slotCount);
      expect(g.bucketCount).toBeLessThan(4 * g.slotCount); // the smallest such power of two
      expect(g.mailboxBytes % 64).toBe(0);
      expect(g.mailboxBytes).toBeGreaterThanOrEqual(192 + config.mailboxCapacity * 32);
      expect(g.mailboxBytes).toBeLessThan(192 + config.mailboxCapacity * 32 + 64);
      expect(g.tasksPerProcessor).toBe(tasksPerProcessor);
      expect(g.tasksPerProcessor).toBe(config.hostQueueDepth + (config.groupsMax + 1) * 3 + 8 + 1 + (config.mirrorPairsMax ?? 8));
      // Host-command tasks first, then three service tasks per group (0 included), then one
      // journal-read-reception task per link, then one more, then one mirror service task per mirror pair.
      expect(g.serviceTaskBase).toBe(config.hostQueueDepth);
      expect(g.receptionTaskBase).toBe(config.hostQueueDepth + (config.groupsMax + 1) * 3);
      expect(g.mirrorTaskBase - g.receptionTaskBase).toBe(8 + 1);
      expect(g.tasksPerProcessor - g.mirrorTaskBase).toBe(config.mirrorPairsMax ?? 8);
      expect(g.stagingBytes).toBe(config.journalBatchBytes);

      const m = lockMapOf(g);
      // [first, count] of each range, in numbering order: contiguous from 0, no overlap.
      const ranges: Array<[string, number, number]> = [
        ['cacheList', m.cacheList, 1],
        ['buckets', m.bucketBase, g.bucketCount],
        ['slots', m.slotBase, g.slotCount],
        ['groups', m.groupBase, config.groupsMax + 1],
        ['maintenance', m.maintenance, 1],
      ];
      let next = 0;
      for (const [name, first, count] of ranges) {
        expect(first, name).toBe(next);
        next = first + count;
      }
      expect(g.lockCount).toBe(next);
      expect(g.lockCount).toBe(1 + g.bucketCount + g.slotCount + config.groupsMax + 1 + 1);
      expect(m.maintenance).toBe(g.lockCount - 1);

      const plan = planControlMemory(config);
      const locks = must(plan.regions.find((r) => r.id === RegionId.LOCKS));
      expect(locks.recordCount).toBe(g.lockCount);
      expect(locks.recordBytes).toBe(64);
      const slots = must(plan.regions.find((r) => r.id === RegionId.SLOTS));
      expect(slots.recordCount).toBe(g.slotCount);
      const directory = must(plan.regions.find((r) => r.id === RegionId.DIRECTORY));
      expect(directory.recordCount).toBe(g.bucketCount);
      // The task-sized regions, the bitmaps and the staging buffers.
      const region = (id: number) => must(plan.regions.find((r) => r.id === id), `region ${id}`);
      const sizes = (id: number) => { const r = region(id); return [r.name, r.recordBytes, r.recordCount, r.byteCount]; };
      expect(sizes(RegionId.GROUPS)).toEqual(['groups', 256, config.groupsMax + 1, 256 * (config.groupsMax + 1)]);
      expect(sizes(RegionId.TASKS)).toEqual(['tasks', 128, g.processors * tasksPerProcessor, 128 * g.processors * tasksPerProcessor]);
      expect(sizes(RegionId.SCRATCH)).toEqual(['scratch', 512, g.processors * tasksPerProcessor, 512 * g.processors * tasksPerProcessor]);
      expect(sizes(RegionId.BITMAPS)).toEqual(['bitmaps', 4096, config.volumesMax + 1, 4096 * (config.volumesMax + 1)]);
      expect(sizes(RegionId.STAGING)).toEqual(['staging', 2 * config.journalBatchBytes, config.groupsMax + 1, 2 * config.journalBatchBytes * (config.groupsMax + 1)]);
      // One 288-byte sent-batches record per pointer set ((groupsMax + 1) * readersMax).
      const sets = (config.groupsMax + 1) * config.readersMax;
      expect(sizes(RegionId.BATCHES)).toEqual(['batches', 288, sets, 288 * sets]);
      // One record per mirror pair number (0 reserved): the 128-byte record, then bitmaps 230 and 240.
      const mirror = { pairs: config.mirrorPairsMax ?? 8, bitmap: config.mirrorBitmapBytes ?? 16 * 1024 };
      expect(sizes(RegionId.MIRRORS)).toEqual(['mirrors', 128 + 2 * mirror.bitmap, mirror.pairs + 1, (128 + 2 * mirror.bitmap) * (mirror.pairs + 1)]);
      expect(plan.regions.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
      // 'mirrors' is the last region: it ends the image.
      const mirrors = region(RegionId.MIRRORS);
      expect(plan.regions[plan.regions.length - 1]).toBe(mirrors);
      expect(plan.totalBytes).toBe(Math.ceil((mirrors.byteOffset + mirrors.byteCount) / 64) * 64);
    });
  }

  test('RegionId numbers the regions 1..19 in layout order', () => {
    expect({ ...RegionId }).toEqual({
      SYSTEM: 1, VOLUMES: 2, PAIRS: 3, GROUPS: 4, POINTERS: 5, CACHE_CONTROL: 6, SLOTS: 7,
      DIRECTORY: 8, LOCKS: 9, MAILBOXES: 10, DOORBELLS: 11, STATISTICS: 12, TASKS: 13, SCRATCH: 14, BITMAPS: 15, STAGING: 16, BATCHES: 17, WINDOWS: 18, MIRRORS: 19,
    });
  });

  test('taskWord, scratchOffset and stagingOffset index the regions by the geometry', () => {
    const h = freshSystem();
    const { mem } = h;
    const tpp = 72; // smallConfig: 4 + 17 * 3 + 8 + 1 + 8 mirror service tasks
    expect(mem.geometry.tasksPerProcessor).toBe(tpp);
    expect(mem.taskWord(0, 0)).toBe(0);
    expect(mem.taskWord(1, 0)).toBe(1 * tpp * 32);
    expect(mem.taskWord(2, 5)).toBe((2 * tpp + 5) * 32);
    expect(mem.scratchOffset(1, 3)).toBe((1 * tpp + 3) * 512);
    expect(mem.stagingOffset(0, 0)).toBe(0);
    expect(mem.restoreStagingOffset(3)).toBe((3 * 2 + 1) * 1024 * 1024);
    // The views cover exactly their regions.
    expect(mem.tasks.length).toBe(3 * tpp * 32);
    expect(mem.taskFloats.length).toBe(3 * tpp * 16);
    expect(mem.scratchBytes.byteLength).toBe(3 * tpp * 512);
    expect(mem.bitmaps.byteLength).toBe(65 * 4096);
    expect(mem.stagingBytes.byteLength).toBe(17 * 2 * 1024 * 1024);
    expect(mem.batches.byteLength).toBe(17 * 4 * 288); // 68 pointer sets
    expect(mem.batches.byteOffset).toBe(must(mem.regions.get(RegionId.BATCHES)).byteOffset);
    // A float64 written through taskFloats lands at the task record's documented byte offset.
    const raw = new DataView(mem.controlBuffer, must(mem.regions.get(RegionId.TASKS)).byteOffset);
    mem.taskFloats[mem.taskWord(1, 2) / 2 + TaskF64.UPDATE_NUMBER] = 2 ** 40 + 1;
    expect(raw.getFloat64((1 * tpp + 2) * 128 + 72, true)).toBe(2 ** 40 + 1);
    mem.tasks[mem.taskWord(1, 2) + TaskWord.COUNT] = 77;
    expect(raw.getInt32((1 * tpp + 2) * 128 + 96, true)).toBe(77);
  });
});

// ---------------------------------------------------------------------------------------------
// 5. The independent decoder: a dump read with DataView and the documented numbers only
// ---------------------------------------------------------------------------------------------

interface DumpRegion { id: number; offset: number; bytes: number; recordBytes: number; recordCount: number; name: string }
interface DumpHeader { magic: number; version: number; regionCount: number; totalBytes: number; systemNumber: number; regions: DumpRegion[] }

/** Parses the header and region table of a dump exactly as hal/shared-memory.ts documents it. */
function parseDump(dump: ArrayBuffer): DumpHeader {
  const v = new DataView(dump);
  const regionCount = v.getUint32(8, true);
  const regions: DumpRegion[] = [];
  for (let i = 0; i < regionCount; i++) {
    const at = 32 + 32 * i;
    const nameBytes = new Uint8Array(dump, at + 20, 12);
    const end = nameBytes.indexOf(0);
    const name = String.fromCharCode(...nameBytes.subarray(0, end < 0 ? 12 : end));
    // Everything after the terminating NUL is NUL padding.
    if (end >= 0) expect(nameBytes.subarray(end).every((c) => c === 0)).toBe(true);
    regions.push({
      id: v.getUint32(at + 0, true),
      offset: v.getUint32(at + 4, true),
      bytes: v.getUint32(at + 8, true),
      recordBytes: v.getUint32(at + 12, true),
      recordCount: v.getUint32(at + 16, true),
      name,
    });
  }
  return {
    magic: v.getUint32(0, true),
    version: v.getUint32(4, true),
    regionCount,
    totalBytes: v.getUint32(12, true),
    systemNumber: v.getUint32(16, true),
    regions,
  };
}

function ascii(dump: ArrayBuffer, at: number, size: number): string {
  const bytes = new Uint8Array(dump, at, size);
  const end = bytes.indexOf(0);
  return String.fromCharCode(...bytes.subarray(0, end < 0 ? size : end));
}

function takeDump(control: SharedArrayBuffer): ArrayBuffer {
  const dump = new ArrayBuffer(control.byteLength);
  new Uint8Array(dump).set(new Uint8Array(control));
  return dump;
}

describe('independent decoding of a control-memory dump', () => {
  function populatedDump() {
    const h = freshSystem();
    const { mem } = h;
    // A volume through the maintenance port (takes the maintenance lock) ...
    const defined = h.maintenance.defineVolume({ number: 9, capacityBlocks: 300, drive: 1, startBlock: 600, format: 'JNL' });
    expect(defined.status).toBe('ok');
    mem.volumes.setFlags(9, VOLUME_FLAG_JOURNAL);
    mem.volumes.setGroupNumber(9, 3);
    mem.volumes.setState(1, VolumeState.PRIMARY);
    mem.volumes.setPairNumber(1, 5);
    // ... a pair, a group and a pointer set through the table accessors.
    mem.pairs.register(5, 1, 1, 2, 11, 3);
    mem.pairs.setState(5, PairState.COPYING);
    mem.pairs.setCopiedBlocks(5, 128);
    mem.pairs.setFlags(5, PairFlag.RESYNC);
    mem.groups.create(3, GroupRole.PRIMARY);
    mem.groups.setJournalVolume(3, 0, 9);
    expect(mem.groups.addPair(3, 5)).toBe(true);
    expect(mem.groups.addPair(3, 65000)).toBe(true);
    mem.groups.setUpdateNumber(3, 2 ** 40 + 3);
    mem.groups.setPartner(3, 2, 4);
    mem.groups.setU32(3, 'link_number', 2);
    mem.groups.setU8(3, 'read_policy', ReadPolicy.RECEIVED);
    mem.groups.setFlag(3, GroupFlag.COPY_STARTED, true);
    mem.groups.setU32(3, 'batch_journals_max', 64);
    mem.groups.setF64(3, 'journals_created', 2 ** 33 + 1);
    mem.groups.setF64(3, 'failing_since_ms', 1767225600000.5);
    mem.groups.setU8(3, 'release_mode', ReleaseMode.AFTER_SEND);
    const set = 3 * h.config.readersMax + 1; // group 3, reader 1
    mem.pointers.initialise(set, 3, 2, 9, 4096, 300 * 512, 2 ** 40 + 3);
    mem.pointers.set(set, 'wd_newest', 2 ** 33 + 8192);
    mem.pointers.set(set, 'batch_wd_bytes', 1536);
    mem.pointers.setBatchCount(set, 3);
    mem.pointers.set(set, 'last_read_ms', 1767225600100.25);
    // ... and one host write, so a cache slot, a bucket chain and counters are in use.
    const written = h.write(0, 2, 8, pattern(512, 7));
    expect(written.status).toBe(0);
    return { h, set, dump: takeDump(h.shared.control) };
  }

  test('header, region table, and every region is aligned, in bounds and non-overlapping', () => {
    const { h, dump } = populatedDump();
    const bytes = new Uint8Array(dump);
    const hdr = parseDump(dump);
    expect(hdr.magic).toBe(0x4652434a);
    expect(String.fromCharCode(...bytes.subarray(0, 4))).toBe('JCRF'); // the bytes of the magic, in memory order
    expect(hdr.version).toBe(1);
    expect(hdr.systemNumber).toBe(h.config.systemNumber);
    expect(hdr.totalBytes).toBe(dump.byteLength);
    expect(new Uint8Array(dump, 20, 12).every((b) => b === 0)).toBe(true); // reserved header bytes

    // Expected table for smallConfig, computed by hand from the layout.ts table:
    // 3 processors, 16 slots, 32 buckets, 67 locks, groupsMax 16, readersMax 4, volumesMax 64,
    // pairsMax 64, hostQueueDepth 4, mailbox 192 + 16 * 32 = 704 bytes,
    // tasks per processor 4 + 17 * 3 + 8 + 1 + 8 = 72 (so 216 task records and scratch blocks),
    // journalBatchBytes 1 MiB (so a 2 MiB staging record per group number),
    // 17 * 4 = 68 pointer sets (so 68 sent-batches records of 288 bytes).
    const expected: Array<[number, string, number, number]> = [
      [1, 'system', 64, 1],
      [2, 'volumes', 64, 65],
      [3, 'pairs', 64, 65],
      [4, 'groups', 256, 17],
      [5, 'pointers', 128, 68],
      [6, 'cache-ctl', 64, 1],
      [7, 'slots', 64, 16],
      [8, 'directory', 4, 32],
      [9, 'locks', 64, 67],
      [10, 'mailboxes', 704, 3],
      [11, 'doorbells', 64, 3],
      [12, 'statistics', 256, 3],
      [13, 'tasks', 128, 216],
      [14, 'scratch', 512, 216],
      [15, 'bitmaps', 4096, 65],
      [16, 'staging', 2 * 1024 * 1024, 17],
      [17, 'batches', 288, 68],
      [18, 'windows', 48, 17],
      [19, 'mirrors', 128 + 2 * 16 * 1024, 9], // 8 mirror pairs (+ record 0), two 16 KiB bitmaps each
    ];
    expect(hdr.regionCount).toBe(expected.length);
    expect(hdr.regions.map((r) => [r.id, r.name, r.recordBytes, r.recordCount])).toEqual(expected);
    // Every region of records is exactly its records (nothing padded inside a region).
    for (const r of hdr.regions) expect(r.bytes, r.name).toBe(r.recordBytes * r.recordCount);

    const firstFree = Math.ceil((32 + 32 * hdr.regionCount) / 64) * 64;
    const sorted = [...hdr.regions].sort((a, b) => a.offset - b.offset);
    let end = firstFree;
    for (const r of sorted) {
      expect(r.offset % 64, r.name).toBe(0);
      expect(r.offset, `${r.name} starts after the previous region / the region table`).toBeGreaterThanOrEqual(end);
      expect(r.offset + r.bytes, `${r.name} ends within total_bytes`).toBeLessThanOrEqual(hdr.totalBytes);
      expect(r.recordBytes * r.recordCount, `${r.name} records fit`).toBeLessThanOrEqual(r.bytes);
      end = r.offset + r.bytes;
    }
  });

  test('records decoded with the documented offsets equal what the accessors wrote', () => {
    const { h, set, dump } = populatedDump();
    const v = new DataView(dump);
    const hdr = parseDump(dump);
    const region = (name: string): DumpRegion => must(hdr.regions.find((r) => r.name === name), `region '${name}'`);
    const rec = (name: string, index: number): number => {
      const r = region(name);
      expect(index).toBeLessThan(r.recordCount);
      return r.offset + index * r.recordBytes;
    };

    // Volumes (400): boot-defined volume 2, maintenance-defined 9, volume 1 made primary, 3 unused.
    const vol = (n: number) => {
      const b = rec('volumes', n);
      return {
        number: v.getUint32(b, true), state: v.getUint8(b + 4), flags: v.getUint8(b + 5), format: ascii(dump, b + 8, 8),
        capacity: v.getUint32(b + 16, true), pair: v.getUint32(b + 20, true), drive: v.getUint32(b + 24, true),
        start: v.getUint32(b + 28, true), group: v.getUint32(b + 32, true), generation: v.getUint32(b + 36, true),
      };
    };
    // Every define bumps the generation once: boot defined 1..3 (3 as unused), the port defined 9.
    expect(vol(0)).toEqual({ number: 0, state: 0, flags: 0, format: '', capacity: 0, pair: 0, drive: 0, start: 0, group: 0, generation: 0 });
    expect(vol(1)).toEqual({ number: 1, state: 2, flags: 0, format: 'OPEN3', capacity: 256, pair: 5, drive: 0, start: 0, group: 0, generation: 1 });
    expect(vol(2)).toEqual({ number: 2, state: 1, flags: 0, format: 'OPEN3', capacity: 100, pair: 0, drive: 0, start: 256, group: 0, generation: 1 });
    expect(vol(3)).toEqual({ number: 3, state: 0, flags: 0, format: 'OPEN6', capacity: 256, pair: 0, drive: 1, start: 0, group: 0, generation: 1 });
    expect(vol(9)).toEqual({ number: 9, state: 1, flags: 1, format: 'JNL', capacity: 300, pair: 0, drive: 1, start: 600, group: 3, generation: 1 });
    expect(vol(64)).toEqual({ number: 0, state: 0, flags: 0, format: '', capacity: 0, pair: 0, drive: 0, start: 0, group: 0, generation: 0 });
    for (let n = 0; n < 65; n++) expect(new Uint8Array(dump, rec('volumes', n) + 40, 24).every((x) => x === 0), `volume ${n} reserved tail`).toBe(true);

    // Pairs (500).
    const p = rec('pairs', 5);
    expect([0, 4, 8, 12, 16, 20, 24, 28].map((o) => (o === 4 ? v.getUint8(p + o) : v.getUint32(p + o, true))))
      .toEqual([5, PairState.COPYING, 1, 1, 2, 11, 3, 128]);
    expect(v.getUint8(p + 5)).toBe(PairFlag.RESYNC); // flags
    expect(v.getUint16(p + 6, true)).toBe(0); // reserved
    expect(v.getUint32(rec('pairs', 4), true)).toBe(0);

    // Groups (600).
    const g = rec('groups', 3);
    expect(v.getUint32(g, true)).toBe(3);
    expect([v.getUint8(g + 4), v.getUint8(g + 5), v.getUint8(g + 6), v.getUint8(g + 7)])
      .toEqual([GroupState.NORMAL, GroupRole.PRIMARY, 1, 2]);
    expect(v.getUint32(g + 8, true)).toBe(9);
    expect(v.getUint32(g + 12, true)).toBe(0);
    expect(v.getFloat64(g + 16, true)).toBe(2 ** 40 + 3);
    expect(v.getUint32(g + 24, true)).toBe(2);
    expect(v.getUint32(g + 28, true)).toBe(4);
    expect(v.getFloat64(g + 32, true)).toBe(0);
    expect(v.getUint32(g + 40, true)).toBe(2); // link_number
    expect([v.getUint8(g + 44), v.getUint8(g + 45), v.getUint8(g + 46), v.getUint8(g + 47)])
      .toEqual([ReadPolicy.RECEIVED, 0, 0, GroupFlag.COPY_STARTED]); // read/store policy, suspend reason, flags
    expect([48, 52, 56, 60].map((o) => v.getUint32(g + o, true))).toEqual([0, 64, 0, 0]);
    expect([64, 72, 80, 88, 96, 104, 112, 120].map((o) => v.getFloat64(g + o, true)))
      .toEqual([0, 2 ** 33 + 1, 0, 0, 0, 0, 0, 1767225600000.5]);
    expect(v.getUint8(g + 128)).toBe(ReleaseMode.AFTER_SEND); // release_mode
    expect(new Uint8Array(dump, g + 129, 63).every((x) => x === 0)).toBe(true); // reserved
    expect([v.getUint16(g + 192, true), v.getUint16(g + 194, true), v.getUint16(g + 196, true)]).toEqual([5, 65000, 0]);
    expect(new Uint8Array(dump, g + 196, 60).every((x) => x === 0)).toBe(true);
    // The group records are 256 bytes apart: group 4 (never created) is all zero.
    expect(new Uint8Array(dump, rec('groups', 4), 256).every((x) => x === 0)).toBe(true);
    expect(rec('groups', 4) - g).toBe(256);

    // Pointers (700): set index = group * readersMax + reader.
    const s = rec('pointers', set);
    expect([v.getUint32(s, true), v.getUint32(s + 4, true), v.getUint32(s + 8, true)]).toEqual([3, 2, 9]);
    expect([16, 24, 32, 40, 48, 56, 64, 72, 80].map((o) => v.getFloat64(s + o, true)))
      .toEqual([0, 4096, 0, 0, 2 ** 33 + 8192, 4096, 0, 0, 300 * 512]);
    // batch_wd_bytes, read_number, oldest_number (both firstNumber), batch_count, ui_slot_bytes, last_read_ms.
    expect([88, 96, 104].map((o) => v.getFloat64(s + o, true))).toEqual([1536, 2 ** 40 + 3, 2 ** 40 + 3]);
    expect([v.getUint32(s + 112, true), v.getUint32(s + 116, true)]).toEqual([3, 512]);
    expect(v.getUint32(s + 12, true)).toBe(0); // reserved
    expect(v.getFloat64(s + 120, true)).toBe(1767225600100.25);
    expect(new Uint8Array(dump, rec('pointers', set - 1), 128).every((b) => b === 0)).toBe(true);

    // Cache: control words, the slot holding volume 2's slot 1 (block 8 of 8-sector slots), its chain.
    const ctl = region('cache-ctl').offset;
    expect(v.getInt32(ctl + 5 * 4, true)).toBe(16); // slot_count
    expect(v.getInt32(ctl + 6 * 4, true)).toBe(8); // sectors_per_slot
    expect(v.getInt32(ctl + 7 * 4, true)).toBe(32); // bucket_count
    expect(v.getInt32(ctl + 4 * 4, true)).toBe(1); // used_slots
    const slots = region('slots');
    const used: number[] = [];
    for (let i = 0; i < slots.recordCount; i++) {
      const b = slots.offset + i * 64;
      const flags = v.getUint32(b + 24, true);
      if (v.getInt32(b, true) !== 0) used.push(i);
      else expect(flags & SLOT_FLAG_FREE, `slot ${i} free flag`).toBe(SLOT_FLAG_FREE);
    }
    expect(used).toHaveLength(1);
    const slot = must(used[0]);
    const sb = slots.offset + slot * 64;
    expect(v.getInt32(sb + 0, true)).toBe(2); // volume
    expect(v.getUint32(sb + 4, true)).toBe(1); // slot_number
    expect(v.getInt32(sb + 8, true)).toBe(0); // pin_count: the command completed
    expect(v.getUint32(sb + 24, true) & SLOT_FLAG_IN_DIRECTORY).toBe(SLOT_FLAG_IN_DIRECTORY);
    expect(v.getUint32(sb + 32, true) & 1).toBe(1); // valid bit of sector 0 of the slot
    // Exactly one directory bucket chain reaches the slot (hash_next is index + 1).
    const dir = region('directory');
    let reached = 0;
    for (let bucket = 0; bucket < dir.recordCount; bucket++) {
      for (let link = v.getInt32(dir.offset + bucket * 4, true), hops = 0; link !== 0 && hops <= 16; hops++) {
        if (link - 1 === slot) reached++;
        link = v.getInt32(slots.offset + (link - 1) * 64 + 12, true);
      }
    }
    expect(reached).toBe(1);
    // Cache data of that slot holds the written sector.
    expect(h.shared.cache.byteLength).toBe(16 * 4096);
    expect(Array.from(new Uint8Array(h.shared.cache, slot * 4096, 512))).toEqual(Array.from(pattern(512, 7)));

    // Locks: all free after the commands; the maintenance lock (the last one) was taken once.
    const locks = region('locks');
    for (let i = 0; i < locks.recordCount; i++) {
      expect(v.getInt32(locks.offset + i * 64 + 0, true), `lock ${i} state`).toBe(0);
      expect(v.getInt32(locks.offset + i * 64 + 4, true), `lock ${i} owner`).toBe(0);
    }
    expect(v.getFloat64(locks.offset + (locks.recordCount - 1) * 64 + 8, true)).toBe(1);
    expect(v.getFloat64(locks.offset + 0 * 64 + 8, true)).toBeGreaterThan(0); // cache list lock used by the write

    // Mailboxes: each processor's mailbox records its capacity at +0.
    const mb = region('mailboxes');
    for (let i = 0; i < mb.recordCount; i++) expect(v.getInt32(mb.offset + i * mb.recordBytes, true)).toBe(16);
    // Statistics: one host write counted (HOST_WRITES is counter 1 of each float64 block).
    const st = region('statistics');
    let writes = 0;
    for (let i = 0; i < st.recordCount; i++) writes += v.getFloat64(st.offset + i * 256 + 1 * 8, true);
    expect(writes).toBe(1);
    // Tasks: every record's state is free, ready or waiting.
    const tasks = region('tasks');
    expect(tasks.recordBytes).toBe(128);
    for (let i = 0; i < tasks.recordCount; i++) expect([0, 1, 2]).toContain(v.getInt32(tasks.offset + i * 128, true));
    // Task 0 of channel adapter 0 ran the write (the record keeps its fields once free): volume 2
    // at +16, and at +40 the generation volume 2 had when the command started; at +44 its kind
    // (host), and at +112 the float64 time the command was received.
    expect([0, 16, 20, 24, 28, 40, 44].map((o) => v.getInt32(tasks.offset + o, true))).toEqual([0, 2, 8, 512, 512, 1, TaskKind.HOST]);
    expect(v.getFloat64(tasks.offset + 112, true)).toBe(Date.UTC(2026, 0, 1)); // VirtualClock's start: received before any round
    // Nothing else ran a task: every other record is zero (72 tasks per processor, 3 processors).
    for (let i = 1; i < tasks.recordCount; i++) expect(new Uint8Array(dump, tasks.offset + i * 128, 128).every((x) => x === 0), `task record ${i}`).toBe(true);
    // Scratch (512 B per task), bitmaps (4 KiB per volume number) and staging (2 x 1 MiB per
    // group number): present with their documented sizes, right after one another.
    const scratch = region('scratch');
    expect([scratch.recordBytes, scratch.recordCount, scratch.bytes]).toEqual([512, 216, 216 * 512]);
    const bitmaps = region('bitmaps');
    expect([bitmaps.recordBytes, bitmaps.recordCount, bitmaps.bytes]).toEqual([4096, 65, 65 * 4096]);
    const staging = region('staging');
    expect([staging.recordBytes, staging.recordCount, staging.bytes]).toEqual([2 * 1024 * 1024, 17, 17 * 2 * 1024 * 1024]);
    expect(scratch.offset).toBe(Math.ceil((tasks.offset + tasks.bytes) / 64) * 64);
    expect(bitmaps.offset).toBe(Math.ceil((scratch.offset + scratch.bytes) / 64) * 64);
    expect(staging.offset).toBe(Math.ceil((bitmaps.offset + bitmaps.bytes) / 64) * 64);
    // Sent batches (firmware/sent-batches.ts: 288 B per pointer set): right after staging.
    const batches = region('batches');
    expect([batches.recordBytes, batches.recordCount, batches.bytes]).toEqual([288, 68, 68 * 288]);
    expect(batches.offset % 64).toBe(0);
    expect(batches.offset).toBe(Math.ceil((staging.offset + staging.bytes) / 64) * 64);
    // Mirror pairs (firmware/structs/mirror-info.ts: 128 B + two bitmaps per pair number), the
    // last region, ending the image; freshly formatted, every pair is unused (state 0 at +4).
    const mirrors = region('mirrors');
    expect([mirrors.recordBytes, mirrors.recordCount]).toEqual([128 + 2 * 16 * 1024, 9]);
    expect(Math.ceil((mirrors.offset + mirrors.bytes) / 64) * 64).toBe(hdr.totalBytes);
    for (let i = 0; i < mirrors.recordCount; i++) expect(v.getUint8(mirrors.offset + i * mirrors.recordBytes + 4), `mirror pair ${i}`).toBe(0);
    // Freshly formatted: every set has head 0 (u32 at +0) and length 0 (u32 at +4).
    for (let i = 0; i < batches.recordCount; i++) {
      const at = batches.offset + i * 288;
      expect([v.getUint32(at + 0, true), v.getUint32(at + 4, true)], `sent batches of set ${i}`).toEqual([0, 0]);
    }
    // No bitmap bit was set: nothing was written while a pair was suspended.
    expect(new Uint8Array(dump, bitmaps.offset, bitmaps.bytes).every((x) => x === 0)).toBe(true);
    // System record: running, three processors attached.
    const sys = region('system').offset;
    expect(v.getInt32(sys + SystemWord.RUN_STATE * 4, true)).toBe(1);
    expect(v.getInt32(sys + SystemWord.STARTED * 4, true)).toBe(3);
  });

  test('the firmware decoder (RecordTable.decode) agrees with the independent one', () => {
    const { h, set } = populatedDump();
    const { mem } = h;
    expect(mem.volumes.decode(9)).toEqual({
      number: 9, state: 1, flags: 1, format: 'JNL', capacity_blocks: 300, pair_number: 0, drive_number: 1, drive_start_block: 600, group_number: 3, generation: 1, mirror_number: 0,
    });
    expect(mem.groups.decode(3)).toMatchObject({
      number: 3, journal_volume_count: 1, pair_count: 2, update_number: 2 ** 40 + 3, partner_system: 2, partner_group: 4,
      link_number: 2, read_policy: ReadPolicy.RECEIVED, flags: GroupFlag.COPY_STARTED, batch_journals_max: 64,
      journals_created: 2 ** 33 + 1, failing_since_ms: 1767225600000.5, release_mode: ReleaseMode.AFTER_SEND,
    });
    expect(mem.groups.decode(3).pair_set).toEqual([5, 65000, ...new Array(30).fill(0)]);
    expect(mem.pairs.decode(5)).toMatchObject({ state: PairState.COPYING, flags: PairFlag.RESYNC, copied_blocks: 128 });
    expect(mem.pointers.decode(set)).toMatchObject({
      group_number: 3, reader_system: 2, journal_volume: 9, wd_newest: 2 ** 33 + 8192,
      batch_wd_bytes: 1536, read_number: 2 ** 40 + 3, oldest_number: 2 ** 40 + 3, batch_count: 3, ui_slot_bytes: 512, last_read_ms: 1767225600100.25,
    });
  });
});

// ---------------------------------------------------------------------------------------------
// 6. System record: boot time placement (firmware bug)
// ---------------------------------------------------------------------------------------------

describe('system record', () => {
  // BUG (firmware/boot.ts, formatSystem): the boot time is written as a float64 at byte 8 of
  // the system record, which is int32 words 2 and 3 = SystemWord.FINISHED and
  // SystemWord.FAILED_PROCESSOR. The maintenance port reads boot_ms at byte 32. So after boot
  // FINISHED/FAILED_PROCESSOR hold the halves of the timestamp and boot_ms reads 0, and
  // recordProcessorFailure (compareExchange from 0) can never record a failure.
  it('formatSystem leaves SystemWord.FINISHED and FAILED_PROCESSOR at 0', () => {
    const h = freshSystem();
    expect(h.mem.system[SystemWord.FINISHED]).toBe(0);
    expect(h.mem.system[SystemWord.FAILED_PROCESSOR]).toBe(0);
  });

  it('the maintenance port reads back the boot time and no failed processor', () => {
    const h = freshSystem();
    const block = h.maintenance.readControlBlock('system', 0);
    expect(block.data?.boot_ms).toBe(Date.UTC(2026, 0, 1)); // VirtualClock's default start
    expect(block.data?.failed_processor).toBe(-1);
  });

  it('recordProcessorFailure records the first failed processor', () => {
    const h = freshSystem();
    h.maintenance.recordProcessorFailure(2);
    expect(h.maintenance.readControlBlock('system', 0).data?.failed_processor).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------------
// 7. Header verification
// ---------------------------------------------------------------------------------------------

describe('ControlMemory.verifyHeader and readRegionTable', () => {
  const opts = { singleThreaded: true, ownerId: 0 };

  test('passes on a formatted image, for a second attachment too', () => {
    const h = freshSystem();
    expect(() => h.mem.verifyHeader()).not.toThrow();
    const again = new ControlMemory(h.config, h.shared.control, h.shared.cache, opts);
    expect(() => again.verifyHeader()).not.toThrow();
    const table = readRegionTable(takeDump(h.shared.control));
    expect(table.systemNumber).toBe(1);
    expect(table.totalBytes).toBe(h.shared.control.byteLength);
    expect(table.regions.map((r) => r.name)).toEqual(
      ['system', 'volumes', 'pairs', 'groups', 'pointers', 'cache-ctl', 'slots', 'directory', 'locks', 'mailboxes', 'doorbells', 'statistics', 'tasks',
        'scratch', 'bitmaps', 'staging', 'batches', 'windows', 'mirrors']);
    expect(table.regions).toEqual(planControlMemory(h.config).regions);
  });

  test('throws when the image belongs to another system number', () => {
    const h = freshSystem();
    const other = new ControlMemory({ ...h.config, systemNumber: 2 }, h.shared.control, h.shared.cache, opts);
    expect(() => other.verifyHeader()).toThrow(AssertionError);
    expect(() => other.verifyHeader()).toThrow('control memory belongs to system 1, configuration says 2');
  });

  test('throws when the image was laid out for a different configuration (more cache slots)', () => {
    const h = freshSystem();
    const bigger = smallConfig({ cacheBytes: 32 * 4096 });
    const plan = planControlMemory(bigger);
    expect(plan.totalBytes).toBeGreaterThan(h.shared.control.byteLength);
    // The formatted (smaller-layout) image copied into a buffer big enough for the other layout.
    const control = new SharedArrayBuffer(plan.totalBytes);
    new Uint8Array(control).set(new Uint8Array(h.shared.control));
    const mem = new ControlMemory(bigger, control, new SharedArrayBuffer(bigger.cacheBytes), opts);
    expect(() => mem.verifyHeader()).toThrow(AssertionError);
    expect(() => mem.verifyHeader()).toThrow("region 'slots' in the image header does not match the layout computed from the configuration");
  });

  test('throws when the image was laid out for a different configuration (fewer slots, more groups)', () => {
    const h = freshSystem();
    const fewer = smallConfig({ cacheBytes: 8 * 4096 });
    const mem = new ControlMemory(fewer, h.shared.control, new SharedArrayBuffer(fewer.cacheBytes), opts);
    expect(() => mem.verifyHeader()).toThrow("region 'slots' in the image header does not match");
    const groups = smallConfig({ groupsMax: 8 });
    const mem2 = new ControlMemory(groups, h.shared.control, h.shared.cache, opts);
    expect(() => mem2.verifyHeader()).toThrow("region 'groups' in the image header does not match");
  });

  // verifyHeader promises the header describes "exactly this layout", but it only checks the
  // regions the image lists: an image whose table lists fewer regions (here: none) passes.
  it('throws when the image region table lists fewer regions than the layout', () => {
    const h = freshSystem();
    new DataView(h.shared.control).setUint32(8, 0, true); // region_count = 0
    expect(() => h.mem.verifyHeader()).toThrow();
  });

  test('a control buffer smaller than the layout is refused when attaching', () => {
    const h = freshSystem();
    const bigger = smallConfig({ cacheBytes: 32 * 4096 });
    expect(() => new ControlMemory(bigger, h.shared.control, new SharedArrayBuffer(bigger.cacheBytes), opts))
      .toThrow(/control memory of \d+ bytes is smaller than the layout's \d+/);
  });

  test('readRegionTable: wrong magic', () => {
    const h = freshSystem();
    const dump = takeDump(h.shared.control);
    new DataView(dump).setUint32(0, 0x12345678, true);
    expect(() => readRegionTable(dump)).toThrow('shared-memory image has magic 0x12345678, expected 0x4652434a');
    expect(() => readRegionTable(new ArrayBuffer(4096))).toThrow('has magic 0x0, expected 0x4652434a');
  });

  test('readRegionTable: wrong version', () => {
    const h = freshSystem();
    const dump = takeDump(h.shared.control);
    new DataView(dump).setUint32(4, 2, true);
    expect(() => readRegionTable(dump)).toThrow('shared-memory image version 2 is not 1');
    const mem = new ControlMemory(h.config, h.shared.control, h.shared.cache, opts);
    new DataView(h.shared.control).setUint32(4, 7, true);
    expect(() => mem.verifyHeader()).toThrow('shared-memory image version 7 is not 1');
  });

  test('readRegionTable: truncated buffer', () => {
    const h = freshSystem();
    const dump = takeDump(h.shared.control);
    const half = dump.slice(0, 4096);
    expect(() => readRegionTable(half)).toThrow(`shared-memory header claims ${dump.byteLength} bytes, image has 4096`);
    expect(() => readRegionTable(dump.slice(0, 16))).toThrow('shared-memory image of 16 bytes is shorter than its header');
    expect(() => readRegionTable(new ArrayBuffer(0))).toThrow('shared-memory image of 0 bytes is shorter than its header');
  });

  test('readRegionTable: a corrupt region count is refused (throws rather than reading garbage)', () => {
    const h = freshSystem();
    const dump = takeDump(h.shared.control);
    new DataView(dump).setUint32(8, 0x7fffffff, true);
    expect(() => readRegionTable(dump)).toThrow();
  });
});
