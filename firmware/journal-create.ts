// Journal creation (seed 000 §5.4, Fig. 13, S1310–S1390; seed 002 §7.4, steps 1305–1390):
// the journal hot path. Under the group's lock it checks the journal volume, the pair's
// initial-copy progress and the space left in every pointer set, then takes the update number
// and the update-information and write-data positions and advances the newest pointers of all
// sets together. Moving the bytes (write data, then the update information last, which marks
// the journal complete) happens after the lock is released, in the calling task.
//
// When the journal cannot take a write the seeds leave the outcome open (seed 000 §6.3); this
// model suspends the group's pairs (pair state 異常, reason "journal full") and from then on
// records writes in each primary volume's update bitmap for a later delta resync. Journals
// created before the suspension stay and are still sent, so the secondary stays a consistent
// prefix and no acknowledged write is lost.

import { UpdateBitmaps } from './bitmap.ts';
import { BLOCK_BYTES } from './config.ts';
import { UI_SLOT_BYTES, advanceUi, advanceWd, uiFits, wdFits, type RingGeometry } from './journal-ring.ts';
import type { ControlMemory } from './layout.ts';
import { GroupState, SUSPEND_REASON_NAME, SuspendReason } from './structs/group-info.ts';
import { PAIR_STATE_NAME, PairFlag, PairState } from './structs/pair-info.ts';
import { VolumeState } from './structs/volume-info.ts';

export const Journal = {
  /** S1335: no journal — initial copy (or resync) will copy this area later. */
  NOT_NEEDED: 0,
  /** S1350: a journal was reserved; `out` says where. */
  RESERVED: 1,
  /** The pair is suspended: the write was recorded in the update bitmap. */
  SUSPENDED: 2,
  /** S1315: the journal volume is abnormal; the group became abnormal and the pairs suspended. */
  JOURNAL_VOLUME_FAILED: 3,
  /** A synchronous pair (embodiment 2's upstream copy): no journal; the write is forwarded. */
  FORWARD: 5,
  /** S1390: no space. In host-write mode the group's pairs were suspended (journal full) and
   *  the write recorded; in copy mode nothing changed and the copy waits for space. */
  FULL: 4,
} as const;

export interface Reservation {
  updateNumber: number;
  journalVolume: number;
  uiPosition: number;
  wdPosition: number;
}

export class JournalCreation {
  private readonly bitmaps: UpdateBitmaps;
  private readonly geometry: RingGeometry = { uiHead: 0, wdHead: 0, capacity: 0 };

  constructor(private readonly mem: ControlMemory, private readonly trace: (line: string) => void) {
    this.bitmaps = new UpdateBitmaps(mem);
  }

  /** Host-write mode (S1330–S1360) for a write of `blocks` at `block` of the pair's primary volume. */
  reserveForWrite(pair: number, block: number, blocks: number, out: Reservation): number {
    return this.reserve(pair, block, blocks, blocks * BLOCK_BYTES, false, out);
  }

  /**
   * Host-write mode with the write-data size in the journal's own address units — what the
   * seeds' worked examples use (a 100-unit write, 100-unit update information).
   */
  reserveBytes(pair: number, block: number, dataBytes: number, out: Reservation): number {
    return this.reserve(pair, block, Math.max(1, Math.ceil(dataBytes / BLOCK_BYTES)), dataBytes, false, out);
  }

  /** Initial-copy mode (S1370–S1385): update information only, no write-data space. */
  reserveForCopy(pair: number, block: number, blocks: number, out: Reservation, startTrack = -1): number {
    return this.reserve(pair, block, blocks, 0, true, out, startTrack);
  }

  private reserve(pair: number, block: number, blocks: number, dataBytes: number, copyMode: boolean, out: Reservation, startTrack = -1): number {
    const { mem } = this;
    const group = mem.pairs.groupNumber(pair);
    const volume = mem.pairs.primaryVolume(pair);
    if ((mem.pairs.flags(pair) & PairFlag.SYNC) !== 0) {
      // A synchronous pair has no journal: the caller forwards the write, or, suspended, the
      // write is remembered for a later copy.
      if (mem.pairs.state(pair) === PairState.NORMAL) return Journal.FORWARD;
      this.bitmaps.mark(volume, block, blocks);
      return Journal.SUSPENDED;
    }
    const lock = mem.lockMap.groupBase + group;
    mem.locks.lock(lock);
    try {
      const pairState = mem.pairs.state(pair);
      // A suspended pair keeps the primary writable and remembers what changed.
      if (!copyMode && pairState === PairState.ABNORMAL) {
        this.bitmaps.mark(volume, block, blocks);
        return Journal.SUSPENDED;
      }
      // S1310/S1315: the journal volume must be usable.
      const journalVolume = mem.groups.journalVolume(group, 0);
      // Before S920 (which may come after S910) nothing has started copying: no journal needed.
      if (journalVolume === 0 && !copyMode && pairState === PairState.NOT_COPIED) return Journal.NOT_NEEDED;
      if (journalVolume === 0 || mem.volumes.state(journalVolume) === VolumeState.ABNORMAL) {
        if (mem.groups.state(group) === GroupState.NORMAL) {
          mem.groups.setState(group, GroupState.ABNORMAL);
          this.trace(`group ${group}: normal -> abnormal (journal volume ${journalVolume} is abnormal, S1315)`);
        }
        this.suspendGroup(group, SuspendReason.JOURNAL_VOLUME);
        this.bitmaps.mark(volume, block, blocks);
        return Journal.JOURNAL_VOLUME_FAILED;
      }
      if (!copyMode) {
        // S1330/S1335: an area initial copy has not reached yet needs no journal.
        if (pairState === PairState.NOT_COPIED) return Journal.NOT_NEEDED;
        if (pairState === PairState.COPYING) {
          if ((mem.pairs.flags(pair) & PairFlag.RESYNC) !== 0) {
            // Delta resync: only when every track the write touches is still marked will all of
            // it be copied later (after this write); otherwise it needs its own journal.
            if (this.bitmaps.allMarked(volume, block, blocks)) return Journal.NOT_NEEDED;
          } else if (mem.pairs.copiedBlocks(pair) <= block) {
            return Journal.NOT_NEEDED; // ERRATUM 5 of seed 000 §11: "≤ ⇒ skip", "> ⇒ journal"
          }
        }
      }
      // S1340/S1345/S1346 (S1370 in copy mode): space in every pointer set of the group.
      const readersMax = mem.config.readersMax;
      let sets = 0;
      let first = -1;
      for (let r = 0; r < readersMax; r++) {
        const s = group * readersMax + r;
        if (mem.pointers.groupNumber(s) !== group) continue;
        sets++;
        if (first < 0) first = s;
        this.loadGeometry(s);
        const p = mem.pointers;
        if (!uiFits(p.get(s, 'ui_newest'), p.get(s, 'ui_oldest'), this.geometry) ||
          (!copyMode && !wdFits(p.get(s, 'wd_newest'), p.get(s, 'wd_oldest'), dataBytes, this.geometry))) {
          // S1390: journal creation failure. No update number is used, no pointer moves.
          // Initial copy and resync only wait for space (seed 000 §6.3's suggestion): the data
          // they would send is still on the primary volume.
          if (copyMode) return Journal.FULL;
          this.suspendGroup(group, SuspendReason.JOURNAL_FULL);
          this.bitmaps.mark(volume, block, blocks);
          return Journal.FULL;
        }
      }
      if (sets === 0) {
        // A group without a registered journal volume set cannot journal: treat as a failed journal volume.
        this.suspendGroup(group, SuspendReason.JOURNAL_VOLUME);
        if (!copyMode) this.bitmaps.mark(volume, block, blocks);
        return Journal.JOURNAL_VOLUME_FAILED;
      }
      // S1350/S1380: assign the current update number, then advance it; take the newest
      // positions of the first set (all sets agree) and advance every set's newest pointers.
      const n = mem.groups.updateNumber(group);
      mem.groups.setUpdateNumber(group, n + 1);
      mem.groups.addF64(group, 'journals_created', 1);
      this.loadGeometry(first);
      out.updateNumber = n;
      out.journalVolume = journalVolume;
      out.uiPosition = mem.pointers.get(first, 'ui_newest');
      out.wdPosition = copyMode ? block * BLOCK_BYTES : mem.pointers.get(first, 'wd_newest');
      if (copyMode) {
        // S1050 happens here, under the lock that host writes take for S1330: a write that sees
        // the new copied address is numbered after this journal, so the secondary gets it.
        if ((mem.pairs.flags(pair) & PairFlag.RESYNC) === 0) mem.pairs.setCopiedBlocks(pair, block + blocks);
        else if (startTrack >= 0) {
          // Resync: the track's bit is cleared as its first unit is journaled, and the track in
          // progress is remembered so a suspension can mark it again.
          this.bitmaps.clear(volume, startTrack);
          mem.pairs.setCopiedBlocks(pair, startTrack * this.bitmaps.trackBlocks(volume));
        }
      }
      for (let r = 0; r < readersMax; r++) {
        const s = group * readersMax + r;
        if (mem.pointers.groupNumber(s) !== group) continue;
        mem.pointers.set(s, 'ui_newest', advanceUi(mem.pointers.get(s, 'ui_newest'), 1, this.geometry));
        if (!copyMode) mem.pointers.set(s, 'wd_newest', advanceWd(mem.pointers.get(s, 'wd_newest'), dataBytes, this.geometry));
      }
      return Journal.RESERVED;
    } finally {
      mem.locks.unlock(lock);
    }
  }

  /** Records a write that could not be copied in its volume's update bitmap. */
  suspendedWrite(volume: number, block: number, blocks: number): void {
    this.bitmaps.mark(volume, block, blocks);
  }

  /** Suspends every pair of a primary group (caller holds the group lock). */
  suspendGroup(group: number, reason: number): void {
    const { mem } = this;
    let changed = 0;
    for (let i = 0; i < mem.groups.pairCount(group); i++) {
      const pair = mem.groups.pairAt(group, i);
      const state = mem.pairs.state(pair);
      if (state === PairState.ABNORMAL || state === PairState.UNUSED) continue;
      // A pair that had not finished its (re)copy must copy everything it had not reached again.
      const volume = mem.pairs.primaryVolume(pair);
      const capacity = mem.volumes.capacityBlocks(volume);
      if (state === PairState.NOT_COPIED || (state === PairState.COPYING && (mem.pairs.flags(pair) & PairFlag.RESYNC) === 0)) {
        const from = state === PairState.NOT_COPIED ? 0 : mem.pairs.copiedBlocks(pair);
        if (from < capacity) this.bitmaps.mark(volume, from, capacity - from);
      } else if (state === PairState.COPYING) {
        // Resync: the track in progress (its bit already cleared) is copied again next time.
        const from = mem.pairs.copiedBlocks(pair);
        if (from < capacity) this.bitmaps.mark(volume, from, Math.min(this.bitmaps.trackBlocks(volume), capacity - from));
      }
      mem.pairs.transition(pair, PairState.ABNORMAL);
      mem.pairs.setFlags(pair, mem.pairs.flags(pair) & ~PairFlag.RESYNC);
      this.trace(`pair ${pair}: ${PAIR_STATE_NAME[state]} -> abnormal (${SUSPEND_REASON_NAME[reason]})`);
      changed++;
    }
    if (changed > 0 || mem.groups.u8(group, 'suspend_reason') === SuspendReason.NONE) mem.groups.setU8(group, 'suspend_reason', reason);
  }

  private loadGeometry(s: number): void {
    const p = this.mem.pointers;
    this.geometry.uiHead = p.get(s, 'ui_head');
    this.geometry.wdHead = p.get(s, 'wd_head');
    this.geometry.capacity = p.get(s, 'capacity_bytes');
    this.geometry.uiSlot = p.uiSlotBytes(s) || UI_SLOT_BYTES;
  }
}

