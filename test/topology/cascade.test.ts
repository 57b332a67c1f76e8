// Seed 000 embodiments 2 and 3 (seed 002 §10.2–§10.3): an upstream system C writes every host
// write synchronously to the primary A's volume through A's host port; A journals it; B pulls
// and restores. In embodiment 3 A's volume has no storage at all: A keeps only journals.

import { afterEach, describe, expect, it } from 'vitest';
import { BLOCK_BYTES, type SystemConfig } from '../../firmware/config.ts';
import { PairState } from '../../firmware/structs/pair-info.ts';
import { VolumeState } from '../../firmware/structs/volume-info.ts';
import { Topology } from '../../tools/topology.ts';
import { ok, siteConfig, stamp } from '../support/two-site.ts';

let topo: Topology | null = null;
afterEach(async () => {
  if (topo) await topo.powerOff();
  topo = null;
});

async function cascade(runtime: 'threaded' | 'deterministic', virtual: boolean): Promise<Topology> {
  const a = siteConfig(1, [2]);
  if (virtual) a.volumes = a.volumes.map((v) => (v.number === 1 ? { ...v, virtual: true } : v));
  const b = siteConfig(2, [1]);
  const c: SystemConfig = { ...siteConfig(3, []), name: 'upstream' };
  topo = await Topology.boot([a, b, c], [{ a: { system: 1, link: 1 }, b: { system: 2, link: 1 }, ringBytes: 1024 * 1024 }], { runtime, seed: 41 }, [{ from: 3, to: 1 }]);
  const [primary, secondary, upstream] = [topo.system(1), topo.system(2), topo.system(3)];
  ok(primary.copy.createGroup(1, { role: 'primary' }));
  ok(secondary.copy.createGroup(1, { role: 'secondary', partnerSystem: 1, partnerGroup: 1, link: 1 }));
  ok(primary.copy.registerPair(1, { primaryVolume: 1, secondarySystem: 2, secondaryVolume: 1 }));
  ok(secondary.copy.registerPair(1, { primarySystem: 1, primaryVolume: 1, secondaryVolume: 1 }));
  ok(primary.copy.registerJournalVolume(1, 3));
  ok(secondary.copy.registerJournalVolume(1, 3));
  ok(secondary.copy.startCopy(1));
  if (virtual) {
    expect(primary.copy.startCopy(1).reason).toContain('has no storage, so initial copy cannot read it');
    ok(primary.copy.startCopy(1, { noCopy: true }));
  } else {
    ok(primary.copy.startCopy(1));
  }
  ok(upstream.copy.registerSyncPair(1, 1, 1, (s) => upstream.shared.remotes?.some((r) => r.system === s) ?? false));
  return topo;
}

async function drained(t: Topology): Promise<void> {
  const primary = t.system(1);
  const secondary = t.system(2);
  await t.until(() => primary.copy.groupStatus(1).data!.pairs.every((p) => p.state === 'normal'), 'primary pairs normal');
  const target = primary.copy.groupStatus(1).data!.nextUpdateNumber - 1;
  await t.until(() => secondary.copy.groupStatus(1).data!.restoredNumber >= target, 'secondary drained');
}

describe.each(['deterministic', 'threaded'] as const)('%s runtime', (runtime) => {
  it('embodiment 2: a write to C is acknowledged only after A holds it; B converges to C and A', async () => {
    const t = await cascade(runtime, false);
    const [primary, secondary, upstream] = [t.system(1), t.system(2), t.system(3)];
    for (let i = 1; i <= 20; i++) {
      const block = (i * 37) % 400;
      const data = stamp(i, 1, block, 8);
      await upstream.host.writeOk(i % 2, 1, block, data);
      // Synchronous: the primary already has it when the upstream host is answered.
      expect(await primary.host.readOk(0, 1, block, data.byteLength)).toEqual(data);
    }
    await drained(t);
    const size = 512 * BLOCK_BYTES;
    const org = await upstream.host.readOk(0, 1, 0, 32 * 1024);
    expect(await primary.host.readOk(0, 1, 0, 32 * 1024)).toEqual(org);
    expect(await secondary.host.readOk(0, 1, 0, 32 * 1024)).toEqual(org);
    for (let at = 0; at < size; at += 32 * 1024) {
      const want = await upstream.host.readOk(0, 1, at / BLOCK_BYTES, 32 * 1024);
      expect(await secondary.host.readOk(1, 1, at / BLOCK_BYTES, 32 * 1024), `COPY1 at ${at}`).toEqual(want);
    }
    expect(primary.copy.groupStatus(1).data!.journalsCreated).toBeGreaterThanOrEqual(20);
  });

  it('embodiment 3: A keeps only journals (its volume has no storage); after C fails, B drains A and holds the latest data', async () => {
    const t = await cascade(runtime, true);
    const [primary, secondary, upstream] = [t.system(1), t.system(2), t.system(3)];
    const written = new Map<number, Uint8Array>();
    for (let i = 1; i <= 20; i++) {
      const block = ((i * 53) % 60) * 8;
      const data = stamp(i, 1, block, 8);
      await upstream.host.writeOk(i % 2, 1, block, data);
      written.set(block, data);
    }
    const read = await primary.host.read(0, 1, 0, 4096);
    expect(read.reasonText).toBe('logical volume has no storage device allocated');
    expect(primary.maintenance.volume(1).data!.drive).toBeNull();
    await upstream.powerOff(); // the upstream site is lost
    topo!.systems.delete(3);
    await drained(t);
    for (const [block, data] of written) expect(await secondary.host.readOk(0, 1, block, data.byteLength), `COPY1 block ${block}`).toEqual(data);
  });
});

describe('synchronous pairs to one system fail together', () => {
  it('a write the primary refuses suspends every synchronous pair to it: later writes to the other volume are not forwarded, so the primary never holds a write without the one before it', async () => {
    const t = await cascade('deterministic', false);
    const [primary, upstream] = [t.system(1), t.system(3)];
    ok(upstream.copy.registerSyncPair(2, 1, 2, (s) => upstream.shared.remotes?.some((r) => r.system === s) ?? false));
    const pairOf = (v: number): number => upstream.mem.volumes.pairNumber(v);
    await upstream.host.writeOk(0, 1, 10, stamp(1, 1, 10, 2));
    expect(await primary.host.readOk(0, 1, 10, 2 * BLOCK_BYTES)).toEqual(stamp(1, 1, 10, 2));
    // The primary's volume 2 fails: the forwarded write is refused; the upstream still acknowledges it.
    primary.mem.volumes.setState(2, VolumeState.ABNORMAL);
    await upstream.host.writeOk(1, 2, 20, stamp(2, 2, 20, 1));
    expect([upstream.mem.pairs.state(pairOf(1)), upstream.mem.pairs.state(pairOf(2))]).toEqual([PairState.ABNORMAL, PairState.ABNORMAL]);
    // Write 3 goes to volume 1, whose own copy still works: it is kept for a later copy, not forwarded.
    const before = await primary.host.readOk(0, 1, 30, BLOCK_BYTES);
    await upstream.host.writeOk(0, 1, 30, stamp(3, 1, 30, 1));
    expect(await primary.host.readOk(0, 1, 30, BLOCK_BYTES)).toEqual(before);
    expect(await upstream.host.readOk(0, 1, 30, BLOCK_BYTES)).toEqual(stamp(3, 1, 30, 1));
  });
});
