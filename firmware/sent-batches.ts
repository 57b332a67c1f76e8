// Sent batches: for each pointer set on a primary, the journal batches sent to its reader and
// not yet released, oldest first. Releasing by batch keeps the write-data oldest pointer exact
// without reading update information back: each entry knows how many write-data bytes its
// journals occupy (initial-copy journals none).
//
// Which batches a journal read command releases is the reader's choice (release mode in the
// command, seed 000 [0107]): all but the newest (the base protocol, S1590), all of them (right
// after sending), or every batch whose journals are all numbered at most the update number the
// reader names (for example its restored number: seed 002 §10.4's notification variant).
//
// Layout per pointer set (SENT_BATCHES_BYTES):
//  off size field
//    0    4 head            index of the oldest entry
//    4    4 length          entries in use
//    8    4 builder         link + 1 of the reception building the next batch for this set, 0 = none
//   12    4 last_request     request id of the last next-journal command served (a duplicate is answered as a retry)
//   16  16*n entries        first_number f64, count u32, wd_bytes u32
//  272    8 stall_number    float64: the update number whose update information was found incomplete
//  280    8 stall_since_ms  float64: since when (journal read reception's damage detection)

import { assert } from './assert.ts';

export const SENT_BATCHES_MAX = 16;
const HEADER = 16;
const ENTRY = 16;
export const SENT_BATCHES_BYTES = HEADER + SENT_BATCHES_MAX * ENTRY + 16;

export class SentBatches {
  constructor(private readonly view: DataView) {}

  private base(set: number): number {
    return set * SENT_BATCHES_BYTES;
  }

  length(set: number): number {
    return this.view.getUint32(this.base(set) + 4, true);
  }

  clear(set: number): void {
    this.view.setUint32(this.base(set), 0, true);
    this.view.setUint32(this.base(set) + 4, 0, true);
    this.view.setUint32(this.base(set) + 8, 0, true);
    this.view.setUint32(this.base(set) + 12, 0, true);
  }

  /**
   * Claims the right to build the next unsent batch for `link` (several journal reads of one
   * reader may be in flight over several links; only one at a time may take the unsent journals).
   * True if `link` holds it now.
   */
  claim(set: number, link: number): boolean {
    const at = this.base(set) + 8;
    const holder = this.view.getUint32(at, true);
    if (holder !== 0 && holder !== link + 1) return false;
    this.view.setUint32(at, link + 1, true);
    return true;
  }

  /** Request id of the last command that took unsent journals for this set (0 = none yet). */
  lastRequest(set: number): number {
    return this.view.getUint32(this.base(set) + 12, true);
  }

  setLastRequest(set: number, requestId: number): void {
    this.view.setUint32(this.base(set) + 12, requestId >>> 0, true);
  }

  /** Gives the claim up if `link` holds it. */
  unclaim(set: number, link: number): void {
    const at = this.base(set) + 8;
    if (this.view.getUint32(at, true) === link + 1) this.view.setUint32(at, 0, true);
  }

  /** Appends a batch; false when SENT_BATCHES_MAX batches are already unreleased. */
  push(set: number, firstNumber: number, count: number, wdBytes: number): boolean {
    const b = this.base(set);
    const length = this.view.getUint32(b + 4, true);
    if (length >= SENT_BATCHES_MAX) return false;
    const at = b + HEADER + ((this.view.getUint32(b, true) + length) % SENT_BATCHES_MAX) * ENTRY;
    this.view.setFloat64(at, firstNumber, true);
    this.view.setUint32(at + 8, count, true);
    this.view.setUint32(at + 12, wdBytes, true);
    this.view.setUint32(b + 4, length + 1, true);
    return true;
  }

  /** The oldest entry's fields (set must have one). */
  firstNumber(set: number): number { return this.view.getFloat64(this.oldest(set), true); }
  count(set: number): number { return this.view.getUint32(this.oldest(set) + 8, true); }
  wdBytes(set: number): number { return this.view.getUint32(this.oldest(set) + 12, true); }

  /**
   * Notes that the next journal to send, `number`, was found incomplete at `nowMs`; returns for
   * how long it has been so (0 the first time).
   */
  stalled(set: number, number: number, nowMs: number): number {
    const at = this.base(set) + HEADER + SENT_BATCHES_MAX * ENTRY;
    if (this.view.getFloat64(at, true) !== number) {
      this.view.setFloat64(at, number, true);
      this.view.setFloat64(at + 8, nowMs, true);
      return 0;
    }
    return nowMs - this.view.getFloat64(at + 8, true);
  }

  pop(set: number): void {
    const b = this.base(set);
    const length = this.view.getUint32(b + 4, true);
    assert(length > 0, `pointer set ${set}: no sent batch to release`);
    this.view.setUint32(b, (this.view.getUint32(b, true) + 1) % SENT_BATCHES_MAX, true);
    this.view.setUint32(b + 4, length - 1, true);
  }

  private oldest(set: number): number {
    const b = this.base(set);
    assert(this.view.getUint32(b + 4, true) > 0, `pointer set ${set}: no sent batch`);
    return b + HEADER + this.view.getUint32(b, true) * ENTRY;
  }
}
