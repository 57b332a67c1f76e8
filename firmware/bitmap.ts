// Update bitmaps: one bit per unit of a volume, set when the unit is written. One mechanism
// serves every user of "which tracks changed":
//   - remote copy (UpdateBitmaps below): a bit per track of a volume whose copy is not being
//     kept up to date (a suspended pair); delta resync copies only the marked tracks;
//   - local mirror pairs (seed 004, firmware/mirror.ts): the update track information 230 and
//     240 of each pair, with the unit chosen per pair (sector, track or cylinder).
//
// A Bitmaps object is a view over fixed bitmaps of `bitmapBytes` each in shared memory; bitmap
// `index` starts at word baseWord(index) and has one bit per unitBlocks(index) blocks. Bits are
// set with Atomics.or, so every channel adapter may mark at once.

import type { ControlMemory } from './layout.ts';

export const BITMAP_BYTES = 4096;
export const BITMAP_BITS = BITMAP_BYTES * 8;
const BITMAP_WORDS = BITMAP_BYTES / 4;

/** Smallest track: 64 KiB, so a delta resync copies in units worth a journal of their own. */
export const TRACK_BLOCKS_MIN = 128;

/** Blocks per bit for a volume of `capacityBlocks`. */
export function trackBlocksFor(capacityBlocks: number): number {
  let track = TRACK_BLOCKS_MIN;
  while (track * BITMAP_BITS < capacityBlocks) track *= 2;
  return track;
}

export class Bitmaps {
  readonly bitmapWords: number;

  constructor(
    protected readonly words: Int32Array,
    bitmapBytes: number,
    private readonly baseWord: (index: number) => number,
    private readonly unitBlocksOf: (index: number) => number,
    private readonly unitsOf: (index: number) => number,
  ) {
    this.bitmapWords = bitmapBytes >> 2;
  }

  unitBlocks(index: number): number {
    return this.unitBlocksOf(index);
  }

  units(index: number): number {
    return this.unitsOf(index);
  }

  /** Marks every unit touched by blocks [block, block + blocks). */
  mark(index: number, block: number, blocks: number): void {
    const base = this.baseWord(index);
    const unit = this.unitBlocksOf(index);
    for (let bit = Math.floor(block / unit), last = Math.floor((block + blocks - 1) / unit); bit <= last; bit++) {
      Atomics.or(this.words, base + (bit >> 5), 1 << (bit & 31));
    }
  }

  /** True if every unit touched by [block, block + blocks) is marked. */
  allMarked(index: number, block: number, blocks: number): boolean {
    const unit = this.unitBlocksOf(index);
    for (let bit = Math.floor(block / unit), last = Math.floor((block + blocks - 1) / unit); bit <= last; bit++) if (!this.isMarked(index, bit)) return false;
    return true;
  }

  isMarked(index: number, unit: number): boolean {
    return (Atomics.load(this.words, this.baseWord(index) + (unit >> 5)) & (1 << (unit & 31))) !== 0;
  }

  /** The first marked unit at or after `from`, or -1. */
  nextMarked(index: number, from: number): number {
    const units = this.unitsOf(index);
    const base = this.baseWord(index);
    for (let bit = from; bit < units; bit++) {
      const word = Atomics.load(this.words, base + (bit >> 5));
      if (word === 0) {
        bit |= 31; // skip the rest of an empty word
        continue;
      }
      if ((word & (1 << (bit & 31))) !== 0) return bit;
    }
    return -1;
  }

  /** Clears one unit; true if it was marked. */
  clear(index: number, unit: number): boolean {
    const mask = 1 << (unit & 31);
    return (Atomics.and(this.words, this.baseWord(index) + (unit >> 5), ~mask) & mask) !== 0;
  }

  /** Initialise (初期化): no unit marked. */
  clearAll(index: number): void {
    const base = this.baseWord(index);
    for (let i = 0; i < this.bitmapWords; i++) Atomics.store(this.words, base + i, 0);
  }

  setAll(index: number): void {
    this.mark(index, 0, this.unitsOf(index) * this.unitBlocksOf(index));
  }

  /** to := from (make equal, 一致させ), word by word. */
  copy(from: number, to: number): void {
    const f = this.baseWord(from);
    const t = this.baseWord(to);
    for (let i = 0; i < this.bitmapWords; i++) Atomics.store(this.words, t + i, Atomics.load(this.words, f + i));
  }

  /** to |= from, word by word: never loses a bit another processor sets meanwhile. */
  orInto(from: number, to: number): void {
    const f = this.baseWord(from);
    const t = this.baseWord(to);
    for (let i = 0; i < this.bitmapWords; i++) Atomics.or(this.words, t + i, Atomics.load(this.words, f + i));
  }

  count(index: number): number {
    const base = this.baseWord(index);
    let n = 0;
    for (let i = 0; i < this.bitmapWords; i++) {
      let w = Atomics.load(this.words, base + i);
      while (w !== 0) {
        w &= w - 1;
        n++;
      }
    }
    return n;
  }

  /** The marked units, in order (inspection and tests). */
  list(index: number): number[] {
    const out: number[] = [];
    for (let u = this.nextMarked(index, 0); u >= 0; u = this.nextMarked(index, u + 1)) out.push(u);
    return out;
  }

  /** Copies `byteLength` bytes of the bitmap from byte `byteOffset` (little-endian words) into out[at..]. */
  read(index: number, byteOffset: number, byteLength: number, out: Uint8Array, at: number): void {
    const base = this.baseWord(index);
    for (let i = 0; i < byteLength; i++) {
      const b = byteOffset + i;
      out[at + i] = (Atomics.load(this.words, base + (b >> 2)) >>> ((b & 3) * 8)) & 0xff;
    }
  }
}

/** Remote copy's bitmaps: one per volume number, track size from the volume's capacity. */
export class UpdateBitmaps extends Bitmaps {
  constructor(mem: ControlMemory) {
    const trackBlocks = (volume: number): number => trackBlocksFor(mem.volumes.capacityBlocks(volume));
    super(mem.bitmaps, BITMAP_BYTES, (volume) => volume * BITMAP_WORDS, trackBlocks,
      (volume) => Math.ceil(mem.volumes.capacityBlocks(volume) / trackBlocks(volume)));
  }

  trackBlocks(volume: number): number {
    return this.unitBlocks(volume);
  }

  tracks(volume: number): number {
    return this.units(volume);
  }
}
