// Pair information 500 (seed 000 §4.2, seed 002 §5.2): one record per pair number; record 0 reserved.
//
//  off size field               meaning
//    0    4 number              pair number
//    4    1 state               PairState: 未使用 unused, 正常 normal, 異常 abnormal, コピー未 not copied, コピー中 copying
//    5    1 flags               model: PairFlag bits (RESYNC: コピー中 copies the tracks of the update bitmap, not from the copied address;
//                               SYNC: a synchronous pair — writes are forwarded to the secondary before the host is answered, seed 000 embodiment 2)
//    6    2 reserved
//    8    4 primary_system      primary storage system number
//   12    4 primary_volume      primary logical volume number
//   16    4 secondary_system    secondary storage system number
//   20    4 secondary_volume    secondary logical volume number
//   24    4 group_number        the local group (A on the primary, B on the secondary)
//   28    4 copied_blocks       copied address: initial-copy progress in blocks from the volume start
//   32    4 forward_next        model: synchronous pair: next forwarding ticket (taken under the write's slot locks)
//   36    4 forward_serving     model: synchronous pair: the ticket whose write may be forwarded now
//   40   24 reserved

import { assert } from '../assert.ts';
import { RecordTable, defineStruct } from './struct.ts';

export const PairState = { UNUSED: 0, NORMAL: 1, ABNORMAL: 2, NOT_COPIED: 3, COPYING: 4 } as const;
export type PairStateCode = (typeof PairState)[keyof typeof PairState];
export const PAIR_STATE_NAME = ['unused', 'normal', 'abnormal', 'not-copied', 'copying'] as const;
export const PairFlag = { RESYNC: 1, SYNC: 2 } as const;

/**
 * The pair state transitions the firmware may make (an invariant asserted at every change, so a
 * wrong one stops the processor at the step that made it): registration leaves 未使用 for コピー未,
 * initial copy goes コピー未 -> コピー中 -> 正常, suspension goes to 異常 from any live state, a
 * resync goes 異常 -> コピー中, S940 and a copy-less start go コピー未 -> 正常, takeover makes a
 * secondary 異常 pair 正常, and deletion returns to 未使用. Writing the same state again is allowed.
 */
const LEGAL_PAIR_TRANSITIONS: ReadonlyArray<readonly PairStateCode[]> = [
  /* unused     -> */ [PairState.NOT_COPIED, PairState.NORMAL, PairState.ABNORMAL, PairState.COPYING],
  /* normal     -> */ [PairState.ABNORMAL, PairState.UNUSED],
  /* abnormal   -> */ [PairState.COPYING, PairState.NORMAL, PairState.UNUSED],
  /* not-copied -> */ [PairState.COPYING, PairState.NORMAL, PairState.ABNORMAL, PairState.UNUSED],
  /* copying    -> */ [PairState.NORMAL, PairState.ABNORMAL, PairState.UNUSED],
];

export const PAIR_INFO = defineStruct('pair-info-500', 64, [
  { name: 'number', offset: 0, size: 4, type: 'u32', meaning: 'pair number' },
  { name: 'state', offset: 4, size: 1, type: 'u8', meaning: 'pair state' },
  { name: 'flags', offset: 5, size: 1, type: 'u8', meaning: 'pair flags' },
  { name: 'primary_system', offset: 8, size: 4, type: 'u32', meaning: 'primary storage system number' },
  { name: 'primary_volume', offset: 12, size: 4, type: 'u32', meaning: 'primary logical volume number' },
  { name: 'secondary_system', offset: 16, size: 4, type: 'u32', meaning: 'secondary storage system number' },
  { name: 'secondary_volume', offset: 20, size: 4, type: 'u32', meaning: 'secondary logical volume number' },
  { name: 'group_number', offset: 24, size: 4, type: 'u32', meaning: 'local group number' },
  { name: 'copied_blocks', offset: 28, size: 4, type: 'u32', meaning: 'copied address in blocks' },
  { name: 'forward_next', offset: 32, size: 4, type: 'i32', meaning: 'next forwarding ticket' },
  { name: 'forward_serving', offset: 36, size: 4, type: 'i32', meaning: 'ticket being forwarded' },
]);

const O = PAIR_INFO.offsets;

export class PairTable extends RecordTable {
  constructor(buffer: SharedArrayBuffer, byteOffset: number, count: number) {
    super(PAIR_INFO, buffer, byteOffset, count);
  }
  state(p: number): PairStateCode { return this.view.getUint8(this.at(p) + O.state) as PairStateCode; }
  /** Writes the state as is (setup, maintenance, tests); the firmware's processes use transition(). */
  setState(p: number, state: PairStateCode): void { this.view.setUint8(this.at(p) + O.state, state); }
  /** A state change made by a firmware process: asserted against LEGAL_PAIR_TRANSITIONS. */
  transition(p: number, state: PairStateCode): void {
    const at = this.at(p) + O.state;
    const from = this.view.getUint8(at);
    assert(from === state || (LEGAL_PAIR_TRANSITIONS[from]?.includes(state) ?? false),
      `pair ${p}: ${PAIR_STATE_NAME[from] ?? from} -> ${PAIR_STATE_NAME[state] ?? state} is not a legal pair state transition`);
    this.view.setUint8(at, state);
  }
  exists(p: number): boolean { return Number.isInteger(p) && p >= 1 && p < this.count; }
  flags(p: number): number { return this.view.getUint8(this.at(p) + O.flags); }
  setFlags(p: number, flags: number): void { this.view.setUint8(this.at(p) + O.flags, flags); }
  primarySystem(p: number): number { return this.view.getUint32(this.at(p) + O.primary_system, true); }
  primaryVolume(p: number): number { return this.view.getUint32(this.at(p) + O.primary_volume, true); }
  secondarySystem(p: number): number { return this.view.getUint32(this.at(p) + O.secondary_system, true); }
  secondaryVolume(p: number): number { return this.view.getUint32(this.at(p) + O.secondary_volume, true); }
  groupNumber(p: number): number { return this.view.getUint32(this.at(p) + O.group_number, true); }
  copiedBlocks(p: number): number { return this.view.getUint32(this.at(p) + O.copied_blocks, true); }
  setCopiedBlocks(p: number, blocks: number): void { this.view.setUint32(this.at(p) + O.copied_blocks, blocks, true); }
  /** Int32 word index (in the control buffer) of a pair's forwarding-ticket counters, for Atomics. */
  forwardWord(p: number): number { return (this.byteOffset + this.at(p) + O.forward_next) >> 2; }

  /** Fills a pair record as S910 does (state コピー未 until initial copy picks it up). */
  register(p: number, primarySystem: number, primaryVolume: number, secondarySystem: number, secondaryVolume: number, group: number): void {
    this.clear(p);
    const base = this.at(p);
    this.view.setUint32(base + O.number, p, true);
    this.view.setUint8(base + O.state, PairState.NOT_COPIED);
    this.view.setUint32(base + O.primary_system, primarySystem, true);
    this.view.setUint32(base + O.primary_volume, primaryVolume, true);
    this.view.setUint32(base + O.secondary_system, secondarySystem, true);
    this.view.setUint32(base + O.secondary_volume, secondaryVolume, true);
    this.view.setUint32(base + O.group_number, group, true);
  }
}
