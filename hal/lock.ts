// LockTable: the hal's mutexes, living in shared memory so every processor can take them.
//
// Controller processors (channel adapters, disk adapters) are worker threads that share
// SharedArrayBuffers and nothing else, so a lock has to be a word in shared memory, not a JS
// object. Each lock is the classic three-state futex mutex (Drepper, "Futexes Are Tricky",
// mutex #2): an uncontended lock/unlock is one compare-and-swap plus one exchange; a waiter
// spins briefly (critical sections in the firmware are short, and waking a sleeping thread
// costs microseconds) and then sleeps in Atomics.wait, and the holder calls Atomics.notify
// only when someone may be asleep (state 2), so the uncontended path never enters the kernel.
//
// In the deterministic runtime every processor runs in one thread and tasks never hold a lock
// across a yield, so finding a lock held there is a firmware bug: waiting would hang the whole
// runtime, so lock() throws instead.
//
// Record layout: one 64-byte record per lock (one cache line, so two hot locks never share a
// line and false sharing cannot make independent locks contend), starting at byteOffset:
//
//   offset  type     field          meaning
//   ------  -------  -------------  ---------------------------------------------------------
//     +0    int32    state          0 free, 1 locked, 2 locked and someone may be sleeping
//     +4    int32    owner          processor id + 1 of the holder, 0 when free (inspectors)
//     +8    float64  acquisitions   successful lock()/tryLock() calls
//    +16    float64  contended      acquisitions whose first compare-and-swap failed
//    +24    float64  spins          failed compare-and-swap attempts while spinning
//    +32    float64  sleeps         Atomics.wait calls
//    +40    -        reserved       (to 64)
//
// The counters are float64 (exact to 2^53, no BigInt, no 2^32 wrap) and are written only by
// the holder after it has acquired the lock, so the lock itself orders them and they need no
// atomics. A waiter counts its spins and sleeps in locals and adds them once it holds the lock.
//
// Nothing here allocates on lock/unlock/tryLock: no closures, objects or arrays per call.
// This module is imported by the firmware core and must import nothing from node:* or npm.

/** Failed compare-and-swap attempts a waiter makes before it goes to sleep. */
export const LOCK_SPIN_LIMIT = 100;

/** Byte offsets of the fields inside one lock record; see the table in the header comment. */
export const LOCK_STATE_OFFSET_BYTES = 0;
export const LOCK_OWNER_OFFSET_BYTES = 4;
export const LOCK_ACQUISITIONS_OFFSET_BYTES = 8;
export const LOCK_CONTENDED_OFFSET_BYTES = 16;
export const LOCK_SPINS_OFFSET_BYTES = 24;
export const LOCK_SLEEPS_OFFSET_BYTES = 32;

const RECORD_BYTES = 64;
const RECORD_INT32_WORDS = RECORD_BYTES / 4;
const RECORD_FLOAT64_WORDS = RECORD_BYTES / 8;
const STATE_INT32 = LOCK_STATE_OFFSET_BYTES / 4;
const OWNER_INT32 = LOCK_OWNER_OFFSET_BYTES / 4;
const ACQUISITIONS_FLOAT64 = LOCK_ACQUISITIONS_OFFSET_BYTES / 8;
const CONTENDED_FLOAT64 = LOCK_CONTENDED_OFFSET_BYTES / 8;
const SPINS_FLOAT64 = LOCK_SPINS_OFFSET_BYTES / 8;
const SLEEPS_FLOAT64 = LOCK_SLEEPS_OFFSET_BYTES / 8;

// The layout table above, checked once at load: int32 fields word-aligned, float64 fields
// 8-byte aligned, consecutive and inside the record.
if (
  LOCK_STATE_OFFSET_BYTES % 4 !== 0 ||
  LOCK_OWNER_OFFSET_BYTES !== LOCK_STATE_OFFSET_BYTES + 4 ||
  LOCK_ACQUISITIONS_OFFSET_BYTES % 8 !== 0 ||
  LOCK_ACQUISITIONS_OFFSET_BYTES < LOCK_OWNER_OFFSET_BYTES + 4 ||
  LOCK_CONTENDED_OFFSET_BYTES !== LOCK_ACQUISITIONS_OFFSET_BYTES + 8 ||
  LOCK_SPINS_OFFSET_BYTES !== LOCK_CONTENDED_OFFSET_BYTES + 8 ||
  LOCK_SLEEPS_OFFSET_BYTES !== LOCK_SPINS_OFFSET_BYTES + 8 ||
  LOCK_SLEEPS_OFFSET_BYTES + 8 > RECORD_BYTES
) {
  throw new Error('LockTable: record layout constants are inconsistent');
}

const FREE = 0;
const LOCKED = 1;
const LOCKED_WITH_SLEEPERS = 2;

export interface LockTableOptions {
  /**
   * True in the deterministic runtime (every processor in one thread): lock() of a held lock
   * throws instead of waiting, because the holder can never run to release it.
   */
  singleThreaded: boolean;
  /** Processor id of the caller; recorded as owner (id + 1) while it holds a lock. */
  ownerId: number;
}

export interface LockStats {
  acquisitions: number;
  contended: number;
  spins: number;
  sleeps: number;
}

export class LockTable {
  static readonly RECORD_BYTES = RECORD_BYTES;

  /** Bytes a table of `count` locks occupies. */
  static bytesFor(count: number): number {
    assertCount(count);
    return count * RECORD_BYTES;
  }

  readonly count: number;
  readonly singleThreaded: boolean;
  readonly ownerId: number;
  // Both views start at byteOffset, so record i is words [i*16, i*16+16) of words32 and
  // [i*8, i*8+8) of words64.
  private readonly words32: Int32Array;
  private readonly words64: Float64Array;
  /** ownerId + 1, the value stored in the owner field (0 means free). */
  private readonly ownerTag: number;

  /** Attaches views to an existing region; never clears memory (see format()). */
  constructor(
    buffer: SharedArrayBuffer,
    byteOffset: number,
    count: number,
    options: LockTableOptions,
  ) {
    assertCount(count);
    if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 8 !== 0) {
      // Float64Array needs 8-byte alignment; 64 keeps each record on its own cache line.
      throw new RangeError(`LockTable: byteOffset ${byteOffset} must be a multiple of 8 (64 recommended)`);
    }
    if (byteOffset + count * RECORD_BYTES > buffer.byteLength) {
      throw new RangeError(
        `LockTable: ${count} locks at byte ${byteOffset} do not fit in a ${buffer.byteLength}-byte buffer`,
      );
    }
    const ownerId = options.ownerId;
    if (!Number.isInteger(ownerId) || ownerId < 0 || ownerId >= 0x7fffffff) {
      throw new RangeError(`LockTable: ownerId ${ownerId} must be an integer in [0, 2^31 - 1)`);
    }
    this.count = count;
    this.singleThreaded = options.singleThreaded;
    this.ownerId = ownerId;
    this.ownerTag = ownerId + 1;
    this.words32 = new Int32Array(buffer, byteOffset, count * RECORD_INT32_WORDS);
    this.words64 = new Float64Array(buffer, byteOffset, count * RECORD_FLOAT64_WORDS);
  }

  /** Clears every record: all locks free, counters zero. Once, at boot, before any use. */
  format(): void {
    this.words64.fill(0);
    // Publish the cleared state words with atomic stores so no processor sees a stale state.
    for (let i = 0; i < this.count; i++) {
      Atomics.store(this.words32, i * RECORD_INT32_WORDS + STATE_INT32, FREE);
    }
  }

  /**
   * Frees every held lock; returns how many were held. Only when no processor runs — power-on
   * after a power loss, when holders may have stopped inside their critical sections and none
   * of them will ever release.
   */
  releaseAll(): number {
    let held = 0;
    for (let i = 0; i < this.count; i++) {
      const at = i * RECORD_INT32_WORDS;
      if (Atomics.exchange(this.words32, at + STATE_INT32, FREE) !== FREE) held++;
      Atomics.store(this.words32, at + OWNER_INT32, 0);
    }
    return held;
  }

  /** Acquires lock i, spinning briefly and then sleeping until it is free. */
  lock(i: number): void {
    this.checkIndex(i);
    const words32 = this.words32;
    const stateIndex = i * RECORD_INT32_WORDS + STATE_INT32;
    let state = Atomics.compareExchange(words32, stateIndex, FREE, LOCKED);
    if (state === FREE) {
      this.acquired(i, 0, 0, 0);
      return;
    }
    this.checkCanWait(i);

    // Contended: spin, then sleep. Spins and sleeps are counted in locals and added to the
    // record once the lock is ours (only the holder may write the counters).
    let spins = 0;
    while (spins < LOCK_SPIN_LIMIT) {
      state = Atomics.compareExchange(words32, stateIndex, FREE, LOCKED);
      if (state === FREE) {
        this.acquired(i, 1, spins, 0);
        return;
      }
      spins++;
    }

    // Sleep protocol: announce a sleeper by setting state 2 (exchange, so that if the lock was
    // freed meanwhile we take it, in state 2 — harmless: at worst one needless notify), and
    // sleep while it stays 2. A wake-up re-announces with another exchange.
    let sleeps = 0;
    if (state !== LOCKED_WITH_SLEEPERS) {
      state = Atomics.exchange(words32, stateIndex, LOCKED_WITH_SLEEPERS);
    }
    while (state !== FREE) {
      sleeps++;
      Atomics.wait(words32, stateIndex, LOCKED_WITH_SLEEPERS);
      state = Atomics.exchange(words32, stateIndex, LOCKED_WITH_SLEEPERS);
    }
    this.acquired(i, 1, spins, sleeps);
  }

  /** Acquires lock i only if it is free right now (one compare-and-swap). */
  tryLock(i: number): boolean {
    this.checkIndex(i);
    const stateIndex = i * RECORD_INT32_WORDS + STATE_INT32;
    if (Atomics.compareExchange(this.words32, stateIndex, FREE, LOCKED) !== FREE) return false;
    this.acquired(i, 0, 0, 0);
    return true;
  }

  /** Releases lock i; the caller must hold it. Wakes one sleeper if there may be one. */
  unlock(i: number): void {
    this.checkIndex(i);
    const words32 = this.words32;
    const base = i * RECORD_INT32_WORDS;
    const stateIndex = base + STATE_INT32;
    // A processor always sees its own last write to owner, so reading our own tag here means
    // we hold the lock (owner is cleared before the release below).
    if (words32[base + OWNER_INT32] !== this.ownerTag || Atomics.load(words32, stateIndex) === FREE) {
      this.throwNotHeld(i);
    }
    words32[base + OWNER_INT32] = 0;
    if (Atomics.exchange(words32, stateIndex, FREE) === LOCKED_WITH_SLEEPERS) {
      Atomics.notify(words32, stateIndex, 1);
    }
  }

  /** True while some processor holds lock i (a snapshot; it may change at once). */
  isLocked(i: number): boolean {
    this.checkIndex(i);
    return Atomics.load(this.words32, i * RECORD_INT32_WORDS + STATE_INT32) !== FREE;
  }

  /** Processor id of lock i's holder, or -1 when free (a snapshot, for inspectors). */
  ownerOf(i: number): number {
    this.checkIndex(i);
    return Atomics.load(this.words32, i * RECORD_INT32_WORDS + OWNER_INT32) - 1;
  }

  /**
   * Writes lock i's counters into out[0..3] as [acquisitions, contended, spins, sleeps].
   * Read without the lock, so a snapshot may be mid-update by the holder; fine for statistics.
   */
  stats(i: number, out: Float64Array): void {
    this.checkIndex(i);
    if (out.length < 4) throw new RangeError('LockTable.stats: out must hold 4 numbers');
    const words64 = this.words64;
    const base = i * RECORD_FLOAT64_WORDS;
    out[0] = words64[base + ACQUISITIONS_FLOAT64]!;
    out[1] = words64[base + CONTENDED_FLOAT64]!;
    out[2] = words64[base + SPINS_FLOAT64]!;
    out[3] = words64[base + SLEEPS_FLOAT64]!;
  }

  /** stats() as a plain object, for tools and status displays (allocates). */
  statsObject(i: number): LockStats {
    const out = new Float64Array(4);
    this.stats(i, out);
    return { acquisitions: out[0]!, contended: out[1]!, spins: out[2]!, sleeps: out[3]! };
  }

  /** Records ownership and counters; called by the new holder only. */
  private acquired(i: number, contended: number, spins: number, sleeps: number): void {
    this.words32[i * RECORD_INT32_WORDS + OWNER_INT32] = this.ownerTag;
    const words64 = this.words64;
    const base = i * RECORD_FLOAT64_WORDS;
    words64[base + ACQUISITIONS_FLOAT64]! += 1;
    if (contended !== 0) {
      words64[base + CONTENDED_FLOAT64]! += contended;
      words64[base + SPINS_FLOAT64]! += spins;
      words64[base + SLEEPS_FLOAT64]! += sleeps;
    }
  }

  private checkIndex(i: number): void {
    // (i >>> 0) === i rejects negatives, fractions, NaN and non-numbers in one compare.
    if ((i >>> 0) !== i || i >= this.count) {
      throw new RangeError(`LockTable: lock index ${i} out of range [0, ${this.count})`);
    }
  }

  /** Called when lock i was found held: decides whether waiting is allowed at all. */
  private checkCanWait(i: number): void {
    const holderTag = Atomics.load(this.words32, i * RECORD_INT32_WORDS + OWNER_INT32);
    if (holderTag === this.ownerTag) {
      throw new Error(`LockTable: processor ${this.ownerId} locks lock ${i}, which it already holds (locks are not recursive)`);
    }
    if (this.singleThreaded) {
      throw new Error(
        `LockTable: lock ${i} is held by processor ${holderTag - 1}; waiting for it would deadlock the single-threaded runtime`,
      );
    }
  }

  private throwNotHeld(i: number): never {
    const holderTag = Atomics.load(this.words32, i * RECORD_INT32_WORDS + OWNER_INT32);
    throw new Error(
      holderTag === 0
        ? `LockTable: processor ${this.ownerId} unlocks lock ${i}, which is not locked`
        : `LockTable: processor ${this.ownerId} unlocks lock ${i}, which processor ${holderTag - 1} holds`,
    );
  }
}

function assertCount(count: number): void {
  if (!Number.isInteger(count) || count <= 0) {
    throw new RangeError(`LockTable: count ${count} must be a positive integer`);
  }
}
