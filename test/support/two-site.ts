// Remote-copy test topologies: a primary (system 1) and one or more secondaries (2, 3, ...), each
// with two small data volumes and a journal volume, linked one to one, set up through the
// maintenance ports in the seed's order (S900 group, S910 pairs, S920 journal volume, S930 start).
//
// The history writer issues host writes one at a time and records them. Every block a write
// carries is stamped: word 0 = the write's sequence number, word 1 = volume, word 2 = block,
// the rest a pattern of those — so reading a block tells exactly which write (if any) it holds.
// The checker uses that to prove prefix consistency: a secondary image is consistent iff there is
// a k such that every block equals the last of writes 1..k that touched it.

import { expect } from 'vitest';
import { BLOCK_BYTES, type SystemConfig } from '../../firmware/config.ts';
import type { GroupOptions } from '../../firmware/copy-commands.ts';
import type { MaintResult } from '../../firmware/maintenance.ts';
import { Topology, type LinkSpec } from '../../tools/topology.ts';
import { stamp } from '../../tools/sim/history.ts';
import { smallSystem } from '../../tools/sim/scenario.ts';
import type { StorageSystem } from '../../tools/system.ts';

export const VOLUME_BLOCKS = 512; // 256 KiB data volumes
export const JOURNAL_BLOCKS = 1024; // 512 KiB journal volumes
export const DATA_VOLUMES = [1, 2] as const;
export const JOURNAL_VOLUME = 3;

export function siteConfig(system: number, peers: number[], overrides: Partial<SystemConfig> = {}): SystemConfig {
  return {
    ...smallSystem(system, peers.map((peer, i) => ({ number: i + 1, peerSystem: peer, adapter: i % 2 }))),
    drives: [{ number: 0, kind: 'memory', blockCount: 4096 }],
    volumes: [
      { number: 1, format: 'OPEN3', capacityBlocks: VOLUME_BLOCKS, drive: 0, startBlock: 0 },
      { number: 2, format: 'OPEN3', capacityBlocks: VOLUME_BLOCKS, drive: 0, startBlock: 1024 },
      { number: 3, format: 'OPEN3', capacityBlocks: JOURNAL_BLOCKS, drive: 0, startBlock: 2048 },
    ],
    ...overrides,
  };
}

export function ok<T>(r: MaintResult<T>): MaintResult<T> {
  if (r.status !== 'ok') throw new Error(`maintenance command rejected: ${r.reason}`);
  return r;
}

export interface SiteOptions {
  runtime: 'threaded' | 'deterministic';
  transport?: 'memory' | 'tcp';
  seed?: number;
  secondaries?: number;
  primaryGroup?: Partial<GroupOptions>;
  secondaryGroup?: Partial<GroupOptions>;
  /** Per secondary (index 0 = system 2), options over `secondaryGroup`: a different read policy each, say. */
  secondaryGroups?: Array<Partial<GroupOptions>>;
  overrides?: Partial<SystemConfig>;
  /** Skip S930 (start) so a test can write before copying starts. */
  start?: boolean;
  /** Boot every drive behind a fault-injecting drive. */
  faults?: boolean;
  trace?: string[];
  /** Links between the primary and each secondary (default 1): on the primary spread over its adapters, on a secondary all on adapter 0. */
  linksPerSecondary?: number;
}

export interface Sites {
  topo: Topology;
  primary: StorageSystem;
  secondaries: StorageSystem[];
  history: History;
  start(): void;
}

export async function bootSites(o: SiteOptions): Promise<Sites> {
  const n = o.secondaries ?? 1;
  const secondaryNumbers = Array.from({ length: n }, (_, i) => i + 2);
  const m = o.linksPerSecondary ?? 1;
  const configs = [siteConfig(1, secondaryNumbers, o.overrides), ...secondaryNumbers.map((s) => siteConfig(s, [1], o.overrides))];
  const links: LinkSpec[] = secondaryNumbers.map((s, i) => ({ a: { system: 1, link: i + 1 }, b: { system: s, link: 1 }, ringBytes: 1024 * 1024 }));
  if (m > 1) {
    // Primary links 1..n*m (secondary i: i*m+1..i*m+m, alternating adapters); secondary links 1..m on adapter 0.
    configs[0]!.links = secondaryNumbers.flatMap((s, i) => Array.from({ length: m }, (_, j) => ({ number: i * m + j + 1, peerSystem: s, adapter: j % 2 })));
    for (let i = 0; i < n; i++) configs[i + 1]!.links = Array.from({ length: m }, (_, j) => ({ number: j + 1, peerSystem: 1, adapter: 0 }));
    links.length = 0;
    secondaryNumbers.forEach((s, i) => {
      for (let j = 0; j < m; j++) links.push({ a: { system: 1, link: i * m + j + 1 }, b: { system: s, link: j + 1 }, ringBytes: 1024 * 1024 });
    });
  }
  const topo = await Topology.boot(configs, links, { runtime: o.runtime, seed: o.seed ?? 1, transport: o.transport ?? 'memory', faults: o.faults ?? false, ...(o.trace ? { trace: (l: string) => o.trace!.push(l) } : {}) });
  const primary = topo.system(1);
  const secondaries = secondaryNumbers.map((s) => topo.system(s));
  ok(primary.copy.createGroup(1, { role: 'primary', ...o.primaryGroup }));
  secondaries.forEach((s, i) => ok(s.copy.createGroup(1, { role: 'secondary', partnerSystem: 1, partnerGroup: 1, link: 1, ...o.secondaryGroup, ...o.secondaryGroups?.[i] })));
  for (const v of DATA_VOLUMES) {
    ok(primary.copy.registerPair(1, { primaryVolume: v, secondarySystem: secondaryNumbers[0]!, secondaryVolume: v }));
    for (const s of secondaries) ok(s.copy.registerPair(1, { primarySystem: 1, primaryVolume: v, secondaryVolume: v }));
  }
  ok(primary.copy.registerJournalVolume(1, JOURNAL_VOLUME));
  for (const s of secondaries) ok(s.copy.registerJournalVolume(1, JOURNAL_VOLUME));
  const sites: Sites = {
    topo, primary, secondaries, history: new History(primary),
    start() {
      for (const s of secondaries) ok(s.copy.startCopy(1));
      ok(primary.copy.startCopy(1, { readers: secondaryNumbers }));
    },
  };
  if (o.start !== false) sites.start();
  return sites;
}

/** Stamped blocks (the simulator's checker format, tools/sim/history.ts). */
export { stamp };

export interface WriteRecord {
  seq: number;
  volume: number;
  block: number;
  blocks: number;
}

export class History {
  readonly writes: WriteRecord[] = [];
  private rng = 12345;

  constructor(private readonly primary: StorageSystem) {}

  private rand(n: number): number {
    this.rng ^= this.rng << 13; this.rng >>>= 0;
    this.rng ^= this.rng >>> 17;
    this.rng ^= this.rng << 5; this.rng >>>= 0;
    return this.rng % n;
  }

  /** One acknowledged host write of 1..maxBlocks stamped blocks at a random place. */
  async writeRandom(maxBlocks = 16): Promise<WriteRecord> {
    const volume = DATA_VOLUMES[this.rand(DATA_VOLUMES.length)]!;
    const blocks = 1 + this.rand(maxBlocks);
    const block = this.rand(VOLUME_BLOCKS - blocks + 1);
    return this.write(volume, block, blocks);
  }

  async write(volume: number, block: number, blocks: number): Promise<WriteRecord> {
    const seq = this.writes.length + 1;
    await this.primary.host.writeOk(seq % 2, volume, block, stamp(seq, volume, block, blocks));
    const record = { seq, volume, block, blocks };
    this.writes.push(record);
    return record;
  }

  /** The seq each block of a volume holds after writes 1..k (0 = never written). */
  imageAt(k: number): Map<number, Int32Array> {
    const image = new Map<number, Int32Array>();
    for (const v of DATA_VOLUMES) image.set(v, new Int32Array(VOLUME_BLOCKS));
    for (let i = 0; i < k; i++) {
      const w = this.writes[i]!;
      image.get(w.volume)!.fill(w.seq, w.block, w.block + w.blocks);
    }
    return image;
  }
}

/** Reads every block of the data volumes of a system (through its host port). */
export async function readVolumes(system: StorageSystem): Promise<Map<number, Uint8Array>> {
  const out = new Map<number, Uint8Array>();
  for (const v of DATA_VOLUMES) {
    const bytes = new Uint8Array(VOLUME_BLOCKS * BLOCK_BYTES);
    const chunk = 32 * 1024;
    for (let at = 0; at < bytes.byteLength; at += chunk) bytes.set(await system.host.readOk(0, v, at / BLOCK_BYTES, chunk), at);
    out.set(v, bytes);
  }
  return out;
}

/**
 * Checks that `volumes` equal the primary's image after writes 1..k for some k (every stamp
 * intact, every block the last of 1..k to touch it), and returns that k.
 */
export function prefixOf(history: History, volumes: Map<number, Uint8Array>): number {
  let k = 0;
  const seqs = new Map<number, Int32Array>();
  for (const [v, bytes] of volumes) {
    const words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const s = new Int32Array(VOLUME_BLOCKS);
    for (let b = 0; b < VOLUME_BLOCKS; b++) {
      const seq = words[b * 128]!;
      if (seq !== 0) {
        const expected = stamp(seq, v, b, 1);
        const got = bytes.subarray(b * BLOCK_BYTES, (b + 1) * BLOCK_BYTES);
        expect(Buffer.compare(Buffer.from(got), Buffer.from(expected)), `volume ${v} block ${b}: a damaged or misplaced block (claims write ${seq})`).toBe(0);
      } else {
        expect(bytes.subarray(b * BLOCK_BYTES, (b + 1) * BLOCK_BYTES).every((x) => x === 0), `volume ${v} block ${b}: neither zero nor a stamped block`).toBe(true);
      }
      s[b] = seq;
      if (seq > k) k = seq;
    }
    seqs.set(v, s);
  }
  const image = history.imageAt(k);
  for (const [v, s] of seqs) {
    const want = image.get(v)!;
    for (let b = 0; b < VOLUME_BLOCKS; b++) {
      expect(s[b], `volume ${v} block ${b}: holds write ${s[b]}, but the image after writes 1..${k} has write ${want[b]} there`).toBe(want[b]);
    }
  }
  return k;
}

/** Pauses restore at a journal boundary, reads the secondary's image, checks it, resumes. */
export async function checkPrefix(sites: Sites, secondary: StorageSystem): Promise<number> {
  ok(secondary.copy.pauseRestore(1, true));
  await sites.topo.until(() => secondary.copy.pauseRestore(1, true).data!.atBoundary, 'restore paused at a journal boundary');
  const k = prefixOf(sites.history, await readVolumes(secondary));
  ok(secondary.copy.pauseRestore(1, false));
  return k;
}

/** Waits until the secondary has restored every journal the primary created, then compares. */
export async function converge(sites: Sites, secondary: StorageSystem, what = 'convergence'): Promise<void> {
  await sites.topo.until(() => sites.primary.copy.groupStatus(1).data!.pairs.every((p) => p.state === 'normal'), `${what}: primary pairs normal`, { steps: 50_000_000, ms: 60_000 });
  const target = sites.primary.copy.groupStatus(1).data!.nextUpdateNumber - 1;
  await sites.topo.until(() => secondary.copy.groupStatus(1).data!.restoredNumber >= target, `${what}: secondary restored ${target}`, { steps: 50_000_000, ms: 60_000 });
  const a = await readVolumes(sites.primary);
  const b = await readVolumes(secondary);
  for (const v of DATA_VOLUMES) {
    expect(Buffer.compare(Buffer.from(a.get(v)!), Buffer.from(b.get(v)!)), `${what}: volume ${v} differs between primary and secondary`).toBe(0);
  }
}

/**
 * prefixOf's check for any volumes, with one outcome instead of an assertion per block (for
 * tests that check dozens of images, or volumes other than DATA_VOLUMES): `writes` in issue
 * order with seq = position + 1, `volumes` the images read. Returns the k of the image — the
 * highest write it holds — and the first problem found: a damaged or misplaced block, or a block
 * that is not what writes 1..k leave there. `problem` is null for a consistent image.
 */
export function prefixProblem(writes: readonly WriteRecord[], volumes: ReadonlyMap<number, Uint8Array>): { k: number; problem: string | null } {
  let k = 0;
  let problem: string | null = null;
  const held = new Map<number, Int32Array>();
  for (const [v, bytes] of volumes) {
    const blocks = bytes.byteLength / BLOCK_BYTES;
    const words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const seqs = Int32Array.from({ length: blocks }, (_, b) => words[b * 128]!);
    held.set(v, seqs);
    for (let b = 0; b < blocks; b++) {
      const got = bytes.subarray(b * BLOCK_BYTES, (b + 1) * BLOCK_BYTES);
      const intact = seqs[b] === 0 ? got.every((x) => x === 0) : Buffer.compare(Buffer.from(got), Buffer.from(stamp(seqs[b]!, v, b, 1))) === 0;
      if (!intact && problem === null) problem = `volume ${v} block ${b}: ${seqs[b] === 0 ? 'neither zero nor a stamped block' : `a damaged or misplaced block (claims write ${seqs[b]})`}`;
      k = Math.max(k, seqs[b]!);
    }
  }
  if (k > writes.length && problem === null) problem = `the image holds write ${k}, but only ${writes.length} were issued`;
  const want = new Map([...held].map(([v, s]) => [v, new Int32Array(s.length)] as const));
  for (const w of writes.slice(0, k)) want.get(w.volume)?.fill(w.seq, w.block, w.block + w.blocks);
  for (const [v, s] of held) {
    const image = want.get(v)!;
    for (let b = 0; b < s.length && problem === null; b++) {
      if (s[b] !== image[b]) problem = `volume ${v} block ${b}: holds write ${s[b]}, but the image after writes 1..${k} has write ${image[b]} there`;
    }
  }
  return { k, problem };
}
