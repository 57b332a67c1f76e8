// Doorbells: how one processor wakes another that has gone idle.
//
// Every processor owns one doorbell word. Whoever gives it work (pushes to its mailbox) rings
// it: the word is incremented and sleepers on it are woken. The owner's idle loop is
//
//   seen = read(me); if (nothing in my queues) sleep(me, seen, timeoutMs);
//
// and Atomics.wait only sleeps while the word still equals `seen`, so a ring that lands between
// the read and the sleep is never lost: the sleep returns 'not-equal' at once. The word is a
// counter rather than a flag so that nobody ever has to reset it (a reset could race with a
// ring); it wraps at 2^32, which is harmless because it is only ever compared for equality.
//
// Layout: doorbell i is the int32 at byteOffset + 64 * i; the rest of each 64-byte slot is
// reserved, so ringing one processor's doorbell never invalidates another's cache line.
//
// This module is imported by the firmware core and must import nothing from node:* or npm.

export const DOORBELL_SLOT_BYTES = 64;
const SLOT_INT32_WORDS = DOORBELL_SLOT_BYTES / 4;

export type DoorbellSleepResult = 'ok' | 'not-equal' | 'timed-out';

export class Doorbells {
  /** Bytes `count` doorbells occupy. */
  static bytesFor(count: number): number {
    assertCount(count);
    return count * DOORBELL_SLOT_BYTES;
  }

  readonly count: number;
  private readonly words: Int32Array;

  /** Attaches a view to an existing region; never clears memory (see format()). */
  constructor(buffer: SharedArrayBuffer, byteOffset: number, count: number) {
    assertCount(count);
    if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 4 !== 0) {
      throw new RangeError(`Doorbells: byteOffset ${byteOffset} must be a multiple of 4 (64 recommended)`);
    }
    if (byteOffset + count * DOORBELL_SLOT_BYTES > buffer.byteLength) {
      throw new RangeError(
        `Doorbells: ${count} doorbells at byte ${byteOffset} do not fit in a ${buffer.byteLength}-byte buffer`,
      );
    }
    this.count = count;
    this.words = new Int32Array(buffer, byteOffset, count * SLOT_INT32_WORDS);
  }

  /** Zeroes every doorbell. Once, at boot, before any use. */
  format(): void {
    this.words.fill(0);
    for (let i = 0; i < this.count; i++) Atomics.store(this.words, i * SLOT_INT32_WORDS, 0);
  }

  /** Rings doorbell i: bumps its counter and wakes whoever sleeps on it. */
  ring(i: number): void {
    this.checkIndex(i);
    const index = i * SLOT_INT32_WORDS;
    Atomics.add(this.words, index, 1);
    Atomics.notify(this.words, index);
  }

  /** Doorbell i's current counter; pass it to sleep() after checking the queues. */
  read(i: number): number {
    this.checkIndex(i);
    return Atomics.load(this.words, i * SLOT_INT32_WORDS);
  }

  /**
   * Sleeps until doorbell i rings or timeoutMs passes, but only if it still reads seenValue:
   * 'not-equal' at once if it rang since the read, 'ok' when woken by a ring, 'timed-out'.
   * Blocks the calling thread; Infinity waits forever.
   */
  sleep(i: number, seenValue: number, timeoutMs: number): DoorbellSleepResult {
    this.checkIndex(i);
    if (!(timeoutMs >= 0)) {
      throw new RangeError(`Doorbells.sleep: timeoutMs ${timeoutMs} must be >= 0`);
    }
    return Atomics.wait(this.words, i * SLOT_INT32_WORDS, seenValue, timeoutMs);
  }

  private checkIndex(i: number): void {
    if ((i >>> 0) !== i || i >= this.count) {
      throw new RangeError(`Doorbells: doorbell index ${i} out of range [0, ${this.count})`);
    }
  }
}

function assertCount(count: number): void {
  if (!Number.isInteger(count) || count <= 0) {
    throw new RangeError(`Doorbells: count ${count} must be a positive integer`);
  }
}
