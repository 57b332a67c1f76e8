// Smoke test of the benchmark suite: each scenario runs in quick mode (a fraction of a second of
// load) and writes a well-formed result file — the JSON document with its machine, limits,
// figures and targets, the Markdown summary and the SVG charts. The figures themselves are
// not asserted: they depend on the machine and on whoever else is using it.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RESULT_SCHEMA, type BenchResult } from '../../bench/report.ts';
import { runBench, type Scenario } from '../../bench/suite.ts';

const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function quick(scenario: Scenario): Promise<{ result: BenchResult; json: BenchResult; markdown: string; charts: string[] }> {
  const out = join(dir, scenario);
  const { result, files } = await runBench({ quick: true, only: [scenario], outDir: out, scratchDir: join(out, 'scratch'), latest: false, log: () => {} });
  const json = JSON.parse(readFileSync(files.json, 'utf8')) as BenchResult;
  return { result, json, markdown: readFileSync(files.markdown, 'utf8'), charts: files.charts.map((c) => readFileSync(c, 'utf8')) };
}

function expectWellFormed(r: BenchResult): void {
  expect(r.schema).toBe(RESULT_SCHEMA);
  expect(r.machine.cores).toBeGreaterThan(0);
  expect(r.machine.node).toBe(process.version);
  expect(r.limits.copy.map((c) => c.bytes)).toEqual(expect.arrayContaining([512, 4096, 65536]));
  for (const c of r.limits.copy) expect(c.bytesPerSecond).toBeGreaterThan(0);
  expect(r.limits.locks.uncontendedPerSecond).toBeGreaterThan(0);
  expect(r.limits.locks.contendedPerSecond).toBeGreaterThan(0);
  expect(r.targets.map((t) => t.id)).toEqual(['T1', 'T2', 'T3a', 'T3b', 'T4', 'T5']);
}

describe('benchmark suite, quick mode', () => {
  it('hot path: journaling off and on, one and several groups, each with its ratio to the copy limit, and a chart per write size', async () => {
    const { json, markdown, charts } = await quick('hot-path');
    expectWellFormed(json);
    expect(json.hotPath.map((m) => `${m.journaling}/${m.groups}`)).toEqual(['off/1', 'on/1', 'on/2']);
    for (const m of json.hotPath) {
      // How many commands ran depends on the machine's load (none, on a starved one): not asserted.
      expect(m.errors).toBe(0);
      expect(m.commands).toBeGreaterThanOrEqual(0);
      expect(m.seconds).toBeGreaterThan(0);
      expect(Number.isFinite(m.ratioToCopyLimit)).toBe(true);
    }
    expect(markdown).toContain('## 1. Journal creation hot path');
    expect(charts.length).toBeGreaterThan(0);
    for (const svg of charts) expect(svg).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
  });

  it('replication: every phase is sampled, the end state is reported, and the time-series charts are written', async () => {
    const { json, charts } = await quick('replication');
    expectWellFormed(json);
    const r = json.replication!;
    expect(r.phases.map((p) => p.phase)).toEqual(['saturate', 'drain', 'steady', 'cut', 'catch-up']);
    expect(r.series.length).toBeGreaterThan(5);
    expect(typeof r.caughtUp).toBe('boolean');
    expect(typeof r.verified).toBe('boolean');
    expect(charts).toHaveLength(3);
  });

  it('drives: memory and file drives with destage figures, file drives against the sequential-write limit', async () => {
    const { json } = await quick('drives');
    expectWellFormed(json);
    expect(json.limits.sequentialWrite.length).toBeGreaterThan(0);
    expect(json.drives.map((d) => d.drives)).toEqual(['memory', 'file']);
    expect(json.drives[1]!.destageToSequentialLimit).not.toBeNull();
  });

  it('mirror-dump: the seed 004 figures are in the result file and the Markdown summary', async () => {
    const { json, markdown } = await quick('mirror-dump');
    expectWellFormed(json);
    expect(json.mirrorDump!.dumps.map((d) => d.kind)).toContain('full');
    expect(markdown).toContain('## 5. Differential dumps of a split mirror pair (seed 004)');
  });

  it('micro-benchmarks: every primitive has a rate', async () => {
    const { json } = await quick('micro');
    expectWellFormed(json);
    expect(json.micro.length).toBeGreaterThan(10);
    for (const m of json.micro) expect(Number.isFinite(m.opsPerSecond)).toBe(true);
  });
}, 180_000);
