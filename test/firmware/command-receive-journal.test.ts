// Command reception 210 and journal creation (seed 000 §5.3, S1240–S1280): which host commands
// make a journal. Seed 000 §12.3 item 13 (a write to a 正常, non-replicated volume stores its
// data and creates no journal; seed 002 §15 item 7) and item 17 (a read goes through ordinary
// read processing and never creates a journal, on a primary volume of a normal pair too).
//
// One system (copySystem) stepped by hand: group 1 is a primary group copying volumes 1 and 2
// with journal volume 3, its pairs set 正常 so that every write to them is journaled; volume 4
// is an ordinary 正常 volume on drive 1, and volume 5 is unused by remote copy.

import { describe, expect, it } from 'vitest';
import { BLOCK_BYTES } from '../../firmware/config.ts';
import { PairState } from '../../firmware/structs/pair-info.ts';
import { STAT_COUNTERS_PER_PROCESSOR, Stat } from '../../firmware/structs/statistics.ts';
import { VolumeState } from '../../firmware/structs/volume-info.ts';
import { HostOp, Reason, ScsiStatus, SenseKey, type CommandResult } from '../../hal/host-port.ts';
import { copySystem, pattern, peek, setupPrimaryGroup, type Harness } from '../support/harness.ts';

const GROUP = 1;
const JOURNAL = 3;
const NORMAL_VOLUME = 4; // drive 1, blocks 0..511
const JOURNAL_BLOCKS = 256;
const WD_HEAD = 16384; // an eighth of the 128 KiB journal volume holds update information

interface Setup {
  h: Harness;
  pairs: number[];
  /** The pointer set of each reader of group 1. */
  sets: number[];
}

function setup(readers: number[] = [2]): Setup {
  const h = copySystem({ links: readers.map((r, i) => ({ number: i + 1, peerSystem: r, adapter: 0 })) });
  const pairs = setupPrimaryGroup(h, GROUP, [1, 2], JOURNAL, { readers });
  // Initial copy (channel adapter 1) then finds nothing to copy: every write to 1 or 2 is journaled.
  for (const p of pairs) h.mem.pairs.setState(p, PairState.NORMAL);
  const sets = readers.map((_, r) => GROUP * h.mem.config.readersMax + r);
  return { h, pairs, sets };
}

const total = (h: Harness, stat: number): number => {
  let sum = 0;
  for (let p = 0; p < h.mem.geometry.processors; p++) sum += h.mem.statistics[p * STAT_COUNTERS_PER_PROCESSOR + stat]!;
  return sum;
};

/** Everything journal creation would change: the group record, every pointer set, the journal volume's bytes. */
interface JournalState {
  updateNumber: number;
  journalsCreated: number;
  group: unknown;
  sets: unknown[];
  journalBytes: Buffer;
}

function journalState(s: Setup): JournalState {
  return {
    updateNumber: s.h.mem.groups.updateNumber(GROUP),
    journalsCreated: s.h.mem.groups.f64(GROUP, 'journals_created'),
    group: s.h.mem.groups.decode(GROUP),
    sets: s.sets.map((set) => s.h.mem.pointers.decode(set)),
    journalBytes: Buffer.from(peek(s.h, JOURNAL, 0, JOURNAL_BLOCKS)),
  };
}

function expectNoJournal(s: Setup, before: JournalState): void {
  const after = journalState(s);
  expect(after.updateNumber).toBe(before.updateNumber);
  expect(after.journalsCreated).toBe(before.journalsCreated);
  expect(after.group).toEqual(before.group);
  expect(after.sets).toEqual(before.sets);
  expect(after.journalBytes.equals(before.journalBytes)).toBe(true);
}

function expectGood(r: CommandResult): void {
  expect({ status: r.status, senseKey: r.senseKey, reason: r.reason }).toEqual({ status: ScsiStatus.GOOD, senseKey: SenseKey.NO_SENSE, reason: Reason.NONE });
}

/** Steps every processor until no slot of any volume is dirty (S1270: the disk adapter writes the data). */
function destageAll(h: Harness): void {
  const anyDirty = (): boolean => Array.from({ length: h.cache.slotCount }, (_, slot) => h.cache.isDirty(slot)).some(Boolean);
  for (let i = 0; i < 5000 && anyDirty(); i++) h.round();
  expect(anyDirty()).toBe(false);
}

/** Drive bytes of `blocks` blocks of `volume` from `block` (what is on the medium, not in cache). */
function onDrive(h: Harness, volume: number, block: number, blocks: number): Buffer {
  const start = (h.mem.volumes.driveStartBlock(volume) + block) * BLOCK_BYTES;
  return Buffer.from(h.driveBytes.get(h.mem.volumes.driveNumber(volume))!.subarray(start, start + blocks * BLOCK_BYTES));
}

describe('command reception: a write to a 正常 volume creates no journal (seed 000 §12.3 item 13, seed 002 §15 item 7)', () => {
  it('the data lands on the volume exactly; update number, pointers, journals_created and the journal volume are unchanged', () => {
    const s = setup();
    const { h } = s;
    expect(h.mem.volumes.state(NORMAL_VOLUME)).toBe(VolumeState.NORMAL);
    expect(h.mem.volumes.pairNumber(NORMAL_VOLUME)).toBe(0);
    const before = journalState(s);
    expect(before.updateNumber).toBe(1);
    expect(before.journalsCreated).toBe(0);
    const primaryImage = Buffer.from(peek(h, 1, 0, 512));

    const d1 = pattern(8 * BLOCK_BYTES, 401); // blocks 10..17: across a 4 KiB slot boundary
    const d2 = pattern(32 * BLOCK_BYTES, 402); // the largest transfer (16 KiB), at the volume's end
    expectGood(h.write(0, NORMAL_VOLUME, 10, d1));
    expectGood(h.write(1, NORMAL_VOLUME, 480, d2));
    expectNoJournal(s, before);
    expect(total(h, Stat.HOST_WRITES)).toBe(2);

    // Exactly the written bytes, nothing around them: in cache now ...
    const image = new Uint8Array(512 * BLOCK_BYTES);
    image.set(d1, 10 * BLOCK_BYTES);
    image.set(d2, 480 * BLOCK_BYTES);
    expect(Buffer.from(peek(h, NORMAL_VOLUME, 0, 512)).equals(Buffer.from(image))).toBe(true);
    const r = h.read(0, NORMAL_VOLUME, 10, d1.byteLength);
    expectGood(r);
    expect(Buffer.from(r.data).equals(Buffer.from(d1))).toBe(true);
    // ... and on the drive once the disk adapter has written it (S1270).
    destageAll(h);
    expect(onDrive(h, NORMAL_VOLUME, 0, 512).equals(Buffer.from(image))).toBe(true);
    expectNoJournal(s, before);
    // The primary volumes were not touched either.
    expect(Buffer.from(peek(h, 1, 0, 512)).equals(primaryImage)).toBe(true);

    // The next write to a primary volume is journal 1: the normal writes used no update number.
    const d3 = pattern(2 * BLOCK_BYTES, 403);
    expectGood(h.write(0, 1, 7, d3));
    expect(h.mem.groups.updateNumber(GROUP)).toBe(2);
    expect(h.mem.groups.f64(GROUP, 'journals_created')).toBe(1);
    expect(h.mem.pointers.get(s.sets[0]!, 'ui_newest')).toBe(BLOCK_BYTES);
    expect(h.mem.pointers.get(s.sets[0]!, 'wd_newest')).toBe(WD_HEAD + d3.byteLength);
    expect(new DataView(peek(h, JOURNAL, 0, 1).buffer).getFloat64(16, true)).toBe(1); // the update number in the record
  });

  it('with two readers, a write to a 正常 volume moves neither pointer set', () => {
    const s = setup([2, 3]);
    const before = journalState(s);
    expect(before.sets).toHaveLength(2);
    for (let i = 0; i < 6; i++) expectGood(s.h.write(i % 2, NORMAL_VOLUME, i * 20, pattern(4 * BLOCK_BYTES, 410 + i)));
    expectNoJournal(s, before);
  });

  it('a volume whose pair was deleted is 正常 again: its writes store the data and create no journal', () => {
    const s = setup();
    const { h } = s;
    const d1 = pattern(4 * BLOCK_BYTES, 421);
    expectGood(h.write(0, 2, 100, d1)); // still a primary volume: journal 1
    expect(h.mem.groups.updateNumber(GROUP)).toBe(2);
    expect(h.copy.deletePair(s.pairs[1]!).status).toBe('ok');
    expect(h.mem.volumes.state(2)).toBe(VolumeState.NORMAL);
    const before = journalState(s);

    const d2 = pattern(4 * BLOCK_BYTES, 422);
    expectGood(h.write(1, 2, 100, d2));
    expectGood(h.write(0, 2, 300, d1));
    expectNoJournal(s, before);
    expect(h.mem.groups.updateNumber(GROUP)).toBe(2);
    expect(Buffer.from(peek(h, 2, 100, 4)).equals(Buffer.from(d2))).toBe(true);
    expect(Buffer.from(peek(h, 2, 300, 4)).equals(Buffer.from(d1))).toBe(true);
    // Journal 1 still holds the data of the write made while the pair existed.
    expect(Buffer.from(peek(h, JOURNAL, WD_HEAD / BLOCK_BYTES, 4)).equals(Buffer.from(d1))).toBe(true);
  });
});

describe('command reception: a read never creates a journal (seed 000 §12.3 item 17)', () => {
  it('reads of a primary volume of a normal pair — cache hits and misses that stage from the drive — return the data and make no journal', () => {
    const s = setup();
    const { h } = s;
    expect(h.mem.volumes.state(1)).toBe(VolumeState.PRIMARY);
    expect(h.mem.pairs.state(s.pairs[0]!)).toBe(PairState.NORMAL);
    // Blocks 200..263 of volume 1 are on the drive only (put there behind the firmware's back).
    const onMedium = pattern(64 * BLOCK_BYTES, 431);
    h.driveBytes.get(0)!.set(onMedium, 200 * BLOCK_BYTES);
    // Blocks 20..23 were written by the host: journal 1, and in cache.
    const written = pattern(4 * BLOCK_BYTES, 432);
    expectGood(h.write(0, 1, 20, written));
    expect(h.mem.groups.updateNumber(GROUP)).toBe(2);
    const before = journalState(s);
    const stagesBefore = total(h, Stat.STAGE_REQUESTS);
    const readsBefore = total(h, Stat.HOST_READS);

    const hit = h.read(1, 1, 20, written.byteLength);
    expectGood(hit);
    expect(Buffer.from(hit.data).equals(Buffer.from(written))).toBe(true);
    const miss = h.read(0, 1, 200, 32 * BLOCK_BYTES);
    expectGood(miss);
    expect(Buffer.from(miss.data).equals(Buffer.from(onMedium.subarray(0, 32 * BLOCK_BYTES)))).toBe(true);
    const miss2 = h.read(1, 1, 232, 32 * BLOCK_BYTES);
    expectGood(miss2);
    expect(Buffer.from(miss2.data).equals(Buffer.from(onMedium.subarray(32 * BLOCK_BYTES)))).toBe(true);
    const partly = h.read(0, 1, 16, 8 * BLOCK_BYTES); // blocks 16..23: zeros, then the written data
    expectGood(partly);
    expect(partly.data.subarray(0, 4 * BLOCK_BYTES).every((b) => b === 0)).toBe(true);
    expect(Buffer.from(partly.data.subarray(4 * BLOCK_BYTES)).equals(Buffer.from(written))).toBe(true);

    expect(total(h, Stat.HOST_READS)).toBe(readsBefore + 4);
    expect(total(h, Stat.STAGE_REQUESTS)).toBeGreaterThan(stagesBefore); // the misses went to the drive
    expectNoJournal(s, before);
    // The write after the reads is journal 2: the reads used no number.
    expectGood(h.write(0, 2, 0, pattern(BLOCK_BYTES, 433)));
    expect(h.mem.groups.updateNumber(GROUP)).toBe(3);
    expect(h.mem.groups.f64(GROUP, 'journals_created')).toBe(2);
  });

  it('reads and inquiries of every other kind of volume — 正常, the journal volume, a pair still to be copied — make no journal', () => {
    const s = setup();
    const { h } = s;
    expectGood(h.write(0, NORMAL_VOLUME, 0, pattern(4 * BLOCK_BYTES, 441)));
    expectGood(h.write(0, 2, 0, pattern(4 * BLOCK_BYTES, 442))); // journal 1
    h.mem.pairs.setState(s.pairs[1]!, PairState.NOT_COPIED); // volume 2: a primary volume whose pair is コピー未
    const before = journalState(s);
    expectGood(h.read(0, NORMAL_VOLUME, 0, 4 * BLOCK_BYTES));
    expectGood(h.read(1, JOURNAL, 0, 8 * BLOCK_BYTES));
    expectGood(h.read(0, 2, 0, 16 * BLOCK_BYTES));
    for (const v of [1, 2, JOURNAL, NORMAL_VOLUME]) expectGood(h.finish(0, h.submit(0, HostOp.INQUIRY, v, 0, 0)));
    expectNoJournal(s, before);
    expect(h.mem.groups.updateNumber(GROUP)).toBe(2);
  });
});
