// Smoke test of the mirror dump scenario (bench/mirror-dump.ts) on a tiny pair: it runs, and the
// figures that do not depend on the machine hold — a differential's size is the updated share of
// the tracks. Throughputs are only checked to be positive.

import { describe, expect, it } from 'vitest';
import { formatMirrorDump, runMirrorDumpBench } from '../../bench/mirror-dump.ts';

describe('bench/mirror-dump.ts', () => {
  it('a 2 MiB pair: full and 1%, 10%, 50% differentials, host writes with and without a dump', async () => {
    const f = await runMirrorDumpBench({ volumeMiB: 2, writeSeconds: 0.2, writersInFlight: 2 });
    expect(f.units).toBe(32);
    expect(f.dumps.map((d) => [d.kind, d.targetUnits])).toEqual([['full', 32], ['differential', 1], ['differential', 3], ['differential', 16]]);
    expect(f.dumps[3]!.sizeRatio).toBeCloseTo(0.5, 2);
    for (const v of [f.writes.withoutDumpMBps, f.writes.duringDumpMBps, f.writes.duringCyclesMBps, f.writes.duringPlainReadsMBps]) expect(v).toBeGreaterThan(0);
    expect(formatMirrorDump(f)).toMatch(/differential +50%/);
  }, 60_000);
});
