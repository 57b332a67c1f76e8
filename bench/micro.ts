// Micro-benchmarks of the primitives the hot paths are built from, with `benchmark`:
// struct field access, lock/unlock, mailbox push/pop, cache directory lookup, and the copy
// primitives into a SharedArrayBuffer. Figures are reported next to each other (same run,
// same machine) because absolute times on a shared machine are noisy.

import Benchmark from 'benchmark';
import { LockTable } from '../hal/lock.ts';
import { Mailbox } from '../hal/mailbox.ts';
import { Cache } from '../firmware/cache.ts';
import { freshSystem } from '../test/support/harness.ts';

export interface MicroResult {
  name: string;
  opsPerSecond: number;
  relativeMarginPercent: number;
  samples: number;
}

export function runMicro(log: (line: string) => void): MicroResult[] {
  const results: MicroResult[] = [];
  const suite = new Benchmark.Suite('micro');

  const h = freshSystem({ cacheBytes: 64 * 4096 });
  const volumes = h.mem.volumes;
  const dv = volumes.view;
  const i32 = new Int32Array(h.shared.control);
  let sink = 0;
  suite.add('volume state via accessor (DataView)', () => { sink += volumes.state(1); });
  suite.add('volume capacity via raw DataView', () => { sink += dv.getUint32(64 + 16, true); });
  suite.add('int32 read via Int32Array', () => { sink += i32[100]!; });

  const lockBuffer = new SharedArrayBuffer(LockTable.bytesFor(1));
  const locks = new LockTable(lockBuffer, 0, 1, { singleThreaded: false, ownerId: 1 });
  locks.format();
  suite.add('lock + unlock (uncontended)', () => { locks.lock(0); locks.unlock(0); });

  const mbBuffer = new SharedArrayBuffer(Mailbox.bytesFor(256));
  const mailbox = new Mailbox(mbBuffer, 0, 256);
  mailbox.format();
  const out = new Int32Array(6);
  suite.add('mailbox push + pop', () => { mailbox.tryPush(1, 2, 3, 4, 5, 6); mailbox.tryPop(out); });

  const cache = new Cache(h.mem);
  const hit = { value: false };
  const s = cache.obtain(1, 3, hit);
  cache.unpin(s);
  suite.add('cache directory lookup (hit) + unpin', () => { const x = cache.lookup(1, 3); cache.unpin(x); });

  for (const bytes of [4096, 65536]) {
    const src = new Uint8Array(bytes).fill(1);
    const srcShared = new Uint8Array(new SharedArrayBuffer(bytes)).fill(2);
    const dst = new Uint8Array(new SharedArrayBuffer(bytes * 2));
    const dst32 = new Int32Array(dst.buffer);
    const srcShared32 = new Int32Array(srcShared.buffer);
    const dstBuf = Buffer.from(dst.buffer);
    const srcBuf = Buffer.from(src.buffer);
    suite.add(`copy ${bytes / 1024} KiB ordinary -> SAB, Uint8Array.set`, () => { dst.set(src, 0); });
    suite.add(`copy ${bytes / 1024} KiB ordinary -> SAB, Buffer.copy`, () => { srcBuf.copy(dstBuf, 0); });
    suite.add(`copy ${bytes / 1024} KiB SAB -> SAB, Uint8Array.set`, () => { dst.set(srcShared, 0); });
    suite.add(`copy ${bytes / 1024} KiB SAB -> SAB, Int32Array.set`, () => { dst32.set(srcShared32, 0); });
  }

  suite.on('cycle', (event: Benchmark.Event) => {
    const b = event.target as Benchmark.Target & { name: string; hz: number; stats: { rme: number; sample: number[] } };
    results.push({ name: b.name, opsPerSecond: b.hz, relativeMarginPercent: b.stats.rme, samples: b.stats.sample.length });
    log(`  ${b.name.padEnd(48)} ${Math.round(b.hz).toLocaleString('en-US').padStart(14)} ops/s  ±${b.stats.rme.toFixed(1)}%`);
  });
  suite.run({ async: false });
  if (sink === -1) log('unreachable');
  return results;
}
