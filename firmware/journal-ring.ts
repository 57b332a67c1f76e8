// Journal ring arithmetic (seed 000 §6, seed 002 §6): the two circular areas of a journal
// volume and the rules that decide "empty", "full", wrap and release. Every process that moves
// a pointer of pointer information 700 does it through these functions; they are pure, so the
// rules can be tested exhaustively on small rings.
//
// Choices (docs/decisions.md, "Journal rings"):
//   - Positions are byte offsets in the journal volume. The update-information area is
//     [ui_head, wd_head), the write-data area [wd_head, capacity).
//   - An update information takes one whole block, UI_SLOT_BYTES, so writing one never needs
//     a read-modify-write of a partly valid block.
//   - newest == oldest always means EMPTY. A store must leave newest != oldest: the used bytes
//     plus the new record must stay strictly below the area size (the write-data rule of
//     S1345/S1830, applied to both areas, modulo the area, which fixes the literal test's wrap
//     erratum).
//   - Write data may straddle the end of the write-data area and continue at its head (the
//     seed's "subtract" correction, done right: subtract the area size).

import { BLOCK_BYTES } from './config.ts';
import { assert } from './assert.ts';

/** Bytes of one update-information record's slot in the update-information area. */
export const UI_SLOT_BYTES = BLOCK_BYTES;

export interface RingGeometry {
  uiHead: number;
  wdHead: number;
  capacity: number;
  /** Bytes of one update-information slot; UI_SLOT_BYTES except in the seed's worked examples (100 units). */
  uiSlot?: number;
}

export function uiAreaBytes(g: RingGeometry): number {
  return g.wdHead - g.uiHead;
}

export function wdAreaBytes(g: RingGeometry): number {
  return g.capacity - g.wdHead;
}

/** Bytes in use between oldest and newest in a ring of `areaBytes` (0 when they are equal). */
export function usedBytes(newest: number, oldest: number, areaBytes: number): number {
  const used = newest - oldest;
  return used >= 0 ? used : used + areaBytes;
}

/** S1340/S1370/S1810: true if one more update information fits (leaving newest != oldest). */
export function uiFits(uiNewest: number, uiOldest: number, g: RingGeometry): boolean {
  return usedBytes(uiNewest, uiOldest, uiAreaBytes(g)) + (g.uiSlot ?? UI_SLOT_BYTES) < uiAreaBytes(g);
}

/** S1345/S1830: true if `dataBytes` more write data fit (leaving newest != oldest). */
export function wdFits(wdNewest: number, wdOldest: number, dataBytes: number, g: RingGeometry): boolean {
  return usedBytes(wdNewest, wdOldest, wdAreaBytes(g)) + dataBytes < wdAreaBytes(g);
}

/** Advances an update-information position by `records` records, wrapping at the area end. */
export function advanceUi(position: number, records: number, g: RingGeometry): number {
  const area = uiAreaBytes(g);
  assert(position >= g.uiHead && position < g.wdHead && records >= 0, `update-information position ${position} (+${records} records) outside its area [${g.uiHead}, ${g.wdHead})`);
  const offset = (position - g.uiHead + records * (g.uiSlot ?? UI_SLOT_BYTES)) % area;
  return g.uiHead + offset;
}

/** Advances a write-data position by `bytes`, wrapping at the journal volume's end. */
export function advanceWd(position: number, bytes: number, g: RingGeometry): number {
  const area = wdAreaBytes(g);
  assert(position >= g.wdHead && position < g.capacity && bytes >= 0, `write-data position ${position} (+${bytes} bytes) outside its area [${g.wdHead}, ${g.capacity})`);
  const offset = (position - g.wdHead + bytes) % area;
  return g.wdHead + offset;
}

/**
 * The pieces of a write-data record of `bytes` at `position`: the first runs to the area end at
 * most, the second (possibly empty) continues at the area head.
 */
export function wdPieces(position: number, bytes: number, g: RingGeometry, out: { firstBytes: number; secondPosition: number }): void {
  const toEnd = g.capacity - position;
  out.firstBytes = bytes <= toEnd ? bytes : toEnd;
  out.secondPosition = g.wdHead;
}

/** Journals between oldest and newest in the update-information area. */
export function journalsHeld(uiNewest: number, uiOldest: number, g: RingGeometry): number {
  return usedBytes(uiNewest, uiOldest, uiAreaBytes(g)) / (g.uiSlot ?? UI_SLOT_BYTES);
}

/** Fraction of the journal in use: the fuller of the two areas, 0..1. */
export function journalUsage(uiNewest: number, uiOldest: number, wdNewest: number, wdOldest: number, g: RingGeometry): number {
  const ui = usedBytes(uiNewest, uiOldest, uiAreaBytes(g)) / uiAreaBytes(g);
  const wd = wdAreaBytes(g) > 0 ? usedBytes(wdNewest, wdOldest, wdAreaBytes(g)) / wdAreaBytes(g) : 0;
  return ui > wd ? ui : wd;
}

/**
 * How a journal volume of `capacityBytes` is split: an eighth (rounded to blocks, at least
 * four records) holds update information, the rest write data — one 512-byte record for every
 * 3.5 KiB of write data on average fills both areas at the same pace.
 */
export function splitJournalVolume(capacityBytes: number, uiPercent = 12.5): RingGeometry {
  let ui = Math.floor((capacityBytes * uiPercent) / 100 / UI_SLOT_BYTES) * UI_SLOT_BYTES;
  if (ui < 4 * UI_SLOT_BYTES) ui = 4 * UI_SLOT_BYTES;
  return { uiHead: 0, wdHead: ui, capacity: capacityBytes };
}
