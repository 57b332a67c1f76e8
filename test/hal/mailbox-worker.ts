// Worker for test/hal/mailbox.test.ts.
//   'producer': pushes `messages` tagged messages (see messageWords), retrying when full.
//   'consumer': pops until the shared popped-count reaches producerCount * messages, checking
//               each payload, counting each message in the shared `seen` array, and checking
//               that it sees every producer's messages in that producer's order; it posts a
//               ConsumerResult before it exits.

import { parentPort, workerData } from 'node:worker_threads';
import { MAILBOX_ENTRY_WORDS, Mailbox } from '../../hal/mailbox.ts';

export interface MailboxWorkerData {
  role: 'producer' | 'consumer';
  buffer: SharedArrayBuffer;
  mailboxByteOffset: number;
  capacity: number;
  /** Int32 words: [0] messages popped so far, by all consumers. */
  controlByteOffset: number;
  /** Int32 words: one per message (producerId * messages + sequence), how often it was popped. */
  seenByteOffset: number;
  producerId: number;
  producerCount: number;
  messages: number;
}

export interface ConsumerResult {
  popped: number;
  payloadErrors: number;
  orderViolations: number;
}

/** The six words producer `producerId` sends as message `sequence`: all derived, all checkable. */
export function messageWords(producerId: number, sequence: number): number[] {
  return [
    producerId,
    sequence,
    Math.imul(sequence, 7),
    ~sequence,
    (producerId << 24) ^ sequence,
    (Math.imul(producerId, 1_000_003) + sequence) | 0,
  ];
}

/** True when out[0..5] is exactly a message some producer sent. */
export function isValidMessage(out: Int32Array, producerCount: number, messages: number): boolean {
  const producerId = out[0]!;
  const sequence = out[1]!;
  if (producerId < 0 || producerId >= producerCount || sequence < 0 || sequence >= messages) return false;
  const expected = messageWords(producerId, sequence);
  for (let w = 0; w < MAILBOX_ENTRY_WORDS; w++) if (out[w] !== expected[w]) return false;
  return true;
}

// Only run as a worker (the test imports the helpers above from the main thread too).
if (parentPort !== null && workerData !== null && typeof workerData === 'object' && 'role' in workerData) {
  const data = workerData as MailboxWorkerData;
  const mailbox = new Mailbox(data.buffer, data.mailboxByteOffset, data.capacity);
  const control = new Int32Array(data.buffer, data.controlByteOffset, 1);
  const seen = new Int32Array(data.buffer, data.seenByteOffset, data.producerCount * data.messages);
  const total = data.producerCount * data.messages;
  // A word nobody writes, to sleep on briefly when the mailbox is full or empty so that a
  // spinning thread does not starve the others on a machine with few cores.
  const backoff = new Int32Array(new SharedArrayBuffer(4));
  const BACKOFF_AFTER_TRIES = 64;
  const BACKOFF_MS = 0.05;

  if (data.role === 'producer') {
    const id = data.producerId;
    for (let sequence = 0; sequence < data.messages; sequence++) {
      const [w0, w1, w2, w3, w4, w5] = messageWords(id, sequence) as [number, number, number, number, number, number];
      let tries = 0;
      while (!mailbox.tryPush(w0, w1, w2, w3, w4, w5)) {
        if (++tries % BACKOFF_AFTER_TRIES === 0) Atomics.wait(backoff, 0, 0, BACKOFF_MS);
      }
    }
  } else {
    const out = new Int32Array(MAILBOX_ENTRY_WORDS);
    const lastSequence = new Int32Array(data.producerCount).fill(-1);
    const result: ConsumerResult = { popped: 0, payloadErrors: 0, orderViolations: 0 };
    let tries = 0;
    while (Atomics.load(control, 0) < total) {
      if (!mailbox.tryPop(out)) {
        if (++tries % BACKOFF_AFTER_TRIES === 0) Atomics.wait(backoff, 0, 0, BACKOFF_MS);
        continue;
      }
      result.popped++;
      if (!isValidMessage(out, data.producerCount, data.messages)) {
        result.payloadErrors++;
      } else {
        const producerId = out[0]!;
        const sequence = out[1]!;
        if (sequence <= lastSequence[producerId]!) result.orderViolations++;
        lastSequence[producerId] = sequence;
        Atomics.add(seen, producerId * data.messages + sequence, 1);
      }
      Atomics.add(control, 0, 1);
    }
    parentPort.postMessage(result);
  }
}
