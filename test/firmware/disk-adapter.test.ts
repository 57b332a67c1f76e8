// Disk adapter 120 and read/write processing 220: stage on a read miss (only the invalid sectors,
// never over dirty ones), read errors and failed drives, destage of exactly the dirty sectors to
// the volume's place on its drive, write failures, the destage batch limit, deferred work,
// untrusted mailbox messages, and power-off. Processors are stepped by hand.

import { describe, expect, it } from 'vitest';
import { requestPowerOff } from '../../firmware/boot.ts';
import { SystemWord } from '../../firmware/layout.ts';
import { Msg, MsgStatus } from '../../firmware/messages.ts';
import { SLOT_HEADER_WORDS, SlotWord as W } from '../../firmware/structs/cache-slot.ts';
import { STAT_COUNTERS_PER_PROCESSOR, Stat } from '../../firmware/structs/statistics.ts';
import { TASK_WORDS, TaskState, TaskWait, TaskWord as T } from '../../firmware/structs/task.ts';
import { NO_DRIVE, VolumeState } from '../../firmware/structs/volume-info.ts';
import { MAILBOX_ENTRY_WORDS } from '../../hal/mailbox.ts';
import { HostOp, Reason, ScsiStatus, SenseKey, type CommandResult } from '../../hal/host-port.ts';
import { freshSystem, pattern, type Harness } from '../support/harness.ts';

const BLOCK = 512;
const DA = 2; // processor id of the only disk adapter

const stat = (h: Harness, p: number, i: number): number => h.mem.statistics[p * STAT_COUNTERS_PER_PROCESSOR + i]!;
const taskRecord = (h: Harness, ca: number, task: number): number[] => {
  const base = (ca * h.mem.geometry.tasksPerProcessor + task) * TASK_WORDS;
  return Array.from(h.mem.tasks.subarray(base, base + 10));
};
const hdr = (h: Harness, s: number, w: number): number => h.mem.slotHeaders[s * SLOT_HEADER_WORDS + w]! >>> 0;
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

function caFinish(h: Harness, port: number, slot: number, maxSteps = 5): CommandResult & { data: Uint8Array } {
  for (let i = 0; i < maxSteps && !h.ports.isComplete(port, slot); i++) h.ca[port]!.step();
  if (!h.ports.isComplete(port, slot)) throw new Error(`port ${port} slot ${slot} did not complete on its channel adapter alone`);
  const result = h.ports.result(port, slot);
  const from = h.ports.dataOffset(port, slot);
  const data = h.ports.bytes.slice(from, from + Math.min(h.ports.byteLength(port, slot), h.ports.geometry.maxTransferBytes));
  h.ports.release(port, slot);
  return { ...result, data };
}

/** A write that completes on its channel adapter alone: the data is dirty in cache, not on the drive. */
function caWrite(h: Harness, port: number, volume: number, lba: number, data: Uint8Array): void {
  const r = caFinish(h, port, h.submit(port, HostOp.WRITE, volume, lba, data.byteLength, data));
  expect([r.status, r.reason]).toEqual([ScsiStatus.GOOD, Reason.NONE]);
}

const resultOf = (r: CommandResult): number[] => [r.status, r.senseKey, r.reason];
const GOOD = [ScsiStatus.GOOD, SenseKey.NO_SENSE, Reason.NONE];

/** Pops every message of a mailbox (to look at them) and pushes them back in order. */
function peekMailbox(h: Harness, p: number): number[][] {
  const out: number[][] = [];
  const scratch = new Int32Array(MAILBOX_ENTRY_WORDS);
  while (h.mem.mailboxes[p]!.tryPop(scratch)) out.push(Array.from(scratch));
  for (const m of out) expect(h.mem.mailboxes[p]!.tryPush(m[0]!, m[1]!, m[2]!, m[3]!, m[4]!, m[5]!)).toBe(true);
  return out;
}

describe('disk adapter: stage', () => {
  it('a read miss sends one STAGE; the DA reads only the invalid sectors and never overwrites dirty ones', () => {
    const h = freshSystem();
    const drive = h.driveBytes.get(0)!;
    const onDrive = pattern(8 * BLOCK, 1);
    drive.set(onDrive, 0);
    const dirty = pattern(2 * BLOCK, 2);
    caWrite(h, 0, 1, 2, dirty); // sectors 2,3 of slot 0 dirty
    expect(hdr(h, 0, W.DIRTY)).toBe(0b1100);
    expect(hdr(h, 0, W.VALID)).toBe(0b1100);

    const bell = h.da[0]!.doorbell();
    const slot = h.submit(0, HostOp.READ, 1, 0, 8 * BLOCK);
    h.ca[0]!.step();
    expect(h.ports.isComplete(0, slot)).toBe(false);
    expect(taskRecord(h, 0, 0)).toEqual([TaskState.WAITING, TaskWait.STAGE, slot, HostOp.READ, 1, 0, 8 * BLOCK, 0, 0, 0]);
    expect(peekMailbox(h, DA)).toEqual([[Msg.STAGE, 0, 0, 0, 0, 0]]);
    expect(h.da[0]!.doorbell()).not.toBe(bell);
    expect(h.cache.pinCount(0)).toBe(1); // pinned until the DA answers
    expect(stat(h, 0, Stat.READ_SLOT_MISSES)).toBe(1);
    expect(stat(h, 0, Stat.STAGE_REQUESTS)).toBe(1);

    // The channel adapter does not retry a stage wait on its own.
    h.ca[0]!.step();
    expect(h.mem.mailboxes[DA]!.size()).toBe(1);
    expect(stat(h, 0, Stat.STAGE_REQUESTS)).toBe(1);
    expect(stat(h, 0, Stat.READ_SLOT_MISSES)).toBe(1);
    expect(taskRecord(h, 0, 0)[T.WAIT]).toBe(TaskWait.STAGE);
    expect(h.faults.get(0)!.reads).toBe(0);

    h.da[0]!.step();
    expect(h.faults.get(0)!.reads).toBe(2); // runs 0..1 and 4..7
    expect(stat(h, DA, Stat.STAGES)).toBe(1);
    expect(stat(h, DA, Stat.STAGE_BLOCKS)).toBe(6);
    expect(hdr(h, 0, W.VALID)).toBe(0xff);
    const merged = onDrive.slice();
    merged.set(dirty, 2 * BLOCK);
    expect(same(h.mem.cacheBytes.subarray(0, 4096), merged)).toBe(true);
    expect(peekMailbox(h, 0)).toEqual([[Msg.STAGE_DONE, DA, 0, 0, MsgStatus.OK, 0]]);
    expect(h.mem.mailboxes[DA]!.size()).toBe(0);

    h.ca[0]!.step();
    const r = caFinish(h, 0, slot);
    expect(resultOf(r)).toEqual(GOOD);
    expect(same(r.data, merged)).toBe(true);
    expect(stat(h, 0, Stat.READ_SLOT_HITS)).toBe(1);
    expect(stat(h, 0, Stat.HOST_READS)).toBe(1);
    expect(h.cache.pinCount(0)).toBe(0);
    expect(taskRecord(h, 0, 0)[T.STATE]).toBe(TaskState.FREE);
    // The same DA step also destaged the dirty sectors: the drive now holds the merged data.
    expect(same(drive.subarray(0, 4096), merged)).toBe(true);
    expect(stat(h, DA, Stat.DESTAGE_BLOCKS)).toBe(2);
  });

  it('the stage stops at the end of the volume (volume 2: 100 blocks, its last slot has 4 sectors)', () => {
    const h = freshSystem();
    const drive = h.driveBytes.get(0)!;
    drive.set(pattern(8 * BLOCK, 3), (256 + 96) * BLOCK); // blocks 96..103 of volume 2's area and past it
    const r = h.read(0, 2, 96, 4 * BLOCK);
    expect(resultOf(r)).toEqual(GOOD);
    expect(same(r.data, drive.subarray((256 + 96) * BLOCK, (256 + 100) * BLOCK))).toBe(true);
    expect(stat(h, DA, Stat.STAGE_BLOCKS)).toBe(4);
    const s = h.cache.lookup(2, 12);
    expect(hdr(h, s, W.VALID)).toBe(0b1111);
    h.cache.unpin(s);
  });

  it('a read medium error ends the command MEDIUM_ERROR / DRIVE_READ_ERROR; the volume stays normal', () => {
    const h = freshSystem();
    h.driveBytes.get(0)!.set(pattern(8 * BLOCK, 4), 0);
    h.faults.get(0)!.failReads(5, 5);
    const r = h.read(0, 1, 0, BLOCK);
    expect(resultOf(r)).toEqual([ScsiStatus.CHECK_CONDITION, SenseKey.MEDIUM_ERROR, Reason.DRIVE_READ_ERROR]);
    expect(h.mem.volumes.state(1)).toBe(VolumeState.NORMAL);
    expect(stat(h, DA, Stat.DRIVE_ERRORS)).toBe(1);
    expect(stat(h, DA, Stat.STAGES)).toBe(1);
    expect(stat(h, DA, Stat.STAGE_BLOCKS)).toBe(0);
    expect(stat(h, 0, Stat.HOST_REJECTED)).toBe(1);
    expect(h.trace).toEqual([]);
    expect(h.cache.pinCount(0)).toBe(0);
    expect(hdr(h, 0, W.VALID)).toBe(0); // nothing staged
    expect(taskRecord(h, 0, 0)[T.STATE]).toBe(TaskState.FREE);
    expect(taskRecord(h, 0, 0)[T.CACHE_SLOT]).toBe(-1);

    h.faults.get(0)!.heal();
    const again = h.read(0, 1, 0, BLOCK);
    expect(resultOf(again)).toEqual(GOOD);
    expect(same(again.data, pattern(8 * BLOCK, 4).subarray(0, BLOCK))).toBe(true);
  });

  it('a failed drive during a stage ends the command HARDWARE_ERROR / VOLUME_ABNORMAL and makes the volume abnormal', () => {
    const h = freshSystem();
    h.faults.get(0)!.failDrive();
    const r = h.read(1, 1, 16, BLOCK);
    expect(resultOf(r)).toEqual([ScsiStatus.CHECK_CONDITION, SenseKey.HARDWARE_ERROR, Reason.VOLUME_ABNORMAL]);
    expect(h.mem.volumes.state(1)).toBe(VolumeState.ABNORMAL);
    expect(h.mem.volumes.state(2)).toBe(VolumeState.NORMAL); // same drive, but nothing of it was touched
    expect(h.trace).toEqual(['volume 1: normal -> abnormal (drive failed on drive 0)']);
    expect(stat(h, DA, Stat.DRIVE_ERRORS)).toBe(1);
    expect(h.cache.pinCount(0)).toBe(0);
    // Now rejected at S1240 without any stage.
    const again = h.read(1, 1, 16, BLOCK);
    expect(resultOf(again)).toEqual([ScsiStatus.CHECK_CONDITION, SenseKey.HARDWARE_ERROR, Reason.VOLUME_ABNORMAL]);
    expect(stat(h, 1, Stat.STAGE_REQUESTS)).toBe(1);
    expect(h.faults.get(0)!.reads).toBe(1);
    expect(h.trace.length).toBe(1);
  });

  it('a stage request for a slot whose lock is held is deferred and served once the lock is free', () => {
    const h = freshSystem();
    h.driveBytes.get(0)!.set(pattern(8 * BLOCK, 5), 0);
    const slot = h.submit(0, HostOp.READ, 1, 0, BLOCK);
    h.ca[0]!.step();
    expect(h.cache.tryLockSlot(0)).toBe(true);
    h.da[0]!.step();
    expect(stat(h, DA, Stat.STAGES)).toBe(0);
    expect(h.mem.mailboxes[DA]!.size()).toBe(0);
    expect(h.mem.mailboxes[0]!.size()).toBe(0);
    expect(h.da[0]!.idleWaitMs()).toBe(1);
    expect(h.da[0]!.step()).toBe(0); // still locked: deferred again
    expect(stat(h, DA, Stat.STAGES)).toBe(0);
    h.cache.unlockSlot(0);
    expect(h.da[0]!.step()).toBe(1);
    expect(stat(h, DA, Stat.STAGES)).toBe(1);
    expect(stat(h, DA, Stat.STAGE_BLOCKS)).toBe(8);
    const r = caFinish(h, 0, slot);
    expect(resultOf(r)).toEqual(GOOD);
    expect(same(r.data, pattern(8 * BLOCK, 5).subarray(0, BLOCK))).toBe(true);
  });

  it('a reply that finds the channel adapter mailbox full is counted and sent again later', () => {
    const h = freshSystem();
    const slot = h.submit(0, HostOp.READ, 1, 0, BLOCK);
    h.ca[0]!.step();
    for (let i = 0; i < h.config.mailboxCapacity; i++) expect(h.mem.mailboxes[0]!.tryPush(99, 0, 0, 0, 0, 0)).toBe(true);
    h.da[0]!.step();
    expect(stat(h, DA, Stat.STAGES)).toBe(1);
    expect(stat(h, DA, Stat.MAILBOX_FULL)).toBe(1);
    h.ca[0]!.step(); // pops 16 junk messages
    expect(stat(h, 0, Stat.BAD_MESSAGES)).toBe(16);
    expect(h.ports.isComplete(0, slot)).toBe(false);
    h.da[0]!.step(); // resends
    expect(stat(h, DA, Stat.STAGES)).toBe(1);
    expect(peekMailbox(h, 0)).toEqual([[Msg.STAGE_DONE, DA, 0, 0, MsgStatus.OK, 0]]);
    h.ca[0]!.step();
    expect(resultOf(caFinish(h, 0, slot))).toEqual(GOOD);
  });
});

describe('disk adapter: destage', () => {
  it('writes exactly the written bytes at the volume\'s drive offset, clears dirty bits, counts exactly', () => {
    const h = freshSystem();
    const drive = h.driveBytes.get(0)!;
    const background = pattern(drive.byteLength, 77);
    drive.set(background);
    const data = pattern(3 * BLOCK, 8);
    caWrite(h, 0, 2, 10, data); // volume 2 starts at block 256: blocks 266..268 of drive 0
    expect(same(drive, background)).toBe(true);
    h.da[0]!.step();
    const at = (256 + 10) * BLOCK;
    expect(same(drive.subarray(at, at + 3 * BLOCK), data)).toBe(true);
    expect(same(drive.subarray(0, at), background.subarray(0, at))).toBe(true);
    expect(same(drive.subarray(at + 3 * BLOCK), background.subarray(at + 3 * BLOCK))).toBe(true);
    const s = 0;
    expect([h.cache.volumeOf(s), h.cache.slotNumberOf(s)]).toEqual([2, 1]);
    expect(hdr(h, s, W.DIRTY)).toBe(0);
    expect(hdr(h, s, W.VALID)).toBe(0b11100);
    expect(h.cache.dirtySlots()).toBe(0);
    expect(h.cache.pinCount(s)).toBe(0);
    expect(stat(h, DA, Stat.DESTAGES)).toBe(1);
    expect(stat(h, DA, Stat.DESTAGE_BLOCKS)).toBe(3);
    expect(h.faults.get(0)!.writes).toBe(1);
    // Nothing more to do.
    expect(h.da[0]!.step()).toBe(0);
    expect(stat(h, DA, Stat.DESTAGES)).toBe(1);
    expect(h.faults.get(0)!.writes).toBe(1);
  });

  it('destages only the dirty sectors of a slot, one drive write per dirty run', () => {
    const h = freshSystem();
    const drive = h.driveBytes.get(0)!;
    const background = pattern(16 * BLOCK, 78);
    drive.set(background);
    const a = pattern(BLOCK, 9);
    const b = pattern(2 * BLOCK, 10);
    caWrite(h, 0, 1, 1, a);
    caWrite(h, 0, 1, 5, b);
    expect(hdr(h, 0, W.DIRTY)).toBe(0b01100010);
    h.da[0]!.step();
    const expected = background.slice();
    expected.set(a, BLOCK);
    expected.set(b, 5 * BLOCK);
    expect(same(drive.subarray(0, 16 * BLOCK), expected)).toBe(true);
    expect(h.faults.get(0)!.writes).toBe(2);
    expect(stat(h, DA, Stat.DESTAGES)).toBe(1);
    expect(stat(h, DA, Stat.DESTAGE_BLOCKS)).toBe(3);
    expect(hdr(h, 0, W.DIRTY)).toBe(0);
    // Sectors that were never valid in cache stay zero in cache and untouched on the drive.
    expect(h.mem.cacheBytes.subarray(0, BLOCK).every((x) => x === 0)).toBe(true);
  });

  it('a volume without storage keeps nothing: its dirty data is dropped without a drive write', () => {
    const h = freshSystem();
    h.mem.volumes.define(4, 'OPEN', 64, NO_DRIVE, 0, VolumeState.NORMAL);
    caWrite(h, 0, 4, 0, pattern(BLOCK, 11));
    expect(h.cache.dirtySlots()).toBe(1);
    h.da[0]!.step();
    expect(h.cache.dirtySlots()).toBe(0);
    expect(h.faults.get(0)!.writes + h.faults.get(1)!.writes).toBe(0);
    expect(stat(h, DA, Stat.DESTAGES)).toBe(1);
    expect(stat(h, DA, Stat.DESTAGE_BLOCKS)).toBe(0);
  });

  it('a destage write failure makes the volume abnormal; the data stays dirty in cache and is never retried', () => {
    const h = freshSystem();
    const drive = h.driveBytes.get(0)!;
    h.faults.get(0)!.failWrites(0, 1023);
    const data = pattern(4 * BLOCK, 12);
    caWrite(h, 0, 1, 8, data); // slot 0 = volume 1 slot number 1, sectors 0..3
    h.da[0]!.step();
    expect(h.mem.volumes.state(1)).toBe(VolumeState.ABNORMAL);
    expect(h.trace).toEqual(['volume 1: normal -> abnormal (write error on drive 0)']);
    expect(stat(h, DA, Stat.DRIVE_ERRORS)).toBe(1);
    expect(stat(h, DA, Stat.DESTAGES)).toBe(0);
    expect(h.faults.get(0)!.writes).toBe(1);
    expect(h.cache.isDirty(0)).toBe(true);
    expect(hdr(h, 0, W.DIRTY)).toBe(0b1111);
    expect(h.cache.dirtySlots()).toBe(1);
    expect(h.cache.pinCount(0)).toBe(0);
    expect(drive.every((x) => x === 0)).toBe(true);
    // Not retried: the volume is abnormal.
    h.da[0]!.step();
    h.da[0]!.step();
    expect(h.faults.get(0)!.writes).toBe(1);
    expect(stat(h, DA, Stat.DRIVE_ERRORS)).toBe(1);
    expect(h.trace.length).toBe(1);
    // The host is told the volume failed (S1240)...
    const r = h.read(0, 1, 8, 4 * BLOCK);
    expect(resultOf(r)).toEqual([ScsiStatus.CHECK_CONDITION, SenseKey.HARDWARE_ERROR, Reason.VOLUME_ABNORMAL]);
    const w = h.write(0, 1, 8, pattern(BLOCK, 13));
    expect(resultOf(w)).toEqual([ScsiStatus.CHECK_CONDITION, SenseKey.HARDWARE_ERROR, Reason.VOLUME_ABNORMAL]);
    // ...and the acknowledged data is still in the cache slot.
    expect(same(h.mem.cacheBytes.subarray(0, 4 * BLOCK), data)).toBe(true);
    expect(h.cache.isDirty(0)).toBe(true);
  });

  it('a failed drive during destage makes the volume abnormal with a drive-failed trace', () => {
    const h = freshSystem();
    const data = pattern(BLOCK, 17);
    caWrite(h, 0, 2, 0, data);
    h.faults.get(0)!.failDrive();
    h.da[0]!.step();
    expect(h.mem.volumes.state(2)).toBe(VolumeState.ABNORMAL);
    expect(h.mem.volumes.state(1)).toBe(VolumeState.NORMAL);
    expect(h.trace).toEqual(['volume 2: normal -> abnormal (drive failed on drive 0)']);
    expect(stat(h, DA, Stat.DRIVE_ERRORS)).toBe(1);
    expect(h.cache.isDirty(0)).toBe(true);
    expect(same(h.mem.cacheBytes.subarray(0, BLOCK), data)).toBe(true);
    expect(h.driveBytes.get(0)!.every((x) => x === 0)).toBe(true);
  });

  it('a failed flush makes dirty again and fails only the volumes of the drive that failed it; the other drive\'s slots are let go', () => {
    const h = freshSystem();
    h.mem.volumes.setState(3, VolumeState.NORMAL); // volume 3 lives on drive 1
    const a = pattern(2 * BLOCK, 21);
    const b = pattern(BLOCK, 22);
    caWrite(h, 0, 1, 0, a); // slot 0: volume 1 (drive 0), sectors 0,1
    caWrite(h, 0, 3, 8, b); // slot 1: volume 3 (drive 1), sector 0
    h.faults.get(0)!.failNextFlushes(1);
    expect(h.da[0]!.step()).toBe(2);
    expect(h.trace).toEqual(['volume 1: normal -> abnormal (flush failed on drive 0)']);
    expect([h.mem.volumes.state(1), h.mem.volumes.state(2), h.mem.volumes.state(3)]).toEqual([VolumeState.ABNORMAL, VolumeState.NORMAL, VolumeState.NORMAL]);
    // Drive 0 may have lost the write: the slot is dirty again, every valid sector of it.
    expect([h.cache.isDirty(0), h.cache.isUnflushed(0), hdr(h, 0, W.DIRTY)]).toEqual([true, false, 0b11]);
    // Drive 1 flushed: its slot is clean and evictable.
    expect([h.cache.isDirty(1), h.cache.isUnflushed(1), h.cache.isHeld(1)]).toEqual([false, false, false]);
    expect(h.cache.dirtySlots()).toBe(1);
    expect([stat(h, DA, Stat.DESTAGES), stat(h, DA, Stat.DRIVE_FLUSHES), stat(h, DA, Stat.DRIVE_ERRORS)]).toEqual([2, 1, 1]);
    // The abnormal volume's data stays in cache; nothing is written again.
    const writes = h.faults.get(0)!.writes;
    expect(h.da[0]!.step()).toBe(0);
    expect(h.faults.get(0)!.writes).toBe(writes);
    expect(same(h.mem.cacheBytes.subarray(0, 2 * BLOCK), a)).toBe(true);
    expect(resultOf(h.read(0, 3, 8, BLOCK))).toEqual(GOOD);
    expect(resultOf(h.read(0, 1, 0, BLOCK))).toEqual([ScsiStatus.CHECK_CONDITION, SenseKey.HARDWARE_ERROR, Reason.VOLUME_ABNORMAL]);
  });

  it('a slot whose flush failed while a channel adapter held its lock stays UNFLUSHED until the lock is free, then becomes dirty', () => {
    const h = freshSystem({ destageBatchSlots: 2 }); // a quarter of the 16-slot share: flush at 4 pending
    caWrite(h, 0, 1, 0, pattern(32 * BLOCK, 23)); // slots 0..3 of volume 1
    caWrite(h, 0, 1, 32, pattern(8 * BLOCK, 24)); // slot 4
    expect(h.da[0]!.step()).toBe(2); // slots 0, 1 written, not flushed yet
    expect([h.cache.isUnflushed(0), h.cache.isUnflushed(1), stat(h, DA, Stat.DRIVE_FLUSHES)]).toEqual([true, true, 0]);
    expect(h.cache.tryLockSlot(0)).toBe(true); // as a channel adapter in the middle of a write
    h.faults.get(0)!.failNextFlushes(1);
    expect(h.da[0]!.step()).toBe(2); // slots 2, 3: four pending, the flush fails
    expect(h.mem.volumes.state(1)).toBe(VolumeState.ABNORMAL);
    expect([h.cache.isDirty(0), h.cache.isUnflushed(0), h.cache.isHeld(0)]).toEqual([false, true, true]);
    for (const s of [1, 2, 3]) expect([h.cache.isDirty(s), h.cache.isUnflushed(s)]).toEqual([true, false]);
    expect(h.da[0]!.idleWaitMs()).toBe(1);
    h.da[0]!.step();
    expect(h.cache.isUnflushed(0)).toBe(true); // still locked
    h.cache.unlockSlot(0);
    h.da[0]!.step();
    expect([h.cache.isDirty(0), h.cache.isUnflushed(0), hdr(h, 0, W.DIRTY)]).toEqual([true, false, 0xff]);
    expect(h.cache.dirtySlots()).toBe(5);
    expect(h.da[0]!.idleWaitMs()).toBe(20);
  });

  it('destages at most destageBatchSlots (4) slots per step', () => {
    const h = freshSystem();
    caWrite(h, 0, 1, 0, pattern(16 * 1024, 14));
    caWrite(h, 0, 1, 32, pattern(16 * 1024, 15));
    caWrite(h, 0, 1, 64, pattern(8 * 1024, 16));
    expect(h.cache.dirtySlots()).toBe(10);
    const dirtySet = (): number[] => Array.from({ length: 16 }, (_, s) => s).filter((s) => h.cache.isDirty(s));
    expect(h.da[0]!.step()).toBe(4);
    expect(dirtySet()).toEqual([4, 5, 6, 7, 8, 9]);
    expect(stat(h, DA, Stat.DESTAGES)).toBe(4);
    expect(stat(h, DA, Stat.DESTAGE_BLOCKS)).toBe(32);
    expect(h.da[0]!.idleWaitMs()).toBe(1); // more dirty slots in its share
    expect(h.da[0]!.step()).toBe(4);
    expect(dirtySet()).toEqual([8, 9]);
    expect(h.da[0]!.step()).toBe(2);
    expect(dirtySet()).toEqual([]);
    expect(h.da[0]!.step()).toBe(0);
    expect(stat(h, DA, Stat.DESTAGES)).toBe(10);
    expect(stat(h, DA, Stat.DESTAGE_BLOCKS)).toBe(80);
    expect(h.faults.get(0)!.writes).toBe(10);
    expect(h.da[0]!.idleWaitMs()).toBe(20);
    const drive = h.driveBytes.get(0)!;
    expect(same(drive.subarray(0, 16 * 1024), pattern(16 * 1024, 14))).toBe(true);
    expect(same(drive.subarray(16 * 1024, 32 * 1024), pattern(16 * 1024, 15))).toBe(true);
    expect(same(drive.subarray(32 * 1024, 40 * 1024), pattern(8 * 1024, 16))).toBe(true);
  });
});

describe('disk adapter: untrusted messages', () => {
  const bad: Array<[string, number[]]> = [
    ['unknown kind 77', [77, 0, 0, 0, 0, 0]],
    ['STAGE from a processor that is not a channel adapter', [Msg.STAGE, DA, 0, 3, 0, 0]],
    ['STAGE from processor -1', [Msg.STAGE, -1, 0, 3, 0, 0]],
    ['STAGE of slot 16 (out of range)', [Msg.STAGE, 0, 0, 16, 0, 0]],
    ['STAGE of slot -1', [Msg.STAGE, 0, 0, -1, 0, 0]],
    ['STAGE of an unpinned slot', [Msg.STAGE, 0, 0, 3, 0, 0]],
    ['STAGE_DONE sent to a disk adapter', [Msg.STAGE_DONE, 0, 0, 3, 0, 0]],
  ];
  it.each(bad)('%s is counted in bad_messages and changes nothing else', (_name, m) => {
    const h = freshSystem();
    // Slot 3 caches volume 1 slot 5, clean and unpinned; slot 0 dirty, made clean by a first step.
    for (let n = 0; n < 4; n++) h.cache.obtain(1, n === 3 ? 5 : 20 + n, { value: false });
    for (let s = 0; s < 4; s++) h.cache.unpin(s);
    const before = {
      stats: Array.from(h.mem.statistics),
      headers: Array.from(h.mem.slotHeaders),
      control: Array.from(h.mem.cacheControl),
      cache: Buffer.from(h.mem.cacheBytes),
      drive0: Buffer.from(h.driveBytes.get(0)!),
      reads: h.faults.get(0)!.reads,
    };
    expect(h.mem.mailboxes[DA]!.tryPush(m[0]!, m[1]!, m[2]!, m[3]!, m[4]!, m[5]!)).toBe(true);
    expect(h.da[0]!.step()).toBe(1);
    expect(stat(h, DA, Stat.BAD_MESSAGES)).toBe(1);
    const stats = Array.from(h.mem.statistics);
    stats[DA * STAT_COUNTERS_PER_PROCESSOR + Stat.BAD_MESSAGES] = 0;
    stats[DA * STAT_COUNTERS_PER_PROCESSOR + Stat.LOOP_ITERATIONS] = 0;
    expect(stats).toEqual(before.stats);
    expect(Array.from(h.mem.slotHeaders)).toEqual(before.headers);
    expect(Array.from(h.mem.cacheControl)).toEqual(before.control);
    expect(Buffer.from(h.mem.cacheBytes).equals(before.cache)).toBe(true);
    expect(Buffer.from(h.driveBytes.get(0)!).equals(before.drive0)).toBe(true);
    expect(h.faults.get(0)!.reads).toBe(before.reads);
    for (let p = 0; p < 3; p++) expect(h.mem.mailboxes[p]!.size()).toBe(0); // no reply to anyone
    expect(h.trace).toEqual([]);
  });

  it('a channel adapter counts a STAGE_DONE that no task waits for, and a waiting task ignores one for another slot', () => {
    const h = freshSystem();
    h.mem.mailboxes[0]!.tryPush(Msg.STAGE_DONE, DA, 0, 0, MsgStatus.OK, 0); // task 0 is free
    h.mem.mailboxes[0]!.tryPush(Msg.STAGE_DONE, DA, 9, 0, MsgStatus.OK, 0); // no task 9
    h.mem.mailboxes[0]!.tryPush(Msg.STAGE, DA, 0, 0, MsgStatus.OK, 0); // wrong kind
    h.ca[0]!.step();
    expect(stat(h, 0, Stat.BAD_MESSAGES)).toBe(3);
    const slot = h.submit(0, HostOp.READ, 1, 0, BLOCK);
    h.ca[0]!.step();
    expect(taskRecord(h, 0, 0)[T.WAIT]).toBe(TaskWait.STAGE);
    h.mem.mailboxes[0]!.tryPush(Msg.STAGE_DONE, DA, 0, 5, MsgStatus.OK, 0); // not the slot it waits for
    h.ca[0]!.step();
    expect(stat(h, 0, Stat.BAD_MESSAGES)).toBe(4);
    expect(taskRecord(h, 0, 0)).toEqual([TaskState.WAITING, TaskWait.STAGE, slot, HostOp.READ, 1, 0, BLOCK, 0, 0, 0]);
    expect(h.cache.pinCount(0)).toBe(1);
    h.da[0]!.step();
    h.ca[0]!.step();
    expect(resultOf(caFinish(h, 0, slot))).toEqual(GOOD);
  });
});

describe('disk adapter: power-off', () => {
  it('destages everything, flushes, and every processor finishes with nothing left undestaged', () => {
    const h = freshSystem();
    const drive = h.driveBytes.get(0)!;
    const writes: Array<[number, number, Uint8Array]> = [
      [1, 0, pattern(16 * 1024, 21)],
      [1, 100, pattern(8 * 1024, 22)],
      [2, 3, pattern(3 * BLOCK, 23)],
      [2, 96, pattern(4 * BLOCK, 24)],
      [1, 255, pattern(BLOCK, 25)],
    ];
    for (const [v, lba, d] of writes) caWrite(h, 0, v, lba, d);
    expect(h.cache.dirtySlots()).toBe(10); // 4 + 3 + 1 + 1 + 1
    expect(drive.every((x) => x === 0)).toBe(true);
    requestPowerOff(h.mem);
    let rounds = 0;
    while (rounds < 20 && ![...h.ca, ...h.da].every((p) => p.finished())) {
      h.round();
      rounds++;
    }
    expect(h.ca.map((p) => p.finished())).toEqual([true, true]);
    expect(h.da.map((p) => p.finished())).toEqual([true]);
    expect(rounds).toBe(4); // 10 dirty slots at 4 per step, then one idle step
    expect(h.cache.dirtySlots()).toBe(0);
    expect(h.mem.system[SystemWord.UNDESTAGED_SLOTS]).toBe(0);
    expect(h.mem.system[SystemWord.CHANNEL_ADAPTERS_FINISHED]).toBe(2);
    for (const [v, lba, d] of writes) {
      const at = (h.mem.volumes.driveStartBlock(v) + lba) * BLOCK;
      expect(same(drive.subarray(at, at + d.byteLength), d)).toBe(true);
    }
    expect(stat(h, DA, Stat.DESTAGES)).toBe(10);
    expect(h.trace).toEqual([]);
  });

  // Regression: a STAGE_DONE with an error status completes the command inside onMessage();
  // the channel adapter must count that task as ended, or it never finishes at power-off.
  it('a channel adapter that ended a command on a stage error still finishes at power-off', () => {
    const h = freshSystem();
    h.faults.get(0)!.failReads(0, 0);
    const r = h.read(0, 1, 0, BLOCK);
    expect(resultOf(r)).toEqual([ScsiStatus.CHECK_CONDITION, SenseKey.MEDIUM_ERROR, Reason.DRIVE_READ_ERROR]);
    caWrite(h, 1, 2, 0, pattern(BLOCK, 33));
    requestPowerOff(h.mem);
    for (let i = 0; i < 20; i++) h.round();
    expect(h.ca.map((p) => p.finished())).toEqual([true, true]);
    expect(h.da[0]!.finished()).toBe(true);
    expect(h.mem.system[SystemWord.CHANNEL_ADAPTERS_FINISHED]).toBe(2);
  });

  it('the other channel adapter, which saw no stage error, finishes (control for the test above)', () => {
    const h = freshSystem();
    h.faults.get(0)!.failReads(0, 0);
    const r = h.read(0, 1, 0, BLOCK);
    expect(resultOf(r)).toEqual([ScsiStatus.CHECK_CONDITION, SenseKey.MEDIUM_ERROR, Reason.DRIVE_READ_ERROR]);
    requestPowerOff(h.mem);
    for (let i = 0; i < 20; i++) h.round();
    expect(h.ca[1]!.finished()).toBe(true);
  });

  it('dirty slots of an abnormal volume are counted as undestaged at power-off', () => {
    const h = freshSystem();
    h.faults.get(0)!.failWrites(0, 255); // volume 1's area only
    caWrite(h, 0, 1, 0, pattern(8 * 1024, 31)); // slots 0, 1
    caWrite(h, 0, 2, 0, pattern(BLOCK, 32)); // slot 2
    requestPowerOff(h.mem);
    for (let i = 0; i < 20 && !h.da[0]!.finished(); i++) h.round();
    expect(h.da[0]!.finished()).toBe(true);
    expect(h.mem.volumes.state(1)).toBe(VolumeState.ABNORMAL);
    expect(h.mem.volumes.state(2)).toBe(VolumeState.NORMAL);
    expect(h.mem.system[SystemWord.UNDESTAGED_SLOTS]).toBe(2);
    expect(h.cache.dirtySlots()).toBe(2);
    expect(same(h.driveBytes.get(0)!.subarray(256 * BLOCK, 257 * BLOCK), pattern(BLOCK, 32))).toBe(true);
    expect(h.trace).toEqual([
      'volume 1: normal -> abnormal (write error on drive 0)',
      'disk adapter 0: 2 dirty slots of abnormal volumes stay in cache at power-off',
    ]);
  });
});
