// Cache I/O: moves bytes between a buffer and a volume through cache memory, as a resumable
// step of a task. Every process that reads or writes volume data — host commands, journal
// creation, journal read reception, journal store, restore — goes through here, so the cache
// rules (pin, slot lock, stage through a disk adapter, never block) live in one place.
//
// transfer() continues from the byte cursor kept in one word of the task record and returns
// IO_DONE when every byte moved. Otherwise the task has been put in a wait state (cache full,
// slot busy, stage outstanding) and the caller yields; the next call picks up where it stopped.
// Addresses and lengths are whole blocks.

import { BLOCK_BYTES } from './config.ts';
import type { Cache } from './cache.ts';
import type { ControlMemory } from './layout.ts';
import { Msg, diskAdapterFor } from './messages.ts';
import { Stat } from './structs/statistics.ts';
import { TASK_WORDS, TaskState, TaskWait, TaskWord as T } from './structs/task.ts';

export const IO_DONE = 0;
/** The task waits and nothing moved in this call. */
export const IO_WAIT = 1;
/** The task waits after moving some bytes in this call. */
export const IO_WAIT_PROGRESS = 2;
/** A stage this transfer needed failed on the drive; the caller decides what that means. */
export const IO_ERROR = 3;

/** CACHE_SLOT value of a task whose last stage failed (read by the next transfer). */
const STAGE_FAILED = -2;

export interface IoContext {
  readonly processorId: number;
  readonly mem: ControlMemory;
  readonly cache: Cache;
  /** This processor's statistics block. */
  readonly stats: Float64Array;
  /** Word index of task 0 of this processor in mem.tasks. */
  readonly taskBase: number;
}

export class CacheIo {
  private readonly hit = { value: false };
  private readonly tasks: Int32Array;
  private readonly sectorsPerSlot: number;
  private readonly slotBytes: number;

  constructor(private readonly ctx: IoContext) {
    this.tasks = ctx.mem.tasks;
    this.sectorsPerSlot = ctx.cache.sectorsPerSlot;
    this.slotBytes = ctx.cache.slotBytes;
  }

  /**
   * Moves `byteLength` bytes between buf[bufWord..] and `volume` from `block`, from the cursor in
   * task word `cursorWord`. write = true copies the buffer into cache and marks it dirty.
   */
  transfer(task: number, write: boolean, volume: number, block: number, byteLength: number, buf: Int32Array, bufWord: number, cursorWord: number): number {
    const { cache, mem, stats } = this.ctx;
    const t = this.ctx.taskBase + task * TASK_WORDS;
    if (this.tasks[t + T.CACHE_SLOT] === STAGE_FAILED) {
      this.tasks[t + T.CACHE_SLOT] = -1;
      return IO_ERROR;
    }
    // An address no block has (a negative, fractional or unsafe block, a length off the block
    // size, a volume no record has) comes from damaged metadata: an error, never a wrong copy.
    if (!(Number.isSafeInteger(block) && block >= 0 && byteLength >= 0 && byteLength % BLOCK_BYTES === 0 && mem.volumes.exists(volume))) return IO_ERROR;
    let cursor = this.tasks[t + cursorWord]!;
    let progressed = false;
    while (cursor < byteLength) {
      const b = block + cursor / BLOCK_BYTES;
      const slotNumber = Math.floor(b / this.sectorsPerSlot);
      const sector = b - slotNumber * this.sectorsPerSlot;
      const sectors = Math.min(this.sectorsPerSlot - sector, (byteLength - cursor) / BLOCK_BYTES);
      const s = cache.obtain(volume, slotNumber, this.hit);
      if (s < 0) return this.wait(t, TaskWait.CACHE_FULL, Stat.CACHE_FULL_WAITS, progressed);
      if (!cache.tryLockSlot(s)) {
        cache.unpin(s);
        return this.wait(t, TaskWait.SLOT_BUSY, Stat.SLOT_BUSY_WAITS, progressed);
      }
      const cacheWord = (s * this.slotBytes + sector * BLOCK_BYTES) >> 2;
      const words = (sectors * BLOCK_BYTES) >> 2;
      const at = bufWord + (cursor >> 2);
      if (write) {
        stats[this.hit.value ? Stat.WRITE_SLOT_HITS : Stat.WRITE_SLOT_MISSES]!++;
        mem.cacheWords.set(buf.subarray(at, at + words), cacheWord);
        cache.markDirty(s, sector, sectors);
      } else {
        if (!cache.allValid(s, sector, sectors)) {
          cache.unlockSlot(s);
          stats[Stat.READ_SLOT_MISSES]!++;
          // Read miss: a disk adapter stages the slot; it stays pinned until the answer comes.
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
          return progressed ? IO_WAIT_PROGRESS : IO_WAIT;
        }
        stats[Stat.READ_SLOT_HITS]!++;
        buf.set(mem.cacheWords.subarray(cacheWord, cacheWord + words), at);
      }
      cache.unlockSlot(s);
      cache.unpin(s);
      cursor += sectors * BLOCK_BYTES;
      this.tasks[t + cursorWord] = cursor;
      progressed = true;
    }
    return IO_DONE;
  }

  /**
   * A stage this task asked for has ended. Returns the stage status, or -1 if the task was not
   * waiting for that slot (the caller counts a bad message). On OK the task is READY again.
   */
  stageDone(task: number, slot: number, status: number): number {
    const t = this.ctx.taskBase + task * TASK_WORDS;
    if (this.tasks[t + T.STATE] !== TaskState.WAITING || this.tasks[t + T.WAIT] !== TaskWait.STAGE || this.tasks[t + T.CACHE_SLOT] !== slot) return -1;
    this.ctx.cache.unpin(slot);
    this.tasks[t + T.CACHE_SLOT] = status === 0 ? -1 : STAGE_FAILED;
    this.tasks[t + T.WAIT] = TaskWait.NONE;
    this.tasks[t + T.STATE] = TaskState.READY;
    return status;
  }

  private wait(t: number, why: number, counter: number, progressed: boolean): number {
    this.ctx.stats[counter]!++;
    this.tasks[t + T.STATE] = TaskState.WAITING;
    this.tasks[t + T.WAIT] = why;
    this.tasks[t + T.ATTEMPTS] = progressed ? 0 : this.tasks[t + T.ATTEMPTS]! + 1;
    return progressed ? IO_WAIT_PROGRESS : IO_WAIT;
  }
}

