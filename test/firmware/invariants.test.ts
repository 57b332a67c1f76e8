// Invariants the firmware asserts at the step that would break them (issue 5, "ring and state
// invariants"): pair state transitions made by the processes, and ring positions that left their
// area. A violation throws inside the processor, which the runtime reports with its id.

import { describe, expect, it } from 'vitest';
import { advanceUi, advanceWd, splitJournalVolume } from '../../firmware/journal-ring.ts';
import { PAIR_STATE_NAME, PairState, type PairStateCode } from '../../firmware/structs/pair-info.ts';
import { freshSystem } from '../support/harness.ts';

describe('pair state transitions', () => {
  const legal: Array<[PairStateCode, PairStateCode]> = [
    [PairState.NOT_COPIED, PairState.COPYING], [PairState.COPYING, PairState.NORMAL], [PairState.NOT_COPIED, PairState.NORMAL],
    [PairState.NORMAL, PairState.ABNORMAL], [PairState.COPYING, PairState.ABNORMAL], [PairState.ABNORMAL, PairState.COPYING],
    [PairState.ABNORMAL, PairState.NORMAL], [PairState.NORMAL, PairState.NORMAL],
  ];
  const illegal: Array<[PairStateCode, PairStateCode]> = [
    [PairState.NORMAL, PairState.COPYING], [PairState.NORMAL, PairState.NOT_COPIED], [PairState.ABNORMAL, PairState.NOT_COPIED],
    [PairState.COPYING, PairState.NOT_COPIED],
  ];
  const name = (s: PairStateCode): string => PAIR_STATE_NAME[s]!;

  it.each(legal.map(([a, b]) => [name(a), name(b), a, b] as const))('%s -> %s is made', (_a, _b, from, to) => {
    const h = freshSystem();
    h.mem.pairs.setState(3, from);
    h.mem.pairs.transition(3, to);
    expect(h.mem.pairs.state(3)).toBe(to);
  });

  it.each(illegal.map(([a, b]) => [name(a), name(b), a, b] as const))('%s -> %s throws and changes nothing', (a, b, from, to) => {
    const h = freshSystem();
    h.mem.pairs.setState(3, from);
    expect(() => h.mem.pairs.transition(3, to)).toThrow(`pair 3: ${a} -> ${b} is not a legal pair state transition`);
    expect(h.mem.pairs.state(3)).toBe(from);
  });
});

describe('ring positions', () => {
  const g = splitJournalVolume(64 * 1024);
  it('a position outside its area is a broken pointer, not something to wrap silently', () => {
    expect(advanceUi(g.uiHead, 1, g)).toBe(g.uiHead + 512);
    expect(() => advanceUi(g.wdHead, 1, g)).toThrow(/update-information position 8192 \(\+1 records\) outside its area \[0, 8192\)/);
    expect(() => advanceWd(g.uiHead, 512, g)).toThrow(/write-data position 0 \(\+512 bytes\) outside its area \[8192, 65536\)/);
    expect(() => advanceWd(g.wdHead, -512, g)).toThrow(/outside its area/);
    expect(advanceWd(g.capacity - 512, 1024, g)).toBe(g.wdHead + 512);
  });
});
