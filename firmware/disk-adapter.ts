// Disk adapter (120): a processor that moves data between cache memory and the drives.
//
// Each loop iteration (step):
//   1. stage requests from channel adapters are served (read/write processing 220, stage);
//      a request for a slot whose lock is busy is deferred to the next iteration;
//   2. replies that found the requester's mailbox full are sent again;
//   3. a destage pass over this adapter's share of the cache slots (slot % diskAdapters)
//      writes dirty slots to their drives, at most destageBatchSlots per iteration; a written
//      slot stays UNFLUSHED (not evictable) until the adapter has flushed its drive.
// At power-off the adapter keeps destaging until every channel adapter has finished and its
// slots are clean and flushed, then flushes its drives. A new adapter attaching after a reset
// takes over the stage requests and unflushed slots its predecessor left (takeOver).

import { DriveStatus, type Drive } from '../hal/drive.ts';
import { assert } from './assert.ts';
import { Cache } from './cache.ts';
import { RunState, SystemWord, markFinished, type ControlMemory } from './layout.ts';
import { MAILBOX_ENTRY_WORDS } from '../hal/mailbox.ts';
import { Msg, MsgStatus, diskAdapterFor } from './messages.ts';
import { stageWaitSlot } from './structs/task.ts';
import type { Platform, Processor } from './platform.ts';
import { stageSlot, writeDirtySectors, type Transferred } from './read-write.ts';
import { STAT_COUNTERS_PER_PROCESSOR, Stat } from './structs/statistics.ts';
import { VOLUME_STATE_NAME, VolumeState } from './structs/volume-info.ts';

const IDLE_SLEEP_MS = 20;
/** Destaged slots a disk adapter lets wait for one flush at most (16 MiB of 64 KiB slots). */
const FLUSH_PENDING_SLOTS = 256;
const BUSY_RETRY_MS = 1;

export class DiskAdapter implements Processor {
  readonly kind = 'disk-adapter' as const;
  readonly processorId: number;
  private readonly mem: ControlMemory;
  private readonly cache: Cache;
  private readonly drives: ReadonlyMap<number, Drive>;
  private readonly stats: Float64Array;
  private readonly index: number;
  private readonly scratch = new Int32Array(MAILBOX_ENTRY_WORDS);
  private readonly transferred: Transferred = { blocks: 0, drive: null };
  /** Slots of this share written to their drives and not yet flushed (SLOT_FLAG_UNFLUSHED). */
  private readonly pending: Int32Array;
  private pendingCount = 0;
  /** Drives written since the last flush (reused, so a pass allocates nothing once warm). */
  private readonly pendingDrives: Drive[] = [];
  /** Drives whose last flush failed (reused). */
  private readonly failedFlushes: Drive[] = [];
  /** UNFLUSHED slots whose drive failed to flush, waiting for their slot lock to become dirty again. */
  private readonly lost: Int32Array;
  private lostCount = 0;
  /** Unflushed slots at which a pass flushes even with dirty slots left to write. */
  private readonly flushThreshold: number;
  /** Deferred work, fixed size: [kind, from, task, slot, status, pending-as-reply]. */
  private readonly deferred: Int32Array;
  private deferredCount = 0;
  /** Stage requests a reset predecessor may have taken and lost: [from, task, slot] triples. */
  private inherited: number[] = [];
  private readonly deferredMax: number;
  private dirtyInShare = 0;
  private done = false;

  constructor(private readonly platform: Platform) {
    this.mem = platform.mem;
    this.processorId = platform.processorId;
    const { config } = this.mem;
    assert(this.processorId >= config.channelAdapters && this.processorId < this.mem.geometry.processors, `processor ${this.processorId} is not a disk adapter`);
    this.index = this.processorId - config.channelAdapters;
    this.cache = new Cache(this.mem);
    this.drives = platform.drives;
    this.stats = this.mem.statistics.subarray(this.processorId * STAT_COUNTERS_PER_PROCESSOR, (this.processorId + 1) * STAT_COUNTERS_PER_PROCESSOR);
    this.deferredMax = config.mailboxCapacity;
    this.deferred = new Int32Array(this.deferredMax * 6);
    const shareSlots = Math.ceil(this.cache.slotCount / config.diskAdapters);
    this.pending = new Int32Array(shareSlots);
    this.lost = new Int32Array(shareSlots);
    this.flushThreshold = Math.max(1, Math.min(FLUSH_PENDING_SLOTS, Math.floor(shareSlots / 4)));
    this.takeOver();
  }

  step(): number {
    let work = 0;
    this.stats[Stat.LOOP_ITERATIONS]!++;
    work += this.retryDeferred();
    if (this.inherited.length > 0) work += this.serveInherited();
    const mailbox = this.mem.mailboxes[this.processorId]!;
    while (this.deferredCount < this.deferredMax && mailbox.tryPop(this.scratch)) {
      work++;
      this.onMessage(this.scratch[0]!, this.scratch[1]!, this.scratch[2]!, this.scratch[3]!);
    }
    work += this.destagePass();
    if (!this.done && Atomics.load(this.mem.system, SystemWord.RUN_STATE) >= RunState.STOPPING &&
      Atomics.load(this.mem.system, SystemWord.CHANNEL_ADAPTERS_FINISHED) >= this.mem.config.channelAdapters &&
      this.deferredCount === 0 && this.dirtyInShare === 0 && this.pendingCount === 0 && this.lostCount === 0 && work === 0) {
      this.powerOff();
    }
    return work;
  }

  /**
   * A disk adapter attaching to control memory a predecessor used (a processor reset): the stage
   * requests it had taken from its mailbox — deferred, or answered into a full mailbox — lived in
   * its own memory and are gone. Every channel-adapter task still waiting for a stage of a slot
   * this adapter serves asks again; one whose answer is in fact on its way gets a second answer,
   * which finds the slot valid (a transfer always rechecks) or is counted as a bad message.
   * On a freshly formatted system nothing waits, so this finds nothing.
   */
  private takeOver(): void {
    const { mem } = this;
    const perProcessor = mem.geometry.tasksPerProcessor;
    for (let from = 0; from < mem.config.channelAdapters; from++) {
      for (let task = 0; task < perProcessor; task++) {
        const slot = stageWaitSlot(mem.tasks, from * perProcessor + task);
        if (slot < 0 || slot >= this.cache.slotCount || diskAdapterFor(mem.config.channelAdapters, mem.config.diskAdapters, slot) !== this.processorId) continue;
        this.inherited.push(from, task, slot);
      }
    }
    if (this.inherited.length > 0) this.platform.trace(`disk adapter ${this.index}: took over ${this.inherited.length / 3} stage requests waiting at its start`);
    // Slots its predecessor destaged and had not flushed yet: this adapter flushes them.
    for (let s = this.index; s < this.cache.slotCount; s += mem.config.diskAdapters) {
      if (!this.cache.isUnflushed(s)) continue;
      this.pending[this.pendingCount++] = s;
      const drive = this.driveOf(this.cache.volumeOf(s));
      if (drive && !this.pendingDrives.includes(drive)) this.pendingDrives.push(drive);
    }
  }

  private serveInherited(): number {
    let served = 0;
    while (this.inherited.length > 0 && this.deferredCount < this.deferredMax) {
      const [from, task, slot] = this.inherited.splice(0, 3) as [number, number, number];
      if (this.cache.pinCount(slot) <= 0) continue;
      this.stage(from, task, slot);
      served++;
    }
    return served;
  }

  idleWaitMs(): number {
    return this.inherited.length > 0 || this.pendingCount > 0 || this.lostCount > 0 || this.deferredCount > 0 || this.dirtyInShare > 0 ? BUSY_RETRY_MS : IDLE_SLEEP_MS;
  }

  finished(): boolean {
    return this.done;
  }

  doorbell(): number {
    return this.mem.doorbells.read(this.processorId);
  }

  sleep(seen: number, timeoutMs: number): void {
    this.stats[Stat.IDLE_SLEEPS]!++;
    this.mem.doorbells.sleep(this.processorId, seen, timeoutMs);
  }

  private onMessage(kind: number, from: number, task: number, slot: number): void {
    if (kind !== Msg.STAGE || from < 0 || from >= this.mem.config.channelAdapters || slot < 0 || slot >= this.cache.slotCount || this.cache.pinCount(slot) <= 0) {
      this.stats[Stat.BAD_MESSAGES]!++;
      return;
    }
    this.stage(from, task, slot);
  }

  private stage(from: number, task: number, slot: number): void {
    if (!this.cache.tryLockSlot(slot)) {
      this.defer(Msg.STAGE, from, task, slot, 0, 0);
      return;
    }
    const status = stageSlot(this.mem, this.cache, this.drives, slot, this.transferred);
    const volume = this.cache.volumeOf(slot);
    this.cache.unlockSlot(slot);
    this.stats[Stat.STAGES]!++;
    this.stats[Stat.STAGE_BLOCKS]! += this.transferred.blocks;
    if (status === MsgStatus.DRIVE_FAILED || status === MsgStatus.MEDIUM_ERROR) this.driveError(volume, status, false);
    this.reply(from, task, slot, status);
  }

  private reply(to: number, task: number, slot: number, status: number): void {
    if (this.mem.mailboxes[to]!.tryPush(Msg.STAGE_DONE, this.processorId, task, slot, status, 0)) {
      this.mem.doorbells.ring(to);
    } else {
      this.stats[Stat.MAILBOX_FULL]!++;
      this.defer(Msg.STAGE_DONE, to, task, slot, status, 1);
    }
  }

  private defer(kind: number, from: number, task: number, slot: number, status: number, isReply: number): void {
    assert(this.deferredCount < this.deferredMax, 'disk adapter deferred-work table overflow');
    const at = this.deferredCount++ * 6;
    this.deferred[at] = kind;
    this.deferred[at + 1] = from;
    this.deferred[at + 2] = task;
    this.deferred[at + 3] = slot;
    this.deferred[at + 4] = status;
    this.deferred[at + 5] = isReply;
  }

  private retryDeferred(): number {
    const count = this.deferredCount;
    if (count === 0) return 0;
    // Take the whole list; anything still blocked is deferred again in order.
    const items = this.deferred.slice(0, count * 6);
    this.deferredCount = 0;
    for (let i = 0; i < count; i++) {
      const at = i * 6;
      if (items[at + 5] === 1) this.reply(items[at + 1]!, items[at + 2]!, items[at + 3]!, items[at + 4]!);
      else this.stage(items[at + 1]!, items[at + 2]!, items[at + 3]!);
    }
    return count - this.deferredCount;
  }

  /**
   * Destages dirty slots of this adapter's share; counts the dirty ones it could not do yet.
   * A slot written to its drive is clean but UNFLUSHED: not evictable until the drive has
   * flushed, since until then a power loss may still lose the write (clean must mean durable).
   * The adapter flushes once it holds FLUSH_PENDING_SLOTS such slots, or a quarter of its share,
   * or has nothing dirty left to write — one flush for many destages, and no slot lock held
   * across it. A power loss before the flush finds the slots UNFLUSHED in (battery-backed)
   * memory and destages them again (recoverAfterPowerLoss).
   */
  private destagePass(): number {
    const { cache, mem } = this;
    const share = mem.config.diskAdapters;
    const batch = mem.config.destageBatchSlots;
    if (this.lostCount > 0) this.redirtyLost();
    let destaged = 0;
    let dirty = 0;
    if (cache.dirtySlots() > 0) {
      for (let s = this.index; s < cache.slotCount; s += share) {
        if (!cache.isDirty(s)) continue;
        const volume = cache.volumeOf(s);
        if (volume === 0 || mem.volumes.state(volume) === VolumeState.ABNORMAL) continue; // kept, not destageable
        dirty++;
        if (destaged >= batch) continue;
        if (!cache.pinIfIdentity(s, volume, cache.slotNumberOf(s))) continue;
        if (cache.tryLockSlot(s)) {
          const status = writeDirtySectors(mem, cache, this.drives, s, this.transferred);
          if (status === MsgStatus.OK) {
            cache.clearDirty(s);
            // A volume without storage keeps nothing: no drive wrote it, nothing to flush.
            if (this.transferred.drive) this.holdUntilFlushed(s, this.transferred.drive);
            destaged++;
            dirty--;
            this.stats[Stat.DESTAGES]!++;
            this.stats[Stat.DESTAGE_BLOCKS]! += this.transferred.blocks;
          }
          cache.unlockSlot(s);
          if (status !== MsgStatus.OK) this.driveError(volume, status, true);
        }
        cache.unpin(s);
      }
    }
    this.dirtyInShare = dirty;
    if (this.pendingCount > 0 && (this.pendingCount >= this.flushThreshold || dirty === 0)) {
      const released = this.flushPending();
      if (released > 0 && (cache.dirtySlots() + released) * 2 > cache.slotCount) {
        // Cache pressure: channel adapters may have tasks waiting for a slot to evict.
        for (let p = 0; p < mem.config.channelAdapters; p++) mem.doorbells.ring(p);
      }
    }
    return destaged;
  }

  /** Marks a just-written slot UNFLUSHED and remembers it (and its drive) for the next flush. */
  private holdUntilFlushed(s: number, drive: Drive): void {
    if (!this.cache.isUnflushed(s)) {
      this.cache.setUnflushed(s);
      this.pending[this.pendingCount++] = s;
    }
    if (!this.pendingDrives.includes(drive)) this.pendingDrives.push(drive);
  }

  /** The drive holding `volume`, if it has one. */
  private driveOf(volume: number): Drive | undefined {
    return this.drives.get(this.mem.volumes.driveNumber(volume));
  }

  /**
   * Flushes every drive written since the last flush, then lets the slots of the drives that
   * flushed go (evictable); returns how many. A drive whose flush fails may have lost the writes:
   * its slots become dirty again (lost list) and its volumes abnormal, so they stay in cache,
   * never clean. Slots of the other drives are unaffected.
   */
  private flushPending(): number {
    const { cache, failedFlushes } = this;
    failedFlushes.length = 0;
    for (const drive of this.pendingDrives) {
      const status = drive.flush();
      if (status === DriveStatus.OK) this.stats[Stat.DRIVE_FLUSHES]!++;
      else {
        failedFlushes.push(drive);
        this.stats[Stat.DRIVE_ERRORS]!++;
      }
    }
    this.pendingDrives.length = 0;
    let released = 0;
    for (let i = 0; i < this.pendingCount; i++) {
      const s = this.pending[i]!;
      const volume = cache.volumeOf(s);
      const drive = this.driveOf(volume);
      if (!drive || !failedFlushes.includes(drive)) {
        cache.clearUnflushed(s);
        released++;
        continue;
      }
      this.lost[this.lostCount++] = s;
      this.failVolume(volume, 'flush failed');
    }
    this.pendingCount = 0;
    if (this.lostCount > 0) this.redirtyLost();
    return released;
  }

  /**
   * Slots whose drive failed to flush: every valid sector dirty again, under the slot lock (a
   * channel adapter may be writing the slot); a slot whose lock is busy stays UNFLUSHED — not
   * evictable — and is retried on the next pass.
   */
  private redirtyLost(): void {
    const { cache } = this;
    let kept = 0;
    for (let i = 0; i < this.lostCount; i++) {
      const s = this.lost[i]!;
      if (cache.tryLockSlot(s)) {
        cache.redirtyUnflushed(s);
        cache.unlockSlot(s);
      } else this.lost[kept++] = s;
    }
    this.lostCount = kept;
  }

  /**
   * A failed drive, or a write the drive refused, makes the volume abnormal (異常): its dirty
   * data stays in cache and the host is told the volume failed. A read media error is only
   * counted; the host command that needed it ends with MEDIUM ERROR.
   */
  private driveError(volume: number, status: number, isWrite: boolean): void {
    this.stats[Stat.DRIVE_ERRORS]!++;
    if (status === MsgStatus.MEDIUM_ERROR && !isWrite) return;
    if (status === MsgStatus.DRIVE_FAILED) this.failVolume(volume, 'drive failed');
    else if (status === MsgStatus.MEDIUM_ERROR) this.failVolume(volume, 'write error');
  }

  /** Makes `volume` abnormal (異常) unless it is already, or unused. */
  private failVolume(volume: number, why: string): void {
    const mem = this.mem;
    const lock = mem.lockMap.maintenance;
    mem.locks.lock(lock);
    const before = mem.volumes.state(volume);
    if (before !== VolumeState.ABNORMAL && before !== VolumeState.UNUSED) {
      mem.volumes.setState(volume, VolumeState.ABNORMAL);
      this.platform.trace(`volume ${volume}: ${VOLUME_STATE_NAME[before]} -> abnormal (${why} on drive ${mem.volumes.driveNumber(volume)})`);
    }
    mem.locks.unlock(lock);
  }

  private powerOff(): void {
    let undestaged = 0;
    for (let s = this.index; s < this.cache.slotCount; s += this.mem.config.diskAdapters) if (this.cache.isDirty(s)) undestaged++;
    // Counted once: a successor of an adapter reset after it finished finishes again.
    if (markFinished(this.mem.system, this.processorId) && undestaged > 0) {
      Atomics.add(this.mem.system, SystemWord.UNDESTAGED_SLOTS, undestaged);
      this.platform.trace(`disk adapter ${this.index}: ${undestaged} dirty slots of abnormal volumes stay in cache at power-off`);
    }
    for (const drive of this.drives.values()) drive.flush();
    this.done = true;
  }
}
