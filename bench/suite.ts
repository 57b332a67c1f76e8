// The benchmark suite: measures the limits, runs the scenarios, evaluates the targets and
// writes the result files. `npm run bench` (bench/run.ts) and the smoke test
// (test/bench/smoke.test.ts, in quick mode) both call runBench.
//
//   hot-path     journal creation on one primary: write sizes x channel adapters (1, cores,
//                2 x cores for oversubscription) x journaling off/on, and several groups
//   replication  two sites end to end: saturate, drain, steady, link cut, catch-up
//   drives       memory versus file drives under the same load, with destage bandwidth
//   micro        the primitives, with `benchmark`
//   mirror-dump  seed 004: differential against full dumps at 1, 10 and 50 % of tracks updated, and
//                host writes during a dump against without one (bench/mirror-dump.ts)

import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { measureCopy, measureLocks, measureSequentialWrite } from './limits.ts';
import { runMicro } from './micro.ts';
import { runPrimaryBench, type PrimaryBenchOptions } from './primary.ts';
import { runReplicationBench } from './replication.ts';
import { QUICK as MIRROR_QUICK, STANDARD as MIRROR_STANDARD, runMirrorDumpBench } from './mirror-dump.ts';
import { RESULT_SCHEMA, charts, describeMachine, evaluateTargets, hotPathRow, markdown, type BenchResult, type DriveRow } from './report.ts';

export const SCENARIOS = ['hot-path', 'replication', 'drives', 'micro', 'mirror-dump'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface BenchOptions {
  quick: boolean;
  only: Scenario[];
  outDir: string;
  /** Scratch directory for file drives and the sequential-write limit (one file system). */
  scratchDir: string;
  /** Also write latest.json / latest.md (the set the README shows). */
  latest: boolean;
  log: (line: string) => void;
}

export interface BenchFiles {
  json: string;
  markdown: string;
  charts: string[];
}

export async function runBench(o: BenchOptions): Promise<{ result: BenchResult; files: BenchFiles }> {
  const { quick, log } = o;
  const cores = availableParallelism();
  const startedAt = new Date().toISOString();
  const loadAtStart = loadavg()[0]!;
  const has = (s: Scenario): boolean => o.only.includes(s);
  const writeSizes = quick ? [4096] : [512, 4096, 65536];
  const adapterCounts = quick ? [1] : [...new Set([1, cores, 2 * cores])];
  const manyGroups = quick ? 2 : 4;
  const timing = quick ? { warmupMs: 40, measureMs: 120 } : { warmupMs: 400, measureMs: 1500 };
  const small = quick ? { volumes: 2, volumeMiB: 8, journalMiB: 16, cacheMiB: 8, regionMiB: 2 } : { volumes: 4, volumeMiB: 64, journalMiB: 128, cacheMiB: 64, regionMiB: 4 };
  const driveDirectory = join(o.scratchDir, 'drives');
  const configuration = { quick, scenarios: o.only, cores, writeSizes, adapterCounts, manyGroups, ...timing, ...small };

  log(`machine: ${describeMachine().cpu}, ${cores} cores, Node ${process.version}`);
  log('limits ...');
  const copy = [...new Set([512, 4096, 65536, ...writeSizes])].map((bytes) => measureCopy(bytes, quick ? 30 : 300));
  const locks = await measureLocks(quick ? 30 : 300);
  const driveSizes = quick ? [65536] : [4096, 65536];
  const sequentialWrite = has('drives') ? driveSizes.map((b) => measureSequentialWrite(o.scratchDir, b, (quick ? 8 : 256) * 1024 * 1024)) : [];
  const limits = { copy, locks, sequentialWrite };
  for (const c of copy) log(`  copy ${c.bytes} B into a SAB: ${(c.bytesPerSecond / 1e6).toFixed(0)} MB/s (${c.best})`);
  log(`  Atomics lock/unlock: ${Math.round(locks.uncontendedPerSecond).toLocaleString('en-US')}/s uncontended, ${Math.round(locks.contendedPerSecond).toLocaleString('en-US')}/s contended by ${locks.contendedThreads} threads`);
  for (const s of sequentialWrite) log(`  sequential write + fsync at ${s.blockBytes} B: ${(s.bytesPerSecond / 1e6).toFixed(0)} MB/s`);

  const base: Omit<PrimaryBenchOptions, 'channelAdapters' | 'groups' | 'writeSizes' | 'journaling'> = { ...small, drives: 'memory', driveDirectory, ...timing };
  const hotPath = [];
  if (has('hot-path')) {
    log('hot path: journal creation on one primary, load generated inside the channel adapters ...');
    for (const adapters of adapterCounts) {
      hotPath.push(...await runPrimaryBench({ ...base, channelAdapters: adapters, groups: 1, writeSizes, journaling: ['off', 'on'] }, log));
    }
    const groupsAdapters = quick ? 1 : cores;
    hotPath.push(...await runPrimaryBench({ ...base, volumes: Math.max(base.volumes, manyGroups), channelAdapters: groupsAdapters, groups: manyGroups, writeSizes, journaling: ['on'] }, log));
  }

  let replication = null;
  if (has('replication')) {
    log('replication: two sites end to end ...');
    replication = await runReplicationBench({
      channelAdapters: quick ? 1 : cores,
      writeBytes: 4096,
      volumes: small.volumes,
      volumeMiB: small.volumeMiB,
      journalMiB: quick ? 32 : 1024,
      cacheMiB: small.cacheMiB,
      drives: 'memory',
      driveDirectory,
      ...(quick ? { saturateMs: 150, steadyMs: 200, cutMs: 100, catchUpMs: 200, sampleMs: 25 } : { saturateMs: 3000, steadyMs: 5000, cutMs: 2000, catchUpMs: 4000, sampleMs: 200 }),
      pacedFraction: 0.5,
      catchUpLimitMs: quick ? 2000 : 30_000,
    }, log);
  }

  const drives: DriveRow[] = [];
  if (has('drives')) {
    log('drives: memory versus file drives, journaling on ...');
    for (const kind of ['memory', 'file'] as const) {
      const rows = await runPrimaryBench({ ...base, drives: kind, channelAdapters: quick ? 1 : cores, groups: 1, writeSizes: driveSizes, journaling: ['on'], measureMs: quick ? timing.measureMs : 2500, warmupMs: quick ? timing.warmupMs : 1000 }, log);
      for (const m of rows) {
        const seq = sequentialWrite.find((s) => s.blockBytes === m.writeBytes)?.bytesPerSecond ?? NaN;
        drives.push({ ...hotPathRow(m, limits), sequentialWriteLimit: seq, destageToSequentialLimit: kind === 'file' ? m.destageBytesPerSecond / seq : null });
      }
    }
  }

  const micro = has('micro') ? (log('micro-benchmarks ...'), runMicro(log, { maxTimeS: quick ? 0.005 : 0.3 })) : [];

  let mirrorDump = null;
  if (has('mirror-dump')) {
    log('mirror-dump: full and differential dumps of a split mirror pair ...');
    mirrorDump = await runMirrorDumpBench(quick ? MIRROR_QUICK : MIRROR_STANDARD);
  }

  const partial: Omit<BenchResult, 'targets'> = {
    schema: RESULT_SCHEMA,
    startedAt,
    finishedAt: new Date().toISOString(),
    quick,
    machine: describeMachine(loadAtStart),
    configuration,
    limits,
    hotPath: hotPath.map((m) => hotPathRow(m, limits)),
    replication,
    drives,
    micro,
    mirrorDump,
  };
  const result: BenchResult = { ...partial, targets: evaluateTargets(partial) };
  return { result, files: writeResults(result, o) };
}

export function writeResults(result: BenchResult, o: Pick<BenchOptions, 'outDir' | 'latest'>): BenchFiles {
  mkdirSync(o.outDir, { recursive: true });
  const stamp = result.startedAt.replace(/[:.]/g, '-');
  const svgs = charts(result);
  const chartNames = [...svgs.keys()];
  for (const [name, svg] of svgs) writeFileSync(join(o.outDir, name), svg);
  const json = join(o.outDir, `bench-${stamp}.json`);
  const md = join(o.outDir, `bench-${stamp}.md`);
  writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(md, markdown(result, chartNames));
  if (o.latest) {
    writeFileSync(join(o.outDir, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(o.outDir, 'latest.md'), markdown(result, chartNames));
  }
  return { json, markdown: md, charts: chartNames.map((c) => join(o.outDir, c)) };
}
