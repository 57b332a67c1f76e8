// The simulator's write history and its prefix checker — independent of the firmware's own
// bookkeeping: it knows only what the host was told (which writes were acknowledged, in which
// order) and what the secondary's volumes hold.
//
// Every block a write carries is stamped: word 0 = the write's sequence number, word 1 = volume,
// word 2 = block, the rest a pattern of those — so a block read back tells exactly which write (if
// any) it holds, and a torn, misplaced or corrupted block is recognised. With one host writer
// issuing writes one at a time, acknowledgement order is update-number order, so "the secondary
// equals the primary's initial image plus writes 1..k" is checked as: every block holds the last
// of writes 1..k that touched it (or zero if none did), where k is the newest write seen.

import { BLOCK_BYTES } from '../../firmware/config.ts';

/** `blocks` stamped blocks of write `seq` at (volume, block). */
export function stamp(seq: number, volume: number, block: number, blocks: number): Uint8Array {
  const out = new Uint8Array(blocks * BLOCK_BYTES);
  const words = new Int32Array(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const w = b * 128;
    words[w] = seq;
    words[w + 1] = volume;
    words[w + 2] = block + b;
    for (let k = 3; k < 128; k++) words[w + k] = (Math.imul(seq, 0x9e3779b1) ^ Math.imul(block + b, 0x85ebca6b) ^ Math.imul(k, 0xc2b2ae35) ^ volume) | 0;
  }
  return out;
}

export interface WriteRecord {
  seq: number;
  volume: number;
  block: number;
  blocks: number;
}

/** What a prefix check found: the prefix length k, or the first block that contradicts every prefix. */
export type PrefixVerdict = { ok: true; k: number } | { ok: false; k: number; problem: string };

export class WriteHistory {
  readonly writes: WriteRecord[] = [];

  constructor(readonly volumes: readonly number[], readonly volumeBlocks: number) {}

  /** Records an acknowledged write; returns its sequence number. */
  record(volume: number, block: number, blocks: number): WriteRecord {
    const w = { seq: this.writes.length + 1, volume, block, blocks };
    this.writes.push(w);
    return w;
  }

  /** The next write's stamped data (call record() once it is acknowledged). */
  dataFor(volume: number, block: number, blocks: number): Uint8Array {
    return stamp(this.writes.length + 1, volume, block, blocks);
  }

  /** The write each block of each volume holds after writes 1..k (0 = never written). */
  imageAt(k: number): Map<number, Int32Array> {
    const image = new Map<number, Int32Array>();
    for (const v of this.volumes) image.set(v, new Int32Array(this.volumeBlocks));
    for (let i = 0; i < k; i++) {
      const w = this.writes[i]!;
      image.get(w.volume)!.fill(w.seq, w.block, w.block + w.blocks);
    }
    return image;
  }

  /** Is `contents` (volume -> bytes) the image after writes 1..k for some k? Which k? */
  prefixOf(contents: ReadonlyMap<number, Uint8Array>): PrefixVerdict {
    let k = 0;
    const seqs = new Map<number, Int32Array>();
    for (const v of this.volumes) {
      const bytes = contents.get(v);
      if (!bytes) return { ok: false, k: 0, problem: `volume ${v} was not read` };
      const words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
      const s = new Int32Array(this.volumeBlocks);
      for (let b = 0; b < this.volumeBlocks; b++) {
        const seq = words[b * 128]!;
        const at = b * BLOCK_BYTES;
        if (seq === 0) {
          for (let i = at; i < at + BLOCK_BYTES; i++) {
            if (bytes[i] !== 0) return { ok: false, k: 0, problem: `volume ${v} block ${b}: neither zero nor a stamped block` };
          }
        } else {
          if (seq < 0 || seq > this.writes.length) return { ok: false, k: 0, problem: `volume ${v} block ${b}: claims write ${seq}, which was never acknowledged` };
          const expected = stamp(seq, v, b, 1);
          for (let i = 0; i < BLOCK_BYTES; i++) {
            if (bytes[at + i] !== expected[i]) return { ok: false, k: 0, problem: `volume ${v} block ${b}: a damaged or misplaced block (claims write ${seq})` };
          }
        }
        s[b] = seq;
        if (seq > k) k = seq;
      }
      seqs.set(v, s);
    }
    const image = this.imageAt(k);
    for (const [v, s] of seqs) {
      const want = image.get(v)!;
      for (let b = 0; b < this.volumeBlocks; b++) {
        if (s[b] !== want[b]) {
          return { ok: false, k, problem: `volume ${v} block ${b}: holds write ${s[b]}, but the image after writes 1..${k} has write ${want[b]} there` };
        }
      }
    }
    return { ok: true, k };
  }
}
