// The main job: boot one storage system on the embedded default (memory drives, 2 channel
// adapters and 1 disk adapter in worker threads, 4 logical volumes), drive a mixed read/write
// workload through its host ports from host worker threads, then verify every block written —
// through the host port, and after power-off on the drives themselves — and print what the
// controller did.
//
//   npm start -- [--seconds 10] [--size 4096] [--hosts 2] [--qd 16] [--read-ratio 0.3]
//                [--drives memory|file] [--cas 2] [--das 1] [--json]

import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startTsWorker, workerExit } from '../hal/runtime/worker-start.ts';
import { BLOCK_BYTES } from '../firmware/config.ts';
import { StorageSystem } from './system.ts';
import { defaultSystem } from './default-system.ts';
import { WorkloadModel, checkBlocks, type VolumeSpan, type WorkloadCounters } from './workload.ts';
import type { WorkerJob } from './workload-worker.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    size: { type: 'string', default: '4096' },
    hosts: { type: 'string', default: '2' },
    qd: { type: 'string', default: '16' },
    'read-ratio': { type: 'string', default: '0.3' },
    drives: { type: 'string' },
    cas: { type: 'string', default: '2' },
    das: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log('usage: npm start -- [--seconds N] [--size BYTES] [--hosts N] [--qd N] [--read-ratio R] [--drives memory|file] [--cas N] [--das N] [--json]');
  process.exit(0);
}

function positiveInt(name: string, text: string, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    console.error(`--${name}: '${text}' must be an integer 1..${max}`);
    process.exit(2);
  }
  return n;
}

const seconds = Number(values.seconds);
if (!(seconds > 0 && seconds <= 3600)) {
  console.error(`--seconds: '${values.seconds}' must be a number of seconds in (0, 3600]`);
  process.exit(2);
}
const chunkBytes = positiveInt('size', values.size!, 256 * 1024);
if (chunkBytes % BLOCK_BYTES !== 0) {
  console.error(`--size: ${chunkBytes} must be a multiple of ${BLOCK_BYTES}`);
  process.exit(2);
}
const hosts = positiveInt('hosts', values.hosts!, 64);
const queueDepth = positiveInt('qd', values.qd!, 1024);
const readRatio = Number(values['read-ratio']);
if (!(readRatio >= 0 && readRatio <= 1)) {
  console.error(`--read-ratio: '${values['read-ratio']}' must be between 0 and 1`);
  process.exit(2);
}
const drives = values.drives as 'memory' | 'file' | undefined;
if (drives !== undefined && drives !== 'memory' && drives !== 'file') {
  console.error(`--drives: '${drives}' must be memory or file`);
  process.exit(2);
}

const config = defaultSystem({ drives, channelAdapters: positiveInt('cas', values.cas!, 64), diskAdapters: positiveInt('das', values.das!, 64) });
config.hostQueueDepth = Math.max(config.hostQueueDepth, Math.ceil((hosts * queueDepth) / config.channelAdapters));
config.mailboxCapacity = Math.max(config.mailboxCapacity, 2 ** Math.ceil(Math.log2(config.hostQueueDepth * 2)));
config.maxTransferBytes = Math.max(config.maxTransferBytes, chunkBytes * 4);

const log = (line: string): void => {
  if (!values.json) console.log(line);
};

log(`booting '${config.name}': ${config.channelAdapters} channel adapters, ${config.diskAdapters} disk adapter(s), ` +
  `${config.cacheBytes / 2 ** 20} MiB cache in ${config.slotBytes / 1024} KiB slots, ${config.volumes.length} volumes of ` +
  `${(config.volumes[0]!.capacityBlocks * BLOCK_BYTES) / 2 ** 20} MiB on ${config.drives.length} ${config.drives[0]!.kind} drives`);
const traces: string[] = [];
const system = await StorageSystem.boot(config, { runtime: 'threaded', trace: (line) => { traces.push(line); log(`  trace: ${line}`); } });

const spans: VolumeSpan[] = config.volumes.map((v) => ({ volume: v.number, chunks: Math.floor((v.capacityBlocks * BLOCK_BYTES) / chunkBytes) }));
const modelBuffer = WorkloadModel.allocate(spans);
const model = new WorkloadModel(modelBuffer, spans);
const workerUrl = new URL('./workload-worker.ts', import.meta.url);

log(`workload: ${hosts} host threads x ${queueDepth} commands in flight, ${chunkBytes} B chunks (writes of 1-4 chunks), ${Math.round(readRatio * 100)}% reads, ${seconds} s`);
const progress = new Map<number, WorkloadCounters>();
const started = performance.now();
const runs = Array.from({ length: hosts }, (_, i) => {
  const job: WorkerJob = {
    kind: 'run', shared: system.shared, model: modelBuffer, spans,
    options: { workerIndex: i, port: i % config.channelAdapters, chunkBytes, queueDepth, readRatio, maxChunks: 4, durationMs: seconds * 1000, randomSeed: 0x9e3779b1 * (i + 1) },
  };
  const worker = startTsWorker(workerUrl, job);
  const exited = workerExit(worker);
  const done = new Promise<WorkloadCounters>((resolve, reject) => {
    worker.on('message', (m: { type: string; counters: WorkloadCounters }) => {
      if (m.type === 'progress') progress.set(i, m.counters);
      if (m.type === 'done') resolve(m.counters);
    });
    worker.once('error', reject);
  });
  return { exited, done };
});

let lastBytes = 0;
let lastOps = 0;
let lastTime = started;
const ticker = setInterval(() => {
  const now = performance.now();
  let bytes = 0, ops = 0;
  for (const c of progress.values()) {
    bytes += c.writeBytes + c.readBytes;
    ops += c.writes + c.reads;
  }
  const dt = (now - lastTime) / 1000;
  const stats = system.maintenance.statistics().data!;
  if (!values.json) {
    process.stdout.write(`\r  ${((now - started) / 1000).toFixed(0).padStart(3)} s  ${Math.round((ops - lastOps) / dt).toLocaleString('en-US').padStart(9)} IOPS  ` +
      `${((bytes - lastBytes) / dt / 2 ** 20).toFixed(1).padStart(7)} MiB/s  dirty ${stats.cache.dirtySlots}/${stats.cache.slots} slots   `);
  }
  lastBytes = bytes; lastOps = ops; lastTime = now;
}, 1000);

const results = await Promise.all(runs.map((r) => r.done));
clearInterval(ticker);
const elapsedS = (performance.now() - started) / 1000;
await Promise.all(runs.map((r) => r.exited));
if (!values.json) process.stdout.write('\n');

const total = results.reduce((a, c) => ({
  writes: a.writes + c.writes, reads: a.reads + c.reads, writeBytes: a.writeBytes + c.writeBytes, readBytes: a.readBytes + c.readBytes,
  verifiedReads: a.verifiedReads + c.verifiedReads, errors: a.errors + c.errors, mismatches: a.mismatches + c.mismatches,
  firstMismatch: a.firstMismatch ?? c.firstMismatch, latencyMsSum: a.latencyMsSum + c.latencyMsSum,
}));
const stats = system.maintenance.statistics().data!;

// Read-back through the host port: every chunk written, split among the channel adapters.
log('verifying every block written, through the host ports ...');
const verifyStarted = performance.now();
const verifiers = Array.from({ length: config.channelAdapters }, (_, port) => {
  const ranges = spans.map((s, span) => {
    const per = Math.ceil(s.chunks / config.channelAdapters);
    return { span, first: port * per, count: Math.max(0, Math.min(per, s.chunks - port * per)) };
  });
  const job: WorkerJob = { kind: 'verify', shared: system.shared, model: modelBuffer, spans, port, chunkBytes, ranges };
  const worker = startTsWorker(workerUrl, job);
  return new Promise<{ blocks: number; mismatch: string | null }>((resolve, reject) => {
    worker.on('message', (m: { type: string; blocks: number; mismatch: string | null }) => { if (m.type === 'verified') resolve(m); });
    worker.once('error', reject);
  });
});
const verified = await Promise.all(verifiers);
const hostVerifiedBlocks = verified.reduce((n, v) => n + v.blocks, 0);
const hostMismatch = verified.find((v) => v.mismatch)?.mismatch ?? null;
const verifyS = (performance.now() - verifyStarted) / 1000;

const powerOff = await system.powerOff();

// After power-off every acknowledged write must be on the drives themselves (destage).
let driveVerifiedBlocks = 0;
let driveMismatch: string | null = null;
const blocksPerChunk = chunkBytes / BLOCK_BYTES;
for (const [span, s] of spans.entries()) {
  const v = config.volumes.find((x) => x.number === s.volume)!;
  for (let chunk = 0; chunk < s.chunks && !driveMismatch; chunk++) {
    const seed = model.seed(span, chunk);
    if (seed === 0) continue;
    const lba = chunk * blocksPerChunk;
    const bytes = system.readDrive(v.drive, v.startBlock + lba, blocksPerChunk);
    const bad = checkBlocks(new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), 0, s.volume, lba, blocksPerChunk, seed);
    if (bad >= 0) driveMismatch = `drive ${v.drive} block ${v.startBlock + lba + bad} (volume ${s.volume} block ${lba + bad}) differs from its last acknowledged write`;
    else driveVerifiedBlocks += blocksPerChunk;
  }
}

system.dispose();
const t = stats.totals;
const readLookups = t.read_slot_hits! + t.read_slot_misses!;
const pct = (a: number, b: number): string => (b === 0 ? '-' : `${((100 * a) / b).toFixed(1)}%`);
const ops = total.writes + total.reads;
const summary = {
  system: config.name,
  drives: config.drives[0]!.kind,
  chunkBytes, hosts, queueDepth, readRatio, seconds: elapsedS,
  channelAdapters: config.channelAdapters, diskAdapters: config.diskAdapters,
  iops: ops / elapsedS,
  mibPerSecond: (total.writeBytes + total.readBytes) / elapsedS / 2 ** 20,
  writeMiBPerSecond: total.writeBytes / elapsedS / 2 ** 20,
  readMiBPerSecond: total.readBytes / elapsedS / 2 ** 20,
  meanLatencyMs: ops === 0 ? 0 : total.latencyMsSum / ops,
  writes: total.writes, reads: total.reads, errors: total.errors,
  cacheReadHitRatio: readLookups === 0 ? null : t.read_slot_hits! / readLookups,
  stages: t.stages, destages: t.destages, destageMiB: (t.destage_blocks! * BLOCK_BYTES) / 2 ** 20,
  cacheFullWaits: t.cache_full_waits, slotBusyWaits: t.slot_busy_waits, evictions: t.evictions,
  locks: stats.locks,
  verification: {
    duringRunReads: total.verifiedReads, duringRunMismatches: total.mismatches,
    hostReadBackBlocks: hostVerifiedBlocks, hostReadBackSeconds: verifyS, hostMismatch: hostMismatch ?? total.firstMismatch,
    driveBlocks: driveVerifiedBlocks, driveMismatch,
    undestagedSlots: powerOff.undestagedSlots,
  },
  failures: powerOff.failures,
  traces,
};

const verifiedOk = !summary.verification.hostMismatch && !driveMismatch && total.errors === 0 && total.mismatches === 0 && powerOff.failures.length === 0;
mkdirSync('results', { recursive: true });
const resultPath = `results/main-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
writeFileSync(resultPath, JSON.stringify(summary, null, 2));

if (values.json) {
  console.log(JSON.stringify(summary, null, 2));
} else {
  const row = (k: string, v: string): void => console.log(`  ${k.padEnd(28)} ${v}`);
  const lock = (name: string, l: { acquisitions: number; contended: number; sleeps: number }): string =>
    `${l.acquisitions.toLocaleString('en-US')} acquisitions, ${pct(l.contended, l.acquisitions)} contended, ${l.sleeps} sleeps`;
  console.log('\nsummary');
  row('host commands', `${ops.toLocaleString('en-US')} (${total.writes.toLocaleString('en-US')} writes, ${total.reads.toLocaleString('en-US')} reads) in ${elapsedS.toFixed(1)} s`);
  row('IOPS', Math.round(summary.iops).toLocaleString('en-US'));
  row('throughput', `${summary.mibPerSecond.toFixed(1)} MiB/s (write ${summary.writeMiBPerSecond.toFixed(1)}, read ${summary.readMiBPerSecond.toFixed(1)})`);
  row('mean latency', `${summary.meanLatencyMs.toFixed(3)} ms at ${hosts * queueDepth} commands in flight`);
  row('cache read hit ratio', summary.cacheReadHitRatio === null ? '-' : pct(t.read_slot_hits!, readLookups));
  row('stages / destages', `${t.stages!.toLocaleString('en-US')} / ${t.destages!.toLocaleString('en-US')} (${summary.destageMiB.toFixed(1)} MiB destaged)`);
  row('cache-full / slot-busy waits', `${t.cache_full_waits} / ${t.slot_busy_waits}`);
  row('lock: cache list', lock('cache list', stats.locks.cacheList));
  row('lock: directory buckets', lock('buckets', stats.locks.buckets));
  row('lock: cache slots', lock('slots', stats.locks.slots));
  row('host errors', String(total.errors));
  row('verified during run', `${total.verifiedReads.toLocaleString('en-US')} chunk reads, ${total.mismatches} mismatches`);
  row('verified by read-back', `${hostVerifiedBlocks.toLocaleString('en-US')} blocks in ${verifyS.toFixed(1)} s`);
  row('verified on drives', `${driveVerifiedBlocks.toLocaleString('en-US')} blocks after power-off (${powerOff.undestagedSlots} slots left undestaged)`);
  console.log(verifiedOk ? '\nverified: every acknowledged write reads back and is on the drives' : `\nNOT VERIFIED: ${summary.verification.hostMismatch ?? driveMismatch ?? powerOff.failures[0]?.error ?? 'host errors'}`);
  console.log(`results: ${resultPath}`);
}
process.exit(verifiedOk ? 0 : 1);
