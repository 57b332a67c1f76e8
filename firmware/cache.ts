// Cache memory 130: the directory from (volume, slot number) to cache slot, LRU replacement of
// slots that are clean and durable (not dirty, not UNFLUSHED), and the sector bitmaps that say
// which bytes of a slot are valid or dirty.
//
// Locking, in the only order locks are ever taken: bucket lock -> cache list lock.
//   - A bucket lock guards its chain and the identity of every slot on it. Pinning happens
//     under it, so an evictor that holds the bucket lock and sees pin_count 0 knows no task
//     can start using the slot.
//   - The cache list lock guards the free list, the LRU list and the used count.
//   - A slot lock (tryLock only) guards a slot's data and bitmaps while bytes move: host data
//     in, stage in, destage out. Nobody waits for a slot lock; a task that cannot get it yields.
// A new slot is taken before the bucket lock (evicting needs the victim's bucket lock), so two
// buckets are never held at once and no lock order can cycle.

import type { LockTable } from '../hal/lock.ts';
import { assert } from './assert.ts';
import type { ControlMemory } from './layout.ts';
import {
  CacheControlWord as C, SLOT_BITMAP_WORDS, SLOT_FLAG_FREE, SLOT_FLAG_IN_DIRECTORY, SLOT_FLAG_UNFLUSHED, SLOT_HEADER_WORDS, SlotWord as W,
} from './structs/cache-slot.ts';

/** How far from the LRU tail an evictor looks for an unpinned slot it does not hold (isHeld) before it calls the cache full. */
export const EVICT_SCAN_MAX = 64;
const EVICT_ATTEMPTS_MAX = 4;

export class Cache {
  readonly slotCount: number;
  readonly slotBytes: number;
  readonly sectorsPerSlot: number;
  private readonly h: Int32Array;
  private readonly ctl: Int32Array;
  private readonly dir: Int32Array;
  private readonly locks: LockTable;
  private readonly bucketMask: number;
  private readonly listLock: number;
  private readonly bucketLockBase: number;
  private readonly slotLockBase: number;
  /** Evictions done by this processor's view since boot; the caller moves it into statistics. */
  evictions = 0;

  constructor(mem: ControlMemory) {
    this.slotCount = mem.geometry.slotCount;
    this.slotBytes = mem.config.slotBytes;
    this.sectorsPerSlot = mem.geometry.sectorsPerSlot;
    this.h = mem.slotHeaders;
    this.ctl = mem.cacheControl;
    this.dir = mem.directory;
    this.locks = mem.locks;
    this.bucketMask = mem.geometry.bucketCount - 1;
    this.listLock = mem.lockMap.cacheList;
    this.bucketLockBase = mem.lockMap.bucketBase;
    this.slotLockBase = mem.lockMap.slotBase;
  }

  /** Boot: every slot free and on the free list, every bucket empty. */
  format(): void {
    this.h.fill(0);
    this.dir.fill(0);
    this.ctl.fill(0);
    for (let s = 0; s < this.slotCount; s++) {
      const b = s * SLOT_HEADER_WORDS;
      this.h[b + W.FLAGS] = SLOT_FLAG_FREE;
      this.h[b + W.LRU_NEXT] = s + 2 <= this.slotCount ? s + 2 : 0;
    }
    this.ctl[C.FREE_HEAD] = this.slotCount > 0 ? 1 : 0;
    this.ctl[C.SLOT_COUNT] = this.slotCount;
    this.ctl[C.SECTORS_PER_SLOT] = this.sectorsPerSlot;
    this.ctl[C.BUCKET_COUNT] = this.bucketMask + 1;
  }

  bucketOf(volume: number, slotNumber: number): number {
    return (Math.imul(volume, 0x9e3779b1) ^ Math.imul(slotNumber, 0x85ebca6b)) >>> 0 & this.bucketMask;
  }

  volumeOf(s: number): number { return this.h[s * SLOT_HEADER_WORDS + W.VOLUME]!; }
  slotNumberOf(s: number): number { return this.h[s * SLOT_HEADER_WORDS + W.SLOT_NUMBER]!; }
  pinCount(s: number): number { return Atomics.load(this.h, s * SLOT_HEADER_WORDS + W.PIN_COUNT); }
  dirtySlots(): number { return Atomics.load(this.ctl, C.DIRTY_SLOTS); }
  usedSlots(): number { return this.ctl[C.USED_SLOTS]!; }
  /** Byte offset of a slot's data in cache memory. */
  dataOffset(s: number): number { return s * this.slotBytes; }

  /** Finds a cached slot and pins it; -1 on a miss. */
  lookup(volume: number, slotNumber: number): number {
    const bucket = this.bucketOf(volume, slotNumber);
    this.locks.lock(this.bucketLockBase + bucket);
    const s = this.findInChain(bucket, volume, slotNumber);
    if (s >= 0) Atomics.add(this.h, s * SLOT_HEADER_WORDS + W.PIN_COUNT, 1);
    this.locks.unlock(this.bucketLockBase + bucket);
    if (s >= 0) this.touch(s);
    return s;
  }

  /**
   * Finds or creates the slot for (volume, slotNumber) and pins it; -1 when no slot can be had
   * (every slot dirty or pinned: the caller's task waits, see TaskWait.CACHE_FULL).
   * `hit` reports whether it was already cached.
   */
  obtain(volume: number, slotNumber: number, hit: { value: boolean }): number {
    const found = this.lookup(volume, slotNumber);
    if (found >= 0) {
      hit.value = true;
      return found;
    }
    hit.value = false;
    const fresh = this.takeFreeSlot();
    if (fresh < 0) return -1;
    const bucket = this.bucketOf(volume, slotNumber);
    this.locks.lock(this.bucketLockBase + bucket);
    const raced = this.findInChain(bucket, volume, slotNumber);
    if (raced >= 0) {
      // Another processor cached the same slot while this one was evicting: use theirs.
      Atomics.add(this.h, raced * SLOT_HEADER_WORDS + W.PIN_COUNT, 1);
      this.locks.unlock(this.bucketLockBase + bucket);
      this.returnFreeSlot(fresh);
      this.touch(raced);
      hit.value = true;
      return raced;
    }
    const b = fresh * SLOT_HEADER_WORDS;
    this.h[b + W.VOLUME] = volume;
    this.h[b + W.SLOT_NUMBER] = slotNumber;
    for (let i = 0; i < SLOT_BITMAP_WORDS; i++) {
      this.h[b + W.VALID + i] = 0;
      this.h[b + W.DIRTY + i] = 0;
    }
    Atomics.store(this.h, b + W.PIN_COUNT, 1);
    this.h[b + W.HASH_NEXT] = this.dir[bucket]!;
    this.dir[bucket] = fresh + 1;
    this.h[b + W.FLAGS] = SLOT_FLAG_IN_DIRECTORY;
    this.locks.lock(this.listLock);
    this.linkHead(fresh);
    this.ctl[C.USED_SLOTS]!++;
    this.locks.unlock(this.listLock);
    this.locks.unlock(this.bucketLockBase + bucket);
    return fresh;
  }

  /**
   * Pins slot s only if it still caches (volume, slotNumber); used by a disk adapter that found
   * the slot by scanning headers without a lock.
   */
  pinIfIdentity(s: number, volume: number, slotNumber: number): boolean {
    const bucket = this.bucketOf(volume, slotNumber);
    this.locks.lock(this.bucketLockBase + bucket);
    const b = s * SLOT_HEADER_WORDS;
    const ok = (this.h[b + W.FLAGS]! & SLOT_FLAG_IN_DIRECTORY) !== 0 && this.h[b + W.VOLUME] === volume && this.h[b + W.SLOT_NUMBER] === slotNumber;
    if (ok) Atomics.add(this.h, b + W.PIN_COUNT, 1);
    this.locks.unlock(this.bucketLockBase + bucket);
    return ok;
  }

  unpin(s: number): void {
    const left = Atomics.sub(this.h, s * SLOT_HEADER_WORDS + W.PIN_COUNT, 1) - 1;
    assert(left >= 0, `cache slot ${s} unpinned more often than pinned`);
  }

  /** Sets a slot's pin count (power-on recovery, with no processor running). */
  setPinCount(s: number, pins: number): void { Atomics.store(this.h, s * SLOT_HEADER_WORDS + W.PIN_COUNT, pins); }

  tryLockSlot(s: number): boolean { return this.locks.tryLock(this.slotLockBase + s); }
  unlockSlot(s: number): void { this.locks.unlock(this.slotLockBase + s); }

  /**
   * Drops an unpinned slot that is neither dirty nor UNFLUSHED from the directory (for example
   * when its volume is redefined). Returns false if the slot is held (isHeld) or in use.
   */
  discard(s: number): boolean {
    const b = s * SLOT_HEADER_WORDS;
    const volume = this.h[b + W.VOLUME]!;
    const slotNumber = this.h[b + W.SLOT_NUMBER]!;
    if ((this.h[b + W.FLAGS]! & SLOT_FLAG_IN_DIRECTORY) === 0) return true;
    const bucket = this.bucketOf(volume, slotNumber);
    this.locks.lock(this.bucketLockBase + bucket);
    this.locks.lock(this.listLock);
    const ok = this.h[b + W.VOLUME] === volume && Atomics.load(this.h, b + W.PIN_COUNT) === 0 && !this.isHeld(s);
    if (ok) {
      this.unlinkFromChain(bucket, s);
      this.unlinkLru(s);
      this.ctl[C.USED_SLOTS]!--;
      this.pushFree(s);
    }
    this.locks.unlock(this.listLock);
    this.locks.unlock(this.bucketLockBase + bucket);
    return ok;
  }

  // ---- sector bitmaps (caller holds the slot lock or the slot is otherwise private) ----

  /** True if every sector in [from, from+count) is valid. */
  allValid(s: number, from: number, count: number): boolean {
    return this.allSet(s * SLOT_HEADER_WORDS + W.VALID, from, count);
  }
  markValid(s: number, from: number, count: number): void {
    this.setBits(s * SLOT_HEADER_WORDS + W.VALID, from, count);
  }
  /** Marks sectors valid and dirty; keeps the dirty-slot count. */
  markDirty(s: number, from: number, count: number): void {
    const b = s * SLOT_HEADER_WORDS;
    const wasDirty = this.isDirty(s);
    this.setBits(b + W.VALID, from, count);
    this.setBits(b + W.DIRTY, from, count);
    if (!wasDirty) Atomics.add(this.ctl, C.DIRTY_SLOTS, 1);
  }
  isDirty(s: number): boolean {
    const b = s * SLOT_HEADER_WORDS + W.DIRTY;
    for (let i = 0; i < SLOT_BITMAP_WORDS; i++) if (this.h[b + i] !== 0) return true;
    return false;
  }
  /** Destaged but not yet flushed by its drive (SLOT_FLAG_UNFLUSHED). */
  isUnflushed(s: number): boolean {
    return (Atomics.load(this.h, s * SLOT_HEADER_WORDS + W.FLAGS) & SLOT_FLAG_UNFLUSHED) !== 0;
  }
  setUnflushed(s: number): void { Atomics.or(this.h, s * SLOT_HEADER_WORDS + W.FLAGS, SLOT_FLAG_UNFLUSHED); }
  clearUnflushed(s: number): void { Atomics.and(this.h, s * SLOT_HEADER_WORDS + W.FLAGS, ~SLOT_FLAG_UNFLUSHED); }
  /** Dirty, or destaged and not yet durable: either way the cache holds the only safe copy. */
  isHeld(s: number): boolean {
    return this.isDirty(s) || this.isUnflushed(s);
  }
  /**
   * A slot whose destage its drive may have lost (power loss before the flush): every valid
   * sector is dirty again and the flag cleared, so it is destaged once more.
   */
  redirtyUnflushed(s: number): void {
    if (!this.isUnflushed(s)) return;
    const sectors = this.sectorsPerSlot;
    let sector = 0;
    while (sector < sectors) {
      if (!this.isSectorValid(s, sector)) { sector++; continue; }
      let run = 1;
      while (sector + run < sectors && this.isSectorValid(s, sector + run)) run++;
      this.markDirty(s, sector, run);
      sector += run;
    }
    this.clearUnflushed(s);
  }
  isSectorDirty(s: number, sector: number): boolean {
    return (this.h[s * SLOT_HEADER_WORDS + W.DIRTY + (sector >> 5)]! & (1 << (sector & 31))) !== 0;
  }
  isSectorValid(s: number, sector: number): boolean {
    return (this.h[s * SLOT_HEADER_WORDS + W.VALID + (sector >> 5)]! & (1 << (sector & 31))) !== 0;
  }
  clearDirty(s: number): void {
    if (!this.isDirty(s)) return;
    const b = s * SLOT_HEADER_WORDS + W.DIRTY;
    for (let i = 0; i < SLOT_BITMAP_WORDS; i++) this.h[b + i] = 0;
    Atomics.sub(this.ctl, C.DIRTY_SLOTS, 1);
  }

  private setBits(base: number, from: number, count: number): void {
    for (let sector = from; sector < from + count; sector++) this.h[base + (sector >> 5)]! |= 1 << (sector & 31);
  }
  private allSet(base: number, from: number, count: number): boolean {
    for (let sector = from; sector < from + count; sector++) {
      if ((this.h[base + (sector >> 5)]! & (1 << (sector & 31))) === 0) return false;
    }
    return true;
  }

  // ---- directory and lists (internal) ----

  private findInChain(bucket: number, volume: number, slotNumber: number): number {
    let link = this.dir[bucket]!;
    let steps = 0;
    while (link !== 0) {
      const s = link - 1;
      const b = s * SLOT_HEADER_WORDS;
      if (this.h[b + W.VOLUME] === volume && this.h[b + W.SLOT_NUMBER] === slotNumber) return s;
      link = this.h[b + W.HASH_NEXT]!;
      assert(++steps <= this.slotCount, `cache directory bucket ${bucket} has a cycle`);
    }
    return -1;
  }

  private unlinkFromChain(bucket: number, s: number): void {
    let prev = -1;
    let link = this.dir[bucket]!;
    while (link !== 0 && link - 1 !== s) {
      prev = link - 1;
      link = this.h[prev * SLOT_HEADER_WORDS + W.HASH_NEXT]!;
    }
    assert(link !== 0, `cache slot ${s} is not on bucket ${bucket}`);
    const next = this.h[s * SLOT_HEADER_WORDS + W.HASH_NEXT]!;
    if (prev < 0) this.dir[bucket] = next;
    else this.h[prev * SLOT_HEADER_WORDS + W.HASH_NEXT] = next;
    this.h[s * SLOT_HEADER_WORDS + W.HASH_NEXT] = 0;
    this.h[s * SLOT_HEADER_WORDS + W.FLAGS] = 0;
  }

  /** Moves a slot to the LRU head: it was just used. */
  private touch(s: number): void {
    if (this.ctl[C.LRU_HEAD] === s + 1) return; // already the most recent; skip the lock
    this.locks.lock(this.listLock);
    if ((this.h[s * SLOT_HEADER_WORDS + W.FLAGS]! & SLOT_FLAG_IN_DIRECTORY) !== 0 && this.ctl[C.LRU_HEAD] !== s + 1) {
      this.unlinkLru(s);
      this.linkHead(s);
    }
    this.locks.unlock(this.listLock);
  }

  private linkHead(s: number): void {
    const b = s * SLOT_HEADER_WORDS;
    const head = this.ctl[C.LRU_HEAD]!;
    this.h[b + W.LRU_PREV] = 0;
    this.h[b + W.LRU_NEXT] = head;
    if (head !== 0) this.h[(head - 1) * SLOT_HEADER_WORDS + W.LRU_PREV] = s + 1;
    else this.ctl[C.LRU_TAIL] = s + 1;
    this.ctl[C.LRU_HEAD] = s + 1;
  }

  private unlinkLru(s: number): void {
    const b = s * SLOT_HEADER_WORDS;
    const prev = this.h[b + W.LRU_PREV]!;
    const next = this.h[b + W.LRU_NEXT]!;
    if (prev !== 0) this.h[(prev - 1) * SLOT_HEADER_WORDS + W.LRU_NEXT] = next;
    else this.ctl[C.LRU_HEAD] = next;
    if (next !== 0) this.h[(next - 1) * SLOT_HEADER_WORDS + W.LRU_PREV] = prev;
    else this.ctl[C.LRU_TAIL] = prev;
    this.h[b + W.LRU_PREV] = 0;
    this.h[b + W.LRU_NEXT] = 0;
  }

  private pushFree(s: number): void {
    const b = s * SLOT_HEADER_WORDS;
    this.h[b + W.VOLUME] = 0;
    this.h[b + W.SLOT_NUMBER] = 0;
    this.h[b + W.FLAGS] = SLOT_FLAG_FREE;
    this.h[b + W.LRU_PREV] = 0;
    this.h[b + W.LRU_NEXT] = this.ctl[C.FREE_HEAD]!;
    this.ctl[C.FREE_HEAD] = s + 1;
  }

  private returnFreeSlot(s: number): void {
    this.locks.lock(this.listLock);
    this.pushFree(s);
    this.locks.unlock(this.listLock);
  }

  /** A free slot, from the free list or by evicting the least recently used clean slot; -1 if none. */
  private takeFreeSlot(): number {
    for (let attempt = 0; attempt < EVICT_ATTEMPTS_MAX; attempt++) {
      this.locks.lock(this.listLock);
      const free = this.ctl[C.FREE_HEAD]!;
      if (free !== 0) {
        const s = free - 1;
        const b = s * SLOT_HEADER_WORDS;
        this.ctl[C.FREE_HEAD] = this.h[b + W.LRU_NEXT]!;
        this.h[b + W.LRU_NEXT] = 0;
        this.h[b + W.FLAGS] = 0;
        this.locks.unlock(this.listLock);
        return s;
      }
      let victim = -1;
      let link = this.ctl[C.LRU_TAIL]!;
      for (let scanned = 0; link !== 0 && scanned < EVICT_SCAN_MAX; scanned++) {
        const s = link - 1;
        if (Atomics.load(this.h, s * SLOT_HEADER_WORDS + W.PIN_COUNT) === 0 && !this.isHeld(s)) {
          victim = s;
          break;
        }
        link = this.h[s * SLOT_HEADER_WORDS + W.LRU_PREV]!;
      }
      this.locks.unlock(this.listLock);
      if (victim < 0) return -1;
      const b = victim * SLOT_HEADER_WORDS;
      const volume = this.h[b + W.VOLUME]!;
      const slotNumber = this.h[b + W.SLOT_NUMBER]!;
      const bucket = this.bucketOf(volume, slotNumber);
      this.locks.lock(this.bucketLockBase + bucket);
      this.locks.lock(this.listLock);
      // Re-check under both locks: it may have been pinned, dirtied or evicted meanwhile.
      const still = (this.h[b + W.FLAGS]! & SLOT_FLAG_IN_DIRECTORY) !== 0 && this.h[b + W.VOLUME] === volume &&
        this.h[b + W.SLOT_NUMBER] === slotNumber && Atomics.load(this.h, b + W.PIN_COUNT) === 0 && !this.isHeld(victim);
      if (still) {
        this.unlinkFromChain(bucket, victim);
        this.unlinkLru(victim);
        this.ctl[C.USED_SLOTS]!--;
        this.h[b + W.VOLUME] = 0;
        this.h[b + W.SLOT_NUMBER] = 0;
        this.evictions++;
      }
      this.locks.unlock(this.listLock);
      this.locks.unlock(this.bucketLockBase + bucket);
      if (still) return victim;
    }
    return -1;
  }
}
