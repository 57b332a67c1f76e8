import { describe, expect, test } from 'vitest';
import { RealClock, VirtualClock } from '../../hal/clock.ts';
import { crc32c } from '../../hal/crc32c.ts';
import {
  LINK_BAD_FRAME,
  LINK_BUFFER_MAGIC,
  LINK_CONSUMER_LINE_OFFSET_BYTES,
  LINK_CONTROL_BYTES,
  LINK_CUT_GENERATION_OFFSET_BYTES,
  LINK_DELAY_US_OFFSET_BYTES,
  LINK_FRAME_HEADER_BYTES,
  LINK_FRAME_HEADER_CHECKSUM_OFFSET,
  LINK_FRAME_MAGIC,
  LINK_FRAME_PAYLOAD_CHECKSUM_OFFSET,
  LINK_FRAME_PAYLOAD_LENGTH_OFFSET,
  LINK_FRAME_PAYLOAD_MAX,
  LINK_FRAME_SEND_TIME_OFFSET,
  LINK_FRAME_SEQUENCE_OFFSET,
  LINK_FRAME_TYPE_MAX,
  LINK_FRAME_TYPE_OFFSET,
  LINK_HEAD_OFFSET,
  LINK_PRODUCER_LINE_OFFSET_BYTES,
  LINK_RING_BYTES_OFFSET_BYTES,
  LINK_RING_LINES_STRIDE_BYTES,
  LINK_STATE_OFFSET_BYTES,
  LINK_TAIL_OFFSET,
  LINK_UP,
  LinkBuffer,
  LinkEndpoint,
  emptyLinkFrameHeader,
  readLinkFrameHeader,
  writeLinkFrameHeader,
} from '../../hal/link.ts';
import { startTsWorker, workerExit } from '../../hal/runtime/worker-start.ts';

// ---- helpers ---------------------------------------------------------------------------------

function makeLink(ringBytes: number, clock: { nowMs(): number } = new VirtualClock()) {
  const buffer = LinkBuffer.allocate(ringBytes);
  const a = new LinkEndpoint(buffer, 0, clock);
  const b = new LinkEndpoint(buffer, 1, clock);
  return { buffer, a, b, clock };
}

/** Payload byte k of message n: derived, so every byte is checkable. */
function payloadByte(n: number, k: number): number {
  return (Math.imul(n, 131) + Math.imul(k, 7) + (k >> 8)) & 0xff;
}

function fillPayload(endpoint: LinkEndpoint, n: number, length: number): void {
  for (let k = 0; k < length; k++) endpoint.staging[k] = payloadByte(n, k);
}

function payloadMatches(endpoint: LinkEndpoint, n: number, length: number): boolean {
  if (endpoint.rxPayloadLength !== length) return false;
  for (let k = 0; k < length; k++) if (endpoint.rxStaging[k] !== payloadByte(n, k)) return false;
  return true;
}

/** Byte offset in the buffer of ring r's head / tail words and data. */
function headIndex(ring: number): number {
  return (LINK_PRODUCER_LINE_OFFSET_BYTES + ring * LINK_RING_LINES_STRIDE_BYTES + LINK_HEAD_OFFSET) / 4;
}
function tailIndex(ring: number): number {
  return (LINK_CONSUMER_LINE_OFFSET_BYTES + ring * LINK_RING_LINES_STRIDE_BYTES + LINK_TAIL_OFFSET) / 4;
}
function dataOffset(ring: number, ringBytes: number): number {
  return LINK_CONTROL_BYTES + ring * ringBytes;
}

/** A hostile producer: writes raw bytes at ring A->B's head (wrapping) and publishes them. */
function injectRaw(buffer: SharedArrayBuffer, ringBytes: number, raw: Uint8Array): void {
  const words = new Int32Array(buffer);
  const bytes = new Uint8Array(buffer);
  const head = Atomics.load(words, headIndex(0));
  for (let i = 0; i < raw.length; i++) bytes[dataOffset(0, ringBytes) + ((head + i) & (ringBytes - 1))] = raw[i]!;
  Atomics.store(words, headIndex(0), (head + raw.length) | 0);
}

/** Deterministic PRNG (xorshift32) for sizes and garbage. */
function prng(seed: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

// ---- layout ----------------------------------------------------------------------------------

describe('LinkBuffer layout', () => {
  test('sizes, documented offsets and the formatted control block', () => {
    expect(LINK_FRAME_HEADER_BYTES).toBe(32);
    expect(LINK_FRAME_MAGIC).toBe(0x52464c4a);
    expect(LINK_FRAME_TYPE_OFFSET).toBe(4);
    expect(LINK_FRAME_PAYLOAD_LENGTH_OFFSET).toBe(8);
    expect(LINK_FRAME_SEQUENCE_OFFSET).toBe(12);
    expect(LINK_FRAME_SEND_TIME_OFFSET).toBe(16);
    expect(LINK_FRAME_HEADER_CHECKSUM_OFFSET).toBe(24);
    expect(LINK_FRAME_PAYLOAD_CHECKSUM_OFFSET).toBe(28);
    expect(LINK_CONTROL_BYTES).toBe(320);
    expect(LinkBuffer.bytesFor(1024)).toBe(320 + 2048);
    const buffer = LinkBuffer.allocate(1024);
    expect(buffer.byteLength).toBe(LinkBuffer.bytesFor(1024));
    const view = new DataView(buffer);
    expect(view.getUint32(0, true)).toBe(LINK_BUFFER_MAGIC);
    expect(view.getInt32(LINK_RING_BYTES_OFFSET_BYTES, true)).toBe(1024);
    expect(view.getInt32(LINK_STATE_OFFSET_BYTES, true)).toBe(LINK_UP);
    expect(LinkBuffer.ringBytesOf(buffer)).toBe(1024);
    // Counters where the table says (ring A->B: producer line +64, consumer line +128).
    const clock = new VirtualClock();
    const a = new LinkEndpoint(buffer, 0, clock);
    const b = new LinkEndpoint(buffer, 1, clock);
    expect(a.sendStaging(1, 0, 10)).toBe(true);
    expect(a.sendStaging(1, 0, 5)).toBe(true);
    expect(b.receive()).toBe(1);
    a.cut();
    expect(a.sendStaging(1, 0, 1)).toBe(false);
    expect(b.receive()).toBe(0);
    expect(view.getInt32(64, true)).toBe(128); // head: two 64-byte frames
    expect(view.getInt32(68, true)).toBe(2); // next sequence
    expect(view.getFloat64(72, true)).toBe(2); // framesSent
    expect(view.getFloat64(80, true)).toBe(15); // bytesSent
    expect(view.getFloat64(88, true)).toBe(1); // sendRejectedDown
    expect(view.getInt32(128, true)).toBe(128); // tail
    expect(view.getInt32(132, true)).toBe(1); // cut generation applied
    expect(view.getFloat64(136, true)).toBe(1); // framesReceived
    expect(view.getFloat64(144, true)).toBe(10); // bytesReceived
    expect(view.getFloat64(160, true)).toBe(1); // framesDroppedByCut
    expect(view.getFloat64(168, true)).toBe(64); // bytesDiscarded
    expect(view.getInt32(LINK_STATE_OFFSET_BYTES, true)).toBe(0); // DOWN
    expect(view.getInt32(LINK_CUT_GENERATION_OFFSET_BYTES, true)).toBe(1);
    expect(view.getInt32(20, true)).toBe(128); // drop-until A->B
    // Head and tail of each ring on their own 64-byte lines.
    const lines = [headIndex(0), tailIndex(0), headIndex(1), tailIndex(1)].map((w) => (w * 4) >> 6);
    expect(new Set(lines).size).toBe(4);
  });

  test('ring size must be a power of two in range; endpoints check the buffer', () => {
    for (const bad of [0, 100, 255, 1000, 2 ** 31, 1.5]) expect(() => LinkBuffer.bytesFor(bad)).toThrow(RangeError);
    expect(() => new LinkEndpoint(new SharedArrayBuffer(4096), 0, new VirtualClock())).toThrow(/magic/);
    const buffer = LinkBuffer.allocate(256);
    expect(() => new LinkEndpoint(buffer, 2 as 0, new VirtualClock())).toThrow(RangeError);
  });

  test('payloadMax defaults to LINK_FRAME_PAYLOAD_MAX capped at ring / 2 - header, and is validated', () => {
    const clock = new VirtualClock();
    expect(new LinkEndpoint(LinkBuffer.allocate(4096), 0, clock).payloadMax).toBe(2048 - 32);
    expect(new LinkEndpoint(LinkBuffer.allocate(1 << 22), 0, clock).payloadMax).toBe(LINK_FRAME_PAYLOAD_MAX);
    const small = new LinkEndpoint(LinkBuffer.allocate(4096), 0, clock, { payloadMax: 100 });
    expect(small.payloadMax).toBe(100);
    expect(small.staging.length).toBeGreaterThanOrEqual(100);
    expect(small.stagingWords.buffer).toBe(small.staging.buffer);
    expect(small.rxStagingWords.buffer).toBe(small.rxStaging.buffer);
    expect(small.staging.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(() => new LinkEndpoint(LinkBuffer.allocate(4096), 0, clock, { payloadMax: 2017 })).toThrow(RangeError);
    expect(() => new LinkEndpoint(LinkBuffer.allocate(4096), 0, clock, { payloadMax: -1 })).toThrow(RangeError);
  });

  test('a frame in the ring has exactly the documented header', () => {
    const buffer = LinkBuffer.allocate(1024);
    const sender = new LinkEndpoint(buffer, 0, new VirtualClock(1234.5));
    sender.staging.set([1, 2, 3, 4, 5]);
    expect(sender.sendStaging(0x1234, 0xbeef, 5)).toBe(true);
    const header = emptyLinkFrameHeader();
    const ring = new Uint8Array(buffer, dataOffset(0, 1024), 1024);
    expect(readLinkFrameHeader(ring, 0, header)).toBeNull();
    expect(header).toEqual({
      magic: LINK_FRAME_MAGIC,
      type: 0x1234,
      flags: 0xbeef,
      payloadLength: 5,
      sequence: 0,
      sendTimeUs: 1234500,
      headerChecksum: crc32c(ring, 0, 24),
      payloadChecksum: crc32c(Uint8Array.from([1, 2, 3, 4, 5]), 0, 5),
    });
    expect(Array.from(ring.subarray(32, 37))).toEqual([1, 2, 3, 4, 5]);
    // writeLinkFrameHeader produces the same 32 bytes.
    const copy = new Uint8Array(32);
    writeLinkFrameHeader(copy, 0, 0x1234, 0xbeef, 5, 0, 1234500, header.payloadChecksum);
    expect(Array.from(copy)).toEqual(Array.from(ring.subarray(0, 32)));
  });
});

// ---- round trips -----------------------------------------------------------------------------

describe('LinkEndpoint round trips', () => {
  test('every payload size 0..max arrives with exact bytes, type, flags and sequence', () => {
    const { a, b } = makeLink(4096);
    const max = a.payloadMax;
    for (let length = 0; length <= max; length++) {
      fillPayload(a, length, length);
      const type = 1 + (length % LINK_FRAME_TYPE_MAX);
      expect(a.sendStaging(type, length & 0xffff, length)).toBe(true);
      expect(b.receive()).toBe(type);
      expect(b.rxFlags).toBe(length & 0xffff);
      expect(b.rxSequence).toBe(length);
      expect(payloadMatches(b, length, length)).toBe(true);
      expect(b.receive()).toBe(0);
    }
    const stats = a.stats();
    expect(stats.aToB.framesSent).toBe(max + 1);
    expect(stats.aToB.framesReceived).toBe(max + 1);
    expect(stats.aToB.bytesSent).toBe((max * (max + 1)) / 2);
    expect(stats.aToB.bytesReceived).toBe((max * (max + 1)) / 2);
    expect(stats.aToB.badFrames).toBe(0);
    expect(stats.tx).toEqual(stats.aToB);
    expect(b.stats().rx).toEqual(stats.aToB);
  });

  test('both directions at once are independent', () => {
    const { a, b } = makeLink(1024);
    for (let n = 0; n < 200; n++) {
      fillPayload(a, n, n % 50);
      fillPayload(b, n + 1000, (n * 3) % 90);
      expect(a.sendStaging(1, 0, n % 50)).toBe(true);
      expect(b.sendStaging(2, 0, (n * 3) % 90)).toBe(true);
      expect(a.receive()).toBe(2);
      expect(payloadMatches(a, n + 1000, (n * 3) % 90)).toBe(true);
      expect(b.receive()).toBe(1);
      expect(payloadMatches(b, n, n % 50)).toBe(true);
    }
  });

  test('wrap-around many times with random sizes and random batches, order kept', () => {
    const { buffer, a, b } = makeLink(256); // payloadMax 96: at most 2 big frames in flight
    const random = prng(2024);
    let sent = 0;
    let received = 0;
    const lengths: number[] = [];
    while (received < 20_000) {
      const burst = random() % 4;
      for (let i = 0; i < burst; i++) {
        const length = random() % (a.payloadMax + 1);
        fillPayload(a, sent, length);
        if (!a.sendStaging(1 + (sent % 9), 0, length)) break;
        lengths.push(length);
        sent++;
      }
      const take = random() % 4;
      for (let i = 0; i < take; i++) {
        const type = b.receive();
        if (type === 0) break;
        expect(type).toBe(1 + (received % 9));
        expect(b.rxSequence).toBe(received);
        expect(payloadMatches(b, received, lengths[received]!)).toBe(true);
        received++;
      }
    }
    const head = Atomics.load(new Int32Array(buffer), headIndex(0));
    expect(head / 256).toBeGreaterThan(1000); // the ring wrapped over a thousand times
    expect(a.stats().tx.badFrames).toBe(0);
  });

  test('positions wrap past 2^31 (int32) without a hiccup', () => {
    const buffer = LinkBuffer.allocate(512);
    const words = new Int32Array(buffer);
    const start = 0x7fffff00; // 32-aligned, 256 bytes below 2^31
    for (const ring of [0, 1]) {
      Atomics.store(words, headIndex(ring), start);
      Atomics.store(words, tailIndex(ring), start);
    }
    const clock = new VirtualClock();
    const a = new LinkEndpoint(buffer, 0, clock);
    const b = new LinkEndpoint(buffer, 1, clock);
    for (let n = 0; n < 100; n++) {
      const length = (n * 37) % (a.payloadMax + 1);
      fillPayload(a, n, length);
      expect(a.sendStaging(3, 0, length)).toBe(true);
      expect(b.receive()).toBe(3);
      expect(payloadMatches(b, n, length)).toBe(true);
    }
    expect(Atomics.load(words, headIndex(0))).toBeLessThan(0); // wrapped into negative int32
  });

  test('full ring: beginFrame and sendStaging refuse and count, and work again after a receive', () => {
    const { a, b } = makeLink(1024);
    // 96-byte payloads take 128 ring bytes: exactly 8 fit.
    for (let n = 0; n < 8; n++) {
      fillPayload(a, n, 96);
      expect(a.sendStaging(1, 0, 96)).toBe(true);
    }
    expect(a.canSend(0)).toBe(false);
    expect(a.sendStaging(1, 0, 96)).toBe(false);
    expect(a.beginFrame(1, 0, 0)).toBe(false);
    expect(a.stats().tx.sendRejectedFull).toBe(2);
    expect(a.stats().tx.framesSent).toBe(8);
    expect(b.receive()).toBe(1);
    expect(payloadMatches(b, 0, 96)).toBe(true);
    expect(a.canSend(96)).toBe(true);
    expect(a.canSend(97)).toBe(false);
    fillPayload(a, 8, 96);
    expect(a.beginFrame(1, 0, 96)).toBe(true);
    a.commitFrame();
    for (let n = 1; n <= 8; n++) {
      expect(b.receive()).toBe(1);
      expect(payloadMatches(b, n, 96)).toBe(true);
    }
    expect(b.receive()).toBe(0);
    expect(a.stats().tx.sendRejectedFull).toBe(2); // canSend counts nothing
  });

  test('beginFrame reserves; the payload can be filled before commitFrame; abortFrame sends nothing', () => {
    const { a, b } = makeLink(1024);
    expect(a.beginFrame(7, 1, 10)).toBe(true);
    expect(() => a.beginFrame(7, 1, 10)).toThrow(/pending/);
    fillPayload(a, 77, 10);
    a.commitFrame();
    expect(b.receive()).toBe(7);
    expect(payloadMatches(b, 77, 10)).toBe(true);
    expect(a.beginFrame(8, 0, 4)).toBe(true);
    a.abortFrame();
    expect(b.receive()).toBe(0);
    expect(() => a.commitFrame()).toThrow(/without a successful beginFrame/);
    // The sequence counter did not move for the aborted frame.
    expect(a.sendStaging(9, 0, 0)).toBe(true);
    expect(b.receive()).toBe(9);
    expect(b.rxSequence).toBe(1);
  });

  test('an explicit sequence overrides the sender counter (transports forwarding frames)', () => {
    const { a, b } = makeLink(1024);
    expect(a.sendStaging(1, 0, 0, 0xfffffffe)).toBe(true);
    expect(b.receive()).toBe(1);
    expect(b.rxSequence).toBe(0xfffffffe);
    expect(a.sendStaging(1, 0, 0)).toBe(true);
    expect(b.receive()).toBe(1);
    expect(b.rxSequence).toBe(0);
  });

  test('invalid send arguments are programming errors (RangeError)', () => {
    const { a } = makeLink(1024);
    expect(() => a.sendStaging(0, 0, 0)).toThrow(RangeError);
    expect(() => a.sendStaging(0xffff, 0, 0)).toThrow(RangeError);
    expect(() => a.sendStaging(1, 0x10000, 0)).toThrow(RangeError);
    expect(() => a.sendStaging(1, 0, a.payloadMax + 1)).toThrow(RangeError);
    expect(() => a.sendStaging(1, 0, -1)).toThrow(RangeError);
    expect(() => a.sendStaging(1.5, 0, 0)).toThrow(RangeError);
    expect(a.stats().tx.framesSent).toBe(0);
  });

  test('a receiver with a smaller payloadMax consumes an oversize frame as bad and carries on', () => {
    const buffer = LinkBuffer.allocate(4096);
    const clock = new VirtualClock();
    const a = new LinkEndpoint(buffer, 0, clock);
    const b = new LinkEndpoint(buffer, 1, clock, { payloadMax: 64 });
    fillPayload(a, 1, 65);
    expect(a.sendStaging(1, 0, 65)).toBe(true);
    fillPayload(a, 2, 64);
    expect(a.sendStaging(1, 0, 64)).toBe(true);
    expect(b.receive()).toBe(LINK_BAD_FRAME);
    expect(b.rxError).toMatch(/payload length 65 exceeds this endpoint's maximum 64/);
    expect(b.receive()).toBe(1);
    expect(payloadMatches(b, 2, 64)).toBe(true);
    expect(b.stats().rx.badFrames).toBe(1);
    expect(b.stats().rx.resyncs).toBe(0);
  });
});

// ---- cut, restore, delay ---------------------------------------------------------------------

describe('LinkEndpoint cut, restore and delay', () => {
  test('cut: sends rejected and counted on both sides, frames in flight dropped; restore works', () => {
    const { a, b } = makeLink(1024);
    for (let n = 0; n < 3; n++) {
      fillPayload(a, n, 20);
      expect(a.sendStaging(1, 0, 20)).toBe(true);
    }
    expect(b.sendStaging(2, 0, 0)).toBe(true);
    b.cut();
    expect(a.isUp()).toBe(false);
    expect(b.isUp()).toBe(false);
    expect(a.sendStaging(1, 0, 0)).toBe(false);
    expect(a.beginFrame(1, 0, 0)).toBe(false);
    expect(a.canSend(0)).toBe(false);
    expect(b.sendStaging(2, 0, 0)).toBe(false);
    expect(b.receive()).toBe(0); // the three frames in flight are gone
    expect(a.receive()).toBe(0);
    const stats = a.stats();
    expect(stats.up).toBe(false);
    expect(stats.cuts).toBe(1);
    expect(stats.aToB.sendRejectedDown).toBe(2);
    expect(stats.bToA.sendRejectedDown).toBe(1);
    expect(stats.aToB.framesDroppedByCut).toBe(3);
    expect(stats.aToB.bytesDiscarded).toBe(3 * 64);
    expect(stats.bToA.framesDroppedByCut).toBe(1);
    expect(stats.aToB.framesReceived).toBe(0);

    a.restore();
    expect(b.isUp()).toBe(true);
    fillPayload(a, 9, 30);
    expect(a.sendStaging(4, 0, 30)).toBe(true);
    expect(b.receive()).toBe(4);
    expect(payloadMatches(b, 9, 30)).toBe(true);
    expect(b.rxSequence).toBe(3); // sequence numbers continue; the gap shows the loss
  });

  test('frames sent after restore are not dropped by a cut the receiver had not yet noticed', () => {
    const { a, b } = makeLink(1024);
    expect(a.sendStaging(1, 0, 8)).toBe(true); // in flight at the cut
    a.cut();
    a.restore();
    fillPayload(a, 5, 8);
    expect(a.sendStaging(2, 0, 8)).toBe(true); // sent after restore
    expect(b.receive()).toBe(2);
    expect(payloadMatches(b, 5, 8)).toBe(true);
    expect(b.receive()).toBe(0);
    expect(b.stats().rx.framesDroppedByCut).toBe(1);
  });

  test('a cut with nothing in flight drops nothing; repeated cuts are harmless', () => {
    const { a, b } = makeLink(1024);
    a.cut();
    a.cut();
    expect(b.receive()).toBe(0);
    a.restore();
    expect(a.sendStaging(1, 0, 0)).toBe(true);
    a.cut();
    a.restore();
    a.cut();
    a.restore();
    expect(b.receive()).toBe(0);
    expect(b.stats().rx.framesDroppedByCut).toBe(1);
    expect(b.stats().cuts).toBe(4);
  });

  test('delay on a virtual clock: not delivered before send time + delay, delivered at it', () => {
    const clock = new VirtualClock(1_000_000);
    const { a, b } = makeLink(1024, clock);
    a.setDelay(5);
    expect(b.delayMs()).toBe(5);
    fillPayload(a, 1, 10);
    expect(a.sendStaging(1, 0, 10)).toBe(true); // sent at t = 1_000_000 ms
    expect(b.nextDeliveryMs()).toBe(1_000_005);
    expect(b.receive()).toBe(0);
    clock.advance(2);
    fillPayload(a, 2, 10);
    expect(a.sendStaging(2, 0, 10)).toBe(true); // sent at t + 2, due at t + 7
    clock.advance(2.999);
    expect(b.receive()).toBe(0);
    clock.advance(0.001); // t + 5
    expect(b.receive()).toBe(1);
    expect(payloadMatches(b, 1, 10)).toBe(true);
    expect(b.rxSendTimeUs).toBe(1_000_000_000);
    expect(b.receive()).toBe(0);
    expect(b.nextDeliveryMs()).toBe(1_000_007);
    clock.advanceTo(1_000_007);
    expect(b.receive()).toBe(2);
    expect(b.nextDeliveryMs()).toBe(Infinity);
    // Delay 0 again: immediate.
    a.setDelay(0);
    expect(a.sendStaging(3, 0, 0)).toBe(true);
    expect(b.receive()).toBe(3);
    expect(() => a.setDelay(-1)).toThrow(RangeError);
    expect(() => a.setDelay(Number.NaN)).toThrow(RangeError);
  });

  test('the delay in force at delivery applies, and it is stored in microseconds', () => {
    const clock = new VirtualClock(0);
    const { buffer, a, b } = makeLink(1024, clock);
    a.setDelay(1.5);
    expect(new DataView(buffer).getInt32(LINK_DELAY_US_OFFSET_BYTES, true)).toBe(1500);
    expect(a.sendStaging(1, 0, 0)).toBe(true);
    clock.advance(1);
    expect(b.receive()).toBe(0);
    a.setDelay(0.5); // shortened while the frame waits: due now
    expect(b.receive()).toBe(1);
  });

  test('delay on the real clock (a shared, worker-safe clock)', async () => {
    const { a, b } = makeLink(1024, new RealClock());
    a.setDelay(20);
    const sentAt = performance.now();
    expect(a.sendStaging(1, 0, 0)).toBe(true);
    let type = 0;
    while ((type = b.receive()) === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    expect(type).toBe(1);
    expect(performance.now() - sentAt).toBeGreaterThanOrEqual(19);
  });
});

// ---- bad input -------------------------------------------------------------------------------

describe('LinkEndpoint bad input', () => {
  test('corruptNextFrame: the receiver detects the payload damage, counts it, and carries on', () => {
    const { a, b } = makeLink(1024);
    fillPayload(a, 1, 40);
    a.corruptNextFrame();
    expect(a.sendStaging(1, 0, 40)).toBe(true);
    fillPayload(a, 2, 40);
    expect(a.sendStaging(1, 0, 40)).toBe(true);
    expect(b.receive()).toBe(LINK_BAD_FRAME);
    expect(b.rxError).toBe('payload checksum mismatch');
    expect(b.receive()).toBe(1);
    expect(payloadMatches(b, 2, 40)).toBe(true);
    expect(b.rxSequence).toBe(1);
    // An empty payload is "corrupted" through its checksum word.
    a.corruptNextFrame();
    expect(a.sendStaging(1, 0, 0)).toBe(true);
    expect(b.receive()).toBe(LINK_BAD_FRAME);
    expect(b.rxError).toBe('payload checksum mismatch');
    const rx = b.stats().rx;
    expect(rx.badFrames).toBe(2);
    expect(rx.framesReceived).toBe(1);
    expect(rx.resyncs).toBe(0);
    expect(a.staging[0]).toBe(payloadByte(2, 0)); // the sender's staging is not touched
  });

  test('garbage written straight into the ring: bad frame, resynchronised, no throw, link usable', () => {
    const { buffer, a, b } = makeLink(1024);
    fillPayload(a, 1, 10);
    expect(a.sendStaging(1, 0, 10)).toBe(true);
    expect(b.receive()).toBe(1);
    const garbage = new Uint8Array(77).map((_, i) => (i * 89 + 3) & 0xff);
    injectRaw(buffer, 1024, garbage); // leaves head unaligned, as a hostile peer might
    expect(b.receive()).toBe(LINK_BAD_FRAME);
    expect(b.rxError).toMatch(/resynchronise/);
    expect(b.receive()).toBe(0);
    const rx = b.stats().rx;
    expect(rx.badFrames).toBe(1);
    expect(rx.resyncs).toBe(1);
    expect(rx.bytesDiscarded).toBe(77);
    for (let n = 0; n < 50; n++) {
      fillPayload(a, n, n * 3);
      expect(a.sendStaging(2, 0, n * 3)).toBe(true);
      expect(b.receive()).toBe(2);
      expect(payloadMatches(b, n, n * 3)).toBe(true);
    }
  });

  test('each kind of corrupt header is reported with a clear reason', () => {
    const cases: Array<{ name: string; make: () => Uint8Array; reason: RegExp; resync: boolean }> = [
      {
        name: 'bad magic',
        make: () => new Uint8Array(64).fill(0x5a),
        reason: /bad frame magic 0x5a5a5a5a/,
        resync: true,
      },
      {
        name: 'header checksum',
        make: () => {
          const frame = new Uint8Array(64);
          writeLinkFrameHeader(frame, 0, 1, 0, 8, 0, 0, crc32c(frame, 32, 8));
          frame[LINK_FRAME_PAYLOAD_LENGTH_OFFSET] = 9; // damaged after the checksum
          return frame;
        },
        reason: /header checksum mismatch/,
        resync: true,
      },
      {
        name: 'length past the published bytes',
        make: () => {
          const frame = new Uint8Array(64);
          writeLinkFrameHeader(frame, 0, 1, 0, 200, 0, 0, 0);
          return frame;
        },
        reason: /runs past the 64 bytes published/,
        resync: true,
      },
      {
        name: 'length beyond any ring',
        make: () => {
          const frame = new Uint8Array(64);
          writeLinkFrameHeader(frame, 0, 1, 0, 0xffffffff, 0, 0, 0);
          return frame;
        },
        reason: /cannot fit/,
        resync: true,
      },
      {
        name: 'head not on a frame boundary',
        make: () => new Uint8Array(16),
        reason: /ends mid-frame \(head 16 is not 32-byte aligned\)/,
        resync: true,
      },
      {
        name: 'type 0',
        make: () => {
          const frame = new Uint8Array(64);
          writeLinkFrameHeader(frame, 0, 0, 0, 8, 0, 0, crc32c(frame, 32, 8));
          return frame;
        },
        reason: /frame type 0 is reserved/,
        resync: false,
      },
      {
        name: 'reserved type 0xFFFF',
        make: () => {
          const frame = new Uint8Array(32);
          writeLinkFrameHeader(frame, 0, 0xffff, 0, 0, 0, 0, 0);
          return frame;
        },
        reason: /frame type 65535 is reserved/,
        resync: false,
      },
      {
        name: 'NaN send time',
        make: () => {
          const frame = new Uint8Array(32);
          writeLinkFrameHeader(frame, 0, 1, 0, 0, 0, Number.NaN, 0);
          return frame;
        },
        reason: /send time NaN is not a finite number/,
        resync: false,
      },
    ];
    for (const c of cases) {
      const { buffer, a, b } = makeLink(1024);
      injectRaw(buffer, 1024, c.make());
      let result = 0;
      expect(() => (result = b.receive()), c.name).not.toThrow();
      expect(result, c.name).toBe(LINK_BAD_FRAME);
      expect(b.rxError, c.name).toMatch(c.reason);
      expect(b.stats().rx.resyncs, c.name).toBe(c.resync ? 1 : 0);
      expect(b.receive(), c.name).toBe(0);
      fillPayload(a, 3, 33);
      expect(a.sendStaging(5, 0, 33), c.name).toBe(true);
      expect(b.receive(), c.name).toBe(5);
      expect(payloadMatches(b, 3, 33), c.name).toBe(true);
    }
  });

  test('inconsistent positions (head far beyond tail) are drained, not trusted', () => {
    const { buffer, a, b } = makeLink(1024);
    const words = new Int32Array(buffer);
    Atomics.store(words, headIndex(0), 5000 * 32);
    expect(b.receive()).toBe(LINK_BAD_FRAME);
    expect(b.rxError).toMatch(/positions are inconsistent/);
    expect(a.sendStaging(1, 0, 4)).toBe(true);
    expect(b.receive()).toBe(1);
  });

  test('fuzz: 2,000 rounds of random garbage between good frames never throw or lose a good frame', () => {
    const ringBytes = 2048;
    const { buffer, a, b } = makeLink(ringBytes);
    const random = prng(99);
    let bad = 0;
    for (let round = 0; round < 2000; round++) {
      const garbage = new Uint8Array(1 + (random() % 300));
      for (let i = 0; i < garbage.length; i++) garbage[i] = random() & 0xff;
      if (round % 3 === 0 && garbage.length >= 4) {
        // Start with a real magic so the header checksum path is exercised too.
        new DataView(garbage.buffer).setUint32(0, LINK_FRAME_MAGIC, true);
      }
      if (round % 7 === 0 && garbage.length >= 32) {
        // A well-formed header over a random payload: caught by the payload checksum or the length.
        writeLinkFrameHeader(garbage, 0, 1 + (random() % 100), 0, random() % 400, 0, 0, random());
      }
      injectRaw(buffer, ringBytes, garbage);
      for (;;) {
        const result = b.receive();
        if (result === 0) break;
        if (result === LINK_BAD_FRAME) bad++;
        expect(typeof b.rxError).toBe('string');
      }
      const length = random() % 100;
      fillPayload(a, round, length);
      expect(a.sendStaging(7, 0, length)).toBe(true);
      expect(b.receive()).toBe(7);
      expect(payloadMatches(b, round, length)).toBe(true);
    }
    expect(bad).toBeGreaterThanOrEqual(2000);
    expect(b.stats().rx.badFrames).toBe(bad);
  });

  test('a flipped header bit of a real frame is caught by the header checksum', () => {
    const { buffer, a, b } = makeLink(1024);
    expect(a.sendStaging(1, 0, 16)).toBe(true);
    const bytes = new Uint8Array(buffer);
    const at = dataOffset(0, 1024) + LINK_FRAME_SEQUENCE_OFFSET;
    bytes[at] = bytes[at]! ^ 0x04;
    expect(b.receive()).toBe(LINK_BAD_FRAME);
    expect(b.rxError).toMatch(/header checksum mismatch/);
  });
});

// ---- threads ---------------------------------------------------------------------------------

// The producer worker is a small ES module given as a data: URL (tsx is registered in the
// worker by startTsWorker, so it can import hal/link.ts by absolute URL).
const PRODUCER_SOURCE = `
import { workerData, parentPort } from 'node:worker_threads';
import { LinkEndpoint } from ${JSON.stringify(new URL('../../hal/link.ts', import.meta.url).href)};
import { RealClock } from ${JSON.stringify(new URL('../../hal/clock.ts', import.meta.url).href)};
const { buffer, frames, maxLength } = workerData;
const link = new LinkEndpoint(buffer, 0, new RealClock());
const nap = new Int32Array(new SharedArrayBuffer(4));
const deadline = Date.now() + 30000;
let fullRetries = 0;
for (let n = 0; n < frames; n++) {
  const length = 4 + ((n * 97) % (maxLength - 3));
  const view = new DataView(link.staging.buffer);
  view.setUint32(0, n, true);
  for (let k = 4; k < length; k++) link.staging[k] = (n * 131 + k * 7) & 0xff;
  let spins = 0;
  while (!link.sendStaging(1 + (n % 5), n & 0xffff, length)) {
    fullRetries++;
    if (Date.now() > deadline) throw new Error('producer: receiver stopped draining at frame ' + n);
    if (++spins > 200) Atomics.wait(nap, 0, 0, 0.05);
  }
}
parentPort.postMessage({ fullRetries });
`;

describe('LinkEndpoint across threads', () => {
  test('a worker sends 10,000 sequence-tagged frames; the main thread gets all, in order, once', async () => {
    const frames = 10_000;
    const maxLength = 500;
    const buffer = LinkBuffer.allocate(4096);
    const receiver = new LinkEndpoint(buffer, 1, new RealClock());
    const worker = startTsWorker(new URL('data:text/javascript,' + encodeURIComponent(PRODUCER_SOURCE)), {
      buffer,
      frames,
      maxLength,
    });
    const exited = workerExit(worker);
    let producerReport: unknown = null;
    worker.on('message', (message) => (producerReport = message));
    let failure: unknown = null;
    exited.catch((error: unknown) => (failure = error));

    const deadline = Date.now() + 45_000;
    let next = 0;
    let idle = 0;
    const problems: string[] = [];
    while (next < frames && failure === null && Date.now() < deadline) {
      const type = receiver.receive();
      if (type === 0) {
        if (++idle % 1000 === 0) await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      if (type !== 1 + (next % 5)) problems.push(`frame ${next}: type ${type} (${receiver.rxError})`);
      const length = 4 + ((next * 97) % (maxLength - 3));
      const got = receiver.rxStaging;
      const tag = (got[0]! | (got[1]! << 8) | (got[2]! << 16) | (got[3]! << 24)) >>> 0;
      if (tag !== next || receiver.rxSequence !== next || receiver.rxFlags !== (next & 0xffff)) {
        problems.push(`frame ${next}: tag ${tag}, sequence ${receiver.rxSequence}`);
      }
      if (receiver.rxPayloadLength !== length) problems.push(`frame ${next}: length ${receiver.rxPayloadLength}`);
      for (let k = 4; k < length; k++) {
        if (got[k] !== ((next * 131 + k * 7) & 0xff)) {
          problems.push(`frame ${next}: byte ${k}`);
          break;
        }
      }
      if (problems.length > 5) break;
      next++;
    }
    await exited;
    expect(failure).toBeNull();
    expect(problems).toEqual([]);
    expect(next).toBe(frames);
    expect(receiver.receive()).toBe(0); // exactly once: nothing extra
    const stats = receiver.stats();
    expect(stats.aToB.framesSent).toBe(frames);
    expect(stats.aToB.framesReceived).toBe(frames);
    expect(stats.aToB.badFrames).toBe(0);
    expect(producerReport).toHaveProperty('fullRetries');
  });
});
