// Differential dump benchmark (seed 004): a local mirror pair on one storage system (threaded
// runtime, memory drives), a full dump, then differential dumps after 1%, 10% and 50% of the
// tracks were updated — size and time of each against the full dump — and the host's write
// throughput while a dump runs against the same writes without one (the seed's claim: no
// slowdown, since the dump reads the split secondary and a write costs one device write).
//
// A standalone scenario: runMirrorDumpBench() returns plain figures; `tsx bench/mirror-dump.ts`
// prints them as JSON (add --quick for a small volume).

import { DEFAULT_CONFIG, type SystemConfig } from '../firmware/config.ts';
import { Prng } from '../hal/runtime/prng.ts';
import { crc32c } from '../hal/crc32c.ts';
import { takeDump } from '../tools/dump.ts';
import { StorageSystem } from '../tools/system.ts';

const BLOCK = 512;
const TRACK_BLOCKS = 128;

export interface MirrorDumpOptions {
  volumeMiB: number;
  /** Update rates to measure, as fractions of the tracks. */
  rates: number[];
  /** Seconds of host writes for each throughput measurement (without, then during dumps). */
  writeSeconds: number;
  /** Host writes kept in flight by the writer. */
  writersInFlight: number;
  writeBytes: number;
  seed: number;
}

export interface DumpFigure {
  kind: 'full' | 'differential';
  /** Fraction of the tracks updated before the dump (1 for the full dump). */
  updatedFraction: number;
  targetUnits: number;
  fileBytes: number;
  /** Split to resync complete, and the dump reads alone. */
  totalMs: number;
  readMs: number;
  /** Against the full dump. */
  sizeRatio: number;
  timeRatio: number;
}

export interface MirrorDumpFigures {
  volumeBytes: number;
  units: number;
  unitBytes: number;
  formMs: number;
  dumps: DumpFigure[];
  writes: {
    /** Mirror/synchronised, no dump: every write lands in both volumes. */
    withoutDumpMBps: number;
    /** While a dump reads the split secondary (1020–1060): the seed's claim is no slowdown. */
    duringDumpMBps: number;
    /** duringDumpMBps / withoutDumpMBps: 1 means no slowdown. */
    ratio: number;
    /** Over whole back-to-back cycles, split and resync included (the resync copies what the writes changed). */
    duringCyclesMBps: number;
    cycleRatio: number;
    dumpsDuringWrites: number;
    /**
     * The same reads without a split: the secondary read whole, chunk by chunk with a CRC each, as
     * the dump program does, while the pair stays mirrored. duringDumpMBps / this isolates what
     * the split mirror costs beyond "a host is reading a volume" on the same CPUs.
     */
    duringPlainReadsMBps: number;
    dumpVsPlainReadsRatio: number;
  };
}

export const QUICK: MirrorDumpOptions = { volumeMiB: 8, rates: [0.01, 0.1, 0.5], writeSeconds: 1, writersInFlight: 4, writeBytes: 16 * 1024, seed: 1 };
export const STANDARD: MirrorDumpOptions = { volumeMiB: 64, rates: [0.01, 0.1, 0.5], writeSeconds: 3, writersInFlight: 8, writeBytes: 16 * 1024, seed: 1 };

function configFor(o: MirrorDumpOptions): SystemConfig {
  const blocks = (o.volumeMiB * 1024 * 1024) / BLOCK;
  return {
    ...DEFAULT_CONFIG,
    name: 'mirror-bench',
    cacheBytes: 64 * 1024 * 1024,
    mirrorPairsMax: 1,
    mirrorBitmapBytes: Math.max(64, Math.ceil(blocks / TRACK_BLOCKS / 8 / 64) * 64),
    drives: [
      { number: 0, kind: 'memory', blockCount: blocks },
      { number: 1, kind: 'memory', blockCount: blocks },
    ],
    volumes: [
      { number: 1, format: 'OPEN3', capacityBlocks: blocks, drive: 0, startBlock: 0 },
      { number: 2, format: 'OPEN3', capacityBlocks: blocks, drive: 1, startBlock: 0 },
    ],
  };
}

/** Keeps `inFlight` writes going on port 1 until `stop()` says so, counting bytes into `count`. */
async function writer(s: StorageSystem, o: MirrorDumpOptions, rng: Prng, stop: () => boolean, count: { bytes: number }): Promise<number> {
  const capacity = s.config.volumes[0]!.capacityBlocks;
  const blocks = o.writeBytes / BLOCK;
  const data = new Uint8Array(o.writeBytes).fill(0x5a);
  const one = async (): Promise<void> => {
    while (!stop()) {
      await s.host.writeOk(1, 1, rng.below(capacity / blocks) * blocks, data);
      count.bytes += o.writeBytes;
    }
  };
  await Promise.all(Array.from({ length: o.writersInFlight }, one));
  return count.bytes;
}

export async function runMirrorDumpBench(options: Partial<MirrorDumpOptions> = {}): Promise<MirrorDumpFigures> {
  const o = { ...STANDARD, ...options };
  const rng = new Prng(o.seed);
  const s = await StorageSystem.boot(configFor(o), { runtime: 'threaded' });
  try {
    const volumeBytes = o.volumeMiB * 1024 * 1024;
    const units = volumeBytes / BLOCK / TRACK_BLOCKS;
    if (s.maintenance.mirror.createPair(1, { primary: 1, secondary: 2, embodiment: 'E1', unit: 'track' }).status !== 'ok') throw new Error('mirror pair creation refused');
    let t = performance.now();
    await s.mirrorOperation(1, 'form', 600_000);
    const formMs = performance.now() - t;

    const dumps: DumpFigure[] = [];
    const measure = async (kind: 'full' | 'differential', fraction: number): Promise<DumpFigure> => {
      t = performance.now();
      const r = await takeDump(s.host, { port: 0, volume: 1, kind });
      const totalMs = performance.now() - t;
      const full = dumps[0];
      return {
        kind, updatedFraction: fraction, targetUnits: r.targetUnits, fileBytes: r.file.byteLength, totalMs, readMs: r.dumpMs,
        sizeRatio: full ? r.file.byteLength / full.fileBytes : 1, timeRatio: full ? totalMs / full.totalMs : 1,
      };
    };
    dumps.push(await measure('full', 1));
    for (const rate of o.rates) {
      // Distinct tracks, one small write each.
      const chosen = new Set<number>();
      while (chosen.size < Math.max(1, Math.round(rate * units))) chosen.add(rng.below(units));
      const data = new Uint8Array(4096).fill(rate * 100);
      for (const track of chosen) await s.host.writeOk(1, 1, track * TRACK_BLOCKS, data);
      dumps.push(await measure('differential', rate));
    }

    // Host write throughput without a dump, then with full dumps running back to back.
    let until = performance.now() + o.writeSeconds * 1000;
    t = performance.now();
    const without = await writer(s, o, rng, () => performance.now() > until, { bytes: 0 });
    const withoutMBps = without / 1048576 / ((performance.now() - t) / 1000);
    // Full dumps back to back while the writer runs; the bytes written between each split and
    // the end of its dump reads are the "during a dump" figure.
    let dumping = true;
    let dumpsDuringWrites = 0;
    const count = { bytes: 0 };
    const window = { ms: 0, bytes: 0 };
    until = performance.now() + o.writeSeconds * 1000;
    const dumper = (async () => {
      while (dumping) {
        const mark = { t0: 0, b0: 0, t1: 0, b1: 0 };
        await takeDump(s.host, {
          port: 0, volume: 1, kind: 'full',
          during: (stage) => {
            if (stage === 'split') Object.assign(mark, { t0: performance.now(), b0: count.bytes });
            else Object.assign(mark, { t1: performance.now(), b1: count.bytes });
          },
        });
        if (mark.t1 > mark.t0) {
          window.ms += mark.t1 - mark.t0;
          window.bytes += mark.b1 - mark.b0;
        }
        dumpsDuringWrites++;
      }
    })();
    t = performance.now();
    const during = await writer(s, o, rng, () => performance.now() > until, count);
    const cyclesMBps = during / 1048576 / ((performance.now() - t) / 1000);
    dumping = false;
    await dumper;
    const duringMBps = window.bytes / 1048576 / (window.ms / 1000);
    // The same reads with no split: writes stay duplicated, the reader takes the same CPU.
    let reading = true;
    const plain = { bytes: 0 };
    until = performance.now() + o.writeSeconds * 1000;
    const reader = (async () => {
      const chunk = s.config.maxTransferBytes;
      while (reading) {
        for (let at = 0; at < volumeBytes && reading; at += chunk) {
          const data = await s.host.readOk(0, 2, at / BLOCK, chunk);
          crc32c(data, 0, data.byteLength);
        }
      }
    })();
    t = performance.now();
    await writer(s, o, rng, () => performance.now() > until, plain);
    const plainMBps = plain.bytes / 1048576 / ((performance.now() - t) / 1000);
    reading = false;
    await reader;
    return {
      volumeBytes, units, unitBytes: TRACK_BLOCKS * BLOCK, formMs, dumps,
      writes: {
        withoutDumpMBps: withoutMBps, duringDumpMBps: duringMBps, ratio: duringMBps / withoutMBps,
        duringCyclesMBps: cyclesMBps, cycleRatio: cyclesMBps / withoutMBps, dumpsDuringWrites,
        duringPlainReadsMBps: plainMBps, dumpVsPlainReadsRatio: duringMBps / plainMBps,
      },
    };
  } finally {
    await s.powerOff();
  }
}

/** The figures as a short table, for a person. */
export function formatMirrorDump(f: MirrorDumpFigures): string {
  const lines = [
    `mirror pair of ${(f.volumeBytes / 1048576).toFixed(0)} MiB, ${f.units} tracks of ${f.unitBytes / 1024} KiB; formation ${f.formMs.toFixed(0)} ms`,
    'dump          updated  tracks   file MiB   total ms   read ms   size ratio  time ratio',
  ];
  for (const d of f.dumps) {
    lines.push(`${d.kind.padEnd(13)} ${(d.updatedFraction * 100).toFixed(0).padStart(6)}%  ${String(d.targetUnits).padStart(6)}  ${(d.fileBytes / 1048576).toFixed(2).padStart(9)}  ${d.totalMs.toFixed(0).padStart(9)}  ${d.readMs.toFixed(0).padStart(8)}  ${d.sizeRatio.toFixed(3).padStart(10)}  ${d.timeRatio.toFixed(3).padStart(10)}`);
  }
  lines.push(`host writes: ${f.writes.withoutDumpMBps.toFixed(1)} MB/s without a dump, ${f.writes.duringDumpMBps.toFixed(1)} MB/s while a dump reads: ratio ${f.writes.ratio.toFixed(2)}`);
  lines.push(`             ${f.writes.duringCyclesMBps.toFixed(1)} MB/s over ${f.writes.dumpsDuringWrites} whole split/dump/resync cycles: ratio ${f.writes.cycleRatio.toFixed(2)}`);
  lines.push(`             ${f.writes.duringPlainReadsMBps.toFixed(1)} MB/s while the same reads run without a split: dump / plain reads ${f.writes.dumpVsPlainReadsRatio.toFixed(2)}`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  runMirrorDumpBench(quick ? QUICK : STANDARD).then((f) => {
    console.log(formatMirrorDump(f));
    console.log(JSON.stringify(f, null, 2));
  }, (e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}

