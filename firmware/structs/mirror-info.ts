// Mirror pair information (seed 004 §4.3, volume state information 250 of Fig. 3, with the
// update track information 230/240 of §4.2 beside it): one record per local mirror pair
// number; record 0 reserved. Each record is followed in the 'mirrors' region by its two update
// bitmaps, 230 (primary) then 240 (secondary), of `mirrorBitmapBytes` each (firmware/bitmap.ts).
//
//  off size field                meaning
//    0    4 number               mirror pair number
//    4    1 state                MirrorState: 未使用 unused, 分離 separated, ミラー mirror, ミラー一時解除 split
//    5    1 sub_state            MirrorSub (only in the mirror state): 同期化中 synchronising, 同期化済 synchronised
//    6    1 embodiment           Embodiment: E1 (Figs. 7/10), E2A (Figs. 12/13 + Fig. 6 write), E2B (Figs. 12/13 + Fig. 14 write)
//    7    1 flags                MirrorFlag bits: NONVOLATILE (230/240 survive power-off), FULL_RESYNC (5060 copies the
//                                whole volume, not only 230's units), BITMAPS_LOST (volatile bitmaps lost: every unit marked)
//    8    4 primary_volume       正ボリューム: logical volume number
//   12    4 secondary_volume     副ボリューム: logical volume number
//   16    4 unit_blocks          blocks per bit of 230/240 (sector 1, track 128, cylinder 1920)
//   20    4 units                bits in use: ceil(capacity / unit_blocks)
//   24    4 hold                 Atomics: 1 while write processing is held (4020–4050, 5020–5050, 4520–4560, 5520–5540)
//   28    4 writes_active        Atomics: host writes past the hold check whose data and bits are not all in yet
//   32    4 operation            Atomics: MirrorOp running (form, split, resync), 0 = none; claimed by compare-exchange
//   36    4 split_sequence       splits so far (k of Tₖ); the dump files carry it
//   40    8 split_ms             float64: time of the last split (4030/4530)
//   48    4 copied_blocks        blocks 5060/5550 copied in the current or last synchronisation
//   52    4 last_result          MirrorResult of the last operation
//   56    4 dump_read_blocks     Atomics: blocks sent by dump read 7000 (always from the secondary)
//   60    4 primary_read_blocks  Atomics: blocks read from the primary by host reads while split
//   64    4 operations_done      Atomics: operations ended so far (a host command that started one waits for it to move)
//   68   60 reserved
import { decodeRecord, defineStruct, type DecodedValue } from './struct.ts';

export const MirrorState = { UNUSED: 0, SEPARATED: 1, MIRROR: 2, SPLIT: 3 } as const;
export type MirrorStateCode = (typeof MirrorState)[keyof typeof MirrorState];
export const MIRROR_STATE_NAME = ['unused', 'separated', 'mirror', 'split'] as const;
export const MirrorSub = { NONE: 0, SYNCHRONISING: 1, SYNCHRONISED: 2 } as const;
export const MIRROR_SUB_NAME = ['—', 'synchronising', 'synchronised'] as const;
export const Embodiment = { E1: 1, E2A: 2, E2B: 3 } as const;
export const EMBODIMENT_NAME = ['none', 'E1', 'E2a', 'E2b'] as const;
export const MirrorFlag = { NONVOLATILE: 1, FULL_RESYNC: 2, BITMAPS_LOST: 4 } as const;
export const MirrorOp = { NONE: 0, FORM: 1, SPLIT: 2, RESYNC: 3, DELETE: 4 } as const;
export const MIRROR_OP_NAME = ['none', 'form', 'split', 'resync', 'delete'] as const;
export const MirrorResult = { OK: 0, RUNNING: 1, STAGE_FAILED: 2 } as const;
export const MIRROR_RESULT_NAME = ['ok', 'running', 'stage failed'] as const;

/** Bitmap units by name (seed 004 §4.2: track, or sectors or cylinders 【0037】). */
export const UNIT_BLOCKS = { sector: 1, track: 128, cylinder: 1920 } as const;
export type UnitName = keyof typeof UNIT_BLOCKS;

/** Which of a pair's two bitmaps. */
export const BITMAP_230 = 0;
export const BITMAP_240 = 1;

export const MIRROR_INFO = defineStruct('mirror-info-250', 128, [
  { name: 'number', offset: 0, size: 4, type: 'u32', meaning: 'mirror pair number' },
  { name: 'state', offset: 4, size: 1, type: 'u8', meaning: 'pair state' },
  { name: 'sub_state', offset: 5, size: 1, type: 'u8', meaning: 'mirror sub-state' },
  { name: 'embodiment', offset: 6, size: 1, type: 'u8', meaning: 'E1, E2a, E2b' },
  { name: 'flags', offset: 7, size: 1, type: 'u8', meaning: 'mirror flags' },
  { name: 'primary_volume', offset: 8, size: 4, type: 'u32', meaning: 'primary volume' },
  { name: 'secondary_volume', offset: 12, size: 4, type: 'u32', meaning: 'secondary volume' },
  { name: 'unit_blocks', offset: 16, size: 4, type: 'u32', meaning: 'blocks per bitmap bit' },
  { name: 'units', offset: 20, size: 4, type: 'u32', meaning: 'bitmap bits in use' },
  { name: 'hold', offset: 24, size: 4, type: 'i32', meaning: 'writes held' },
  { name: 'writes_active', offset: 28, size: 4, type: 'i32', meaning: 'writes in flight' },
  { name: 'operation', offset: 32, size: 4, type: 'i32', meaning: 'operation running' },
  { name: 'split_sequence', offset: 36, size: 4, type: 'u32', meaning: 'splits so far' },
  { name: 'split_ms', offset: 40, size: 8, type: 'f64', meaning: 'time of the last split' },
  { name: 'copied_blocks', offset: 48, size: 4, type: 'u32', meaning: 'blocks copied by the synchronisation' },
  { name: 'last_result', offset: 52, size: 4, type: 'u32', meaning: 'result of the last operation' },
  { name: 'dump_read_blocks', offset: 56, size: 4, type: 'i32', meaning: 'blocks sent by dump read' },
  { name: 'primary_read_blocks', offset: 60, size: 4, type: 'i32', meaning: 'primary blocks read while split' },
  { name: 'operations_done', offset: 64, size: 4, type: 'i32', meaning: 'operations ended so far' },
]);

const O = MIRROR_INFO.offsets;

/** Int32 word offsets (from the record start) of the fields used with Atomics. */
export const MirrorWord = {
  HOLD: O.hold >> 2, WRITES_ACTIVE: O.writes_active >> 2, OPERATION: O.operation >> 2,
  DUMP_READ_BLOCKS: O.dump_read_blocks >> 2, PRIMARY_READ_BLOCKS: O.primary_read_blocks >> 2, OPERATIONS_DONE: O.operations_done >> 2,
} as const;

/**
 * The mirrors region: records of MIRROR_INFO.size + 2 × bitmapBytes (the record, then 230,
 * then 240), so the stride is not the record size and this table keeps its own.
 */
export class MirrorTable {
  readonly layout = MIRROR_INFO;
  readonly view: DataView;
  /** Every word of the region, for Atomics on the fields above and on the bitmaps. */
  readonly words: Int32Array;
  readonly stride: number;
  constructor(buffer: SharedArrayBuffer, readonly byteOffset: number, readonly count: number, readonly bitmapBytes: number) {
    this.stride = MIRROR_INFO.size + 2 * bitmapBytes;
    this.view = new DataView(buffer, byteOffset, this.stride * count);
    this.words = new Int32Array(buffer, byteOffset, (this.stride * count) >> 2);
  }
  at(m: number): number {
    if (!(Number.isInteger(m) && m >= 0 && m < this.count)) throw new RangeError(`mirror pair ${m} out of range 0..${this.count - 1}`);
    return m * this.stride;
  }
  decode(m: number): Record<string, DecodedValue> {
    return decodeRecord(MIRROR_INFO, this.view, this.at(m));
  }
  exists(m: number): boolean { return Number.isInteger(m) && m >= 1 && m < this.count; }
  /** Int32 index in `words` of a record's word `w` (MirrorWord). */
  word(m: number, w: number): number { return (this.at(m) >> 2) + w; }
  /** Int32 index in `words` of the first word of bitmap 230 (0) or 240 (1). */
  bitmapWord(m: number, which: number): number { return (this.at(m) + MIRROR_INFO.size + which * this.bitmapBytes) >> 2; }

  state(m: number): MirrorStateCode { return this.view.getUint8(this.at(m) + O.state) as MirrorStateCode; }
  setState(m: number, state: MirrorStateCode, sub: number): void {
    this.view.setUint8(this.at(m) + O.state, state);
    this.view.setUint8(this.at(m) + O.sub_state, sub);
  }
  subState(m: number): number { return this.view.getUint8(this.at(m) + O.sub_state); }
  embodiment(m: number): number { return this.view.getUint8(this.at(m) + O.embodiment); }
  flags(m: number): number { return this.view.getUint8(this.at(m) + O.flags); }
  setFlags(m: number, flags: number): void { this.view.setUint8(this.at(m) + O.flags, flags); }
  primaryVolume(m: number): number { return this.view.getUint32(this.at(m) + O.primary_volume, true); }
  secondaryVolume(m: number): number { return this.view.getUint32(this.at(m) + O.secondary_volume, true); }
  unitBlocks(m: number): number { return this.view.getUint32(this.at(m) + O.unit_blocks, true); }
  units(m: number): number { return this.view.getUint32(this.at(m) + O.units, true); }
  splitSequence(m: number): number { return this.view.getUint32(this.at(m) + O.split_sequence, true); }
  setSplitSequence(m: number, k: number): void { this.view.setUint32(this.at(m) + O.split_sequence, k, true); }
  splitMs(m: number): number { return this.view.getFloat64(this.at(m) + O.split_ms, true); }
  setSplitMs(m: number, ms: number): void { this.view.setFloat64(this.at(m) + O.split_ms, ms, true); }
  copiedBlocks(m: number): number { return this.view.getUint32(this.at(m) + O.copied_blocks, true); }
  setCopiedBlocks(m: number, n: number): void { this.view.setUint32(this.at(m) + O.copied_blocks, n, true); }
  lastResult(m: number): number { return this.view.getUint32(this.at(m) + O.last_result, true); }
  setLastResult(m: number, r: number): void { this.view.setUint32(this.at(m) + O.last_result, r, true); }
  operation(m: number): number { return Atomics.load(this.words, this.word(m, MirrorWord.OPERATION)); }

  /** Fills a record for a new pair: separated (分離状態), bitmaps clear (【0013】: a new pair starts separated). */
  define(m: number, primary: number, secondary: number, embodiment: number, flags: number, unitBlocks: number, units: number): void {
    const base = this.at(m);
    new Uint8Array(this.view.buffer, this.view.byteOffset + base, this.stride).fill(0);
    this.view.setUint32(base + O.number, m, true);
    this.view.setUint8(base + O.state, MirrorState.SEPARATED);
    this.view.setUint8(base + O.embodiment, embodiment);
    this.view.setUint8(base + O.flags, flags);
    this.view.setUint32(base + O.primary_volume, primary, true);
    this.view.setUint32(base + O.secondary_volume, secondary, true);
    this.view.setUint32(base + O.unit_blocks, unitBlocks, true);
    this.view.setUint32(base + O.units, units, true);
  }

  /** Zeroes a record and its bitmaps (pair deleted). */
  erase(m: number): void {
    new Uint8Array(this.view.buffer, this.view.byteOffset + this.at(m), this.stride).fill(0);
  }
}
