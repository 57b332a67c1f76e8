// Two real `serve` processes joined over TCP on loopback, driven through the CLI as an operator
// drives them: pair creation with initial copy, pairdisplay (table and JSON), host writes
// recorded and verified on the secondary (exactly, and as a prefix while a link is cut), a link
// cut and its restore, split and delta resync, takeover, and restarts with file drives that find
// volumes, journals and states intact: the secondary alone (it resumes reading), then both.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { cli, cliJson, killAll, serve, stop, twoSiteTopology } from './cli-support.ts';

const dirs: string[] = [];
afterEach(() => {
  killAll();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface PairDisplay {
  pairs: Array<{ pair: number; primary: string; secondary: string; primaryState: string | null; secondaryState: string | null; copiedPercent: number | null; differentialTracks: number | null }>;
  systems: Array<{ system: string; role: string; state: string; lastAppliedNumber: number | null; nextUpdateNumber: number | null; lagUpdates: number | null; takenOver: boolean }>;
}

async function until<T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms (last: ${JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

it('two serve processes over TCP: paircreate, pairdisplay, workload and verify, secondary restart, link cut, split and resync, takeover, restart with state intact', { timeout: 180_000 /* ~30 CLI processes; slow on a loaded machine */ }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-e2e-'));
  dirs.push(dir);
  const topo = await twoSiteTopology(dir);
  let [tokyo, osaka] = await Promise.all([serve(topo, 'tokyo'), serve(topo, 'osaka')]);
  expect(tokyo.stdout()).toMatch(/tokyo \(system 1\) ready; control .*tokyo\.sock; link 1 -> osaka \(tcp listen 127\.0\.0\.1:\d+\)/);

  // Pair creation: groups and journal volumes on both sides, pairs, initial copy to the end.
  const created = await cli(topo, 'paircreate', '-g', '1', '-p', 'tokyo', '-S', 'osaka', '-v', '1', '-v', '2', '--jnl', '3', '--wait');
  expect(created.code, created.stderr).toBe(0);
  expect(created.stdout).toContain('group 1: tokyo:1 -> osaka:1, tokyo:2 -> osaka:2 copied');
  expect(created.stdout).toMatch(/initial copy: done in/); // progress lines, plain (not a terminal)

  const record1 = join(dir, 'writes-1.jsonl');
  const [table, w1] = await Promise.all([
    cli(topo, 'pairdisplay', '-g', '1'),
    cliJson<{ writes: number; errors: number }>(topo, 'workload', '-s', 'tokyo', '-v', '1,2', '--seconds', '1', '--depth', '4', '--rate', '1000', '--record', record1),
  ]);
  expect(table.code).toBe(0);
  expect(table.stdout).toMatch(/PAIR\s+P-VOL\s+S-VOL\s+P-STATE\s+S-STATE\s+COPY%/);
  expect(table.stdout).toMatch(/1\s+tokyo:1\s+osaka:1\s+normal\s+normal\s+100/);
  expect(table.stdout).toMatch(/osaka\s+secondary\s+normal/);

  // Host writes on the primary, recorded, then found on the secondary after catch-up.
  expect(w1.writes).toBeGreaterThan(0);
  const v1 = await cli(topo, 'verify', '-s', 'osaka', '--record', record1, '-g', '1');
  expect(v1.code, v1.stderr).toBe(0);
  expect(v1.stdout).toMatch(/osaka: verified: all \d+ written chunks hold their last acknowledged write/);

  // The secondary alone restarts: it resumes reading after the last update number it applied
  // (the verification of the next writes below depends on it).
  expect(await stop(osaka)).toBe(0);
  osaka = await serve(topo, 'osaka');

  // Link cut on the primary's side in the middle of a workload: the secondary's end goes down too
  // (the TCP connection closes), and what the secondary holds is a prefix of the writes.
  const record2 = join(dir, 'writes-2.jsonl');
  const cutMidway = (async () => {
    await new Promise((resolve) => setTimeout(resolve, 800));
    return cli(topo, 'link', 'cut', '-s', 'tokyo', '-l', '1');
  })();
  const [w2, cut] = await Promise.all([cliJson<{ writes: number }>(topo, 'workload', '-s', 'tokyo', '-v', '1', '--seconds', '2', '--rate', '300', '--record', record2), cutMidway]);
  expect(cut.code).toBe(0);
  await until('osaka sees its link down', () => cliJson<Array<{ name: string; links: Array<{ connected: boolean }> }>>(topo, 'info', '-s', 'osaka'), (x) => x[0]!.links[0]!.connected === false);
  const [behind, cutAgain, prefix] = await Promise.all([
    cliJson<PairDisplay>(topo, 'pairdisplay', '-g', '1'),
    cli(topo, 'link', 'cut', '-s', 'tokyo', '-l', '1'),
    cliJson<{ consistent: boolean; newestVisible: number }>(topo, 'verify', '-s', 'osaka', '--record', record2, '-g', '1', '--prefix'),
  ]);
  expect(behind.systems.find((s) => s.system === 'osaka')!.lagUpdates).toBeGreaterThan(0);
  expect(cutAgain.code).toBe(1);
  expect(cutAgain.stderr).toContain('link 1 is already cut');
  expect(prefix.consistent).toBe(true);
  expect(prefix.newestVisible).toBeLessThan(w2.writes - 1);
  expect((await cli(topo, 'link', 'restore', '-s', 'tokyo', '-l', '1')).code).toBe(0);
  expect((await cli(topo, 'verify', '-s', 'osaka', '--record', record2, '-g', '1')).code).toBe(0);

  // Split, writes into the differential bitmap, delta resync.
  const split = await cli(topo, 'pairsplit', '-g', '1');
  expect(split.code).toBe(0);
  expect(split.stdout).toContain('tokyo: group 1 suspended');
  const again = await cli(topo, 'pairsplit', '-g', '1');
  expect(again.code).toBe(1);
  expect(again.stderr).toContain('error: tokyo: group 1 has no pair to suspend');
  const record3 = join(dir, 'writes-3.jsonl');
  await cliJson(topo, 'workload', '-s', 'tokyo', '-v', '1,2', '--seconds', '1', '--rate', '1000', '--record', record3);
  const suspended = await cliJson<PairDisplay>(topo, 'pairdisplay', '-g', '1');
  expect(suspended.pairs.every((p) => p.primaryState === 'abnormal')).toBe(true);
  expect(suspended.pairs.some((p) => p.differentialTracks! > 0)).toBe(true);
  const resync = await cli(topo, 'pairresync', '-g', '1', '--wait');
  expect(resync.code, resync.stderr).toBe(0);
  expect(resync.stdout).toContain('tokyo: group 1 resynchronised');
  expect((await cli(topo, 'verify', '-s', 'osaka', '--record', record3, '-g', '1')).code).toBe(0);

  // Clean shutdown (SIGTERM) and restart of both on the same file drives.
  expect(await Promise.all([stop(tokyo), stop(osaka)])).toEqual([0, 0]);
  expect(osaka.stdout()).toMatch(/osaka: stopped \(0 undestaged slots; state saved to .*osaka\.state\.json\)/);
  [tokyo, osaka] = await Promise.all([serve(topo, 'tokyo'), serve(topo, 'osaka')]);
  const after = await cliJson<PairDisplay>(topo, 'pairdisplay', '-g', '1');
  const tokyoAfter = after.systems.find((s) => s.system === 'tokyo')!;
  const osakaAfter = after.systems.find((s) => s.system === 'osaka')!;
  expect(osakaAfter.state).toBe('normal');
  // Update numbers continue where they stopped; the secondary had applied all of them.
  expect(osakaAfter.lastAppliedNumber).toBe(tokyoAfter.nextUpdateNumber! - 1);
  // The primary comes back suspended with every track marked: its journal and bitmaps were volatile.
  expect(after.pairs.map((p) => p.primaryState)).toEqual(['abnormal', 'abnormal']);
  expect(after.pairs.every((p) => p.differentialTracks! > 0)).toBe(true);
  // The data survived on both sides, and a resync brings the pairs back.
  const verified = await Promise.all([cli(topo, 'verify', '-s', 'osaka', '--record', record3), cli(topo, 'verify', '-s', 'tokyo', '--record', record3)]);
  expect(verified.map((r) => r.code)).toEqual([0, 0]);
  expect((await cli(topo, 'pairresync', '-g', '1', '--wait')).code).toBe(0);

  // Takeover on the secondary: it drains and its volumes become writable.
  const taken = await cliJson<{ restoredNumber: number; pairs: number }>(topo, 'horctakeover', '-g', '1', '-s', 'osaka');
  expect(taken.pairs).toBe(2);
  const [primary, twice] = await Promise.all([cliJson<PairDisplay>(topo, 'pairdisplay', '-g', '1', '-s', 'tokyo'), cli(topo, 'horctakeover', '-g', '1', '-s', 'osaka')]);
  // Every journal the primary made was applied before the takeover completed.
  expect(taken.restoredNumber).toBe(primary.systems[0]!.nextUpdateNumber! - 1);
  expect(twice.code).toBe(1);
  expect(twice.stderr).toContain('group 1 was already taken over');
  // A taken-over group stays taken over across a restart.
  expect(await stop(osaka)).toBe(0);
  osaka = await serve(topo, 'osaka');
  const kept = await cliJson<PairDisplay>(topo, 'pairdisplay', '-g', '1', '-s', 'osaka');
  expect(kept.systems[0]).toMatchObject({ takenOver: true, lastAppliedNumber: taken.restoredNumber });

  // An unreachable system: a clear message and a failure status.
  expect(await stop(tokyo)).toBe(0);
  const gone = await cli(topo, 'pairsplit', '-g', '1', '-s', 'tokyo');
  expect(gone.code).toBe(1);
  expect(gone.stderr).toMatch(/tokyo: system unreachable: cannot connect to control socket .*tokyo\.sock/);
  expect(await stop(osaka)).toBe(0);
});
