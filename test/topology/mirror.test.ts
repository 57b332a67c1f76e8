// Local mirror pairs and differential dumps (seed 004) on a booted storage system, in the
// threaded and the deterministic runtime: the operator forms a pair through the maintenance
// port, the host program of tools/dump.ts takes a full dump and differentials through the host
// port, and restore reproduces the primary as of each split. Then power-off and a second boot
// with the mirror state kept on a drive (non-volatile bitmaps), in the middle of a cycle.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, type SystemConfig } from '../../firmware/config.ts';
import { HostOp, ScsiStatus } from '../../hal/host-port.ts';
import { restoreChain, takeDump, writeImage } from '../../tools/dump.ts';
import { StorageSystem } from '../../tools/system.ts';
import { pattern } from '../support/harness.ts';

const BLOCK = 512;
const CAPACITY = 2048; // 16 tracks of 128 blocks

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function config(drives: 'memory' | 'file', dir = ''): SystemConfig {
  return {
    ...DEFAULT_CONFIG,
    cacheBytes: 16 * 65536,
    mirrorPairsMax: 2,
    mirrorBitmapBytes: 1024,
    drives: [{ number: 0, kind: drives, blockCount: 4 * CAPACITY, ...(drives === 'file' ? { path: join(dir, 'drive0.img') } : {}) }],
    volumes: [
      { number: 1, format: 'OPEN3', capacityBlocks: CAPACITY, drive: 0, startBlock: 0 },
      { number: 2, format: 'OPEN3', capacityBlocks: CAPACITY, drive: 0, startBlock: CAPACITY },
      { number: 3, format: 'OPEN3', capacityBlocks: CAPACITY, drive: 0, startBlock: 2 * CAPACITY },
    ],
    mirrorNv: { drive: 0, startBlock: 3 * CAPACITY },
  };
}

async function readAll(s: StorageSystem, volume: number): Promise<Buffer> {
  const out = Buffer.alloc(CAPACITY * BLOCK);
  const chunk = 128;
  for (let b = 0; b < CAPACITY; b += chunk) out.set(await s.host.readOk(1, volume, b, chunk * BLOCK), b * BLOCK);
  return out;
}

describe.each(['threaded', 'deterministic'] as const)('%s runtime', (runtime) => {
  it('form a pair, full dump, differentials with writes during each dump; every prefix of the chain restores its split', async () => {
    const s = await StorageSystem.boot(config('memory'), { runtime, seed: 3 });
    expect(s.maintenance.mirror.createPair(1, { primary: 1, secondary: 2, embodiment: 'E1', unit: 'track' }).status).toBe('ok');
    for (let b = 0; b < CAPACITY; b += 200) await s.host.writeOk(0, 1, b, pattern(4 * BLOCK, b));
    await s.mirrorOperation(1, 'form');
    expect(s.maintenance.mirror.stateTable().data).toEqual([
      { volume: 1, pair: 1, role: 'primary', state: 'mirror', subState: 'synchronised' },
      { volume: 2, pair: 1, role: 'secondary', state: 'mirror', subState: 'synchronised' },
    ]);
    const snaps: Buffer[] = [];
    const during = (k: number) => async (stage: 'split' | 'record', i: number): Promise<void> => {
      if (stage === 'split') snaps.push(await readAll(s, 1)); // P at the split: nothing has written since
      else if (i % 3 === 0) await s.host.writeOk(1, 1, (k * 389 + i * 97) % (CAPACITY - 4), pattern(2 * BLOCK, 100 * k + i));
    };
    const chain = [(await takeDump(s.host, { port: 0, volume: 1, kind: 'full', during: during(0) })).file];
    for (let k = 1; k <= 3; k++) {
      await s.host.writeOk(0, 1, (k * 601) % CAPACITY, pattern(BLOCK, k));
      const d = await takeDump(s.host, { port: 0, volume: 1, kind: 'differential', during: during(k) });
      expect(d.blocks).toBeLessThan(CAPACITY);
      chain.push(d.file);
    }
    for (let k = 0; k < chain.length; k++) expect(Buffer.from(restoreChain(chain.slice(0, k + 1)).image).equals(snaps[k]!), `restore to split ${k + 1}`).toBe(true);
    // A restored image written to a fresh volume reads back as the primary did at the last split.
    await writeImage(s.host, 0, 3, restoreChain(chain).image);
    expect((await readAll(s, 3)).equals(snaps[3]!)).toBe(true);
    const status = s.maintenance.mirror.status(1).data!;
    expect([status.state, status.subState, status.splitSequence, status.primaryReadBlocks > 0]).toEqual(['mirror', 'synchronised', 4, true]);
    await s.powerOff();
  });

  for (const embodiment of ['E1', 'E2a', 'E2b'] as const) {
    it(`${embodiment}: writers keep writing across split/dump/resync cycles; the final chain restores the primary and S == P`, async () => {
      const s = await StorageSystem.boot(config('memory'), { runtime, seed: 11 });
      expect(s.maintenance.mirror.createPair(1, { primary: 1, secondary: 2, embodiment, unit: 'sector' }).status).toBe('ok');
      await s.mirrorOperation(1, 'form');
      let writing = true;
      let writes = 0;
      const writer = async (n: number): Promise<void> => {
        for (let i = 0; writing; i++) {
          const blocks = 1 + ((n * 7 + i) % 8);
          await s.host.writeOk(1, 1, (n * 523 + i * 131) % (CAPACITY - blocks), pattern(blocks * BLOCK, n * 100_000 + i));
          writes++;
        }
      };
      const writers = [0, 1, 2, 3].map(writer);
      const chain = [(await takeDump(s.host, { port: 0, volume: 1, kind: 'full' })).file];
      for (let k = 0; k < 4; k++) chain.push((await takeDump(s.host, { port: 0, volume: 1, kind: 'differential' })).file);
      writing = false;
      await Promise.all(writers);
      expect(writes).toBeGreaterThan(0);
      chain.push((await takeDump(s.host, { port: 0, volume: 1, kind: 'differential' })).file);
      const p = await readAll(s, 1);
      expect(Buffer.from(restoreChain(chain).image).equals(p)).toBe(true);
      expect((await readAll(s, 2)).equals(p)).toBe(true);
      await s.powerOff();
    });
  }

  for (const nonVolatile of [true, false]) {
    it(`power-off in the middle of a dump with ${nonVolatile ? 'non-volatile' : 'volatile'} bitmaps: after the second boot the dump continues and the chain restores`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'mirror-'));
      dirs.push(dir);
      const cfg = config('file', dir);
      const first = await StorageSystem.boot(cfg, { runtime, seed: 7 });
      expect(first.maintenance.mirror.createPair(1, { primary: 1, secondary: 2, embodiment: 'E2a', unit: 'track', nonVolatile }).status).toBe('ok');
      await first.mirrorOperation(1, 'form');
      const full = await takeDump(first.host, { port: 0, volume: 1, kind: 'full' });
      await first.host.writeOk(0, 1, 300, pattern(BLOCK, 1));
      await first.host.writeOk(0, 1, 1900, pattern(BLOCK, 2));
      // Split (1010) and power off before the dump reads anything.
      expect((await first.host.command(0, HostOp.MIRROR_SPLIT, 1, 0, 0)).status).toBe(ScsiStatus.GOOD);
      const snap = await readAll(first, 1);
      await first.host.writeOk(0, 1, 1000, pattern(BLOCK, 3)); // after the split: the next dump's
      expect((await first.powerOff()).undestagedSlots).toBe(0);
      first.dispose();

      const second = await StorageSystem.boot(cfg, { runtime, seed: 8 });
      expect(second.mirrorLoad).toMatchObject({ reason: '', pairs: [1], bitmapsLost: nonVolatile ? [] : [1] });
      const status = second.maintenance.mirror.status(1).data!;
      expect([status.state, status.splitSequence, status.nonVolatile, status.bitmapsLost]).toEqual(['split', 2, nonVolatile, !nonVolatile]);
      // The dump of split 2 continues (1020 onward) on the second boot.
      const d2 = await takeDump(second.host, { port: 0, volume: 1, kind: 'differential', alreadySplit: true, previous: full.header });
      expect(d2.chainBroken).toBeUndefined();
      // Non-volatile: exactly the two tracks written; volatile: every unit (a whole volume's worth).
      expect(d2.targetUnits).toBe(nonVolatile ? 2 : CAPACITY / 128);
      expect(Buffer.from(restoreChain([full.file, d2.file]).image).equals(snap)).toBe(true);
      // The write made after the split, before the power-off, is in the next differential.
      await second.host.writeOk(0, 1, 40, pattern(BLOCK, 4));
      const d3 = await takeDump(second.host, { port: 0, volume: 1, kind: 'differential', previous: d2.header });
      const p = await readAll(second, 1);
      expect(Buffer.from(restoreChain([full.file, d2.file, d3.file]).image).equals(p)).toBe(true);
      await second.powerOff();
      second.dispose();
    });
  }
});
