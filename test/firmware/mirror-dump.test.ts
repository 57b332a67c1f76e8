// Dump acquisition 1000 (tools/dump.ts) against a harness system stepped by hand: the dump
// chain end to end (seed 004 behaviours 18–26), the dump file's checks, and the property test —
// random host writes in flight across random split/dump/resync cycles, every embodiment.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { HostOp, ScsiStatus } from '../../hal/host-port.ts';
import { Prng } from '../../hal/runtime/prng.ts';
import { DumpError, decodeDump, inspectDump, main, restoreChain, takeDump, type DumpResult } from '../../tools/dump.ts';
import { HostClient } from '../../tools/host-client.ts';
import { pattern, peek, type Harness } from '../support/harness.ts';
import { formed, mirrorSystem, must } from '../support/mirror.ts';

const BLOCK = 512;
const CAPACITY = 1024;

/** A host client whose waits step the harness; `tick` runs once per round (background writers). */
function hostOf(h: Harness, tick: () => void = () => {}): HostClient {
  return new HostClient(h.ports, {
    wait: async (ports, port, slot) => {
      for (let i = 0; i < 200_000 && !ports.isComplete(port, slot); i++) {
        tick();
        h.round();
      }
      return ports.isComplete(port, slot);
    },
  }, () => h.clock.nowMs());
}

/** Captures P (volume 1) at the instant each split takes effect (4030/4530), by split sequence. */
function captureSplits(h: Harness): Map<number, Uint8Array> {
  const snaps = new Map<number, Uint8Array>();
  const push = h.trace.push.bind(h.trace);
  h.trace.push = (...lines: string[]): number => {
    for (const line of lines) {
      if (/^mirror 1 \(E[12][ab]?\): mirror\/synchronised -> split \(split \d+\)$/.test(line)) {
        snaps.set(h.mem.mirrors.splitSequence(1), peek(h, 1, 0, CAPACITY));
      }
    }
    return push(...lines);
  };
  return snaps;
}

const image = (r: { image: Uint8Array }): Buffer => Buffer.from(r.image);

describe('the dump chain (behaviours 18–21, 23)', () => {
  for (const e of ['E1', 'E2a', 'E2b'] as const) {
    it(`${e}: full + differentials 1..k restore snap(T_k); each differential holds exactly the units written since the last split`, async () => {
      const h = mirrorSystem();
      formed(h, e, 'track');
      const snaps = captureSplits(h);
      const host = hostOf(h);
      for (let b = 0; b < CAPACITY; b += 64) await host.writeOk(1, 1, b, pattern(BLOCK, b));
      const full = await takeDump(host, { port: 0, volume: 1, kind: 'full' });
      // Records are runs of adjacent targets in chunks of the port's largest transfer (32 blocks here).
      expect(full.header).toMatchObject({ kind: 'full', volume: 1, capacityBlocks: CAPACITY, unitBlocks: 128, units: 8, splitSequence: 1, baseSequence: 0, recordCount: 32 });
      expect(full.blocks).toBe(CAPACITY);
      const chain = [full.file];
      const written = [[2, 5], [5], [], [0, 1, 7]];
      for (let k = 0; k < written.length; k++) {
        for (const t of written[k]!) await host.writeOk(1, 1, t * 128 + 3, pattern(BLOCK, 1000 * k + t));
        const d = await takeDump(host, { port: 0, volume: 1, kind: 'differential', previous: decodeDump(chain[chain.length - 1]!).header });
        expect(d.chainBroken).toBeUndefined();
        // 18, 21: exactly the units written in (T_{k-1}, T_k]; none → an empty differential.
        expect([...new Set(decodeDump(d.file).records.map((r) => r.unit))]).toEqual(written[k]);
        expect(d.blocks).toBe(written[k]!.length * 128);
        expect(d.targetUnits).toBe(written[k]!.length);
        chain.push(d.file);
        // 19: every prefix restores the snapshot of its last split.
        for (let j = 0; j < chain.length; j++) expect(image(restoreChain(chain.slice(0, j + 1))).equals(Buffer.from(snaps.get(j + 1)!)), `restore to split ${j + 1}`).toBe(true);
      }
      // 23: a later full dump resets the chain.
      await host.writeOk(1, 1, 700, pattern(BLOCK, 77));
      const full2 = await takeDump(host, { port: 0, volume: 1, kind: 'full' });
      await host.writeOk(1, 1, 20, pattern(BLOCK, 78));
      const d = await takeDump(host, { port: 0, volume: 1, kind: 'differential' });
      expect(image(restoreChain([...chain, full2.file, d.file])).equals(Buffer.from(snaps.get(7)!))).toBe(true);
      expect(image(restoreChain([full2.file, d.file])).equals(Buffer.from(peek(h, 1, 0, CAPACITY)))).toBe(true);
    });
  }

  it('20: a write made during dump k is not in dump k and is in dump k+1 with its value as of T_{k+1}', async () => {
    const h = mirrorSystem();
    formed(h, 'E1', 'track');
    const host = hostOf(h);
    const full = await takeDump(host, { port: 0, volume: 1, kind: 'full' });
    await host.writeOk(1, 1, 3 * 128, pattern(BLOCK, 1));
    const d1 = await takeDump(host, {
      port: 0, volume: 1, kind: 'differential',
      during: async (stage) => { if (stage === 'record') await host.writeOk(1, 1, 6 * 128 + 1, pattern(BLOCK, 2)); },
    });
    expect([...new Set(decodeDump(d1.file).records.map((r) => r.unit))]).toEqual([3]);
    expect(Buffer.from(restoreChain([full.file, d1.file]).image.subarray((6 * 128 + 1) * BLOCK, (6 * 128 + 2) * BLOCK)).equals(Buffer.alloc(BLOCK))).toBe(true);
    const d2 = await takeDump(host, { port: 0, volume: 1, kind: 'differential' });
    expect([...new Set(decodeDump(d2.file).records.map((r) => r.unit))]).toEqual([6]);
    expect(restoreChain([full.file, d1.file, d2.file]).image.subarray((6 * 128 + 1) * BLOCK, (6 * 128 + 2) * BLOCK)).toEqual(pattern(BLOCK, 2));
  });

  it('20: a write made during the resync of cycle k is in dump k+1', async () => {
    const h = mirrorSystem();
    formed(h, 'E1', 'sector');
    const host = hostOf(h);
    const full = await takeDump(host, { port: 0, volume: 1, kind: 'full' });
    const split = await host.command(0, HostOp.MIRROR_SPLIT, 1, 0, 0);
    expect(split.status).toBe(ScsiStatus.GOOD);
    for (let b = 0; b < CAPACITY; b += 8) await host.writeOk(1, 1, b, pattern(BLOCK, b)); // a long resync
    must(h.maintenance.mirror.resync(1));
    h.round();
    expect(must(h.maintenance.mirror.status(1)).subState).toBe('synchronising');
    await host.writeOk(1, 1, 515, pattern(BLOCK, 9)); // during synchronising
    for (let i = 0; i < 10_000 && must(h.maintenance.mirror.status(1)).operation !== 'none'; i++) h.round();
    const d = await takeDump(host, { port: 0, volume: 1, kind: 'differential' });
    expect(decodeDump(d.file).records.some((r) => r.block <= 515 && 515 < r.block + r.blocks)).toBe(true);
    expect(decodeDump(d.file).header.baseSequence).toBe(2);
    expect(full.header.splitSequence).toBe(1);
  });
});

describe('granularity (behaviour 6)', () => {
  it('6: sector, track and cylinder units give identical restored images; only the dump sizes differ', async () => {
    const images: Buffer[][] = [];
    const sizes: number[][] = [];
    for (const unit of ['sector', 'track', 'cylinder'] as const) {
      const h = mirrorSystem();
      formed(h, 'E1', unit);
      const host = hostOf(h);
      const chain = [(await takeDump(host, { port: 0, volume: 1, kind: 'full' })).file];
      const restored: Buffer[] = [];
      const blocks: number[] = [];
      for (let k = 0; k < 3; k++) {
        for (let i = 0; i < 5; i++) await host.writeOk(1, 1, (k * 311 + i * 173) % (CAPACITY - 2), pattern(2 * BLOCK, k * 10 + i));
        const d = await takeDump(host, { port: 0, volume: 1, kind: 'differential' });
        chain.push(d.file);
        blocks.push(d.blocks);
        restored.push(image(restoreChain(chain)));
      }
      images.push(restored);
      sizes.push(blocks);
    }
    for (let k = 0; k < 3; k++) {
      expect(images[1]![k]!.equals(images[0]![k]!)).toBe(true);
      expect(images[2]![k]!.equals(images[0]![k]!)).toBe(true);
    }
    expect(sizes[0]).toEqual([10, 10, 10]); // five 2-block writes, distinct sectors
    expect(sizes[2]).toEqual([CAPACITY, CAPACITY, CAPACITY]); // one cylinder covers the volume
  });
});

describe('caveats (behaviours 24–26)', () => {
  it('25: a split and resync without a dump breaks the chain: the acquisition says so and restore refuses the gap', async () => {
    const h = mirrorSystem();
    formed(h, 'E2a', 'track');
    const host = hostOf(h);
    const full = await takeDump(host, { port: 0, volume: 1, kind: 'full' });
    await host.writeOk(1, 1, 10, pattern(BLOCK, 1));
    await host.command(0, HostOp.MIRROR_SPLIT, 1, 0, 0);
    await host.command(0, HostOp.MIRROR_RESYNC, 1, 0, 0);
    await host.writeOk(1, 1, 500, pattern(BLOCK, 2));
    const d = await takeDump(host, { port: 0, volume: 1, kind: 'differential', previous: full.header });
    expect(d.chainBroken).toBe('this differential covers split 2 to 3, but the previous dump is of split 1: the updates of the splits in between were never dumped; take a full dump');
    // The restore without the check would not equal the primary: block 10's update is missing.
    expect(() => restoreChain([full.file, d.file])).toThrow('dump 2: the differential of split 3 follows split 2, but the chain so far ends at split 1: the dump of split 2 is missing (take a new full dump if it was never taken)');
  });

  it('26: retrying a dump while still split (re-transfer and re-read) gives identical results', async () => {
    const h = mirrorSystem();
    formed(h, 'E1', 'track');
    const host = hostOf(h);
    await host.writeOk(1, 1, 300, pattern(4 * BLOCK, 1));
    await host.command(0, HostOp.MIRROR_SPLIT, 1, 0, 0);
    const read = async () => {
      const info = new Uint8Array(64);
      await host.command(0, HostOp.UPDATE_INFO, 1, 0, 64, undefined, info);
      const data = new Uint8Array(8192);
      await host.command(0, HostOp.DUMP_READ, 2, 296, 8192, undefined, data);
      return [Buffer.from(info), Buffer.from(data)];
    };
    const first = await read();
    await host.writeOk(1, 1, 300, pattern(4 * BLOCK, 2)); // the primary moves on; the dump does not
    const second = await read();
    expect(second[0]!.equals(first[0]!)).toBe(true);
    expect(second[1]!.equals(first[1]!)).toBe(true);
    expect(first[1]!.subarray(4 * BLOCK, 8 * BLOCK).equals(Buffer.from(pattern(4 * BLOCK, 1)))).toBe(true);
  });
});

describe('dump files', () => {
  async function sample(): Promise<{ full: DumpResult; diff: DumpResult }> {
    const h = mirrorSystem();
    formed(h, 'E1', 'track');
    const host = hostOf(h);
    await host.writeOk(1, 1, 0, pattern(BLOCK, 1));
    const full = await takeDump(host, { port: 0, volume: 1, kind: 'full', systemNumber: 1 });
    await host.writeOk(1, 1, 900, pattern(BLOCK, 2));
    const diff = await takeDump(host, { port: 0, volume: 1, kind: 'differential', systemNumber: 1 });
    return { full, diff };
  }

  it('the inspector describes a dump file', async () => {
    const { diff } = await sample();
    const text = inspectDump(diff.file, 'd1.dump').split('\n');
    expect(text[0]).toBe('d1.dump: differential dump of volume 1 (system 1), image of split 2 (follows split 1)');
    expect(text[1]).toBe('  volume 1024 blocks (0.50 MiB), unit 128 blocks, 8 units');
    expect(text[2]).toBe('  4 records, 128 blocks of data (12.5% of the volume), every checksum good');
    expect(text.slice(4)).toEqual(['  unit 7: blocks 896..927', '  unit 7: blocks 928..959', '  unit 7: blocks 960..991', '  unit 7: blocks 992..1023']);
  });

  it('the command line inspects and restores dump files, and says why a chain is refused', async () => {
    const { full, diff } = await sample();
    const dir = mkdtempSync(join(tmpdir(), 'dump-'));
    try {
      writeFileSync(join(dir, 'full.dump'), full.file);
      writeFileSync(join(dir, 'd1.dump'), diff.file);
      const out: string[] = [];
      const log = vi.spyOn(console, 'log').mockImplementation((line: string) => { out.push(line); });
      const err = vi.spyOn(console, 'error').mockImplementation((line: string) => { out.push(`error: ${line}`); });
      try {
        expect(main(['inspect', join(dir, 'd1.dump')])).toBe(0);
        expect(main(['restore', join(dir, 'vol1.img'), join(dir, 'full.dump'), join(dir, 'd1.dump')])).toBe(0);
        expect(main(['restore', join(dir, 'bad.img'), join(dir, 'd1.dump')])).toBe(1);
        expect(main(['frobnicate'])).toBe(2);
      } finally {
        log.mockRestore();
        err.mockRestore();
      }
      expect(out[0]).toMatch(/d1\.dump: differential dump of volume 1 \(system 1\), image of split 2 \(follows split 1\)/);
      expect(out.some((l) => /vol1\.img: volume 1 as of split 2 \(524288 bytes\) from 2 dump files/.test(l))).toBe(true);
      expect(out.some((l) => /^error: .*d1\.dump: a chain starts with a full dump; this is the differential of split 2$/.test(l))).toBe(true);
      expect(readFileSync(join(dir, 'vol1.img')).equals(Buffer.from(restoreChain([full.file, diff.file]).image))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a damaged or truncated file, a chain without a full dump, or out of order, is refused with a message', async () => {
    const { full, diff } = await sample();
    const bad = full.file.slice();
    bad[128 + 16 + 100]! ^= 1;
    expect(() => decodeDump(bad, 'f')).toThrow('f: record 0 (blocks 0..31) fails its checksum');
    expect(() => decodeDump(full.file.subarray(0, 400), 'f')).toThrow('f: truncated in the data of record 0');
    const header = full.file.slice();
    header[8]! ^= 1;
    expect(() => decodeDump(header, 'f')).toThrow('f: the header checksum does not match (damaged header)');
    expect(() => decodeDump(new Uint8Array(200), 'f')).toThrow("f: not a dump file (no 'MDMP' magic)");
    expect(() => restoreChain([diff.file])).toThrow('dump 1: a chain starts with a full dump; this is the differential of split 2');
    expect(() => restoreChain([full.file, diff.file, diff.file])).toThrow('dump 3: the differential of split 2 is out of order: the chain so far already ends at split 2');
    expect(() => restoreChain([])).toThrow(DumpError);
  });
});

describe('property: random writes in flight across random split/dump/resync cycles', () => {
  interface Run { dumps: Uint8Array[]; snaps: Map<number, Uint8Array> }

  async function scenario(seed: number, embodiment: 'E1' | 'E2a' | 'E2b', unit: 'sector' | 'track'): Promise<Run> {
    const h = mirrorSystem();
    formed(h, embodiment, unit);
    const snaps = captureSplits(h);
    const rng = new Prng(seed);
    const inFlight: number[] = [];
    // Port 1 is the application: up to 3 writes in flight at any moment, random place and size.
    const tick = (): void => {
      for (let i = inFlight.length - 1; i >= 0; i--) {
        if (h.ports.isComplete(1, inFlight[i]!)) {
          expect(h.ports.result(1, inFlight[i]!).status).toBe(ScsiStatus.GOOD);
          h.ports.release(1, inFlight[i]!);
          inFlight.splice(i, 1);
        }
      }
      if (inFlight.length < 3 && rng.below(4) === 0) {
        const blocks = 1 + rng.below(16);
        const lba = rng.below(CAPACITY - blocks + 1);
        inFlight.push(h.submit(1, HostOp.WRITE, 1, lba, blocks * BLOCK, pattern(blocks * BLOCK, rng.nextU32())));
      }
    };
    const host = hostOf(h, tick);
    const idle = (rounds: number): void => {
      for (let i = 0; i < rounds; i++) {
        tick();
        h.round();
      }
    };
    idle(rng.below(200));
    const dumps = [(await takeDump(host, { port: 0, volume: 1, kind: 'full', during: () => idle(rng.below(20)) })).file];
    for (let k = 0; k < 5; k++) {
      idle(rng.below(300));
      dumps.push((await takeDump(host, { port: 0, volume: 1, kind: 'differential', during: () => idle(rng.below(30)) })).file);
    }
    while (inFlight.length > 0) idle(1);
    return { dumps, snaps };
  }

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`seed ${seed}: full + the first k differentials equal P at split k for every k, and E1, E2a, E2b give identical dump sets`, async () => {
      const unit = seed % 2 === 0 ? 'sector' : 'track';
      const runs = [await scenario(seed, 'E1', unit), await scenario(seed, 'E2a', unit), await scenario(seed, 'E2b', unit)];
      for (const run of runs) {
        expect(run.snaps.size).toBe(run.dumps.length);
        for (let k = 0; k < run.dumps.length; k++) {
          expect(image(restoreChain(run.dumps.slice(0, k + 1))).equals(Buffer.from(run.snaps.get(k + 1)!)), `seed ${seed}, restore to split ${k + 1}`).toBe(true);
        }
      }
      for (const other of runs.slice(1)) {
        for (let k = 0; k < runs[0]!.dumps.length; k++) {
          const a = decodeDump(runs[0]!.dumps[k]!);
          const b = decodeDump(other.dumps[k]!);
          // Identical targets and contents; only the times in the header (each system's clock) differ.
          expect({ ...b.header, splitMs: 0, createdMs: 0 }, `dump ${k}`).toEqual({ ...a.header, splitMs: 0, createdMs: 0 });
          expect(b.records.map((r) => [r.unit, r.block, r.blocks, Buffer.from(r.data).toString('base64')]), `dump ${k}`)
            .toEqual(a.records.map((r) => [r.unit, r.block, r.blocks, Buffer.from(r.data).toString('base64')]));
        }
      }
    });
  }
});
