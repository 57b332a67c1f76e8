// The deterministic simulator (tools/sim/): a fixed batch of seeds runs in CI with every checker
// on (acknowledged writes, prefix consistency, convergence or takeover), a seed replays exactly,
// and the prefix checker itself catches what it is there to catch.

import { describe, expect, it } from 'vitest';
import { BLOCK_BYTES } from '../../firmware/config.ts';
import { WriteHistory, stamp } from '../../tools/sim/history.ts';
import { runSeed } from '../../tools/sim/run.ts';
import { describeScenario, scenarioOf } from '../../tools/sim/scenario.ts';

// The first 40 seeds: every topology, one and two links, windows 1..3, every fault kind (processor
// resets and power losses included) and both endings (about 20 s in all; `npm run sim -- --seeds
// 10000` is the long run).
const CI_SEEDS = Array.from({ length: 40 }, (_, i) => i + 1);

describe('simulator: a fixed batch of seeds', () => {
  it.each(CI_SEEDS)('seed %i: every checker passes', async (seed) => {
    const r = await runSeed(seed);
    expect(r.violation, `${r.scenario}\n${r.traceTail.slice(-30).join('\n')}`).toBeNull();
    expect(r.ok).toBe(true);
    // Every write is acknowledged, or refused by a volume whose drive failed (never acknowledged).
    const sc = scenarioOf(seed);
    expect(r.writes + r.refused).toBe(sc.writes);
    if (!sc.faults.some((f) => f.kind === 'data-drive-failure')) expect(r.refused).toBe(0);
  });
});

// Bugs the simulator found, each replayed by the seed that found it.
describe('simulator: regressions', () => {
  it('seed 175: a destaged slot marked clean before its drive flushed lost an acknowledged write in a power loss inside the destage', async () => {
    const r = await runSeed(175);
    expect(scenarioOf(175).faults.map((f) => f.kind)).toContain('power-loss');
    expect(r.violation, `${r.scenario}\n${r.traceTail.slice(-30).join('\n')}`).toBeNull();
    expect(r.torn.unflushedBlocks).toBeGreaterThan(0);
    expect(r.journalScans).toBe(1);
  });
});

describe('simulator: regressions (resets)', () => {
  it('seed 9214: a processor reset whose restart fell after a power-on started a second copy of the processor, which failed the group', async () => {
    const r = await runSeed(9214);
    expect(r.violation, `${r.scenario}\n${r.traceTail.slice(-30).join('\n')}`).toBeNull();
    expect(r.traceTail.filter((l) => l.includes('system1: processor 0: started')).length).toBe(1);
  });
});

describe('simulator: regressions (drive failures)', () => {
  it('seed 5702: a cascade primary\'s failed data drive suspended one synchronous pair only, and the secondary held a write without the one before it', async () => {
    const r = await runSeed(5702);
    expect(scenarioOf(5702).faults.map((f) => f.kind)).toContain('data-drive-failure');
    expect(r.violation, `${r.scenario}\n${r.traceTail.slice(-30).join('\n')}`).toBeNull();
  });

  it('seed 400: restore wrote journals for a failed secondary volume into cache until the cache was full and takeover hung', async () => {
    const r = await runSeed(400);
    expect(r.violation, `${r.scenario}\n${r.traceTail.slice(-30).join('\n')}`).toBeNull();
    expect(r.traceTail.some((l) => l.includes('took over, but its data drive failed'))).toBe(true);
  });
});

describe('simulator: determinism', () => {
  it('a seed replays exactly: the same steps, virtual time, checks and prefixes', async () => {
    const a = await runSeed(5, { writes: 60 });
    const b = await runSeed(5, { writes: 60 });
    expect([b.steps, b.virtualMs, b.checks, b.prefixes, b.faults]).toEqual([a.steps, a.virtualMs, a.checks, a.prefixes, a.faults]);
    expect(b.traceTail).toEqual(a.traceTail);
  });

  it('the scenario of a seed is a pure function of it', () => {
    expect(describeScenario(scenarioOf(42))).toBe(describeScenario(scenarioOf(42)));
    expect(describeScenario(scenarioOf(42))).not.toBe(describeScenario(scenarioOf(43)));
  });
});

describe('simulator: the prefix checker', () => {
  const BLOCKS = 16;
  function history(): WriteHistory {
    const h = new WriteHistory([1, 2], BLOCKS);
    h.record(1, 0, 4); // write 1: volume 1 blocks 0..3
    h.record(2, 2, 2); // write 2: volume 2 blocks 2..3
    h.record(1, 2, 4); // write 3: volume 1 blocks 2..5
    return h;
  }
  function image(h: WriteHistory, k: number): Map<number, Uint8Array> {
    const out = new Map<number, Uint8Array>();
    for (const v of [1, 2]) out.set(v, new Uint8Array(BLOCKS * BLOCK_BYTES));
    for (const w of h.writes.slice(0, k)) out.get(w.volume)!.set(stamp(w.seq, w.volume, w.block, w.blocks), w.block * BLOCK_BYTES);
    return out;
  }

  it('finds k for every prefix image, 0 for the initial one', () => {
    const h = history();
    for (let k = 0; k <= 3; k++) expect(h.prefixOf(image(h, k))).toEqual({ ok: true, k });
  });

  it('write 3 without write 2 (another volume) is not a prefix', () => {
    const h = history();
    const img = image(h, 1);
    img.get(1)!.set(stamp(3, 1, 2, 4), 2 * BLOCK_BYTES);
    const v = h.prefixOf(img);
    expect(v.ok).toBe(false);
    expect(!v.ok && v.problem).toBe('volume 2 block 2: holds write 0, but the image after writes 1..3 has write 2 there');
  });

  it('an older write over a newer one is not a prefix', () => {
    const h = history();
    const img = image(h, 3);
    img.get(1)!.set(stamp(1, 1, 3, 1), 3 * BLOCK_BYTES);
    expect(h.prefixOf(img)).toMatchObject({ ok: false, problem: 'volume 1 block 3: holds write 1, but the image after writes 1..3 has write 3 there' });
  });

  it('a damaged byte, a block at the wrong place, or a write never acknowledged is reported', () => {
    const h = history();
    const damaged = image(h, 3);
    damaged.get(1)![5 * BLOCK_BYTES + 100]! ^= 1;
    expect(h.prefixOf(damaged)).toMatchObject({ ok: false, problem: 'volume 1 block 5: a damaged or misplaced block (claims write 3)' });
    const moved = image(h, 3);
    moved.get(2)!.set(stamp(2, 2, 2, 1), 7 * BLOCK_BYTES);
    expect(h.prefixOf(moved)).toMatchObject({ ok: false, problem: 'volume 2 block 7: a damaged or misplaced block (claims write 2)' });
    const future = image(h, 3);
    future.get(2)!.set(stamp(9, 2, 0, 1), 0);
    expect(h.prefixOf(future)).toMatchObject({ ok: false, problem: 'volume 2 block 0: claims write 9, which was never acknowledged' });
  });
});
