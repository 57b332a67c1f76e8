// The benchmark report: the result document (machine, configuration, limits, every figure with
// its ratio to the limit that bounds it, the targets and whether each was met), rendered as
// JSON, as a Markdown summary, and as SVG charts.

import { cpus, loadavg, totalmem } from 'node:os';
import type { CopyLimit, LockLimit, SequentialWriteLimit } from './limits.ts';
import type { MicroResult } from './micro.ts';
import { formatMirrorDump, type MirrorDumpFigures } from './mirror-dump.ts';
import type { PrimaryMeasurement } from './primary.ts';
import type { ReplicationResult } from './replication.ts';
import { lineChart, type Band } from './svg.ts';

export const RESULT_SCHEMA = 'journal-bench/1';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  v8: string;
  platform: string;
  /** 1-minute load average (runnable threads, machine-wide) when the run started and ended. */
  loadAverageAtStart: number;
  loadAverageAtEnd: number;
}

export function describeMachine(loadAverageAtStart = loadavg()[0]!): Machine {
  return {
    loadAverageAtStart,
    loadAverageAtEnd: loadavg()[0]!,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${process.arch}`,
  };
}

export interface HotPathRow extends PrimaryMeasurement {
  /** Host bytes per second over the fastest copy into a SharedArrayBuffer at this write size. */
  ratioToCopyLimit: number;
  /** Commands per second of CPU time (all threads): the figure least moved by a busy neighbour. */
  commandsPerCoreSecond: number;
}

export interface DriveRow extends HotPathRow {
  sequentialWriteLimit: number;
  /** Destage bytes per second over the plain sequential write limit (file drives). */
  destageToSequentialLimit: number | null;
}

export interface Target {
  id: string;
  description: string;
  measured: number | null;
  required: number;
  unit: string;
  met: boolean;
  /** measured / required - 1: how far above (+) or below (-) the target. */
  margin: number | null;
  note: string;
}

export interface BenchResult {
  schema: string;
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  machine: Machine;
  configuration: Record<string, unknown>;
  limits: { copy: CopyLimit[]; locks: LockLimit; sequentialWrite: SequentialWriteLimit[] };
  hotPath: HotPathRow[];
  replication: ReplicationResult | null;
  drives: DriveRow[];
  micro: MicroResult[];
  /** Seed 004's dump benchmark (bench/mirror-dump.ts), when run. */
  mirrorDump?: MirrorDumpFigures | null;
  targets: Target[];
}

export function copyLimitFor(limits: BenchResult['limits'], bytes: number): number {
  return limits.copy.find((c) => c.bytes === bytes)?.bytesPerSecond ?? NaN;
}

export function hotPathRow(m: PrimaryMeasurement, limits: BenchResult['limits']): HotPathRow {
  return { ...m, ratioToCopyLimit: m.bytesPerSecond / copyLimitFor(limits, m.writeBytes), commandsPerCoreSecond: m.coresBusy > 0 ? m.commandsPerSecond / m.coresBusy : 0 };
}

function target(id: string, description: string, measured: number | null, required: number, unit: string, note: string): Target {
  const met = measured !== null && Number.isFinite(measured) && measured >= required;
  return { id, description, measured, required, unit, met, margin: measured === null ? null : measured / required - 1, note };
}

/** The issue's targets, evaluated on what this run measured (a missing run counts as not met). */
export function evaluateTargets(r: Omit<BenchResult, 'targets'>): Target[] {
  const find = (size: number, adapters: number, journaling: 'on' | 'off', groups = 1): HotPathRow | undefined =>
    r.hotPath.find((m) => m.writeBytes === size && m.channelAdapters === adapters && m.journaling === journaling && m.groups === groups);
  const out: Target[] = [];
  const t1 = find(65536, 1, 'on');
  out.push(target('T1', '64 KiB journaled writes, 1 channel adapter: host bytes/s over the copy limit', t1 ? t1.ratioToCopyLimit : null, 0.4, 'ratio',
    t1 ? `${(t1.bytesPerSecond / 1e6).toFixed(0)} MB/s against a copy limit of ${(copyLimitFor(r.limits, 65536) / 1e6).toFixed(0)} MB/s` : 'not measured'));
  const t2 = find(512, 2, 'on');
  out.push(target('T2', '512 B journaled writes, 2 channel adapters: journals/s', t2 ? t2.journalsPerSecond : null, 1_000_000, 'journals/s',
    t2 ? `${Math.round(t2.commandsPerSecond).toLocaleString('en-US')} commands/s, ${t2.coresBusy.toFixed(2)} cores busy` : 'not measured'));
  const one = find(4096, 1, 'on');
  const two = find(4096, 2, 'on');
  out.push(target('T3a', '4 KiB journaled: 2 channel adapters over 1', one && two ? two.commandsPerSecond / one.commandsPerSecond : null, 1.6, 'ratio',
    one && two ? `${Math.round(one.commandsPerSecond).toLocaleString('en-US')} -> ${Math.round(two.commandsPerSecond).toLocaleString('en-US')} commands/s` : 'not measured'));
  const off = find(4096, 2, 'off');
  out.push(target('T3b', '4 KiB, 2 channel adapters: journaling on over off', two && off ? two.commandsPerSecond / off.commandsPerSecond : null, 0.7, 'ratio',
    two && off ? `${Math.round(off.commandsPerSecond).toLocaleString('en-US')} off, ${Math.round(two.commandsPerSecond).toLocaleString('en-US')} on` : 'not measured'));
  const steady = r.replication?.phases.find((p) => p.phase === 'steady');
  const steadyOk = r.replication !== null && steady !== undefined && r.replication.steadyLagBounded && !steady.suspended;
  out.push(target('T4', 'two-site steady state: restore rate over ingest (lag bounded, no suspension)', steady ? (steadyOk ? steady.restoreToIngest : 0) : null, 0.9, 'ratio',
    steady ? `${Math.round(steady.ingestPerSecond).toLocaleString('en-US')} journals/s in, ${Math.round(steady.restorePerSecond).toLocaleString('en-US')} restored; lag max ${steady.lagUpdatesMax} updates / ${steady.lagMsMax.toFixed(0)} ms, ${r.replication!.steadyLagBounded ? 'bounded' : 'growing'}${steady.suspended ? ', SUSPENDED' : ''}; paced at ${Math.round(r.replication!.pacedRatePerSecond).toLocaleString('en-US')}/s${r.replication!.pacesOverrun.length > 0 ? ` (after ${r.replication!.pacesOverrun.map((x) => Math.round(x).toLocaleString('en-US')).join(', ')}/s overran the secondary)` : ''}; after the link cut the lag ${r.replication!.catchUpAfterCutSeconds === null ? 'did not return to its steady level' : `was back to its steady level in ${r.replication!.catchUpAfterCutSeconds.toFixed(2)} s`}` : 'not measured'));
  const file = r.drives.filter((d) => d.drives === 'file' && d.destageToSequentialLimit !== null).sort((a, b) => b.writeBytes - a.writeBytes)[0];
  out.push(target('T5', 'file drives: destage bandwidth over the plain sequential write limit', file ? file.destageToSequentialLimit : null, 0.7, 'ratio',
    file ? `${(file.destageBytesPerSecond / 1e6).toFixed(0)} MB/s destaged at ${file.writeBytes} B writes against ${(file.sequentialWriteLimit / 1e6).toFixed(0)} MB/s` : 'not measured'));
  return out;
}

const n0 = (v: number): string => Math.round(v).toLocaleString('en-US');
const mb = (v: number): string => (v / 1e6).toFixed(v >= 1e8 ? 0 : 1);
const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;
const size = (b: number): string => (b >= 1024 ? `${b / 1024} KiB` : `${b} B`);

export function hotPathTable(rows: HotPathRow[]): string[] {
  return [
    '| write | CAs | groups | journal | commands/s | MB/s | / copy limit | journals/s | cores busy | commands per core-s | group lock contended | waits: slot busy / cache full |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((m) => `| ${size(m.writeBytes)} | ${m.channelAdapters} | ${m.groups} | ${m.journaling} | ${n0(m.commandsPerSecond)} | ${mb(m.bytesPerSecond)} | ${pct(m.ratioToCopyLimit)} | ${n0(m.journalsPerSecond)} | ${m.coresBusy.toFixed(2)} | ${n0(m.commandsPerCoreSecond)} | ${pct(m.groupLockContention)} | ${n0(m.slotBusyWaits)} / ${n0(m.cacheFullWaits)} |`),
  ];
}

export function targetsTable(targets: Target[]): string[] {
  return [
    '| target | required | measured | met | margin | detail |',
    '|---|---|---|---|---|---|',
    ...targets.map((t) => `| ${t.id}: ${t.description} | ${t.unit === 'ratio' ? t.required.toFixed(2) : n0(t.required)} | ${t.measured === null ? '-' : t.unit === 'ratio' ? t.measured.toFixed(3) : n0(t.measured)} | ${t.met ? 'yes' : '**no**'} | ${t.margin === null ? '-' : `${t.margin >= 0 ? '+' : ''}${(100 * t.margin).toFixed(0)}%`} | ${t.note} |`),
  ];
}

export function markdown(r: BenchResult, charts: string[]): string {
  const m = r.machine;
  const lines: string[] = [
    `# Journal throughput benchmark${r.quick ? ' (quick run: figures not meaningful)' : ''}`,
    '',
    `${r.startedAt} — ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node} (V8 ${m.v8}), ${m.platform}; load average ${m.loadAverageAtStart.toFixed(1)} at the start and ${m.loadAverageAtEnd.toFixed(1)} at the end (other work on the same ${m.cores} cores).`,
    'Every figure was measured in this run next to the limits below; on a shared machine read the ratios and the per-core-second figures rather than the absolute numbers.',
    '',
    '## Limits (this machine, this run)',
    '',
    '| limit | value | how |',
    '|---|---|---|',
    ...r.limits.copy.map((c) => `| copy ${size(c.bytes)} into a SharedArrayBuffer | ${mb(c.bytesPerSecond)} MB/s | fastest of ${c.candidates.length}: ${c.best} |`),
    `| Atomics lock/unlock, uncontended | ${n0(r.limits.locks.uncontendedPerSecond)} /s | compareExchange + store, one thread |`,
    `| Atomics lock/unlock, contended | ${n0(r.limits.locks.contendedPerSecond)} /s | ${r.limits.locks.contendedThreads} threads on one word |`,
    ...r.limits.sequentialWrite.map((s) => `| sequential write + fsync, ${size(s.blockBytes)} blocks | ${mb(s.bytesPerSecond)} MB/s | ${mb(s.totalBytes)} MB by writeSync, one fsync, same file system as the file drives |`),
    '',
    '## Targets',
    '',
    ...targetsTable(r.targets),
    '',
    '## 1. Journal creation hot path (one primary, host commands generated inside the channel adapters)',
    '',
    ...hotPathTable(r.hotPath),
    '',
  ];
  if (r.replication) {
    const rep = r.replication;
    lines.push('## 2. End-to-end replication (primary and secondary in one process)', '',
      `${size(rep.options.writeBytes)} writes, ${rep.options.channelAdapters} channel adapters per system; steady, cut and catch-up phases paced at ${n0(rep.pacedRatePerSecond)} writes/s${rep.pacesOverrun.length > 0 ? ` (probes at ${rep.pacesOverrun.map(n0).join(', ')}/s overran the secondary)` : ''}. ` +
      `After the cut the lag was back to its steady level in ${rep.catchUpAfterCutSeconds === null ? 'more than the catch-up phase' : `${rep.catchUpAfterCutSeconds.toFixed(2)} s`}. ` +
      `Suspension: ${rep.suspendedAnywhere ? 'yes (see the phases)' : 'none'}. After the host stopped the secondary ${rep.caughtUp ? 'caught up' : `did NOT catch up within ${(rep.options.catchUpLimitMs / 1000).toFixed(0)} s`}; secondary equals primary at the end: ${rep.verified ? 'verified' : `NO (${rep.firstDifference})`}.`, '',
      '| phase | seconds | ingest journals/s | restore journals/s | restore / ingest | lag max (updates) | lag max (ms) | lag at end | primary journal max | suspended |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...rep.phases.map((p) => `| ${p.phase} | ${p.seconds.toFixed(1)} | ${n0(p.ingestPerSecond)} | ${n0(p.restorePerSecond)} | ${p.ingestPerSecond > 0 ? p.restoreToIngest.toFixed(2) : '-'} | ${n0(p.lagUpdatesMax)} | ${n0(p.lagMsMax)} | ${n0(p.lagUpdatesAtEnd)} | ${pct(p.primaryUsageMax)} | ${p.suspended ? 'yes' : 'no'} |`),
      '');
  }
  if (r.drives.length > 0) {
    lines.push('## 3. Drive back-ends (journaling on)', '',
      '| drives | write | CAs | host MB/s | destage MB/s | sequential write limit MB/s | destage / limit | commands per core-s |',
      '|---|---|---|---|---|---|---|---|',
      ...r.drives.map((d) => `| ${d.drives} | ${size(d.writeBytes)} | ${d.channelAdapters} | ${mb(d.bytesPerSecond)} | ${mb(d.destageBytesPerSecond)} | ${d.drives === 'file' ? mb(d.sequentialWriteLimit) : '-'} | ${d.destageToSequentialLimit === null ? '-' : pct(d.destageToSequentialLimit)} | ${n0(d.commandsPerCoreSecond)} |`),
      '');
  }
  if (r.micro.length > 0) {
    lines.push('## 4. Micro-benchmarks (`benchmark`)', '', '| case | ops/s | ± |', '|---|---|---|',
      ...r.micro.map((x) => `| ${x.name} | ${n0(x.opsPerSecond)} | ${x.relativeMarginPercent.toFixed(1)}% |`), '');
  }
  if (r.mirrorDump) {
    lines.push('## 5. Differential dumps of a split mirror pair (seed 004)', '', '```', formatMirrorDump(r.mirrorDump), '```', '');
  }
  if (charts.length > 0) lines.push('## Charts', '', ...charts.map((c) => `- [${c}](${c})`), '');
  return lines.join('\n');
}

/** SVG charts: throughput versus adapters per write size; ingest/restore, lag and journal usage over time. */
export function charts(r: BenchResult): Map<string, string> {
  const out = new Map<string, string>();
  const sizes = [...new Set(r.hotPath.map((m) => m.writeBytes))].sort((a, b) => a - b);
  for (const s of sizes) {
    const rows = r.hotPath.filter((m) => m.writeBytes === s && m.groups === 1);
    const adapters = [...new Set(rows.map((m) => m.channelAdapters))].sort((a, b) => a - b);
    if (adapters.length === 0) continue;
    const line = (journaling: 'on' | 'off'): Array<[number, number]> => rows.filter((m) => m.journaling === journaling).sort((a, b) => a.channelAdapters - b.channelAdapters).map((m) => [m.channelAdapters, m.commandsPerSecond]);
    const copyLimitCommands = copyLimitFor(r.limits, s) / s;
    out.set(`throughput-${s}.svg`, lineChart({
      title: `${size(s)} writes: host commands/s versus channel adapters (${r.machine.cores} cores)`,
      xLabel: 'channel adapters (worker threads)',
      yLabel: 'commands per second',
      yRightLabel: 'share of the copy limit',
      xTicks: adapters,
      series: [
        { name: 'journaling on', points: line('on') },
        { name: 'journaling off', points: line('off'), dashed: true },
        { name: 'on, share of copy limit', points: line('on').map(([x, y]) => [x, y / copyLimitCommands]), right: true, color: '#999' },
      ],
    }));
  }
  const rep = r.replication;
  if (rep && rep.series.length > 1) {
    const bands: Band[] = [];
    for (const p of rep.series) {
      const b = bands[bands.length - 1];
      if (b && b.label === p.phase) b.to = p.seconds;
      else bands.push({ from: b ? b.to : p.seconds, to: p.seconds, label: p.phase });
    }
    const series = rep.series;
    const pts = (f: (p: (typeof series)[number]) => number): Array<[number, number]> => series.map((p) => [p.seconds, f(p)]);
    out.set('replication-rates.svg', lineChart({
      title: 'Primary ingest and secondary restore (journals/s) over time',
      xLabel: 'seconds', yLabel: 'journals per second', bands,
      series: [{ name: 'ingest (primary)', points: pts((p) => p.ingestPerSecond) }, { name: 'restore (secondary)', points: pts((p) => p.restorePerSecond) }],
    }));
    out.set('replication-lag.svg', lineChart({
      title: 'Replication lag over time',
      xLabel: 'seconds', yLabel: 'update numbers behind', yRightLabel: 'milliseconds behind', bands,
      series: [{ name: 'lag (updates)', points: pts((p) => p.lagUpdates) }, { name: 'lag (ms)', points: pts((p) => p.lagMs), right: true, dashed: true }],
    }));
    out.set('replication-journal.svg', lineChart({
      title: 'Journal usage over time',
      xLabel: 'seconds', yLabel: 'journal used (%)', bands,
      series: [{ name: 'primary', points: pts((p) => 100 * p.primaryUsage) }, { name: 'secondary', points: pts((p) => 100 * p.secondaryUsage) }],
    }));
  }
  return out;
}

export const README_START = '<!-- bench:latest:start -->';
export const README_END = '<!-- bench:latest:end -->';

/** The README's copy of the latest result: the targets and a compact throughput table. */
export function readmeSection(r: BenchResult): string {
  const m = r.machine;
  const sizes = [...new Set(r.hotPath.map((x) => x.writeBytes))].sort((a, b) => a - b);
  const adapters = [...new Set(r.hotPath.filter((x) => x.groups === 1).map((x) => x.channelAdapters))].sort((a, b) => a - b);
  const cell = (s: number, a: number, j: 'on' | 'off'): string => {
    const x = r.hotPath.find((y) => y.writeBytes === s && y.channelAdapters === a && y.journaling === j && y.groups === 1);
    return x ? n0(x.commandsPerSecond) : '-';
  };
  return [
    README_START,
    `Latest run: ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${m.cpu}, ${m.cores} cores, Node ${m.node}, load average ${m.loadAverageAtStart.toFixed(1)} at the start (a shared machine: read the ratios). Full report: [bench/results/latest.md](bench/results/latest.md).`,
    '',
    ...targetsTable(r.targets),
    '',
    `Host write commands per second on one primary (journal sink instead of a secondary; load generated inside the channel adapters):`,
    '',
    `| write | ${adapters.map((a) => `${a} CA off | ${a} CA on`).join(' | ')} |`,
    `|---|${adapters.map(() => '---|---').join('|')}|`,
    ...sizes.map((s) => `| ${size(s)} | ${adapters.map((a) => `${cell(s, a, 'off')} | ${cell(s, a, 'on')}`).join(' | ')} |`),
    README_END,
  ].join('\n');
}

/** Replaces the README's latest-result section (between the markers) with this result's. */
export function updateReadme(text: string, r: BenchResult): string {
  const start = text.indexOf(README_START);
  const end = text.indexOf(README_END);
  if (start < 0 || end < start) throw new Error(`README has no ${README_START} ... ${README_END} section`);
  return text.slice(0, start) + readmeSection(r) + text.slice(end + README_END.length);
}
