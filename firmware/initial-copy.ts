// Initial copy (seed 000 §5.2, Fig. 10, S1010–S1070; seed 002 §7.2), delta resync, and the
// primary group's watch over its readers — one task per primary group.
//
//   PICK     S1010/S1020 a pair in コピー未 (or one waiting for resync) becomes コピー中; S1030 none left
//   COPY     S1040 an initial-copy journal for one unit at the copied address (update information
//            only: its write data is read from the primary volume when sent); S1050 advance;
//            S1060 until the capacity; S1070 the pair becomes 正常
//            — in resync mode the unit is the next marked track of the update bitmap instead
//   WATCH    every WATCH_MS: a reader silent for link_timeout_ms suspends the pairs (link failure);
//            once the reader is back, or an operator asked for it, a delta resync starts
// A journal-full answer while copying suspends the group (journal-create.ts); the copy then
// resumes by resync once space is back and resync is requested.

import { UpdateBitmaps } from './bitmap.ts';
import { BLOCK_BYTES } from './config.ts';
import { IO_DONE, IO_WAIT } from './cache-io.ts';
import { pairsIn, ready, sleepUntil, startService, suspendedWithoutStorage, taskWord, type CopyContext } from './copy-context.ts';
import { Journal, type Reservation } from './journal-create.ts';
import { UI_SLOT_BYTES } from './journal-ring.ts';
import { GroupFlag, GroupState, SUSPEND_REASON_NAME, SuspendReason } from './structs/group-info.ts';
import { PAIR_STATE_NAME, PairFlag, PairState } from './structs/pair-info.ts';
import { GroupService, TaskF64 as F, TaskKind, TaskWord as T } from './structs/task.ts';
import { encodeUpdateInfo } from './structs/update-info-codec.ts';
import { UPDATE_INFO_FLAG_INITIAL_COPY } from './structs/update-info.ts';
import { Run } from './command-receive.ts';

export const CopyPhase = { PICK: 0, COPY: 1, WRITE_UI: 2, WATCH: 3 } as const;

/** How often a primary group checks on its readers when nothing is being copied. */
export const WATCH_MS = 50;
/** How long initial copy or resync waits when the journal has no room for its next journal. */
export const FULL_RETRY_MS = 2;

const W_PAIR = T.PAIR;
const W_TRACK = T.AUX0; // resync: the track being copied, -1 when none
const W_IN_TRACK = T.AUX2; // resync: blocks of the track already journaled
const W_BLOCKS = T.BYTE_LENGTH; // blocks of the journal being created

export class InitialCopy {
  private readonly bitmaps: UpdateBitmaps;
  private readonly reservation: Reservation = { updateNumber: 0, journalVolume: 0, uiPosition: 0, wdPosition: 0 };

  constructor(private readonly ctx: CopyContext) {
    this.bitmaps = new UpdateBitmaps(ctx.mem);
  }

  taskOf(group: number): number {
    return this.ctx.mem.serviceTask(group, GroupService.INITIAL_COPY);
  }

  /** S930: start copying a primary group (called by the maintenance port). */
  static start(tasks: Int32Array, t: number, group: number): void {
    tasks[t + W_PAIR] = 0;
    startService(tasks, t, TaskKind.INITIAL_COPY, group, CopyPhase.PICK);
  }

  resume(task: number): number {
    const { mem } = this.ctx;
    const t = taskWord(this.ctx, task);
    const group = mem.tasks[t + T.GROUP]!;
    const phase = mem.tasks[t + T.PHASE]!;
    if (phase === CopyPhase.PICK) return this.pick(t, group);
    if (phase === CopyPhase.COPY) return this.copy(t, group);
    if (phase === CopyPhase.WRITE_UI) return this.writeUi(task, t, group);
    return this.watch(t, group);
  }

  /** S1010–S1030. */
  private pick(t: number, group: number): number {
    const { mem } = this.ctx;
    const lock = mem.lockMap.groupBase + group;
    mem.locks.lock(lock);
    let chosen = 0;
    try {
      for (let i = 0; i < mem.groups.pairCount(group) && chosen === 0; i++) {
        const pair = mem.groups.pairAt(group, i);
        const state = mem.pairs.state(pair);
        if (state === PairState.COPYING) chosen = pair; // resumed after a pause
        else if (state === PairState.NOT_COPIED) {
          mem.pairs.transition(pair, PairState.COPYING);
          mem.pairs.setCopiedBlocks(pair, 0);
          this.ctx.trace(`pair ${pair}: not-copied -> copying (initial copy, S1020)`);
          chosen = pair;
        }
      }
    } finally {
      mem.locks.unlock(lock);
    }
    if (chosen === 0) {
      // S1030: nothing left to copy; watch the readers. No pair is being worked on any more
      // (deletePair looks for tasks naming its pair).
      mem.tasks[t + W_PAIR] = 0;
      mem.tasks[t + T.PHASE] = CopyPhase.WATCH;
      sleepUntil(this.ctx, t, this.ctx.clock.nowMs() + WATCH_MS);
      return Run.WAITING;
    }
    mem.tasks[t + W_PAIR] = chosen;
    mem.tasks[t + W_TRACK] = -1;
    mem.tasks[t + W_IN_TRACK] = 0;
    ready(this.ctx, t, CopyPhase.COPY);
    return Run.PROGRESS;
  }

  /** S1040: create the next initial-copy journal (or resync journal) of the pair. */
  private copy(t: number, group: number): number {
    const { mem } = this.ctx;
    const pair = mem.tasks[t + W_PAIR]!;
    if (mem.pairs.state(pair) !== PairState.COPYING) {
      ready(this.ctx, t, CopyPhase.PICK); // suspended meanwhile (journal full, link failure)
      return Run.PROGRESS;
    }
    const volume = mem.pairs.primaryVolume(pair);
    const capacity = mem.volumes.capacityBlocks(volume);
    let block: number;
    let blocks: number;
    const unit = Math.max(1, mem.groups.u32(group, 'initial_copy_blocks'));
    const resync = (mem.pairs.flags(pair) & PairFlag.RESYNC) !== 0;
    if (resync) {
      // A marked track is copied in units of at most one initial-copy unit. Its bit is cleared
      // when its first unit is journaled: a host write after that is journaled itself.
      const trackBlocks = this.bitmaps.trackBlocks(volume);
      let track = mem.tasks[t + W_TRACK]!;
      if (track < 0 || mem.tasks[t + W_IN_TRACK]! >= Math.min(trackBlocks, capacity - track * trackBlocks)) {
        track = this.bitmaps.nextMarked(volume, track < 0 ? 0 : track + 1);
        if (track < 0) return this.pairDone(t, group, pair, 'resync');
        mem.tasks[t + W_TRACK] = track;
        mem.tasks[t + W_IN_TRACK] = 0;
      }
      block = track * trackBlocks + mem.tasks[t + W_IN_TRACK]!;
      blocks = Math.min(unit, trackBlocks - mem.tasks[t + W_IN_TRACK]!, capacity - block);
    } else {
      block = mem.pairs.copiedBlocks(pair);
      // S1060/S1070: the copied address reached the capacity.
      if (block >= capacity) return this.pairDone(t, group, pair, 'initial copy');
      blocks = Math.min(unit, capacity - block); // the last unit is clamped (seed 000 §5.2 interp.)
    }
    const startTrack = resync && mem.tasks[t + W_IN_TRACK] === 0 ? mem.tasks[t + W_TRACK]! : -1;
    const outcome = this.ctx.journals.reserveForCopy(pair, block, blocks, this.reservation, startTrack);
    if (outcome === Journal.FULL) {
      // S1390 in copy mode: nothing advanced; wait for the secondary to free journal space.
      sleepUntil(this.ctx, t, this.ctx.clock.nowMs() + FULL_RETRY_MS);
      return Run.WAITING;
    }
    if (outcome !== Journal.RESERVED) {
      ready(this.ctx, t, CopyPhase.PICK); // suspended meanwhile (journal volume failure)
      return Run.PROGRESS;
    }
    const f = t >> 1;
    mem.taskFloats[f + F.UPDATE_NUMBER] = this.reservation.updateNumber;
    mem.taskFloats[f + F.UI_POSITION] = this.reservation.uiPosition;
    mem.tasks[t + T.AUX1] = this.reservation.journalVolume;
    mem.tasks[t + T.LBA] = block;
    mem.tasks[t + W_BLOCKS] = blocks;
    mem.tasks[t + T.CURSOR] = 0;
    ready(this.ctx, t, CopyPhase.WRITE_UI);
    return Run.PROGRESS;
  }

  /** S1380/S1385: the update information of the initial-copy journal; then S1050. */
  private writeUi(task: number, t: number, group: number): number {
    const { mem } = this.ctx;
    const f = t >> 1;
    const pair = mem.tasks[t + W_PAIR]!;
    const volume = mem.pairs.primaryVolume(pair);
    const block = mem.tasks[t + T.LBA]!;
    const blocks = mem.tasks[t + W_BLOCKS]!;
    const scratch = mem.scratchOffset(this.ctx.processorId, task);
    if (mem.tasks[t + T.CURSOR] === 0) {
      mem.scratchBytes.fill(0, scratch, scratch + UI_SLOT_BYTES);
      encodeUpdateInfo(mem.scratchView, mem.scratchBytes, scratch, {
        flags: UPDATE_INFO_FLAG_INITIAL_COPY,
        receiveMs: this.ctx.clock.nowMs(),
        updateNumber: mem.taskFloats[f + F.UPDATE_NUMBER]!,
        groupNumber: group,
        targetVolume: volume,
        targetBlock: block,
        dataBlocks: blocks,
        // The write data is the primary volume's own blocks, read when the journal is sent.
        dataVolume: volume,
        dataChecksum: 0,
        dataPosition: block * BLOCK_BYTES,
      });
    }
    const r = this.ctx.io.transfer(task, true, mem.tasks[t + T.AUX1]!, mem.taskFloats[f + F.UI_POSITION]! / BLOCK_BYTES, UI_SLOT_BYTES, mem.scratch, scratch >> 2, T.CURSOR);
    if (r !== IO_DONE) return r === IO_WAIT ? Run.WAITING : Run.PROGRESS;
    mem.tasks[t + T.CURSOR] = 0;
    // S1050 (the copied address) moved when the journal was reserved; a resync moves through its track.
    if ((mem.pairs.flags(pair) & PairFlag.RESYNC) !== 0) mem.tasks[t + W_IN_TRACK] = mem.tasks[t + W_IN_TRACK]! + blocks;
    ready(this.ctx, t, CopyPhase.COPY);
    return Run.PROGRESS;
  }

  /** True if some link to `system` is up. */
  private linkUp(system: number): boolean {
    for (const l of this.ctx.mem.config.links) if (l.peerSystem === system && this.ctx.links.get(l.number)?.isUp()) return true;
    return false;
  }

  /** S1070: the pair is copied; pick the next one. */
  private pairDone(t: number, group: number, pair: number, what: string): number {
    const { mem } = this.ctx;
    const lock = mem.lockMap.groupBase + group;
    mem.locks.lock(lock);
    if (mem.pairs.state(pair) === PairState.COPYING) {
      mem.pairs.transition(pair, PairState.NORMAL);
      mem.pairs.setFlags(pair, mem.pairs.flags(pair) & ~PairFlag.RESYNC);
      this.ctx.trace(`pair ${pair}: copying -> normal (${what} complete, S1070)`);
    }
    if (pairsIn(mem, group, PairState.NORMAL) === mem.groups.pairCount(group)) mem.groups.setU8(group, 'suspend_reason', SuspendReason.NONE);
    mem.locks.unlock(lock);
    ready(this.ctx, t, CopyPhase.PICK);
    return Run.PROGRESS;
  }

  /** Watches the readers: suspend on silence, resync when asked or when a silent reader is back. */
  private watch(t: number, group: number): number {
    const { mem } = this.ctx;
    const now = this.ctx.clock.nowMs();
    if (mem.groups.state(group) !== GroupState.NORMAL) {
      sleepUntil(this.ctx, t, now + WATCH_MS);
      return Run.WAITING;
    }
    // A reader counts as lost when it has not read for link_timeout_ms and its link is down. A
    // reader that is silent on a working link (holding a batch, say) is not a link failure; one
    // lost reader among several leaves the others copying, and its unread journals fill the
    // journal in the end (seed 002 §9 item 13).
    const timeout = mem.groups.u32(group, 'link_timeout_ms');
    const readersMax = mem.config.readersMax;
    let readers = 0;
    let lost = 0;
    for (let r = 0; r < readersMax; r++) {
      const s = group * readersMax + r;
      if (mem.pointers.groupNumber(s) !== group || mem.pointers.readerSystem(s) === 0) continue;
      readers++;
      if (timeout > 0 && now - mem.pointers.get(s, 'last_read_ms') > timeout && !this.linkUp(mem.pointers.readerSystem(s))) lost++;
    }
    const silent = readers > 0 && lost === readers;
    const reason = mem.groups.u8(group, 'suspend_reason');
    const lock = mem.lockMap.groupBase + group;
    if (silent && reason === SuspendReason.NONE && pairsIn(mem, group, PairState.NORMAL, PairState.COPYING) > 0) {
      mem.locks.lock(lock);
      this.ctx.trace(`group ${group}: no journal read for more than ${timeout} ms; suspending`);
      this.ctx.journals.suspendGroup(group, SuspendReason.LINK);
      mem.locks.unlock(lock);
    }
    // A pair whose primary volume has no storage (a journal-only intermediate, seed 000
    // embodiment 3) cannot be resynchronised from here: it stays suspended.
    const resync = (mem.groups.hasFlag(group, GroupFlag.RESYNC_PENDING) || (reason === SuspendReason.LINK && !silent)) && suspendedWithoutStorage(mem, group) === 0;
    if (resync && pairsIn(mem, group, PairState.ABNORMAL) > 0) {
      mem.locks.lock(lock);
      mem.groups.setFlag(group, GroupFlag.RESYNC_PENDING, false);
      for (let i = 0; i < mem.groups.pairCount(group); i++) {
        const pair = mem.groups.pairAt(group, i);
        if (mem.pairs.state(pair) !== PairState.ABNORMAL) continue;
        mem.pairs.setFlags(pair, mem.pairs.flags(pair) | PairFlag.RESYNC);
        mem.pairs.transition(pair, PairState.COPYING);
        this.ctx.trace(`pair ${pair}: ${PAIR_STATE_NAME[PairState.ABNORMAL]} -> copying (delta resync of ${this.bitmaps.count(mem.pairs.primaryVolume(pair))} tracks after ${SUSPEND_REASON_NAME[reason]})`);
      }
      mem.locks.unlock(lock);
      ready(this.ctx, t, CopyPhase.PICK);
      return Run.PROGRESS;
    }
    mem.groups.setFlag(group, GroupFlag.RESYNC_PENDING, false);
    if (pairsIn(mem, group, PairState.NOT_COPIED, PairState.COPYING) > 0) {
      ready(this.ctx, t, CopyPhase.PICK);
      return Run.PROGRESS;
    }
    sleepUntil(this.ctx, t, now + WATCH_MS);
    return Run.WAITING;
  }
}
