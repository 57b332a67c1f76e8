// Two-site replication for operators and benchmarks: a primary (system 1) and a secondary
// (system 2) in one process, joined by one link, with `volumes` data volumes in `groups`
// journal groups (one journal volume each), set up through the maintenance ports in the seed's
// order (S900 group, S910 pairs, S920 journal volume, S930 start). Used by `npm start`
// (tools/main.ts) and by the end-to-end benchmark (bench/replication.ts).
//
// Both sites start from zeroed drives (memory drives, or file drives recreated empty), so copying
// starts without an initial copy (`noCopy`): the operator vouches both sides hold the same data,
// which for two blank arrays is simply true. Every volume (data or journal) has a drive of its
// own, laid out the same on both sites, so "the secondary equals the primary" is a comparison of
// drive images once both are powered off (every dirty slot destaged).

import { rmSync } from 'node:fs';
import { BLOCK_BYTES, DEFAULT_CONFIG, type SystemConfig } from '../firmware/config.ts';
import type { GroupView } from '../firmware/copy-commands.ts';
import type { MaintResult } from '../firmware/maintenance.ts';
import type { StorageSystem } from './system.ts';
import { Topology, type TopologyOptions } from './topology.ts';

const MiB = 1024 * 1024;

export interface TwoSiteSpec {
  /** Channel adapters per system (the primary's host ports; the last one also serves the link). */
  channelAdapters: number;
  diskAdapters: number;
  /** Data volumes per system, spread over the groups round-robin. */
  volumes: number;
  volumeMiB: number;
  groups: number;
  journalMiB: number;
  cacheMiB: number;
  /** Largest host write; sizes the host port buffers. */
  maxTransferBytes: number;
  hostQueueDepth: number;
  drives: 'memory' | 'file';
  /** Directory for file drives; each system gets a subdirectory, recreated empty at boot. */
  driveDirectory: string;
}

export const DEFAULT_TWO_SITE: TwoSiteSpec = {
  channelAdapters: 2,
  diskAdapters: 1,
  volumes: 4,
  volumeMiB: 128,
  groups: 1,
  journalMiB: 512,
  cacheMiB: 64,
  maxTransferBytes: 256 * 1024,
  hostQueueDepth: 32,
  drives: 'memory',
  driveDirectory: 'var/drives/two-site',
};

export const PRIMARY = 1;
export const SECONDARY = 2;
export const LINK = 1;

/** Data volume numbers are 1..volumes; journal volume of group g is volumes + g. */
export function journalVolumeOf(spec: TwoSiteSpec, group: number): number {
  return spec.volumes + group;
}

/** The group (1..groups) a data volume belongs to. */
export function groupOf(spec: TwoSiteSpec, volume: number): number {
  return ((volume - 1) % spec.groups) + 1;
}

export function siteConfig(spec: TwoSiteSpec, system: number): SystemConfig {
  const volumeBlocks = (spec.volumeMiB * MiB) / BLOCK_BYTES;
  const journalBlocks = (spec.journalMiB * MiB) / BLOCK_BYTES;
  const total = spec.volumes + spec.groups;
  const name = system === PRIMARY ? 'primary' : 'secondary';
  const blocksOf = (v: number): number => (v <= spec.volumes ? volumeBlocks : journalBlocks);
  return {
    ...DEFAULT_CONFIG,
    systemNumber: system,
    name,
    channelAdapters: spec.channelAdapters,
    diskAdapters: spec.diskAdapters,
    cacheBytes: spec.cacheMiB * MiB,
    hostQueueDepth: spec.hostQueueDepth,
    mailboxCapacity: Math.max(DEFAULT_CONFIG.mailboxCapacity, 2 ** Math.ceil(Math.log2(spec.hostQueueDepth * 2))),
    maxTransferBytes: spec.maxTransferBytes,
    journalBatchBytes: Math.max(4 * MiB, spec.maxTransferBytes + 2 * BLOCK_BYTES),
    drives: Array.from({ length: total }, (_, i) => ({
      number: i,
      kind: spec.drives,
      blockCount: blocksOf(i + 1),
      ...(spec.drives === 'file' ? { path: `${spec.driveDirectory}/${name}/drive${i}.img` } : {}),
    })),
    volumes: Array.from({ length: total }, (_, i) => ({ number: i + 1, format: 'OPEN3', capacityBlocks: blocksOf(i + 1), drive: i, startBlock: 0 })),
    links: [{ number: LINK, peerSystem: system === PRIMARY ? SECONDARY : PRIMARY, adapter: spec.channelAdapters - 1 }],
  };
}

function ok<T>(r: MaintResult<T>, what: string): T {
  if (r.status !== 'ok') throw new Error(`${what}: ${r.reason}`);
  return r.data as T;
}

export interface TwoSites {
  spec: TwoSiteSpec;
  topo: Topology;
  primary: StorageSystem;
  secondary: StorageSystem;
}

/** Boots both systems (file drives recreated empty) without setting up any copy. */
export async function bootTwoSites(spec: TwoSiteSpec, o: Pick<TopologyOptions, 'trace' | 'entry'> = {}): Promise<TwoSites> {
  if (spec.drives === 'file') rmSync(spec.driveDirectory, { recursive: true, force: true });
  const topo = await Topology.boot([siteConfig(spec, PRIMARY), siteConfig(spec, SECONDARY)], [{ a: { system: PRIMARY, link: LINK }, b: { system: SECONDARY, link: LINK }, ringBytes: 16 * MiB }], { runtime: 'threaded', ...o });
  return { spec, topo, primary: topo.system(PRIMARY), secondary: topo.system(SECONDARY) };
}

/** S900–S930 on both sites for every group; pairs start 正常 (no initial copy, see the header). */
export function startReplication(s: TwoSites, group: { readIntervalMs?: number; linkTimeoutMs?: number; batchJournalsMax?: number } = {}): void {
  const { spec, primary, secondary } = s;
  for (let g = 1; g <= spec.groups; g++) {
    ok(primary.copy.createGroup(g, { role: 'primary', linkTimeoutMs: group.linkTimeoutMs ?? 5000 }), `primary group ${g}`);
    ok(secondary.copy.createGroup(g, { role: 'secondary', partnerSystem: PRIMARY, partnerGroup: g, link: LINK, readIntervalMs: group.readIntervalMs ?? 2, batchJournalsMax: group.batchJournalsMax ?? 1024 }), `secondary group ${g}`);
  }
  for (let v = 1; v <= spec.volumes; v++) {
    const g = groupOf(spec, v);
    ok(primary.copy.registerPair(g, { primaryVolume: v, secondarySystem: SECONDARY, secondaryVolume: v }), `primary pair of volume ${v}`);
    ok(secondary.copy.registerPair(g, { primarySystem: PRIMARY, primaryVolume: v, secondaryVolume: v }), `secondary pair of volume ${v}`);
  }
  for (let g = 1; g <= spec.groups; g++) {
    ok(primary.copy.registerJournalVolume(g, journalVolumeOf(spec, g)), `primary journal volume of group ${g}`);
    ok(secondary.copy.registerJournalVolume(g, journalVolumeOf(spec, g)), `secondary journal volume of group ${g}`);
    ok(secondary.copy.startCopy(g), `secondary start of group ${g}`);
    ok(primary.copy.startCopy(g, { readers: [SECONDARY], noCopy: true }), `primary start of group ${g}`);
  }
}

/** Replication figures summed over the groups, at one instant. */
export interface ReplicationSnapshot {
  atMs: number;
  /** Journals created on the primary (update numbers taken). */
  created: number;
  /** Journals restored on the secondary. */
  restored: number;
  /** Update numbers created and not yet restored, summed over groups. */
  lagUpdates: number;
  /** Age of the oldest write not yet applied on the secondary (0 when caught up). */
  lagMs: number;
  /** Largest journal usage of any group, 0..1. */
  primaryUsage: number;
  secondaryUsage: number;
  /** Every primary pair 正常 and every group 正常. */
  healthy: boolean;
  /** Some primary pair is suspended (異常) or some group is not 正常 (a resync is not suspended). */
  suspended: boolean;
  suspendReason: string;
}

export function snapshot(s: TwoSites): ReplicationSnapshot {
  const now = Date.now();
  const out: ReplicationSnapshot = { atMs: now, created: 0, restored: 0, lagUpdates: 0, lagMs: 0, primaryUsage: 0, secondaryUsage: 0, healthy: true, suspended: false, suspendReason: 'none' };
  for (let g = 1; g <= s.spec.groups; g++) {
    const p = ok<GroupView>(s.primary.copy.groupStatus(g), `primary group ${g}`);
    const q = ok<GroupView>(s.secondary.copy.groupStatus(g), `secondary group ${g}`);
    const lastCreated = p.nextUpdateNumber - 1;
    out.created += p.journalsCreated;
    out.restored += q.journalsRestored;
    const behind = Math.max(0, lastCreated - q.restoredNumber);
    out.lagUpdates += behind;
    // The secondary knows the primary receive time of the last write it applied; a write newer
    // than that is at most (now - that time) old. Before the first restore, nothing is known.
    if (behind > 0 && q.restoredTimeMs > 0) out.lagMs = Math.max(out.lagMs, now - q.restoredTimeMs);
    out.primaryUsage = Math.max(out.primaryUsage, p.journalUsage);
    out.secondaryUsage = Math.max(out.secondaryUsage, q.journalUsage);
    if (p.state !== 'normal' || q.state !== 'normal' || !p.pairs.every((x) => x.state === 'normal')) {
      out.healthy = false;
      if (p.suspendReason !== 'none') out.suspendReason = p.suspendReason;
    }
    if (p.state !== 'normal' || q.state !== 'normal' || p.pairs.some((x) => x.state === 'abnormal')) out.suspended = true;
  }
  return out;
}

/** Asks every primary group with suspended pairs for a delta resync (after the cause is gone). */
export function resyncAll(s: TwoSites): void {
  for (let g = 1; g <= s.spec.groups; g++) {
    const p = ok<GroupView>(s.primary.copy.groupStatus(g), `primary group ${g}`);
    if (p.pairs.some((x) => x.state === 'abnormal')) ok(s.primary.copy.resync(g), `resync of group ${g}`);
  }
}

/**
 * Waits (polling, without blocking the event loop) until the secondary has restored every journal
 * the primary created. With `healthy`, also until every pair is 正常 (after a resync); without it,
 * a suspension ends the wait at once (the journals made before it are drained regardless).
 */
export async function waitCaughtUp(s: TwoSites, timeoutMs: number, o: { healthy?: boolean; drainOnly?: boolean } = {}): Promise<{ caughtUp: boolean; ms: number }> {
  const started = Date.now();
  for (;;) {
    const snap = snapshot(s);
    if (snap.lagUpdates === 0 && (o.drainOnly || snap.healthy)) return { caughtUp: true, ms: Date.now() - started };
    if ((snap.suspended && !o.healthy && !o.drainOnly) || Date.now() - started > timeoutMs) return { caughtUp: false, ms: Date.now() - started };
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Compares every data volume of the two powered-off systems, drive against drive. Returns the
 * blocks compared and the first differing block, or null when the images are equal.
 */
export function compareVolumes(s: TwoSites): { blocks: number; firstDifference: string | null } {
  const chunkBlocks = 2048; // 1 MiB reads
  let blocks = 0;
  for (let v = 1; v <= s.spec.volumes; v++) {
    const config = s.primary.config.volumes.find((x) => x.number === v)!;
    for (let at = 0; at < config.capacityBlocks; at += chunkBlocks) {
      const n = Math.min(chunkBlocks, config.capacityBlocks - at);
      const a = s.primary.readDrive(config.drive, config.startBlock + at, n);
      const b = s.secondary.readDrive(config.drive, config.startBlock + at, n);
      if (Buffer.compare(a, b) !== 0) {
        let k = 0;
        while (Buffer.compare(a.subarray(k * BLOCK_BYTES, (k + 1) * BLOCK_BYTES), b.subarray(k * BLOCK_BYTES, (k + 1) * BLOCK_BYTES)) === 0) k++;
        return { blocks: blocks + k, firstDifference: `volume ${v} block ${at + k}` };
      }
      blocks += n;
    }
  }
  return { blocks, firstDifference: null };
}
