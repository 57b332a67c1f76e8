// What every remote-copy process running on a channel adapter shares: the adapter's views of
// shared memory, its cache I/O engine, its links, the clock, and small helpers over pointer
// information 700 and task records that every process module would otherwise write again.

import type { Clock } from '../hal/clock.ts';
import type { CacheIo, IoContext } from './cache-io.ts';
import type { JournalCreation } from './journal-create.ts';
import { UI_SLOT_BYTES, type RingGeometry } from './journal-ring.ts';
import type { LinkPort } from './platform.ts';
import type { ControlMemory } from './layout.ts';
import { TASK_WORDS, TaskF64, TaskState, TaskWait, TaskWord as T } from './structs/task.ts';
import { PairState } from './structs/pair-info.ts';
import { NO_DRIVE } from './structs/volume-info.ts';

export interface CopyContext extends IoContext {
  readonly clock: Clock;
  readonly links: ReadonlyMap<number, LinkPort>;
  readonly trace: (line: string) => void;
  readonly io: CacheIo;
  readonly journals: JournalCreation;
}

/** Word index of task `task` of this processor. */
export function taskWord(ctx: CopyContext, task: number): number {
  return ctx.taskBase + task * TASK_WORDS;
}

/** The pointer set of (group, reader system), or -1. Reader 0 is a secondary's own set. */
export function pointerSetOf(ctx: CopyContext, group: number, readerSystem: number): number {
  const { mem } = ctx;
  for (let r = 0; r < mem.config.readersMax; r++) {
    const s = group * mem.config.readersMax + r;
    if (mem.pointers.groupNumber(s) === group && mem.pointers.readerSystem(s) === readerSystem) return s;
  }
  return -1;
}

/** The first pointer set of a group (every set of a group shares the ring geometry), or -1. */
export function firstPointerSet(ctx: CopyContext, group: number): number {
  const { mem } = ctx;
  for (let r = 0; r < mem.config.readersMax; r++) {
    const s = group * mem.config.readersMax + r;
    if (mem.pointers.groupNumber(s) === group) return s;
  }
  return -1;
}

export function loadGeometry(ctx: CopyContext, set: number, out: RingGeometry): RingGeometry {
  out.uiHead = ctx.mem.pointers.get(set, 'ui_head');
  out.wdHead = ctx.mem.pointers.get(set, 'wd_head');
  out.capacity = ctx.mem.pointers.get(set, 'capacity_bytes');
  out.uiSlot = ctx.mem.pointers.uiSlotBytes(set) || UI_SLOT_BYTES;
  return out;
}

const txViews = new WeakMap<LinkPort, DataView>();
const rxViews = new WeakMap<LinkPort, DataView>();

/** A DataView over a link's send staging buffer, made once per link. */
export function txView(port: LinkPort): DataView {
  let view = txViews.get(port);
  if (!view) txViews.set(port, (view = new DataView(port.staging.buffer, port.staging.byteOffset, port.staging.byteLength)));
  return view;
}

/** A DataView over a link's receive staging buffer, made once per link. */
export function rxView(port: LinkPort): DataView {
  let view = rxViews.get(port);
  if (!view) rxViews.set(port, (view = new DataView(port.rxStaging.buffer, port.rxStaging.byteOffset, port.rxStaging.byteLength)));
  return view;
}

/** Puts a task to sleep until `wakeMs` (TaskWait.TIMER). */
export function sleepUntil(ctx: CopyContext, t: number, wakeMs: number): void {
  ctx.mem.tasks[t + T.STATE] = TaskState.WAITING;
  ctx.mem.tasks[t + T.WAIT] = TaskWait.TIMER;
  ctx.mem.taskFloats[(t >> 1) + TaskF64.WAKE_MS] = wakeMs;
}

/**
 * Starts a group's service task (journal read, restore, initial copy) in `phase`. The caller sets
 * its process-specific words first: the READY store publishes the record to the adapter.
 */
export function startService(tasks: Int32Array, t: number, kind: number, group: number, phase: number): void {
  tasks[t + T.KIND] = kind;
  tasks[t + T.GROUP] = group;
  tasks[t + T.CACHE_SLOT] = -1;
  tasks[t + T.PHASE] = phase;
  Atomics.store(tasks, t + T.STATE, TaskState.READY);
}

/** Makes a task runnable in `phase`. */
export function ready(ctx: CopyContext, t: number, phase: number): void {
  ctx.mem.tasks[t + T.PHASE] = phase;
  ctx.mem.tasks[t + T.WAIT] = TaskWait.NONE;
  ctx.mem.tasks[t + T.STATE] = TaskState.READY;
}

/**
 * A suspended pair's primary volume that has no storage (a journal-only intermediate, seed 000
 * embodiment 3), or 0: such a pair cannot be resynchronised from this system.
 */
export function suspendedWithoutStorage(mem: ControlMemory, group: number): number {
  for (let i = 0; i < mem.groups.pairCount(group); i++) {
    const pair = mem.groups.pairAt(group, i);
    const v = mem.pairs.primaryVolume(pair);
    if (mem.pairs.state(pair) === PairState.ABNORMAL && mem.volumes.driveNumber(v) === NO_DRIVE) return v;
  }
  return 0;
}

/** How many of a group's pairs are in one of `states`. */
export function pairsIn(mem: ControlMemory, group: number, ...states: number[]): number {
  let n = 0;
  for (let i = 0; i < mem.groups.pairCount(group); i++) if (states.includes(mem.pairs.state(mem.groups.pairAt(group, i)))) n++;
  return n;
}

export function free(ctx: CopyContext, t: number): void {
  ctx.mem.tasks[t + T.STATE] = TaskState.FREE;
  ctx.mem.tasks[t + T.WAIT] = TaskWait.NONE;
}
