// Pair deletion on running groups: after initial copy and restores, the restore and initial-copy
// tasks no longer name the volume and pair they last worked on, so deletePair on both sides is
// not refused as "commands in progress" (found by the operator tools' end-to-end tests).

import { afterEach, describe, expect, it } from 'vitest';
import { bootSites, converge, type Sites } from '../support/two-site.ts';

let current: Sites | null = null;
afterEach(async () => {
  if (current) await current.topo.powerOff();
  current = null;
});

describe.each(['deterministic', 'threaded'] as const)('%s runtime', (runtime) => {
  it('a pair of a copying group can be deleted on the secondary and on the primary once its work is done', async () => {
    current = await bootSites({ runtime, seed: 81 });
    const s = current;
    await converge(s, s.secondaries[0]!, 'initial copy');
    for (let i = 0; i < 10; i++) await s.history.writeRandom(4);
    await converge(s, s.secondaries[0]!);
    // Every pair of each side: one of them is the last the restore wrote and the initial copy copied.
    for (const system of [s.secondaries[0]!, s.primary]) {
      for (const pair of system.copy.groupStatus(1).data!.pairs.map((p) => p.pair)) {
        // A write may still be finishing on a worker thread: deletion says so, and a retry succeeds.
        let r = { status: 'rejected', reason: 'not tried' };
        await s.topo.until(() => (r = system.copy.deletePair(pair)).status === 'ok' || !r.reason.includes('in progress'), `pair ${pair} deleted`, { ms: 5000, steps: 2_000_000 });
        expect(r.reason).toBe('ok');
      }
      expect(system.copy.groupStatus(1).data!.pairs).toEqual([]);
    }
  });
});
