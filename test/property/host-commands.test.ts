// Property tests (fast-check) for host commands on the host port (issue 5, "Hostile input"):
// random opcodes, volumes (0, undefined, beyond volumesMax, negative; a primary volume of a
// remote-copy pair, a plain volume, journal volumes, a secondary volume), LBAs and lengths (zero,
// misaligned, beyond the largest transfer, beyond the capacity, negative), and mutations of valid
// writes. The system is a freshSystem stepped by hand with group 1 primary (volume 1 -> system 2,
// journal volume 3, pair normal) and group 2 secondary (system 2's volume 4 -> volume 4, journal
// volume 5). For every command:
//   - it completes with a status; a rejected one has a non-zero sense key and reason;
//   - a rejected command changes no volume's bytes, and neither group 1's update number nor its
//     reader's pointer information;
//   - a GOOD write changes exactly its range of its volume (plus, for the primary volume, one
//     journal in journal volume 3 and update number + 1) and reads back exactly; a GOOD read or
//     inquiry changes nothing, and a read returns the volume's bytes;
//   - no processor throws, and a valid write after the sequence still succeeds.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BLOCK_BYTES } from '../../firmware/config.ts';
import { PairState } from '../../firmware/structs/pair-info.ts';
import { HostOp, ScsiStatus } from '../../hal/host-port.ts';
import { copySystem, pattern, peekVolume, setupPrimaryGroup, type Harness } from '../support/harness.ts';

const VOLUMES = [1, 2, 3, 4, 5];
const CAPACITY: Record<number, number> = { 1: 512, 2: 512, 3: 256, 4: 512, 5: 256 };
const PRIMARY = 1;
const PLAIN = 2;
const JOURNAL = 3;
const SECONDARY = 4;
const SET = 1 * 4; // group 1's pointer set for reader 2
const MAX_TRANSFER = 16 * 1024;
const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };

function system(): Harness {
  const h = copySystem();
  const [pair] = setupPrimaryGroup(h, 1, [PRIMARY], JOURNAL);
  h.mem.pairs.setState(pair!, PairState.NORMAL);
  const must = (r: { status: string; reason: string }): void => { if (r.status !== 'ok') throw new Error(r.reason); };
  must(h.copy.createGroup(2, { role: 'secondary', partnerSystem: 2, partnerGroup: 7, link: 1, readPolicy: 'FIXED', readIntervalMs: 50 }));
  must(h.copy.registerPair(2, { primarySystem: 2, primaryVolume: 9, secondaryVolume: SECONDARY }));
  must(h.copy.registerJournalVolume(2, 5));
  must(h.copy.startCopy(2));
  return h;
}

interface Command { opcode: number; volume: number; lba: number; byteLength: number; seed: number }

const opcode = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(HostOp.READ, HostOp.WRITE, HostOp.INQUIRY) },
  { weight: 2, arbitrary: fc.constantFrom(HostOp.MIRROR_SPLIT, HostOp.MIRROR_RESYNC, HostOp.UPDATE_INFO, HostOp.DUMP_READ) },
  { weight: 1, arbitrary: fc.constantFrom(0, 4, 15, 20, 255) },
  { weight: 1, arbitrary: fc.integer(INT32) },
);
const volume = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...VOLUMES) },
  { weight: 2, arbitrary: fc.constantFrom(0, 6, 63, 64, 65, 1000) },
  { weight: 1, arbitrary: fc.integer(INT32) },
);
const lba = fc.oneof(
  { weight: 4, arbitrary: fc.nat({ max: 600 }) },
  { weight: 1, arbitrary: fc.constantFrom(255, 256, 511, 512, 513, -1) },
  { weight: 1, arbitrary: fc.integer(INT32) },
);
const byteLength = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 32 }).map((b) => b * BLOCK_BYTES) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1, 511, 513, MAX_TRANSFER, MAX_TRANSFER + BLOCK_BYTES, -BLOCK_BYTES) },
  { weight: 1, arbitrary: fc.integer(INT32) },
);
const randomCommand: fc.Arbitrary<Command> = fc.record({ opcode, volume, lba, byteLength, seed: fc.nat() });

/** A valid write to volume 1 or 2 with one field replaced by a hostile value (or none). */
const mutatedWrite: fc.Arbitrary<Command> = fc.record({
  volume: fc.constantFrom(PRIMARY, PLAIN),
  blocks: fc.integer({ min: 1, max: 32 }),
  at: fc.nat({ max: 480 }),
  seed: fc.nat(),
  mutation: fc.oneof(
    fc.constant({}),
    fc.record({ opcode }),
    fc.record({ volume }),
    fc.record({ lba }),
    fc.record({ byteLength }),
  ),
}).map(({ volume: v, blocks, at, seed, mutation }) => ({ opcode: HostOp.WRITE, volume: v, lba: at, byteLength: blocks * BLOCK_BYTES, seed, ...mutation }));

function images(h: Harness): Map<number, Buffer> {
  return new Map(VOLUMES.map((v) => [v, Buffer.from(peekVolume(h, v, 0, CAPACITY[v]! * BLOCK_BYTES))]));
}

function journalState(h: Harness): string {
  const p = h.mem.pointers;
  return JSON.stringify({
    update: h.mem.groups.f64(1, 'update_number'),
    created: h.mem.groups.f64(1, 'journals_created'),
    ring: (['ui_newest', 'ui_oldest', 'wd_newest', 'wd_oldest', 'read_start', 'retry_start', 'read_number', 'oldest_number'] as const).map((f) => p.get(SET, f)),
  });
}

function run(h: Harness, c: Command): void {
  const before = images(h);
  const journalBefore = journalState(h);
  const updateBefore = h.mem.groups.f64(1, 'update_number');
  const carried = c.byteLength > 0 ? Math.min(c.byteLength, MAX_TRANSFER) : 0;
  const data = pattern(carried, c.seed);
  const slot = h.submit(0, c.opcode, c.volume, c.lba, c.byteLength, carried > 0 ? data : undefined);
  const r = h.finish(0, slot, 2000);
  expect([ScsiStatus.GOOD, ScsiStatus.CHECK_CONDITION, ScsiStatus.BUSY]).toContain(r.status);
  const after = images(h);

  if (r.status !== ScsiStatus.GOOD) {
    expect(r.reason, `${JSON.stringify(c)} was refused without a reason`).not.toBe(0);
    expect(r.senseKey, `${JSON.stringify(c)} was refused without sense`).not.toBe(0);
    for (const v of VOLUMES) expect(after.get(v)!.equals(before.get(v)!), `refused ${JSON.stringify(c)} changed volume ${v}`).toBe(true);
    expect(journalState(h)).toBe(journalBefore);
    return;
  }
  const isWrite = c.opcode === HostOp.WRITE;
  if (isWrite) {
    // A GOOD write named a defined, writable data volume and a range inside it.
    expect([PRIMARY, PLAIN]).toContain(c.volume);
    expect(c.byteLength % BLOCK_BYTES).toBe(0);
    expect(c.byteLength).toBeGreaterThan(0);
    expect(c.byteLength).toBeLessThanOrEqual(MAX_TRANSFER);
    expect(c.lba).toBeGreaterThanOrEqual(0);
    expect(c.lba * BLOCK_BYTES + c.byteLength).toBeLessThanOrEqual(CAPACITY[c.volume]! * BLOCK_BYTES);
    const expected = Buffer.from(before.get(c.volume)!);
    expected.set(data, c.lba * BLOCK_BYTES);
    expect(after.get(c.volume)!.equals(expected)).toBe(true);
    const back = h.read(0, c.volume, c.lba, c.byteLength);
    expect(back.status).toBe(ScsiStatus.GOOD);
    expect(Buffer.from(back.data).equals(Buffer.from(data))).toBe(true);
    expect(h.mem.groups.f64(1, 'update_number')).toBe(updateBefore + (c.volume === PRIMARY ? 1 : 0));
  } else {
    expect(journalState(h)).toBe(journalBefore);
    if (c.opcode === HostOp.READ) {
      expect(VOLUMES).toContain(c.volume);
      const from = c.lba * BLOCK_BYTES;
      expect(from + c.byteLength).toBeLessThanOrEqual(CAPACITY[c.volume]! * BLOCK_BYTES);
      expect(Buffer.from(r.data.subarray(0, c.byteLength)).equals(before.get(c.volume)!.subarray(from, from + c.byteLength))).toBe(true);
    }
  }
  for (const v of VOLUMES) {
    if (isWrite && (v === c.volume || (c.volume === PRIMARY && v === JOURNAL))) continue;
    expect(after.get(v)!.equals(before.get(v)!), `${JSON.stringify(c)} (GOOD) changed volume ${v}`).toBe(true);
  }
}

/** Later valid work still succeeds: a write to the plain volume reads back. */
function stillWorks(h: Harness): void {
  const data = pattern(4 * BLOCK_BYTES, 4242);
  expect(h.write(0, PLAIN, 100, data).status).toBe(ScsiStatus.GOOD);
  const back = h.read(1, PLAIN, 100, data.byteLength);
  expect(back.status).toBe(ScsiStatus.GOOD);
  expect(Buffer.from(back.data).equals(Buffer.from(data))).toBe(true);
}

describe('property: hostile host commands', () => {
  it('random commands: each completes with a status; refused ones carry a reason and change nothing; GOOD ones do exactly their work', () => {
    fc.assert(fc.property(fc.array(randomCommand, { minLength: 1, maxLength: 6 }), (commands) => {
      const h = system();
      for (const c of commands) run(h, c);
      stillWorks(h);
    }), { seed: 42, numRuns: 100 });
  });

  it('mutated valid writes (opcode, volume, LBA or length replaced): the same', () => {
    fc.assert(fc.property(fc.array(mutatedWrite, { minLength: 1, maxLength: 6 }), (commands) => {
      const h = system();
      for (const c of commands) run(h, c);
      stillWorks(h);
    }), { seed: 42, numRuns: 100 });
  });

  it('writes to the journal and secondary volumes of a remote-copy pair are refused with their reasons', () => {
    fc.assert(fc.property(fc.constantFrom(JOURNAL, 5, SECONDARY), fc.nat({ max: 200 }), fc.integer({ min: 1, max: 8 }), (v, at, blocks) => {
      const h = system();
      run(h, { opcode: HostOp.WRITE, volume: v, lba: at, byteLength: blocks * BLOCK_BYTES, seed: at });
      const r = h.write(0, v, at, pattern(blocks * BLOCK_BYTES, 1));
      expect(r.status).toBe(ScsiStatus.CHECK_CONDITION);
    }), { seed: 42, numRuns: 20 });
  });
});
