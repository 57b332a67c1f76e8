// Local mirror pairs (seed 004) on a harness system: a system with two pairs' worth of equal
// volumes, and the maintenance steps every mirror test starts with.

import type { SystemConfig } from '../../firmware/config.ts';
import type { MaintResult } from '../../firmware/maintenance.ts';
import { freshSystem, type Harness } from './harness.ts';

/** Volumes 1 (primary) and 2 (secondary) of 1024 blocks = 8 tracks; 3 and 4 a second pair. */
export function mirrorSystem(overrides: Partial<SystemConfig> = {}): Harness {
  return freshSystem({
    mirrorPairsMax: 4,
    mirrorBitmapBytes: 1024,
    drives: [
      { number: 0, kind: 'memory', blockCount: 4096 },
      { number: 1, kind: 'memory', blockCount: 4096 },
    ],
    volumes: [
      { number: 1, format: 'OPEN3', capacityBlocks: 1024, drive: 0, startBlock: 0 },
      { number: 2, format: 'OPEN3', capacityBlocks: 1024, drive: 1, startBlock: 0 },
      { number: 3, format: 'OPEN3', capacityBlocks: 1024, drive: 0, startBlock: 1024 },
      { number: 4, format: 'OPEN3', capacityBlocks: 1024, drive: 1, startBlock: 1024 },
      { number: 5, format: 'OPEN3', capacityBlocks: 512, drive: 0, startBlock: 2048 },
    ],
    ...overrides,
  });
}

export function must<T>(r: MaintResult<T>): T {
  if (r.status !== 'ok') throw new Error(`rejected: ${r.reason}`);
  return r.data as T;
}

/** Steps every processor until the pair's operation has ended. */
export function settle(h: Harness, pair: number, maxRounds = 20_000): void {
  for (let i = 0; i < maxRounds; i++) {
    if (must(h.maintenance.mirror.status(pair)).operation === 'none') return;
    h.round();
  }
  throw new Error(`mirror pair ${pair}: operation did not end in ${maxRounds} rounds`);
}

/** Creates pair 1 = (1, 2) and forms it: mirror/synchronised. */
export function formed(h: Harness, embodiment: 'E1' | 'E2a' | 'E2b' = 'E1', unit: 'sector' | 'track' | 'cylinder' = 'track', pair = 1, volumes: [number, number] = [1, 2]): void {
  must(h.maintenance.mirror.createPair(pair, { primary: volumes[0], secondary: volumes[1], embodiment, unit }));
  must(h.maintenance.mirror.form(pair));
  settle(h, pair);
}

