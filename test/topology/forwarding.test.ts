// Setting up remote copy entirely from the primary: the secondary's part of each step is
// forwarded over the link (seed 000 S900 item 2, S910 step 3, S920 item 2, S930 step 3), carried
// out by the secondary, and answered with its status and reason.

import { afterEach, describe, expect, it } from 'vitest';
import type { MaintResult } from '../../firmware/maintenance.ts';
import { Topology } from '../../tools/topology.ts';
import type { StorageSystem } from '../../tools/system.ts';
import { History, ok, siteConfig } from '../support/two-site.ts';

let topo: Topology | null = null;
afterEach(async () => {
  if (topo) await topo.powerOff();
  topo = null;
});

type ForwardRequest = Parameters<StorageSystem['copy']['forward']>[1];

async function forwarded(t: Topology, request: ForwardRequest): Promise<MaintResult<{ value: number }>> {
  const primary = t.system(1);
  const sent = primary.copy.forward(2, request);
  if (sent.status !== 'ok') return { status: sent.status, reason: sent.reason };
  let answer: MaintResult<{ value: number }> | null = null;
  await t.until(() => (answer = primary.copy.forwardResult(2)) !== null, `answer to ${request.op}`);
  return answer!;
}

describe.each(['deterministic', 'threaded'] as const)('%s runtime', (runtime) => {
  it('the primary sets up both sides by forwarding; copying then converges', async () => {
    topo = await Topology.boot([siteConfig(1, [2]), siteConfig(2, [1])], [{ a: { system: 1, link: 1 }, b: { system: 2, link: 1 }, ringBytes: 1024 * 1024 }], { runtime, seed: 43 });
    const [primary, secondary] = [topo.system(1), topo.system(2)];
    ok(primary.copy.createGroup(1, { role: 'primary' }));
    ok(await forwarded(topo, { op: 'createGroup', group: 5, primaryGroup: 1 }));
    const g = secondary.copy.groupStatus(5).data!;
    expect([g.state, g.role]).toEqual(['normal', 'secondary']);
    expect(secondary.maintenance.readControlBlock('group', 5).data).toMatchObject({ partner_system: 1, partner_group: 1, link_number: 1 });
    for (const v of [1, 2]) {
      ok(primary.copy.registerPair(1, { primaryVolume: v, secondarySystem: 2, secondaryVolume: v }));
      const r = ok(await forwarded(topo, { op: 'registerPair', group: 5, primaryVolume: v, secondaryVolume: v }));
      expect(secondary.maintenance.volume(v).data!.state).toBe('secondary');
      expect(secondary.maintenance.volume(v).data!.pairNumber).toBe(r.data!.value);
    }
    ok(primary.copy.registerJournalVolume(1, 3));
    ok(await forwarded(topo, { op: 'registerJournalVolume', group: 5, volume: 3 }));
    ok(await forwarded(topo, { op: 'startCopy', group: 5 }));
    ok(primary.copy.startCopy(1));
    const history = new History(primary);
    for (let i = 0; i < 20; i++) await history.writeRandom();
    await topo.until(() => primary.copy.groupStatus(1).data!.pairs.every((p) => p.state === 'normal'), 'initial copy');
    const target = primary.copy.groupStatus(1).data!.nextUpdateNumber - 1;
    await topo.until(() => secondary.copy.groupStatus(5).data!.restoredNumber >= target, 'restored');
    for (const v of [1, 2]) {
      for (let at = 0; at < 512; at += 64) expect(await secondary.host.readOk(0, v, at, 32 * 1024)).toEqual(await primary.host.readOk(0, v, at, 32 * 1024));
    }
  });

  it('a forwarded instruction the secondary refuses comes back with its reason and changes nothing there; an unknown system or a cut link is refused on the primary', async () => {
    topo = await Topology.boot([siteConfig(1, [2]), siteConfig(2, [1])], [{ a: { system: 1, link: 1 }, b: { system: 2, link: 1 }, ringBytes: 1024 * 1024 }], { runtime, seed: 47 });
    const [primary, secondary] = [topo.system(1), topo.system(2)];
    ok(primary.copy.createGroup(1, { role: 'primary' }));
    expect(primary.copy.forward(9, { op: 'startCopy', group: 1 }).reason).toBe('unknown system 9: no link to it is configured');
    ok(await forwarded(topo, { op: 'createGroup', group: 1, primaryGroup: 1 }));
    expect((await forwarded(topo, { op: 'createGroup', group: 1, primaryGroup: 1 })).reason).toContain('group 1 is already in use');
    // Capacity mismatch: primary volume 1 (512 blocks) against secondary volume 3 (1024 blocks).
    const before = secondary.maintenance.volume(3).data;
    const refused = await forwarded(topo, { op: 'registerPair', group: 1, primaryVolume: 1, secondaryVolume: 3 });
    expect(refused.status).toBe('rejected');
    expect(refused.reason).toBe('capacity mismatch: volume 3 has 1024 blocks, the primary volume 512');
    expect(secondary.maintenance.volume(3).data).toEqual(before);
    expect(secondary.copy.groupStatus(1).data!.pairs).toEqual([]);
    topo.link(1, 2).cut();
    expect((await forwarded(topo, { op: 'startCopy', group: 1 })).reason).toBe('link 1 is down');
  });
});
