// Worker for test/hal/doorbell.test.ts: reads its doorbell, posts 'ready', sleeps on it and
// posts a DoorbellWorkerResult.

import { parentPort, workerData } from 'node:worker_threads';
import { Doorbells } from '../../hal/doorbell.ts';

export interface DoorbellWorkerData {
  buffer: SharedArrayBuffer;
  byteOffset: number;
  count: number;
  index: number;
  timeoutMs: number;
}

export interface DoorbellWorkerResult {
  result: 'ok' | 'not-equal' | 'timed-out';
  seen: number;
  valueAfter: number;
  sleptMs: number;
}

const data = workerData as DoorbellWorkerData;
const doorbells = new Doorbells(data.buffer, data.byteOffset, data.count);
const seen = doorbells.read(data.index);
parentPort!.postMessage('ready');
const startMs = performance.now();
const result = doorbells.sleep(data.index, seen, data.timeoutMs);
const message: DoorbellWorkerResult = {
  result,
  seen,
  valueAfter: doorbells.read(data.index),
  sleptMs: performance.now() - startMs,
};
parentPort!.postMessage(message);
