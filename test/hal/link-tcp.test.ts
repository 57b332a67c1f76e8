import net from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { RealClock } from '../../hal/clock.ts';
import { crc32c } from '../../hal/crc32c.ts';
import { LINK_FRAME_HEADER_BYTES, LINK_FRAME_TYPE_RESERVED, LinkBuffer, LinkEndpoint, writeLinkFrameHeader } from '../../hal/link.ts';
import { TCP_LINK_PROTOCOL_VERSION, TcpLinkBridge } from '../../hal/link-tcp.ts';

const HOST = '127.0.0.1';
const RING_BYTES = 1 << 16;

/** Everything a test opened, closed after it whatever happens. */
const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const thing of opened.splice(0).reverse()) await thing.close();
});

function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (condition()) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      else setTimeout(check, 1);
    };
    check();
  });
}

function payloadByte(n: number, k: number): number {
  return (Math.imul(n, 131) + Math.imul(k, 7) + (k >> 8)) & 0xff;
}

/** Two storage systems, each with its own LinkBuffer, bridged over loopback. */
async function bridgedPair(options: { retryMs?: number } = {}) {
  const clock = new RealClock();
  const bufferA = LinkBuffer.allocate(RING_BYTES);
  const bufferB = LinkBuffer.allocate(RING_BYTES);
  const listener = await TcpLinkBridge.listen(bufferA, { host: HOST, port: 0 });
  opened.push(listener);
  const connector = TcpLinkBridge.connect(bufferB, { host: HOST, port: listener.port, retryMs: options.retryMs ?? 20 });
  opened.push(connector);
  const firmwareA = new LinkEndpoint(bufferA, 0, clock);
  const firmwareB = new LinkEndpoint(bufferB, 0, clock);
  await listener.waitConnected(10_000);
  await connector.waitConnected(10_000);
  return { listener, connector, firmwareA, firmwareB };
}

/** Sends `count` derived frames from `from` and checks they all arrive at `to`, in order. */
async function exchange(from: LinkEndpoint, to: LinkEndpoint, count: number, base: number, lengthOf: (n: number) => number): Promise<void> {
  let sent = 0;
  let received = 0;
  const problems: string[] = [];
  await until(
    () => {
      while (sent < count) {
        const length = lengthOf(sent);
        for (let k = 0; k < length; k++) from.staging[k] = payloadByte(base + sent, k);
        if (!from.sendStaging(1 + (sent % 11), sent & 0xffff, length)) break;
        sent++;
      }
      for (let type = to.receive(); type !== 0; type = to.receive()) {
        const length = lengthOf(received);
        if (type !== 1 + (received % 11) || to.rxFlags !== (received & 0xffff) || to.rxPayloadLength !== length) {
          problems.push(`frame ${received}: type ${type} flags ${to.rxFlags} length ${to.rxPayloadLength} (${to.rxError})`);
        }
        for (let k = 0; k < length; k++) {
          if (to.rxStaging[k] !== payloadByte(base + received, k)) {
            problems.push(`frame ${received}: byte ${k}`);
            break;
          }
        }
        received++;
      }
      return received >= count || problems.length > 0;
    },
    20_000,
    `${count} frames (${received} so far)`,
  );
  expect(problems).toEqual([]);
  expect(received).toBe(count);
}

describe('TcpLinkBridge', () => {
  test('frames in both directions arrive intact over 127.0.0.1, sizes 0..max', async () => {
    const { listener, connector, firmwareA, firmwareB } = await bridgedPair();
    expect(firmwareA.isUp()).toBe(true);
    expect(firmwareB.isUp()).toBe(true);
    expect(listener.connected && connector.connected).toBe(true);
    const max = firmwareA.payloadMax;
    const lengthOf = (n: number): number => (n === 0 ? 0 : n === 1 ? max : (n * 997) % (max + 1));
    await Promise.all([exchange(firmwareA, firmwareB, 300, 0, lengthOf), exchange(firmwareB, firmwareA, 300, 5000, lengthOf)]);
    const stats = listener.stats();
    expect(stats.framesToPeer).toBe(300);
    expect(stats.framesFromPeer).toBe(300);
    expect(stats.badFrames + stats.headerErrors + stats.protocolErrors).toBe(0);
    expect(connector.stats().framesToPeer).toBe(300);
    expect(firmwareB.stats().rx.badFrames).toBe(0);
  });

  test('the sender sequence number is carried end to end', async () => {
    const { firmwareA, firmwareB } = await bridgedPair();
    for (let n = 0; n < 5; n++) expect(firmwareA.sendStaging(3, 0, 0)).toBe(true);
    const sequences: number[] = [];
    await until(
      () => {
        while (firmwareB.receive() === 3) sequences.push(firmwareB.rxSequence);
        return sequences.length === 5;
      },
      10_000,
      'five frames',
    );
    expect(sequences).toEqual([0, 1, 2, 3, 4]);
  });

  test('a burst larger than both rings is delivered without loss (flow control)', async () => {
    const { firmwareA, firmwareB } = await bridgedPair();
    // 2,000 frames of 1,000 bytes: ~30 times one ring, so senders see their ring full.
    await exchange(firmwareA, firmwareB, 2000, 77, () => 1000);
    expect(firmwareA.stats().tx.sendRejectedFull).toBeGreaterThan(0);
  });

  test('a receiver that stops draining stalls the bridge (socket paused), and nothing is lost', async () => {
    const { connector, firmwareA, firmwareB } = await bridgedPair();
    // Fill A's ring and keep it full for a while without receiving at B: B's ring fills, B's
    // bridge holds a frame and pauses its socket, A's bridge stops draining A's ring.
    let sent = 0;
    const length = 3000;
    const started = Date.now();
    await until(
      () => {
        for (;;) {
          for (let k = 0; k < length; k++) firmwareA.staging[k] = payloadByte(sent, k);
          if (!firmwareA.sendStaging(1 + (sent % 11), sent & 0xffff, length)) break;
          sent++;
        }
        return Date.now() - started > 300;
      },
      5_000,
      'a stalled period',
    );
    expect(firmwareA.stats().tx.sendRejectedFull).toBeGreaterThan(0);
    expect(sent).toBeGreaterThan((2 * RING_BYTES) / length); // both rings (and the socket) hold frames
    expect(connector.stats().stalls).toBeGreaterThan(0); // B's bridge waited for ring space
    // Now drain everything at B, continuing the same numbering, and check every frame.
    let received = 0;
    const problems: string[] = [];
    await until(
      () => {
        for (let type = firmwareB.receive(); type !== 0; type = firmwareB.receive()) {
          if (type !== 1 + (received % 11) || firmwareB.rxPayloadLength !== length || firmwareB.rxStaging[7] !== payloadByte(received, 7)) {
            problems.push(`frame ${received}: type ${type} (${firmwareB.rxError})`);
          }
          received++;
        }
        return received >= sent;
      },
      10_000,
      `${sent} frames`,
    );
    expect(problems).toEqual([]);
    expect(received).toBe(sent);
    expect(firmwareB.stats().rx.badFrames).toBe(0);
  });

  test('killing the connection sets the link DOWN on both sides; it comes back UP after reconnect', async () => {
    const { listener, connector, firmwareA, firmwareB } = await bridgedPair({ retryMs: 250 });
    await exchange(firmwareA, firmwareB, 10, 0, (n) => n * 10);
    listener.breakConnection();
    await until(() => !firmwareA.isUp() && !firmwareB.isUp(), 5_000, 'both sides DOWN');
    expect(firmwareA.sendStaging(1, 0, 0)).toBe(false);
    expect(firmwareA.stats().tx.sendRejectedDown).toBeGreaterThanOrEqual(1);
    expect(listener.connected).toBe(false);
    await until(() => firmwareA.isUp() && firmwareB.isUp(), 10_000, 'both sides UP again');
    expect(listener.stats().connects).toBe(2);
    expect(listener.stats().disconnects).toBe(1);
    expect(connector.stats().connects).toBe(2);
    await exchange(firmwareA, firmwareB, 20, 100, (n) => n * 10);
    await exchange(firmwareB, firmwareA, 20, 200, (n) => n * 10);
  });

  test('a connector started before its listener keeps retrying until it connects', async () => {
    const bufferA = LinkBuffer.allocate(RING_BYTES);
    const bufferB = LinkBuffer.allocate(RING_BYTES);
    // Find a free port, then release it for the listener to take later.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, HOST, resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const connector = TcpLinkBridge.connect(bufferB, { host: HOST, port, retryMs: 20 });
    opened.push(connector);
    const firmwareB = new LinkEndpoint(bufferB, 0, new RealClock());
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(connector.connected).toBe(false);
    expect(firmwareB.isUp()).toBe(false);
    const listener = await TcpLinkBridge.listen(bufferA, { host: HOST, port });
    opened.push(listener);
    await connector.waitConnected(10_000);
    expect(firmwareB.isUp()).toBe(true);
  });

  test('a hostile client sending garbage is dropped and counted; the real link carries on', async () => {
    const { listener, firmwareA, firmwareB } = await bridgedPair();
    const hostile = net.connect({ host: HOST, port: listener.port });
    const closed = new Promise<void>((resolve) => hostile.on('close', () => resolve()));
    hostile.on('error', () => {});
    await new Promise<void>((resolve) => hostile.once('connect', () => resolve()));
    hostile.write(Buffer.from('GET / HTTP/1.1\r\nHost: example\r\n\r\n-- definitely not a link frame --'));
    await closed;
    const stats = listener.stats();
    expect(stats.headerErrors).toBe(1);
    expect(stats.lastError).toMatch(/corrupt frame header from the peer: bad frame magic/);
    expect(listener.connected).toBe(true);
    expect(firmwareA.isUp()).toBe(true);
    await exchange(firmwareB, firmwareA, 20, 0, (n) => n);
    await exchange(firmwareA, firmwareB, 20, 0, (n) => n);
  });

  test('frames with a bad payload checksum or type 0 are dropped and counted; the connection stays', async () => {
    const bufferA = LinkBuffer.allocate(RING_BYTES);
    const listener = await TcpLinkBridge.listen(bufferA, { host: HOST, port: 0 });
    opened.push(listener);
    const firmwareA = new LinkEndpoint(bufferA, 0, new RealClock());
    const peer = net.connect({ host: HOST, port: listener.port });
    peer.on('error', () => {});
    opened.push({ close: () => peer.destroy() });
    await new Promise<void>((resolve) => peer.once('connect', () => resolve()));

    const frame = (type: number, payload: Uint8Array, checksum = crc32c(payload, 0, payload.length)): Buffer => {
      const out = Buffer.alloc(LINK_FRAME_HEADER_BYTES + payload.length);
      writeLinkFrameHeader(out, 0, type, 0, payload.length, 0, 0, checksum);
      out.set(payload, LINK_FRAME_HEADER_BYTES);
      return out;
    };
    const hello = new Uint8Array(8);
    new DataView(hello.buffer).setUint32(0, TCP_LINK_PROTOCOL_VERSION, true);
    new DataView(hello.buffer).setUint32(4, 1000, true);
    const good = Uint8Array.from([1, 2, 3, 4, 5, 6, 7]);
    // One write, split at an awkward place, to exercise reassembly too.
    const stream = Buffer.concat([
      frame(LINK_FRAME_TYPE_RESERVED, hello),
      frame(9, good, 0x12345678), // bad payload checksum
      frame(0, good), // type 0
      frame(9, good),
    ]);
    peer.write(stream.subarray(0, 45));
    await new Promise((resolve) => setTimeout(resolve, 20));
    peer.write(stream.subarray(45));

    let type = 0;
    await until(() => (type = firmwareA.receive()) !== 0, 10_000, 'the good frame');
    expect(type).toBe(9);
    expect(Array.from(firmwareA.rxStaging.subarray(0, firmwareA.rxPayloadLength))).toEqual(Array.from(good));
    expect(firmwareA.receive()).toBe(0);
    const stats = listener.stats();
    expect(stats.connected).toBe(true);
    expect(stats.badFrames).toBe(2);
    expect(stats.framesFromPeer).toBe(1);
    expect(stats.headerErrors + stats.protocolErrors).toBe(0);
  });

  test('a data frame before HELLO is a protocol error and closes the connection', async () => {
    const bufferA = LinkBuffer.allocate(RING_BYTES);
    const listener = await TcpLinkBridge.listen(bufferA, { host: HOST, port: 0 });
    opened.push(listener);
    const peer = net.connect({ host: HOST, port: listener.port });
    peer.on('error', () => {});
    const closed = new Promise<void>((resolve) => peer.on('close', () => resolve()));
    await new Promise<void>((resolve) => peer.once('connect', () => resolve()));
    const out = Buffer.alloc(LINK_FRAME_HEADER_BYTES);
    writeLinkFrameHeader(out, 0, 5, 0, 0, 0, 0, 0);
    peer.write(out);
    await closed;
    expect(listener.stats().protocolErrors).toBe(1);
    expect(listener.stats().lastError).toMatch(/frame type 5 before HELLO/);
    expect(listener.connected).toBe(false);
  });

  test('close() leaves the link DOWN and stops reconnecting', async () => {
    const { listener, connector, firmwareA, firmwareB } = await bridgedPair();
    await connector.close();
    await until(() => !firmwareA.isUp(), 5_000, 'listener side DOWN');
    expect(firmwareB.isUp()).toBe(false);
    expect(listener.connected).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(listener.connected).toBe(false);
  });
});
