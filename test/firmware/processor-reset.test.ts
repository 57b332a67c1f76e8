// A processor reset and a power loss, task by task, on freshly formatted shared memory without
// workers: a new processor attaches to the control memory its predecessor left and takes its
// tasks over (ChannelAdapter and DiskAdapter takeOver); a disk adapter cleans a slot only after
// its drive flushed, so a power loss inside a destage loses nothing; power-on frees the locks
// and pins a processor stopped with (recoverAfterPowerLoss). Processors are stepped by hand.

import { describe, expect, it } from 'vitest';
import { attachProcessor, recoverAfterPowerLoss, requestPowerOff } from '../../firmware/boot.ts';
import { SystemWord } from '../../firmware/layout.ts';
import type { ChannelAdapter } from '../../firmware/channel-adapter.ts';
import type { DiskAdapter } from '../../firmware/disk-adapter.ts';
import { Msg } from '../../firmware/messages.ts';
import type { Platform } from '../../firmware/platform.ts';
import { TASK_WORDS, TaskState, TaskWait, TaskWord as T } from '../../firmware/structs/task.ts';
import { DrivePersistence, PowerFailure } from '../../hal/drive-persistence.ts';
import type { Drive } from '../../hal/drive.ts';
import { HostOp, Reason, ScsiStatus } from '../../hal/host-port.ts';
import { MAILBOX_ENTRY_WORDS } from '../../hal/mailbox.ts';
import { MemoryDrive } from '../../hal/memory-drive.ts';
import { freshSystem, pattern, type Harness } from '../support/harness.ts';

const BLOCK = 512;
const DA = 2;

/** The platform a harness processor was built with (its drives and link endpoints). */
const platformOf = (p: ChannelAdapter | DiskAdapter): Platform => (p as unknown as { platform: Platform }).platform;

/** A new processor `id` attached to the harness's memory, as after a reset. */
function restart(h: Harness, id: number, drives?: ReadonlyMap<number, Drive>): ChannelAdapter | DiskAdapter {
  const old = id < h.config.channelAdapters ? h.ca[id]! : h.da[id - h.config.channelAdapters]!;
  const platform = platformOf(old);
  return attachProcessor({
    processorId: id, shared: h.shared, drives: drives ?? platform.drives, links: platform.links, clock: h.clock,
    trace: (line) => h.trace.push(line), singleThreaded: true,
  }) as ChannelAdapter | DiskAdapter;
}

/** Steps the given processors round-robin until the slot completes; returns the result and data. */
function finishOn(h: Harness, processors: Array<{ step(): number }>, port: number, slot: number, rounds = 50): { status: number; reason: number; data: Uint8Array } {
  for (let i = 0; i < rounds && !h.ports.isComplete(port, slot); i++) for (const p of processors) p.step();
  expect(h.ports.isComplete(port, slot)).toBe(true);
  const r = h.ports.result(port, slot);
  const from = h.ports.dataOffset(port, slot);
  const data = h.ports.bytes.slice(from, from + h.ports.byteLength(port, slot));
  h.ports.release(port, slot);
  return { status: r.status, reason: r.reason, data };
}

const hostTask = (h: Harness, ca: number, task: number): number => (ca * h.mem.geometry.tasksPerProcessor + task) * TASK_WORDS;

describe('channel adapter reset: host commands go on from the task table', () => {
  it('a read waiting for its stage when the adapter is reset completes on the new adapter with the drive\'s bytes', () => {
    const h = freshSystem();
    const onDrive = pattern(4 * BLOCK, 31);
    h.driveBytes.get(0)!.set(onDrive, 0); // volume 1 starts at block 0 of drive 0
    const slot = h.submit(0, HostOp.READ, 1, 0, 4 * BLOCK);
    h.ca[0]!.step();
    const t = hostTask(h, 0, 0);
    expect([h.mem.tasks[t + T.STATE], h.mem.tasks[t + T.WAIT]]).toEqual([TaskState.WAITING, TaskWait.STAGE]);
    // The adapter is reset here; its successor finds the command in the task table.
    const ca = restart(h, 0);
    expect(h.trace.at(-1)).toBe('channel adapter 0: took over 1 host commands; 0 journal read responses being built were lost and will be asked for again');
    const r = finishOn(h, [h.da[0]!, ca], 0, slot);
    expect([r.status, r.reason]).toEqual([ScsiStatus.GOOD, Reason.NONE]);
    expect(Buffer.from(r.data).equals(Buffer.from(onDrive))).toBe(true);
    expect(h.mem.tasks[t + T.STATE]).toBe(TaskState.FREE);
    expect(h.cache.pinCount(h.mem.tasks[t + T.CACHE_SLOT]! < 0 ? 0 : h.mem.tasks[t + T.CACHE_SLOT]!)).toBe(0);
  });

  it('an adapter attached to freshly formatted memory takes nothing over and says nothing', () => {
    const h = freshSystem();
    const before = h.trace.length;
    restart(h, 1);
    expect(h.trace.length).toBe(before);
  });
});

describe('disk adapter reset: stage requests its predecessor took are served again', () => {
  it('a STAGE taken from the mailbox and lost with the old adapter is staged by the new one; the read completes', () => {
    const h = freshSystem();
    const onDrive = pattern(2 * BLOCK, 7);
    h.driveBytes.get(0)!.set(onDrive, 8 * BLOCK);
    const slot = h.submit(0, HostOp.READ, 1, 8, 2 * BLOCK);
    h.ca[0]!.step();
    // The old disk adapter pops the request and is reset before it answers.
    const scratch = new Int32Array(MAILBOX_ENTRY_WORDS);
    expect(h.mem.mailboxes[DA]!.tryPop(scratch)).toBe(true);
    expect(scratch[0]).toBe(Msg.STAGE);
    const da = restart(h, DA);
    expect(h.trace.at(-1)).toBe('disk adapter 0: took over 1 stage requests waiting at its start');
    const r = finishOn(h, [da, h.ca[0]!], 0, slot);
    expect([r.status, r.reason]).toEqual([ScsiStatus.GOOD, Reason.NONE]);
    expect(Buffer.from(r.data).equals(Buffer.from(onDrive))).toBe(true);
  });

  it('a second answer to a stage already answered is harmless: the command completes once with the right bytes', () => {
    const h = freshSystem();
    const onDrive = pattern(BLOCK, 9);
    h.driveBytes.get(0)!.set(onDrive, 3 * BLOCK);
    const slot = h.submit(1, HostOp.READ, 1, 3, BLOCK);
    h.ca[1]!.step();
    h.da[0]!.step(); // answers into CA 1's mailbox ...
    const da = restart(h, DA); // ... and the new adapter, not knowing, stages again
    expect(h.trace.at(-1)).toBe('disk adapter 0: took over 1 stage requests waiting at its start');
    const r = finishOn(h, [da, h.ca[1]!], 1, slot);
    expect([r.status, r.reason]).toEqual([ScsiStatus.GOOD, Reason.NONE]);
    expect(Buffer.from(r.data).equals(Buffer.from(onDrive))).toBe(true);
    for (let i = 0; i < 5; i++) { da.step(); h.ca[1]!.step(); }
    expect(h.ports.isComplete(1, slot)).toBe(false); // released, not completed twice
  });
});

describe('destage: a slot is clean only once its drive has flushed', () => {
  /** A disk adapter whose drive 0 has a volatile write cache over the harness's drive bytes. */
  function persistentDa(h: Harness, existing?: SharedArrayBuffer): { da: DiskAdapter; persistence: DrivePersistence; buffer: SharedArrayBuffer } {
    const image = h.driveBytes.get(0)!.buffer as SharedArrayBuffer;
    const blocks = image.byteLength / BLOCK;
    const buffer = existing ?? DrivePersistence.allocate(blocks, image);
    const drives = new Map(platformOf(h.da[0]!).drives);
    const drive = new MemoryDrive(image, blocks, buffer);
    drives.set(0, drive);
    return { da: restart(h, DA, drives) as DiskAdapter, persistence: drive.persistence!, buffer };
  }

  it('a destaged slot stays unevictable (UNFLUSHED) until its drive flushed; a power failure at the flush loses the write on the drive, and power-on destages it again', () => {
    const h = freshSystem();
    const data = pattern(2 * BLOCK, 44);
    const slot = h.submit(0, HostOp.WRITE, 1, 16, data.byteLength, data);
    const r = finishOn(h, [h.ca[0]!], 0, slot);
    expect([r.status, r.reason]).toEqual([ScsiStatus.GOOD, Reason.NONE]);
    expect(h.cache.dirtySlots()).toBe(1);
    const s = h.cache.lookup(1, Math.floor(16 / h.cache.sectorsPerSlot)); // pins it: let go at once
    h.cache.unpin(s);
    const { da, persistence, buffer } = persistentDa(h);
    persistence.armPowerFailure(2); // the write passes, the flush after it fails
    expect(() => da.step()).toThrow(PowerFailure);
    // Written to the drive's volatile cache, not flushed: clean, but UNFLUSHED and so not evictable.
    expect(h.cache.dirtySlots()).toBe(0);
    expect([h.cache.isUnflushed(s), h.cache.isHeld(s), h.cache.discard(s)]).toEqual([true, true, false]);
    expect(Buffer.from(h.driveBytes.get(0)!.subarray(16 * BLOCK, 18 * BLOCK)).equals(Buffer.from(data))).toBe(true);
    expect(persistence.readDurable(16, 2).every((b) => b === 0)).toBe(true);
    const lost = persistence.powerLoss(() => 0.99); // every unflushed block reverts
    expect([lost.unflushedBlocks, lost.revertedOld]).toEqual([2, 2]);
    expect(h.driveBytes.get(0)!.subarray(16 * BLOCK, 18 * BLOCK).every((b) => b === 0)).toBe(true);
    // No lock or pin is held across the flush; the unflushed slot is dirty again.
    expect(recoverAfterPowerLoss(h.mem)).toEqual({ locksFreed: 0, pinsCorrected: 0, slotsRedirtied: 1 });
    expect([h.cache.dirtySlots(), h.cache.isUnflushed(s)]).toEqual([1, false]);
    const { da: after } = persistentDa(h, buffer);
    for (let i = 0; i < 3; i++) after.step();
    expect([h.cache.dirtySlots(), h.cache.isUnflushed(s)]).toEqual([0, false]);
    expect(Buffer.from(persistence.readDurable(16, 2)).equals(Buffer.from(data))).toBe(true);
  });

  it('a disk adapter that replaces a reset one flushes what its predecessor destaged and had not flushed', () => {
    const h = freshSystem();
    const data = pattern(BLOCK, 45);
    const slot = h.submit(0, HostOp.WRITE, 1, 40, BLOCK, data);
    finishOn(h, [h.ca[0]!], 0, slot);
    const s = h.cache.lookup(1, Math.floor(40 / h.cache.sectorsPerSlot)); // pins it: let go at once
    h.cache.unpin(s);
    const { da, persistence, buffer } = persistentDa(h);
    persistence.armPowerFailure(2);
    expect(() => da.step()).toThrow(PowerFailure); // stops at the flush: a reset, not a power loss
    expect(h.cache.isUnflushed(s)).toBe(true);
    const { da: successor } = persistentDa(h, buffer);
    successor.step();
    expect([h.cache.isUnflushed(s), persistence.unflushedBlocks()]).toEqual([false, 0]);
    expect(Buffer.from(persistence.readDurable(40, 1)).equals(Buffer.from(data))).toBe(true);
  });

  it('power-on recovery keeps the pins of tasks waiting for a stage and frees nothing when nothing was held', () => {
    const h = freshSystem();
    const slot = h.submit(0, HostOp.READ, 1, 0, BLOCK);
    h.ca[0]!.step();
    const t = hostTask(h, 0, 0);
    const s = h.mem.tasks[t + T.CACHE_SLOT]!;
    expect(h.cache.pinCount(s)).toBe(1);
    expect(recoverAfterPowerLoss(h.mem)).toEqual({ locksFreed: 0, pinsCorrected: 0, slotsRedirtied: 0 });
    expect(h.cache.pinCount(s)).toBe(1);
    const r = finishOn(h, [h.da[0]!, h.ca[0]!], 0, slot);
    expect(r.status).toBe(ScsiStatus.GOOD);
  });
});

describe('a reset during power-off', () => {
  /** A write completed on channel adapter `ca` alone: dirty in cache. */
  const caWriteOn = (h: Harness, ca: number, volume: number, lba: number, data: Uint8Array): void => {
    expect(finishOn(h, [h.ca[ca]!], ca, h.submit(ca, HostOp.WRITE, volume, lba, data.byteLength, data)).status).toBe(ScsiStatus.GOOD);
  };

  it('a channel adapter reset after it finished is counted once: the disk adapter still waits for the other one', () => {
    const h = freshSystem();
    caWriteOn(h, 0, 1, 0, pattern(BLOCK, 51));
    requestPowerOff(h.mem);
    h.ca[0]!.step();
    expect(h.ca[0]!.finished()).toBe(true);
    expect(h.mem.system[SystemWord.CHANNEL_ADAPTERS_FINISHED]).toBe(1);
    const successor = restart(h, 0);
    successor.step();
    expect(successor.finished()).toBe(true);
    expect(h.mem.system[SystemWord.CHANNEL_ADAPTERS_FINISHED]).toBe(1);
    // Channel adapter 1 has not finished: the disk adapter destages but does not power off.
    for (let i = 0; i < 3; i++) h.da[0]!.step();
    expect([h.cache.dirtySlots(), h.da[0]!.finished()]).toEqual([0, false]);
    h.ca[1]!.step();
    expect(h.mem.system[SystemWord.CHANNEL_ADAPTERS_FINISHED]).toBe(2);
    h.da[0]!.step();
    expect(h.da[0]!.finished()).toBe(true);
  });

  it('a disk adapter reset after it finished counts the undestaged slots of abnormal volumes once', () => {
    const h = freshSystem();
    caWriteOn(h, 0, 2, 0, pattern(BLOCK, 52));
    h.faults.get(0)!.failDrive();
    h.da[0]!.step(); // volume 2 abnormal: its slot stays dirty
    requestPowerOff(h.mem);
    for (const ca of h.ca) ca.step();
    h.da[0]!.step();
    expect([h.da[0]!.finished(), h.mem.system[SystemWord.UNDESTAGED_SLOTS]]).toEqual([true, 1]);
    const successor = restart(h, DA);
    successor.step();
    expect([successor.finished(), h.mem.system[SystemWord.UNDESTAGED_SLOTS]]).toEqual([true, 1]);
  });
});
