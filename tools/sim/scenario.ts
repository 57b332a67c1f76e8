// A simulation scenario, derived entirely from a seed: the topology, the configuration of every
// system and group, the host workload and the faults with the moments they strike (counted in
// host writes, so a scenario means the same thing however fast virtual time runs).
//
// Topologies: 'two-site' (primary 1 -> secondary 2), 'multi-target' (primary 1 -> 2 and 3,
// seed 002), 'cascade' (seed 000 embodiment 2: the host writes to an upstream system 4, which
// writes every write synchronously to primary 1 before acknowledging it; 1 -> 2 as two-site) and
// 'journal-only' (embodiment 3: the same, with primary 1's data volumes having no storage). Each secondary reads over one or two links with a read window of 1..3 commands.
// Journal volumes are small, so a paused restore fills them and the journal-full path runs.

import { DEFAULT_CONFIG, type SystemConfig } from '../../firmware/config.ts';
import type { GroupOptions } from '../../firmware/copy-commands.ts';
import { Prng } from '../../hal/runtime/prng.ts';
import type { LinkSpec } from '../topology.ts';

export const VOLUME_BLOCKS = 512;
export const DATA_VOLUMES = [1, 2] as const;
export const JOURNAL_VOLUME = 3;

export type FaultKind = 'cut' | 'flap' | 'delay' | 'drop' | 'duplicate' | 'reorder' | 'corrupt' | 'pause-restore' | 'journal-read-error' | 'journal-drive-failure' |
  'processor-reset' | 'power-loss' | 'power-cycle' | 'data-drive-failure' | 'secondary-journal-failure';
export const FAULT_KINDS: readonly FaultKind[] = ['cut', 'flap', 'delay', 'drop', 'duplicate', 'reorder', 'corrupt', 'pause-restore', 'journal-read-error', 'journal-drive-failure',
  'processor-reset', 'power-loss', 'power-cycle', 'data-drive-failure', 'secondary-journal-failure'];
/** Faults of a whole system or one of its processors (`system`, `processor` say which). */
export const SYSTEM_FAULTS: readonly FaultKind[] = ['processor-reset', 'power-loss', 'power-cycle'];
/** Drive faults (the primary's journal drive, any data drive, a secondary's journal drive): after one, the copy is not expected to converge (the run ends with a takeover). */
export const DRIVE_FAULTS: readonly FaultKind[] = ['journal-read-error', 'journal-drive-failure', 'data-drive-failure', 'secondary-journal-failure'];
/** The drive holding every journal volume. */
export const JOURNAL_DRIVE = 1;
/** The drive holding the data volumes (volume 1 at block 0, volume 2 at block 1024). */
export const DATA_DRIVE = 0;
/** The upstream system of the cascade topologies (the host writes there). */
export const UPSTREAM = 4;

/** Whether the host writes to an upstream system that forwards synchronously to the primary. */
export function hasUpstream(sc: Pick<Scenario, 'topology'>): boolean {
  return sc.topology === 'cascade' || sc.topology === 'journal-only';
}

export interface Fault {
  /** Strikes before host write number `at` (1-based). */
  at: number;
  kind: FaultKind;
  /** Which secondary's links (system number), and which of its links (index). */
  secondary: number;
  link: number;
  /**
   * The system a processor reset or power fault strikes (the primary, a secondary or the
   * upstream; a power cycle strikes a secondary), and the processor a reset stops.
   */
  system: number;
  processor: number;
  /**
   * Frames (drop, duplicate, reorder, corrupt), milliseconds (delay; how long a reset processor
   * or a system stays down), cut/restore cycles (flap).
   */
  amount: number;
  /** Host writes until it heals (cut, delay, pause-restore). */
  lasts: number;
}

export interface Scenario {
  seed: number;
  topology: 'two-site' | 'multi-target' | 'cascade' | 'journal-only';
  secondaries: number[];
  linksPerSecondary: number;
  journalBlocks: number;
  /** Virtual time the host waits after each write, at most (so a healthy secondary keeps up). */
  thinkMs: number;
  maxWriteBlocks: number;
  writes: number;
  /** Check every secondary's prefix after every `checkEvery` writes. */
  checkEvery: number;
  primaryGroup: Partial<GroupOptions>;
  secondaryGroups: Map<number, Partial<GroupOptions>>;
  faults: Fault[];
  /** How the run ends: faults healed and exact convergence, or the primary site lost and a takeover. */
  ending: 'converge' | 'primary-lost';
}

const pick = <T>(rng: Prng, items: readonly T[]): T => items[rng.below(items.length)]!;

export function scenarioOf(seed: number, o: { writes?: number } = {}): Scenario {
  const rng = new Prng((seed ^ 0x51ed5eed) >>> 0);
  const shape = rng.below(6);
  const topology = shape === 0 || shape === 1 ? 'multi-target' : shape === 2 ? 'cascade' : shape === 3 ? 'journal-only' : 'two-site';
  const secondaries = topology === 'multi-target' ? [2, 3] : [2];
  const linksPerSecondary = 1 + rng.below(2);
  const writes = o.writes ?? 120 + rng.below(160);
  const secondaryGroups = new Map<number, Partial<GroupOptions>>();
  for (const s of secondaries) {
    const window = 1 + rng.below(3);
    const g: Partial<GroupOptions> = {
      readPolicy: pick(rng, ['IMMEDIATE', 'FIXED', 'RECEIVED', 'TRAFFIC', 'OWN_USAGE', 'LOAD', 'PRIMARY_USAGE'] as const),
      readIntervalMs: 1 + rng.below(5),
      batchJournalsMax: 2 + rng.below(31),
      storePolicy: pick(rng, ['DISCARD_RETRY', 'HOLD'] as const),
      releaseMode: pick(rng, ['NEXT_COMMAND', 'RESTORED'] as const),
      readWindow: window,
    };
    if (linksPerSecondary > 1) g.moreLinks = [2];
    secondaryGroups.set(s, g);
  }
  const faults: Fault[] = [];
  const count = rng.below(7);
  for (let i = 0; i < count; i++) {
    // Drive faults end the copy: rarer than link faults.
    let kind = pick(rng, FAULT_KINDS);
    if (DRIVE_FAULTS.includes(kind) && rng.below(3) !== 0) kind = 'drop';
    const secondary = pick(rng, secondaries);
    const systems = [1, ...secondaries, ...(topology === 'cascade' || topology === 'journal-only' ? [UPSTREAM] : [])];
    faults.push({
      at: 1 + rng.below(writes),
      kind,
      secondary,
      link: rng.below(linksPerSecondary),
      system: kind === 'power-cycle' || kind === 'secondary-journal-failure' ? secondary : pick(rng, systems),
      processor: rng.below(3),
      amount: kind === 'delay' ? 1 + rng.below(20) : kind === 'flap' ? 1 + rng.below(4) : SYSTEM_FAULTS.includes(kind) ? 0.5 + rng.below(40) : 1 + rng.below(3),
      lasts: 5 + rng.below(60),
    });
  }
  faults.sort((a, b) => a.at - b.at);
  return {
    seed,
    topology,
    secondaries,
    linksPerSecondary,
    journalBlocks: pick(rng, [512, 768, 1024, 2048]),
    thinkMs: 0.5 + rng.next() * 2.5,
    maxWriteBlocks: 1 + rng.below(24),
    writes,
    checkEvery: 10 + rng.below(20),
    primaryGroup: { linkTimeoutMs: pick(rng, [200, 1000, 5000]) },
    secondaryGroups,
    faults,
    ending: rng.below(5) === 0 ? 'primary-lost' : 'converge',
  };
}

/**
 * A small storage system for simulations and tests: 2 channel adapters, 1 disk adapter, 512 KiB
 * of cache in 16 KiB slots, 8 commands per host port, 32 KiB transfers (the caller adds drives,
 * volumes and links).
 */
export function smallSystem(number: number, links: SystemConfig['links']): SystemConfig {
  return {
    ...DEFAULT_CONFIG,
    systemNumber: number,
    name: `system${number}`,
    channelAdapters: 2,
    diskAdapters: 1,
    cacheBytes: 32 * 16384,
    slotBytes: 16384,
    hostQueueDepth: 8,
    maxTransferBytes: 32 * 1024,
    mailboxCapacity: 32,
    journalBatchBytes: 128 * 1024,
    links,
  };
}

/** The systems' configurations and links for a scenario (links of secondary s: 1..m on both ends' numbering). */
export function topologyOf(sc: Scenario): { configs: SystemConfig[]; links: LinkSpec[]; hostLinks: Array<{ from: number; to: number }> } {
  const system = (number: number, links: SystemConfig['links']): SystemConfig => ({
    ...smallSystem(number, links),
    readWindowMax: 3,
    drives: [{ number: DATA_DRIVE, kind: 'memory', blockCount: 2048 }, { number: JOURNAL_DRIVE, kind: 'memory', blockCount: 2048 }],
    volumes: [
      { number: 1, format: 'OPEN3', capacityBlocks: VOLUME_BLOCKS, drive: DATA_DRIVE, startBlock: 0 },
      { number: 2, format: 'OPEN3', capacityBlocks: VOLUME_BLOCKS, drive: DATA_DRIVE, startBlock: 1024 },
      { number: 3, format: 'OPEN3', capacityBlocks: sc.journalBlocks, drive: JOURNAL_DRIVE, startBlock: 0 },
    ],
  });
  const m = sc.linksPerSecondary;
  const configs = [
    system(1, sc.secondaries.flatMap((s, i) => Array.from({ length: m }, (_, j) => ({ number: i * m + j + 1, peerSystem: s, adapter: j % 2 })))),
    ...sc.secondaries.map((s) => system(s, Array.from({ length: m }, (_, j) => ({ number: j + 1, peerSystem: 1, adapter: 0 })))),
  ];
  const links: LinkSpec[] = sc.secondaries.flatMap((s, i) =>
    Array.from({ length: m }, (_, j) => ({ a: { system: 1, link: i * m + j + 1 }, b: { system: s, link: j + 1 }, ringBytes: 1024 * 1024 })));
  if (!hasUpstream(sc)) return { configs, links, hostLinks: [] };
  // Embodiment 3: the intermediate keeps only journals (its data volumes have no storage).
  if (sc.topology === 'journal-only') configs[0]!.volumes = configs[0]!.volumes.map((v) => (v.number === JOURNAL_VOLUME ? v : { ...v, virtual: true }));
  return { configs: [...configs, system(UPSTREAM, [])], links, hostLinks: [{ from: UPSTREAM, to: 1 }] };
}

/** One line describing a scenario (printed with every result, so a failing seed says what it was). */
export function describeScenario(sc: Scenario): string {
  const groups = [...sc.secondaryGroups].map(([s, g]) => `s${s}:${g.readPolicy}/${g.storePolicy}/${g.releaseMode}/w${g.readWindow}/b${g.batchJournalsMax}`).join(' ');
  const faults = sc.faults.map((f) => `${f.kind}@${f.at}`).join(',') || 'none';
  return `${sc.topology} links=${sc.linksPerSecondary} journal=${sc.journalBlocks}b writes=${sc.writes}x<=${sc.maxWriteBlocks}b think<=${sc.thinkMs.toFixed(1)}ms ${groups} faults=${faults} ending=${sc.ending}`;
}
