// Journal read policies (claims 1–6, S1760) do not change what the secondaries end up with:
// seed 002 §15 item 38, "every read policy converges to the same final auxiliary images". One
// primary and seven secondaries in one multi-target topology (seed 002 embodiment 4), each reading
// with another policy — IMMEDIATE, FIXED, RECEIVED, TRAFFIC, OWN_USAGE, LOAD, PRIMARY_USAGE —
// under the same write history: writes before the start, during initial copy and after it, with
// time passing between them so the schedules differ. Every secondary stays a prefix of the
// primary's writes after initial copy (seed 000 §12.8 item 43), and all end equal to the primary
// and to each other. Deterministic runtime (eight systems are too many threads for a quick test).

import { afterEach, describe, expect, it } from 'vitest';
import type { GroupOptions } from '../../firmware/copy-commands.ts';
import { READ_POLICY_NAME, ReadPolicy } from '../../firmware/structs/group-info.ts';
import { DATA_VOLUMES, bootSites, converge, ok, prefixProblem, readVolumes, type Sites } from '../support/two-site.ts';

const POLICIES = ['IMMEDIATE', 'FIXED', 'RECEIVED', 'TRAFFIC', 'OWN_USAGE', 'LOAD', 'PRIMARY_USAGE'] as const satisfies ReadonlyArray<NonNullable<GroupOptions['readPolicy']>>;

let current: Sites | null = null;
afterEach(async () => {
  if (current) await current.topo.powerOff();
  current = null;
});

describe('read policies (seed 002 §15 item 38)', () => {
  it('seven secondaries, one per read policy, under one write history: each a prefix after initial copy, all equal to the primary and to each other at the end', async () => {
    expect(new Set(POLICIES)).toEqual(new Set(Object.keys(ReadPolicy))); // every policy the firmware has
    const s = await bootSites({
      runtime: 'deterministic', seed: 38, secondaries: POLICIES.length, start: false,
      overrides: { readersMax: 8 },
      // Small batches, so the policies that look at what a batch carried see full and partial ones.
      secondaryGroup: { readIntervalMs: 4, batchJournalsMax: 4 },
      secondaryGroups: POLICIES.map((readPolicy) => ({ readPolicy })),
    });
    current = s;
    s.secondaries.forEach((secondary, i) => expect(secondary.copy.groupStatus(1).data!.readPolicy).toBe(READ_POLICY_NAME[ReadPolicy[POLICIES[i]!]]));

    for (let i = 0; i < 15; i++) await s.history.writeRandom(16);
    s.start();
    for (let i = 0; i < 30; i++) {
      await s.history.writeRandom(16);
      await s.topo.pass(i % 4); // initial copy, reads and restores between the writes
    }
    for (const [i, secondary] of s.secondaries.entries()) await converge(s, secondary, `${POLICIES[i]}: initial copy`);

    const last = s.secondaries.map(() => 0);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 12; i++) {
        await s.history.writeRandom(12);
        await s.topo.pass((i * 7) % 5);
      }
      // Each secondary held at a journal boundary in turn (starting with another one each round):
      // a prefix of the write order, never going back.
      for (let j = 0; j < POLICIES.length; j++) {
        const i = (j + 3 * round) % POLICIES.length;
        const secondary = s.secondaries[i]!;
        ok(secondary.copy.pauseRestore(1, true));
        await s.topo.until(() => secondary.copy.pauseRestore(1, true).data!.atBoundary, `${POLICIES[i]}: restore paused at a journal boundary`);
        const { k, problem } = prefixProblem(s.history.writes, await readVolumes(secondary));
        expect(problem, `${POLICIES[i]}, round ${round}`).toBeNull();
        expect(k, `${POLICIES[i]}, round ${round}`).toBeGreaterThanOrEqual(last[i]!);
        last[i] = k;
        ok(secondary.copy.pauseRestore(1, false));
      }
    }

    for (const [i, secondary] of s.secondaries.entries()) await converge(s, secondary, POLICIES[i]);
    const primary = await readVolumes(s.primary);
    const lastNumber = s.primary.copy.groupStatus(1).data!.nextUpdateNumber - 1;
    for (const [i, secondary] of s.secondaries.entries()) {
      const image = await readVolumes(secondary);
      for (const v of DATA_VOLUMES) expect(Buffer.compare(Buffer.from(image.get(v)!), Buffer.from(primary.get(v)!)), `${POLICIES[i]}: volume ${v}`).toBe(0);
      expect(prefixProblem(s.history.writes, image)).toEqual({ k: s.history.writes.length, problem: null });
      expect(secondary.copy.groupStatus(1).data).toMatchObject({ state: 'normal', restoredNumber: lastNumber, receivedNumber: lastNumber });
    }
    // The schedules did differ: the secondaries sent different numbers of journal read commands.
    const commands = s.secondaries.map((_, i) => s.topo.link(1, i + 2).stats().bToA.framesSent);
    expect(new Set(commands).size, `journal read commands per policy: ${commands.join(', ')}`).toBeGreaterThan(1);
  });
});
