// Mailbox: a bounded multi-producer multi-consumer queue of small fixed-size messages in
// shared memory, the way processors hand each other work (a channel adapter posting a
// staging request to a disk adapter, a completion coming back).
//
// It is Dmitry Vyukov's bounded MPMC queue: every cell carries a sequence word that says whose
// turn the cell is, producers claim a position by compare-and-swap on the enqueue position and
// consumers on the dequeue position. No lock is held across the copy of the payload, so a
// producer that is descheduled mid-push never blocks the other producers or any consumer from
// using the other cells, and a push or pop is a handful of atomics with no allocation.
// Full and empty are ordinary answers (false), not errors: the caller decides whether to retry,
// ring a doorbell or back off.
//
// Positions and sequences are int32 and wrap at 2^31: every comparison is made on the wrapped
// difference ((a - b) | 0), which stays correct as long as capacity <= 2^30.
//
// Region layout (byte offsets from byteOffset; the positions sit on their own 64-byte cache
// lines so producers and consumers do not invalidate each other's line on every operation;
// each side's counters live on its own position's line, which that side is writing anyway):
//
//   offset            type         field
//   ----------------  -----------  ---------------------------------------------------------
//     +0              int32        capacity (written by format(), for inspectors)
//     +4 .. +63       -            reserved
//    +64              int32        enqueue position (next position a producer claims)
//    +68              uint32 x2    pushes (low word, high word carried into on wrap)
//    +76              uint32 x2    full rejections (low, high)
//    +84 .. +127      -            reserved
//   +128              int32        dequeue position (next position a consumer claims)
//   +132              uint32 x2    pops (low, high)
//   +140 .. +191      -            reserved
//   +192              cells        capacity cells of 32 bytes each:
//      cell +0        int32        sequence (== position: free for that push;
//                                  == position + 1: holds that position's message)
//      cell +4..+27   int32 x6     payload words w0..w5
//      cell +28       int32        pad (cells are 32 bytes, two per cache line)
//
// The counters are 64-bit: Atomics.add on the low word, and whoever wraps the low word from
// 0xffffffff to 0 adds one to the high word. They are for statistics; a reader can briefly see
// a value 2^32 short while a carry is in flight.
//
// This module is imported by the firmware core and must import nothing from node:* or npm.

/** Payload words per mailbox entry. */
export const MAILBOX_ENTRY_WORDS = 6;

export const MAILBOX_HEADER_BYTES = 192;
export const MAILBOX_CELL_BYTES = 32;
/** Largest capacity: wrapped differences of int32 positions stay meaningful up to 2^30. */
export const MAILBOX_MAX_CAPACITY = 2 ** 30;
/**
 * Smallest capacity. With one cell, "free for position p + 1" and "holds position p's message"
 * are the same sequence value, so the queue could not tell full from free.
 */
export const MAILBOX_MIN_CAPACITY = 2;

/** Byte offsets of the header words; see the table in the header comment. */
export const MAILBOX_CAPACITY_OFFSET_BYTES = 0;
export const MAILBOX_ENQUEUE_POSITION_OFFSET_BYTES = 64;
export const MAILBOX_PUSHES_OFFSET_BYTES = 68;
export const MAILBOX_FULL_REJECTIONS_OFFSET_BYTES = 76;
export const MAILBOX_DEQUEUE_POSITION_OFFSET_BYTES = 128;
export const MAILBOX_POPS_OFFSET_BYTES = 132;

const CAPACITY_INT32 = MAILBOX_CAPACITY_OFFSET_BYTES / 4;
const ENQUEUE_INT32 = MAILBOX_ENQUEUE_POSITION_OFFSET_BYTES / 4;
const PUSHES_INT32 = MAILBOX_PUSHES_OFFSET_BYTES / 4;
const FULL_REJECTIONS_INT32 = MAILBOX_FULL_REJECTIONS_OFFSET_BYTES / 4;
const DEQUEUE_INT32 = MAILBOX_DEQUEUE_POSITION_OFFSET_BYTES / 4;
const POPS_INT32 = MAILBOX_POPS_OFFSET_BYTES / 4;
const CELLS_INT32 = MAILBOX_HEADER_BYTES / 4;
const CELL_INT32_WORDS = MAILBOX_CELL_BYTES / 4;
/** Sequence word first in a cell, payload right after it. */
const PAYLOAD_INT32 = 1;

// The layout table above, checked once at load.
if (
  MAILBOX_ENQUEUE_POSITION_OFFSET_BYTES % 64 !== 0 ||
  MAILBOX_DEQUEUE_POSITION_OFFSET_BYTES % 64 !== 0 ||
  MAILBOX_DEQUEUE_POSITION_OFFSET_BYTES < MAILBOX_ENQUEUE_POSITION_OFFSET_BYTES + 64 ||
  MAILBOX_FULL_REJECTIONS_OFFSET_BYTES + 8 > MAILBOX_ENQUEUE_POSITION_OFFSET_BYTES + 64 ||
  MAILBOX_POPS_OFFSET_BYTES + 8 > MAILBOX_DEQUEUE_POSITION_OFFSET_BYTES + 64 ||
  MAILBOX_HEADER_BYTES < MAILBOX_DEQUEUE_POSITION_OFFSET_BYTES + 64 ||
  (1 + MAILBOX_ENTRY_WORDS) * 4 > MAILBOX_CELL_BYTES
) {
  throw new Error('Mailbox: layout constants are inconsistent');
}

export interface MailboxStats {
  pushes: number;
  pops: number;
  fullRejections: number;
}

export class Mailbox {
  /** Bytes a mailbox of `capacity` entries occupies. */
  static bytesFor(capacity: number): number {
    assertCapacity(capacity);
    return MAILBOX_HEADER_BYTES + capacity * MAILBOX_CELL_BYTES;
  }

  readonly capacity: number;
  private readonly mask: number;
  private readonly words: Int32Array;

  /** Attaches a view to an existing region; never clears memory (see format()). */
  constructor(buffer: SharedArrayBuffer, byteOffset: number, capacity: number) {
    assertCapacity(capacity);
    if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 4 !== 0) {
      throw new RangeError(`Mailbox: byteOffset ${byteOffset} must be a multiple of 4 (64 recommended)`);
    }
    const bytes = MAILBOX_HEADER_BYTES + capacity * MAILBOX_CELL_BYTES;
    if (byteOffset + bytes > buffer.byteLength) {
      throw new RangeError(
        `Mailbox: ${bytes} bytes at byte ${byteOffset} do not fit in a ${buffer.byteLength}-byte buffer`,
      );
    }
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.words = new Int32Array(buffer, byteOffset, bytes / 4);
  }

  /**
   * Empties the mailbox and zeroes its counters. Once, at boot, before any use.
   * `startPosition` (default 0) lets tests start the positions just below the 2^31 wrap.
   */
  format(startPosition = 0): void {
    if (!Number.isInteger(startPosition)) {
      throw new RangeError(`Mailbox.format: startPosition ${startPosition} must be an integer`);
    }
    const words = this.words;
    words.fill(0);
    const start = startPosition | 0;
    // Cell c is free for the first position p >= start with (p & mask) === c.
    for (let k = 0; k < this.capacity; k++) {
      const position = (start + k) | 0;
      Atomics.store(words, CELLS_INT32 + (position & this.mask) * CELL_INT32_WORDS, position);
    }
    Atomics.store(words, CAPACITY_INT32, this.capacity);
    Atomics.store(words, DEQUEUE_INT32, start);
    Atomics.store(words, ENQUEUE_INT32, start);
  }

  /** Appends one message; false when the mailbox is full (counted as a full rejection). */
  tryPush(w0: number, w1: number, w2: number, w3: number, w4: number, w5: number): boolean {
    const words = this.words;
    const mask = this.mask;
    let position = Atomics.load(words, ENQUEUE_INT32);
    let cell = 0;
    for (;;) {
      cell = CELLS_INT32 + (position & mask) * CELL_INT32_WORDS;
      const sequence = Atomics.load(words, cell);
      const difference = (sequence - position) | 0;
      if (difference === 0) {
        // The cell is free for this position: claim the position.
        const seen = Atomics.compareExchange(words, ENQUEUE_INT32, position, (position + 1) | 0);
        if (seen === position) break;
        position = seen; // another producer claimed it; try the position it moved to
      } else if (difference < 0) {
        // The cell still holds the message from one lap ago: full.
        addCounter(words, FULL_REJECTIONS_INT32);
        return false;
      } else {
        // Another producer claimed this position and already filled it; reload.
        position = Atomics.load(words, ENQUEUE_INT32);
      }
    }
    const payload = cell + PAYLOAD_INT32;
    words[payload] = w0;
    words[payload + 1] = w1;
    words[payload + 2] = w2;
    words[payload + 3] = w3;
    words[payload + 4] = w4;
    words[payload + 5] = w5;
    // Publishes the payload (Atomics are sequentially consistent): the cell now holds a message.
    Atomics.store(words, cell, (position + 1) | 0);
    addCounter(words, PUSHES_INT32);
    return true;
  }

  /** Removes the oldest message into out[0..5]; false when the mailbox is empty. */
  tryPop(out: Int32Array): boolean {
    if (out.length < MAILBOX_ENTRY_WORDS) {
      throw new RangeError(`Mailbox.tryPop: out must hold ${MAILBOX_ENTRY_WORDS} words`);
    }
    const words = this.words;
    const mask = this.mask;
    let position = Atomics.load(words, DEQUEUE_INT32);
    let cell = 0;
    for (;;) {
      cell = CELLS_INT32 + (position & mask) * CELL_INT32_WORDS;
      const sequence = Atomics.load(words, cell);
      const difference = (sequence - ((position + 1) | 0)) | 0;
      if (difference === 0) {
        // The cell holds this position's message: claim the position.
        const seen = Atomics.compareExchange(words, DEQUEUE_INT32, position, (position + 1) | 0);
        if (seen === position) break;
        position = seen;
      } else if (difference < 0) {
        // The message for this position has not been published yet: empty.
        return false;
      } else {
        // Another consumer took this position already; reload.
        position = Atomics.load(words, DEQUEUE_INT32);
      }
    }
    const payload = cell + PAYLOAD_INT32;
    out[0] = words[payload]!;
    out[1] = words[payload + 1]!;
    out[2] = words[payload + 2]!;
    out[3] = words[payload + 3]!;
    out[4] = words[payload + 4]!;
    out[5] = words[payload + 5]!;
    // Hands the cell to the producer of the next lap (position + capacity).
    Atomics.store(words, cell, (position + this.capacity) | 0);
    addCounter(words, POPS_INT32);
    return true;
  }

  /** Messages in the mailbox: approximate under concurrency, always in [0, capacity]. */
  size(): number {
    const dequeue = Atomics.load(this.words, DEQUEUE_INT32);
    const enqueue = Atomics.load(this.words, ENQUEUE_INT32);
    const difference = (enqueue - dequeue) | 0;
    if (difference < 0) return 0;
    return difference > this.capacity ? this.capacity : difference;
  }

  /** The counters as a plain object, for tools and status displays (allocates). */
  statsObject(): MailboxStats {
    return {
      pushes: readCounter(this.words, PUSHES_INT32),
      pops: readCounter(this.words, POPS_INT32),
      fullRejections: readCounter(this.words, FULL_REJECTIONS_INT32),
    };
  }
}

/** 64-bit counter increment: the producer of the low word's wrap carries into the high word. */
function addCounter(words: Int32Array, lowIndex: number): void {
  if (Atomics.add(words, lowIndex, 1) === -1) Atomics.add(words, lowIndex + 1, 1);
}

function readCounter(words: Int32Array, lowIndex: number): number {
  for (;;) {
    const high = Atomics.load(words, lowIndex + 1);
    const low = Atomics.load(words, lowIndex);
    if (Atomics.load(words, lowIndex + 1) === high) return (high >>> 0) * 2 ** 32 + (low >>> 0);
  }
}

function assertCapacity(capacity: number): void {
  if (
    !Number.isInteger(capacity) ||
    capacity < MAILBOX_MIN_CAPACITY ||
    capacity > MAILBOX_MAX_CAPACITY ||
    (capacity & (capacity - 1)) !== 0
  ) {
    throw new RangeError(`Mailbox: capacity ${capacity} must be a power of two in [2, 2^30]`);
  }
}
