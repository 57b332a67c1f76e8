import { describe, expect, test } from 'vitest';
import {
  MAILBOX_CAPACITY_OFFSET_BYTES,
  MAILBOX_CELL_BYTES,
  MAILBOX_DEQUEUE_POSITION_OFFSET_BYTES,
  MAILBOX_ENQUEUE_POSITION_OFFSET_BYTES,
  MAILBOX_ENTRY_WORDS,
  MAILBOX_FULL_REJECTIONS_OFFSET_BYTES,
  MAILBOX_HEADER_BYTES,
  MAILBOX_POPS_OFFSET_BYTES,
  MAILBOX_PUSHES_OFFSET_BYTES,
  Mailbox,
} from '../../hal/mailbox.ts';
import type { ConsumerResult, MailboxWorkerData } from './mailbox-worker.ts';
import { isValidMessage, messageWords } from './mailbox-worker.ts';
import { nextMessage, startTsWorker, workerExit } from '../../hal/runtime/worker-start.ts';

const WORKER_URL = new URL('./mailbox-worker.ts', import.meta.url);

function makeMailbox(capacity: number, startPosition = 0) {
  const byteOffset = 64;
  const buffer = new SharedArrayBuffer(byteOffset + Mailbox.bytesFor(capacity) + 64);
  const mailbox = new Mailbox(buffer, byteOffset, capacity);
  mailbox.format(startPosition);
  return { buffer, byteOffset, mailbox };
}

/** Pushes message n, whose words are n*10 + word index. */
function pushNumbered(mailbox: Mailbox, n: number): boolean {
  return mailbox.tryPush(n * 10, n * 10 + 1, n * 10 + 2, n * 10 + 3, n * 10 + 4, n * 10 + 5);
}

function expectNumbered(out: Int32Array, n: number): void {
  expect(Array.from(out)).toEqual([n * 10, n * 10 + 1, n * 10 + 2, n * 10 + 3, n * 10 + 4, n * 10 + 5]);
}

describe('Mailbox layout and geometry', () => {
  test('documented sizes and offsets', () => {
    expect(MAILBOX_ENTRY_WORDS).toBe(6);
    expect(MAILBOX_HEADER_BYTES).toBe(192);
    expect(MAILBOX_CELL_BYTES).toBe(32);
    expect(Mailbox.bytesFor(8)).toBe(192 + 8 * 32);
    expect(MAILBOX_CAPACITY_OFFSET_BYTES).toBe(0);
    expect(MAILBOX_ENQUEUE_POSITION_OFFSET_BYTES).toBe(64);
    expect(MAILBOX_PUSHES_OFFSET_BYTES).toBe(68);
    expect(MAILBOX_FULL_REJECTIONS_OFFSET_BYTES).toBe(76);
    expect(MAILBOX_DEQUEUE_POSITION_OFFSET_BYTES).toBe(128);
    expect(MAILBOX_POPS_OFFSET_BYTES).toBe(132);
  });

  test('format writes the header and cell sequences where the table says', () => {
    const { buffer, byteOffset, mailbox } = makeMailbox(4);
    const view = new DataView(buffer, byteOffset);
    expect(view.getInt32(MAILBOX_CAPACITY_OFFSET_BYTES, true)).toBe(4);
    pushNumbered(mailbox, 3);
    expect(view.getInt32(MAILBOX_ENQUEUE_POSITION_OFFSET_BYTES, true)).toBe(1);
    expect(view.getInt32(MAILBOX_PUSHES_OFFSET_BYTES, true)).toBe(1);
    const cell0 = MAILBOX_HEADER_BYTES;
    expect(view.getInt32(cell0, true)).toBe(1); // sequence: holds position 0's message
    expect(view.getInt32(cell0 + 4, true)).toBe(30);
    expect(view.getInt32(cell0 + 24, true)).toBe(35);
    expect(view.getInt32(cell0 + MAILBOX_CELL_BYTES, true)).toBe(1); // cell 1 free for position 1
    // Nothing outside the region is touched.
    expect(new Uint8Array(buffer, 0, byteOffset).every((b) => b === 0)).toBe(true);
    expect(new Uint8Array(buffer, byteOffset + Mailbox.bytesFor(4)).every((b) => b === 0)).toBe(true);
  });

  test('capacity must be a power of two >= 2; the region must fit', () => {
    for (const bad of [0, 1, 3, 6, 100, 2.5, -4]) {
      expect(() => Mailbox.bytesFor(bad)).toThrow(RangeError);
      expect(() => new Mailbox(new SharedArrayBuffer(1 << 16), 0, bad)).toThrow(RangeError);
    }
    expect(() => new Mailbox(new SharedArrayBuffer(Mailbox.bytesFor(8) - 4), 0, 8)).toThrow(RangeError);
    expect(() => new Mailbox(new SharedArrayBuffer(Mailbox.bytesFor(8) + 8), 2, 8)).toThrow(RangeError);
  });

  test('tryPop needs room for six words', () => {
    const { mailbox } = makeMailbox(2);
    expect(() => mailbox.tryPop(new Int32Array(5))).toThrow(RangeError);
  });
});

describe('Mailbox single-thread semantics', () => {
  test('FIFO order', () => {
    const { mailbox } = makeMailbox(8);
    for (let n = 0; n < 5; n++) expect(pushNumbered(mailbox, n)).toBe(true);
    expect(mailbox.size()).toBe(5);
    const out = new Int32Array(MAILBOX_ENTRY_WORDS);
    for (let n = 0; n < 5; n++) {
      expect(mailbox.tryPop(out)).toBe(true);
      expectNumbered(out, n);
    }
    expect(mailbox.size()).toBe(0);
  });

  test('full returns false and counts a rejection; empty pop returns false', () => {
    const { mailbox } = makeMailbox(4);
    const out = new Int32Array(MAILBOX_ENTRY_WORDS).fill(-7);
    expect(mailbox.tryPop(out)).toBe(false);
    expect(Array.from(out)).toEqual([-7, -7, -7, -7, -7, -7]); // untouched
    for (let n = 0; n < 4; n++) expect(pushNumbered(mailbox, n)).toBe(true);
    expect(mailbox.size()).toBe(4);
    expect(pushNumbered(mailbox, 99)).toBe(false);
    expect(pushNumbered(mailbox, 99)).toBe(false);
    expect(mailbox.statsObject()).toEqual({ pushes: 4, pops: 0, fullRejections: 2 });
    expect(mailbox.tryPop(out)).toBe(true);
    expectNumbered(out, 0);
    expect(pushNumbered(mailbox, 4)).toBe(true); // room again
    for (let n = 1; n <= 4; n++) {
      expect(mailbox.tryPop(out)).toBe(true);
      expectNumbered(out, n);
    }
    expect(mailbox.tryPop(out)).toBe(false);
    expect(mailbox.statsObject()).toEqual({ pushes: 5, pops: 5, fullRejections: 2 });
  });

  test('wraps around the ring many times with exact payloads', () => {
    const capacity = 8;
    const { mailbox } = makeMailbox(capacity);
    const out = new Int32Array(MAILBOX_ENTRY_WORDS);
    let pushed = 0;
    let popped = 0;
    // Uneven batches so the head and tail sit at every offset within the ring.
    while (popped < 10 * capacity) {
      for (let k = 0; k < 3 && pushed - popped < capacity; k++) expect(pushNumbered(mailbox, pushed++)).toBe(true);
      for (let k = 0; k < 2 && popped < pushed; k++) {
        expect(mailbox.tryPop(out)).toBe(true);
        expectNumbered(out, popped++);
      }
      expect(mailbox.size()).toBe(pushed - popped);
    }
    expect(mailbox.statsObject()).toEqual({ pushes: pushed, pops: popped, fullRejections: 0 });
  });

  test('positions wrap across 2^31 correctly', () => {
    const capacity = 4;
    const start = 2 ** 31 - 6; // int32 max is 2^31 - 1: the positions go negative mid-test
    const { buffer, byteOffset, mailbox } = makeMailbox(capacity, start);
    const header = new DataView(buffer, byteOffset);
    expect(header.getInt32(MAILBOX_ENQUEUE_POSITION_OFFSET_BYTES, true)).toBe(start);
    expect(header.getInt32(MAILBOX_DEQUEUE_POSITION_OFFSET_BYTES, true)).toBe(start);
    const out = new Int32Array(MAILBOX_ENTRY_WORDS);
    let pushed = 0;
    let popped = 0;
    for (let round = 0; round < 10; round++) {
      // Fill completely (full must still be detected across the wrap), then drain.
      while (pushNumbered(mailbox, pushed)) pushed++;
      expect(mailbox.size()).toBe(capacity);
      while (mailbox.tryPop(out)) expectNumbered(out, popped++);
      expect(mailbox.size()).toBe(0);
      expect(popped).toBe(pushed);
    }
    expect(pushed).toBe(10 * capacity);
    // The positions really did wrap to negative int32 values.
    expect(header.getInt32(MAILBOX_ENQUEUE_POSITION_OFFSET_BYTES, true)).toBe((start + pushed) | 0);
    expect((start + pushed) | 0).toBeLessThan(0);
    expect(mailbox.statsObject()).toEqual({ pushes: pushed, pops: popped, fullRejections: 10 });
  });

  test('a position set by hand just below the wrap works too', () => {
    // The same, reached by writing header words and sequences directly rather than format(start).
    const capacity = 8;
    const { buffer, byteOffset, mailbox } = makeMailbox(capacity);
    const words = new Int32Array(buffer, byteOffset);
    const start = 0x7ffffffd;
    for (let k = 0; k < capacity; k++) {
      const position = (start + k) | 0;
      words[MAILBOX_HEADER_BYTES / 4 + (position & (capacity - 1)) * (MAILBOX_CELL_BYTES / 4)] = position;
    }
    words[MAILBOX_ENQUEUE_POSITION_OFFSET_BYTES / 4] = start;
    words[MAILBOX_DEQUEUE_POSITION_OFFSET_BYTES / 4] = start;
    const out = new Int32Array(MAILBOX_ENTRY_WORDS);
    for (let n = 0; n < 5; n++) expect(pushNumbered(mailbox, n)).toBe(true);
    expect(mailbox.size()).toBe(5);
    for (let n = 0; n < 5; n++) {
      expect(mailbox.tryPop(out)).toBe(true);
      expectNumbered(out, n);
    }
    expect(mailbox.tryPop(out)).toBe(false);
  });

  test('counters carry into their high word past 2^32', () => {
    const { buffer, byteOffset, mailbox } = makeMailbox(2);
    const words = new Int32Array(buffer, byteOffset);
    words[MAILBOX_PUSHES_OFFSET_BYTES / 4] = -1; // low word 0xffffffff
    pushNumbered(mailbox, 0);
    expect(mailbox.statsObject().pushes).toBe(2 ** 32);
  });
});

describe('Mailbox across worker threads', () => {
  const producerCount = 3;
  const messages = 20_000;
  const capacity = 64; // small, so producers keep finding it full

  function sharedRegion() {
    const mailboxByteOffset = 0;
    const controlByteOffset = Mailbox.bytesFor(capacity);
    const seenByteOffset = controlByteOffset + 64;
    const buffer = new SharedArrayBuffer(seenByteOffset + producerCount * messages * 4);
    const mailbox = new Mailbox(buffer, mailboxByteOffset, capacity);
    mailbox.format();
    const base = { buffer, mailboxByteOffset, capacity, controlByteOffset, seenByteOffset, producerCount, messages };
    const startProducers = () =>
      Array.from({ length: producerCount }, (_, producerId) => {
        const data: MailboxWorkerData = { ...base, role: 'producer', producerId };
        return startTsWorker(WORKER_URL, data);
      });
    return { buffer, mailbox, base, startProducers, seenByteOffset };
  }

  test('3 producers, main thread consumes: every message exactly once, per-producer order kept', async () => {
    const { mailbox, startProducers } = sharedRegion();
    const producers = startProducers();
    const exits = producers.map(workerExit);
    const out = new Int32Array(MAILBOX_ENTRY_WORDS);
    const nextSequence = new Array<number>(producerCount).fill(0);
    const total = producerCount * messages;
    let popped = 0;
    let failure: string | null = null;
    const deadlineMs = Date.now() + 50_000;
    // A synchronous loop: the producers run in their own threads. Yield to the event loop now
    // and then so that a worker that failed to start is reported rather than waited for.
    while (popped < total && failure === null) {
      if (mailbox.tryPop(out)) {
        const producerId = out[0]!;
        if (!isValidMessage(out, producerCount, messages)) failure = `bad payload ${Array.from(out)}`;
        else if (out[1] !== nextSequence[producerId]) failure = `producer ${producerId}: got ${out[1]}, expected ${nextSequence[producerId]}`;
        else nextSequence[producerId]!++;
        popped++;
      } else {
        if (Date.now() > deadlineMs) failure = `timed out after ${popped} messages`;
        await Promise.race([Promise.all(exits), new Promise((resolve) => setImmediate(resolve))]);
      }
    }
    await Promise.all(exits);
    expect(failure).toBeNull();
    expect(nextSequence).toEqual([messages, messages, messages]);
    expect(mailbox.tryPop(out)).toBe(false);
    const stats = mailbox.statsObject();
    expect(stats.pushes).toBe(total);
    expect(stats.pops).toBe(total);
    console.log('mailbox stats (3 producers, main consumer)', stats);
  });

  test('3 producers, 2 consumer workers: exactly once, per-producer order per consumer', async () => {
    const consumerCount = 2;
    const { buffer, mailbox, base, startProducers, seenByteOffset } = sharedRegion();
    const consumers = Array.from({ length: consumerCount }, () => {
      const data: MailboxWorkerData = { ...base, role: 'consumer', producerId: -1 };
      return startTsWorker(WORKER_URL, data);
    });
    const results = consumers.map(nextMessage) as Promise<ConsumerResult>[];
    const consumerExits = consumers.map(workerExit);
    const producers = startProducers();
    await Promise.all([...producers.map(workerExit), ...consumerExits]);
    const consumerResults = await Promise.all(results);

    const total = producerCount * messages;
    expect(consumerResults.reduce((sum, r) => sum + r.popped, 0)).toBe(total);
    for (const r of consumerResults) {
      expect(r.payloadErrors).toBe(0);
      expect(r.orderViolations).toBe(0);
    }
    const seen = new Int32Array(buffer, seenByteOffset, total);
    expect(seen.every((count) => count === 1)).toBe(true);
    const stats = mailbox.statsObject();
    expect(stats.pushes).toBe(total);
    expect(stats.pops).toBe(total);
    expect(mailbox.size()).toBe(0);
    console.log('mailbox stats (3 producers, 2 consumers)', stats, consumerResults.map((r) => r.popped));
  });
});

test('messageWords is what the workers send', () => {
  expect(messageWords(2, 5)).toEqual([2, 5, 35, -6, (2 << 24) ^ 5, 2_000_011]);
});
