// Maintenance port: volume definition and deletion (every rejection, with its reason, changes
// nothing), control-block reads of every kind, statistics totals and lock summaries.

import { describe, expect, it } from 'vitest';
import { requestPowerOff } from '../../firmware/boot.ts';
import type { MaintResult } from '../../firmware/maintenance.ts';
import { PairFlag } from '../../firmware/structs/pair-info.ts';
import { STAT_COUNTERS_PER_PROCESSOR, STAT_NAMES, Stat } from '../../firmware/structs/statistics.ts';
import { TASK_WORDS, TaskKind, TaskState, TaskWait, TaskWord } from '../../firmware/structs/task.ts';
import { VOLUME_FLAG_JOURNAL, VolumeState } from '../../firmware/structs/volume-info.ts';
import { HostOp, Reason, ScsiStatus, SenseKey } from '../../hal/host-port.ts';
import { freshSystem, pattern, type Harness } from '../support/harness.ts';

const BLOCK = 512;

function volumeBytes(h: Harness): Buffer {
  return Buffer.from(new Uint8Array(h.mem.controlBuffer, h.mem.volumes.byteOffset, h.mem.volumes.count * 64));
}

interface State { volumes: Buffer; headers: number[]; directory: number[]; control: number[] }
const stateOf = (h: Harness): State => ({
  volumes: volumeBytes(h),
  headers: Array.from(h.mem.slotHeaders),
  directory: Array.from(h.mem.directory),
  control: Array.from(h.mem.cacheControl),
});
function expectSame(h: Harness, before: State): void {
  const after = stateOf(h);
  expect(after.volumes.equals(before.volumes)).toBe(true);
  expect(after.headers).toEqual(before.headers);
  expect(after.directory).toEqual(before.directory);
  expect(after.control).toEqual(before.control);
}

/**
 * Index of task `task` of processor `processor` among all task records (what readControlBlock
 * takes): each processor has geometry.tasksPerProcessor records, host-command tasks first.
 */
const taskIndex = (h: Harness, processor: number, task: number): number => processor * h.mem.geometry.tasksPerProcessor + task;
/** Word index of that task record in mem.tasks. */
const taskWord = (h: Harness, processor: number, task: number): number => taskIndex(h, processor, task) * TASK_WORDS;

function expectRejected(r: MaintResult<unknown>, reason: string): void {
  expect(r.status).toBe('rejected');
  expect(r.reason).toContain(reason);
  expect(r.data).toBeUndefined();
}

/** A write completed on the channel adapter alone: dirty in cache. */
function caWrite(h: Harness, port: number, volume: number, lba: number, data: Uint8Array): void {
  const slot = h.submit(port, HostOp.WRITE, volume, lba, data.byteLength, data);
  for (let i = 0; i < 5 && !h.ports.isComplete(port, slot); i++) h.ca[port]!.step();
  expect(h.ports.result(port, slot).status).toBe(ScsiStatus.GOOD);
  h.ports.release(port, slot);
}

/**
 * Volume 2's slot 0 clean in cache (written and destaged), its slot lock held, and a write to it
 * on port 1 waiting SLOT_BUSY: a command in progress that pins nothing.
 */
function waitingWriteToVolume2(h: Harness): void {
  expect(h.write(0, 2, 0, pattern(BLOCK, 57)).status).toBe(ScsiStatus.GOOD);
  const s = h.cache.lookup(2, 0);
  h.cache.unpin(s);
  expect(h.cache.tryLockSlot(s)).toBe(true);
  const slot = h.submit(1, HostOp.WRITE, 2, 0, BLOCK, pattern(BLOCK, 58));
  h.ca[1]!.step();
  expect(h.ports.isComplete(1, slot)).toBe(false);
  expect(h.cache.pinCount(s)).toBe(0);
}

describe('maintenance: defineVolume', () => {
  it('defines a normal volume on free space; the host can use it at once and it lands on its drive', () => {
    const h = freshSystem();
    const r = h.maintenance.defineVolume({ number: 4, capacityBlocks: 100, drive: 1, startBlock: 256, format: 'OPEN9' });
    expect(r).toEqual({
      status: 'ok', reason: 'ok',
      data: { number: 4, state: 'normal', format: 'OPEN9', capacityBlocks: 100, capacityBytes: 51200, pairNumber: 0, drive: 1, driveStartBlock: 256, journal: false },
    });
    expect(h.maintenance.readControlBlock('volume', 4).data).toEqual({
      number: 4, state: VolumeState.NORMAL, flags: 0, format: 'OPEN9', capacity_blocks: 100, pair_number: 0, drive_number: 1, drive_start_block: 256, group_number: 0, generation: 1, mirror_number: 0,
    });
    const w = h.write(0, 4, 99, pattern(BLOCK, 1));
    expect(w.status).toBe(ScsiStatus.GOOD);
    expect(Buffer.from(h.driveBytes.get(1)!.subarray((256 + 99) * BLOCK, (256 + 100) * BLOCK)).equals(Buffer.from(pattern(BLOCK, 1)))).toBe(true);
    const past = h.write(0, 4, 100, pattern(BLOCK, 2));
    expect([past.status, past.reason]).toEqual([ScsiStatus.CHECK_CONDITION, Reason.LBA_OUT_OF_RANGE]);
    // The maintenance lock was taken once and released.
    expect(h.maintenance.readControlBlock('lock', h.mem.lockMap.maintenance).data).toEqual({ locked: 0, owner: -1, acquisitions: 1, contended: 0, spins: 0, sleeps: 0 });
  });

  it('format defaults to OPEN; a volume may end exactly at the drive end and start right after another', () => {
    const h = freshSystem();
    const r = h.maintenance.defineVolume({ number: 5, capacityBlocks: 1024 - 356, drive: 0, startBlock: 356 });
    expect(r.status).toBe('ok');
    expect(r.data?.format).toBe('OPEN');
    expect(r.data?.capacityBlocks).toBe(668);
  });

  it('redefining an unused volume drops its clean cache slots so stale data is never read', () => {
    const h = freshSystem();
    const s = h.cache.obtain(3, 0, { value: false });
    h.cache.markValid(s, 0, 8);
    h.cache.unpin(s);
    expect(h.cache.usedSlots()).toBe(1);
    const r = h.maintenance.defineVolume({ number: 3, capacityBlocks: 64, drive: 1, startBlock: 0 });
    expect(r.status).toBe('ok');
    expect(h.cache.usedSlots()).toBe(0);
    expect(h.cache.lookup(3, 0)).toBe(-1);
    expect(h.mem.volumes.state(3)).toBe(VolumeState.NORMAL);
    expect(h.mem.volumes.capacityBlocks(3)).toBe(64);
  });

  type Spec = Parameters<Harness['maintenance']['defineVolume']>[0];
  const rejections: Array<[string, Spec, string, ((h: Harness) => void)?]> = [
    ['volume 0', { number: 0, capacityBlocks: 10, drive: 1, startBlock: 512 }, 'volume 0 is outside 1..64'],
    ['volume 65', { number: 65, capacityBlocks: 10, drive: 1, startBlock: 512 }, 'volume 65 is outside 1..64'],
    ['volume 1.5', { number: 1.5, capacityBlocks: 10, drive: 1, startBlock: 512 }, 'volume 1.5 is outside 1..64'],
    ['capacity 0', { number: 4, capacityBlocks: 0, drive: 1, startBlock: 512 }, 'capacity 0 blocks must be an integer 1..2^31-1'],
    ['capacity 1.5', { number: 4, capacityBlocks: 1.5, drive: 1, startBlock: 512 }, 'capacity 1.5 blocks must be an integer 1..2^31-1'],
    ['capacity 2^31', { number: 4, capacityBlocks: 2 ** 31, drive: 1, startBlock: 512 }, 'capacity 2147483648 blocks must be an integer 1..2^31-1'],
    ['format of 9 characters', { number: 4, capacityBlocks: 10, drive: 1, startBlock: 512, format: 'OPEN-VVVV' }, "format 'OPEN-VVVV' must be printable ASCII of at most 8 characters"],
    ['format not ASCII', { number: 4, capacityBlocks: 10, drive: 1, startBlock: 512, format: 'OPÉN' }, "format 'OPÉN' must be printable ASCII of at most 8 characters"],
    ['drive 7', { number: 4, capacityBlocks: 10, drive: 7, startBlock: 0 }, 'drive 7 does not exist'],
    ['start -1', { number: 4, capacityBlocks: 10, drive: 1, startBlock: -1 }, 'blocks -1..8 do not fit on drive 1 of 1024 blocks'],
    ['start 0.5', { number: 4, capacityBlocks: 10, drive: 1, startBlock: 0.5 }, 'blocks 0.5..9.5 do not fit on drive 1 of 1024 blocks'],
    ['past the drive end by one block', { number: 4, capacityBlocks: 10, drive: 1, startBlock: 1015 }, 'blocks 1015..1024 do not fit on drive 1 of 1024 blocks'],
    ['volume 1 already defined', { number: 1, capacityBlocks: 10, drive: 1, startBlock: 512 }, 'volume 1 is already defined and normal'],
    ['an abnormal volume', { number: 2, capacityBlocks: 10, drive: 1, startBlock: 512 }, 'volume 2 is already defined and abnormal',
      (h) => h.mem.volumes.setState(2, VolumeState.ABNORMAL)],
    ['a secondary volume', { number: 2, capacityBlocks: 10, drive: 1, startBlock: 512 }, 'volume 2 is already defined and secondary',
      (h) => h.mem.volumes.setState(2, VolumeState.SECONDARY)],
    ['overlap with the end of volume 1', { number: 4, capacityBlocks: 10, drive: 0, startBlock: 250 }, 'blocks overlap volume 1 on drive 0'],
    ['overlap with the last block of volume 2', { number: 4, capacityBlocks: 1, drive: 0, startBlock: 355 }, 'blocks overlap volume 2 on drive 0'],
    ['overlap with unused volume 3', { number: 4, capacityBlocks: 10, drive: 1, startBlock: 100 }, 'blocks overlap volume 3 on drive 1'],
    ['dirty data of the volume still in cache', { number: 3, capacityBlocks: 10, drive: 1, startBlock: 0 }, 'volume 3 still has dirty data in cache',
      (h) => {
        const s = h.cache.obtain(3, 1, { value: false });
        h.cache.markDirty(s, 0, 1);
        h.cache.unpin(s);
      }],
    ['unused volume 3 with a pinned clean slot', { number: 3, capacityBlocks: 10, drive: 1, startBlock: 0 }, 'volume 3 has commands in progress; retry when they have completed',
      (h) => {
        const s = h.cache.obtain(3, 1, { value: false });
        h.cache.markValid(s, 0, 8); // clean, but pinned
      }],
    ['volume 2 made unused under a waiting write, its clean slot still cached', { number: 2, capacityBlocks: 10, drive: 1, startBlock: 512 },
      'volume 2 has commands in progress; retry when they have completed',
      (h) => {
        waitingWriteToVolume2(h);
        h.mem.volumes.setState(2, VolumeState.UNUSED);
      }],
  ];
  it.each(rejections)('rejects %s with its reason and changes nothing', (_name, spec, reason, prepare) => {
    const h = freshSystem();
    prepare?.(h);
    const before = stateOf(h);
    expectRejected(h.maintenance.defineVolume(spec), reason);
    expectSame(h, before);
  });
});

describe('maintenance: deleteVolume', () => {
  it('takes a normal volume out of use once its data is destaged, dropping its clean slots', () => {
    const h = freshSystem();
    expect(h.write(0, 2, 0, pattern(2 * 4096, 3)).status).toBe(ScsiStatus.GOOD);
    expect(h.cache.usedSlots()).toBe(2);
    expect(h.cache.dirtySlots()).toBe(0);
    expect(h.maintenance.deleteVolume(2)).toEqual({ status: 'ok', reason: 'ok' });
    expect(h.cache.usedSlots()).toBe(0);
    expect(h.maintenance.readControlBlock('volume', 2).data).toEqual({
      number: 2, state: VolumeState.UNUSED, flags: 0, format: 'OPEN3', capacity_blocks: 100, pair_number: 0, drive_number: 0, drive_start_block: 256, group_number: 0, generation: 2, mirror_number: 0,
    });
    expect(h.maintenance.volume(2).data?.state).toBe('unused');
    const w = h.write(0, 2, 0, pattern(BLOCK, 4));
    expect([w.status, w.senseKey, w.reason]).toEqual([ScsiStatus.CHECK_CONDITION, SenseKey.ILLEGAL_REQUEST, Reason.VOLUME_UNUSED]);
    // And it can be defined again.
    expect(h.maintenance.defineVolume({ number: 2, capacityBlocks: 50, drive: 0, startBlock: 256 }).status).toBe('ok');
    expect(h.mem.volumes.generation(2)).toBe(3);
  });

  it('an abnormal volume with no dirty data can be deleted', () => {
    const h = freshSystem();
    h.mem.volumes.setState(1, VolumeState.ABNORMAL);
    expect(h.maintenance.deleteVolume(1).status).toBe('ok');
    expect(h.mem.volumes.state(1)).toBe(VolumeState.UNUSED);
  });

  const rejections: Array<[string, number, string, ((h: Harness) => void)?]> = [
    ['volume 0', 0, 'volume 0 is not defined'],
    ['volume 65', 65, 'volume 65 is not defined'],
    ['volume 9 (never defined)', 9, 'volume 9 is not defined'],
    ['unused volume 3', 3, 'volume 3 is already unused'],
    ['a primary volume', 2, 'volume 2 is a primary volume of pair 5; delete the pair first', (h) => {
      h.mem.volumes.setState(2, VolumeState.PRIMARY);
      h.mem.volumes.setPairNumber(2, 5);
    }],
    ['a secondary volume', 2, 'volume 2 is a secondary volume of pair 6; delete the pair first', (h) => {
      h.mem.volumes.setState(2, VolumeState.SECONDARY);
      h.mem.volumes.setPairNumber(2, 6);
    }],
    ['a journal volume', 2, 'volume 2 is the journal volume of group 3', (h) => {
      h.mem.volumes.setFlags(2, VOLUME_FLAG_JOURNAL);
      h.mem.volumes.setGroupNumber(2, 3);
    }],
    ['a volume with dirty data', 2, 'volume 2 has dirty data in cache not yet destaged; retry after destage', (h) => caWrite(h, 0, 2, 40, pattern(BLOCK, 5))],
    ['a volume with a slot in use', 2, 'volume 2 has commands in progress; retry when they have completed', (h) => {
      const s = h.cache.obtain(2, 3, { value: false });
      h.cache.markValid(s, 0, 8); // clean, but pinned
    }],
    ['a volume with a write waiting (nothing pinned, a clean slot cached)', 2, 'volume 2 has commands in progress; retry when they have completed', waitingWriteToVolume2],
  ];
  it.each(rejections)('rejects %s with its reason and changes nothing', (_name, volume, reason, prepare) => {
    const h = freshSystem();
    prepare?.(h);
    const before = stateOf(h);
    const lockBefore = h.mem.locks.statsObject(h.mem.lockMap.maintenance).acquisitions;
    expectRejected(h.maintenance.deleteVolume(volume), reason);
    expectSame(h, before);
    expect(h.mem.locks.isLocked(h.mem.lockMap.maintenance)).toBe(false);
    // An undefined number is refused before the maintenance lock; the others under it.
    const undefinedNumber = h.mem.volumes.exists(volume) ? h.mem.volumes.number(volume) === 0 : true;
    expect(h.mem.locks.statsObject(h.mem.lockMap.maintenance).acquisitions).toBe(lockBefore + (undefinedNumber ? 0 : 1));
  });
});

describe('maintenance: volume deletion and commands in flight', () => {
  // deleteVolume and defineVolume scan every task record (and the volume's pinned slots) under
  // the maintenance lock, before anything is dropped from the cache: a command that was
  // validated against the volume and is still waiting (CACHE_FULL, SLOT_BUSY) holds no pin, but
  // its task record targets the volume, so the delete is refused and the command completes on
  // the definition it was validated against.
  it('a write accepted for a volume that is then deleted and redefined never lands on the new definition', () => {
    const h = freshSystem();
    const fills: number[] = [];
    for (let i = 0; i < 4; i++) fills.push(h.submit(0, HostOp.WRITE, 1, i * 32, 16 * 1024, pattern(16 * 1024, 40 + i)));
    h.ca[0]!.step(); // every cache slot dirty
    for (const s of fills) h.ports.release(0, s);
    const data = pattern(BLOCK, 49);
    const slot = h.submit(1, HostOp.WRITE, 2, 0, BLOCK, data);
    h.ca[1]!.step();
    expect(h.ports.isComplete(1, slot)).toBe(false); // waiting CACHE_FULL, validated against volume 2 on drive 0
    expect(h.maintenance.readControlBlock('task', taskIndex(h, 1, 0)).data).toMatchObject({
      state: TaskState.WAITING, wait: TaskWait.CACHE_FULL, port_slot: slot, volume: 2, cache_slot: -1, generation: 1,
    });
    const before = stateOf(h);
    // The firmware refuses the delete while the write is in progress (so there is nothing to redefine).
    expect(h.maintenance.deleteVolume(2)).toEqual({ status: 'rejected', reason: 'volume 2 has commands in progress; retry when they have completed' });
    expectSame(h, before);
    expect(h.mem.volumes.generation(2)).toBe(1);
    for (let i = 0; i < 10; i++) h.round();
    expect(h.ports.isComplete(1, slot)).toBe(true);
    const r = h.ports.result(1, slot);
    expect([r.status, r.senseKey, r.reason]).toEqual([ScsiStatus.GOOD, SenseKey.NO_SENSE, Reason.NONE]);
    h.ports.release(1, slot);
    expect(h.cache.dirtySlots()).toBe(0);
    // The write landed on the volume the host wrote to (drive 0 @256) ...
    expect(Buffer.from(h.driveBytes.get(0)!.subarray(256 * BLOCK, 257 * BLOCK)).equals(Buffer.from(data))).toBe(true);
    // ... and once it has completed the delete goes through; the new volume 2 (drive 1 @512)
    // never receives data the host wrote to the old one.
    expect(h.maintenance.deleteVolume(2)).toEqual({ status: 'ok', reason: 'ok' });
    expect(h.maintenance.defineVolume({ number: 2, capacityBlocks: 100, drive: 1, startBlock: 512 }).status).toBe('ok');
    expect(h.mem.volumes.generation(2)).toBe(3);
    for (let i = 0; i < 10; i++) h.round();
    expect(h.driveBytes.get(1)!.subarray(512 * BLOCK, 513 * BLOCK).every((x) => x === 0)).toBe(true);
    const reread = h.read(0, 2, 0, BLOCK);
    expect(reread.status).toBe(ScsiStatus.GOOD);
    expect(reread.data.every((x) => x === 0)).toBe(true);
  });

  it('a delete refused for a waiting command drops nothing from the cache; after the command completes it goes through', () => {
    const h = freshSystem();
    expect(h.write(0, 2, 0, pattern(2 * 4096, 50)).status).toBe(ScsiStatus.GOOD); // two slots of volume 2, destaged: clean
    expect([h.cache.usedSlots(), h.cache.dirtySlots()]).toEqual([2, 0]);
    const s = h.cache.lookup(2, 0);
    h.cache.unpin(s);
    expect(h.cache.tryLockSlot(s)).toBe(true);
    const data = pattern(BLOCK, 51);
    const slot = h.submit(1, HostOp.WRITE, 2, 0, BLOCK, data);
    h.ca[1]!.step();
    expect(h.ports.isComplete(1, slot)).toBe(false);
    expect(h.maintenance.readControlBlock('task', taskIndex(h, 1, 0)).data).toMatchObject({ state: TaskState.WAITING, wait: TaskWait.SLOT_BUSY, volume: 2, generation: 1 });
    // Nothing is pinned: only the task record shows the command.
    for (let i = 0; i < h.cache.slotCount; i++) expect(h.cache.pinCount(i)).toBe(0);
    const before = stateOf(h);
    expectRejected(h.maintenance.deleteVolume(2), 'volume 2 has commands in progress; retry when they have completed');
    expect(h.cache.usedSlots()).toBe(2);
    expect(h.maintenance.statistics().data!.cache.usedSlots).toBe(2);
    expectSame(h, before);
    expect(h.mem.volumes.state(2)).toBe(VolumeState.NORMAL);
    expect(h.mem.volumes.generation(2)).toBe(1);
    h.cache.unlockSlot(s);
    const r = h.finish(1, slot);
    expect([r.status, r.senseKey, r.reason]).toEqual([ScsiStatus.GOOD, SenseKey.NO_SENSE, Reason.NONE]);
    expect(h.cache.dirtySlots()).toBe(0);
    expect(Buffer.from(h.driveBytes.get(0)!.subarray(256 * BLOCK, 257 * BLOCK)).equals(Buffer.from(data))).toBe(true);
    expect(h.maintenance.deleteVolume(2)).toEqual({ status: 'ok', reason: 'ok' });
    expect(h.cache.usedSlots()).toBe(0);
    expect(h.mem.volumes.generation(2)).toBe(2);
  });

  it('a waiting command whose volume generation changed is rejected ILLEGAL REQUEST / VOLUME_UNUSED when it resumes, and writes nothing', () => {
    const h = freshSystem();
    const s = h.cache.obtain(2, 0, { value: false });
    h.cache.unpin(s);
    expect(h.cache.tryLockSlot(s)).toBe(true);
    const slot = h.submit(1, HostOp.WRITE, 2, 0, BLOCK, pattern(BLOCK, 55));
    h.ca[1]!.step();
    expect(h.ports.isComplete(1, slot)).toBe(false);
    expect(h.mem.tasks[taskWord(h, 1, 0) + TaskWord.GENERATION]).toBe(1);
    // What a delete or redefinition does to the record, here behind the maintenance port's back.
    h.mem.volumes.bumpGeneration(2);
    h.cache.unlockSlot(s);
    h.ca[1]!.step();
    expect(h.ports.isComplete(1, slot)).toBe(true);
    const r = h.ports.result(1, slot);
    expect([r.status, r.senseKey, r.reason]).toEqual([ScsiStatus.CHECK_CONDITION, SenseKey.ILLEGAL_REQUEST, Reason.VOLUME_UNUSED]);
    h.ports.release(1, slot);
    expect(h.mem.tasks[taskWord(h, 1, 0) + TaskWord.STATE]).toBe(TaskState.FREE);
    expect(h.cache.isDirty(s)).toBe(false);
    expect(h.cache.dirtySlots()).toBe(0);
    expect(h.maintenance.statistics().data!.totals).toMatchObject({ host_writes: 0, host_rejected: 1 });
  });
});

describe('maintenance: volume definition generation', () => {
  const gen = (h: Harness, n: number): unknown => h.maintenance.readControlBlock('volume', n).data?.generation;

  it('every define and every delete bumps the generation by one; refused commands leave it alone', () => {
    const h = freshSystem();
    // Boot defined 1, 2 and 3 (3 as unused) once each; 4, 9 and 64 were never defined.
    expect([1, 2, 3, 4, 9, 64].map((n) => gen(h, n))).toEqual([1, 1, 1, 0, 0, 0]);
    expect(h.maintenance.defineVolume({ number: 9, capacityBlocks: 100, drive: 1, startBlock: 600 }).status).toBe('ok');
    expect(gen(h, 9)).toBe(1);
    expect(h.maintenance.deleteVolume(9).status).toBe('ok');
    expect(gen(h, 9)).toBe(2);
    expect(h.maintenance.defineVolume({ number: 9, capacityBlocks: 50, drive: 1, startBlock: 600 }).status).toBe('ok');
    expect(gen(h, 9)).toBe(3);
    expect(h.maintenance.deleteVolume(9).status).toBe('ok');
    expect(gen(h, 9)).toBe(4);
    expect(h.mem.volumes.generation(9)).toBe(4);
    expect(h.maintenance.deleteVolume(2).status).toBe('ok');
    expect(gen(h, 2)).toBe(2);
    expect(h.maintenance.defineVolume({ number: 2, capacityBlocks: 100, drive: 0, startBlock: 256 }).status).toBe('ok');
    expect(gen(h, 2)).toBe(3);
    expect(h.maintenance.defineVolume({ number: 3, capacityBlocks: 64, drive: 1, startBlock: 0 }).status).toBe('ok');
    expect(gen(h, 3)).toBe(2);
    // Refusals change nothing, the generation included.
    expectRejected(h.maintenance.deleteVolume(9), 'volume 9 is already unused');
    expectRejected(h.maintenance.defineVolume({ number: 1, capacityBlocks: 10, drive: 1, startBlock: 900 }), 'volume 1 is already defined and normal');
    caWrite(h, 0, 1, 0, pattern(BLOCK, 56));
    expectRejected(h.maintenance.deleteVolume(1), 'volume 1 has dirty data in cache not yet destaged; retry after destage');
    expect([1, 2, 3, 4, 9, 64].map((n) => gen(h, n))).toEqual([1, 3, 2, 0, 4, 0]);
  });

  it('a task record shows the generation its volume had when the command started', () => {
    const h = freshSystem();
    expect(h.maintenance.deleteVolume(2).status).toBe('ok');
    expect(h.maintenance.defineVolume({ number: 2, capacityBlocks: 100, drive: 0, startBlock: 256 }).status).toBe('ok');
    expect(h.mem.volumes.generation(2)).toBe(3);
    const a = h.submit(1, HostOp.READ, 2, 16, 2 * BLOCK);
    h.ca[1]!.step();
    const b = h.submit(0, HostOp.READ, 1, 0, BLOCK);
    h.ca[0]!.step();
    expect(h.maintenance.readControlBlock('task', taskIndex(h, 1, 0)).data).toMatchObject({
      state: TaskState.WAITING, wait: TaskWait.STAGE, port_slot: a, opcode: HostOp.READ, volume: 2, generation: 3, wait_name: 'stage',
    });
    expect(h.maintenance.readControlBlock('task', taskIndex(h, 0, 0)).data).toMatchObject({
      state: TaskState.WAITING, wait: TaskWait.STAGE, port_slot: b, opcode: HostOp.READ, volume: 1, generation: 1, wait_name: 'stage',
    });
    expect(h.mem.tasks[taskWord(h, 1, 0) + TaskWord.GENERATION]).toBe(3);
    expect(h.mem.tasks[taskWord(h, 0, 0) + TaskWord.GENERATION]).toBe(1);
    // A task that never ran has generation 0.
    expect(h.maintenance.readControlBlock('task', taskIndex(h, 1, 1)).data?.generation).toBe(0);
    expect(h.finish(1, a).status).toBe(ScsiStatus.GOOD);
    expect(h.finish(0, b).status).toBe(ScsiStatus.GOOD);
  });
});

describe('maintenance: a volume number never defined', () => {
  const gen9 = (h: Harness): number => h.mem.volumes.generation(9);

  it('read, write and INQUIRY of an in-range volume never defined (9, 64) are rejected VOLUME_NOT_DEFINED; once defined and deleted, VOLUME_UNUSED', () => {
    const h = freshSystem();
    const check = (r: { status: number; senseKey: number; reason: number }, reason: number): void =>
      expect([r.status, r.senseKey, r.reason]).toEqual([ScsiStatus.CHECK_CONDITION, SenseKey.ILLEGAL_REQUEST, reason]);
    for (const volume of [9, 64]) {
      expect(h.mem.volumes.exists(volume)).toBe(true);
      check(h.write(0, volume, 0, pattern(BLOCK, 60)), Reason.VOLUME_NOT_DEFINED);
      check(h.read(1, volume, 0, BLOCK), Reason.VOLUME_NOT_DEFINED);
      check(h.finish(0, h.submit(0, HostOp.INQUIRY, volume, 0, 0)), Reason.VOLUME_NOT_DEFINED);
    }
    expect(h.maintenance.statistics().data!.totals).toMatchObject({ host_rejected: 6, host_inquiries: 0, host_writes: 0, host_reads: 0, stage_requests: 0 });
    expect(h.cache.usedSlots()).toBe(0);
    expect(gen9(h)).toBe(0);

    expect(h.maintenance.defineVolume({ number: 9, capacityBlocks: 100, drive: 1, startBlock: 600 }).status).toBe('ok');
    expect(h.write(0, 9, 0, pattern(BLOCK, 61)).status).toBe(ScsiStatus.GOOD);
    const inquiry = h.finish(0, h.submit(0, HostOp.INQUIRY, 9, 0, 0));
    expect([inquiry.status, inquiry.info0, inquiry.info1, inquiry.info2]).toEqual([ScsiStatus.GOOD, VolumeState.NORMAL, 100, 0]);
    expect(h.maintenance.deleteVolume(9).status).toBe('ok');
    check(h.write(0, 9, 0, pattern(BLOCK, 62)), Reason.VOLUME_UNUSED);
    check(h.read(1, 9, 0, BLOCK), Reason.VOLUME_UNUSED);
    const unused = h.finish(0, h.submit(0, HostOp.INQUIRY, 9, 0, 0));
    expect([unused.status, unused.info0, unused.info1]).toEqual([ScsiStatus.GOOD, VolumeState.UNUSED, 100]);
    expect(gen9(h)).toBe(2);
  });
});

describe('maintenance: readControlBlock', () => {
  it('system: run state, processors started, adapters finished, undestaged count', () => {
    const h = freshSystem();
    const r = h.maintenance.readControlBlock('system', 0);
    expect(r.status).toBe('ok');
    expect(r.data?.run_state).toBe('running');
    expect(r.data?.processors_started).toBe(3);
    expect(r.data?.channel_adapters_finished).toBe(0);
    expect(r.data?.undestaged_slots).toBe(0);
    requestPowerOff(h.mem);
    h.ca[0]!.step();
    const s = h.maintenance.readControlBlock('system', 0).data;
    expect(s?.run_state).toBe('stopping');
    expect(s?.channel_adapters_finished).toBe(1);
    expect(h.maintenance.runState()).toBe('stopping');
    h.maintenance.markStopped();
    expect(h.maintenance.readControlBlock('system', 0).data?.run_state).toBe('stopped');
  });

  // Regression: the boot time used to be written as a float64 at byte 8 of the system record,
  // over processors_finished and failed_processor, while boot_ms is read at byte 32.
  it('system: a fresh system reports no processor finished, none failed, and its boot time', () => {
    const h = freshSystem();
    expect(h.maintenance.readControlBlock('system', 0).data).toEqual({
      run_state: 'running', processors_started: 3, processors_finished: 0, failed_processor: -1,
      channel_adapters_finished: 0, undestaged_slots: 0, boot_ms: Date.UTC(2026, 0, 1),
    });
  });

  // Same regression: recordProcessorFailure() is a compare-exchange from 0, so the word must start 0.
  it('system: recordProcessorFailure records the first failed processor', () => {
    const h = freshSystem();
    h.maintenance.recordProcessorFailure(2);
    h.maintenance.recordProcessorFailure(1);
    expect(h.maintenance.readControlBlock('system', 0).data?.failed_processor).toBe(2);
  });

  it('volume: every field of a record, record 0 and the last record; out-of-range indexes rejected', () => {
    const h = freshSystem();
    h.mem.volumes.setState(1, VolumeState.PRIMARY);
    h.mem.volumes.setPairNumber(1, 12);
    expect(h.maintenance.readControlBlock('volume', 1)).toEqual({
      status: 'ok', reason: 'ok',
      data: { number: 1, state: VolumeState.PRIMARY, flags: 0, format: 'OPEN3', capacity_blocks: 256, pair_number: 12, drive_number: 0, drive_start_block: 0, group_number: 0, generation: 1, mirror_number: 0 },
    });
    const empty = { number: 0, state: 0, flags: 0, format: '', capacity_blocks: 0, pair_number: 0, drive_number: 0, drive_start_block: 0, group_number: 0, generation: 0, mirror_number: 0 };
    expect(h.maintenance.readControlBlock('volume', 0).data).toEqual(empty);
    expect(h.maintenance.readControlBlock('volume', 64).data).toEqual(empty);
    expect(h.maintenance.readControlBlock('volume', 3).data?.state).toBe(VolumeState.UNUSED);
    expect(h.maintenance.readControlBlock('volume', 3).data?.format).toBe('OPEN6');
    expectRejected(h.maintenance.readControlBlock('volume', 65), 'volume record 65 is outside 0..64');
    expectRejected(h.maintenance.readControlBlock('volume', -1), 'volume record -1 is outside 0..64');
    expectRejected(h.maintenance.readControlBlock('volume', 1.5), 'volume record 1.5 is outside 0..64');
  });

  it('pair, group, pointer: decoded records and range limits', () => {
    const h = freshSystem();
    h.mem.pairs.register(5, 1, 2, 9, 7, 3);
    expect(h.maintenance.readControlBlock('pair', 5).data).toEqual({
      number: 5, state: 3, flags: 0, primary_system: 1, primary_volume: 2, secondary_system: 9, secondary_volume: 7, group_number: 3, copied_blocks: 0,
      forward_next: 0, forward_serving: 0,
    });
    h.mem.pairs.setFlags(5, PairFlag.RESYNC);
    expect(h.maintenance.readControlBlock('pair', 5).data?.flags).toBe(PairFlag.RESYNC);
    expect(h.maintenance.readControlBlock('pair', 64).status).toBe('ok');
    expectRejected(h.maintenance.readControlBlock('pair', 65), 'pair record 65 is outside 0..64');
    expect(h.maintenance.readControlBlock('group', 16).data).toEqual({
      number: 0, state: 0, role: 0, journal_volume_count: 0, pair_count: 0, journal_volume_0: 0, journal_volume_1: 0,
      update_number: 0, partner_system: 0, partner_group: 0, restored_number: 0,
      link_number: 0, read_policy: 0, store_policy: 0, suspend_reason: 0, flags: 0, read_interval_ms: 0, batch_journals_max: 0,
      link_timeout_ms: 0, initial_copy_blocks: 0, restored_time_ms: 0, journals_created: 0, journals_sent: 0, journals_restored: 0,
      last_contact_ms: 0, received_number: 0, primary_usage: 0, failing_since_ms: 0, release_mode: 0, read_window: 0, read_links: [0, 0, 0],
      pair_set: new Array(32).fill(0),
    });
    expectRejected(h.maintenance.readControlBlock('group', 17), 'group record 17 is outside 0..16');
    h.mem.pointers.initialise(67, 16, 9, 4, 8192, 1 << 20);
    expect(h.maintenance.readControlBlock('pointer', 67).data).toEqual({
      group_number: 16, reader_system: 9, journal_volume: 4, ui_head: 0, wd_head: 8192, ui_newest: 0, ui_oldest: 0,
      wd_newest: 8192, wd_oldest: 8192, read_start: 0, retry_start: 0, capacity_bytes: 1 << 20,
      batch_wd_bytes: 0, read_number: 1, oldest_number: 1, batch_count: 0, ui_slot_bytes: 512, last_read_ms: 0,
    });
    expectRejected(h.maintenance.readControlBlock('pointer', 68), 'pointer set 68 is outside 0..67');
  });

  it('slot: header fields and the valid/dirty bitmaps as unsigned words', () => {
    const h = freshSystem();
    caWrite(h, 0, 1, 6, pattern(2 * BLOCK, 6));
    expect(h.maintenance.readControlBlock('slot', 0).data).toEqual({
      volume: 1, slot_number: 0, pin_count: 0, hash_next: 0, lru_prev: 0, lru_next: 0, flags: 1,
      valid: [0xc0, 0, 0, 0], dirty: [0xc0, 0, 0, 0],
    });
    // A free slot: on the free list (link through lru_next), flag FREE.
    expect(h.maintenance.readControlBlock('slot', 1).data).toEqual({
      volume: 0, slot_number: 0, pin_count: 0, hash_next: 0, lru_prev: 0, lru_next: 3, flags: 2,
      valid: [0, 0, 0, 0], dirty: [0, 0, 0, 0],
    });
    const big = freshSystem({ slotBytes: 65536, cacheBytes: 65536 * 8 });
    const s = big.cache.obtain(1, 0, { value: false });
    big.cache.markDirty(s, 31, 66); // sectors 31..96
    expect(big.maintenance.readControlBlock('slot', s).data?.dirty).toEqual([0x80000000, 0xffffffff, 0xffffffff, 1]);
    expect(big.maintenance.readControlBlock('slot', s).data?.pin_count).toBe(1);
    expectRejected(h.maintenance.readControlBlock('slot', 16), 'cache slot 16 is outside 0..15');
    expectRejected(h.maintenance.readControlBlock('slot', -1), 'cache slot -1 is outside 0..15');
  });

  it('task: a task waiting for a stage, with its wait named; range limit over all processors', () => {
    const h = freshSystem();
    const slot = h.submit(1, HostOp.READ, 2, 16, 2 * BLOCK);
    h.ca[1]!.step();
    // smallConfig: 4 host tasks + 17 groups x 3 service tasks + 8 links + 1 + 8 mirror pairs per processor.
    expect(h.mem.geometry.tasksPerProcessor).toBe(72);
    expect(h.maintenance.readControlBlock('task', taskIndex(h, 1, 0)).data).toEqual({
      state: 2, wait: 3, port_slot: slot, opcode: HostOp.READ, volume: 2, lba: 16, byte_length: 1024, cursor_bytes: 0, cache_slot: 0, attempts: 0, generation: 1,
      kind: TaskKind.HOST, phase: 0, group: 0, pair: 0, aux_cursor: 0, wake_ms: 0, update_number: 0, ui_position: 0, wd_position: 0,
      count: 0, aux0: 0, aux1: 0, aux2: 0, received_ms: h.clock.nowMs(), aux_f64: 0, wait_name: 'stage',
    });
    expect(h.maintenance.readControlBlock('task', 72).data?.port_slot).toBe(slot); // the same record, by number
    expect(h.maintenance.readControlBlock('task', 0).data?.wait_name).toBe('none');
    expect(h.maintenance.readControlBlock('task', 215).status).toBe('ok');
    expectRejected(h.maintenance.readControlBlock('task', 216), 'task record 216 is outside 0..215');
  });

  it('lock: held state, owner and counters; range limit', () => {
    const h = freshSystem();
    const slotLock = h.mem.lockMap.slotBase + 5;
    expect(h.cache.tryLockSlot(5)).toBe(true);
    expect(h.maintenance.readControlBlock('lock', slotLock).data).toEqual({ locked: 1, owner: 0xffff, acquisitions: 1, contended: 0, spins: 0, sleeps: 0 });
    h.cache.unlockSlot(5);
    expect(h.maintenance.readControlBlock('lock', slotLock).data).toEqual({ locked: 0, owner: -1, acquisitions: 1, contended: 0, spins: 0, sleeps: 0 });
    expect(h.mem.geometry.lockCount).toBe(1 + 32 + 16 + 17 + 1);
    expect(h.maintenance.readControlBlock('lock', 66).status).toBe('ok');
    expectRejected(h.maintenance.readControlBlock('lock', 67), 'lock 67 is outside 0..66');
  });

  it('an unknown kind is rejected with the list of kinds', () => {
    const h = freshSystem();
    const r = h.maintenance.readControlBlock('bogus' as never, 0);
    expectRejected(r, "unknown control block 'bogus'; expected system, volume, pair, group, pointer, slot, task, lock or mirror");
  });
});

describe('maintenance: statistics', () => {
  it('totals equal the sum of the per-processor counters, with exact values after some I/O', () => {
    const h = freshSystem();
    expect(h.write(0, 1, 0, pattern(2 * BLOCK, 7)).status).toBe(ScsiStatus.GOOD);
    expect(h.write(1, 2, 8, pattern(8 * BLOCK, 8)).status).toBe(ScsiStatus.GOOD);
    expect(h.read(0, 1, 0, 2 * BLOCK).status).toBe(ScsiStatus.GOOD); // hit
    expect(h.read(1, 1, 16, BLOCK).status).toBe(ScsiStatus.GOOD); // miss + stage of 8 blocks
    expect(h.read(1, 9999, 0, BLOCK).status).toBe(ScsiStatus.CHECK_CONDITION);
    expect(h.finish(0, h.submit(0, HostOp.INQUIRY, 2, 0, 0)).status).toBe(ScsiStatus.GOOD);
    const r = h.maintenance.statistics();
    expect(r.status).toBe('ok');
    const view = r.data!;
    expect(view.perProcessor.map((p) => [p.processorId, p.kind])).toEqual([[0, 'channel-adapter'], [1, 'channel-adapter'], [2, 'disk-adapter']]);
    expect(Object.keys(view.totals)).toEqual([...STAT_NAMES]);
    for (const name of STAT_NAMES) {
      expect(view.totals[name]).toBe(view.perProcessor.reduce((sum, p) => sum + p.counters[name]!, 0));
    }
    STAT_NAMES.forEach((name, i) => {
      for (const p of view.perProcessor) expect(p.counters[name]).toBe(h.mem.statistics[p.processorId * STAT_COUNTERS_PER_PROCESSOR + i]);
    });
    expect(view.totals).toMatchObject({
      host_writes: 2, host_write_bytes: 10 * BLOCK, host_reads: 2, host_read_bytes: 3 * BLOCK, host_inquiries: 1, host_rejected: 1,
      write_slot_misses: 2, write_slot_hits: 0, read_slot_hits: 2, read_slot_misses: 1, stage_requests: 1, stages: 1, stage_blocks: 8,
      destages: 2, destage_blocks: 10, drive_errors: 0, bad_messages: 0, cache_full_waits: 0, slot_busy_waits: 0, evictions: 0,
    });
    expect(view.perProcessor[0]!.counters.host_writes).toBe(1);
    expect(view.perProcessor[1]!.counters.host_writes).toBe(1);
    expect(view.perProcessor[2]!.counters.host_writes).toBe(0);
    expect(view.perProcessor[2]!.counters.destages).toBe(2);
    expect(view.cache).toEqual({ slots: 16, usedSlots: 3, dirtySlots: 0, slotBytes: 4096 });
    expect(Stat.BAD_MESSAGES).toBe(STAT_NAMES.indexOf('bad_messages'));
  });

  it('lock summaries count every acquisition of the cache list, bucket and slot locks', () => {
    const h = freshSystem();
    const zero = { acquisitions: 0, contended: 0, spins: 0, sleeps: 0 };
    expect(h.maintenance.statistics().data!.locks).toEqual({ cacheList: zero, buckets: zero, slots: zero, groups: zero });
    const c = h.cache;
    const a = c.obtain(1, 0, { value: false }); // miss: bucket (lookup) + list (take free) + bucket + list (link)
    c.unpin(a);
    expect(c.lookup(1, 0)).toBe(a); // hit: bucket; already the LRU head, so no list lock
    c.unpin(a);
    expect(c.tryLockSlot(a)).toBe(true);
    c.unlockSlot(a);
    let locks = h.maintenance.statistics().data!.locks;
    expect(locks.buckets).toEqual({ ...zero, acquisitions: 3 });
    expect(locks.cacheList).toEqual({ ...zero, acquisitions: 2 });
    expect(locks.slots).toEqual({ ...zero, acquisitions: 1 });
    expect(locks.groups).toEqual(zero);
    const b = c.obtain(1, 1, { value: false });
    c.unpin(b);
    expect(c.lookup(1, 0)).toBe(a); // hit, not the head: bucket + list (touch)
    c.unpin(a);
    locks = h.maintenance.statistics().data!.locks;
    expect(locks.buckets.acquisitions).toBe(3 + 2 + 1);
    expect(locks.cacheList.acquisitions).toBe(2 + 2 + 1);
    // A one-slot host write on a fresh slot: obtain miss (2 bucket, 2 list) + the slot lock;
    // its destage: pinIfIdentity (1 bucket) + the slot lock.
    expect(h.write(0, 2, 0, pattern(BLOCK, 9)).status).toBe(ScsiStatus.GOOD);
    locks = h.maintenance.statistics().data!.locks;
    expect(locks.buckets.acquisitions).toBe(6 + 3);
    expect(locks.cacheList.acquisitions).toBe(5 + 2);
    expect(locks.slots.acquisitions).toBe(1 + 2);
    expect(locks.buckets.contended + locks.cacheList.contended + locks.slots.contended).toBe(0);
  });
});
