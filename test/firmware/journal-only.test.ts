// A journal-only intermediate (seed 000 embodiment 3): its primary volumes have no storage, so
// nothing can be copied from them. A suspended pair there cannot be resynchronised from this
// system: the operator's resync is refused with the reason (found by the simulator, where the
// resync's copy journals failed the group when they were sent), and the pair stays suspended.

import { describe, expect, it } from 'vitest';
import { PairState } from '../../firmware/structs/pair-info.ts';
import { copySystem, setupPrimaryGroup } from '../support/harness.ts';

describe('journal-only intermediate: resync', () => {
  it('a suspended pair whose primary volume has no storage is not resynchronised: refused with the reason, nothing changes', () => {
    const h = copySystem({
      volumes: [
        { number: 1, format: 'OPEN3', capacityBlocks: 512, drive: 0, startBlock: 0, virtual: true },
        { number: 3, format: 'OPEN3', capacityBlocks: 256, drive: 0, startBlock: 1024 },
      ],
    });
    const [pair] = setupPrimaryGroup(h, 1, [1], 3, { start: false });
    expect(h.copy.startCopy(1, { readers: [2] }).reason).toContain('has no storage, so initial copy cannot read it');
    expect(h.copy.startCopy(1, { readers: [2], noCopy: true }).status).toBe('ok');
    expect(h.copy.suspend(1).status).toBe('ok');
    expect(h.mem.pairs.state(pair!)).toBe(PairState.ABNORMAL);
    const r = h.copy.resync(1);
    expect(r.status).toBe('rejected');
    expect(r.reason).toBe('primary volume 1 has no storage, so a resync cannot read the tracks it missed; the pair stays suspended and its secondary holds a consistent image up to the suspension');
    for (let i = 0; i < 20; i++) h.round();
    expect(h.mem.pairs.state(pair!)).toBe(PairState.ABNORMAL);
  });
});
