// Update bitmaps: one bit per track of a volume, set when the track is written while its copy
// is not being kept up to date (a suspended remote-copy pair, a split local mirror), cleared when
// the track has been copied again. Delta resync copies only the marked tracks.
//
// Each volume number owns a fixed bitmap of BITMAP_BYTES in the bitmaps region; the track size
// is the smallest power-of-two number of blocks that lets the volume's capacity fit in the
// bitmap. Bits are set with Atomics.or, so every channel adapter may mark at once.

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

export class UpdateBitmaps {
  constructor(private readonly mem: ControlMemory) {}

  private base(volume: number): number {
    return volume * BITMAP_WORDS;
  }

  trackBlocks(volume: number): number {
    return trackBlocksFor(this.mem.volumes.capacityBlocks(volume));
  }

  tracks(volume: number): number {
    return Math.ceil(this.mem.volumes.capacityBlocks(volume) / this.trackBlocks(volume));
  }

  /** Marks every track touched by blocks [block, block + blocks). */
  mark(volume: number, block: number, blocks: number): void {
    const base = this.base(volume);
    for (let bit = this.firstTrack(volume, block), last = this.lastTrack(volume, block, blocks); bit <= last; bit++) {
      Atomics.or(this.mem.bitmaps, base + (bit >> 5), 1 << (bit & 31));
    }
  }

  /** True if every track touched by [block, block + blocks) is marked. */
  allMarked(volume: number, block: number, blocks: number): boolean {
    for (let bit = this.firstTrack(volume, block), last = this.lastTrack(volume, block, blocks); bit <= last; bit++) if (!this.isMarked(volume, bit)) return false;
    return true;
  }

  isMarked(volume: number, track: number): boolean {
    return (Atomics.load(this.mem.bitmaps, this.base(volume) + (track >> 5)) & (1 << (track & 31))) !== 0;
  }

  private firstTrack(volume: number, block: number): number {
    return Math.floor(block / this.trackBlocks(volume));
  }

  private lastTrack(volume: number, block: number, blocks: number): number {
    return Math.floor((block + blocks - 1) / this.trackBlocks(volume));
  }

  /** The first marked track at or after `fromTrack`, or -1. */
  nextMarked(volume: number, fromTrack: number): number {
    const tracks = this.tracks(volume);
    const words = this.mem.bitmaps;
    const base = this.base(volume);
    for (let bit = fromTrack; bit < tracks; bit++) {
      const word = Atomics.load(words, base + (bit >> 5));
      if (word === 0) {
        bit |= 31; // skip the rest of an empty word
        continue;
      }
      if ((word & (1 << (bit & 31))) !== 0) return bit;
    }
    return -1;
  }

  /** Clears one track; true if it was marked. */
  clear(volume: number, track: number): boolean {
    const mask = 1 << (track & 31);
    return (Atomics.and(this.mem.bitmaps, this.base(volume) + (track >> 5), ~mask) & mask) !== 0;
  }

  clearAll(volume: number): void {
    this.mem.bitmaps.fill(0, this.base(volume), this.base(volume) + BITMAP_WORDS);
  }

  setAll(volume: number): void {
    this.mark(volume, 0, this.mem.volumes.capacityBlocks(volume));
  }

  count(volume: number): number {
    const words = this.mem.bitmaps;
    const base = this.base(volume);
    let n = 0;
    for (let i = 0; i < BITMAP_WORDS; i++) {
      let w = Atomics.load(words, base + i);
      while (w !== 0) {
        w &= w - 1;
        n++;
      }
    }
    return n;
  }
}
