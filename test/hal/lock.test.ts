import { describe, expect, test } from 'vitest';
import {
  LOCK_ACQUISITIONS_OFFSET_BYTES,
  LOCK_CONTENDED_OFFSET_BYTES,
  LOCK_OWNER_OFFSET_BYTES,
  LOCK_SLEEPS_OFFSET_BYTES,
  LOCK_SPIN_LIMIT,
  LOCK_SPINS_OFFSET_BYTES,
  LOCK_STATE_OFFSET_BYTES,
  LockTable,
} from '../../hal/lock.ts';
import type { LockWorkerData } from './lock-worker.ts';
import { nextMessage, startTsWorker, workerExit } from '../../hal/runtime/worker-start.ts';

const WORKER_URL = new URL('./lock-worker.ts', import.meta.url);

/** A buffer with a guard region before the table, so offsets other than 0 are exercised. */
function makeTable(count: number, ownerId = 0, singleThreaded = false) {
  const byteOffset = 128;
  const buffer = new SharedArrayBuffer(byteOffset + LockTable.bytesFor(count) + 64);
  const table = new LockTable(buffer, byteOffset, count, { singleThreaded, ownerId });
  table.format();
  return { buffer, byteOffset, table };
}

describe('LockTable layout', () => {
  test('record is one 64-byte cache line with the documented field offsets', () => {
    expect(LockTable.RECORD_BYTES).toBe(64);
    expect(LockTable.bytesFor(5)).toBe(5 * 64);
    expect(LOCK_STATE_OFFSET_BYTES).toBe(0);
    expect(LOCK_OWNER_OFFSET_BYTES).toBe(4);
    expect(LOCK_ACQUISITIONS_OFFSET_BYTES).toBe(8);
    expect(LOCK_CONTENDED_OFFSET_BYTES).toBe(16);
    expect(LOCK_SPINS_OFFSET_BYTES).toBe(24);
    expect(LOCK_SLEEPS_OFFSET_BYTES).toBe(32);
  });

  test('fields land at those offsets in the buffer', () => {
    const { buffer, byteOffset, table } = makeTable(3, 6);
    table.lock(2);
    const record = byteOffset + 2 * 64;
    const view = new DataView(buffer);
    expect(view.getInt32(record + LOCK_STATE_OFFSET_BYTES, true)).toBe(1);
    expect(view.getInt32(record + LOCK_OWNER_OFFSET_BYTES, true)).toBe(7);
    expect(view.getFloat64(record + LOCK_ACQUISITIONS_OFFSET_BYTES, true)).toBe(1);
    // Neighbouring records and the guard bytes are untouched.
    expect(view.getInt32(record - 64, true)).toBe(0);
    expect(new Uint8Array(buffer, 0, byteOffset).every((b) => b === 0)).toBe(true);
    expect(new Uint8Array(buffer, byteOffset + 3 * 64).every((b) => b === 0)).toBe(true);
  });

  test('constructor attaches without clearing; format clears', () => {
    const { buffer, byteOffset, table } = makeTable(2);
    table.lock(1);
    const again = new LockTable(buffer, byteOffset, 2, { singleThreaded: false, ownerId: 3 });
    expect(again.isLocked(1)).toBe(true);
    expect(again.ownerOf(1)).toBe(0);
    again.format();
    expect(again.isLocked(1)).toBe(false);
    expect(again.statsObject(1)).toEqual({ acquisitions: 0, contended: 0, spins: 0, sleeps: 0 });
  });

  test('rejects bad geometry', () => {
    const buffer = new SharedArrayBuffer(256);
    const options = { singleThreaded: false, ownerId: 0 };
    expect(() => new LockTable(buffer, 4, 1, options)).toThrow(RangeError);
    expect(() => new LockTable(buffer, 0, 5, options)).toThrow(RangeError);
    expect(() => new LockTable(buffer, 0, 0, options)).toThrow(RangeError);
    expect(() => new LockTable(buffer, 0, 1, { singleThreaded: false, ownerId: -1 })).toThrow(RangeError);
    expect(() => LockTable.bytesFor(1.5)).toThrow(RangeError);
  });
});

describe('LockTable single-thread semantics', () => {
  test('lock / unlock / tryLock / isLocked / owner', () => {
    const { table } = makeTable(2, 4);
    expect(table.isLocked(0)).toBe(false);
    expect(table.ownerOf(0)).toBe(-1);
    table.lock(0);
    expect(table.isLocked(0)).toBe(true);
    expect(table.ownerOf(0)).toBe(4);
    expect(table.isLocked(1)).toBe(false);
    expect(table.tryLock(0)).toBe(false);
    table.unlock(0);
    expect(table.isLocked(0)).toBe(false);
    expect(table.ownerOf(0)).toBe(-1);
    expect(table.tryLock(0)).toBe(true);
    expect(table.ownerOf(0)).toBe(4);
    table.unlock(0);
  });

  test('counters are exact for an uncontended sequence; a failed tryLock is no acquisition', () => {
    const { table } = makeTable(1);
    for (let n = 0; n < 10; n++) {
      table.lock(0);
      table.unlock(0);
    }
    expect(table.tryLock(0)).toBe(true);
    expect(table.tryLock(0)).toBe(false);
    table.unlock(0);
    const out = new Float64Array(4);
    table.stats(0, out);
    expect(Array.from(out)).toEqual([11, 0, 0, 0]);
    expect(table.statsObject(0)).toEqual({ acquisitions: 11, contended: 0, spins: 0, sleeps: 0 });
    expect(() => table.stats(0, new Float64Array(3))).toThrow(RangeError);
  });

  test('unlock by a processor that does not hold the lock throws', () => {
    const { buffer, byteOffset, table } = makeTable(1, 0);
    const other = new LockTable(buffer, byteOffset, 1, { singleThreaded: false, ownerId: 1 });
    expect(() => table.unlock(0)).toThrow(/not locked/);
    table.lock(0);
    expect(() => other.unlock(0)).toThrow(/processor 1 unlocks lock 0, which processor 0 holds/);
    expect(table.isLocked(0)).toBe(true);
    table.unlock(0);
  });

  test('singleThreaded: lock of a held lock throws instead of deadlocking', () => {
    const { buffer, byteOffset, table } = makeTable(1, 0, true);
    const other = new LockTable(buffer, byteOffset, 1, { singleThreaded: true, ownerId: 1 });
    table.lock(0);
    expect(() => other.lock(0)).toThrow(/deadlock the single-threaded runtime/);
    expect(other.tryLock(0)).toBe(false);
    table.unlock(0);
    other.lock(0);
    expect(other.ownerOf(0)).toBe(1);
    other.unlock(0);
    // The failed lock() was neither an acquisition nor a contended one.
    expect(table.statsObject(0)).toEqual({ acquisitions: 2, contended: 0, spins: 0, sleeps: 0 });
  });

  test('locking a lock the caller already holds throws (not recursive)', () => {
    const { table } = makeTable(1, 2);
    table.lock(0);
    expect(() => table.lock(0)).toThrow(/already holds/);
    table.unlock(0);
  });

  test('index out of range throws on every method', () => {
    const { table } = makeTable(2);
    const out = new Float64Array(4);
    for (const bad of [-1, 2, 1.5, Number.NaN]) {
      expect(() => table.lock(bad)).toThrow(RangeError);
      expect(() => table.tryLock(bad)).toThrow(RangeError);
      expect(() => table.unlock(bad)).toThrow(RangeError);
      expect(() => table.isLocked(bad)).toThrow(RangeError);
      expect(() => table.ownerOf(bad)).toThrow(RangeError);
      expect(() => table.stats(bad, out)).toThrow(RangeError);
    }
  });
});

describe('LockTable across worker threads', () => {
  function sharedRegion(count: number) {
    const lockByteOffset = 0;
    const controlByteOffset = LockTable.bytesFor(count);
    const buffer = new SharedArrayBuffer(controlByteOffset + 64);
    const table = new LockTable(buffer, lockByteOffset, count, { singleThreaded: false, ownerId: 0 });
    table.format();
    const control = new Int32Array(buffer, controlByteOffset, 2);
    return { buffer, lockByteOffset, controlByteOffset, table, control };
  }

  test('4 workers x 20000 locked plain increments end exactly at 80000', async () => {
    const workerCount = 4;
    const iterations = 20_000;
    const { buffer, lockByteOffset, controlByteOffset, table, control } = sharedRegion(1);
    const workers = [];
    for (let w = 0; w < workerCount; w++) {
      const data: LockWorkerData = {
        mode: 'increment',
        buffer,
        lockByteOffset,
        controlByteOffset,
        ownerId: w + 1,
        iterations,
      };
      workers.push(startTsWorker(WORKER_URL, data));
    }
    const exits = workers.map(workerExit);
    await Promise.all(workers.map(nextMessage)); // every worker is ready
    Atomics.store(control, 0, 1); // go: all start together, for maximum contention
    Atomics.notify(control, 0);
    await Promise.all(exits);

    expect(control[1]).toBe(workerCount * iterations);
    expect(table.isLocked(0)).toBe(false);
    expect(table.ownerOf(0)).toBe(-1);
    const stats = table.statsObject(0);
    expect(stats.acquisitions).toBe(workerCount * iterations);
    expect(stats.contended).toBeLessThanOrEqual(stats.acquisitions);
    // A contended acquisition failed its first CAS and then either won within the spin
    // limit or slept, so spins <= contended * LOCK_SPIN_LIMIT and sleeps only follow spins.
    expect(stats.spins).toBeLessThanOrEqual(stats.contended * LOCK_SPIN_LIMIT);
    expect(stats.sleeps === 0 || stats.spins >= LOCK_SPIN_LIMIT).toBe(true);
    for (const value of Object.values(stats)) expect(Number.isInteger(value) && value >= 0).toBe(true);
    console.log('contention stats', stats);
  });

  test('a waiter spins LOCK_SPIN_LIMIT times, then sleeps in state 2 until unlock wakes it', async () => {
    const { buffer, lockByteOffset, controlByteOffset, table } = sharedRegion(1);
    table.lock(0);
    const data: LockWorkerData = {
      mode: 'once',
      buffer,
      lockByteOffset,
      controlByteOffset,
      ownerId: 1,
      iterations: 0,
    };
    const worker = startTsWorker(WORKER_URL, data);
    const exit = workerExit(worker);
    await nextMessage(worker);
    // Give the worker time to spin out and announce itself as a sleeper.
    const stateWord = new Int32Array(buffer, lockByteOffset, 1);
    const deadlineMs = Date.now() + 10_000;
    while (Atomics.load(stateWord, 0) !== 2 && Date.now() < deadlineMs) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(Atomics.load(stateWord, 0)).toBe(2);
    table.unlock(0);
    await exit;
    expect(table.isLocked(0)).toBe(false);
    const stats = table.statsObject(0);
    expect(stats.acquisitions).toBe(2);
    expect(stats.contended).toBe(1);
    expect(stats.spins).toBe(LOCK_SPIN_LIMIT);
    expect(stats.sleeps).toBeGreaterThanOrEqual(1);
  });
});
