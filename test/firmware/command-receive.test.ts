// Command reception 210: one channel-adapter task per branch, stepped by hand.
// Validation S1210–S1250 (every rejection, and that a rejection changes nothing), INQUIRY,
// writes into cache, read hits, and the three reasons a task waits (cache full, slot busy,
// stage — the last is covered in disk-adapter.test.ts).

import { describe, expect, it } from 'vitest';
import { requestPowerOff } from '../../firmware/boot.ts';
import { SystemWord } from '../../firmware/layout.ts';
import { SLOT_HEADER_WORDS, SlotWord as W } from '../../firmware/structs/cache-slot.ts';
import { STAT_COUNTERS_PER_PROCESSOR, Stat } from '../../firmware/structs/statistics.ts';
import { TASK_WORDS, TaskState, TaskWait, TaskWord as T } from '../../firmware/structs/task.ts';
import { NO_DRIVE, VolumeState } from '../../firmware/structs/volume-info.ts';
import { HostOp, Reason, ScsiStatus, SenseKey, type CommandResult } from '../../hal/host-port.ts';
import { freshSystem, pattern, type Harness } from '../support/harness.ts';

const BLOCK = 512;

const stat = (h: Harness, p: number, i: number): number => h.mem.statistics[p * STAT_COUNTERS_PER_PROCESSOR + i]!;
const total = (h: Harness, i: number): number => {
  let sum = 0;
  for (let p = 0; p < h.mem.geometry.processors; p++) sum += stat(h, p, i);
  return sum;
};

/** Word index of task `task` of channel adapter `ca` in mem.tasks (geometry.tasksPerProcessor records per processor). */
const taskBase = (h: Harness, ca: number, task: number): number => (ca * h.mem.geometry.tasksPerProcessor + task) * TASK_WORDS;
const taskRecord = (h: Harness, ca: number, task: number): number[] =>
  Array.from(h.mem.tasks.subarray(taskBase(h, ca, task), taskBase(h, ca, task) + 10));

/** Steps only channel adapter `port` until the slot completes; returns the result and releases the slot. */
function caFinish(h: Harness, port: number, slot: number, maxSteps = 5): CommandResult & { data: Uint8Array } {
  for (let i = 0; i < maxSteps && !h.ports.isComplete(port, slot); i++) h.ca[port]!.step();
  if (!h.ports.isComplete(port, slot)) throw new Error(`port ${port} slot ${slot} did not complete on its channel adapter alone`);
  const result = h.ports.result(port, slot);
  const from = h.ports.dataOffset(port, slot);
  const data = h.ports.bytes.slice(from, from + Math.max(0, Math.min(h.ports.byteLength(port, slot), h.ports.geometry.maxTransferBytes)));
  h.ports.release(port, slot);
  return { ...result, data };
}

/** A write that completes on its channel adapter alone (no disk adapter step). */
function caWrite(h: Harness, port: number, volume: number, lba: number, data: Uint8Array): CommandResult {
  return caFinish(h, port, h.submit(port, HostOp.WRITE, volume, lba, data.byteLength, data));
}

interface Snapshot {
  used: number;
  dirty: number;
  headers: number[];
  directory: number[];
  cache: Buffer;
  drive0: Buffer;
  drive1: Buffer;
  hostWrites: number;
  hostReads: number;
  stageRequests: number;
}

function snapshot(h: Harness): Snapshot {
  return {
    used: h.cache.usedSlots(),
    dirty: h.cache.dirtySlots(),
    headers: Array.from(h.mem.slotHeaders),
    directory: Array.from(h.mem.directory),
    cache: Buffer.from(h.mem.cacheBytes),
    drive0: Buffer.from(h.driveBytes.get(0)!),
    drive1: Buffer.from(h.driveBytes.get(1)!),
    hostWrites: total(h, Stat.HOST_WRITES),
    hostReads: total(h, Stat.HOST_READS),
    stageRequests: total(h, Stat.STAGE_REQUESTS),
  };
}

function expectUnchanged(h: Harness, before: Snapshot): void {
  const after = snapshot(h);
  expect(after.used).toBe(before.used);
  expect(after.dirty).toBe(before.dirty);
  expect(after.headers).toEqual(before.headers);
  expect(after.directory).toEqual(before.directory);
  expect(after.cache.equals(before.cache)).toBe(true);
  expect(after.drive0.equals(before.drive0)).toBe(true);
  expect(after.drive1.equals(before.drive1)).toBe(true);
  expect(after.hostWrites).toBe(before.hostWrites);
  expect(after.hostReads).toBe(before.hostReads);
  expect(after.stageRequests).toBe(before.stageRequests);
  expect(h.mem.mailboxes[2]!.size()).toBe(0);
}

function expectGood(r: CommandResult): void {
  expect({ status: r.status, senseKey: r.senseKey, reason: r.reason }).toEqual({ status: ScsiStatus.GOOD, senseKey: SenseKey.NO_SENSE, reason: Reason.NONE });
}

describe('command reception: every rejection of S1210–S1250 changes nothing', () => {
  interface Case {
    name: string;
    opcode: number;
    volume: number;
    lba: number;
    byteLength: number;
    prepare?: (h: Harness) => void;
    senseKey: number;
    reason: number;
  }
  const W_ = HostOp.WRITE;
  const R_ = HostOp.READ;
  const cases: Case[] = [
    { name: 'invalid opcode 99', opcode: 99, volume: 1, lba: 0, byteLength: 512, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.INVALID_OPCODE },
    { name: 'invalid opcode 0', opcode: 0, volume: 1, lba: 0, byteLength: 512, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.INVALID_OPCODE },
    { name: 'invalid opcode even for an undefined volume (opcode checked first)', opcode: 99, volume: 0, lba: 0, byteLength: 0, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.INVALID_OPCODE },
    { name: 'write to volume 0', opcode: W_, volume: 0, lba: 0, byteLength: 512, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.VOLUME_NOT_DEFINED },
    { name: 'read of volume 0', opcode: R_, volume: 0, lba: 0, byteLength: 512, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.VOLUME_NOT_DEFINED },
    { name: 'write to volume 9999', opcode: W_, volume: 9999, lba: 0, byteLength: 512, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.VOLUME_NOT_DEFINED },
    { name: 'write to volume volumesMax + 1 (65)', opcode: W_, volume: 65, lba: 0, byteLength: 512, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.VOLUME_NOT_DEFINED },
    { name: 'write to volume -1', opcode: W_, volume: -1, lba: 0, byteLength: 512, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.VOLUME_NOT_DEFINED },
    { name: 'INQUIRY of volume 0', opcode: HostOp.INQUIRY, volume: 0, lba: 0, byteLength: 0, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.VOLUME_NOT_DEFINED },
    { name: 'write to unused volume 3', opcode: W_, volume: 3, lba: 0, byteLength: 512, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.VOLUME_UNUSED },
    { name: 'read of unused volume 3', opcode: R_, volume: 3, lba: 0, byteLength: 512, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.VOLUME_UNUSED },
    {
      name: 'write to an abnormal volume', opcode: W_, volume: 1, lba: 0, byteLength: 512,
      prepare: (h) => h.mem.volumes.setState(1, VolumeState.ABNORMAL), senseKey: SenseKey.HARDWARE_ERROR, reason: Reason.VOLUME_ABNORMAL,
    },
    {
      name: 'read of an abnormal volume', opcode: R_, volume: 1, lba: 0, byteLength: 512,
      prepare: (h) => h.mem.volumes.setState(1, VolumeState.ABNORMAL), senseKey: SenseKey.HARDWARE_ERROR, reason: Reason.VOLUME_ABNORMAL,
    },
    {
      name: 'write to a secondary volume', opcode: W_, volume: 1, lba: 0, byteLength: 512,
      prepare: (h) => h.mem.volumes.setState(1, VolumeState.SECONDARY), senseKey: SenseKey.DATA_PROTECT, reason: Reason.VOLUME_WRITE_PROTECTED,
    },
    { name: 'zero-length write', opcode: W_, volume: 1, lba: 0, byteLength: 0, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.ZERO_LENGTH },
    { name: 'zero-length read', opcode: R_, volume: 1, lba: 0, byteLength: 0, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.ZERO_LENGTH },
    { name: 'write of 1000 bytes (misaligned)', opcode: W_, volume: 1, lba: 0, byteLength: 1000, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.TRANSFER_MISALIGNED },
    { name: 'read of 513 bytes (misaligned)', opcode: R_, volume: 1, lba: 0, byteLength: 513, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.TRANSFER_MISALIGNED },
    { name: 'write of -512 bytes', opcode: W_, volume: 1, lba: 0, byteLength: -512, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.TRANSFER_MISALIGNED },
    { name: 'write of maxTransferBytes + 512', opcode: W_, volume: 1, lba: 0, byteLength: 16 * 1024 + 512, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.TRANSFER_TOO_LONG },
    { name: 'read of maxTransferBytes + 512', opcode: R_, volume: 1, lba: 0, byteLength: 16 * 1024 + 512, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.TRANSFER_TOO_LONG },
    { name: 'write at lba = capacity', opcode: W_, volume: 1, lba: 256, byteLength: 512, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.LBA_OUT_OF_RANGE },
    { name: 'read far past capacity', opcode: R_, volume: 2, lba: 1_000_000, byteLength: 512, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.LBA_OUT_OF_RANGE },
    { name: 'write at lba -1', opcode: W_, volume: 1, lba: -1, byteLength: 512, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.LBA_OUT_OF_RANGE },
    { name: 'write crossing the end of volume 1 by one block', opcode: W_, volume: 1, lba: 255, byteLength: 1024, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.LBA_OUT_OF_RANGE },
    { name: 'read crossing the end of volume 2 by one block', opcode: R_, volume: 2, lba: 99, byteLength: 1024, senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.LBA_OUT_OF_RANGE },
    {
      name: 'read of a volume without storage', opcode: R_, volume: 4, lba: 0, byteLength: 512,
      prepare: (h) => h.mem.volumes.define(4, 'OPEN', 64, NO_DRIVE, 0, VolumeState.NORMAL), senseKey: SenseKey.ILLEGAL_REQUEST, reason: Reason.VOLUME_NO_STORAGE,
    },
  ];

  it.each(cases)('$name', (c) => {
    const h = freshSystem();
    c.prepare?.(h);
    // Some data in cache and on the drive beforehand, so "nothing changed" is not trivially all-zero.
    h.driveBytes.get(0)!.set(pattern(8 * BLOCK, 5), 0);
    expectGood(caWrite(h, 0, 2, 8, pattern(2 * BLOCK, 6)));
    const rejectedBefore = stat(h, 0, Stat.HOST_REJECTED);
    const before = snapshot(h);
    const data = pattern(Math.max(0, Math.min(c.byteLength, 16 * 1024)), 9);
    const slot = h.submit(0, c.opcode, c.volume, c.lba, c.byteLength, data);
    h.ca[0]!.step();
    expect(h.ports.isComplete(0, slot)).toBe(true);
    const r = caFinish(h, 0, slot);
    expect({ status: r.status, senseKey: r.senseKey, reason: r.reason }).toEqual({ status: ScsiStatus.CHECK_CONDITION, senseKey: c.senseKey, reason: c.reason });
    expect(stat(h, 0, Stat.HOST_REJECTED)).toBe(rejectedBefore + 1);
    expect(taskRecord(h, 0, 0)[T.STATE]).toBe(TaskState.FREE);
    expect(taskRecord(h, 0, 0)[T.WAIT]).toBe(TaskWait.NONE);
    expectUnchanged(h, before);
  });

  it('the boundaries themselves are accepted: last block, exact end, exactly maxTransferBytes', () => {
    const h = freshSystem();
    expectGood(caWrite(h, 0, 1, 255, pattern(BLOCK, 1)));
    expectGood(caWrite(h, 0, 2, 98, pattern(2 * BLOCK, 2)));
    expectGood(caWrite(h, 0, 1, 0, pattern(16 * 1024, 3)));
    expect(stat(h, 0, Stat.HOST_REJECTED)).toBe(0);
    expect(stat(h, 0, Stat.HOST_WRITES)).toBe(3);
    expect(stat(h, 0, Stat.HOST_WRITE_BYTES)).toBe(BLOCK + 2 * BLOCK + 16 * 1024);
  });

  it('a secondary volume rejects writes but serves reads', () => {
    const h = freshSystem();
    const onDrive = pattern(8 * BLOCK, 21);
    h.driveBytes.get(0)!.set(onDrive, 0);
    h.mem.volumes.setState(1, VolumeState.SECONDARY);
    const w = h.write(0, 1, 0, pattern(BLOCK, 22));
    expect([w.status, w.senseKey, w.reason]).toEqual([ScsiStatus.CHECK_CONDITION, SenseKey.DATA_PROTECT, Reason.VOLUME_WRITE_PROTECTED]);
    expect(h.cache.usedSlots()).toBe(0);
    const r = h.read(0, 1, 0, 8 * BLOCK);
    expectGood(r);
    expect(Buffer.from(r.data).equals(Buffer.from(onDrive))).toBe(true);
    expect(total(h, Stat.HOST_READS)).toBe(1);
    expect(total(h, Stat.HOST_WRITES)).toBe(0);
    expect(total(h, Stat.HOST_REJECTED)).toBe(1);
  });
});

describe('command reception: INQUIRY', () => {
  it('returns state, capacity and pair number in info0/1/2 and touches no cache', () => {
    const h = freshSystem();
    h.mem.volumes.setState(2, VolumeState.PRIMARY);
    h.mem.volumes.setPairNumber(2, 7);
    const inquiry = (volume: number): CommandResult => caFinish(h, 0, h.submit(0, HostOp.INQUIRY, volume, 0, 0));
    const v1 = inquiry(1);
    expectGood(v1);
    expect([v1.info0, v1.info1, v1.info2]).toEqual([VolumeState.NORMAL, 256, 0]);
    const v2 = inquiry(2);
    expectGood(v2);
    expect([v2.info0, v2.info1, v2.info2]).toEqual([VolumeState.PRIMARY, 100, 7]);
    const v3 = inquiry(3); // unused volumes answer INQUIRY
    expectGood(v3);
    expect([v3.info0, v3.info1, v3.info2]).toEqual([VolumeState.UNUSED, 256, 0]);
    h.mem.volumes.setState(1, VolumeState.ABNORMAL);
    const v1a = inquiry(1);
    expectGood(v1a);
    expect([v1a.info0, v1a.info1, v1a.info2]).toEqual([VolumeState.ABNORMAL, 256, 0]);
    expect(stat(h, 0, Stat.HOST_INQUIRIES)).toBe(4);
    expect(stat(h, 0, Stat.HOST_REJECTED)).toBe(0);
    expect(stat(h, 0, Stat.HOST_READS)).toBe(0);
    expect(h.cache.usedSlots()).toBe(0);
  });
});

describe('command reception: writes and read hits', () => {
  it('a write across a slot boundary lands in two slots with exact bitmaps and bytes', () => {
    const h = freshSystem();
    const data = pattern(4 * BLOCK, 31);
    const r = caWrite(h, 0, 1, 6, data); // blocks 6,7 of slot 0 and 0,1 of slot 1
    expectGood(r);
    const hdr = (s: number, w: number): number => h.mem.slotHeaders[s * SLOT_HEADER_WORDS + w]! >>> 0;
    expect([h.cache.volumeOf(0), h.cache.slotNumberOf(0), h.cache.volumeOf(1), h.cache.slotNumberOf(1)]).toEqual([1, 0, 1, 1]);
    expect([hdr(0, W.DIRTY), hdr(0, W.DIRTY + 1), hdr(0, W.VALID)]).toEqual([0b11000000, 0, 0b11000000]);
    expect([hdr(1, W.DIRTY), hdr(1, W.DIRTY + 1), hdr(1, W.VALID)]).toEqual([0b11, 0, 0b11]);
    expect(h.cache.pinCount(0)).toBe(0);
    expect(h.cache.pinCount(1)).toBe(0);
    expect(h.mem.locks.isLocked(h.mem.lockMap.slotBase + 0)).toBe(false);
    expect(h.mem.locks.isLocked(h.mem.lockMap.slotBase + 1)).toBe(false);
    expect(h.cache.usedSlots()).toBe(2);
    expect(h.cache.dirtySlots()).toBe(2);
    const cache = h.mem.cacheBytes;
    expect(Buffer.from(cache.subarray(6 * BLOCK, 8 * BLOCK)).equals(Buffer.from(data.subarray(0, 2 * BLOCK)))).toBe(true);
    expect(Buffer.from(cache.subarray(4096, 4096 + 2 * BLOCK)).equals(Buffer.from(data.subarray(2 * BLOCK)))).toBe(true);
    expect(cache.subarray(0, 6 * BLOCK).every((b) => b === 0)).toBe(true);
    expect(cache.subarray(4096 + 2 * BLOCK, 8192).every((b) => b === 0)).toBe(true);
    expect(stat(h, 0, Stat.WRITE_SLOT_MISSES)).toBe(2);
    expect(stat(h, 0, Stat.WRITE_SLOT_HITS)).toBe(0);
    expect(stat(h, 0, Stat.HOST_WRITES)).toBe(1);
    expect(stat(h, 0, Stat.HOST_WRITE_BYTES)).toBe(4 * BLOCK);
    expect(taskRecord(h, 0, 0)[T.STATE]).toBe(TaskState.FREE);

    // A second write to one of those slots is a write hit.
    expectGood(caWrite(h, 0, 1, 10, pattern(BLOCK, 32))); // slot 1, sector 2
    expect(stat(h, 0, Stat.WRITE_SLOT_HITS)).toBe(1);
    expect(hdr(1, W.DIRTY)).toBe(0b111);
    expect(h.cache.dirtySlots()).toBe(2);
  });

  it('a write read back hits the cache: no stage, no drive read', () => {
    const h = freshSystem();
    const data = pattern(4 * BLOCK, 41);
    expectGood(caWrite(h, 1, 1, 6, data));
    const r = caFinish(h, 1, h.submit(1, HostOp.READ, 1, 6, 4 * BLOCK));
    expectGood(r);
    expect(Buffer.from(r.data).equals(Buffer.from(data))).toBe(true);
    expect(stat(h, 1, Stat.READ_SLOT_HITS)).toBe(2);
    expect(stat(h, 1, Stat.READ_SLOT_MISSES)).toBe(0);
    expect(stat(h, 1, Stat.STAGE_REQUESTS)).toBe(0);
    expect(stat(h, 1, Stat.HOST_READS)).toBe(1);
    expect(stat(h, 1, Stat.HOST_READ_BYTES)).toBe(4 * BLOCK);
    expect(h.mem.mailboxes[2]!.size()).toBe(0);
    expect(h.faults.get(0)!.reads).toBe(0);
    expect(total(h, Stat.STAGES)).toBe(0);
  });

  it('a write completes GOOD with the data only in cache; the drive sees it after the disk adapter steps', () => {
    const h = freshSystem();
    const data = pattern(3 * BLOCK, 51);
    const slot = h.submit(0, HostOp.WRITE, 2, 10, data.byteLength, data);
    h.ca[0]!.step();
    expect(h.ports.isComplete(0, slot)).toBe(true);
    const r = caFinish(h, 0, slot);
    expectGood(r);
    const drive = h.driveBytes.get(0)!;
    expect(drive.every((b) => b === 0)).toBe(true);
    expect(h.faults.get(0)!.writes).toBe(0);
    expect(h.cache.dirtySlots()).toBe(1);
    h.da[0]!.step();
    const at = (256 + 10) * BLOCK;
    expect(Buffer.from(drive.subarray(at, at + 3 * BLOCK)).equals(Buffer.from(data))).toBe(true);
    expect(drive.subarray(0, at).every((b) => b === 0)).toBe(true);
    expect(drive.subarray(at + 3 * BLOCK).every((b) => b === 0)).toBe(true);
    expect(h.cache.dirtySlots()).toBe(0);
  });
});

describe('command reception: waits', () => {
  /** Makes all 16 slots dirty (volume 1 blocks 0..127, slots 0..15 in order) on port 0. */
  function fillCacheDirty(h: Harness): Uint8Array[] {
    const chunks: Uint8Array[] = [];
    const slots: number[] = [];
    for (let i = 0; i < 4; i++) {
      const data = pattern(16 * 1024, 100 + i);
      chunks.push(data);
      slots.push(h.submit(0, HostOp.WRITE, 1, i * 32, data.byteLength, data));
    }
    h.ca[0]!.step();
    for (const s of slots) expectGood(caFinish(h, 0, s, 1));
    expect(h.cache.usedSlots()).toBe(16);
    expect(h.cache.dirtySlots()).toBe(16);
    for (let s = 0; s < 16; s++) expect([h.cache.volumeOf(s), h.cache.slotNumberOf(s)]).toEqual([1, s]);
    return chunks;
  }

  it('cache full: a write waits CACHE_FULL until the disk adapter destages, then evicts the LRU clean slot', () => {
    const h = freshSystem();
    const chunks = fillCacheDirty(h);
    const data = pattern(BLOCK, 7);
    const slot = h.submit(1, HostOp.WRITE, 1, 128, BLOCK, data); // slot number 16: not cached
    h.ca[1]!.step();
    expect(h.ports.isComplete(1, slot)).toBe(false);
    const rec = taskRecord(h, 1, 0);
    // CA 1's records start after CA 0's 4 + 17 * 3 + 8 + 1 + 8 (mirror pairs) = 72 records of 32 words.
    expect(taskBase(h, 1, 0)).toBe(1 * 72 * 32);
    expect(taskBase(h, 1, 0)).toBe(h.mem.taskWord(1, 0));
    expect(rec).toEqual([TaskState.WAITING, TaskWait.CACHE_FULL, slot, HostOp.WRITE, 1, 128, BLOCK, 0, -1, 1]);
    expect(stat(h, 1, Stat.CACHE_FULL_WAITS)).toBe(1);
    h.ca[1]!.step();
    expect(h.ports.isComplete(1, slot)).toBe(false);
    expect(taskRecord(h, 1, 0)[T.ATTEMPTS]).toBe(2);
    expect(stat(h, 1, Stat.CACHE_FULL_WAITS)).toBe(2);
    expect(h.cache.usedSlots()).toBe(16);
    expect(h.cache.dirtySlots()).toBe(16);
    expect(h.ca[1]!.idleWaitMs()).toBe(1); // retries soon: destage frees slots without ringing

    h.da[0]!.step(); // destages slots 0..3 (batch of 4)
    expect(h.cache.dirtySlots()).toBe(12);
    const drive = h.driveBytes.get(0)!;
    expect(Buffer.from(drive.subarray(0, 16 * 1024)).equals(Buffer.from(chunks[0]!))).toBe(true);
    expect(drive.subarray(16 * 1024).every((b) => b === 0)).toBe(true);

    h.ca[1]!.step();
    expect(h.ports.isComplete(1, slot)).toBe(true);
    expectGood(caFinish(h, 1, slot));
    // The least recently used clean slot, slot 0 (1:0), was evicted and reused for 1:16.
    expect([h.cache.volumeOf(0), h.cache.slotNumberOf(0)]).toEqual([1, 16]);
    expect(h.cache.lookup(1, 0)).toBe(-1);
    for (const s of [1, 2, 3]) {
      expect(h.cache.lookup(1, s)).toBe(s);
      h.cache.unpin(s);
    }
    expect(stat(h, 1, Stat.EVICTIONS)).toBe(1);
    expect(h.cache.usedSlots()).toBe(16);
    expect(h.cache.dirtySlots()).toBe(13);
    expect(Buffer.from(h.mem.cacheBytes.subarray(0, BLOCK)).equals(Buffer.from(data))).toBe(true);
    expect(taskRecord(h, 1, 0)[T.STATE]).toBe(TaskState.FREE);
    expect(stat(h, 1, Stat.HOST_WRITES)).toBe(1);
  });

  it('cache full in the middle of a write: the first slot is written, the cursor is kept, the rest follows', () => {
    const h = freshSystem();
    // 15 dirty slots: one free slot left.
    const fills = [pattern(16 * 1024, 1), pattern(16 * 1024, 2), pattern(16 * 1024, 3), pattern(12 * 1024, 4)];
    fills.forEach((d, i) => expectGood(caWrite(h, 0, 1, i * 32, d)));
    expect(h.cache.usedSlots()).toBe(15);
    const data = pattern(8 * 1024, 5);
    const slot = h.submit(0, HostOp.WRITE, 1, 200, data.byteLength, data); // slots 25 and 26
    h.ca[0]!.step();
    expect(h.ports.isComplete(0, slot)).toBe(false);
    expect(taskRecord(h, 0, 0)).toEqual([TaskState.WAITING, TaskWait.CACHE_FULL, slot, HostOp.WRITE, 1, 200, 8192, 4096, -1, 0]);
    expect([h.cache.volumeOf(15), h.cache.slotNumberOf(15), h.cache.isDirty(15)]).toEqual([1, 25, true]);
    h.ca[0]!.step();
    expect(taskRecord(h, 0, 0)[T.ATTEMPTS]).toBe(1);
    h.da[0]!.step();
    h.ca[0]!.step();
    expectGood(caFinish(h, 0, slot));
    expect([h.cache.volumeOf(0), h.cache.slotNumberOf(0)]).toEqual([1, 26]);
    expect(Buffer.from(h.mem.cacheBytes.subarray(15 * 4096, 16 * 4096)).equals(Buffer.from(data.subarray(0, 4096)))).toBe(true);
    expect(Buffer.from(h.mem.cacheBytes.subarray(0, 4096)).equals(Buffer.from(data.subarray(4096)))).toBe(true);
    expect(stat(h, 0, Stat.WRITE_SLOT_MISSES)).toBe(15 + 2);
    expect(stat(h, 0, Stat.HOST_WRITES)).toBe(5);
  });

  it('slot busy: a write waits SLOT_BUSY while the slot lock is held, and completes once it is released', () => {
    const h = freshSystem();
    const s = h.cache.obtain(1, 0, { value: false });
    h.cache.unpin(s);
    expect(h.cache.tryLockSlot(s)).toBe(true);
    const data = pattern(2 * BLOCK, 61);
    const slot = h.submit(0, HostOp.WRITE, 1, 3, data.byteLength, data);
    h.ca[0]!.step();
    expect(h.ports.isComplete(0, slot)).toBe(false);
    expect(taskRecord(h, 0, 0)).toEqual([TaskState.WAITING, TaskWait.SLOT_BUSY, slot, HostOp.WRITE, 1, 3, 2 * BLOCK, 0, -1, 1]);
    expect(stat(h, 0, Stat.SLOT_BUSY_WAITS)).toBe(1);
    expect(h.cache.pinCount(s)).toBe(0); // the waiting task does not keep its pin
    expect(h.cache.isDirty(s)).toBe(false);
    h.ca[0]!.step();
    expect(taskRecord(h, 0, 0)[T.ATTEMPTS]).toBe(2);
    expect(stat(h, 0, Stat.SLOT_BUSY_WAITS)).toBe(2);
    h.cache.unlockSlot(s);
    h.ca[0]!.step();
    expectGood(caFinish(h, 0, slot));
    expect(Buffer.from(h.mem.cacheBytes.subarray(3 * BLOCK, 5 * BLOCK)).equals(Buffer.from(data))).toBe(true);
    expect(h.mem.slotHeaders[s * SLOT_HEADER_WORDS + W.DIRTY]).toBe(0b11000);
    expect(h.cache.pinCount(s)).toBe(0);
    expect(stat(h, 0, Stat.WRITE_SLOT_HITS)).toBe(1);
    expect(taskRecord(h, 0, 0)[T.STATE]).toBe(TaskState.FREE);
  });

  it('slot busy on a read: waits SLOT_BUSY, then hits', () => {
    const h = freshSystem();
    const data = pattern(BLOCK, 62);
    expectGood(caWrite(h, 0, 2, 0, data));
    expect(h.cache.tryLockSlot(0)).toBe(true);
    const slot = h.submit(0, HostOp.READ, 2, 0, BLOCK);
    h.ca[0]!.step();
    expect(taskRecord(h, 0, 0)).toEqual([TaskState.WAITING, TaskWait.SLOT_BUSY, slot, HostOp.READ, 2, 0, BLOCK, 0, -1, 1]);
    h.cache.unlockSlot(0);
    const r = caFinish(h, 0, slot);
    expectGood(r);
    expect(Buffer.from(r.data).equals(Buffer.from(data))).toBe(true);
    expect(stat(h, 0, Stat.READ_SLOT_HITS)).toBe(1);
  });
});

describe('command reception: power-off', () => {
  it('a command fetched while the system is stopping completes BUSY / NOT_READY / PROCESSOR_STOPPED and does nothing', () => {
    const h = freshSystem();
    const before = snapshot(h);
    requestPowerOff(h.mem);
    const slot = h.submit(0, HostOp.WRITE, 1, 0, BLOCK, pattern(BLOCK, 1));
    h.ca[0]!.step();
    expect(h.ports.isComplete(0, slot)).toBe(true);
    const r = caFinish(h, 0, slot);
    expect([r.status, r.senseKey, r.reason]).toEqual([ScsiStatus.BUSY, SenseKey.NOT_READY, Reason.PROCESSOR_STOPPED]);
    expectUnchanged(h, before);
    expect(stat(h, 0, Stat.HOST_REJECTED)).toBe(0);
    expect(taskRecord(h, 0, 0)[T.STATE]).toBe(TaskState.FREE);
    expect(h.ca[0]!.finished()).toBe(true);
    expect(h.mem.system[SystemWord.CHANNEL_ADAPTERS_FINISHED]).toBe(1);
  });
});
