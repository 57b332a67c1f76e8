// DrivePersistence: the volatile write cache of a memory drive, for the simulator's power-loss
// fault. A real drive acknowledges a write once it is in its cache and only promises it survives
// power loss after a flush; a MemoryDrive alone makes every write permanent the moment it lands.
// With a persistence block in its descriptor, the drive's buffer is what reads see (the cache
// and the medium as the host perceives them) and this block holds what the medium is known to
// hold: the durable image as of the last flush, plus the marks of every block written since.
//
// Everything lives in one SharedArrayBuffer that travels in the DriveDescriptor, so every
// processor's handle over the same descriptor shares the marks and the durable image; marks are
// set and taken with Atomics, so the threaded runtime may use it too.
//
// No node:* import here, for the same reason as memory-drive.ts.

import { DRIVE_BLOCK_BYTES } from './drive.ts';

// Layout of the persistence buffer (offsets in bytes; words are Int32):
//
//   offset                 size                    contents
//   0                      HEADER_BYTES (32)       header words, below
//   HEADER_BYTES           markWords * 4           unflushed marks, bit b of word w = block 32w+b
//   .. + markWords * 4     summaryWords * 4        summary: bit b of word v = mark word 32v+b may
//                                                  be non-zero (1024 blocks a bit), so a flush
//                                                  skips a 256 MiB drive's clean words in 512 reads
//   .. + summaryWords * 4  markWords * 4           kept bits: scratch of powerLoss, zero otherwise
//   .. + markWords * 4     WRITES_LOGGED_MAX * 8   unflushed-write log: (lba, blocks) per write
//   imageOffset            blockCount * 512        durable image; imageOffset is 512-aligned
//
// Header words:
const H_BLOCK_COUNT = 0;
/** Writes logged since the last flush, saturating at WRITES_LOGGED_MAX + 1 ("the log overflowed"). */
const H_WRITES_LOGGED = 1;
/** Drive operations (writes, flushes) left before an armed power failure strikes; 0 = none armed. */
const H_FAIL_COUNTDOWN = 2;
const HEADER_WORDS = 8;
const HEADER_BYTES = HEADER_WORDS * Int32Array.BYTES_PER_ELEMENT;

/**
 * Unflushed writes the log remembers, for counting torn writes at power loss. A disk adapter
 * flushes once it holds 256 destaged slots (or a quarter of its share, or has nothing dirty
 * left), so between flushes a drive takes a few thousand writes at most; a log that overflows
 * only costs the torn-write count (the report leaves it out), never data.
 */
export const UNFLUSHED_WRITES_LOGGED_MAX = 4096;
const LOG_ENTRY_WORDS = 2;

const BLOCK_WORDS = DRIVE_BLOCK_BYTES / Int32Array.BYTES_PER_ELEMENT;
/** Below this, powerLoss keeps a block's new contents (one rng draw per unflushed block). */
const KEEP_NEW_BELOW = 0.5;

interface Layout {
  markWords: number;
  summaryWords: number;
  summaryOffset: number;
  marksOffset: number;
  keptOffset: number;
  logOffset: number;
  imageOffset: number;
  totalBytes: number;
}

function layoutFor(blockCount: number): Layout {
  if (!Number.isSafeInteger(blockCount) || blockCount < 1 || blockCount > 0x7fff_ffff) {
    throw new Error(`DrivePersistence: block count ${blockCount} is not a positive int32`);
  }
  const markWords = Math.ceil(blockCount / 32);
  const summaryWords = Math.ceil(markWords / 32);
  const marksOffset = HEADER_BYTES;
  const summaryOffset = marksOffset + markWords * 4;
  const keptOffset = summaryOffset + summaryWords * 4;
  const logOffset = keptOffset + markWords * 4;
  const logEnd = logOffset + UNFLUSHED_WRITES_LOGGED_MAX * LOG_ENTRY_WORDS * 4;
  // Block-aligned, as the drive's own buffer is, so every block copy between the two is
  // congruent mod 8 and takes V8's word-at-a-time path (see copyBytes in memory-drive.ts).
  const imageOffset = Math.ceil(logEnd / DRIVE_BLOCK_BYTES) * DRIVE_BLOCK_BYTES;
  return { markWords, summaryWords, marksOffset, summaryOffset, keptOffset, logOffset, imageOffset, totalBytes: imageOffset + blockCount * DRIVE_BLOCK_BYTES };
}

/** What a power loss did to the blocks written since the last flush. */
export interface PowerLossReport {
  /** Blocks written since the last flush; each was kept or reverted. */
  unflushedBlocks: number;
  /** Unflushed blocks whose new contents reached the medium. */
  keptNew: number;
  /** Unflushed blocks that went back to their contents at the last flush. */
  revertedOld: number;
  /**
   * Writes (drive write calls) with at least one unflushed block. Left out when the write log
   * cannot account for every unflushed block (it overflowed, or a write raced a flush).
   */
  unflushedWrites?: number;
  /**
   * Of those, writes that ended with some unflushed blocks new and some old. A block a later
   * unflushed write overwrote counts for both writes. Left out with unflushedWrites.
   */
  tornWrites?: number;
}

/**
 * Thrown out of a drive operation when an armed power failure strikes during it (see
 * DrivePersistence.armPowerFailure): the processor that issued it stops right there, in the
 * middle of its loop iteration, as it would when the power goes.
 */
export class PowerFailure extends Error {
  constructor(what: string) {
    super(`the power failed during ${what}`);
    this.name = 'PowerFailure';
  }
}

/** The volatile write cache of one memory drive, usable from any thread that holds both buffers. */
export class DrivePersistence {
  readonly buffer: SharedArrayBuffer;
  readonly blockCount: number;
  private readonly header: Int32Array;
  private readonly marks: Int32Array;
  private readonly summary: Int32Array;
  private readonly kept: Int32Array;
  private readonly log: Int32Array;
  /** The drive's buffer: what reads see. */
  private readonly current: Int32Array;
  private readonly durable: Int32Array;

  /**
   * A persistence buffer for a drive of blockCount blocks with nothing unflushed. Its durable
   * image is zeros, as a fresh MemoryDrive buffer is, or a copy of `image` for a drive buffer
   * that already holds data (a reboot over a reused memory drive).
   */
  static allocate(blockCount: number, image?: SharedArrayBuffer): SharedArrayBuffer {
    const layout = layoutFor(blockCount);
    const buffer = new SharedArrayBuffer(layout.totalBytes);
    new Int32Array(buffer, 0, HEADER_WORDS)[H_BLOCK_COUNT] = blockCount;
    if (image !== undefined) {
      checkImage(image, blockCount);
      new Int32Array(buffer, layout.imageOffset).set(new Int32Array(image));
    }
    return buffer;
  }

  /** `image` is the drive's own buffer (the descriptor's `buffer`). */
  constructor(buffer: SharedArrayBuffer, image: SharedArrayBuffer) {
    if (!(buffer instanceof SharedArrayBuffer)) {
      throw new Error('DrivePersistence: buffer must be a SharedArrayBuffer so every processor sees it');
    }
    if (buffer.byteLength < HEADER_BYTES) {
      throw new Error(`DrivePersistence: buffer holds ${buffer.byteLength} bytes; use DrivePersistence.allocate()`);
    }
    const blockCount = new Int32Array(buffer, 0, HEADER_WORDS)[H_BLOCK_COUNT]!;
    const layout = layoutFor(blockCount);
    if (buffer.byteLength !== layout.totalBytes) {
      throw new Error(`DrivePersistence: buffer holds ${buffer.byteLength} bytes but ${blockCount} blocks need ${layout.totalBytes}`);
    }
    checkImage(image, blockCount);
    this.buffer = buffer;
    this.blockCount = blockCount;
    this.header = new Int32Array(buffer, 0, HEADER_WORDS);
    this.marks = new Int32Array(buffer, layout.marksOffset, layout.markWords);
    this.summary = new Int32Array(buffer, layout.summaryOffset, layout.summaryWords);
    this.kept = new Int32Array(buffer, layout.keptOffset, layout.markWords);
    this.log = new Int32Array(buffer, layout.logOffset, UNFLUSHED_WRITES_LOGGED_MAX * LOG_ENTRY_WORDS);
    this.current = new Int32Array(image);
    this.durable = new Int32Array(buffer, layout.imageOffset, blockCount * BLOCK_WORDS);
  }

  /**
   * @internal Called by MemoryDrive after the bytes of a write are in the drive's buffer. Marks
   * after the copy, so a flush that takes a mark always copies the write's finished bytes; then
   * the summary, then the log, the order flush() relies on.
   */
  noteWrite(lba: number, blocks: number): void {
    setBits(this.marks, lba, lba + blocks);
    setBits(this.summary, lba >>> 5, ((lba + blocks - 1) >>> 5) + 1);
    // Saturating, so the count stays bounded however many writes come without a flush.
    for (;;) {
      const logged = Atomics.load(this.header, H_WRITES_LOGGED);
      if (logged > UNFLUSHED_WRITES_LOGGED_MAX) return;
      if (Atomics.compareExchange(this.header, H_WRITES_LOGGED, logged, logged + 1) !== logged) continue;
      if (logged < UNFLUSHED_WRITES_LOGGED_MAX) {
        Atomics.store(this.log, logged * LOG_ENTRY_WORDS, lba);
        Atomics.store(this.log, logged * LOG_ENTRY_WORDS + 1, blocks);
      }
      return;
    }
  }

  /**
   * Arms a power failure: the `operations`-th write or flush from now (counted over every handle
   * of this drive) throws PowerFailure — a write after its bytes reached the volatile cache, a
   * flush before it made anything durable. Zero disarms.
   */
  armPowerFailure(operations: number): void {
    if (!Number.isSafeInteger(operations) || operations < 0 || operations > 0x7fffffff) throw new RangeError(`armPowerFailure: ${operations} is not a count of operations`);
    Atomics.store(this.header, H_FAIL_COUNTDOWN, operations);
  }

  /** Whether a power failure is armed and has not struck yet. */
  powerFailureArmed(): boolean {
    return Atomics.load(this.header, H_FAIL_COUNTDOWN) > 0;
  }

  /** @internal Counts one operation towards an armed power failure; throws when it strikes. */
  tick(what: string): void {
    for (;;) {
      const left = Atomics.load(this.header, H_FAIL_COUNTDOWN);
      if (left === 0) return;
      if (Atomics.compareExchange(this.header, H_FAIL_COUNTDOWN, left, left - 1) !== left) continue;
      if (left === 1) throw new PowerFailure(what);
      return;
    }
  }

  /**
   * Copies every unflushed block into the durable image and clears its mark. The log is emptied
   * first: a write that logged before that set its marks and summary bits before it too, so this
   * flush takes them; one that logs after it leaves the log non-empty for the next flush. So a
   * write racing this flush is made durable by a later one; the simulator applies power loss only
   * with every processor stopped, when no write or flush is half done.
   *
   * Measured on a 256 MiB drive (Node 20.20, this container): nothing written 0.4 us, one block
   * written ~3 us, 64 MiB of adjacent blocks 14 ms (4.4 GB/s), 64 MiB of isolated blocks 60 ms.
   */
  flush(): void {
    if (Atomics.exchange(this.header, H_WRITES_LOGGED, 0) === 0) return;
    const { marks, summary } = this;
    // Adjacent marked blocks are copied as one run: one view and one copy instead of one a block.
    let runStart = -1;
    let runEnd = -1;
    for (let summaryWord = 0; summaryWord < summary.length; summaryWord++) {
      // A plain read to skip zero words (Atomics.load costs ~10 ns a word). It still sees every
      // summary bit set before the exchange above, which synchronises with the log increment
      // each write makes after setting them.
      if (summary[summaryWord] === 0) continue;
      for (let words = Atomics.exchange(summary, summaryWord, 0); words !== 0; words &= words - 1) {
        const word = summaryWord * 32 + lowestBit(words);
        for (let bits = Atomics.exchange(marks, word, 0); bits !== 0; ) {
          // The lowest run of set bits in this word: [first, first + length).
          const first = lowestBit(bits);
          const above = ~(bits >>> first);
          const length = above === 0 ? 32 : lowestBit(above);
          const block = word * 32 + first;
          if (block !== runEnd) {
            if (runStart >= 0) this.makeDurable(runStart, runEnd);
            runStart = block;
          }
          runEnd = block + length;
          bits = length + first >= 32 ? 0 : bits & ~(((1 << length) - 1) << first);
        }
      }
    }
    if (runStart >= 0) this.makeDurable(runStart, runEnd);
  }

  /** Blocks written since the last flush. */
  unflushedBlocks(): number {
    let count = 0;
    for (let word = 0; word < this.marks.length; word++) count += popCount(Atomics.load(this.marks, word));
    return count;
  }

  /** A copy of the durable image's blocks lba .. lba+blocks-1 (what a power loss could fall back to). */
  readDurable(lba: number, blocks: number): Uint8Array {
    this.checkRange(lba, blocks);
    const out = new Int32Array(blocks * BLOCK_WORDS);
    out.set(this.durable.subarray(lba * BLOCK_WORDS, (lba + blocks) * BLOCK_WORDS));
    return new Uint8Array(out.buffer);
  }

  /**
   * Power fails. Every unflushed block, in ascending block order with one rng() draw each, either
   * reached the medium (draw < 0.5: its new contents stay and become durable) or did not (it
   * reverts to its durable contents). So a multi-block write may end torn and any unflushed
   * write may be lost entirely. Afterwards the drive's buffer equals the durable image and
   * nothing is marked. Call it only with every processor that holds the drive stopped.
   */
  powerLoss(rng: () => number): PowerLossReport {
    const { marks, kept } = this;
    let unflushedBlocks = 0;
    let keptNew = 0;
    for (let word = 0; word < marks.length; word++) {
      const marked = Atomics.load(marks, word);
      let keptBits = 0;
      for (let bit = 0; marked !== 0 && bit < 32; bit++) {
        if ((marked & (1 << bit)) === 0) continue;
        const block = word * 32 + bit;
        const draw = rng();
        if (!(draw >= 0 && draw < 1)) throw new Error(`DrivePersistence.powerLoss: rng() returned ${draw}, not a number in [0, 1)`);
        unflushedBlocks++;
        if (draw < KEEP_NEW_BELOW) {
          keptBits |= 1 << bit;
          keptNew++;
          this.makeDurable(block, block + 1);
        } else {
          this.current.set(this.durable.subarray(block * BLOCK_WORDS, (block + 1) * BLOCK_WORDS), block * BLOCK_WORDS);
        }
      }
      Atomics.store(kept, word, keptBits);
    }
    for (let word = 0; word < this.summary.length; word++) Atomics.store(this.summary, word, 0);
    const report: PowerLossReport = { unflushedBlocks, keptNew, revertedOld: unflushedBlocks - keptNew };
    const writes = this.countTornWrites();
    if (writes !== null) {
      report.unflushedWrites = writes.unflushed;
      report.tornWrites = writes.torn;
    }
    for (let word = 0; word < marks.length; word++) {
      Atomics.store(marks, word, 0);
      Atomics.store(kept, word, 0);
    }
    Atomics.store(this.header, H_WRITES_LOGGED, 0);
    return report;
  }

  /**
   * From the marks and kept bits powerLoss left, how many logged writes had unflushed blocks and
   * how many of those ended mixed; null when the log does not cover every marked block. Clears
   * the marks it covers, which powerLoss clears anyway.
   */
  private countTornWrites(): { unflushed: number; torn: number } | null {
    const logged = Atomics.load(this.header, H_WRITES_LOGGED);
    if (logged > UNFLUSHED_WRITES_LOGGED_MAX) return null;
    let unflushed = 0;
    let torn = 0;
    for (let entry = 0; entry < logged; entry++) {
      const lba = Atomics.load(this.log, entry * LOG_ENTRY_WORDS);
      const blocks = Atomics.load(this.log, entry * LOG_ENTRY_WORDS + 1);
      // An entry stored by a write that raced a flush may be stale or half replaced.
      if (lba < 0 || blocks < 1 || lba + blocks > this.blockCount) return null;
      let sawNew = false;
      let sawOld = false;
      for (let block = lba; block < lba + blocks; block++) {
        if (!isSet(this.marks, block)) continue;
        if (isSet(this.kept, block)) sawNew = true;
        else sawOld = true;
      }
      if (sawNew || sawOld) unflushed++;
      if (sawNew && sawOld) torn++;
    }
    // Only after every entry is classified: entries overlap, and each needs the marks.
    for (let entry = 0; entry < logged; entry++) {
      const lba = Atomics.load(this.log, entry * LOG_ENTRY_WORDS);
      const blocks = Atomics.load(this.log, entry * LOG_ENTRY_WORDS + 1);
      for (let block = lba; block < lba + blocks; block++) Atomics.and(this.marks, block >>> 5, ~(1 << (block & 31)));
    }
    for (let word = 0; word < this.marks.length; word++) if (Atomics.load(this.marks, word) !== 0) return null;
    return { unflushed, torn };
  }

  /** Copies blocks blockFrom .. blockEnd-1 from what reads see into the durable image. */
  private makeDurable(blockFrom: number, blockEnd: number): void {
    // Int32Array.set: both sides are shared and block-aligned; measured 5.8 GB/s at 4 KiB and
    // 19 GB/s at 64 KiB against Uint8Array.set's 5.6 and 13 (Node 20.20, this container).
    this.durable.set(this.current.subarray(blockFrom * BLOCK_WORDS, blockEnd * BLOCK_WORDS), blockFrom * BLOCK_WORDS);
  }

  private checkRange(lba: number, blocks: number): void {
    if (!Number.isSafeInteger(lba) || !Number.isSafeInteger(blocks) || lba < 0 || blocks < 1 || lba + blocks > this.blockCount) {
      throw new Error(`DrivePersistence: blocks ${lba}..${lba + blocks - 1} lie outside the drive (${this.blockCount} blocks)`);
    }
  }
}

function checkImage(image: SharedArrayBuffer, blockCount: number): void {
  if (!(image instanceof SharedArrayBuffer)) {
    throw new Error('DrivePersistence: the drive buffer must be a SharedArrayBuffer so every processor sees it');
  }
  if (image.byteLength !== blockCount * DRIVE_BLOCK_BYTES) {
    throw new Error(`DrivePersistence: the block is for ${blockCount} blocks but the drive buffer holds ${image.byteLength / DRIVE_BLOCK_BYTES}`);
  }
}

/** Sets bits from .. end-1 of a bitmap (bit b of word w is number 32w+b). */
function setBits(words: Int32Array, from: number, end: number): void {
  for (let index = from; index < end; ) {
    const bit = index & 31;
    const count = Math.min(32 - bit, end - index);
    Atomics.or(words, index >>> 5, count === 32 ? -1 : ((1 << count) - 1) << bit);
    index += count;
  }
}

/** The index of the lowest set bit of a non-zero word. */
function lowestBit(word: number): number {
  return 31 - Math.clz32(word & -word);
}

function isSet(words: Int32Array, block: number): boolean {
  return (Atomics.load(words, block >>> 5) & (1 << (block & 31))) !== 0;
}

function popCount(word: number): number {
  let v = word >>> 0;
  v -= (v >>> 1) & 0x5555_5555;
  v = (v & 0x3333_3333) + ((v >>> 2) & 0x3333_3333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f_0f0f, 0x0101_0101) >>> 24);
}
