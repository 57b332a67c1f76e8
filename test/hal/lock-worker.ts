// Worker for test/hal/lock.test.ts. Modes:
//   'increment': post 'ready', wait for the go word, then `iterations` times:
//                lock(0); counter += 1 (a plain, non-atomic read-modify-write); unlock(0).
//   'once':      post 'ready', lock(0) (the test holds it, so this sleeps), unlock(0).

import { parentPort, workerData } from 'node:worker_threads';
import { LockTable } from '../../hal/lock.ts';

export interface LockWorkerData {
  mode: 'increment' | 'once';
  buffer: SharedArrayBuffer;
  lockByteOffset: number;
  /** Int32 words: [0] go flag, [1] the plain counter. */
  controlByteOffset: number;
  ownerId: number;
  iterations: number;
}

const data = workerData as LockWorkerData;
const locks = new LockTable(data.buffer, data.lockByteOffset, 1, {
  singleThreaded: false,
  ownerId: data.ownerId,
});
const control = new Int32Array(data.buffer, data.controlByteOffset, 2);
const port = parentPort!;

if (data.mode === 'increment') {
  port.postMessage('ready');
  // Busy-wait (not Atomics.wait) for go, so every worker is running when it flips and the
  // loops really overlap; a wake-up from Atomics.wait can take longer than the whole loop.
  while (Atomics.load(control, 0) === 0);
  for (let n = 0; n < data.iterations; n++) {
    locks.lock(0);
    control[1] = control[1]! + 1;
    locks.unlock(0);
  }
} else {
  port.postMessage('ready');
  locks.lock(0);
  locks.unlock(0);
}
