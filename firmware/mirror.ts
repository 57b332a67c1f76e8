// Local mirror pairs (seed 004, JP H11-345158): the controller's processes 3000–7000 for a pair
// of volumes inside one storage system, for the three variants of §6.5 chosen per pair:
//
//   E1   split 4010–4050 (Fig. 7), resync 5010–5080 (Fig. 10), write 3010–3070 (Fig. 6)
//   E2a  split 4510–4560 (Fig. 12), resync 5510–5560 (Fig. 13), write 3010–3070 (Fig. 6)
//   E2b  split and resync as E2a, write 3510–3580 (Fig. 14: only the primary's writes recorded)
//
// Command decision 2000 is command-receive.ts: a host write to a mirrored volume comes here
// (3000), and so do the CPU's mirror commands (split 4000, resync 5000, update information
// transfer 6000, dump read 7000). Pair formation (分離 -> ミラー), which the seed gives no flow
// for, is a resync that copies the whole volume with both bitmaps cleared.
//
// Holding writes (4020/5020 and their E2 equivalents) never blocks a processor: the operation
// raises the pair's `hold` word, and a write that finds it raised waits as a task
// (TaskWait.MIRROR_HOLD); the operation itself waits as a task until the writes already past the
// hold (`writes_active`) have landed their data and bits. Both words are Atomics in the pair's
// record, so a write on any channel adapter sees the hold: a write adds itself to writes_active
// and then looks at hold, the operation raises hold and then looks at writes_active.
//
// Split, resync and formation run on a mirror service task of the channel adapter that owns the
// pair ((pair - 1) mod channel adapters), started by a maintenance command or by a host command
// (which then waits for it as a task). The copy of 5060/5550 goes cache slot by cache slot with
// the primary's and the secondary's slot locked together, and a mirrored host write locks all
// its slots of both volumes before landing its data in either: a copy and a write to the same
// slot are ordered, so a stale primary track never overwrites a newer secondary one, and two
// overlapping writes land in the same order on both volumes.

import type { Clock } from '../hal/clock.ts';
import { Bitmaps } from './bitmap.ts';
import { IO_DONE, IO_WAIT, type CacheIo, type IoContext } from './cache-io.ts';
import { BLOCK_BYTES } from './config.ts';
import type { ControlMemory } from './layout.ts';
import { Msg, diskAdapterFor } from './messages.ts';
import {
  BITMAP_230, BITMAP_240, EMBODIMENT_NAME, Embodiment, MIRROR_OP_NAME, MIRROR_STATE_NAME, MIRROR_SUB_NAME, MirrorFlag, MirrorOp, MirrorResult, MirrorState,
  MirrorSub, MirrorWord,
} from './structs/mirror-info.ts';
import { Stat } from './structs/statistics.ts';
import { TASK_WORDS, TaskKind, TaskState, TaskWait, TaskWord as T } from './structs/task.ts';

/** The update bitmaps of mirror pairs: bitmap index = pair × 2 + (0 for 230, 1 for 240). */
export class MirrorBitmaps extends Bitmaps {
  constructor(mem: ControlMemory) {
    const mirrors = mem.mirrors;
    super(mirrors.words, mirrors.bitmapBytes, (i) => mirrors.bitmapWord(i >> 1, i & 1), (i) => mirrors.unitBlocks(i >> 1), (i) => mirrors.units(i >> 1));
  }
}

/** Bitmap index of a pair's 230 or 240 in MirrorBitmaps. */
export const bm = (pair: number, which: number): number => pair * 2 + which;

/** The channel adapter whose mirror service task runs a pair's operations. */
export function ownerOf(mem: ControlMemory, pair: number): number {
  return (pair - 1) % mem.config.channelAdapters;
}

/** Word index (in mem.tasks) of a pair's mirror service task on its owner. */
export function serviceTaskWord(mem: ControlMemory, pair: number): number {
  return mem.taskWord(ownerOf(mem, pair), mem.geometry.mirrorTaskBase + pair - 1);
}

/**
 * Starts a split, resync or formation on the pair's service task; an empty string when started,
 * the reason otherwise (nothing changed). Callable from any thread: the pair's `operation` word is
 * claimed by compare-exchange, so two starters never both win.
 */
export function startOperation(mem: ControlMemory, pair: number, op: number, ticket?: { operationsDone: number }): string {
  const { mirrors } = mem;
  if (!mirrors.exists(pair) || mirrors.state(pair) === MirrorState.UNUSED) return `mirror pair ${pair} is not defined`;
  const state = mirrors.state(pair);
  const sub = mirrors.subState(pair);
  const now = `${MIRROR_STATE_NAME[state]}${state === MirrorState.MIRROR ? `/${MIRROR_SUB_NAME[sub]}` : ''}`;
  // The transitions of §4.3; every other one is refused here and changes nothing.
  if (op === MirrorOp.FORM && state !== MirrorState.SEPARATED) return `mirror pair ${pair} is ${now}; only a separated pair can be formed`;
  if (op === MirrorOp.SPLIT && !(state === MirrorState.MIRROR && sub === MirrorSub.SYNCHRONISED)) {
    return `mirror pair ${pair} is ${now}; a split needs mirror/synchronised (the secondary must equal the primary)`;
  }
  if (op === MirrorOp.RESYNC && state !== MirrorState.SPLIT) return `mirror pair ${pair} is ${now}; only a split pair can be resynchronised`;
  if (Atomics.compareExchange(mirrors.words, mirrors.word(pair, MirrorWord.OPERATION), 0, op) !== 0) {
    return `mirror pair ${pair}: a ${MIRROR_OP_NAME[mirrors.operation(pair)] ?? 'mirror'} operation is in progress`;
  }
  // The state may have moved between the check and the claim (another operation ended): check again.
  if (mirrors.state(pair) !== state || mirrors.subState(pair) !== sub) {
    Atomics.store(mirrors.words, mirrors.word(pair, MirrorWord.OPERATION), 0);
    return `mirror pair ${pair} changed state; retry`;
  }
  mirrors.setLastResult(pair, MirrorResult.RUNNING);
  // Read while this starter holds the claim and before the operation can run: the operation has
  // ended once the count moves past it.
  if (ticket) ticket.operationsDone = Atomics.load(mirrors.words, mirrors.word(pair, MirrorWord.OPERATIONS_DONE));
  const t = serviceTaskWord(mem, pair);
  const tasks = mem.tasks;
  tasks[t + T.KIND] = TaskKind.MIRROR;
  tasks[t + T.AUX0] = pair; // the mirror pair (T.PAIR names remote-copy pairs, which other scans look for)
  tasks[t + T.VOLUME] = 0;
  tasks[t + T.OPCODE] = op;
  tasks[t + T.PHASE] = OpPhase.HOLD;
  tasks[t + T.CURSOR] = 0;
  tasks[t + T.CACHE_SLOT] = -1;
  tasks[t + T.ATTEMPTS] = 0;
  tasks[t + T.COUNT] = 0;
  tasks[t + T.WAIT] = TaskWait.NONE;
  Atomics.store(tasks, t + T.STATE, TaskState.READY);
  mem.doorbells.ring(ownerOf(mem, pair));
  return '';
}

/** Phases of a mirror operation's task. */
export const OpPhase = { HOLD: 0, DRAIN: 1, COPY: 2, FINISH: 3 } as const;

/** Results of write(): the IO_* codes of cache-io, or this when the write must be refused. */
export const WRITE_TO_SECONDARY = -1;

/** Same values as command-receive's Run. */
const R = { DONE: 0, WAITING: 1, PROGRESS: 2 } as const;

/** Slots an operation copies per run at most, so host commands on the adapter are not starved. */
const COPY_SLOTS_PER_RUN = 8;

/** CACHE_SLOT value of a task whose stage failed (cache-io.ts). */
const STAGE_FAILED = -2;

export interface MirrorContext extends IoContext {
  readonly clock: Clock;
  readonly io: CacheIo;
  readonly trace?: (line: string) => void;
}

export class MirrorProcesses {
  readonly bitmaps: MirrorBitmaps;
  private readonly hit = { value: false };
  private readonly tasks: Int32Array;
  private readonly words: Int32Array;
  /** Slots a mirrored write holds at once: its slots of the primary, then of the secondary. */
  private readonly held: Int32Array;
  private readonly sectorsPerSlot: number;
  private readonly slotBytes: number;

  constructor(private readonly ctx: MirrorContext) {
    this.bitmaps = new MirrorBitmaps(ctx.mem);
    this.tasks = ctx.mem.tasks;
    this.words = ctx.mem.mirrors.words;
    this.held = new Int32Array(2 * (Math.ceil(ctx.mem.config.maxTransferBytes / ctx.cache.slotBytes) + 1));
    this.sectorsPerSlot = ctx.cache.sectorsPerSlot;
    this.slotBytes = ctx.cache.slotBytes;
  }

  // ---- write 3000 -------------------------------------------------------------------------

  /**
   * Write process 3000 for a host write task to a volume of mirror pair `pair`: the data from
   * buf[bufWord..]. Returns IO_DONE once the data and the bits are in, IO_WAIT / IO_WAIT_PROGRESS
   * when the task waits (held, cache full, slot busy), or WRITE_TO_SECONDARY.
   */
  write(task: number, t: number, pair: number, buf: Int32Array, bufWord: number): number {
    const { mirrors } = this.ctx.mem;
    const volume = this.tasks[t + T.VOLUME]!;
    // 3010: the volume identifies the pair. A write admitted (T.AUX2 = 1) counts in writes_active
    // until its data and bits are in, so a split or resync waits for it.
    if (this.tasks[t + T.AUX2] !== 1) {
      const hold = mirrors.word(pair, MirrorWord.HOLD);
      const active = mirrors.word(pair, MirrorWord.WRITES_ACTIVE);
      if (Atomics.load(this.words, hold) !== 0) return this.waitHeld(t);
      Atomics.add(this.words, active, 1);
      if (Atomics.load(this.words, hold) !== 0) {
        Atomics.sub(this.words, active, 1);
        return this.waitHeld(t);
      }
      this.tasks[t + T.AUX2] = 1;
    }
    // 3020: the pair's state, stable while this write counts in writes_active.
    const state = mirrors.state(pair);
    const primary = mirrors.primaryVolume(pair);
    if (volume !== primary) {
      // A write naming the secondary: only while separated are the two volumes unrelated.
      if (state !== MirrorState.SEPARATED) {
        this.leave(t, pair);
        return WRITE_TO_SECONDARY;
      }
      const r = this.ctx.io.transfer(task, true, volume, this.tasks[t + T.LBA]!, this.tasks[t + T.BYTE_LENGTH]!, buf, bufWord, T.CURSOR);
      if (r !== IO_DONE) return r;
      this.leave(t, pair);
      return IO_DONE;
    }
    const lba = this.tasks[t + T.LBA]!;
    const blocks = this.tasks[t + T.BYTE_LENGTH]! / BLOCK_BYTES;
    const both = state === MirrorState.MIRROR;
    if (!both) {
      // 3040, 3060: separated or split — the primary only, one device write per block.
      const r = this.ctx.io.transfer(task, true, primary, lba, this.tasks[t + T.BYTE_LENGTH]!, buf, bufWord, T.CURSOR);
      if (r !== IO_DONE) return r;
    } else {
      // 3050, 3060: mirror (either sub-state) — both volumes, with every slot of both locked.
      const r = this.landBoth(t, primary, mirrors.secondaryVolume(pair), lba, blocks, buf, bufWord);
      if (r !== IO_DONE) return r;
    }
    // 3070: record the written units of each volume written (primary 230, secondary 240);
    // 3580 (E2b, Fig. 14): only the primary's.
    this.bitmaps.mark(bm(pair, BITMAP_230), lba, blocks);
    if (both && mirrors.embodiment(pair) !== Embodiment.E2B) this.bitmaps.mark(bm(pair, BITMAP_240), lba, blocks);
    this.leave(t, pair);
    return IO_DONE;
  }

  private waitHeld(t: number): number {
    this.tasks[t + T.STATE] = TaskState.WAITING;
    this.tasks[t + T.WAIT] = TaskWait.MIRROR_HOLD;
    this.tasks[t + T.ATTEMPTS] = this.tasks[t + T.ATTEMPTS]! + 1;
    return IO_WAIT;
  }

  private leave(t: number, pair: number): void {
    this.tasks[t + T.AUX2] = 0;
    Atomics.sub(this.words, this.ctx.mem.mirrors.word(pair, MirrorWord.WRITES_ACTIVE), 1);
  }

  /** Lands a write in both volumes' cache with all their slots locked; all or nothing per try. */
  private landBoth(t: number, primary: number, secondary: number, lba: number, blocks: number, buf: Int32Array, bufWord: number): number {
    const { cache, mem, stats } = this.ctx;
    const firstSlot = Math.floor(lba / this.sectorsPerSlot);
    const lastSlot = Math.floor((lba + blocks - 1) / this.sectorsPerSlot);
    let held = 0;
    for (const volume of [primary, secondary]) {
      for (let n = firstSlot; n <= lastSlot; n++) {
        const s = cache.obtain(volume, n, this.hit);
        if (s < 0) return this.release(held, t, TaskWait.CACHE_FULL, Stat.CACHE_FULL_WAITS);
        if (!cache.tryLockSlot(s)) {
          cache.unpin(s);
          return this.release(held, t, TaskWait.SLOT_BUSY, Stat.SLOT_BUSY_WAITS);
        }
        this.held[held++] = s;
      }
    }
    const perVolume = held / 2;
    for (let v = 0; v < 2; v++) {
      let cursor = 0;
      for (let i = 0; i < perVolume; i++) {
        const s = this.held[v * perVolume + i]!;
        const block = lba + cursor / BLOCK_BYTES;
        const sector = block - Math.floor(block / this.sectorsPerSlot) * this.sectorsPerSlot;
        const sectors = Math.min(this.sectorsPerSlot - sector, blocks - cursor / BLOCK_BYTES);
        const words = (sectors * BLOCK_BYTES) >> 2;
        mem.cacheWords.set(buf.subarray(bufWord + (cursor >> 2), bufWord + (cursor >> 2) + words), (s * this.slotBytes + sector * BLOCK_BYTES) >> 2);
        cache.markDirty(s, sector, sectors);
        stats[Stat.WRITE_SLOT_HITS]!++;
        cursor += sectors * BLOCK_BYTES;
      }
    }
    for (let i = 0; i < held; i++) {
      cache.unlockSlot(this.held[i]!);
      cache.unpin(this.held[i]!);
    }
    return IO_DONE;
  }

  private release(held: number, t: number, why: number, counter: number): number {
    for (let i = 0; i < held; i++) {
      this.ctx.cache.unlockSlot(this.held[i]!);
      this.ctx.cache.unpin(this.held[i]!);
    }
    this.ctx.stats[counter]!++;
    this.tasks[t + T.STATE] = TaskState.WAITING;
    this.tasks[t + T.WAIT] = why;
    this.tasks[t + T.ATTEMPTS] = this.tasks[t + T.ATTEMPTS]! + 1;
    return IO_WAIT;
  }

  // ---- split 4000, resync 5000, formation ----------------------------------------------------

  /** Runs a pair's operation (its service task) as far as it can go; R.DONE when it has ended. */
  runOp(t: number): number {
    const { mem, clock } = this.ctx;
    const { mirrors } = mem;
    const pair = this.tasks[t + T.AUX0]!;
    const op = this.tasks[t + T.OPCODE]!;
    const e1 = mirrors.embodiment(pair) === Embodiment.E1;
    const hold = mirrors.word(pair, MirrorWord.HOLD);
    let phase = this.tasks[t + T.PHASE]!;
    if (phase === OpPhase.HOLD) {
      // 4010/4510, 5010/5510: the pair is identified (task field). 4020/4520, 5020/5520: hold writes.
      Atomics.store(this.words, hold, 1);
      this.tasks[t + T.PHASE] = phase = OpPhase.DRAIN;
    }
    if (phase === OpPhase.DRAIN) {
      // The writes already admitted finish first; the ones arriving now wait (TaskWait.MIRROR_HOLD).
      if (Atomics.load(this.words, mirrors.word(pair, MirrorWord.WRITES_ACTIVE)) !== 0) {
        this.tasks[t + T.STATE] = TaskState.WAITING;
        this.tasks[t + T.WAIT] = TaskWait.MIRROR_HOLD;
        return R.WAITING;
      }
      const p230 = bm(pair, BITMAP_230);
      const p240 = bm(pair, BITMAP_240);
      if (op === MirrorOp.SPLIT) {
        // 4030/4530: state := temporarily cancelled (250); this is split Tₖ, k = the new sequence.
        mirrors.setSplitSequence(pair, mirrors.splitSequence(pair) + 1);
        mirrors.setSplitMs(pair, clock.nowMs());
        this.change(pair, MirrorState.SPLIT, MirrorSub.NONE, `split ${mirrors.splitSequence(pair)}`);
        // A split after lost bitmaps (every unit marked) starts a chain that is whole again.
        mirrors.setFlags(pair, mirrors.flags(pair) & ~MirrorFlag.BITMAPS_LOST);
        if (e1) {
          // 4040: initialise 230; 240 is left alone (it already holds the writes since the last split, 5070).
          this.bitmaps.clearAll(p230);
        } else {
          // 4540 then 4550: copy 230 into 240, then initialise 230 — in that order.
          this.bitmaps.copy(p230, p240);
          this.bitmaps.clearAll(p230);
        }
        // 4050/4560: resume writes; they now go to the primary only, into the fresh 230.
        Atomics.store(this.words, hold, 0);
        return this.end(t, pair, MirrorResult.OK);
      }
      if (op === MirrorOp.FORM) {
        // Formation (no flow in the seed): both bitmaps start empty, the whole volume is copied.
        this.bitmaps.clearAll(p230);
        this.bitmaps.clearAll(p240);
      } else if (e1) {
        // 5030: initialise 240.
        this.bitmaps.clearAll(p240);
      }
      // 5040/5530: state := mirror (synchronising); writes are duplicated from now on (3050).
      this.change(pair, MirrorState.MIRROR, MirrorSub.SYNCHRONISING, op === MirrorOp.FORM ? 'form' : 'resync');
      mirrors.setCopiedBlocks(pair, 0);
      // 5050/5540: resume writes.
      Atomics.store(this.words, hold, 0);
      this.tasks[t + T.CURSOR] = 0;
      this.tasks[t + T.PHASE] = phase = OpPhase.COPY;
    }
    if (phase === OpPhase.COPY) {
      // 5060/5550: make the secondary equal to the primary, slot by slot.
      const r = this.copy(t, pair, op === MirrorOp.FORM || (mirrors.flags(pair) & MirrorFlag.FULL_RESYNC) !== 0);
      if (r !== R.DONE) return r;
      this.tasks[t + T.PHASE] = phase = OpPhase.FINISH;
    }
    // 5070 (E1 only): 240 := 230. 240 was cleared at 5030 and since then took exactly the bits
    // 230 took (duplicated writes set both), so 240 ⊆ 230 and OR-ing 230 into it makes them
    // equal without losing a bit a write sets meanwhile.
    if (e1) this.bitmaps.orInto(bm(pair, BITMAP_230), bm(pair, BITMAP_240));
    // 5080/5560: state := mirror (synchronised).
    this.change(pair, MirrorState.MIRROR, MirrorSub.SYNCHRONISED, 'synchronised');
    return this.end(t, pair, MirrorResult.OK);
  }

  /**
   * Copies the slots holding marked units of 230 (delta) or every slot (full) from the
   * primary to the secondary, from the block in T.CURSOR. R.DONE at the end of the volume.
   */
  private copy(t: number, pair: number, full: boolean): number {
    const { cache, mem, stats } = this.ctx;
    const { mirrors } = mem;
    const primary = mirrors.primaryVolume(pair);
    const secondary = mirrors.secondaryVolume(pair);
    const capacity = mem.volumes.capacityBlocks(primary);
    const unit = mirrors.unitBlocks(pair);
    const p230 = bm(pair, BITMAP_230);
    if (this.tasks[t + T.CACHE_SLOT] === STAGE_FAILED) {
      this.tasks[t + T.CACHE_SLOT] = -1;
      // The primary could not be read: the pair stays split (its secondary is no image of anything now).
      this.change(pair, MirrorState.SPLIT, MirrorSub.NONE, 'split (copy failed: the primary could not be staged)');
      return this.end(t, pair, MirrorResult.STAGE_FAILED);
    }
    for (let done = 0; done < COPY_SLOTS_PER_RUN; done++) {
      let block = this.tasks[t + T.CURSOR]!;
      if (!full && block < capacity && !this.bitmaps.isMarked(p230, Math.floor(block / unit))) {
        const next = this.bitmaps.nextMarked(p230, Math.floor(block / unit) + 1);
        block = next < 0 ? capacity : next * unit;
      }
      if (block >= capacity) return R.DONE;
      const n = Math.floor(block / this.sectorsPerSlot);
      const sectors = Math.min(this.sectorsPerSlot, capacity - n * this.sectorsPerSlot);
      const sp = cache.obtain(primary, n, this.hit);
      if (sp < 0) return this.opWait(t, TaskWait.CACHE_FULL, Stat.CACHE_FULL_WAITS, done > 0);
      if (!cache.tryLockSlot(sp)) {
        cache.unpin(sp);
        return this.opWait(t, TaskWait.SLOT_BUSY, Stat.SLOT_BUSY_WAITS, done > 0);
      }
      if (!cache.allValid(sp, 0, sectors)) {
        // The primary's slot must be whole before it is copied: a disk adapter stages it.
        cache.unlockSlot(sp);
        const da = diskAdapterFor(mem.config.channelAdapters, mem.config.diskAdapters, sp);
        const task = (t - this.ctx.taskBase) / TASK_WORDS;
        if (!mem.mailboxes[da]!.tryPush(Msg.STAGE, this.ctx.processorId, task, sp, 0, 0)) {
          cache.unpin(sp);
          stats[Stat.MAILBOX_FULL]!++;
          return this.opWait(t, TaskWait.SLOT_BUSY, Stat.SLOT_BUSY_WAITS, done > 0);
        }
        mem.doorbells.ring(da);
        stats[Stat.STAGE_REQUESTS]!++;
        this.tasks[t + T.CACHE_SLOT] = sp;
        this.tasks[t + T.STATE] = TaskState.WAITING;
        this.tasks[t + T.WAIT] = TaskWait.STAGE;
        return done > 0 ? R.PROGRESS : R.WAITING;
      }
      const ss = cache.obtain(secondary, n, this.hit);
      if (ss < 0) {
        cache.unlockSlot(sp);
        cache.unpin(sp);
        return this.opWait(t, TaskWait.CACHE_FULL, Stat.CACHE_FULL_WAITS, done > 0);
      }
      if (!cache.tryLockSlot(ss)) {
        cache.unpin(ss);
        cache.unlockSlot(sp);
        cache.unpin(sp);
        return this.opWait(t, TaskWait.SLOT_BUSY, Stat.SLOT_BUSY_WAITS, done > 0);
      }
      const words = (sectors * BLOCK_BYTES) >> 2;
      mem.cacheWords.copyWithin((ss * this.slotBytes) >> 2, (sp * this.slotBytes) >> 2, ((sp * this.slotBytes) >> 2) + words);
      cache.markDirty(ss, 0, sectors);
      cache.unlockSlot(ss);
      cache.unpin(ss);
      cache.unlockSlot(sp);
      cache.unpin(sp);
      mirrors.setCopiedBlocks(pair, mirrors.copiedBlocks(pair) + sectors);
      this.tasks[t + T.CURSOR] = (n + 1) * this.sectorsPerSlot;
    }
    this.tasks[t + T.STATE] = TaskState.READY;
    return R.PROGRESS;
  }

  private opWait(t: number, why: number, counter: number, progressed: boolean): number {
    this.ctx.stats[counter]!++;
    this.tasks[t + T.STATE] = TaskState.WAITING;
    this.tasks[t + T.WAIT] = why;
    return progressed ? R.PROGRESS : R.WAITING;
  }

  /** Every state change goes through here, and is traced the way an operator reads it. */
  private change(pair: number, state: number, sub: number, why: string): void {
    const { mirrors } = this.ctx.mem;
    const from = `${MIRROR_STATE_NAME[mirrors.state(pair)]}${mirrors.subState(pair) ? `/${MIRROR_SUB_NAME[mirrors.subState(pair)]}` : ''}`;
    mirrors.setState(pair, state as 0 | 1 | 2 | 3, sub);
    const to = `${MIRROR_STATE_NAME[state]}${sub ? `/${MIRROR_SUB_NAME[sub]}` : ''}`;
    this.ctx.trace?.(`mirror ${pair} (${EMBODIMENT_NAME[mirrors.embodiment(pair)]}): ${from} -> ${to} (${why})`);
  }

  /** Ends the operation: the task is freed before the operation word is, so the next starter finds it free. */
  private end(t: number, pair: number, result: number): number {
    const { mirrors } = this.ctx.mem;
    mirrors.setLastResult(pair, result);
    Atomics.store(this.words, mirrors.word(pair, MirrorWord.HOLD), 0);
    this.tasks[t + T.WAIT] = TaskWait.NONE;
    this.tasks[t + T.CACHE_SLOT] = -1;
    Atomics.store(this.tasks, t + T.STATE, TaskState.FREE);
    Atomics.add(this.words, mirrors.word(pair, MirrorWord.OPERATIONS_DONE), 1);
    Atomics.store(this.words, mirrors.word(pair, MirrorWord.OPERATION), MirrorOp.NONE);
    return R.DONE;
  }

  /**
   * True while one of this adapter's mirror operations has writes held (before its copy starts).
   * Power-off waits for it: the held writes, maybe on other adapters, complete only after it.
   * An operation in its copy phase holds nothing and is started again at the next boot.
   */
  holdsWrites(): boolean {
    const { mem } = this.ctx;
    for (let pair = 1; pair < mem.mirrors.count; pair++) {
      const t = mem.taskWord(this.ctx.processorId, mem.geometry.mirrorTaskBase + pair - 1);
      if (this.tasks[t + T.STATE] !== TaskState.FREE && this.tasks[t + T.PHASE]! < OpPhase.COPY) return true;
    }
    return false;
  }

  // ---- update information transfer 6000, dump read 7000 ------------------------------------

  /**
   * 6010/6020: copies bytes [byteOffset, +byteLength) of the pair's 240 into out[at..]. The
   * named volume may be either member. Nothing is modified.
   */
  updateInfo(pair: number, byteOffset: number, byteLength: number, out: Uint8Array, at: number): void {
    this.bitmaps.read(bm(pair, BITMAP_240), byteOffset, byteLength, out, at);
  }

  /** 7010: the volume a dump read of `pair` reads — always the secondary (7020). */
  dumpReadVolume(pair: number, blocks: number): number {
    const { mirrors } = this.ctx.mem;
    Atomics.add(this.words, mirrors.word(pair, MirrorWord.DUMP_READ_BLOCKS), blocks);
    return mirrors.secondaryVolume(pair);
  }
}

