// The main job: two-site journal-based asynchronous remote copy on the embedded default. Two
// storage systems in this process (memory drives, threaded runtime, one channel adapter per
// core), one link, every data volume paired; host threads write to the primary for a bounded
// time while one progress line shows host IOPS and MB/s, journal usage on both sites, the lag
// (update numbers and milliseconds) and lock contention. Then the secondary catches up, both
// systems power off (every dirty slot destaged), and the secondary's volumes are compared with
// the primary's block for block. A summary table and the result files end the run.
//
//   npm start -- [--seconds 20] [--size 4096] [--adapters <cores>] [--volumes 4]
//                [--drives memory|file] [--hosts <adapters>] [--qd 16] [--json]

import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { startTsWorker, workerExit } from '../hal/runtime/worker-start.ts';
import { BLOCK_BYTES } from '../firmware/config.ts';
import { DEFAULT_TWO_SITE, bootTwoSites, compareVolumes, resyncAll, snapshot, startReplication, waitCaughtUp, type ReplicationSnapshot, type TwoSiteSpec } from './two-site.ts';
import { WorkloadModel, type VolumeSpan, type WorkloadCounters } from './workload.ts';
import type { WorkerJob } from './workload-worker.ts';

const cores = availableParallelism();
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    size: { type: 'string', default: '4096' },
    adapters: { type: 'string', default: String(cores) },
    volumes: { type: 'string', default: String(DEFAULT_TWO_SITE.volumes) },
    drives: { type: 'string', default: 'memory' },
    hosts: { type: 'string' },
    qd: { type: 'string', default: '16' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

const USAGE = 'usage: npm start -- [--seconds N] [--size BYTES] [--adapters N] [--volumes N] [--drives memory|file] [--hosts N] [--qd N] [--json]';
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

function positiveInt(name: string, text: string, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) fail(`--${name}: '${text}' must be an integer 1..${max}`);
  return n;
}

const seconds = Number(values.seconds);
if (!(seconds > 0 && seconds <= 3600)) fail(`--seconds: '${values.seconds}' must be a number of seconds in (0, 3600]`);
const writeBytes = positiveInt('size', values.size!, 256 * 1024);
if (writeBytes % BLOCK_BYTES !== 0) fail(`--size: ${writeBytes} must be a multiple of ${BLOCK_BYTES}`);
const adapters = positiveInt('adapters', values.adapters!, 16);
const volumes = positiveInt('volumes', values.volumes!, 32);
const hosts = positiveInt('hosts', values.hosts ?? String(adapters), 64);
const queueDepth = positiveInt('qd', values.qd!, 256);
const drives = values.drives;
if (drives !== 'memory' && drives !== 'file') fail(`--drives: '${drives}' must be memory or file`);

const spec: TwoSiteSpec = {
  ...DEFAULT_TWO_SITE,
  channelAdapters: adapters,
  volumes,
  drives,
  hostQueueDepth: Math.max(DEFAULT_TWO_SITE.hostQueueDepth, Math.ceil((hosts * queueDepth) / adapters)),
  maxTransferBytes: Math.max(DEFAULT_TWO_SITE.maxTransferBytes, writeBytes),
};

const interactive = !values.json && process.stdout.isTTY === true;
const log = (line: string): void => {
  if (!values.json) console.log(line);
};

log(`booting two storage systems: ${adapters} channel adapter(s) and ${spec.diskAdapters} disk adapter(s) each, ${spec.cacheMiB} MiB cache, ` +
  `${volumes} data volumes of ${spec.volumeMiB} MiB and a ${spec.journalMiB} MiB journal volume on ${drives} drives; ${cores} cores`);
const traces: string[] = [];
const sites = await bootTwoSites(spec, { trace: (line) => { traces.push(line); } });
startReplication(sites);
const { primary, secondary } = sites;

const spans: VolumeSpan[] = Array.from({ length: volumes }, (_, i) => ({ volume: i + 1, chunks: Math.floor((spec.volumeMiB * 1024 * 1024) / writeBytes) }));
const modelBuffer = WorkloadModel.allocate(spans);
const workerUrl = new URL('./workload-worker.ts', import.meta.url);

log(`workload: ${hosts} host thread(s) x ${queueDepth} writes in flight, ${writeBytes} B random writes over every primary volume, ${seconds} s`);
const started = performance.now();
const runs = Array.from({ length: hosts }, (_, i) => {
  const job: WorkerJob = {
    kind: 'run', shared: primary.shared, model: modelBuffer, spans,
    options: { workerIndex: i, port: i % adapters, chunkBytes: writeBytes, queueDepth, readRatio: 0, maxChunks: 1, durationMs: seconds * 1000, randomSeed: 0x9e3779b1 * (i + 1) },
  };
  const worker = startTsWorker(workerUrl, job);
  const exited = workerExit(worker);
  const done = new Promise<WorkloadCounters>((resolve, reject) => {
    worker.on('message', (m: { type: string; counters: WorkloadCounters }) => {
      if (m.type === 'done') resolve(m.counters);
    });
    worker.once('error', reject);
  });
  return { exited, done };
});

interface Sample extends ReplicationSnapshot {
  seconds: number;
  hostWrites: number;
  hostBytes: number;
  groupLock: { acquisitions: number; contended: number };
  slotLock: { acquisitions: number; contended: number };
}

function sample(): Sample {
  const stats = primary.maintenance.statistics().data!;
  return {
    ...snapshot(sites),
    seconds: (performance.now() - started) / 1000,
    hostWrites: stats.totals.host_writes!,
    hostBytes: stats.totals.host_write_bytes!,
    groupLock: stats.locks.groups,
    slotLock: stats.locks.slots,
  };
}

const pct = (a: number, b: number): string => (b === 0 ? '0.0%' : `${((100 * a) / b).toFixed(1)}%`);
const series: Array<{ seconds: number; iops: number; mbPerSecond: number; primaryUsage: number; secondaryUsage: number; lagUpdates: number; lagMs: number; groupLockContention: number }> = [];
let last = sample();
let lagUpdatesMax = 0;
let lagMsMax = 0;
let primaryUsageMax = 0;
let secondaryUsageMax = 0;
const ticker = setInterval(() => {
  const now = sample();
  const dt = now.seconds - last.seconds;
  const iops = (now.hostWrites - last.hostWrites) / dt;
  const mbPerSecond = (now.hostBytes - last.hostBytes) / dt / 1e6;
  const lockAcq = now.groupLock.acquisitions - last.groupLock.acquisitions;
  const lockCont = now.groupLock.contended - last.groupLock.contended;
  lagUpdatesMax = Math.max(lagUpdatesMax, now.lagUpdates);
  lagMsMax = Math.max(lagMsMax, now.lagMs);
  primaryUsageMax = Math.max(primaryUsageMax, now.primaryUsage);
  secondaryUsageMax = Math.max(secondaryUsageMax, now.secondaryUsage);
  series.push({ seconds: now.seconds, iops, mbPerSecond, primaryUsage: now.primaryUsage, secondaryUsage: now.secondaryUsage, lagUpdates: now.lagUpdates, lagMs: now.lagMs, groupLockContention: lockAcq === 0 ? 0 : lockCont / lockAcq });
  const line = `${now.seconds.toFixed(0).padStart(3)} s  ${Math.round(iops).toLocaleString('en-US').padStart(9)} IOPS ${mbPerSecond.toFixed(1).padStart(7)} MB/s  ` +
    `journal P ${(100 * now.primaryUsage).toFixed(1).padStart(5)}% S ${(100 * now.secondaryUsage).toFixed(1).padStart(5)}%  ` +
    `lag ${now.lagUpdates.toLocaleString('en-US').padStart(7)} upd ${now.lagMs.toFixed(0).padStart(5)} ms  ` +
    `group lock contended ${pct(lockCont, lockAcq).padStart(6)}${now.healthy ? '' : `  SUSPENDED (${now.suspendReason})`}`;
  if (interactive) process.stdout.write(`\r  ${line}   `);
  else if (!values.json && series.length % 5 === 0) console.log(`  ${line}`);
  last = now;
}, 1000);

const hostResults = await Promise.all(runs.map((r) => r.done));
const atStop = sample();
clearInterval(ticker);
await Promise.all(runs.map((r) => r.exited));
if (interactive) process.stdout.write('\n');
const hostSeconds = atStop.seconds;
const total = hostResults.reduce((a, c) => ({ ...a, writes: a.writes + c.writes, writeBytes: a.writeBytes + c.writeBytes, errors: a.errors + c.errors, latencyMsSum: a.latencyMsSum + c.latencyMsSum, firstMismatch: a.firstMismatch ?? c.firstMismatch }));

log('host writes stopped; waiting for the secondary to restore every journal ...');
let catchUp = await waitCaughtUp(sites, 120_000);
const suspendedBy = atStop.healthy ? null : atStop.suspendReason;
if (!catchUp.caughtUp && snapshot(sites).suspended) {
  // The journal filled (or the link failed) while the host wrote: the pairs were suspended and
  // the writes since are marked in the update bitmaps. A delta resync copies exactly those.
  const why = snapshot(sites).suspendReason;
  log(`the pairs were suspended (${why}); drain what was journaled, then resync the marked tracks ...`);
  const drained = await waitCaughtUp(sites, 300_000, { drainOnly: true });
  resyncAll(sites);
  const resynced = await waitCaughtUp(sites, 300_000, { healthy: true });
  catchUp = { caughtUp: drained.caughtUp && resynced.caughtUp, ms: catchUp.ms + drained.ms + resynced.ms };
}
const atEnd = sample();
const primaryStats = primary.maintenance.statistics().data!;
const secondaryStats = secondary.maintenance.statistics().data!;

log('powering off both systems (destaging every dirty slot) and comparing the secondary with the primary ...');
await sites.topo.powerOff();
const failures = [...primary.failures, ...secondary.failures];
const compareStarted = performance.now();
const comparison = catchUp.caughtUp ? compareVolumes(sites) : { blocks: 0, firstDifference: 'not compared: the secondary did not catch up' };
const compareSeconds = (performance.now() - compareStarted) / 1000;
primary.dispose();
secondary.dispose();

const verified = comparison.firstDifference === null && total.errors === 0 && failures.length === 0 && atEnd.healthy;
const restoreRatio = atStop.created === 0 ? 0 : atStop.restored / atStop.created;
const summary = {
  job: 'two-site replication',
  machine: { cpu: cpus()[0]?.model ?? 'unknown', cores, node: process.version, platform: `${process.platform} ${process.arch}` },
  configuration: { seconds, writeBytes, channelAdapters: adapters, diskAdapters: spec.diskAdapters, volumes, volumeMiB: spec.volumeMiB, journalMiB: spec.journalMiB, cacheMiB: spec.cacheMiB, drives, hosts, queueDepth },
  host: {
    seconds: hostSeconds,
    writes: total.writes,
    errors: total.errors,
    iops: total.writes / hostSeconds,
    mbPerSecond: total.writeBytes / hostSeconds / 1e6,
    meanLatencyMs: total.writes === 0 ? 0 : total.latencyMsSum / total.writes,
    firstError: total.firstMismatch,
  },
  replication: {
    journalsCreated: atEnd.created,
    journalsRestoredDuringWrites: atStop.restored,
    restoreToIngestRatioDuringWrites: restoreRatio,
    lagUpdatesMax,
    lagMsMax,
    lagUpdatesAtStop: atStop.lagUpdates,
    primaryJournalUsageMax: primaryUsageMax,
    secondaryJournalUsageMax: secondaryUsageMax,
    catchUpSeconds: catchUp.ms / 1000,
    caughtUp: catchUp.caughtUp,
    healthy: atEnd.healthy,
    suspendedDuringRun: suspendedBy,
  },
  locks: { primary: primaryStats.locks, secondary: secondaryStats.locks },
  destageMB: {
    primary: (primaryStats.totals.destage_blocks! * BLOCK_BYTES) / 1e6,
    secondary: (secondaryStats.totals.destage_blocks! * BLOCK_BYTES) / 1e6,
  },
  verification: { verified, comparedBlocks: comparison.blocks, firstDifference: comparison.firstDifference, compareSeconds },
  failures,
  series,
  traces,
};

mkdirSync('results', { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const jsonPath = `results/main-${stamp}.json`;
const mdPath = `results/main-${stamp}.md`;
writeFileSync(jsonPath, JSON.stringify(summary, null, 2));

const rows: Array<[string, string]> = [
  ['host writes', `${total.writes.toLocaleString('en-US')} in ${hostSeconds.toFixed(1)} s (${total.errors} errors)`],
  ['host IOPS', Math.round(summary.host.iops).toLocaleString('en-US')],
  ['host throughput', `${summary.host.mbPerSecond.toFixed(1)} MB/s of ${writeBytes} B writes`],
  ['mean write latency', `${summary.host.meanLatencyMs.toFixed(3)} ms at ${hosts * queueDepth} writes in flight`],
  ['journals created / restored', `${atEnd.created.toLocaleString('en-US')} / ${atEnd.restored.toLocaleString('en-US')}`],
  ['restore : ingest while writing', `${(100 * restoreRatio).toFixed(1)}%`],
  ['lag, largest seen', `${lagUpdatesMax.toLocaleString('en-US')} updates, ${lagMsMax.toFixed(0)} ms`],
  ['journal usage, largest', `primary ${(100 * primaryUsageMax).toFixed(1)}%, secondary ${(100 * secondaryUsageMax).toFixed(1)}%`],
  ['catch-up after the writes', `${(catchUp.ms / 1000).toFixed(2)} s (${atStop.lagUpdates.toLocaleString('en-US')} updates behind at stop)`],
  ['group lock (primary)', `${primaryStats.locks.groups.acquisitions.toLocaleString('en-US')} acquisitions, ${pct(primaryStats.locks.groups.contended, primaryStats.locks.groups.acquisitions)} contended`],
  ['slot locks (primary)', `${primaryStats.locks.slots.acquisitions.toLocaleString('en-US')} acquisitions, ${pct(primaryStats.locks.slots.contended, primaryStats.locks.slots.acquisitions)} contended`],
  ['destaged', `primary ${summary.destageMB.primary.toFixed(0)} MB, secondary ${summary.destageMB.secondary.toFixed(0)} MB`],
  ['pairs', suspendedBy === null ? 'normal throughout' : `suspended during the run (${suspendedBy}), resynchronised after`],
  ['secondary = primary', comparison.firstDifference === null ? `verified, ${comparison.blocks.toLocaleString('en-US')} blocks compared in ${compareSeconds.toFixed(1)} s` : `DIFFERS: first at ${comparison.firstDifference}`],
];
const markdown = [
  `# Two-site replication, ${new Date().toISOString()}`,
  '',
  `${summary.machine.cpu}, ${cores} cores, Node ${process.version}; ${adapters} channel adapter(s) per system, ${drives} drives, ${volumes} volumes, ${writeBytes} B writes, ${seconds} s.`,
  '',
  '| figure | value |',
  '|---|---|',
  ...rows.map(([k, v]) => `| ${k} | ${v} |`),
  '',
].join('\n');
writeFileSync(mdPath, markdown);

if (values.json) {
  console.log(JSON.stringify(summary, null, 2));
} else {
  console.log('\nsummary');
  for (const [k, v] of rows) console.log(`  ${k.padEnd(32)} ${v}`);
  for (const f of failures) console.log(`  processor ${f.processorId} failed: ${f.error.split('\n')[0]}`);
  console.log(verified ? '\nverified: after catch-up the secondary equals the primary block for block' : `\nNOT VERIFIED: ${comparison.firstDifference ?? failures[0]?.error ?? total.firstMismatch ?? `replication ${atEnd.suspendReason}`}`);
  console.log(`results: ${jsonPath}, ${mdPath}`);
}
process.exit(verified ? 0 : 1);
