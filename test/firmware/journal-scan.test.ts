// Journal scan (firmware/journal-scan.ts): the journals a journal volume holds, read from its
// drive alone, as a recovery after power loss needs them. Every image is made by the real
// firmware on a freshly formatted system (host writes through a channel adapter, initial copy,
// a secondary's journal store), powered off so the disk adapter destages and flushes; the test
// then reads the drive, tears it the ways a power loss or a bad medium would, and scans again.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BLOCK_BYTES } from '../../firmware/config.ts';
import { scanJournal, type JournalScanReport, type JournalScanTarget } from '../../firmware/journal-scan.ts';
import { UPDATE_INFO_FLAG_INITIAL_COPY } from '../../firmware/structs/update-info.ts';
import { decodeUpdateInfo, emptyUpdateInfo, encodeUpdateInfo, validateUpdateInfo } from '../../firmware/structs/update-info-codec.ts';
import { crc32c } from '../../hal/crc32c.ts';
import { FaultControl, FaultyDrive } from '../../hal/faulty-drive.ts';
import { ScsiStatus } from '../../hal/host-port.ts';
import { MemoryDrive } from '../../hal/memory-drive.ts';
import { encodeResponse, decodeJnlrd, Frame, sendFrame, takeFrame, wireJournal, type WireJournal } from '../support/frames.ts';
import { copySystem, pattern, secondaryTestSystem, setupPrimaryGroup, type Harness } from '../support/harness.ts';
import { JOURNAL, hostWrites, journaledPrimary, powerOff, scanTarget } from '../support/journal-image.ts';

// copySystem(): journal volume 3 on drive 0 from block 1024, 256 blocks: 32 update-information
// slots (16 KiB), then 112 KiB of write data.
const GROUP = 1;
const SLOTS = 32;
const WD_HEAD = 16 * 1024;
const CAPACITY = 256 * BLOCK_BYTES;
const WD_AREA = CAPACITY - WD_HEAD;

const must = (r: { status: string; reason: string }): void => {
  if (r.status !== 'ok') throw new Error(r.reason);
};

const setOf = (h: Harness, group: number): number => group * h.mem.config.readersMax;
const primary = (): Harness => journaledPrimary(GROUP);

/** What the pointer set says the journal holds (the firmware's own view before power-off). */
function pointerView(h: Harness, group: number): Partial<JournalScanReport> {
  const p = h.mem.pointers;
  const s = setOf(h, group);
  return { uiOldest: p.get(s, 'ui_oldest'), uiNewest: p.get(s, 'ui_newest'), wdOldest: p.get(s, 'wd_oldest'), wdNewest: p.get(s, 'wd_newest'), oldest: p.get(s, 'oldest_number') };
}

/** Byte `offset` of journal volume 3 on drive 0. */
const at = (offset: number): number => (1024 * BLOCK_BYTES) + offset;
function flip(h: Harness, offset: number, mask = 0xff): void {
  const d = h.driveBytes.get(0)!;
  d[at(offset)] = d[at(offset)]! ^ mask;
}

// ---- the standard image: ten host writes of different sizes, alternating volumes ------------

const SIZES = [1, 2, 4, 8, 3, 1, 16, 2, 5, 4]; // blocks
const TOTAL = SIZES.reduce((a, b) => a + b, 0) * BLOCK_BYTES;
/** Write-data position of journal k (1-based). */
const dataOf = (k: number): number => WD_HEAD + SIZES.slice(0, k - 1).reduce((a, b) => a + b, 0) * BLOCK_BYTES;

function tenWrites(): Harness {
  const h = primary();
  hostWrites(h, SIZES);
  return h;
}

const BASE: JournalScanReport = {
  status: 'ok', slots: SLOTS, slotsBlank: SLOTS - 10, slotsDamaged: 0, highest: 10, oldest: 1, newest: 10, records: 10, recordsWithoutData: 0, dataBytes: TOTAL,
  uiOldest: 0, uiNewest: 10 * BLOCK_BYTES, wdOldest: WD_HEAD, wdNewest: WD_HEAD + TOTAL, tornTail: null, discardedAfterGap: 0, front: 'update 1 is the first',
  from: null, fromHeld: null, problems: [],
};

function tenWritesOff(): Harness {
  const h = tenWrites();
  powerOff(h);
  return h;
}

describe('journal scan: an intact journal', () => {
  it('finds journals 1..10 at exactly the positions the pointer set held before power-off', () => {
    const h = tenWrites();
    const before = pointerView(h, GROUP);
    powerOff(h);
    const r = scanJournal(scanTarget(h, GROUP));
    expect(r).toEqual(BASE);
    expect(r).toMatchObject(before);
    expect(h.mem.groups.updateNumber(GROUP) - 1).toBe(r.newest);
  });

  it('with `from` it reports whether every record from it is held, and never reaches below it', () => {
    const h = tenWritesOff();
    expect(scanJournal(scanTarget(h, GROUP, { from: 1 }))).toEqual({ ...BASE, front: 'from 1', from: 1, fromHeld: true });
    expect(scanJournal(scanTarget(h, GROUP, { from: 4 }))).toEqual({
      ...BASE, oldest: 4, records: 7, dataBytes: WD_HEAD + TOTAL - dataOf(4), uiOldest: 3 * BLOCK_BYTES, wdOldest: dataOf(4), front: 'from 4', from: 4, fromHeld: true,
    });
    // Everything released: nothing is expected, nothing is missing.
    expect(scanJournal(scanTarget(h, GROUP, { from: 11 }))).toEqual({
      ...BASE, oldest: null, newest: null, records: 0, dataBytes: 0, uiOldest: null, uiNewest: null, wdOldest: null, wdNewest: null, front: 'from 11: every record found is older', from: 11, fromHeld: true,
    });
    // The caller expected journals the drive does not have.
    expect(scanJournal(scanTarget(h, GROUP, { from: 13 }))).toMatchObject({ oldest: null, records: 0, fromHeld: false, problems: ['updates from 13 are expected, but the highest record found is 10'] });
  });

  it('a freshly formatted journal volume holds nothing and is not damaged', () => {
    const h = primary();
    powerOff(h);
    expect(scanJournal(scanTarget(h, GROUP))).toEqual({
      ...BASE, slotsBlank: SLOTS, highest: 0, oldest: null, newest: null, records: 0, dataBytes: 0, uiOldest: null, uiNewest: null, wdOldest: null, wdNewest: null,
      front: 'no well-formed record of the group',
    });
    expect(scanJournal(scanTarget(h, GROUP, { from: 1 }))).toMatchObject({ records: 0, from: 1, fromHeld: true, problems: [] });
    expect(scanJournal(scanTarget(h, GROUP, { from: 3 }))).toMatchObject({ records: 0, from: 3, fromHeld: false, problems: ['updates from 3 are expected, but no record was found'] });
    // The first journal's update information torn on a fresh volume: nothing valid, the damage said.
    h.driveBytes.get(0)!.set([1, 2, 3], at(0));
    expect(scanJournal(scanTarget(h, GROUP))).toMatchObject({
      highest: 0, records: 0, slotsBlank: SLOTS - 1, slotsDamaged: 1, tornTail: null, problems: ['no valid record of group 1; 1 of 32 slots hold damaged records (first: slot 0: bad magic)'],
    });
  });
});

describe('journal scan: a torn or damaged image', () => {
  it('the newest record\'s header torn: it is the torn tail, discarded; newest is 9', () => {
    const h = tenWritesOff();
    flip(h, 9 * BLOCK_BYTES + 20); // inside journal 10's update number
    expect(scanJournal(scanTarget(h, GROUP))).toEqual({
      ...BASE, slotsBlank: SLOTS - 10, slotsDamaged: 1, highest: 9, newest: 9, records: 9, dataBytes: dataOf(10) - WD_HEAD, uiNewest: 9 * BLOCK_BYTES, wdNewest: dataOf(10),
      tornTail: { slot: 9, position: 9 * BLOCK_BYTES, reason: 'header checksum mismatch' },
      problems: ['torn tail at slot 9, after update 9: header checksum mismatch'],
    });
  });

  it('the newest record\'s write data not on the drive (its update information destaged first): torn tail by data checksum', () => {
    const h = tenWritesOff();
    h.driveBytes.get(0)!.fill(0, at(dataOf(10)), at(dataOf(10) + 4 * BLOCK_BYTES));
    expect(scanJournal(scanTarget(h, GROUP))).toEqual({
      ...BASE, newest: 9, records: 9, dataBytes: dataOf(10) - WD_HEAD, uiNewest: 9 * BLOCK_BYTES, wdNewest: dataOf(10),
      tornTail: { slot: 9, position: 9 * BLOCK_BYTES, reason: 'data checksum mismatch' },
      problems: ['torn tail at slot 9, after update 9: data checksum mismatch'],
    });
  });

  it('a damaged record in the middle: the run ends at the gap, the six valid records beyond it are discarded and reported', () => {
    const h = tenWritesOff();
    flip(h, 3 * BLOCK_BYTES + 44); // journal 4's data checksum field
    expect(scanJournal(scanTarget(h, GROUP))).toEqual({
      ...BASE, slotsDamaged: 1, newest: 3, records: 3, dataBytes: dataOf(4) - WD_HEAD, uiNewest: 3 * BLOCK_BYTES, wdNewest: dataOf(4),
      tornTail: { slot: 3, position: 3 * BLOCK_BYTES, reason: 'header checksum mismatch' }, discardedAfterGap: 6,
      problems: ['gap at slot 3, after update 3: header checksum mismatch; 6 valid record(s) beyond it, up to update 10, discarded: a journal is never accepted across a gap'],
    });
  });

  it('write data corrupted in the middle: that record is invalid and ends the run; with `from` above it the later records are whole', () => {
    const h = tenWritesOff();
    flip(h, dataOf(6) + 100, 0x01);
    const expected: JournalScanReport = {
      ...BASE, newest: 5, records: 5, dataBytes: dataOf(6) - WD_HEAD, uiNewest: 5 * BLOCK_BYTES, wdNewest: dataOf(6),
      tornTail: { slot: 5, position: 5 * BLOCK_BYTES, reason: 'data checksum mismatch' }, discardedAfterGap: 4,
      problems: ['gap at slot 5, after update 5: data checksum mismatch; 4 valid record(s) beyond it, up to update 10, discarded: a journal is never accepted across a gap'],
    };
    expect(scanJournal(scanTarget(h, GROUP))).toEqual(expected);
    // The caller holds from 7 on (6 was restored): nothing it needs is damaged.
    expect(scanJournal(scanTarget(h, GROUP, { from: 7 }))).toEqual({
      ...BASE, oldest: 7, records: 4, dataBytes: WD_HEAD + TOTAL - dataOf(7), uiOldest: 6 * BLOCK_BYTES, wdOldest: dataOf(7), front: 'from 7', from: 7, fromHeld: true,
    });
    // From 5 on, journal 6 is needed and damaged: 5 is all that can be used.
    expect(scanJournal(scanTarget(h, GROUP, { from: 5 }))).toEqual({
      ...expected, oldest: 5, records: 1, dataBytes: dataOf(6) - dataOf(5), uiOldest: 4 * BLOCK_BYTES, wdOldest: dataOf(5), front: 'from 5', from: 5, fromHeld: true,
    });
  });

  it('concurrent writes cut by power loss: journal 9\'s update information never reached the drive, 10\'s did — 10 is not accepted across the hole', () => {
    const h = tenWritesOff();
    h.driveBytes.get(0)!.fill(0, at(8 * BLOCK_BYTES), at(9 * BLOCK_BYTES));
    expect(scanJournal(scanTarget(h, GROUP))).toEqual({
      ...BASE, slotsBlank: SLOTS - 9, newest: 8, records: 8, dataBytes: dataOf(9) - WD_HEAD, uiNewest: 8 * BLOCK_BYTES, wdNewest: dataOf(9),
      tornTail: { slot: 8, position: 8 * BLOCK_BYTES, reason: 'blank slot' }, discardedAfterGap: 1,
      problems: ['gap at slot 8, after update 8: blank slot; 1 valid record(s) beyond it, up to update 10, discarded: a journal is never accepted across a gap'],
    });
  });

  it('a slot holding another number than its place in the ring asks for is a hole too (and records beyond it that fail are listed)', () => {
    const h = tenWritesOff();
    const d = h.driveBytes.get(0)!;
    d.copyWithin(at(6 * BLOCK_BYTES), at(0), at(BLOCK_BYTES)); // journal 1's record where 7's belongs
    flip(h, 8 * BLOCK_BYTES + 8); // and journal 9's header torn
    expect(scanJournal(scanTarget(h, GROUP))).toEqual({
      ...BASE, slotsDamaged: 1, newest: 6, records: 6, dataBytes: dataOf(7) - WD_HEAD, uiNewest: 6 * BLOCK_BYTES, wdNewest: dataOf(7),
      tornTail: { slot: 6, position: 6 * BLOCK_BYTES, reason: 'holds update 1, expected 7' }, discardedAfterGap: 2,
      problems: [
        'gap at slot 6, after update 6: holds update 1, expected 7; 2 valid record(s) beyond it, up to update 10, discarded: a journal is never accepted across a gap',
        'update 9 (slot 8) beyond the gap: header checksum mismatch',
      ],
    });
  });

  it('garbage in the slot after the newest record is a torn tail; a record of another group there is not', () => {
    const h = tenWritesOff();
    const d = h.driveBytes.get(0)!;
    d.set(pattern(BLOCK_BYTES, 7), at(10 * BLOCK_BYTES));
    d.set([0x4a, 0x4e, 0x4c, 0x31], at(10 * BLOCK_BYTES)); // the magic, then garbage
    expect(scanJournal(scanTarget(h, GROUP))).toEqual({
      ...BASE, slotsBlank: SLOTS - 11, slotsDamaged: 1, tornTail: { slot: 10, position: 10 * BLOCK_BYTES, reason: 'header checksum mismatch' },
      problems: ['torn tail at slot 10, after update 10: header checksum mismatch'],
    });
    // A record of group 2 (an earlier use of the volume) is a clean end.
    const v = new DataView(d.buffer);
    const f = { ...emptyUpdateInfo(), updateNumber: 77, groupNumber: 2, targetVolume: 1, dataBlocks: 1, dataVolume: JOURNAL, dataPosition: WD_HEAD };
    encodeUpdateInfo(v, d, at(10 * BLOCK_BYTES), f);
    expect(scanJournal(scanTarget(h, GROUP))).toEqual({ ...BASE, slotsBlank: SLOTS - 11 });
  });

  it('a record whose write data lies outside the write-data area is damaged, whatever its checksums say', () => {
    const h = tenWritesOff();
    const d = h.driveBytes.get(0)!;
    const v = new DataView(d.buffer);
    const f = emptyUpdateInfo();
    decodeUpdateInfo(v, at(9 * BLOCK_BYTES), f);
    encodeUpdateInfo(v, d, at(9 * BLOCK_BYTES), { ...f, dataPosition: 512 }); // into the update-information area
    expect(scanJournal(scanTarget(h, GROUP))).toMatchObject({
      highest: 9, newest: 9, slotsDamaged: 1,
      tornTail: { slot: 9, position: 9 * BLOCK_BYTES, reason: `write data (2048 bytes at 512) cannot lie in the write-data area [${WD_HEAD}, ${CAPACITY})` },
    });
    // In the area but not where the next record's data begins: the layout does not agree (its
    // data checksum is not even read), and journals 6..10 are beyond the gap.
    encodeUpdateInfo(v, d, at(9 * BLOCK_BYTES), f);
    decodeUpdateInfo(v, at(4 * BLOCK_BYTES), f);
    encodeUpdateInfo(v, d, at(4 * BLOCK_BYTES), { ...f, dataPosition: f.dataPosition + BLOCK_BYTES });
    expect(scanJournal(scanTarget(h, GROUP))).toMatchObject({
      highest: 10, newest: 4, slotsDamaged: 0, discardedAfterGap: 5,
      tornTail: { slot: 4, position: 4 * BLOCK_BYTES, reason: `its write data (1536 bytes at ${dataOf(5) + BLOCK_BYTES}) does not end where the next record's begins (${dataOf(6)})` },
    });
  });

  it('drive errors are a report, not an exception: unreadable slots are damaged, a failed drive is a status', () => {
    const h = tenWritesOff();
    const faults = new FaultControl(FaultControl.allocate());
    const bytes = h.driveBytes.get(0)!;
    const drive = new FaultyDrive(new MemoryDrive(bytes.buffer as SharedArrayBuffer, 2048), faults);
    faults.failReads(1024 + 5, 1024 + 5); // journal 6's update information
    expect(scanJournal(scanTarget(h, GROUP, { drive }))).toEqual({
      ...BASE, slotsDamaged: 1, newest: 5, records: 5, dataBytes: dataOf(6) - WD_HEAD, uiNewest: 5 * BLOCK_BYTES, wdNewest: dataOf(6),
      tornTail: { slot: 5, position: 5 * BLOCK_BYTES, reason: 'unreadable (medium error)' }, discardedAfterGap: 4,
      problems: ['gap at slot 5, after update 5: unreadable (medium error); 4 valid record(s) beyond it, up to update 10, discarded: a journal is never accepted across a gap'],
    });
    faults.heal();
    faults.failReads(1024 + dataOf(10) / BLOCK_BYTES, 1024 + dataOf(10) / BLOCK_BYTES); // journal 10's write data
    expect(scanJournal(scanTarget(h, GROUP, { drive }))).toMatchObject({ newest: 9, tornTail: { slot: 9, reason: `write data at ${dataOf(10)} unreadable (medium error)` } });
    faults.heal();
    faults.failDrive();
    expect(scanJournal(scanTarget(h, GROUP, { drive }))).toEqual({
      ...BASE, status: 'drive-failed', slotsBlank: 0, highest: 0, oldest: null, newest: null, records: 0, dataBytes: 0, uiOldest: null, uiNewest: null, wdOldest: null, wdNewest: null,
      front: 'nothing was read', problems: ['memory 1 MiB failed reading update information at block 1024'],
    });
  });

  it('a target that is not a ring on the drive is refused with reasons, nothing read', () => {
    const h = tenWritesOff();
    const t = scanTarget(h, GROUP);
    expect(scanJournal({ ...t, startBlock: 1900 })).toMatchObject({ status: 'bad-geometry', problems: ['volume blocks 1900..2155 are beyond the drive\'s 2048 blocks'] });
    expect(scanJournal({ ...t, geometry: { ...t.geometry, wdHead: 1000 } }).problems).toEqual(['ring positions ui head 0, wd head 1000, capacity 131072 must be whole blocks']);
    expect(scanJournal({ ...t, geometry: { ...t.geometry, capacity: CAPACITY * 2 } }).problems).toEqual([`ring capacity ${2 * CAPACITY} is beyond the volume's ${CAPACITY} bytes`]);
    expect(scanJournal({ ...t, geometry: { ...t.geometry, uiSlot: 100 } }).problems).toEqual(['update-information slot of 100 bytes: a drive holds whole 512-byte blocks']);
    expect(scanJournal({ ...t, from: 0, group: 0 }).problems).toEqual(['group 0: a group number >= 1', 'from 0: an update number >= 1']);
  });
});

describe('journal scan: wrapped rings', () => {
  it('a run that wraps both rings (write data straddling the end of the area) is found across the wrap', () => {
    const h = primary();
    const s = setOf(h, GROUP);
    const p = h.mem.pointers;
    // Released space up to slot 28 and 3 KiB before the end of the write-data area; the group's counter at 100.
    for (const f of ['ui_newest', 'ui_oldest', 'read_start', 'retry_start'] as const) p.set(s, f, 28 * BLOCK_BYTES);
    for (const f of ['wd_newest', 'wd_oldest'] as const) p.set(s, f, CAPACITY - 3072);
    for (const f of ['oldest_number', 'read_number'] as const) p.set(s, f, 100);
    h.mem.groups.setUpdateNumber(GROUP, 100);
    for (let i = 0; i < 10; i++) expect(h.write(0, 1, 4 * i, pattern(2048, 500 + i)).status).toBe(ScsiStatus.GOOD);
    const before = pointerView(h, GROUP);
    expect(before).toEqual({ uiOldest: 28 * BLOCK_BYTES, uiNewest: 6 * BLOCK_BYTES, wdOldest: CAPACITY - 3072, wdNewest: WD_HEAD + 10 * 2048 - 3072, oldest: 100 });
    powerOff(h);
    const expected: JournalScanReport = {
      ...BASE, slotsBlank: SLOTS - 10, highest: 109, oldest: 100, newest: 109, records: 10, dataBytes: 10 * 2048, ...before,
      front: 'update 99 (slot 27): blank slot',
    };
    expect(scanJournal(scanTarget(h, GROUP))).toEqual(expected);
    expect(scanJournal(scanTarget(h, GROUP, { from: 100 }))).toEqual({ ...expected, front: 'from 100', from: 100, fromHeld: true });
    // The record that straddles the end (101: 1 KiB at the end, 1 KiB at the head) is checked whole.
    flip(h, WD_HEAD + 10, 0x80);
    expect(scanJournal(scanTarget(h, GROUP, { from: 100 }))).toMatchObject({
      oldest: 100, newest: 100, discardedAfterGap: 8, tornTail: { slot: 29, position: 29 * BLOCK_BYTES, reason: 'data checksum mismatch' },
    });
  });

  it('after laps of writes and releases, released records still intact reach back as far as the rings allow; `from` pins the oldest held', () => {
    const h = primary();
    const s = setOf(h, GROUP);
    const p = h.mem.pointers;
    for (let n = 1; n <= 50; n++) {
      expect(h.write(n % 2, 1 + (n % 2), (8 * n) % 500, pattern(4096, 900 + n)).status).toBe(ScsiStatus.GOOD);
      if (n % 5 === 0 && n < 50) {
        // The reader released everything sent: oldest catches up with newest (S1590).
        for (const f of ['ui_oldest', 'read_start', 'retry_start'] as const) p.set(s, f, p.get(s, 'ui_newest'));
        p.set(s, 'wd_oldest', p.get(s, 'wd_newest'));
        for (const f of ['oldest_number', 'read_number'] as const) p.set(s, f, n + 1);
      }
    }
    const before = pointerView(h, GROUP);
    // Journals 46..50 held; journal k's update information in slot (k - 1) mod 32, its data 4 KiB at (k - 1) * 4 KiB mod the area.
    const wd = (k: number): number => WD_HEAD + (((k - 1) * 4096) % WD_AREA);
    expect(before).toEqual({ uiOldest: 13 * BLOCK_BYTES, uiNewest: 18 * BLOCK_BYTES, wdOldest: wd(46), wdNewest: wd(51), oldest: 46 });
    powerOff(h);
    expect(scanJournal(scanTarget(h, GROUP, { from: 46 }))).toEqual({
      ...BASE, slotsBlank: 0, highest: 50, ...before, newest: 50, records: 5, dataBytes: 5 * 4096, front: 'from 46', from: 46, fromHeld: true,
    });
    // Without `from`: 27 records of 4 KiB is all the 112 KiB write-data area can hold (28 would fill it,
    // which a store never does), so journal 23 is a released one.
    expect(scanJournal(scanTarget(h, GROUP))).toEqual({
      ...BASE, slotsBlank: 0, highest: 50, oldest: 24, newest: 50, records: 27, dataBytes: 27 * 4096,
      uiOldest: 23 * BLOCK_BYTES, uiNewest: 18 * BLOCK_BYTES, wdOldest: wd(24), wdNewest: wd(51),
      front: `update 23 (slot 22): its write data at ${wd(23)} lies a whole write-data area behind update 50's: released`,
    });
  });
});

describe('journal scan: a released record is the front, not a gap', () => {
  it('initial-copy records below released host writes whose write data later ones reused (the simulator\'s seed 108): the run ends at the front, at the newest, nothing discarded', () => {
    const h = copySystem();
    setupPrimaryGroup(h, GROUP, [1], JOURNAL, { initialCopyBytes: 32 * BLOCK_BYTES });
    const pair = h.mem.volumes.pairNumber(1);
    for (let i = 0; i < 5000 && h.mem.pairs.copiedBlocks(pair) < 512; i++) h.round();
    expect(h.mem.groups.updateNumber(GROUP) - 1).toBe(16); // 16 initial-copy records, no write data in the ring
    const s = setOf(h, GROUP);
    const p = h.mem.pointers;
    const release = (): void => {
      // The reader has everything: oldest catches up with newest (S1590), so the write data wraps.
      for (const f of ['ui_oldest', 'read_start', 'retry_start'] as const) p.set(s, f, p.get(s, 'ui_newest'));
      p.set(s, 'wd_oldest', p.get(s, 'wd_newest'));
      for (const f of ['oldest_number', 'read_number'] as const) p.set(s, f, h.mem.groups.updateNumber(GROUP));
    };
    release();
    for (let n = 1; n <= 14; n++) {
      expect(h.write(n % 2, 1, (16 * n) % 480, pattern(12 * 1024, 300 + n)).status).toBe(ScsiStatus.GOOD);
      release();
    }
    powerOff(h);
    const r = scanJournal(scanTarget(h, GROUP));
    // 9 records of 12 KiB fill 108 of the 112 KiB write-data area; the 10th from the top (journal 21) is released.
    expect([r.status, r.highest, r.oldest, r.newest, r.discardedAfterGap, r.tornTail, r.problems]).toEqual(['ok', 30, 22, 30, 0, null, []]);
    expect(r.front).toMatch(/^update 21 \(slot 20\): its write data .*: released, no room for it beside the records above$/);
  });
});

describe('journal scan: records without write data, and a secondary\'s journal volume', () => {
  it('a primary\'s initial-copy records point into the primary volume: no write data checked, the write-data ring skips them', () => {
    const h = copySystem();
    setupPrimaryGroup(h, GROUP, [1], JOURNAL, { initialCopyBytes: 32 * BLOCK_BYTES });
    const pair = h.mem.volumes.pairNumber(1);
    for (let i = 0; i < 2000 && h.mem.pairs.copiedBlocks(pair) < 128; i++) h.round();
    expect(h.write(0, 1, 0, pattern(3 * BLOCK_BYTES, 41)).status).toBe(ScsiStatus.GOOD); // a copied area: journaled
    for (let i = 0; i < 5000 && h.mem.pairs.copiedBlocks(pair) < 512; i++) h.round();
    expect(h.mem.pairs.copiedBlocks(pair)).toBe(512);
    expect(h.write(1, 1, 500, pattern(2 * BLOCK_BYTES, 42)).status).toBe(ScsiStatus.GOOD);
    const before = pointerView(h, GROUP);
    const newest = h.mem.groups.updateNumber(GROUP) - 1;
    expect(newest).toBe(18); // 16 initial-copy units of 32 blocks and 2 host writes
    powerOff(h);
    expect(scanJournal(scanTarget(h, GROUP))).toEqual({
      ...BASE, slotsBlank: SLOTS - 18, highest: 18, newest: 18, records: 18, recordsWithoutData: 16, dataBytes: 5 * BLOCK_BYTES, ...before,
    });
  });

  it('a secondary\'s journal volume: stored records carry group B and their write data, an initial-copy one included', () => {
    const B = 2;
    const h = secondaryTestSystem();
    must(h.copy.createGroup(B, { role: 'secondary', partnerSystem: 2, partnerGroup: 1, link: 1, readPolicy: 'FIXED', readIntervalMs: 2, batchJournalsMax: 8 }));
    must(h.copy.registerPair(B, { primarySystem: 2, primaryVolume: 11, secondaryVolume: 1 }));
    must(h.copy.registerJournalVolume(B, JOURNAL));
    must(h.copy.startCopy(B));
    must(h.copy.pauseRestore(B, true));
    const journals: WireJournal[] = [
      wireJournal({ updateNumber: 1, flags: UPDATE_INFO_FLAG_INITIAL_COPY, targetBlock: 0, dataVolume: 11, dataPosition: 0 }, pattern(8 * BLOCK_BYTES, 61)),
      ...[2, 3, 4, 5].map((n) => wireJournal({ updateNumber: n, targetBlock: 10 * n, dataVolume: 3, dataPosition: 40960 + 512 * n }, pattern(n * BLOCK_BYTES, 60 + n))),
    ];
    // The primary's side: each journal read command gets the journals not sent yet (a retry the last batch).
    const peer = h.peers.get(1)!;
    let next = 0;
    let last: WireJournal[] = [];
    for (let i = 0; i < 2000 && h.mem.groups.f64(B, 'received_number') < journals.length; i++) {
      h.round();
      const frame = takeFrame(peer);
      if (!frame) continue;
      expect(frame.type).toBe(Frame.JNLRD);
      const c = decodeJnlrd(frame.payload);
      if (c.retry === 0) {
        last = journals.slice(next, next + c.maxJournals);
        next += last.length;
      }
      sendFrame(peer, Frame.JNLRD_RESPONSE, encodeResponse({ requestId: c.requestId, journals: last }));
    }
    expect(h.mem.groups.f64(B, 'received_number')).toBe(5);
    const before = pointerView(h, B);
    powerOff(h);
    const bytes = 8 + 2 + 3 + 4 + 5;
    const r = scanJournal(scanTarget(h, B, { from: h.mem.groups.restoredNumber(B) + 1 }));
    expect(r).toEqual({
      ...BASE, slots: 32, slotsBlank: 27, highest: 5, newest: 5, records: 5, dataBytes: bytes * BLOCK_BYTES, ...before, front: 'from 1', from: 1, fromHeld: true,
    });
    expect(scanJournal(scanTarget(h, B))).toEqual({ ...r, front: 'update 1 is the first', from: null, fromHeld: null });
    // Read as group A's records they are foreign: nothing of group 1 is there.
    expect(scanJournal({ ...scanTarget(h, B), group: 1 })).toMatchObject({ highest: 0, records: 0, slotsDamaged: 0, problems: [] });
  });
});

// ---- properties --------------------------------------------------------------------------------

/** An independent check of one accepted record: its slot holds `n` of the group, its write data matches. */
function holds(image: Uint8Array, t: JournalScanTarget, slot: number, n: number): boolean {
  const base = t.startBlock * BLOCK_BYTES;
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const uiAt = base + t.geometry.uiHead + slot * BLOCK_BYTES;
  if (validateUpdateInfo(view, image, uiAt, t.dataBlocksMax) !== null) return false;
  const f = emptyUpdateInfo();
  decodeUpdateInfo(view, uiAt, f);
  if (f.updateNumber !== n || f.groupNumber !== t.group) return false;
  if (f.dataVolume !== t.journalVolume) return (f.flags & UPDATE_INFO_FLAG_INITIAL_COPY) !== 0;
  const bytes = f.dataBlocks * BLOCK_BYTES;
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) {
    const p = t.geometry.wdHead + ((f.dataPosition - t.geometry.wdHead + i) % (t.geometry.capacity - t.geometry.wdHead));
    data[i] = image[base + p]!;
  }
  return crc32c(data, 0, bytes) === f.dataChecksum;
}

/** Invariants every report keeps, whatever the bytes. */
function checkReport(r: JournalScanReport, image: Uint8Array, t: JournalScanTarget): void {
  expect(r.status).toBe('ok');
  const slots = (t.geometry.wdHead - t.geometry.uiHead) / BLOCK_BYTES;
  expect(r.slots).toBe(slots);
  expect(r.slotsBlank + r.slotsDamaged).toBeLessThanOrEqual(slots);
  if (r.oldest === null || r.newest === null) {
    expect([r.records, r.uiOldest, r.uiNewest, r.wdOldest, r.wdNewest]).toEqual([0, null, null, null, null]);
    return;
  }
  expect(r.records).toBe(r.newest - r.oldest + 1);
  expect(r.records).toBeLessThanOrEqual(slots - 1);
  expect(r.newest).toBeLessThanOrEqual(r.highest);
  expect(r.dataBytes).toBeLessThan(t.geometry.capacity - t.geometry.wdHead);
  const first = (r.uiOldest! - t.geometry.uiHead) / BLOCK_BYTES;
  for (let k = r.oldest; k <= r.newest; k++) expect(holds(image, t, (first + k - r.oldest) % slots, k)).toBe(true);
  expect((r.uiNewest! - t.geometry.uiHead) / BLOCK_BYTES).toBe((first + r.records) % slots);
  if (r.newest < r.highest) expect(r.tornTail?.slot).toBe((first + r.records) % slots);
  if (r.discardedAfterGap > 0) expect(r.tornTail).not.toBeNull();
}

describe('journal scan: properties (fast-check, fixed seed)', () => {
  it('any bytes give a report that keeps its invariants: random garbage with well-formed records sown into it', () => {
    const h = tenWritesOff();
    const t0 = scanTarget(h, GROUP);
    const image = h.driveBytes.get(0)!;
    const clean = image.slice();
    fc.assert(fc.property(
      fc.record({
        seed: fc.integer({ min: 1, max: 0x7fffffff }),
        garbageBlocks: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 }),
        records: fc.array(fc.record({ slot: fc.integer({ min: 0, max: SLOTS - 1 }), number: fc.integer({ min: 1, max: 40 }), blocks: fc.integer({ min: 1, max: 40 }), position: fc.integer({ min: 0, max: 260 }), group: fc.constantFrom(1, 1, 1, 2), copy: fc.boolean(), goodData: fc.boolean() }), { maxLength: 40 }),
        from: fc.option(fc.integer({ min: 1, max: 45 }), { nil: undefined }),
        uiSlots: fc.constantFrom(2, 8, 32),
      }),
      ({ seed, garbageBlocks, records, from, uiSlots }) => {
        image.set(clean);
        let x = seed;
        for (const b of garbageBlocks) {
          for (let i = 0; i < BLOCK_BYTES; i++) {
            x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
            image[at(b * BLOCK_BYTES + i)] = x & 0xff;
          }
        }
        const view = new DataView(image.buffer);
        for (const r of records) {
          const position = WD_HEAD + r.position * BLOCK_BYTES; // sometimes past the end: misplaced
          const f = { ...emptyUpdateInfo(), flags: r.copy ? UPDATE_INFO_FLAG_INITIAL_COPY : 0, updateNumber: r.number, groupNumber: r.group, targetVolume: 1, dataBlocks: r.blocks, dataVolume: r.copy ? 1 : JOURNAL, dataPosition: r.copy ? 0 : position };
          if (r.goodData && !r.copy && position + r.blocks * BLOCK_BYTES <= CAPACITY) f.dataChecksum = crc32c(image, at(position), r.blocks * BLOCK_BYTES);
          encodeUpdateInfo(view, image, at(r.slot * BLOCK_BYTES), f);
        }
        const t: JournalScanTarget = { ...t0, geometry: { ...t0.geometry, wdHead: uiSlots * BLOCK_BYTES }, ...(from === undefined ? {} : { from }) };
        checkReport(scanJournal(t), image, t);
      },
    ), { seed: 4242, numRuns: 300 });
  });

  it('a real image with bytes flipped anywhere: the run is exactly the records below the lowest damaged one, never across it', () => {
    const h = tenWritesOff();
    const t = scanTarget(h, GROUP);
    const image = h.driveBytes.get(0)!;
    const clean = image.slice();
    fc.assert(fc.property(
      fc.array(fc.record({ offset: fc.oneof(fc.integer({ min: 0, max: 11 * BLOCK_BYTES - 1 }), fc.integer({ min: WD_HEAD, max: WD_HEAD + TOTAL + 4096 })), mask: fc.integer({ min: 1, max: 255 }) }), { maxLength: 6 }),
      (flips) => {
        image.set(clean);
        for (const { offset, mask } of flips) flip(h, offset, mask);
        // What the flips damaged, read from the image (flips may cancel out): journal k's header
        // (its slot's first 64 bytes) or its write data; and garbage in the blank slot after 10.
        const view = new DataView(image.buffer);
        const headerDamaged = new Set<number>();
        const damaged = new Set<number>();
        for (let k = 1; k <= 10; k++) {
          if (validateUpdateInfo(view, image, at((k - 1) * BLOCK_BYTES), t.dataBlocksMax) !== null) headerDamaged.add(k);
          if (!holds(image, t, k - 1, k)) damaged.add(k);
        }
        const tailIsGarbage = image.subarray(at(10 * BLOCK_BYTES), at(10 * BLOCK_BYTES + 64)).some((b) => b !== 0);
        const r = scanJournal(t);
        checkReport(r, image, t);
        let highest = 0;
        for (let k = 1; k <= 10; k++) if (!headerDamaged.has(k)) highest = k;
        expect(r.highest).toBe(highest);
        const good = (k: number): boolean => !damaged.has(k);
        let oldest = 0;
        for (let k = 1; k <= highest && oldest === 0; k++) if (good(k)) oldest = k;
        if (oldest === 0) {
          expect(r.records).toBe(0);
          return;
        }
        let newest = oldest;
        while (newest < highest && good(newest + 1)) newest++;
        let discarded = 0;
        for (let k = newest + 2; k <= highest; k++) if (good(k)) discarded++;
        expect([r.oldest, r.newest, r.discardedAfterGap]).toEqual([oldest, newest, discarded]);
        // Above the run: the hole (newest < highest), a damaged header (newest < 10), or garbage after 10.
        const torn = newest < highest || newest < 10 || tailIsGarbage;
        expect(r.tornTail === null ? null : r.tornTail.slot).toBe(torn ? newest : null);
      },
    ), { seed: 777, numRuns: 300 });
  });
});
