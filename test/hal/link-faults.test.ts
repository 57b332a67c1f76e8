// Injected link faults (hal/link.ts injectFaults): frames lost, delivered twice, or delivered after
// the frame behind them — what the simulator uses to test the remote-copy protocol against an
// unreliable connection path. Each fault applies to the chosen receiving direction only, is
// counted in framesFaulted, and leaves every other frame intact and in order.

import { describe, expect, test } from 'vitest';
import { VirtualClock } from '../../hal/clock.ts';
import { LinkBuffer, LinkEndpoint } from '../../hal/link.ts';

function link() {
  const clock = new VirtualClock();
  const buffer = LinkBuffer.allocate(64 * 1024);
  return { buffer, a: new LinkEndpoint(buffer, 0, clock), b: new LinkEndpoint(buffer, 1, clock), clock };
}

/** Sends frames numbered `ns` (type 1, payload = 8 bytes holding n). */
function send(from: LinkEndpoint, ns: number[]): void {
  for (const n of ns) {
    new DataView(from.staging.buffer).setUint32(0, n, true);
    new DataView(from.staging.buffer).setUint32(4, ~n, true);
    expect(from.sendStaging(1, 0, 8)).toBe(true);
  }
}

/** Receives until the ring is empty: the frame numbers in delivery order. */
function drain(to: LinkEndpoint): number[] {
  const out: number[] = [];
  for (let i = 0; i < 100; i++) {
    const type = to.receive();
    if (type === 0) {
      if (to.receive() === 0) break;
      continue;
    }
    expect(type).toBe(1);
    const v = new DataView(to.rxStaging.buffer);
    expect(v.getUint32(4, true)).toBe(~v.getUint32(0, true) >>> 0);
    out.push(v.getUint32(0, true));
  }
  return out;
}

describe('link fault injection', () => {
  test('drop: the next n frames are lost, the rest arrive in order', () => {
    const { a, b, buffer } = link();
    a.injectFaults({ drop: 2 }, 1);
    send(a, [1, 2, 3, 4]);
    expect(drain(b)).toEqual([3, 4]);
    expect(LinkBuffer.stats(buffer).aToB.framesFaulted).toBe(2);
    expect(LinkBuffer.stats(buffer).aToB.framesReceived).toBe(2);
  });

  test('duplicate: a frame is delivered twice, then the stream goes on', () => {
    const { a, b, buffer } = link();
    b.injectFaults({ duplicate: 1 }, 1);
    send(a, [1, 2, 3]);
    expect(drain(b)).toEqual([1, 1, 2, 3]);
    expect(LinkBuffer.stats(buffer).aToB.framesFaulted).toBe(1);
  });

  test('reorder: a frame is delivered after the one behind it; with nothing behind, it waits for one', () => {
    const { a, b } = link();
    a.injectFaults({ reorder: 1 }, 1);
    send(a, [1]);
    expect(drain(b)).toEqual([1]); // alone in the ring: nothing to swap with, the fault stays armed
    send(a, [2, 3, 4]);
    expect(drain(b)).toEqual([3, 2, 4]);
  });

  test('faults are per direction: the other way is untouched', () => {
    const { a, b } = link();
    a.injectFaults({ drop: 5 }, 0); // frames received by side 0 (B->A)
    send(a, [1, 2]);
    expect(drain(b)).toEqual([1, 2]);
    send(b, [7, 8, 9, 10, 11, 12]);
    expect(drain(a)).toEqual([12]);
  });

  test('without a side, both directions get the fault', () => {
    const { a, b } = link();
    a.injectFaults({ drop: 1 });
    send(a, [1, 2]);
    send(b, [5, 6]);
    expect(drain(b)).toEqual([2]);
    expect(drain(a)).toEqual([6]);
  });

  test('a cut drops a frame held back by a reorder fault, like any frame in flight', () => {
    const { a, b } = link();
    a.injectFaults({ reorder: 1 }, 1);
    send(a, [1, 2]);
    expect(b.receive()).toBe(1);
    expect(new DataView(b.rxStaging.buffer).getUint32(0, true)).toBe(2);
    a.cut();
    a.restore();
    send(a, [3]);
    expect(drain(b)).toEqual([3]);
  });

  test('a held frame makes the endpoint report something deliverable now', () => {
    const { a, b, clock } = link();
    a.injectFaults({ reorder: 1 }, 1);
    send(a, [1, 2]);
    expect(b.receive()).toBe(1);
    expect(b.nextDeliveryMs()).toBe(clock.nowMs());
    expect(drain(b)).toEqual([1]);
    expect(b.nextDeliveryMs()).toBe(Infinity);
  });
});

describe('link fault injection: corruption in flight', () => {
  test('a corrupted frame fails its checksum at the receiver and is counted as bad; the next arrives intact', () => {
    const { a, b, buffer } = link();
    a.injectFaults({ corrupt: 1 }, 1);
    send(a, [1, 2]);
    expect(b.receive()).toBe(-1);
    expect(b.rxError).toBe('payload checksum mismatch');
    expect(drain(b)).toEqual([2]);
    const s = LinkBuffer.stats(buffer).aToB;
    expect([s.badFrames, s.framesFaulted, s.framesReceived]).toEqual([1, 1, 1]);
  });
});
