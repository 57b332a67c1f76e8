// One primary storage system under an in-adapter host write load (bench/host-load.ts): the
// journal creation hot path (scenario 1) and the drive back-ends (scenario 3) are both runs of it.
//
// The primary is booted alone, with a link to a secondary that is not there. So that the
// journal never fills and suspends the pairs, a journal sink on the main thread plays the
// secondary's part at no cost to the adapters: every millisecond, under the group lock, it moves
// every pointer set's oldest pointers up to the newest (everything created is released at once).
// Journal read reception, and everything on the secondary, is measured by the end-to-end
// scenario instead (bench/replication.ts).
//
// One boot serves a matrix: the write size is a control word of the load, and journaling is
// first off (the volumes are plain 正常 volumes) and then on (the same volumes paired, 正), so
// "on versus off" compares the same volumes in the same boot. Between measurements the load
// stops and the disk adapters drain the dirty cache, so one measurement does not pay for the
// previous one's destage.

import { cpuUsage } from 'node:process';
import { LinkBuffer } from '../hal/link.ts';
import { StorageSystem } from '../tools/system.ts';
import { DEFAULT_TWO_SITE, LINK, PRIMARY, SECONDARY, groupOf, journalVolumeOf, siteConfig, type TwoSiteSpec } from '../tools/two-site.ts';
import type { MaintResult } from '../firmware/maintenance.ts';
import { allocateLoad, loadTotals, LoadState, setLoad, type LoadSpec, type LoadTarget } from './host-load.ts';

const MiB = 1024 * 1024;
const BLOCK_BYTES = 512;
export const LOAD_ENTRY_URL = new URL('./load-entry.ts', import.meta.url);

/** How big each benchmarked system is, and on which drives (the rest of a TwoSiteSpec is fixed). */
export type SystemSize = Pick<TwoSiteSpec, 'volumes' | 'volumeMiB' | 'journalMiB' | 'cacheMiB' | 'drives' | 'driveDirectory'>;

export interface PrimaryBenchOptions extends SystemSize {
  channelAdapters: number;
  groups: number;
  /** Each adapter writes sequentially through its own region of this size in every volume. */
  regionMiB: number;
  writeSizes: number[];
  journaling: Array<'off' | 'on'>;
  warmupMs: number;
  measureMs: number;
}

export interface PrimaryMeasurement {
  writeBytes: number;
  channelAdapters: number;
  groups: number;
  journaling: 'off' | 'on';
  drives: 'memory' | 'file';
  seconds: number;
  commands: number;
  errors: number;
  commandsPerSecond: number;
  bytesPerSecond: number;
  journalsPerSecond: number;
  destageBytesPerSecond: number;
  /** CPU time of the whole process (every thread) per wall second: cores kept busy. */
  coresBusy: number;
  groupLockContention: number;
  cacheFullWaits: number;
  slotBusyWaits: number;
}

export function sizeOf(o: SystemSize): SystemSize {
  return { volumes: o.volumes, volumeMiB: o.volumeMiB, journalMiB: o.journalMiB, cacheMiB: o.cacheMiB, drives: o.drives, driveDirectory: o.driveDirectory };
}

function ok<T>(r: MaintResult<T>, what: string): T {
  if (r.status !== 'ok') throw new Error(`${what}: ${r.reason}`);
  return r.data as T;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function primarySpec(o: PrimaryBenchOptions): TwoSiteSpec {
  return { ...DEFAULT_TWO_SITE, ...sizeOf(o), channelAdapters: o.channelAdapters, groups: o.groups, maxTransferBytes: Math.max(...o.writeSizes, 64 * 1024) };
}

/** Boots the primary, runs every (journaling, write size) of the matrix, powers off. */
export async function runPrimaryBench(o: PrimaryBenchOptions, log: (line: string) => void = () => {}): Promise<PrimaryMeasurement[]> {
  const spec = primarySpec(o);
  if (o.regionMiB * o.channelAdapters > o.volumeMiB) throw new Error(`${o.channelAdapters} adapters x ${o.regionMiB} MiB regions do not fit a ${o.volumeMiB} MiB volume`);
  const regionBlocks = (o.regionMiB * MiB) / BLOCK_BYTES;
  const targets: LoadTarget[][] = Array.from({ length: o.channelAdapters }, (_, a) =>
    Array.from({ length: o.volumes }, (_, v) => ({ volume: v + 1, firstBlock: a * regionBlocks, blocks: regionBlocks })));
  const load = allocateLoad(o.channelAdapters, targets, o.writeSizes[0]!);
  if (o.drives === 'file') (await import('node:fs')).rmSync(o.driveDirectory, { recursive: true, force: true });
  const system = await StorageSystem.boot(siteConfig(spec, PRIMARY), {
    runtime: 'threaded',
    links: [{ number: LINK, buffer: LinkBuffer.allocate(1 << 20), side: 0 }],
    entry: { url: LOAD_ENTRY_URL, data: load },
  });
  const sink = setInterval(() => releaseEverything(system, o.groups), 1);
  const out: PrimaryMeasurement[] = [];
  try {
    let journaling: 'off' | 'on' = 'off';
    for (const mode of o.journaling) {
      if (mode === 'on' && journaling === 'off') {
        startPrimaryGroups(system, spec);
        journaling = 'on';
      } else if (mode === 'off' && journaling === 'on') {
        throw new Error('journaling off must come before journaling on (the same boot pairs the volumes once)');
      }
      for (const writeBytes of o.writeSizes) {
        const m = await measure(system, load, o, writeBytes, mode);
        out.push(m);
        log(describe(m));
      }
    }
  } finally {
    clearInterval(sink);
    setLoad(load, LoadState.STOP);
    await system.powerOff();
    system.dispose();
  }
  return out;
}

export function describe(m: PrimaryMeasurement): string {
  return `  ${String(m.writeBytes).padStart(6)} B  ${m.channelAdapters} CA  ${m.groups} group(s)  journal ${m.journaling.padEnd(3)}  ${m.drives.padEnd(6)} ` +
    `${Math.round(m.commandsPerSecond).toLocaleString('en-US').padStart(9)} cmd/s ${(m.bytesPerSecond / 1e6).toFixed(0).padStart(6)} MB/s ` +
    `destage ${(m.destageBytesPerSecond / 1e6).toFixed(0).padStart(5)} MB/s  cores ${m.coresBusy.toFixed(2)}  waits: cache-full ${m.cacheFullWaits} slot-busy ${m.slotBusyWaits}, group lock contended ${(100 * m.groupLockContention).toFixed(1)}%`;
}

/** S900–S930 on the primary only: every volume paired, group(s) started without initial copy. */
function startPrimaryGroups(system: StorageSystem, spec: TwoSiteSpec): void {
  for (let g = 1; g <= spec.groups; g++) ok(system.copy.createGroup(g, { role: 'primary', linkTimeoutMs: 0 }), `group ${g}`);
  for (let v = 1; v <= spec.volumes; v++) ok(system.copy.registerPair(groupOf(spec, v), { primaryVolume: v, secondarySystem: SECONDARY, secondaryVolume: v }), `pair of volume ${v}`);
  for (let g = 1; g <= spec.groups; g++) {
    ok(system.copy.registerJournalVolume(g, journalVolumeOf(spec, g)), `journal volume of group ${g}`);
    ok(system.copy.startCopy(g, { readers: [SECONDARY], noCopy: true }), `start of group ${g}`);
  }
}

/** The journal sink: every journal created so far is released (see the header). */
function releaseEverything(system: StorageSystem, groups: number): void {
  const { mem } = system;
  const readersMax = mem.config.readersMax;
  for (let g = 1; g <= groups; g++) {
    const lock = mem.lockMap.groupBase + g;
    mem.locks.lock(lock);
    for (let r = 0; r < readersMax; r++) {
      const s = g * readersMax + r;
      if (mem.pointers.groupNumber(s) !== g) continue;
      mem.pointers.set(s, 'ui_oldest', mem.pointers.get(s, 'ui_newest'));
      mem.pointers.set(s, 'wd_oldest', mem.pointers.get(s, 'wd_newest'));
    }
    mem.locks.unlock(lock);
  }
}

interface Sample {
  atMs: number;
  cpuUs: number;
  completed: number;
  bytes: number;
  errors: number;
  journals: number;
  destageBlocks: number;
  groupLock: { acquisitions: number; contended: number };
  cacheFullWaits: number;
  slotBusyWaits: number;
}

function sample(system: StorageSystem, load: LoadSpec, groups: number): Sample {
  const stats = system.maintenance.statistics().data!;
  const t = loadTotals(load);
  let journals = 0;
  for (let g = 1; g <= groups; g++) {
    const r = system.copy.groupStatus(g);
    if (r.status === 'ok') journals += r.data!.journalsCreated;
  }
  const cpu = cpuUsage();
  return {
    atMs: performance.now(),
    cpuUs: cpu.user + cpu.system,
    ...t,
    journals,
    destageBlocks: stats.totals.destage_blocks!,
    groupLock: stats.locks.groups,
    cacheFullWaits: stats.totals.cache_full_waits!,
    slotBusyWaits: stats.totals.slot_busy_waits!,
  };
}

function ringAdapters(system: StorageSystem): void {
  for (let p = 0; p < system.config.channelAdapters; p++) system.mem.doorbells.ring(p);
}

async function measure(system: StorageSystem, load: LoadSpec, o: PrimaryBenchOptions, writeBytes: number, journaling: 'off' | 'on'): Promise<PrimaryMeasurement> {
  setLoad(load, LoadState.RUN, writeBytes, 0);
  ringAdapters(system);
  await sleep(o.warmupMs);
  const a = sample(system, load, o.groups);
  await sleep(o.measureMs);
  const b = sample(system, load, o.groups);
  setLoad(load, LoadState.IDLE);
  ringAdapters(system);
  // Let the commands in flight finish and the disk adapters drain the dirty cache.
  const drainUntil = Date.now() + Math.max(2000, o.measureMs * 2);
  while (Date.now() < drainUntil) {
    const stats = system.maintenance.statistics().data!;
    if (stats.cache.dirtySlots === 0) break;
    await sleep(5);
  }
  const seconds = (b.atMs - a.atMs) / 1000;
  const acquisitions = b.groupLock.acquisitions - a.groupLock.acquisitions;
  return {
    writeBytes,
    channelAdapters: system.config.channelAdapters,
    groups: o.groups,
    journaling,
    drives: o.drives,
    seconds,
    commands: b.completed - a.completed,
    errors: b.errors - a.errors,
    commandsPerSecond: (b.completed - a.completed) / seconds,
    bytesPerSecond: (b.bytes - a.bytes) / seconds,
    journalsPerSecond: (b.journals - a.journals) / seconds,
    destageBytesPerSecond: ((b.destageBlocks - a.destageBlocks) * BLOCK_BYTES) / seconds,
    coresBusy: (b.cpuUs - a.cpuUs) / 1e6 / seconds,
    groupLockContention: acquisitions === 0 ? 0 : (b.groupLock.contended - a.groupLock.contended) / acquisitions,
    cacheFullWaits: b.cacheFullWaits - a.cacheFullWaits,
    slotBusyWaits: b.slotBusyWaits - a.slotBusyWaits,
  };
}
