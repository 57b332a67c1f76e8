// The limits of this machine, measured in the same run as the figures they bound, so every
// figure can be reported as a ratio to what the hardware and the runtime allow at that moment
// (on a shared, noisy machine an absolute number means little; a ratio measured side by side
// means more):
//
//   copy        the fastest copy of `n` bytes into a SharedArrayBuffer, over the candidate
//               primitives (Uint8Array.set, Int32Array.set, Buffer.copy, copyWithin) and sources
//               (an ordinary buffer, another SharedArrayBuffer), in bytes per second
//   lock        Atomics lock/unlock pairs per second: one thread alone (uncontended), and one
//               thread per core on the same lock word (contended), the minimal mutex
//               (compareExchange 0->1, store 0) that bounds hal/lock.ts
//   sequential  a plain sequential write with fsync at a block size, on the file system the
//               file drives use (fio is not installed here: an equivalent loop of writeSync
//               calls at that block size, one fsync at the end, timed to the end of the fsync)

import { closeSync, fsyncSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

export interface CopyLimit {
  bytes: number;
  /** The fastest primitive and source. */
  best: string;
  bytesPerSecond: number;
  candidates: Array<{ name: string; bytesPerSecond: number }>;
}

export interface LockLimit {
  uncontendedPerSecond: number;
  contendedPerSecond: number;
  contendedThreads: number;
}

export interface SequentialWriteLimit {
  blockBytes: number;
  totalBytes: number;
  bytesPerSecond: number;
  directory: string;
}

/** Runs `body` repeatedly for about `ms` milliseconds; returns calls per second (best of 3 rounds). */
function rate(body: () => void, ms: number): number {
  let best = 0;
  for (let round = 0; round < 3; round++) {
    let calls = 0;
    const start = performance.now();
    let now = start;
    while (now - start < ms / 3) {
      for (let i = 0; i < 64; i++) body();
      calls += 64;
      now = performance.now();
    }
    best = Math.max(best, calls / ((now - start) / 1000));
  }
  return best;
}

export function measureCopy(bytes: number, ms = 300): CopyLimit {
  const plain = new Uint8Array(bytes).fill(7);
  const sharedSrc = new Uint8Array(new SharedArrayBuffer(bytes)).fill(9);
  // Destination offsets step through a 4 MiB region (larger than the last-level cache of most
  // machines' share) like cache slots do, so the figure is not an L1-resident memcpy.
  const regionBytes = Math.max(4 * 1024 * 1024, bytes * 4);
  const dst = new Uint8Array(new SharedArrayBuffer(regionBytes + bytes));
  const dst32 = new Int32Array(dst.buffer);
  const dstBuf = Buffer.from(dst.buffer);
  const plainBuf = Buffer.from(plain.buffer, plain.byteOffset, bytes);
  const sharedBuf = Buffer.from(sharedSrc.buffer);
  const plain32 = new Int32Array(plain.buffer, 0, bytes >> 2);
  const shared32 = new Int32Array(sharedSrc.buffer);
  const slots = Math.floor(regionBytes / bytes);
  let at = 0;
  const next = (): number => (at = at + 1 === slots ? 0 : at + 1) * bytes;
  const candidates: Array<{ name: string; body: () => void }> = [
    { name: 'Uint8Array.set from ordinary', body: () => dst.set(plain, next()) },
    { name: 'Uint8Array.set from SAB', body: () => dst.set(sharedSrc, next()) },
    { name: 'Int32Array.set from ordinary', body: () => dst32.set(plain32, next() >> 2) },
    { name: 'Int32Array.set from SAB', body: () => dst32.set(shared32, next() >> 2) },
    { name: 'Buffer.copy from ordinary', body: () => { plainBuf.copy(dstBuf, next()); } },
    { name: 'Buffer.copy from SAB', body: () => { sharedBuf.copy(dstBuf, next()); } },
    { name: 'copyWithin inside the SAB', body: () => { const to = next(); dst.copyWithin(to, to === 0 ? bytes : 0, (to === 0 ? bytes : 0) + bytes); } },
  ];
  const measured = candidates.map((c) => ({ name: c.name, bytesPerSecond: rate(c.body, ms / candidates.length * 3) * bytes }));
  const best = measured.reduce((a, b) => (b.bytesPerSecond > a.bytesPerSecond ? b : a));
  return { bytes, best: best.name, bytesPerSecond: best.bytesPerSecond, candidates: measured };
}

const LOCK_WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const w = new Int32Array(workerData.buffer);
Atomics.add(w, 1, 1);
while (Atomics.load(w, 2) === 0) {}
let n = 0;
const end = Date.now() + workerData.ms;
do {
  for (let i = 0; i < 256; i++) {
    while (Atomics.compareExchange(w, 0, 0, 1) !== 0) {}
    Atomics.store(w, 0, 0);
  }
  n += 256;
} while (Date.now() < end);
parentPort.postMessage(n);
`;

export async function measureLocks(ms = 300): Promise<LockLimit> {
  const word = new Int32Array(new SharedArrayBuffer(64));
  const uncontendedPerSecond = rate(() => {
    while (Atomics.compareExchange(word, 0, 0, 1) !== 0) { /* never taken: one thread */ }
    Atomics.store(word, 0, 0);
  }, ms);
  const threads = Math.max(2, availableParallelism());
  const buffer = new SharedArrayBuffer(64);
  const w = new Int32Array(buffer);
  const workers = Array.from({ length: threads }, () => new Worker(LOCK_WORKER, { eval: true, workerData: { buffer, ms } }));
  const counts = workers.map((worker) => new Promise<number>((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); }));
  while (Atomics.load(w, 1) < threads) await new Promise((resolve) => setTimeout(resolve, 1));
  const start = performance.now();
  Atomics.store(w, 2, 1);
  const total = (await Promise.all(counts)).reduce((a, b) => a + b, 0);
  const seconds = (performance.now() - start) / 1000;
  await Promise.all(workers.map((x) => x.terminate()));
  return { uncontendedPerSecond, contendedPerSecond: total / seconds, contendedThreads: threads };
}

/** Sequential writeSync of `totalBytes` at `blockBytes`, then fsync; bytes per second to the end of the fsync. */
export function measureSequentialWrite(directory: string, blockBytes: number, totalBytes: number): SequentialWriteLimit {
  mkdirSync(directory, { recursive: true });
  const path = join(directory, `seqwrite-${process.pid}-${blockBytes}.tmp`);
  const block = Buffer.alloc(blockBytes, 0x5a);
  const fd = openSync(path, 'w');
  try {
    const start = performance.now();
    for (let at = 0; at < totalBytes; at += blockBytes) writeSync(fd, block, 0, blockBytes, at);
    fsyncSync(fd);
    const seconds = (performance.now() - start) / 1000;
    return { blockBytes, totalBytes, bytesPerSecond: totalBytes / seconds, directory };
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
}
