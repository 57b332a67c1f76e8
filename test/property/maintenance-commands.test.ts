// Property tests (fast-check) for the maintenance port and the remote-copy commands (issue 5,
// "Hostile input"): random sequences of MaintenancePort (defineVolume, deleteVolume, volume,
// readControlBlock, statistics) and CopyCommands (createGroup, registerPair,
// registerJournalVolume, startCopy, suspend, resync, takeover, takeoverComplete, pauseRestore,
// deletePair, groupStatus, forward) calls with arguments that are sometimes sensible and
// sometimes garbage of any type (NaN, negative, fractional, huge, strings, null, objects, missing
// fields; cast through `as never`), on a copySystem. For every call:
//   - it returns { status: 'ok' | 'rejected', reason: non-empty string } and never throws;
//   - a rejected call changes no control block: the volumes, pairs, groups, pointers, tasks,
//     batches, windows, bitmaps and mirrors regions of control memory are byte-identical before
//     and after it; a read-only call (volume, readControlBlock, statistics, groupStatus) changes
//     none of them whatever it answers;
//   - the processors step after it without throwing.
// After the sequence, a fresh valid primary setup (group 4, volumes 4 and 5, which the random
// calls never name) still succeeds and a host write to it is GOOD.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BLOCK_BYTES } from '../../firmware/config.ts';
import { ScsiStatus } from '../../hal/host-port.ts';
import { copySystem, pattern, setupPrimaryGroup, type Harness } from '../support/harness.ts';

const RESERVED_GROUP = 4;
const RESERVED_VOLUMES = [4, 5];
const WATCHED_REGIONS = ['volumes', 'pairs', 'groups', 'pointers', 'tasks', 'batches', 'windows', 'bitmaps', 'mirrors'];

function snapshot(h: Harness): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const r of h.mem.regions.values()) {
    if (WATCHED_REGIONS.includes(r.name)) out.set(r.name, Buffer.from(new Uint8Array(h.mem.controlBuffer, r.byteOffset, r.byteCount)));
  }
  expect(out.size).toBe(WATCHED_REGIONS.length);
  return out;
}

function changedRegions(a: Map<string, Buffer>, b: Map<string, Buffer>): string[] {
  return [...a.keys()].filter((k) => !a.get(k)!.equals(b.get(k)!));
}

// ---- arguments -----------------------------------------------------------------------------------

const garbage: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(NaN, -1, 0, 1.5, -0, 2 ** 31, 2 ** 32, 2 ** 53, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE),
  fc.constantFrom('1', '', 'primary', 'abc', '__proto__', 'constructor', 'toString'),
  fc.constantFrom(null, undefined, true, false),
  fc.constant({}), fc.constant([]), fc.constant([1, 2]),
  fc.integer(), fc.double(),
);
/** Garbage where an options object is expected (null and undefined included: rejected since the fix). */
const objectGarbage = garbage;
/** Mostly a sensible small number, sometimes anything. */
const num = (max: number): fc.Arbitrary<unknown> => fc.oneof({ weight: 4, arbitrary: fc.nat({ max }) }, { weight: 1, arbitrary: garbage });
const notReservedGroup = (v: unknown): boolean => v !== RESERVED_GROUP;
const notReservedVolume = (v: unknown): boolean => !RESERVED_VOLUMES.includes(v as number);
const group = num(6).filter(notReservedGroup);
const volume = num(8).filter(notReservedVolume);
const system = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(1, 2, 3) }, { weight: 1, arbitrary: garbage });
const maybe = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
const anyOf = (...values: unknown[]): fc.Arbitrary<unknown> => fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...values) }, { weight: 1, arbitrary: garbage });

const groupOptions = fc.record({
  role: anyOf('primary', 'secondary'),
  partnerSystem: maybe(system),
  partnerGroup: maybe(group),
  link: maybe(anyOf(1, 2)),
  moreLinks: maybe(fc.oneof(fc.array(num(3), { maxLength: 5 }), garbage)),
  readWindow: maybe(num(8)),
  readPolicy: maybe(anyOf('IMMEDIATE', 'FIXED', 'RECEIVED', 'TRAFFIC', 'OWN_USAGE', 'LOAD', 'PRIMARY_USAGE')),
  readIntervalMs: maybe(num(1000)),
  batchJournalsMax: maybe(num(64)),
  storePolicy: maybe(anyOf('DISCARD_RETRY', 'HOLD')),
  releaseMode: maybe(anyOf('NEXT_COMMAND', 'AFTER_SEND', 'RESTORED')),
  linkTimeoutMs: maybe(num(10000)),
  initialCopyBytes: maybe(anyOf(4096, 16384, 65536, 512, 100)),
}, { requiredKeys: [] });

const pairSpec = fc.record({
  primaryVolume: volume,
  secondaryVolume: volume,
  primarySystem: maybe(system),
  secondarySystem: maybe(system),
  remoteCapacityBlocks: maybe(num(1024)),
}, { requiredKeys: [] });

type Call = { name: string; readOnly: boolean; run: (h: Harness) => { status: unknown; reason: unknown } };
const call = (name: string, readOnly: boolean, run: Call['run']): Call => ({ name, readOnly, run });
const g = (v: unknown): never => v as never;

const calls: fc.Arbitrary<Call>[] = [
  fc.tuple(group, fc.oneof({ weight: 4, arbitrary: groupOptions }, { weight: 1, arbitrary: objectGarbage })).map(([a, o]) => call(`createGroup(${String(a)}, ${JSON.stringify(o)})`, false, (h) => h.copy.createGroup(g(a), g(o)))),
  fc.tuple(group, fc.oneof({ weight: 4, arbitrary: pairSpec }, { weight: 1, arbitrary: objectGarbage })).map(([a, p]) => call(`registerPair(${String(a)}, ${JSON.stringify(p)})`, false, (h) => h.copy.registerPair(g(a), g(p)))),
  fc.tuple(group, volume).map(([a, v]) => call(`registerJournalVolume(${String(a)}, ${String(v)})`, false, (h) => h.copy.registerJournalVolume(g(a), g(v)))),
  // readers that are not a list (a string, a number, an object) are rejected (also tested below).
  fc.tuple(group, fc.oneof(
    { weight: 4, arbitrary: maybe(fc.record({ readers: fc.oneof(fc.array(system, { maxLength: 6 }), garbage), noCopy: maybe(anyOf(true, false)) }, { requiredKeys: [] })) },
    { weight: 1, arbitrary: objectGarbage },
  )).map(([a, o]) =>
    call(`startCopy(${String(a)}, ${JSON.stringify(o)})`, false, (h) => h.copy.startCopy(g(a), g(o)))),
  ...(['suspend', 'resync', 'takeover', 'takeoverComplete'] as const).map((name) => group.map((a) => call(`${name}(${String(a)})`, false, (h) => h.copy[name](g(a))))),
  fc.tuple(group, anyOf(true, false)).map(([a, p]) => call(`pauseRestore(${String(a)}, ${String(p)})`, false, (h) => h.copy.pauseRestore(g(a), g(p)))),
  num(8).map((p) => call(`deletePair(${String(p)})`, false, (h) => h.copy.deletePair(g(p)))),
  group.map((a) => call(`groupStatus(${String(a)})`, true, (h) => h.copy.groupStatus(g(a)))),
  fc.tuple(system, fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: anyOf('createGroup', 'registerPair', 'registerJournalVolume', 'startCopy'), group, primaryGroup: group, primaryVolume: volume, secondaryVolume: volume, volume }, { requiredKeys: [] }) },
    { weight: 1, arbitrary: objectGarbage },
  )).map(([s, o]) =>
    call(`forward(${String(s)}, ${JSON.stringify(o)})`, false, (h) => h.copy.forward(g(s), g(o)))),
  fc.oneof(
    fc.record({ number: volume, capacityBlocks: num(2048), drive: num(3), startBlock: num(2048), format: maybe(anyOf('OPEN3', 'OPEN6', 'OPEN9')) }, { requiredKeys: [] }),
    objectGarbage,
  ).map((spec) => call(`defineVolume(${JSON.stringify(spec)})`, false, (h) => h.maintenance.defineVolume(g(spec)))),
  volume.map((v) => call(`deleteVolume(${String(v)})`, false, (h) => h.maintenance.deleteVolume(g(v)))),
  volume.map((v) => call(`volume(${String(v)})`, true, (h) => h.maintenance.volume(g(v)))),
  fc.tuple(anyOf('system', 'volume', 'pair', 'group', 'pointer', 'slot', 'task', 'lock', 'mirror'), num(600)).map(([k, i]) =>
    call(`readControlBlock(${String(k)}, ${String(i)})`, true, (h) => h.maintenance.readControlBlock(g(k), g(i)))),
  fc.constant(call('statistics()', true, (h) => h.maintenance.statistics())),
];

/** Sensible steps too, so that later garbage meets groups and pairs in every state. */
const sensible: fc.Arbitrary<Call> = fc.constantFrom(
  call('createGroup(1, primary)', false, (h) => h.copy.createGroup(1, { role: 'primary', linkTimeoutMs: 0 })),
  call('registerPair(1, 1 -> 2:1)', false, (h) => h.copy.registerPair(1, { primaryVolume: 1, secondarySystem: 2, secondaryVolume: 1 })),
  call('registerJournalVolume(1, 3)', false, (h) => h.copy.registerJournalVolume(1, 3)),
  call('startCopy(1)', false, (h) => h.copy.startCopy(1)),
  call('createGroup(2, secondary)', false, (h) => h.copy.createGroup(2, { role: 'secondary', partnerSystem: 2, partnerGroup: 1, link: 1 })),
  call('registerPair(2, 2:7 -> 2)', false, (h) => h.copy.registerPair(2, { primarySystem: 2, primaryVolume: 7, secondaryVolume: 2 })),
  call('startCopy(2)', false, (h) => h.copy.startCopy(2)),
  call('suspend(1)', false, (h) => h.copy.suspend(1)),
  call('takeover(2)', false, (h) => h.copy.takeover(2)),
);

const anyCall = fc.oneof({ weight: 1, arbitrary: sensible }, { weight: 4, arbitrary: fc.oneof(...calls) });

function apply(h: Harness, c: Call): void {
  const before = snapshot(h);
  let r: { status: unknown; reason: unknown };
  try {
    r = c.run(h);
  } catch (e) {
    throw new Error(`${c.name} threw: ${(e as Error).stack}`);
  }
  expect(['ok', 'rejected'], `${c.name} answered ${JSON.stringify(r)}`).toContain(r?.status);
  expect(typeof r.reason, c.name).toBe('string');
  expect((r.reason as string).length, c.name).toBeGreaterThan(0);
  const after = snapshot(h);
  if (r.status === 'rejected' || c.readOnly) {
    expect(changedRegions(before, after), `${c.name} (${r.status}: ${String(r.reason)}) changed control blocks`).toEqual([]);
  }
  for (let i = 0; i < 3; i++) h.round(); // a processor that throws fails the property here
}

function freshSetupStillWorks(h: Harness): void {
  setupPrimaryGroup(h, RESERVED_GROUP, [4], 5, { start: false });
  expect(h.copy.startCopy(RESERVED_GROUP, { readers: [2], noCopy: true })).toEqual({ status: 'ok', reason: 'ok' });
  const data = pattern(8 * BLOCK_BYTES, 99);
  expect(h.write(0, 4, 16, data).status).toBe(ScsiStatus.GOOD);
  const back = h.read(1, 4, 16, data.byteLength);
  expect(back.status).toBe(ScsiStatus.GOOD);
  expect(Buffer.from(back.data).equals(Buffer.from(data))).toBe(true);
  expect(h.mem.groups.updateNumber(RESERVED_GROUP)).toBeGreaterThan(0);
  for (let i = 0; i < 20; i++) h.round();
}

describe('property: hostile maintenance and copy commands', () => {
  it('random call sequences: every call answers ok or rejected with a reason, never throws; a rejected or read-only call changes no control block', () => {
    fc.assert(fc.property(fc.array(anyCall, { minLength: 1, maxLength: 25 }), (sequence) => {
      const h = copySystem();
      for (const c of sequence) apply(h, c);
      freshSetupStillWorks(h);
    }), { seed: 42, numRuns: 150 });
  });

  it('single calls on a system where they get past the first checks: group 1 primary ready to start, group 2 secondary with a pair', () => {
    fc.assert(fc.property(fc.oneof(...calls), (c) => {
      const h = copySystem();
      setupPrimaryGroup(h, 1, [1], 3, { start: false });
      expect(h.copy.createGroup(2, { role: 'secondary', partnerSystem: 2, partnerGroup: 3, link: 1 }).status).toBe('ok');
      expect(h.copy.registerPair(2, { primarySystem: 2, primaryVolume: 7, secondaryVolume: 2 }).status).toBe('ok');
      apply(h, c);
      freshSetupStillWorks(h);
    }), { seed: 7, numRuns: 300 });
  });
});

// ---- known bugs: a wrong-typed argument throws instead of being rejected ------------------------------

describe('known bugs (copy-commands.ts, maintenance.ts): wrong-typed arguments throw TypeError instead of a rejection', () => {
  // CopyCommands.startCopy checks readers.length and then calls readers.some: a string, number
  // or object as readers throws "readers.some is not a function". It should be rejected
  // ("readers must be a list of distinct other storage systems") and change nothing.
  it.each([['23'], [5], [{}]])('startCopy with readers %j is rejected and changes nothing', (readers) => {
    const h = copySystem();
    setupPrimaryGroup(h, 1, [1], 3, { start: false });
    const before = snapshot(h);
    expect(h.copy.startCopy(1, { readers } as never).status).toBe('rejected');
    expect(changedRegions(before, snapshot(h))).toEqual([]);
  });

  // An options object that is null or undefined is dereferenced without a check: createGroup
  // ("reading 'role'"), registerPair on a used group ("reading 'primaryVolume'"), startCopy(null) on
  // a ready group ("reading 'noCopy'"), forward ("reading 'group'") and MaintenancePort.defineVolume
  // ("Cannot destructure property 'number'") all throw TypeError. Each should be rejected.
  it.each([
    ['createGroup(1, null)', (h: Harness) => h.copy.createGroup(1, g(null))],
    ['createGroup(1, undefined)', (h: Harness) => h.copy.createGroup(1, g(undefined))],
    ['registerPair(1, null)', (h: Harness) => h.copy.registerPair(1, g(null))],
    ['startCopy(1, null)', (h: Harness) => h.copy.startCopy(1, g(null))],
    ['forward(2, null)', (h: Harness) => h.copy.forward(2, g(null))],
    ['defineVolume(null)', (h: Harness) => h.maintenance.defineVolume(g(null))],
    ['defineVolume(undefined)', (h: Harness) => h.maintenance.defineVolume(g(undefined))],
  ] as Array<[string, Call['run']]>)('%s is rejected, not thrown', (_name, run) => {
    const h = copySystem();
    setupPrimaryGroup(h, 1, [1], 3, { start: false });
    expect(run(h).status).toBe('rejected');
  });
});
