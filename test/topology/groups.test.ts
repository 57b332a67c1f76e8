// Several consistency groups at once, end to end (seed 000 §12.8 item 48: "multiple groups
// replicate independently: ordering is guaranteed only within a group"; with §12.2 item 7,
// update numbers of different groups are independent, and item 43 per group).
//
// One primary and one secondary system, two links, two groups each with its own data volumes
// and journal volume: primary group 1 (volumes 1, 2, journal 3) is copied by secondary group 2,
// and primary group 2 (volumes 4, 5, journal 6) by secondary group 1 — the secondary's group
// numbers need not match the primary's (S900 records the partner group). Host writes to the two
// groups are interleaved; each secondary group is observed, restore held at a journal boundary,
// to be a prefix of its own group's writes; one group held does not hold the other; both converge.
// A second test has both groups read over one link, each getting only its own group's journals.

import { afterEach, describe, expect, it } from 'vitest';
import { BLOCK_BYTES } from '../../firmware/config.ts';
import { Topology } from '../../tools/topology.ts';
import type { StorageSystem } from '../../tools/system.ts';
import { ok, prefixProblem, siteConfig, stamp, type WriteRecord } from '../support/two-site.ts';

const VOLUME_BLOCKS = 512;
const JOURNAL_BLOCKS = 1024;
/** Initial-copy journals per group: two 256 KiB volumes in units of the 32 KiB largest transfer. */
const INITIAL_COPY_JOURNALS = 2 * (VOLUME_BLOCKS * BLOCK_BYTES) / (32 * 1024);

interface GroupSpec {
  primaryGroup: number;
  secondaryGroup: number;
  volumes: [number, number];
  journal: number;
}
const GROUPS: GroupSpec[] = [
  { primaryGroup: 1, secondaryGroup: 2, volumes: [1, 2], journal: 3 },
  { primaryGroup: 2, secondaryGroup: 1, volumes: [4, 5], journal: 6 },
];

// The one drive of 4096 blocks holds all six volumes.
const volumes = [
  { number: 1, format: 'OPEN3', capacityBlocks: VOLUME_BLOCKS, drive: 0, startBlock: 0 },
  { number: 4, format: 'OPEN3', capacityBlocks: VOLUME_BLOCKS, drive: 0, startBlock: 512 },
  { number: 2, format: 'OPEN3', capacityBlocks: VOLUME_BLOCKS, drive: 0, startBlock: 1024 },
  { number: 5, format: 'OPEN3', capacityBlocks: VOLUME_BLOCKS, drive: 0, startBlock: 1536 },
  { number: 3, format: 'OPEN3', capacityBlocks: JOURNAL_BLOCKS, drive: 0, startBlock: 2048 },
  { number: 6, format: 'OPEN3', capacityBlocks: JOURNAL_BLOCKS, drive: 0, startBlock: 3072 },
];

/** One group's host writes, stamped (test/support/two-site.ts) with the group's own sequence numbers. */
class GroupWriter {
  readonly writes: WriteRecord[] = [];
  private rng: number;
  constructor(private readonly primary: StorageSystem, readonly spec: GroupSpec, seed: number) {
    this.rng = seed;
  }
  private rand(n: number): number {
    this.rng ^= this.rng << 13; this.rng >>>= 0;
    this.rng ^= this.rng >>> 17;
    this.rng ^= this.rng << 5; this.rng >>>= 0;
    return this.rng % n;
  }
  async writeRandom(maxBlocks: number): Promise<void> {
    const volume = this.spec.volumes[this.rand(2)]!;
    const blocks = 1 + this.rand(maxBlocks);
    const block = this.rand(VOLUME_BLOCKS - blocks + 1);
    const seq = this.writes.length + 1;
    await this.primary.host.writeOk(seq % 2, volume, block, stamp(seq, volume, block, blocks));
    this.writes.push({ seq, volume, block, blocks });
  }
}

async function readGroup(system: StorageSystem, spec: GroupSpec): Promise<Map<number, Uint8Array>> {
  const out = new Map<number, Uint8Array>();
  for (const v of spec.volumes) {
    const bytes = new Uint8Array(VOLUME_BLOCKS * BLOCK_BYTES);
    for (let at = 0; at < bytes.byteLength; at += 32 * 1024) bytes.set(await system.host.readOk(0, v, at / BLOCK_BYTES, 32 * 1024), at);
    out.set(v, bytes);
  }
  return out;
}

let topo: Topology | null = null;
afterEach(async () => {
  if (topo) await topo.powerOff();
  topo = null;
});

interface TwoGroups {
  topo: Topology;
  primary: StorageSystem;
  secondary: StorageSystem;
  writers: GroupWriter[];
}

/**
 * The two systems and both groups, S900–S930 in the seed's order for each group in turn (the
 * secondary started before the primary). `sharedLink`: both groups' journal reads use link 1;
 * otherwise group i reads over link i + 1 (the primary's links on its two adapters, the
 * secondary's both on adapter 0, so one adapter runs both groups' journal reads and restores).
 */
async function bootTwoGroups(runtime: 'deterministic' | 'threaded', seed: number, o: { sharedLink?: boolean; start?: boolean } = {}): Promise<TwoGroups> {
  topo = await Topology.boot(
    [
      siteConfig(1, [2], { volumes, links: [{ number: 1, peerSystem: 2, adapter: 0 }, { number: 2, peerSystem: 2, adapter: 1 }] }),
      siteConfig(2, [1], { volumes, links: [{ number: 1, peerSystem: 1, adapter: 0 }, { number: 2, peerSystem: 1, adapter: 0 }] }),
    ],
    [1, 2].map((n) => ({ a: { system: 1, link: n }, b: { system: 2, link: n }, ringBytes: 1024 * 1024 })),
    { runtime, seed },
  );
  const primary = topo.system(1);
  const secondary = topo.system(2);
  for (const [i, g] of GROUPS.entries()) {
    ok(primary.copy.createGroup(g.primaryGroup, { role: 'primary' }));
    ok(secondary.copy.createGroup(g.secondaryGroup, { role: 'secondary', partnerSystem: 1, partnerGroup: g.primaryGroup, link: o.sharedLink ? 1 : i + 1, readPolicy: 'FIXED', readIntervalMs: 2 }));
    for (const v of g.volumes) {
      ok(primary.copy.registerPair(g.primaryGroup, { primaryVolume: v, secondarySystem: 2, secondaryVolume: v }));
      ok(secondary.copy.registerPair(g.secondaryGroup, { primarySystem: 1, primaryVolume: v, secondaryVolume: v }));
    }
    ok(primary.copy.registerJournalVolume(g.primaryGroup, g.journal));
    ok(secondary.copy.registerJournalVolume(g.secondaryGroup, g.journal));
    if (o.start === false) continue;
    ok(secondary.copy.startCopy(g.secondaryGroup));
    ok(primary.copy.startCopy(g.primaryGroup, { readers: [2] }));
  }
  return { topo, primary, secondary, writers: GROUPS.map((g, i) => new GroupWriter(primary, g, 1000 + 77 * i)) };
}

const pstatus = (t: TwoGroups, g: GroupSpec) => t.primary.copy.groupStatus(g.primaryGroup).data!;
const sstatus = (t: TwoGroups, g: GroupSpec) => t.secondary.copy.groupStatus(g.secondaryGroup).data!;

/** Waits until group g's secondary has restored every journal its primary group created. */
async function caughtUp(t: TwoGroups, g: GroupSpec, what: string): Promise<void> {
  await t.topo.until(() => pstatus(t, g).pairs.every((p) => p.state === 'normal'), `${what}: primary group ${g.primaryGroup} pairs normal`, { steps: 50_000_000, ms: 60_000 });
  const target = pstatus(t, g).nextUpdateNumber - 1;
  await t.topo.until(() => sstatus(t, g).restoredNumber >= target, `${what}: secondary group ${g.secondaryGroup} restored ${target}`, { steps: 50_000_000, ms: 60_000 });
}

/** Holds group g's restore at a journal boundary, checks its image against its own group's writes, lets it go unless `keep`. */
async function observe(t: TwoGroups, index: number, what: string, keep = false): Promise<number> {
  const g = GROUPS[index]!;
  ok(t.secondary.copy.pauseRestore(g.secondaryGroup, true));
  await t.topo.until(() => t.secondary.copy.pauseRestore(g.secondaryGroup, true).data!.atBoundary, `${what}: group ${g.secondaryGroup} paused at a journal boundary`);
  const { k, problem } = prefixProblem(t.writers[index]!.writes, await readGroup(t.secondary, g));
  expect(problem, `${what}: secondary group ${g.secondaryGroup}`).toBeNull();
  if (!keep) ok(t.secondary.copy.pauseRestore(g.secondaryGroup, false));
  return k;
}

describe.each(['deterministic', 'threaded'] as const)('%s runtime: several groups (seed 000 §12.8 item 48)', (runtime) => {
  it('two groups on one pair of systems, writes interleaved: each secondary group is a prefix of its own group\'s writes, one held does not hold the other, update numbers count per group, both converge', async () => {
    const t = await bootTwoGroups(runtime, 48);
    const [a, b] = GROUPS as [GroupSpec, GroupSpec];
    const [wa, wb] = t.writers as [GroupWriter, GroupWriter];
    for (const g of GROUPS) await caughtUp(t, g, 'initial copy');
    // Each group numbered its own initial-copy journals from 1.
    for (const g of GROUPS) {
      expect(pstatus(t, g).nextUpdateNumber).toBe(INITIAL_COPY_JOURNALS + 1);
      expect(sstatus(t, g).restoredNumber).toBe(INITIAL_COPY_JOURNALS);
    }

    // Interleaved writes, 3 to group a for every 2 to group b; each group observed on its own.
    const last = [0, 0];
    for (let i = 0; i < 40; i++) {
      if (i % 5 < 3) await wa.writeRandom(16);
      else await wb.writeRandom(16);
      if (i % 4 === 3) {
        const index = (i >> 2) % 2;
        const k = await observe(t, index, `write ${i}`);
        expect(k).toBeGreaterThanOrEqual(last[index]!);
        last[index] = k;
      }
    }
    expect([wa.writes.length, wb.writes.length]).toEqual([24, 16]);
    expect(pstatus(t, a).nextUpdateNumber).toBe(INITIAL_COPY_JOURNALS + 24 + 1);
    expect(pstatus(t, b).nextUpdateNumber).toBe(INITIAL_COPY_JOURNALS + 16 + 1);

    // Group a held: group b goes on to the end while a stays exactly where it was held.
    const heldAt = await observe(t, 0, 'group a held', true);
    const heldNumber = sstatus(t, a).restoredNumber;
    for (let i = 0; i < 12; i++) {
      await wa.writeRandom(8);
      await wb.writeRandom(8);
    }
    await caughtUp(t, b, 'group b while a is held');
    expect(sstatus(t, b).restoredNumber).toBe(INITIAL_COPY_JOURNALS + 28);
    expect(sstatus(t, a).restoredNumber).toBe(heldNumber);
    const stillHeld = prefixProblem(wa.writes, await readGroup(t.secondary, a));
    expect(stillHeld).toEqual({ k: heldAt, problem: null });
    expect(prefixProblem(wb.writes, await readGroup(t.secondary, b))).toEqual({ k: wb.writes.length, problem: null });
    ok(t.secondary.copy.pauseRestore(a.secondaryGroup, false));

    // Both converge: each secondary volume equals its primary volume, and the numbers are each group's own.
    for (const g of GROUPS) await caughtUp(t, g, 'the end');
    for (const [index, g] of GROUPS.entries()) {
      const writer = t.writers[index]!;
      const created = INITIAL_COPY_JOURNALS + writer.writes.length;
      expect(pstatus(t, g)).toMatchObject({ nextUpdateNumber: created + 1, journalsCreated: created, state: 'normal' });
      expect(sstatus(t, g)).toMatchObject({ restoredNumber: created, receivedNumber: created, journalsRestored: created, state: 'normal' });
      const primaryImage = await readGroup(t.primary, g);
      const secondaryImage = await readGroup(t.secondary, g);
      for (const v of g.volumes) expect(Buffer.compare(Buffer.from(secondaryImage.get(v)!), Buffer.from(primaryImage.get(v)!)), `volume ${v}`).toBe(0);
      expect(prefixProblem(writer.writes, secondaryImage)).toEqual({ k: writer.writes.length, problem: null });
    }
    expect(wa.writes.length).toBe(36);
    expect(wb.writes.length).toBe(28);
  });
});

describe('several groups over one link', () => {
  // A response is matched to its command by link and request id. Request ids used to be counted
  // from 1 by each group's journal read, so two groups reading over one link could both await id
  // n, and the response to one was handed to the lower-numbered group, which stored the other
  // group's journals as its own (restore: "journal 1 is for primary volume 1, which no pair of
  // the group copies"; both groups abnormal). Request ids now name their group. Forced here: the
  // groups' reads start 1 ms apart over a link with a 5 ms delay, so both have their first
  // command in flight when the first response comes back.
  it('two secondary groups whose journal reads share a link each get their own group\'s journals', async () => {
    const t = await bootTwoGroups('deterministic', 48, { sharedLink: true, start: false });
    t.topo.link(1, 2).setDelay(5);
    const [a, b] = GROUPS as [GroupSpec, GroupSpec];
    for (const g of GROUPS) ok(t.primary.copy.startCopy(g.primaryGroup, { readers: [2] }));
    ok(t.secondary.copy.startCopy(a.secondaryGroup)); // reads primary group 1: its command 1 reaches the primary first
    await t.topo.pass(1);
    ok(t.secondary.copy.startCopy(b.secondaryGroup)); // reads primary group 2: its command 1 is in flight when a's answer arrives
    await t.topo.pass(100);
    expect([sstatus(t, a).state, sstatus(t, b).state]).toEqual(['normal', 'normal']);
    for (const g of GROUPS) await caughtUp(t, g, 'initial copy over one link');
    for (let i = 0; i < 10; i++) for (const w of t.writers) await w.writeRandom(8);
    for (const g of GROUPS) await caughtUp(t, g, 'host writes over one link');
    for (const [index, g] of GROUPS.entries()) {
      const primaryImage = await readGroup(t.primary, g);
      const secondaryImage = await readGroup(t.secondary, g);
      for (const v of g.volumes) expect(Buffer.compare(Buffer.from(secondaryImage.get(v)!), Buffer.from(primaryImage.get(v)!)), `volume ${v}`).toBe(0);
      expect(prefixProblem(t.writers[index]!.writes, secondaryImage)).toEqual({ k: 10, problem: null });
      expect(sstatus(t, g)).toMatchObject({ state: 'normal', restoredNumber: INITIAL_COPY_JOURNALS + 10 });
    }
  });
});
