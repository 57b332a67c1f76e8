import { describe, expect, test } from 'vitest';
import { DOORBELL_SLOT_BYTES, Doorbells } from '../../hal/doorbell.ts';
import type { DoorbellWorkerData, DoorbellWorkerResult } from './doorbell-worker.ts';
import { nextMessage, startTsWorker, workerExit } from '../../hal/runtime/worker-start.ts';

const WORKER_URL = new URL('./doorbell-worker.ts', import.meta.url);

function makeDoorbells(count: number) {
  const byteOffset = 64;
  const buffer = new SharedArrayBuffer(byteOffset + Doorbells.bytesFor(count) + 64);
  const doorbells = new Doorbells(buffer, byteOffset, count);
  doorbells.format();
  return { buffer, byteOffset, doorbells };
}

describe('Doorbells', () => {
  test('one word per processor, each on its own 64-byte slot', () => {
    expect(DOORBELL_SLOT_BYTES).toBe(64);
    expect(Doorbells.bytesFor(3)).toBe(192);
    const { buffer, byteOffset, doorbells } = makeDoorbells(3);
    doorbells.ring(1);
    doorbells.ring(1);
    doorbells.ring(2);
    const view = new DataView(buffer, byteOffset);
    expect(view.getInt32(0, true)).toBe(0);
    expect(view.getInt32(64, true)).toBe(2);
    expect(view.getInt32(128, true)).toBe(1);
    expect(new Uint8Array(buffer, 0, byteOffset).every((b) => b === 0)).toBe(true);
  });

  test('ring increments; read sees it; format clears; constructor does not', () => {
    const { buffer, byteOffset, doorbells } = makeDoorbells(2);
    expect(doorbells.read(0)).toBe(0);
    doorbells.ring(0);
    expect(doorbells.read(0)).toBe(1);
    expect(doorbells.read(1)).toBe(0);
    const again = new Doorbells(buffer, byteOffset, 2);
    expect(again.read(0)).toBe(1);
    again.format();
    expect(doorbells.read(0)).toBe(0);
  });

  test('sleep with a stale seen value returns not-equal at once', () => {
    const { doorbells } = makeDoorbells(1);
    const seen = doorbells.read(0);
    doorbells.ring(0); // rang between the read and the sleep
    const startMs = performance.now();
    expect(doorbells.sleep(0, seen, 10_000)).toBe('not-equal');
    expect(performance.now() - startMs).toBeLessThan(1_000);
  });

  test('sleep times out when nobody rings', () => {
    const { doorbells } = makeDoorbells(1);
    const startMs = performance.now();
    expect(doorbells.sleep(0, doorbells.read(0), 30)).toBe('timed-out');
    expect(performance.now() - startMs).toBeGreaterThanOrEqual(25);
    expect(doorbells.sleep(0, doorbells.read(0), 0)).toBe('timed-out');
  });

  test('index and timeout are checked', () => {
    const { doorbells } = makeDoorbells(2);
    for (const bad of [-1, 2, 0.5]) {
      expect(() => doorbells.ring(bad)).toThrow(RangeError);
      expect(() => doorbells.read(bad)).toThrow(RangeError);
      expect(() => doorbells.sleep(bad, 0, 0)).toThrow(RangeError);
    }
    expect(() => doorbells.sleep(0, 0, -1)).toThrow(RangeError);
    expect(() => doorbells.sleep(0, 0, Number.NaN)).toThrow(RangeError);
    expect(() => new Doorbells(new SharedArrayBuffer(100), 0, 2)).toThrow(RangeError);
  });

  test('ring wakes a worker sleeping on its doorbell', async () => {
    const { buffer, byteOffset, doorbells } = makeDoorbells(4);
    const timeoutMs = 30_000;
    const data: DoorbellWorkerData = { buffer, byteOffset, count: 4, index: 3, timeoutMs };
    const worker = startTsWorker(WORKER_URL, data);
    const exit = workerExit(worker);
    expect(await nextMessage(worker)).toBe('ready');
    const result = nextMessage(worker) as Promise<DoorbellWorkerResult>;
    // Let the worker get from its 'ready' message into Atomics.wait (microseconds of work).
    await new Promise((resolve) => setTimeout(resolve, 200));
    doorbells.ring(2); // someone else's doorbell: must not wake it
    await new Promise((resolve) => setTimeout(resolve, 50));
    doorbells.ring(3);
    const woke = await result;
    await exit;
    expect(woke.result).toBe('ok');
    expect(woke.seen).toBe(0);
    expect(woke.valueAfter).toBe(1);
    expect(woke.sleptMs).toBeGreaterThanOrEqual(100); // it slept through the 200 ms and the other ring
    expect(woke.sleptMs).toBeLessThan(timeoutMs);
  });
});
