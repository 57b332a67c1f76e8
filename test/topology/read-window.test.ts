// Several journal reads in flight over several links (seed 000 [0134], §7.1 item 16), end to end
// in both runtimes: the secondary reads over two links with a window of three commands; one link
// is slow, so responses overtake each other. The secondary must stay a prefix of the primary's
// write order at every check, converge exactly, and survive a link cut mid-stream (lost
// responses asked for again by number).

import { afterEach, describe, expect, it } from 'vitest';
import { WindowState } from '../../firmware/read-window.ts';
import { bootSites, checkPrefix, converge, type Sites } from '../support/two-site.ts';

let current: Sites | null = null;
afterEach(async () => {
  if (current) await current.topo.powerOff();
  current = null;
});

async function windowSites(runtime: 'deterministic' | 'threaded', seed: number, trace?: string[]): Promise<Sites> {
  current = await bootSites({
    runtime, seed, linksPerSecondary: 2, overrides: { readWindowMax: 3 },
    secondaryGroup: { moreLinks: [2], readWindow: 3, readPolicy: 'RECEIVED', batchJournalsMax: 4, readIntervalMs: 2 },
    ...(trace ? { trace } : {}),
  });
  return current;
}

describe('threaded runtime over TCP, read window over two links', () => {
  it('two TCP links, three commands in flight: the secondary converges exactly', async () => {
    current = await bootSites({
      runtime: 'threaded', transport: 'tcp', seed: 75, linksPerSecondary: 2, overrides: { readWindowMax: 3 },
      secondaryGroup: { moreLinks: [2], readWindow: 3, readPolicy: 'RECEIVED', batchJournalsMax: 4, readIntervalMs: 2 },
    });
    const s = current;
    await converge(s, s.secondaries[0]!, 'initial copy');
    for (let i = 0; i < 60; i++) await s.history.writeRandom(8);
    await converge(s, s.secondaries[0]!);
    expect(s.secondaries[0]!.copy.groupStatus(1).data!.readLinks).toEqual([1, 2]);
  });
});

describe.each(['deterministic', 'threaded'] as const)('%s runtime, read window over two links', (runtime) => {
  it('with one link slower, responses overtake each other; the secondary is always a prefix and converges exactly', async () => {
    const s = await windowSites(runtime, 71);
    const [fast, slow] = s.topo.linksBetween(1, 2);
    expect(slow).toBeDefined();
    slow!.setDelay(3);
    await converge(s, s.secondaries[0]!, 'initial copy');
    let last = 0;
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 25; i++) await s.history.writeRandom(8);
      const k = await checkPrefix(s, s.secondaries[0]!);
      expect(k).toBeGreaterThanOrEqual(last);
      last = k;
    }
    await converge(s, s.secondaries[0]!);
    const q = s.secondaries[0]!.copy.groupStatus(1).data!;
    expect(q.readWindow).toBe(3);
    expect(q.readLinks).toEqual([1, 2]);
    expect(q.state).toBe('normal');
    // Responses did overtake each other and waited in the read window.
    expect(s.secondaries[0]!.maintenance.statistics().data!.totals.reads_ahead).toBeGreaterThan(0);
    void fast;
  });

  it('a cut of one link loses the responses on it; they are asked for again by number and the copy goes on over the other', async () => {
    const trace: string[] = [];
    const s = await windowSites(runtime, 73, trace);
    const [, second] = s.topo.linksBetween(1, 2);
    await converge(s, s.secondaries[0]!, 'initial copy');
    // A slow second link: whatever is cut, commands are on it at the time.
    second!.setDelay(20);
    for (let i = 0; i < 30; i++) await s.history.writeRandom(8);
    // Cut while a command is out on the slow link.
    const win = s.secondaries[0]!.mem.window;
    const onSecond = (): boolean => [0, 1, 2].some((slot) => win.state(1, slot) === WindowState.AWAITING && win.link(1, slot) === 2);
    for (let i = 0; i < 200 && !onSecond(); i++) await s.history.writeRandom(8);
    await s.topo.until(onSecond, 'a command in flight on link 2');
    second!.cut();
    for (let i = 0; i < 40; i++) await s.history.writeRandom(8);
    // The command on the cut link times out; the next asks from the first journal not stored.
    await s.topo.until(() => s.secondaries[0]!.maintenance.statistics().data!.totals.reads_by_number! > 0, 'a command by number');
    await converge(s, s.secondaries[0]!, 'with one link cut');
    second!.restore();
    for (let i = 0; i < 20; i++) await s.history.writeRandom(8);
    await converge(s, s.secondaries[0]!, 'after the restore');
    expect(s.primary.copy.groupStatus(1).data!.pairs.every((p) => p.state === 'normal')).toBe(true);
    expect(s.secondaries[0]!.copy.groupStatus(1).data!.state).toBe('normal');
  });
});
