// Read window: on a secondary, the journal read commands of each group that are in flight or
// whose responses wait to be stored — the update-number index of seed 000 [0134]. With several
// commands in flight over several links, responses may arrive in any order; each waits here, in
// its own staging buffer, until the journals before it are stored, so the journal volume (and so
// restore) only ever sees update numbers in ascending order and a gap is simply waited at.
//
// Layout per group (readWindowMax entries of READ_WINDOW_ENTRY_BYTES):
//  off size field
//    0    1 state          WindowState: free, awaiting a response, arrived (batch in its buffer)
//    1    1 numbered       1 = the command asked for journals from a named update number (first_number)
//    2    2 reserved
//    4    4 link           the link the command went out on
//    8    4 request_id     echoed by the response
//   12    4 count          journals in the arrived batch
//   16    4 bytes          payload bytes of the arrived batch (its header included)
//   20    4 reserved
//   24    8 sent_ms        float64: when the command was sent (its timeout runs from here)
//   32    8 first_number   float64: update number of the batch's first journal; while awaiting a
//                          numbered command, the number it asked from
//   40    8 reserved

import { assert } from './assert.ts';

export const READ_WINDOW_ENTRY_BYTES = 48;
export const WindowState = { FREE: 0, AWAITING: 1, ARRIVED: 2 } as const;
export const WINDOW_STATE_NAME = ['free', 'awaiting', 'arrived'] as const;

export class ReadWindow {
  constructor(private readonly view: DataView, private readonly entries: number) {}

  /** Entries per group (the configuration's readWindowMax). */
  get size(): number {
    return this.entries;
  }

  private at(group: number, slot: number): number {
    assert(slot >= 0 && slot < this.entries, `read window slot ${slot} out of range`);
    return (group * this.entries + slot) * READ_WINDOW_ENTRY_BYTES;
  }

  state(group: number, slot: number): number { return this.view.getUint8(this.at(group, slot)); }
  numbered(group: number, slot: number): boolean { return this.view.getUint8(this.at(group, slot) + 1) === 1; }
  link(group: number, slot: number): number { return this.view.getUint32(this.at(group, slot) + 4, true); }
  requestId(group: number, slot: number): number { return this.view.getUint32(this.at(group, slot) + 8, true); }
  count(group: number, slot: number): number { return this.view.getUint32(this.at(group, slot) + 12, true); }
  bytes(group: number, slot: number): number { return this.view.getUint32(this.at(group, slot) + 16, true); }
  sentMs(group: number, slot: number): number { return this.view.getFloat64(this.at(group, slot) + 24, true); }
  firstNumber(group: number, slot: number): number { return this.view.getFloat64(this.at(group, slot) + 32, true); }

  /** A command went out on `link`; `fromNumber` > 0 for a numbered one. */
  sent(group: number, slot: number, link: number, requestId: number, fromNumber: number, nowMs: number): void {
    const at = this.at(group, slot);
    this.view.setUint8(at, WindowState.AWAITING);
    this.view.setUint8(at + 1, fromNumber > 0 ? 1 : 0);
    this.view.setUint32(at + 4, link, true);
    this.view.setUint32(at + 8, requestId, true);
    this.view.setUint32(at + 12, 0, true);
    this.view.setUint32(at + 16, 0, true);
    this.view.setFloat64(at + 24, nowMs, true);
    this.view.setFloat64(at + 32, fromNumber, true);
  }

  /** Its response's batch is in the slot's staging buffer. */
  arrived(group: number, slot: number, count: number, bytes: number, firstNumber: number): void {
    const at = this.at(group, slot);
    this.view.setUint8(at, WindowState.ARRIVED);
    this.view.setUint32(at + 12, count, true);
    this.view.setUint32(at + 16, bytes, true);
    this.view.setFloat64(at + 32, firstNumber, true);
  }

  release(group: number, slot: number): void {
    this.view.setUint8(this.at(group, slot), WindowState.FREE);
  }

  clear(group: number): void {
    for (let s = 0; s < this.entries; s++) this.release(group, s);
  }

  /** Entries of `group` in `state`. */
  countIn(group: number, state: number, window = this.entries): number {
    let n = 0;
    for (let s = 0; s < window; s++) if (this.state(group, s) === state) n++;
    return n;
  }
}
