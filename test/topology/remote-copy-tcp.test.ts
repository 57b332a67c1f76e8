// The same remote copy with the primary and the secondary joined by TCP (127.0.0.1) instead of
// a shared link buffer: each system has its own link buffer and a bridge carries the frames over
// a socket, as when each storage system runs in its own process.

import { afterEach, expect, it } from 'vitest';
import { bootSites, checkPrefix, converge, type Sites } from '../support/two-site.ts';

let sites: Sites | null = null;
afterEach(async () => {
  if (sites) await sites.topo.powerOff();
  sites = null;
});

it('two sites over TCP: initial copy under host writes, prefix-consistent checks, exact convergence', async () => {
  sites = await bootSites({ runtime: 'threaded', transport: 'tcp', seed: 31, start: false });
  for (let i = 0; i < 10; i++) await sites.history.writeRandom();
  sites.start();
  for (let i = 0; i < 30; i++) await sites.history.writeRandom();
  await converge(sites, sites.secondaries[0]!, 'initial copy over TCP');
  for (let i = 0; i < 30; i++) await sites.history.writeRandom();
  const k = await checkPrefix(sites, sites.secondaries[0]!);
  expect(k).toBeGreaterThan(0);
  await converge(sites, sites.secondaries[0]!, 'after more writes');
  const status = sites.secondaries[0]!.copy.groupStatus(1).data!;
  expect(status.journalsRestored).toBe(sites.primary.copy.groupStatus(1).data!.nextUpdateNumber - 1);
});
