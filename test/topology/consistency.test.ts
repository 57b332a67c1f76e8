// End-to-end consistency of journal remote copy under restore deferral and injected failures, one
// primary and one secondary (test/support/two-site.ts):
//   - seed 000 §12.7 item 41 (claim 14): restore defers while more than three quarters of the
//     adapter's host-command tasks are busy — it applies nothing then, and goes on at exactly three
//     quarters — and the deferral does not change the final secondary contents;
//   - seed 000 §12.8 item 44: the host writes data1 to LV1, then data2 to LV2, again and again;
//     with link delay, link cut and restore, corrupted frames in both directions and restore held
//     and let go between transfers and restores, no observed secondary state holds data2 without
//     data1 (and every observed state is a prefix of the write order, item 43).
// Deterministic runtime; the threaded runtime too where the fault can be injected from outside the
// workers (everything but the corrupted frames).

import { afterEach, describe, expect, it } from 'vitest';
import { BLOCK_BYTES } from '../../firmware/config.ts';
import { Cache } from '../../firmware/cache.ts';
import { RESTORE_DEFER_MS, RESTORE_IDLE_MS } from '../../firmware/restore.ts';
import { GroupService, TaskF64, TaskState, TaskWait, TaskWord as T } from '../../firmware/structs/task.ts';
import { HostOp, ScsiStatus } from '../../hal/host-port.ts';
import type { LinkEndpoint } from '../../hal/link.ts';
import type { StorageSystem } from '../../tools/system.ts';
import {
  DATA_VOLUMES, JOURNAL_BLOCKS, JOURNAL_VOLUME, VOLUME_BLOCKS, bootSites, converge, ok, prefixOf, prefixProblem, readVolumes, stamp, type History, type Sites, type WriteRecord,
} from '../support/two-site.ts';

let current: Sites | null = null;
/** Undone before power-off, which waits for every host command: locks a failed test left held. */
const unlocks: Array<() => void> = [];
afterEach(async () => {
  for (const unlock of unlocks.splice(0)) unlock();
  if (current) await current.topo.powerOff();
  current = null;
});

async function sites(o: Parameters<typeof bootSites>[0]): Promise<Sites> {
  current = await bootSites(o);
  return current;
}

const status = (system: StorageSystem) => system.copy.groupStatus(1).data!;
const lastCreated = (s: Sites): number => status(s.primary).nextUpdateNumber - 1;

// ---------------------------------------------------------------------------------------------
// Seed 000 §12.7 item 41: deferring restore.

/** A volume no pair copies (drive 0, after the journal volume): host reads of it keep tasks busy. */
const SPARE_VOLUME = 4;
const withSpareVolume = {
  volumes: [
    { number: 1, format: 'OPEN3', capacityBlocks: VOLUME_BLOCKS, drive: 0, startBlock: 0 },
    { number: 2, format: 'OPEN3', capacityBlocks: VOLUME_BLOCKS, drive: 0, startBlock: 1024 },
    { number: JOURNAL_VOLUME, format: 'OPEN3', capacityBlocks: JOURNAL_BLOCKS, drive: 0, startBlock: 2048 },
    { number: SPARE_VOLUME, format: 'OPEN3', capacityBlocks: 512, drive: 0, startBlock: 2048 + JOURNAL_BLOCKS },
  ],
};

/** Host-command tasks of channel adapter `adapter` that are not free. */
function busyHostTasks(system: StorageSystem, adapter: number): number {
  const { mem } = system;
  let n = 0;
  for (let task = 0; task < mem.config.hostQueueDepth; task++) if (mem.tasks[mem.taskWord(adapter, task) + T.STATE] !== TaskState.FREE) n++;
  return n;
}

/**
 * `count` host reads of the spare volume on port 0 (served by channel adapter 0, which also runs
 * the group's journal read and restore) that stay in their tasks: the cache slot they need is
 * locked, as if another command were moving its data. release() unlocks it and collects them.
 */
function heldReads(s: Sites, system: StorageSystem, count: number, slotNumber: number): { release(): Promise<void> } {
  const cache = new Cache(system.mem);
  const cacheSlot = cache.obtain(SPARE_VOLUME, slotNumber, { value: false });
  expect(cacheSlot).toBeGreaterThanOrEqual(0);
  expect(cache.tryLockSlot(cacheSlot)).toBe(true);
  let locked = true;
  const unlock = (): void => {
    if (!locked) return;
    locked = false;
    cache.unlockSlot(cacheSlot);
    cache.unpin(cacheSlot);
  };
  unlocks.push(unlock);
  const ports = system.host.ports;
  const blocksPerSlot = system.config.slotBytes / BLOCK_BYTES;
  const slots = Array.from({ length: count }, (_, i) => {
    const slot = ports.claim(0);
    expect(slot).toBeGreaterThanOrEqual(0);
    ports.submit(0, slot, HostOp.READ, SPARE_VOLUME, slotNumber * blocksPerSlot + i, BLOCK_BYTES, 9000 + i, 0);
    return slot;
  });
  return {
    async release() {
      unlock();
      for (const slot of slots) {
        await s.topo.until(() => ports.isComplete(0, slot), 'a held read completes');
        expect(ports.result(0, slot).status).toBe(ScsiStatus.GOOD);
        ports.release(0, slot);
      }
    },
  };
}

interface DeferralRun {
  images: Map<number, Uint8Array>;
  primary: Map<number, Uint8Array>;
  /** Restored update number when restore was let go, and after 40 ms with more than 3/4 of the tasks busy. */
  before: number;
  whileDeferred: number;
  target: number;
}

/**
 * 30 journals stored on the secondary with restore paused, then restore let go — with `defer`,
 * while 7 of the 8 host-command tasks of its adapter are busy for 40 ms, then 6 of 8 (exactly
 * three quarters) until every journal is restored, then none.
 */
async function deferralRun(runtime: 'deterministic' | 'threaded', defer: boolean): Promise<DeferralRun> {
  const s = await sites({ runtime, seed: 41, overrides: withSpareVolume, secondaryGroup: { readPolicy: 'FIXED', readIntervalMs: 2 } });
  const secondary = s.secondaries[0]!;
  await converge(s, secondary, 'initial copy');
  ok(secondary.copy.pauseRestore(1, true));
  for (let i = 0; i < 30; i++) await s.history.writeRandom(8);
  const target = lastCreated(s);
  await s.topo.until(() => status(secondary).receivedNumber >= target, 'every journal received');
  const before = status(secondary).restoredNumber;
  expect(target - before).toBe(30);
  let whileDeferred = -1;
  if (defer) {
    const six = heldReads(s, secondary, 6, 0);
    const seventh = heldReads(s, secondary, 1, 1);
    await s.topo.until(() => busyHostTasks(secondary, 0) === 7, '7 host tasks busy');
    ok(secondary.copy.pauseRestore(1, false));
    const restoreTask = secondary.mem.taskWord(0, secondary.mem.serviceTask(1, GroupService.RESTORE));
    let aheadMsMax = 0;
    let sampling = false;
    const sample = (): void => {
      if (!sampling) return;
      // Each time restore looks it yields RESTORE_DEFER_MS (an idle restore would sleep 5 ms).
      expect(secondary.mem.tasks[restoreTask + T.STATE]).toBe(TaskState.WAITING);
      expect(secondary.mem.tasks[restoreTask + T.WAIT]).toBe(TaskWait.TIMER);
      aheadMsMax = Math.max(aheadMsMax, secondary.mem.taskFloats[(restoreTask >> 1) + TaskF64.WAKE_MS]! - s.topo.deterministic!.clock.nowMs());
    };
    for (let ms = 0; ms < 40; ms++) {
      // From the time the paused restore's last idle sleep (RESTORE_IDLE_MS) has surely ended.
      sampling = runtime === 'deterministic' && ms > RESTORE_IDLE_MS;
      if (runtime === 'deterministic') {
        const end = s.topo.deterministic!.clock.nowMs() + 1;
        await s.topo.until(() => (sample(), s.topo.deterministic!.clock.nowMs() >= end), '1 ms, sampled at every step');
      } else {
        await s.topo.pass(1);
      }
      expect(status(secondary).restoredNumber).toBe(before); // claim 14: nothing applied while more than 3/4 are busy
    }
    whileDeferred = status(secondary).restoredNumber;
    expect(busyHostTasks(secondary, 0)).toBe(7);
    if (runtime === 'deterministic') {
      expect(aheadMsMax).toBeGreaterThan(RESTORE_DEFER_MS - 0.1);
      expect(aheadMsMax).toBeLessThanOrEqual(RESTORE_DEFER_MS);
    }
    await seventh.release();
    expect(busyHostTasks(secondary, 0)).toBe(6);
    // Exactly three quarters busy: restore goes on, while those six reads still wait.
    await s.topo.until(() => status(secondary).restoredNumber >= target, 'restore at three quarters busy');
    expect(busyHostTasks(secondary, 0)).toBe(6);
    await six.release();
  } else {
    ok(secondary.copy.pauseRestore(1, false));
    await s.topo.pass(40);
    // Deterministic virtual time: undeferred, 40 ms restore all 30 (timing is not asserted threaded).
    if (runtime === 'deterministic') expect(status(secondary).restoredNumber).toBe(target);
  }
  await converge(s, secondary, defer ? 'after deferral' : 'without deferral');
  expect(prefixOf(s.history, await readVolumes(secondary))).toBe(s.history.writes.length);
  const run = { images: await readVolumes(secondary), primary: await readVolumes(s.primary), before, whileDeferred, target };
  await s.topo.powerOff();
  current = null;
  return run;
}

/** The images of the run without deferral (deterministic runtime; the same write history gives the same images on either runtime). */
let plainRun: DeferralRun | null = null;
async function plain(): Promise<DeferralRun> {
  plainRun ??= await deferralRun('deterministic', false);
  return plainRun;
}

describe.each(['deterministic', 'threaded'] as const)('%s runtime: restore deferral (seed 000 §12.7 item 41, claim 14)', (runtime) => {
  it('restore applies nothing while more than 3/4 of its adapter\'s host tasks are busy, goes on at 3/4, and ends with the same images as without deferral and as the primary', async () => {
    const undeferred = await plain();
    const deferred = await deferralRun(runtime, true);
    expect(deferred.whileDeferred).toBe(deferred.before);
    expect(deferred.target).toBe(undeferred.target); // the same write history on both runs
    for (const v of DATA_VOLUMES) {
      expect(Buffer.compare(Buffer.from(deferred.images.get(v)!), Buffer.from(undeferred.images.get(v)!)), `volume ${v}: deferred vs not deferred`).toBe(0);
      expect(Buffer.compare(Buffer.from(deferred.images.get(v)!), Buffer.from(deferred.primary.get(v)!)), `volume ${v}: deferred vs primary`).toBe(0);
      expect(Buffer.compare(Buffer.from(undeferred.primary.get(v)!), Buffer.from(deferred.primary.get(v)!)), `volume ${v}: primaries of both runs`).toBe(0);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Seed 000 §12.8 item 44: cross-volume dependency under failures.

interface Round {
  data1: WriteRecord; // to LV1
  data2: WriteRecord; // to LV2, after data1 was acknowledged
}

/** The sequence number each block of a volume image holds (word 0 of a stamped block). */
function seqs(image: Uint8Array): Int32Array {
  const words = new Int32Array(image.buffer, image.byteOffset, image.byteLength / 4);
  return Int32Array.from({ length: VOLUME_BLOCKS }, (_, b) => words[b * 128]!);
}

/**
 * Item 44 literally: for every round whose data2 shows anywhere on LV2, every block data1 wrote
 * on LV1 holds data1 or a later write. `shown`: the rounds whose data2 shows.
 */
function dependencyProblem(rounds: Round[], volumes: Map<number, Uint8Array>): { shown: number; problem: string | null } {
  const lv1 = seqs(volumes.get(1)!);
  const lv2 = new Set(seqs(volumes.get(2)!));
  let shown = 0;
  let problem: string | null = null;
  for (const [i, r] of rounds.entries()) {
    if (!lv2.has(r.data2.seq)) continue;
    shown++;
    for (let b = r.data1.block; b < r.data1.block + r.data1.blocks && problem === null; b++) {
      if (lv1[b]! < r.data1.seq) problem = `round ${i}: LV2 holds data2 (write ${r.data2.seq}) but LV1 block ${b} holds write ${lv1[b]}, older than data1 (write ${r.data1.seq})`;
    }
  }
  return { shown, problem };
}

function expectDependency(rounds: Round[], volumes: Map<number, Uint8Array>, what: string): number {
  const { shown, problem } = dependencyProblem(rounds, volumes);
  expect(problem, what).toBeNull();
  return shown;
}

/** Holds restore at a journal boundary (unless it already is), reads the secondary, checks, lets it go unless it was held. */
async function observe(s: Sites, rounds: Round[], held: boolean, what: string): Promise<number> {
  const secondary = s.secondaries[0]!;
  ok(secondary.copy.pauseRestore(1, true));
  await s.topo.until(() => secondary.copy.pauseRestore(1, true).data!.atBoundary, `${what}: restore paused at a journal boundary`);
  const volumes = await readVolumes(secondary);
  const { k, problem } = prefixProblem(s.history.writes, volumes);
  expect(problem, what).toBeNull();
  expectDependency(rounds, volumes, what);
  if (!held) ok(secondary.copy.pauseRestore(1, false));
  return k;
}

/** Writes of one round: data1 then data2, each acknowledged before the next is issued. */
async function round(history: History, i: number): Promise<Round> {
  const blocks1 = 1 + ((i * 5) % 16);
  const blocks2 = 1 + ((i * 11) % 16);
  const data1 = await history.write(1, (i * 97) % (VOLUME_BLOCKS - 16), blocks1);
  const data2 = await history.write(2, (i * 61) % (VOLUME_BLOCKS - 16), blocks2);
  return { data1, data2 };
}

/** The firmware's own end of a link on a channel adapter (deterministic runtime: the processor lives in this thread). */
function firmwareEndpoint(system: StorageSystem, adapter: number, link: number): LinkEndpoint {
  const processor = system.processors[adapter] as unknown as { ctx?: { links?: ReadonlyMap<number, LinkEndpoint> } };
  const endpoint = processor.ctx?.links?.get(link);
  if (!endpoint) throw new Error(`system ${system.config.systemNumber}: adapter ${adapter} has no link ${link} to reach`);
  return endpoint;
}

interface Phase {
  name: string;
  /** Restore is held for the whole phase. */
  held?: boolean;
  start(s: Sites): void;
  end?(s: Sites): Promise<void>;
}

function phases(runtime: 'deterministic' | 'threaded'): Phase[] {
  const list: Phase[] = [
    { name: 'no fault', start: () => {} },
    { name: 'link delay 3 ms', start: (s) => s.topo.link(1, 2).setDelay(3), end: async (s) => s.topo.link(1, 2).setDelay(0) },
    { name: 'link cut', start: (s) => s.topo.link(1, 2).cut(), end: async (s) => s.topo.link(1, 2).restore() },
    {
      name: 'restore held, then let go', held: true,
      start: (s) => { ok(s.secondaries[0]!.copy.pauseRestore(1, true)); },
      end: async (s) => { ok(s.secondaries[0]!.copy.pauseRestore(1, false)); },
    },
    { name: 'link cut with restore held', held: true, start: (s) => { s.topo.link(1, 2).cut(); ok(s.secondaries[0]!.copy.pauseRestore(1, true)); },
      end: async (s) => { s.topo.link(1, 2).restore(); ok(s.secondaries[0]!.copy.pauseRestore(1, false)); } },
  ];
  if (runtime === 'deterministic') {
    list.splice(3, 0,
      {
        name: 'a corrupted journal read response',
        start: (s) => firmwareEndpoint(s.primary, 0, 1).corruptNextFrame(),
        end: async (s) => { await s.topo.until(() => s.topo.link(1, 2).stats().aToB.badFrames >= 1, 'the corrupted response rejected'); },
      },
      {
        name: 'a corrupted journal read command',
        start: (s) => firmwareEndpoint(s.secondaries[0]!, 0, 1).corruptNextFrame(),
        end: async (s) => { await s.topo.until(() => s.topo.link(1, 2).stats().bToA.badFrames >= 1, 'the corrupted command rejected'); },
      });
  }
  return list;
}

describe('cross-volume dependency: the checkers', () => {
  it('reject an image holding data2 without data1, and accept the images of every prefix', () => {
    const writes: WriteRecord[] = [
      { seq: 1, volume: 1, block: 10, blocks: 2 }, { seq: 2, volume: 2, block: 0, blocks: 1 }, // round 0
      { seq: 3, volume: 1, block: 11, blocks: 3 }, { seq: 4, volume: 2, block: 5, blocks: 2 }, // round 1
    ];
    const rounds: Round[] = [{ data1: writes[0]!, data2: writes[1]! }, { data1: writes[2]!, data2: writes[3]! }];
    const image = (applied: number[]): Map<number, Uint8Array> => {
      const volumes = new Map<number, Uint8Array>(DATA_VOLUMES.map((v) => [v, new Uint8Array(VOLUME_BLOCKS * BLOCK_BYTES)] as const));
      for (const seq of applied) {
        const w = writes[seq - 1]!;
        volumes.get(w.volume)!.set(stamp(w.seq, w.volume, w.block, w.blocks), w.block * BLOCK_BYTES);
      }
      return volumes;
    };
    for (let k = 0; k <= 4; k++) {
      const prefix = Array.from({ length: k }, (_, i) => i + 1);
      expect(prefixProblem(writes, image(prefix))).toEqual({ k, problem: null });
      expect(dependencyProblem(rounds, image(prefix))).toEqual({ shown: Math.floor(k / 2), problem: null });
    }
    // Round 1's data2 applied, its data1 not.
    const torn = image([1, 2, 4]);
    expect(dependencyProblem(rounds, torn)).toEqual({ shown: 2, problem: 'round 1: LV2 holds data2 (write 4) but LV1 block 11 holds write 1, older than data1 (write 3)' });
    expect(prefixProblem(writes, torn).problem).toBe('volume 1 block 11: holds write 1, but the image after writes 1..4 has write 3 there');
    // Round 0's data2 alone.
    expect(dependencyProblem(rounds, image([2])).problem).toBe('round 0: LV2 holds data2 (write 2) but LV1 block 10 holds write 0, older than data1 (write 1)');
  });
});

describe.each(['deterministic', 'threaded'] as const)('%s runtime: cross-volume dependency (seed 000 §12.8 item 44)', (runtime) => {
  it('data1 to LV1 then data2 to LV2, round after round, with faults between transfers and restores: no observed secondary state holds data2 without data1', async () => {
    const s = await sites({ runtime, seed: 44, secondaryGroup: { readPolicy: 'FIXED', readIntervalMs: 1, batchJournalsMax: 3 } });
    const secondary = s.secondaries[0]!;
    await converge(s, secondary, 'initial copy');
    const rounds: Round[] = [];
    let last = 0;
    let observations = 0;
    let behind = 0; // observations that caught the secondary short of the last write
    const look = async (held: boolean, what: string): Promise<void> => {
      const k = await observe(s, rounds, held, what);
      observations++;
      if (k < s.history.writes.length) behind++;
      expect(k, `${what}: the observed prefix went back`).toBeGreaterThanOrEqual(last);
      last = k;
    };
    for (const phase of phases(runtime)) {
      phase.start(s);
      for (let i = 0; i < 5; i++) {
        rounds.push(await round(s.history, rounds.length));
        await s.topo.pass(1 + (rounds.length % 3)); // transfers and restores between the writes
        await look(phase.held === true, `${phase.name}, round ${rounds.length}`);
      }
      await phase.end?.(s);
      // Recovery, watched: the secondary catches up (a lost frame costs a 500 ms response timeout,
      // a cut link a back-off of up to 1 s) and restores everything written so far.
      const target = lastCreated(s);
      for (let i = 0; status(secondary).restoredNumber < target; i++) {
        expect(i, `${phase.name}: no recovery`).toBeLessThan(50);
        await s.topo.pass(100);
        await look(false, `${phase.name}, recovering`);
      }
      await look(false, `${phase.name}, recovered`);
      expect(last, `${phase.name}: caught up`).toBe(s.history.writes.length);
    }
    expect(behind).toBeGreaterThanOrEqual(15); // at least the rounds of the three phases that cut the link or hold restore
    await converge(s, secondary, 'after the faults');
    const volumes = await readVolumes(secondary);
    expect(prefixOf(s.history, volumes)).toBe(s.history.writes.length);
    expect(expectDependency(rounds, volumes, 'converged')).toBeGreaterThan(0);
    const stats = s.topo.link(1, 2).stats();
    if (runtime === 'deterministic') expect([stats.aToB.badFrames, stats.bToA.badFrames]).toEqual([1, 1]);
    expect(stats.cuts).toBe(2);
    expect(status(secondary).state).toBe('normal');
    expect(status(s.primary).pairs.map((p) => p.state)).toEqual(['normal', 'normal']);
  });
});
