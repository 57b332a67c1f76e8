// Journal creation (seed 000 §5.4, Fig. 13, S1310–S1390, §5.11, §6, §12.2–§12.4; seed 002 §6,
// §7.4, FIG. 15) against freshly formatted shared memory: a primary group set up through the
// maintenance commands (S900–S930, readers [2] unless said otherwise), pair states set directly
// where a test needs them, and JournalCreation called on the tables. The last block drives a host
// write through the channel adapter and reads the journal back from the journal volume.

import { describe, expect, it } from 'vitest';
import { UpdateBitmaps } from '../../firmware/bitmap.ts';
import { BLOCK_BYTES } from '../../firmware/config.ts';
import { Journal, JournalCreation, type Reservation } from '../../firmware/journal-create.ts';
import { GroupState, SuspendReason } from '../../firmware/structs/group-info.ts';
import { PairFlag, PairState, type PairStateCode } from '../../firmware/structs/pair-info.ts';
import { decodeUpdateInfo, emptyUpdateInfo, validateUpdateInfo } from '../../firmware/structs/update-info-codec.ts';
import { UPDATE_INFO_MAGIC } from '../../firmware/structs/update-info.ts';
import { VolumeState } from '../../firmware/structs/volume-info.ts';
import { crc32c } from '../../hal/crc32c.ts';
import { ScsiStatus } from '../../hal/host-port.ts';
import { copySystem, pattern, setupPrimaryGroup, type Harness } from '../support/harness.ts';

// copySystem(): data volumes 1, 2, 4 of 512 blocks; journal volumes 3 and 5 of 256 blocks.
const JOURNAL = 3;
const UI_AREA = 16384; // an eighth of 128 KiB: 32 records
const WD_HEAD = UI_AREA;
const CAPACITY = 256 * BLOCK_BYTES;
const WD_AREA = CAPACITY - WD_HEAD;

interface Setup {
  h: Harness;
  jc: JournalCreation;
  pairs: number[];
  /** Pointer set of reader r of group 1. */
  set(r?: number): number;
  out: Reservation;
}

function setup(o: { primaries?: number[]; readers?: number[]; state?: PairStateCode } = {}): Setup {
  const h = copySystem();
  const pairs = setupPrimaryGroup(h, 1, o.primaries ?? [1, 2], JOURNAL, { readers: o.readers ?? [2] });
  if (o.state !== undefined) for (const p of pairs) h.mem.pairs.setState(p, o.state);
  const jc = new JournalCreation(h.mem, (line) => h.trace.push(line));
  return { h, jc, pairs, set: (r = 0) => 1 * h.mem.config.readersMax + r, out: { updateNumber: -1, journalVolume: -1, uiPosition: -1, wdPosition: -1 } };
}

/** Everything journal creation may touch: the group's pointer sets, group, pairs, volumes and bitmaps. */
function snapshot(h: Harness, group = 1): unknown {
  const sets = Array.from({ length: h.mem.config.readersMax }, (_, r) => h.mem.pointers.decode(group * h.mem.config.readersMax + r));
  const bitmaps = new UpdateBitmaps(h.mem);
  return {
    sets,
    group: h.mem.groups.decode(group),
    pairs: Array.from({ length: h.mem.groups.pairCount(group) }, (_, i) => h.mem.pairs.decode(h.mem.groups.pairAt(group, i))),
    volumes: [1, 2, 3, 4, 5].map((v) => h.mem.volumes.decode(v)),
    marked: [1, 2, 4].map((v) => bitmaps.count(v)),
  };
}

/** The tracks of `volume` whose update-bitmap bit is set. */
function markedTracks(h: Harness, volume: number): number[] {
  const b = new UpdateBitmaps(h.mem);
  const out: number[] = [];
  for (let t = b.nextMarked(volume, 0); t >= 0; t = b.nextMarked(volume, t + 1)) out.push(t);
  return out;
}

function setPointers(h: Harness, s: number, fields: Partial<Record<'ui_head' | 'wd_head' | 'capacity_bytes' | 'ui_newest' | 'ui_oldest' | 'wd_newest' | 'wd_oldest' | 'read_start' | 'retry_start', number>>): void {
  for (const [k, v] of Object.entries(fields)) h.mem.pointers.set(s, k as 'ui_head', v);
}

describe('journal creation: the worked example (seed 000 §5.11, seed 002 FIG. 15)', () => {
  it('from Fig. 7 with the group counter at 4, a write (LV1, 800, 100) gets update number 4, update information at 500 and write data at 2200', () => {
    const { h, jc, pairs, set, out } = setup({ state: PairState.NORMAL });
    const s = set();
    setPointers(h, s, { ui_head: 0, wd_head: 700, capacity_bytes: 2700, ui_newest: 500, ui_oldest: 200, wd_newest: 2200, wd_oldest: 1300, read_start: 400, retry_start: 300 });
    h.mem.pointers.setUiSlotBytes(s, 100);
    h.mem.groups.setUpdateNumber(1, 4);
    expect(h.mem.pairs.primaryVolume(pairs[0]!)).toBe(1);

    expect(jc.reserveBytes(pairs[0]!, 800, 100, out)).toBe(Journal.RESERVED);
    expect(out).toEqual({ updateNumber: 4, journalVolume: JOURNAL, uiPosition: 500, wdPosition: 2200 });
    expect(h.mem.groups.updateNumber(1)).toBe(5);
    const p = h.mem.pointers;
    expect({
      ui_head: p.get(s, 'ui_head'), wd_head: p.get(s, 'wd_head'), capacity: p.get(s, 'capacity_bytes'),
      ui_newest: p.get(s, 'ui_newest'), ui_oldest: p.get(s, 'ui_oldest'), wd_newest: p.get(s, 'wd_newest'), wd_oldest: p.get(s, 'wd_oldest'),
      read_start: p.get(s, 'read_start'), retry_start: p.get(s, 'retry_start'), ui_slot: p.uiSlotBytes(s),
    }).toEqual({ ui_head: 0, wd_head: 700, capacity: 2700, ui_newest: 600, ui_oldest: 200, wd_newest: 2300, wd_oldest: 1300, read_start: 400, retry_start: 300, ui_slot: 100 });
    expect(h.mem.pairs.state(pairs[0]!)).toBe(PairState.NORMAL);
  });

  it('continuing the example, the update-information ring wraps at the write-data head (700 -> 0) and refuses the 7th held journal', () => {
    const { h, jc, pairs, set, out } = setup({ state: PairState.NORMAL });
    const s = set();
    setPointers(h, s, { ui_head: 0, wd_head: 700, capacity_bytes: 2700, ui_newest: 500, ui_oldest: 200, wd_newest: 2200, wd_oldest: 1300, read_start: 400, retry_start: 300 });
    h.mem.pointers.setUiSlotBytes(s, 100);
    h.mem.groups.setUpdateNumber(1, 4);
    const got: Array<[number, number, number]> = [];
    for (let i = 0; i < 3; i++) {
      expect(jc.reserveBytes(pairs[0]!, 800 + i, 100, out)).toBe(Journal.RESERVED);
      got.push([out.updateNumber, out.uiPosition, out.wdPosition]);
    }
    expect(got).toEqual([[4, 500, 2200], [5, 600, 2300], [6, 0, 2400]]);
    expect(h.mem.pointers.get(s, 'ui_newest')).toBe(100);
    // 6 journals held in 7 slots: one more would make newest == oldest.
    const before = h.mem.pointers.decode(s);
    expect(jc.reserveBytes(pairs[0]!, 900, 100, out)).toBe(Journal.FULL);
    expect(h.mem.pointers.decode(s)).toEqual(before);
    expect(h.mem.groups.updateNumber(1)).toBe(7);
  });
});

describe('journal creation: update numbers (seed 000 §12.2 items 6–7)', () => {
  it('start at 1 and are consecutive per group across its volumes and both modes; another group counts on its own', () => {
    const h = copySystem();
    const [a1, a2] = setupPrimaryGroup(h, 1, [1, 2], 3) as [number, number];
    const [b1] = setupPrimaryGroup(h, 2, [4], 5) as [number];
    for (const p of [a1, a2, b1]) h.mem.pairs.setState(p, PairState.NORMAL);
    expect(h.mem.groups.updateNumber(1)).toBe(1);
    expect(h.mem.groups.updateNumber(2)).toBe(1);
    const jc = new JournalCreation(h.mem, (l) => h.trace.push(l));
    const out: Reservation = { updateNumber: 0, journalVolume: 0, uiPosition: 0, wdPosition: 0 };
    const take = (pair: number, block: number, blocks: number, copy = false): number[] => {
      expect(copy ? jc.reserveForCopy(pair, block, blocks, out) : jc.reserveForWrite(pair, block, blocks, out)).toBe(Journal.RESERVED);
      return [out.updateNumber, out.journalVolume, out.uiPosition, out.wdPosition];
    };
    expect([
      take(a1, 0, 1), take(a2, 7, 2), take(b1, 3, 4), take(a1, 9, 3), take(b1, 0, 1), take(a2, 64, 8, true), take(a1, 1, 1),
    ]).toEqual([
      [1, 3, 0, WD_HEAD],
      [2, 3, 512, WD_HEAD + 512],
      [1, 5, 0, WD_HEAD],
      [3, 3, 1024, WD_HEAD + 3 * 512],
      [2, 5, 512, WD_HEAD + 4 * 512],
      [4, 3, 1536, 64 * 512], // initial-copy mode: no write-data space, data address on the primary volume
      [5, 3, 2048, WD_HEAD + 6 * 512],
    ]);
    expect(h.mem.groups.updateNumber(1)).toBe(6);
    expect(h.mem.groups.updateNumber(2)).toBe(3);
    expect(h.mem.groups.f64(1, 'journals_created')).toBe(5);
    expect(h.mem.groups.f64(2, 'journals_created')).toBe(2);
  });
});

describe('journal creation: S1330/S1335 — has initial copy covered the address?', () => {
  const cases: Array<{ state: PairStateCode; copied: number; block: number; blocks: number; want: number; why: string }> = [
    { state: PairState.NOT_COPIED, copied: 0, block: 0, blocks: 1, want: Journal.NOT_NEEDED, why: 'not copied' },
    { state: PairState.NOT_COPIED, copied: 0, block: 500, blocks: 12, want: Journal.NOT_NEEDED, why: 'not copied, far' },
    { state: PairState.COPYING, copied: 0, block: 0, blocks: 1, want: Journal.NOT_NEEDED, why: 'copying, nothing copied yet' },
    { state: PairState.COPYING, copied: 64, block: 65, blocks: 1, want: Journal.NOT_NEEDED, why: 'copied < position' },
    { state: PairState.COPYING, copied: 64, block: 64, blocks: 4, want: Journal.NOT_NEEDED, why: 'copied == position (ERRATUM 5: no journal)' },
    { state: PairState.COPYING, copied: 64, block: 63, blocks: 1, want: Journal.RESERVED, why: 'copied == position + 1' },
    { state: PairState.COPYING, copied: 64, block: 60, blocks: 8, want: Journal.RESERVED, why: 'a write across the copied address starts below it' },
    { state: PairState.COPYING, copied: 64, block: 0, blocks: 32, want: Journal.RESERVED, why: 'copied > position' },
    { state: PairState.NORMAL, copied: 0, block: 0, blocks: 1, want: Journal.RESERVED, why: 'normal' },
    { state: PairState.NORMAL, copied: 512, block: 511, blocks: 1, want: Journal.RESERVED, why: 'normal, last block' },
  ];
  it.each(cases)('$why: pair state $state, copied $copied, write at $block', ({ state, copied, block, blocks, want }) => {
    const { h, jc, pairs, set, out } = setup();
    h.mem.pairs.setState(pairs[0]!, state);
    h.mem.pairs.setCopiedBlocks(pairs[0]!, copied);
    const before = snapshot(h);
    expect(jc.reserveForWrite(pairs[0]!, block, blocks, out)).toBe(want);
    if (want === Journal.NOT_NEEDED) {
      // Nothing changes: no update number, no pointer, no bitmap, no state.
      expect(snapshot(h)).toEqual(before);
      expect(out.updateNumber).toBe(-1);
    } else {
      expect(out).toEqual({ updateNumber: 1, journalVolume: JOURNAL, uiPosition: 0, wdPosition: WD_HEAD });
      expect(h.mem.groups.updateNumber(1)).toBe(2);
      expect(h.mem.pointers.get(set(), 'ui_newest')).toBe(512);
      expect(h.mem.pointers.get(set(), 'wd_newest')).toBe(WD_HEAD + blocks * BLOCK_BYTES);
      expect(h.mem.pairs.state(pairs[0]!)).toBe(state);
      expect(h.mem.pairs.copiedBlocks(pairs[0]!)).toBe(copied);
    }
  });
});

describe('journal creation: S1310/S1315 — the journal volume is abnormal', () => {
  it('the group becomes abnormal, its pairs are suspended (journal volume failure), the write is marked, and no journal is made', () => {
    const { h, jc, pairs, set, out } = setup({ state: PairState.NORMAL });
    h.mem.volumes.setState(JOURNAL, VolumeState.ABNORMAL);
    const sets = h.mem.pointers.decode(set());
    expect(jc.reserveForWrite(pairs[0]!, 120, 16, out)).toBe(Journal.JOURNAL_VOLUME_FAILED);
    expect(h.mem.groups.state(1)).toBe(GroupState.ABNORMAL);
    expect(pairs.map((p) => h.mem.pairs.state(p))).toEqual([PairState.ABNORMAL, PairState.ABNORMAL]);
    expect(h.mem.groups.u8(1, 'suspend_reason')).toBe(SuspendReason.JOURNAL_VOLUME);
    expect(markedTracks(h, 1)).toEqual([0, 1]);
    expect(markedTracks(h, 2)).toEqual([]);
    expect(h.mem.groups.updateNumber(1)).toBe(1);
    expect(h.mem.groups.f64(1, 'journals_created')).toBe(0);
    expect(h.mem.pointers.decode(set())).toEqual(sets);
    expect(h.trace).toContain('group 1: normal -> abnormal (journal volume 3 is abnormal, S1315)');
    expect(h.trace).toContain('pair 1: normal -> abnormal (journal volume failure)');
    expect(h.trace).toContain('pair 2: normal -> abnormal (journal volume failure)');
    // From now on writes are only remembered.
    expect(jc.reserveForWrite(pairs[1]!, 300, 1, out)).toBe(Journal.SUSPENDED);
    expect(markedTracks(h, 2)).toEqual([2]);
    expect(h.mem.groups.updateNumber(1)).toBe(1);
  });

  it('in initial-copy mode it also fails the group; a pair still copying must copy everything from its copied address again', () => {
    const { h, jc, pairs, out } = setup();
    h.mem.pairs.setState(pairs[0]!, PairState.COPYING);
    h.mem.pairs.setCopiedBlocks(pairs[0]!, 256);
    h.mem.volumes.setState(JOURNAL, VolumeState.ABNORMAL);
    expect(jc.reserveForCopy(pairs[0]!, 256, 32, out)).toBe(Journal.JOURNAL_VOLUME_FAILED);
    expect(h.mem.groups.state(1)).toBe(GroupState.ABNORMAL);
    expect(pairs.map((p) => h.mem.pairs.state(p))).toEqual([PairState.ABNORMAL, PairState.ABNORMAL]);
    expect(markedTracks(h, 1)).toEqual([2, 3]); // [256, 512) was not copied yet
    expect(markedTracks(h, 2)).toEqual([0, 1, 2, 3]); // not copied at all
    expect(h.mem.groups.updateNumber(1)).toBe(1);
  });
});

describe('journal creation: S1340/S1345/S1390 — no room', () => {
  const full: Array<{ what: string; ui?: [number, number]; wd?: [number, number]; blocks: number }> = [
    { what: 'update-information area full (31 of 32 records held)', ui: [31 * 512, 0], blocks: 1 },
    { what: 'update-information area full, wrapped (newest just behind oldest)', ui: [5 * 512, 6 * 512], blocks: 1 },
    { what: 'write-data area: the data would fill it exactly', wd: [CAPACITY - 2048, WD_HEAD], blocks: 4 },
    { what: 'write-data area, wrapped: the data would reach oldest exactly', wd: [WD_HEAD + 8192, WD_HEAD + 10240], blocks: 4 },
    { what: 'write-data area: larger than all the free space', wd: [WD_HEAD + 4096, WD_HEAD + 8192], blocks: 32 },
  ];

  it.each(full)('$what: host-write mode fails with no pointer or counter change, suspends the pairs (journal full) and marks the write', ({ ui, wd, blocks }) => {
    const { h, jc, pairs, set, out } = setup({ state: PairState.NORMAL });
    const s = set();
    if (ui) setPointers(h, s, { ui_newest: ui[0], ui_oldest: ui[1], read_start: ui[1], retry_start: ui[1] });
    if (wd) setPointers(h, s, { wd_newest: wd[0], wd_oldest: wd[1] });
    h.mem.groups.setUpdateNumber(1, 40);
    const sets = h.mem.pointers.decode(s);
    expect(jc.reserveForWrite(pairs[1]!, 130, blocks, out)).toBe(Journal.FULL);
    expect(h.mem.pointers.decode(s)).toEqual(sets);
    expect(h.mem.groups.updateNumber(1)).toBe(40);
    expect(h.mem.groups.f64(1, 'journals_created')).toBe(0);
    expect(out.updateNumber).toBe(-1);
    expect(pairs.map((p) => h.mem.pairs.state(p))).toEqual([PairState.ABNORMAL, PairState.ABNORMAL]);
    expect(h.mem.groups.u8(1, 'suspend_reason')).toBe(SuspendReason.JOURNAL_FULL);
    expect(h.mem.groups.state(1)).toBe(GroupState.NORMAL); // the journal volume itself is fine
    expect(markedTracks(h, 2)).toEqual([1]);
    expect(markedTracks(h, 1)).toEqual([]);
    expect(h.trace).toContain('pair 2: normal -> abnormal (journal full)');
  });

  it('the boundary: with one record of room the write is journaled, the next one is not', () => {
    const { h, jc, pairs, set, out } = setup({ state: PairState.NORMAL });
    setPointers(h, set(), { ui_newest: 30 * 512 });
    expect(jc.reserveForWrite(pairs[0]!, 0, 1, out)).toBe(Journal.RESERVED);
    expect(out.uiPosition).toBe(30 * 512);
    expect(h.mem.pointers.get(set(), 'ui_newest')).toBe(31 * 512);
    expect(jc.reserveForWrite(pairs[0]!, 0, 1, out)).toBe(Journal.FULL);
    expect(h.mem.pointers.get(set(), 'ui_newest')).toBe(31 * 512);
    expect(h.mem.groups.updateNumber(1)).toBe(2);
  });

  it('the boundary in write-data bytes: one byte less than the free space fits, the free space itself does not', () => {
    const { h, jc, pairs, set, out } = setup({ state: PairState.NORMAL });
    setPointers(h, set(), { wd_newest: WD_HEAD + 8192, wd_oldest: WD_HEAD + 10240 }); // 2048 free, wrapped
    const sets = h.mem.pointers.decode(set());
    expect(jc.reserveBytes(pairs[0]!, 0, 2048, out)).toBe(Journal.FULL);
    expect(h.mem.pointers.decode(set())).toEqual(sets);
    // A fresh system for the success side (FULL suspended the pairs).
    const b = setup({ state: PairState.NORMAL });
    setPointers(b.h, b.set(), { wd_newest: WD_HEAD + 8192, wd_oldest: WD_HEAD + 10240 });
    expect(b.jc.reserveBytes(b.pairs[0]!, 0, 2047, b.out)).toBe(Journal.RESERVED);
    expect(b.out.wdPosition).toBe(WD_HEAD + 8192);
    expect(b.h.mem.pointers.get(b.set(), 'wd_newest')).toBe(WD_HEAD + 10239);
  });

  it('initial-copy mode: update-information area full changes nothing at all (no suspension, no mark); the copy waits', () => {
    const { h, jc, pairs, set, out } = setup();
    h.mem.pairs.setState(pairs[0]!, PairState.COPYING);
    h.mem.pairs.setCopiedBlocks(pairs[0]!, 64);
    setPointers(h, set(), { ui_newest: 31 * 512, ui_oldest: 0 });
    const before = snapshot(h);
    const lines = h.trace.length;
    expect(jc.reserveForCopy(pairs[0]!, 64, 32, out)).toBe(Journal.FULL);
    expect(snapshot(h)).toEqual(before);
    expect(h.trace.length).toBe(lines);
    expect(out.updateNumber).toBe(-1);
  });

  it('initial-copy mode does not look at the write-data area: a full write-data area still takes an initial-copy journal', () => {
    const { h, jc, pairs, set, out } = setup();
    h.mem.pairs.setState(pairs[0]!, PairState.COPYING);
    setPointers(h, set(), { wd_newest: WD_HEAD + 8192 - 512, wd_oldest: WD_HEAD + 8192 });
    expect(jc.reserveForCopy(pairs[0]!, 0, 32, out)).toBe(Journal.RESERVED);
    expect(h.mem.pointers.get(set(), 'wd_newest')).toBe(WD_HEAD + 8192 - 512);
  });
});

describe('journal creation: several pointer sets (S1346, seed 002 §6.3)', () => {
  it('a write that fits one reader\'s set but not the other\'s fails, changing neither set', () => {
    for (const [fullSet, what] of [[1, 'ui'], [0, 'ui'], [1, 'wd'], [0, 'wd']] as const) {
      const { h, jc, pairs, set, out } = setup({ readers: [2, 3], state: PairState.NORMAL });
      expect([h.mem.pointers.readerSystem(set(0)), h.mem.pointers.readerSystem(set(1))]).toEqual([2, 3]);
      // The slow reader's oldest pointers lag: just enough room for... less than this write.
      if (what === 'ui') setPointers(h, set(fullSet), { ui_oldest: 512, read_start: 512, retry_start: 512 });
      else setPointers(h, set(fullSet), { wd_oldest: WD_HEAD + 1024 });
      const before = [h.mem.pointers.decode(set(0)), h.mem.pointers.decode(set(1))];
      expect(jc.reserveForWrite(pairs[0]!, 0, 2, out)).toBe(Journal.FULL);
      expect([h.mem.pointers.decode(set(0)), h.mem.pointers.decode(set(1))]).toEqual(before);
      expect(h.mem.groups.updateNumber(1)).toBe(1);
      expect(h.mem.pairs.state(pairs[0]!)).toBe(PairState.ABNORMAL);
    }
  });

  it('a write that fits every set moves all the newest pointers identically; each reader keeps its own oldest, read and retry pointers', () => {
    const { h, jc, pairs, set, out } = setup({ readers: [2, 3], state: PairState.NORMAL });
    for (const r of [0, 1]) setPointers(h, set(r), { ui_newest: 2048, wd_newest: WD_HEAD + 8192 });
    setPointers(h, set(0), { ui_oldest: 2048, wd_oldest: WD_HEAD + 8192, read_start: 2048, retry_start: 2048 }); // caught up
    setPointers(h, set(1), { ui_oldest: 0, wd_oldest: WD_HEAD, read_start: 1024, retry_start: 512 }); // 4 journals behind
    h.mem.groups.setUpdateNumber(1, 5);
    const before = [h.mem.pointers.decode(set(0)), h.mem.pointers.decode(set(1))];
    expect(jc.reserveForWrite(pairs[0]!, 10, 3, out)).toBe(Journal.RESERVED);
    expect(out).toEqual({ updateNumber: 5, journalVolume: JOURNAL, uiPosition: 2048, wdPosition: WD_HEAD + 8192 });
    for (const r of [0, 1]) {
      expect(h.mem.pointers.decode(set(r))).toEqual({ ...before[r], ui_newest: 2560, wd_newest: WD_HEAD + 8192 + 1536 });
    }
    expect(h.mem.pointers.decode(set(2)).group_number).toBe(0); // only two readers
  });
});

describe('journal creation: suspended pairs and delta resync', () => {
  it('a suspended (abnormal) pair: SUSPENDED, exactly the touched tracks are marked, no journal', () => {
    const { h, jc, pairs, set, out } = setup({ state: PairState.NORMAL });
    const b = new UpdateBitmaps(h.mem);
    const track = b.trackBlocks(1);
    expect(track).toBe(128);
    h.mem.pairs.setState(pairs[0]!, PairState.ABNORMAL);
    const sets = h.mem.pointers.decode(set());
    expect(jc.reserveForWrite(pairs[0]!, track - 8, 16, out)).toBe(Journal.SUSPENDED); // blocks 120..135
    expect(markedTracks(h, 1)).toEqual([0, 1]);
    expect(jc.reserveForWrite(pairs[0]!, 3 * track, track, out)).toBe(Journal.SUSPENDED); // exactly track 3
    expect(markedTracks(h, 1)).toEqual([0, 1, 3]);
    expect(jc.reserveForWrite(pairs[0]!, 2 * track - 1, 1, out)).toBe(Journal.SUSPENDED); // last block of track 1
    expect(markedTracks(h, 1)).toEqual([0, 1, 3]);
    expect(markedTracks(h, 2)).toEqual([]);
    expect(h.mem.pointers.decode(set())).toEqual(sets);
    expect(h.mem.groups.updateNumber(1)).toBe(1);
    expect(h.mem.pairs.state(pairs[1]!)).toBe(PairState.NORMAL); // the other pair is not touched
    expect(out.updateNumber).toBe(-1);
  });

  it('resync mode (copying + RESYNC): a write touching a marked track needs no journal and stays marked; an unmarked one is journaled', () => {
    const { h, jc, pairs, set, out } = setup({ state: PairState.NORMAL });
    const b = new UpdateBitmaps(h.mem);
    h.mem.pairs.setState(pairs[0]!, PairState.COPYING);
    h.mem.pairs.setFlags(pairs[0]!, PairFlag.RESYNC);
    h.mem.pairs.setCopiedBlocks(pairs[0]!, 0); // the copied address is not what decides in resync mode
    b.mark(1, 128, 1); // track 1
    const before = snapshot(h);
    expect(jc.reserveForWrite(pairs[0]!, 130, 4, out)).toBe(Journal.NOT_NEEDED);
    expect(snapshot(h)).toEqual(before);
    expect(markedTracks(h, 1)).toEqual([1]);
    expect(jc.reserveForWrite(pairs[0]!, 10, 2, out)).toBe(Journal.RESERVED);
    expect(out).toEqual({ updateNumber: 1, journalVolume: JOURNAL, uiPosition: 0, wdPosition: WD_HEAD });
    expect(jc.reserveForWrite(pairs[0]!, 300, 1, out)).toBe(Journal.RESERVED);
    expect(out.updateNumber).toBe(2);
    expect(markedTracks(h, 1)).toEqual([1]);
    expect(h.mem.pairs.state(pairs[0]!)).toBe(PairState.COPYING);
  });
});

describe('journal creation: initial-copy mode (seed 000 §12.2 item 10)', () => {
  it('takes an update number and an update-information slot but no write-data space; the data address is the copied block of the primary volume', () => {
    const { h, jc, pairs, set, out } = setup();
    h.mem.pairs.setState(pairs[0]!, PairState.COPYING);
    h.mem.pairs.setCopiedBlocks(pairs[0]!, 64);
    const before = h.mem.pointers.decode(set());
    expect(jc.reserveForCopy(pairs[0]!, 64, 32, out)).toBe(Journal.RESERVED);
    expect(out).toEqual({ updateNumber: 1, journalVolume: JOURNAL, uiPosition: 0, wdPosition: 64 * 512 });
    expect(h.mem.pointers.decode(set())).toEqual({ ...before, ui_newest: 512 });
    expect(h.mem.pointers.get(set(), 'wd_newest')).toBe(WD_HEAD);
    expect(h.mem.groups.updateNumber(1)).toBe(2);
    // S1050 happens under the group lock with the reservation, so a host write that sees the new
    // copied address is numbered after this journal.
    expect(h.mem.pairs.copiedBlocks(pairs[0]!)).toBe(96);
  });
});

// ---------------------------------------------------------------------------------------------
// The host-write path through the channel adapter (S1250–S1280 with S1265).

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

function hostSetup(): Setup {
  const s = setup({ primaries: [1, 2] });
  // The initial-copy task (channel adapter 1) finds nothing to copy and only watches.
  for (const p of s.pairs) s.h.mem.pairs.setState(p, PairState.NORMAL);
  return s;
}

function readUpdateInfo(h: Harness, uiPosition: number): { fields: ReturnType<typeof emptyUpdateInfo>; magic: number; valid: string | null } {
  const r = h.read(0, JOURNAL, uiPosition / BLOCK_BYTES, BLOCK_BYTES);
  expect(r.status).toBe(ScsiStatus.GOOD);
  const fields = emptyUpdateInfo();
  decodeUpdateInfo(view(r.data), 0, fields);
  return { fields, magic: view(r.data).getUint32(0, true), valid: validateUpdateInfo(view(r.data), r.data, 0, h.mem.config.maxTransferBytes / BLOCK_BYTES) };
}

function readJournal(h: Harness, position: number, bytes: number): Uint8Array {
  const r = h.read(0, JOURNAL, position / BLOCK_BYTES, bytes);
  expect(r.status).toBe(ScsiStatus.GOOD);
  return r.data;
}

describe('journal creation: a host write end to end', () => {
  it('a write to a primary volume of a normal pair stores an exact update information and the write data in the journal volume', () => {
    const { h, set } = hostSetup();
    const data = pattern(4 * BLOCK_BYTES, 101);
    const t0 = h.clock.nowMs();
    expect(h.write(0, 1, 5, data).status).toBe(ScsiStatus.GOOD);
    const t1 = h.clock.nowMs();
    // Exactly one journal (seed 000 §12.3 item 14).
    expect(h.mem.groups.updateNumber(1)).toBe(2);
    expect(h.mem.pointers.get(set(), 'ui_newest')).toBe(512);
    expect(h.mem.pointers.get(set(), 'wd_newest')).toBe(WD_HEAD + data.byteLength);
    const ui = readUpdateInfo(h, 0);
    expect(ui.magic).toBe(UPDATE_INFO_MAGIC);
    expect(ui.valid).toBeNull();
    const { receiveMs, ...rest } = ui.fields;
    expect(rest).toEqual({
      flags: 0, updateNumber: 1, groupNumber: 1, targetVolume: 1, targetBlock: 5, dataBlocks: 4,
      dataVolume: JOURNAL, dataChecksum: crc32c(data, 0, data.byteLength), dataPosition: WD_HEAD,
    });
    expect(receiveMs).toBeGreaterThanOrEqual(t0);
    expect(receiveMs).toBeLessThanOrEqual(t1);
    expect(Buffer.from(readJournal(h, WD_HEAD, data.byteLength)).equals(Buffer.from(data))).toBe(true);
    expect(Buffer.from(h.read(0, 1, 5, data.byteLength).data).equals(Buffer.from(data))).toBe(true);
  });

  it('a later write to the same block leaves journal n\'s write data unchanged (write-data immutability, §12.2 item 11), in cache and on the drive', () => {
    const { h } = hostSetup();
    const d1 = pattern(2 * BLOCK_BYTES, 201);
    const d2 = pattern(2 * BLOCK_BYTES, 202);
    expect(h.write(0, 1, 40, d1).status).toBe(ScsiStatus.GOOD);
    expect(h.write(1, 1, 40, d2).status).toBe(ScsiStatus.GOOD);
    const u1 = readUpdateInfo(h, 0).fields;
    const u2 = readUpdateInfo(h, 512).fields;
    expect([u1.updateNumber, u1.targetBlock, u1.dataPosition, u1.dataChecksum]).toEqual([1, 40, WD_HEAD, crc32c(d1, 0, d1.byteLength)]);
    expect([u2.updateNumber, u2.targetBlock, u2.dataPosition, u2.dataChecksum]).toEqual([2, 40, WD_HEAD + 1024, crc32c(d2, 0, d2.byteLength)]);
    expect(Buffer.from(readJournal(h, WD_HEAD, 1024)).equals(Buffer.from(d1))).toBe(true);
    expect(Buffer.from(readJournal(h, WD_HEAD + 1024, 1024)).equals(Buffer.from(d2))).toBe(true);
    expect(Buffer.from(h.read(0, 1, 40, 1024).data).equals(Buffer.from(d2))).toBe(true);
    // Destaged: the drive holds both journals' data at their journal addresses (volume 3 starts at block 1024 of drive 0).
    const anyDirty = (): boolean => Array.from({ length: h.cache.slotCount }, (_, slot) => h.cache.isDirty(slot)).some(Boolean);
    for (let i = 0; i < 2000 && anyDirty(); i++) h.round();
    expect(anyDirty()).toBe(false);
    const drive = h.driveBytes.get(0)!;
    const at = (1024 * BLOCK_BYTES) + WD_HEAD;
    expect(Buffer.from(drive.subarray(at, at + 1024)).equals(Buffer.from(d1))).toBe(true);
    expect(Buffer.from(drive.subarray(at + 1024, at + 2048)).equals(Buffer.from(d2))).toBe(true);
    expect(Buffer.from(drive.subarray(40 * BLOCK_BYTES, 42 * BLOCK_BYTES)).equals(Buffer.from(d2))).toBe(true);
  });

  it('write data that reaches the end of the write-data area is stored in two pieces: the tail of the area, then its head', () => {
    const { h, set } = hostSetup();
    const s = set();
    setPointers(h, s, { ui_newest: 3 * 512, ui_oldest: 3 * 512, read_start: 3 * 512, retry_start: 3 * 512, wd_newest: CAPACITY - 1024, wd_oldest: CAPACITY - 1024 });
    const data = pattern(4 * BLOCK_BYTES, 301);
    expect(h.write(0, 2, 77, data).status).toBe(ScsiStatus.GOOD);
    expect(h.mem.pointers.get(s, 'wd_newest')).toBe(WD_HEAD + 1024);
    expect(h.mem.pointers.get(s, 'ui_newest')).toBe(4 * 512);
    const ui = readUpdateInfo(h, 3 * 512);
    expect(ui.valid).toBeNull();
    expect([ui.fields.updateNumber, ui.fields.targetVolume, ui.fields.targetBlock, ui.fields.dataBlocks, ui.fields.dataVolume, ui.fields.dataPosition, ui.fields.dataChecksum])
      .toEqual([1, 2, 77, 4, JOURNAL, CAPACITY - 1024, crc32c(data, 0, data.byteLength)]);
    expect(Buffer.from(readJournal(h, CAPACITY - 1024, 1024)).equals(Buffer.from(data.subarray(0, 1024)))).toBe(true);
    expect(Buffer.from(readJournal(h, WD_HEAD, 1024)).equals(Buffer.from(data.subarray(1024)))).toBe(true);
    // Nothing spilled into the update-information area or past the second piece.
    expect(readJournal(h, WD_HEAD + 1024, 512).every((x) => x === 0)).toBe(true);
    expect(readJournal(h, 0, 3 * 512).every((x) => x === 0)).toBe(true);
  });
});
