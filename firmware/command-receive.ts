// Command reception processing 210 (seed 000 §5.3, Figs. 11–12, S1200–S1280; seed 002 §7.3):
// a channel adapter's handling of one host access command, from validation to completion.
//
// A command is a task: it starts in start() and continues in resume() each time the processor
// loop runs it, from its cursor, until it completes. It never blocks: no free cache slot, a
// busy slot, or a stage outstanding make it record why it waits and yield.
//
// Journal creation (S1265, seed 000 §5.4) hooks in at the point marked below once remote copy
// is configured for the volume; a write to a 正常 volume goes straight to S1270.

import { HostOp, Reason, ScsiStatus, SenseKey } from '../hal/host-port.ts';
import type { HostPorts } from '../hal/host-port.ts';
import { BLOCK_BYTES } from './config.ts';
import type { Cache } from './cache.ts';
import type { ControlMemory } from './layout.ts';
import { Msg, MsgStatus, diskAdapterFor } from './messages.ts';
import { Stat } from './structs/statistics.ts';
import { TASK_WORDS, TaskState, TaskWait, TaskWord as T } from './structs/task.ts';
import { NO_DRIVE, VolumeState } from './structs/volume-info.ts';
import type { Clock } from '../hal/clock.ts';

/** Outcome of running a task once. */
export const Run = { DONE: 0, WAITING: 1, PROGRESS: 2 } as const;

export interface AdapterContext {
  readonly processorId: number;
  readonly port: number;
  readonly mem: ControlMemory;
  readonly cache: Cache;
  readonly ports: HostPorts;
  readonly clock: Clock;
  /** This processor's statistics block. */
  readonly stats: Float64Array;
  /** Word index of task 0 of this processor in mem.tasks. */
  readonly taskBase: number;
}

export class CommandReceive {
  private readonly hit = { value: false };
  private readonly tasks: Int32Array;
  private readonly hostWords: Int32Array;
  private readonly sectorsPerSlot: number;
  private readonly slotBytes: number;

  constructor(private readonly ctx: AdapterContext) {
    this.tasks = ctx.mem.tasks;
    this.hostWords = new Int32Array(ctx.ports.buffer);
    this.sectorsPerSlot = ctx.cache.sectorsPerSlot;
    this.slotBytes = ctx.cache.slotBytes;
  }

  /** S1200–S1250: takes a fetched host port slot into task `task`; completes it at once if invalid. */
  start(task: number, portSlot: number): number {
    const { ports, port, mem, stats } = this.ctx;
    const t = this.ctx.taskBase + task * TASK_WORDS;
    const opcode = ports.opcode(port, portSlot);
    const volume = ports.volume(port, portSlot);
    const lba = ports.lba(port, portSlot);
    const byteLength = ports.byteLength(port, portSlot);
    this.tasks[t + T.PORT_SLOT] = portSlot;
    this.tasks[t + T.OPCODE] = opcode;
    this.tasks[t + T.VOLUME] = volume;
    this.tasks[t + T.LBA] = lba;
    this.tasks[t + T.BYTE_LENGTH] = byteLength;
    this.tasks[t + T.CURSOR] = 0;
    this.tasks[t + T.CACHE_SLOT] = -1;
    this.tasks[t + T.ATTEMPTS] = 0;
    this.tasks[t + T.WAIT] = TaskWait.NONE;

    // S1210/S1215: classify the command.
    if (opcode !== HostOp.READ && opcode !== HostOp.WRITE && opcode !== HostOp.INQUIRY) {
      return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.INVALID_OPCODE);
    }
    if (!mem.volumes.exists(volume) || mem.volumes.number(volume) === 0) return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.VOLUME_NOT_DEFINED);
    this.tasks[t + T.GENERATION] = mem.volumes.generation(volume);
    const state = mem.volumes.state(volume);
    if (opcode === HostOp.INQUIRY) {
      stats[Stat.HOST_INQUIRIES]!++;
      ports.setInfo(port, portSlot, state, mem.volumes.capacityBlocks(volume), mem.volumes.pairNumber(volume));
      return this.finish(task, ScsiStatus.GOOD, SenseKey.NO_SENSE, Reason.NONE);
    }
    if (state === VolumeState.UNUSED) return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.VOLUME_UNUSED);
    if (state === VolumeState.ABNORMAL) return this.reject(task, SenseKey.HARDWARE_ERROR, Reason.VOLUME_ABNORMAL);
    // S1240/S1245: a write is accepted only by a 正常 or 正 volume (副 is write-protected).
    if (opcode === HostOp.WRITE && state !== VolumeState.NORMAL && state !== VolumeState.PRIMARY) {
      return this.reject(task, SenseKey.DATA_PROTECT, Reason.VOLUME_WRITE_PROTECTED);
    }
    if (byteLength === 0) return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.ZERO_LENGTH);
    if (byteLength < 0 || byteLength % BLOCK_BYTES !== 0) return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.TRANSFER_MISALIGNED);
    if (byteLength > mem.config.maxTransferBytes || byteLength > ports.geometry.maxTransferBytes) {
      return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.TRANSFER_TOO_LONG);
    }
    const blocks = byteLength / BLOCK_BYTES;
    if (lba < 0 || lba + blocks > mem.volumes.capacityBlocks(volume)) return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.LBA_OUT_OF_RANGE);
    if (opcode === HostOp.READ && mem.volumes.driveNumber(volume) === NO_DRIVE) {
      return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.VOLUME_NO_STORAGE);
    }
    this.tasks[t + T.STATE] = TaskState.READY;
    return Run.PROGRESS;
  }

  /** Runs a READY or WAITING task as far as it can go. */
  resume(task: number): number {
    const t = this.ctx.taskBase + task * TASK_WORDS;
    // The volume was deleted or redefined while this command waited: its data must not land
    // in whatever the number means now.
    if (this.ctx.mem.volumes.generation(this.tasks[t + T.VOLUME]!) !== this.tasks[t + T.GENERATION]) {
      return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.VOLUME_UNUSED);
    }
    return this.tasks[t + T.OPCODE] === HostOp.WRITE ? this.runWrite(task, t) : this.runRead(task, t);
  }

  /** A stage this task asked for has ended (message from a disk adapter). */
  stageDone(task: number, slot: number, status: number): number {
    const t = this.ctx.taskBase + task * TASK_WORDS;
    if (this.tasks[t + T.STATE] !== TaskState.WAITING || this.tasks[t + T.WAIT] !== TaskWait.STAGE || this.tasks[t + T.CACHE_SLOT] !== slot) {
      return -1; // not a stage this task is waiting for: the caller counts a bad message
    }
    this.ctx.cache.unpin(slot);
    this.tasks[t + T.CACHE_SLOT] = -1;
    this.tasks[t + T.WAIT] = TaskWait.NONE;
    if (status !== MsgStatus.OK) {
      if (status === MsgStatus.NO_STORAGE) return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.VOLUME_NO_STORAGE);
      if (status === MsgStatus.DRIVE_FAILED) return this.reject(task, SenseKey.HARDWARE_ERROR, Reason.VOLUME_ABNORMAL);
      return this.reject(task, SenseKey.MEDIUM_ERROR, Reason.DRIVE_READ_ERROR);
    }
    this.tasks[t + T.STATE] = TaskState.READY;
    return Run.PROGRESS;
  }

  /** S1250–S1280 for a write: host data into cache slot by slot, then completion. */
  private runWrite(task: number, t: number): number {
    const { cache, mem, ports, port, stats } = this.ctx;
    const volume = this.tasks[t + T.VOLUME]!;
    const lba = this.tasks[t + T.LBA]!;
    const byteLength = this.tasks[t + T.BYTE_LENGTH]!;
    const portSlot = this.tasks[t + T.PORT_SLOT]!;
    const hostWord = ports.dataOffset(port, portSlot) >> 2;
    let cursor = this.tasks[t + T.CURSOR]!;
    let progressed = false;
    while (cursor < byteLength) {
      const block = lba + cursor / BLOCK_BYTES;
      const slotNumber = Math.floor(block / this.sectorsPerSlot);
      const sector = block - slotNumber * this.sectorsPerSlot;
      const sectors = Math.min(this.sectorsPerSlot - sector, (byteLength - cursor) / BLOCK_BYTES);
      const s = cache.obtain(volume, slotNumber, this.hit);
      if (s < 0) return this.wait(t, TaskWait.CACHE_FULL, Stat.CACHE_FULL_WAITS, progressed);
      if (!cache.tryLockSlot(s)) {
        cache.unpin(s);
        return this.wait(t, TaskWait.SLOT_BUSY, Stat.SLOT_BUSY_WAITS, progressed);
      }
      stats[this.hit.value ? Stat.WRITE_SLOT_HITS : Stat.WRITE_SLOT_MISSES]!++;
      // S1250: the host's data goes into the reserved cache (Fig. 11, 1100).
      const cacheWord = (s * this.slotBytes + sector * BLOCK_BYTES) >> 2;
      const words = (sectors * BLOCK_BYTES) >> 2;
      mem.cacheWords.set(this.hostWords.subarray(hostWord + (cursor >> 2), hostWord + (cursor >> 2) + words), cacheWord);
      cache.markDirty(s, sector, sectors);
      cache.unlockSlot(s);
      cache.unpin(s);
      cursor += sectors * BLOCK_BYTES;
      this.tasks[t + T.CURSOR] = cursor;
      progressed = true;
    }
    // S1260/S1265: a 正 volume would create its journal here (journal creation, seed 000 §5.4).
    // S1270/S1280: the data is in cache; a disk adapter destages it later. Report completion.
    stats[Stat.HOST_WRITES]!++;
    stats[Stat.HOST_WRITE_BYTES]! += byteLength;
    return this.finish(task, ScsiStatus.GOOD, SenseKey.NO_SENSE, Reason.NONE);
  }

  /** S1230: ordinary read processing — cache hit, or stage from the drive through a disk adapter. */
  private runRead(task: number, t: number): number {
    const { cache, mem, ports, port, stats } = this.ctx;
    const volume = this.tasks[t + T.VOLUME]!;
    const lba = this.tasks[t + T.LBA]!;
    const byteLength = this.tasks[t + T.BYTE_LENGTH]!;
    const portSlot = this.tasks[t + T.PORT_SLOT]!;
    const hostWord = ports.dataOffset(port, portSlot) >> 2;
    let cursor = this.tasks[t + T.CURSOR]!;
    let progressed = false;
    while (cursor < byteLength) {
      const block = lba + cursor / BLOCK_BYTES;
      const slotNumber = Math.floor(block / this.sectorsPerSlot);
      const sector = block - slotNumber * this.sectorsPerSlot;
      const sectors = Math.min(this.sectorsPerSlot - sector, (byteLength - cursor) / BLOCK_BYTES);
      const s = cache.obtain(volume, slotNumber, this.hit);
      if (s < 0) return this.wait(t, TaskWait.CACHE_FULL, Stat.CACHE_FULL_WAITS, progressed);
      if (!cache.tryLockSlot(s)) {
        cache.unpin(s);
        return this.wait(t, TaskWait.SLOT_BUSY, Stat.SLOT_BUSY_WAITS, progressed);
      }
      if (!cache.allValid(s, sector, sectors)) {
        cache.unlockSlot(s);
        stats[Stat.READ_SLOT_MISSES]!++;
        // Read miss: a disk adapter stages the slot; the slot stays pinned until it answers.
        const da = diskAdapterFor(mem.config.channelAdapters, mem.config.diskAdapters, s);
        if (!mem.mailboxes[da]!.tryPush(Msg.STAGE, this.ctx.processorId, task, s, 0, 0)) {
          cache.unpin(s);
          stats[Stat.MAILBOX_FULL]!++;
          return this.wait(t, TaskWait.SLOT_BUSY, Stat.SLOT_BUSY_WAITS, progressed);
        }
        mem.doorbells.ring(da);
        stats[Stat.STAGE_REQUESTS]!++;
        this.tasks[t + T.CACHE_SLOT] = s;
        this.tasks[t + T.STATE] = TaskState.WAITING;
        this.tasks[t + T.WAIT] = TaskWait.STAGE;
        return Run.WAITING;
      }
      stats[Stat.READ_SLOT_HITS]!++;
      const cacheWord = (s * this.slotBytes + sector * BLOCK_BYTES) >> 2;
      const words = (sectors * BLOCK_BYTES) >> 2;
      this.hostWords.set(mem.cacheWords.subarray(cacheWord, cacheWord + words), hostWord + (cursor >> 2));
      cache.unlockSlot(s);
      cache.unpin(s);
      cursor += sectors * BLOCK_BYTES;
      this.tasks[t + T.CURSOR] = cursor;
      progressed = true;
    }
    stats[Stat.HOST_READS]!++;
    stats[Stat.HOST_READ_BYTES]! += byteLength;
    return this.finish(task, ScsiStatus.GOOD, SenseKey.NO_SENSE, Reason.NONE);
  }

  private wait(t: number, why: number, counter: number, progressed: boolean): number {
    this.ctx.stats[counter]!++;
    this.tasks[t + T.STATE] = TaskState.WAITING;
    this.tasks[t + T.WAIT] = why;
    this.tasks[t + T.ATTEMPTS] = progressed ? 0 : this.tasks[t + T.ATTEMPTS]! + 1;
    return progressed ? Run.PROGRESS : Run.WAITING;
  }

  private reject(task: number, senseKey: number, reason: number): number {
    this.ctx.stats[Stat.HOST_REJECTED]!++;
    return this.finish(task, ScsiStatus.CHECK_CONDITION, senseKey, reason);
  }

  private finish(task: number, status: number, senseKey: number, reason: number): number {
    const t = this.ctx.taskBase + task * TASK_WORDS;
    const now = this.ctx.clock.nowMs();
    this.ctx.ports.complete(this.ctx.port, this.tasks[t + T.PORT_SLOT]!, status, senseKey, reason, now);
    this.tasks[t + T.STATE] = TaskState.FREE;
    this.tasks[t + T.WAIT] = TaskWait.NONE;
    return Run.DONE;
  }
}
