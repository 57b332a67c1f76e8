// Micro-benchmarks of the primitives the hot paths are built from, with `benchmark`: struct
// field access through DataView, lock/unlock (uncontended), ring enqueue/dequeue (the mailbox
// ring, and the journal ring's pointer arithmetic), journal record creation (the reservation
// under the group lock, and the update information with its checksum), cache directory lookup,
// and the candidate copy primitives into a SharedArrayBuffer. Figures are reported next to each
// other (same run, same machine) because absolute times on a shared machine are noisy.

import Benchmark from 'benchmark';
import { LockTable } from '../hal/lock.ts';
import { Mailbox } from '../hal/mailbox.ts';
import { crc32c } from '../hal/crc32c.ts';
import { Cache } from '../firmware/cache.ts';
import { Journal, JournalCreation, type Reservation } from '../firmware/journal-create.ts';
import { advanceUi, advanceWd, uiFits, wdFits, type RingGeometry } from '../firmware/journal-ring.ts';
import { encodeUpdateInfo } from '../firmware/structs/update-info-codec.ts';
import { copySystem, freshSystem, setupPrimaryGroup } from '../test/support/harness.ts';

export interface MicroResult {
  name: string;
  opsPerSecond: number;
  relativeMarginPercent: number;
  samples: number;
}

export interface MicroOptions {
  /** Seconds `benchmark` may spend on each case (its maxTime). */
  maxTimeS: number;
}

export function runMicro(log: (line: string) => void, o: MicroOptions = { maxTimeS: 0.5 }): MicroResult[] {
  const results: MicroResult[] = [];
  const suite = new Benchmark.Suite('micro');
  // A short maxTime (the smoke test's) also shortens each cycle, so a case takes about that long.
  const options = o.maxTimeS < 0.05 ? { maxTime: o.maxTimeS, minTime: o.maxTimeS / 5, minSamples: 1, initCount: 1 } : { maxTime: o.maxTimeS, minSamples: 2, initCount: 1 };
  const add = (name: string, fn: () => void): void => { suite.add(name, fn, options); };

  const h = freshSystem({ cacheBytes: 64 * 4096 });
  const volumes = h.mem.volumes;
  const dv = volumes.view;
  const i32 = new Int32Array(h.shared.control);
  let sink = 0;
  add('volume state via accessor (DataView)', () => { sink += volumes.state(1); });
  add('volume capacity via raw DataView', () => { sink += dv.getUint32(64 + 16, true); });
  add('int32 read via Int32Array', () => { sink += i32[100]!; });

  const lockBuffer = new SharedArrayBuffer(LockTable.bytesFor(1));
  const locks = new LockTable(lockBuffer, 0, 1, { singleThreaded: false, ownerId: 1 });
  locks.format();
  add('lock + unlock (hal LockTable, uncontended)', () => { locks.lock(0); locks.unlock(0); });

  const mbBuffer = new SharedArrayBuffer(Mailbox.bytesFor(256));
  const mailbox = new Mailbox(mbBuffer, 0, 256);
  mailbox.format();
  const out = new Int32Array(6);
  add('mailbox ring enqueue + dequeue', () => { mailbox.tryPush(1, 2, 3, 4, 5, 6); mailbox.tryPop(out); });

  const ring: RingGeometry = { uiHead: 0, wdHead: 8 * 1024 * 1024, capacity: 64 * 1024 * 1024 };
  let uiNewest = 0, uiOldest = 0, wdNewest = ring.wdHead, wdOldest = ring.wdHead;
  add('journal ring: fit check + advance + release (4 KiB)', () => {
    if (!uiFits(uiNewest, uiOldest, ring) || !wdFits(wdNewest, wdOldest, 4096, ring)) { uiOldest = uiNewest; wdOldest = wdNewest; }
    uiNewest = advanceUi(uiNewest, 1, ring);
    wdNewest = advanceWd(wdNewest, 4096, ring);
  });

  // Journal record creation: the reservation (S1310-S1350 under the group lock) on a paired
  // volume, with the ring released whenever it fills (as a reader would).
  const c = copySystem();
  const pairs = setupPrimaryGroup(c, 1, [1, 2], 3, { start: true });
  for (const p of pairs) { c.mem.pairs.setState(p, 2 /* NORMAL */); c.mem.pairs.setCopiedBlocks(p, 512); }
  const jc = new JournalCreation(c.mem, () => {});
  const reservation: Reservation = { updateNumber: 0, journalVolume: 0, uiPosition: 0, wdPosition: 0 };
  const set = 1 * c.mem.config.readersMax;
  add('journal record create: reservation under the group lock', () => {
    if (jc.reserveForWrite(pairs[0]!, 0, 1, reservation) !== Journal.RESERVED) {
      c.mem.pointers.set(set, 'ui_oldest', c.mem.pointers.get(set, 'ui_newest'));
      c.mem.pointers.set(set, 'wd_oldest', c.mem.pointers.get(set, 'wd_newest'));
      for (const p of pairs) c.mem.pairs.setState(p, 2);
    }
  });
  const uiBytes = new Uint8Array(new SharedArrayBuffer(512));
  const uiView = new DataView(uiBytes.buffer);
  for (const bytes of [512, 4096, 65536]) {
    const data = new Uint8Array(new SharedArrayBuffer(bytes)).fill(3);
    add(`journal record create: update information + CRC-32C of ${bytes} B`, () => {
      encodeUpdateInfo(uiView, uiBytes, 0, {
        flags: 0, receiveMs: 1, updateNumber: 2, groupNumber: 1, targetVolume: 1, targetBlock: 0, dataBlocks: bytes / 512,
        dataVolume: 3, dataChecksum: crc32c(data, 0, bytes), dataPosition: 4096,
      });
    });
  }

  const cache = new Cache(h.mem);
  const hit = { value: false };
  const s = cache.obtain(1, 3, hit);
  cache.unpin(s);
  add('cache directory lookup (hit) + unpin', () => { const x = cache.lookup(1, 3); cache.unpin(x); });

  for (const bytes of [512, 4096, 65536]) {
    const src = new Uint8Array(bytes).fill(1);
    const srcShared = new Uint8Array(new SharedArrayBuffer(bytes)).fill(2);
    const dst = new Uint8Array(new SharedArrayBuffer(bytes * 2));
    const dst32 = new Int32Array(dst.buffer);
    const src32 = new Int32Array(src.buffer);
    const srcShared32 = new Int32Array(srcShared.buffer);
    const dstBuf = Buffer.from(dst.buffer);
    const srcBuf = Buffer.from(src.buffer);
    const label = bytes < 1024 ? `${bytes} B` : `${bytes / 1024} KiB`;
    add(`copy ${label} ordinary -> SAB, Uint8Array.set`, () => { dst.set(src, 0); });
    add(`copy ${label} ordinary -> SAB, Int32Array.set`, () => { dst32.set(src32, 0); });
    add(`copy ${label} ordinary -> SAB, Buffer.copy`, () => { srcBuf.copy(dstBuf, 0); });
    add(`copy ${label} SAB -> SAB, Uint8Array.set`, () => { dst.set(srcShared, 0); });
    add(`copy ${label} SAB -> SAB, Int32Array.set`, () => { dst32.set(srcShared32, 0); });
    add(`copy ${label} SAB -> SAB, copyWithin`, () => { dst.copyWithin(0, bytes, bytes * 2); });
  }

  suite.on('cycle', (event: Benchmark.Event) => {
    const b = event.target as Benchmark.Target & { name: string; hz: number; stats: { rme: number; sample: number[] } };
    results.push({ name: b.name, opsPerSecond: b.hz, relativeMarginPercent: b.stats.rme, samples: b.stats.sample.length });
    log(`  ${b.name.padEnd(62)} ${Math.round(b.hz).toLocaleString('en-US').padStart(14)} ops/s  ±${b.stats.rme.toFixed(1)}%`);
  });
  suite.run({ async: false });
  if (sink === -1) log('unreachable');
  return results;
}
