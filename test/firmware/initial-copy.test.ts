// Initial copy (seed 000 §5.2, Fig. 10, S1010–S1070, §6.3, §6.5, §12.1 item 5, §12.2 items 6 and
// 10, §12.3 item 16; seed 002 §7.2) and delta resync, driven on a primary alone: no secondary
// reads the journal, so journals simply accumulate in the journal volume and a test releases
// space by moving the oldest pointers as a reader would. Group 1's processes run on channel
// adapter 1 (group % channel adapters); host commands arrive on port 0 (channel adapter 0).

import { describe, expect, it } from 'vitest';
import { UpdateBitmaps } from '../../firmware/bitmap.ts';
import { BLOCK_BYTES, type VolumeConfig } from '../../firmware/config.ts';
import { CopyPhase } from '../../firmware/initial-copy.ts';
import { advanceUi } from '../../firmware/journal-ring.ts';
import { GroupFlag, GroupState, SuspendReason } from '../../firmware/structs/group-info.ts';
import { PairState, type PairStateCode } from '../../firmware/structs/pair-info.ts';
import { GROUP_SERVICE_TASKS, GroupService, TaskWord } from '../../firmware/structs/task.ts';
import { decodeUpdateInfo, emptyUpdateInfo, validateUpdateInfo, type UpdateInfoFields } from '../../firmware/structs/update-info-codec.ts';
import { UPDATE_INFO_FLAG_INITIAL_COPY } from '../../firmware/structs/update-info.ts';
import { VolumeState } from '../../firmware/structs/volume-info.ts';
import { HostOp, ScsiStatus } from '../../hal/host-port.ts';
import { copySystem, pattern, peek, setupPrimaryGroup, type Harness } from '../support/harness.ts';

const JOURNAL = 3;
const SLOT = 512;
const UI_SLOTS = 32; // 16 KiB of update information in copySystem's 256-block journal volume
const WD_HEAD = UI_SLOTS * SLOT;
const SET = 1 * 4; // group 1, reader 0 (readersMax 4)

/** copySystem with volume 1 (and 2) of the given capacities. */
function system(capacity1 = 512, capacity2 = 512): Harness {
  const volumes: VolumeConfig[] = [
    { number: 1, format: 'OPEN3', capacityBlocks: capacity1, drive: 0, startBlock: 0 },
    { number: 2, format: 'OPEN3', capacityBlocks: capacity2, drive: 0, startBlock: 512 },
    { number: 3, format: 'OPEN3', capacityBlocks: 256, drive: 0, startBlock: 1024 },
  ];
  return copySystem({ volumes });
}

function ui(h: Harness, position: number): UpdateInfoFields & { valid: string | null } {
  const bytes = peek(h, JOURNAL, position / BLOCK_BYTES, 1);
  const view = new DataView(bytes.buffer);
  const f = emptyUpdateInfo();
  decodeUpdateInfo(view, 0, f);
  return { ...f, valid: validateUpdateInfo(view, bytes, 0, h.mem.config.maxTransferBytes / BLOCK_BYTES) };
}

/** The journals between two update-information positions, in order. */
function journalsBetween(h: Harness, from: number, to: number): Array<UpdateInfoFields & { valid: string | null }> {
  const g = { uiHead: 0, wdHead: WD_HEAD, capacity: 256 * BLOCK_BYTES };
  const out: Array<UpdateInfoFields & { valid: string | null }> = [];
  for (let p = from; p !== to; p = advanceUi(p, 1, g)) out.push(ui(h, p));
  return out;
}

/** A host write on port 0 with only channel adapter 0 stepping (the copy on adapter 1 stands still). */
function caWrite(h: Harness, volume: number, lba: number, data: Uint8Array): void {
  const slot = h.submit(0, HostOp.WRITE, volume, lba, data.byteLength, data);
  for (let i = 0; i < 50 && !h.ports.isComplete(0, slot); i++) h.ca[0]!.step();
  expect(h.ports.isComplete(0, slot)).toBe(true);
  expect(h.ports.result(0, slot).status).toBe(ScsiStatus.GOOD);
  h.ports.release(0, slot);
}

/** Word index of group 1's initial-copy task record (on channel adapter 1). */
function copyTask(h: Harness): number {
  return h.mem.taskWord(1, h.mem.geometry.serviceTaskBase + 1 * GROUP_SERVICE_TASKS + GroupService.INITIAL_COPY);
}

/** Steps with virtual time moving 1 ms per round (timers: watch 50 ms, full retry 2 ms) until `done`. */
function runUntil(h: Harness, done: () => boolean, what: string, rounds = 5000): void {
  for (let i = 0; i < rounds && !done(); i++) {
    h.clock.advance(1);
    h.round();
  }
  if (!done()) throw new Error(`${what}: not reached in ${rounds} rounds`);
}

/** As a reader that has sent and had acknowledged everything: oldest = read start = retry start = newest. */
function releaseAll(h: Harness): void {
  const p = h.mem.pointers;
  for (const f of ['ui_oldest', 'read_start', 'retry_start'] as const) p.set(SET, f, p.get(SET, 'ui_newest'));
  p.set(SET, 'wd_oldest', p.get(SET, 'wd_newest'));
  p.set(SET, 'read_number', h.mem.groups.updateNumber(1));
  p.set(SET, 'oldest_number', h.mem.groups.updateNumber(1));
}

const markedTracks = (h: Harness, volume: number): number[] => {
  const b = new UpdateBitmaps(h.mem);
  const out: number[] = [];
  for (let t = b.nextMarked(volume, 0); t >= 0; t = b.nextMarked(volume, t + 1)) out.push(t);
  return out;
};

const covers = (j: UpdateInfoFields, block: number, blocks: number): boolean => j.targetVolume === 1 && j.targetBlock <= block && block + blocks <= j.targetBlock + j.dataBlocks;

describe('initial copy: S1010–S1070 on one volume', () => {
  it.each([
    { C: 512, U: 24 },
    { C: 512, U: 32 },
    { C: 200, U: 32 },
    { C: 100, U: 7 },
    { C: 7, U: 1 },
  ])('capacity $C blocks, unit $U blocks: ⌈C/U⌉ journals, the copied address steps U, 2U, …, C, the pair goes not-copied -> copying -> normal', ({ C, U }) => {
    const h = system(C);
    const [pair] = setupPrimaryGroup(h, 1, [1], JOURNAL, { initialCopyBytes: U * BLOCK_BYTES }) as [number];
    const n = Math.ceil(C / U);
    const set0 = h.mem.pointers.decode(SET);
    expect(h.mem.pairs.state(pair)).toBe(PairState.NOT_COPIED);
    expect(h.mem.pairs.copiedBlocks(pair)).toBe(0);
    // After each round: the copied address, the journals created so far, the pair state.
    const steps: Array<[number, number]> = [];
    const states: PairStateCode[] = [PairState.NOT_COPIED];
    let copied = 0;
    for (let i = 0; i < 4 * n + 10 && h.mem.pairs.state(pair) !== PairState.NORMAL; i++) {
      h.round();
      const c = h.mem.pairs.copiedBlocks(pair);
      if (c !== copied) steps.push([c, h.mem.groups.updateNumber(1) - 1]);
      copied = c;
      const s = h.mem.pairs.state(pair);
      if (s !== states[states.length - 1]) {
        states.push(s);
        if (s === PairState.NORMAL) expect(c).toBe(C); // S1070 only at the capacity
      }
    }
    expect(states).toEqual([PairState.NOT_COPIED, PairState.COPYING, PairState.NORMAL]);
    // The copied address moves only after its journal exists (S1040 then S1050); the last unit is clamped.
    expect(steps).toEqual(Array.from({ length: n }, (_, k) => [Math.min((k + 1) * U, C), k + 1]));
    expect(h.mem.groups.updateNumber(1)).toBe(n + 1);
    expect(h.mem.groups.f64(1, 'journals_created')).toBe(n);
    // Update information only: no write-data space (seed 000 §12.2 item 10, §6.5).
    expect(h.mem.pointers.decode(SET)).toEqual({ ...set0, ui_newest: n * SLOT });
    const journals = journalsBetween(h, 0, n * SLOT);
    expect(journals.map(({ receiveMs: _, ...j }) => j)).toEqual(Array.from({ length: n }, (_, k) => ({
      flags: UPDATE_INFO_FLAG_INITIAL_COPY, updateNumber: k + 1, groupNumber: 1, targetVolume: 1, targetBlock: k * U,
      dataBlocks: Math.min(U, C - k * U), dataVolume: 1, dataChecksum: 0, dataPosition: k * U * BLOCK_BYTES, valid: null,
    })));
    expect(journals.every((j) => j.receiveMs > 0)).toBe(true);
    const s1020 = h.trace.indexOf(`pair ${pair}: not-copied -> copying (initial copy, S1020)`);
    const s1070 = h.trace.indexOf(`pair ${pair}: copying -> normal (initial copy complete, S1070)`);
    expect(s1020).toBeGreaterThan(0);
    expect(s1070).toBeGreaterThan(s1020);
    expect(h.trace.filter((l) => l.includes('S1020') || l.includes('S1070'))).toHaveLength(2);
    // Done: the task only watches; nothing more is created.
    for (let i = 0; i < 200; i++) {
      h.clock.advance(1);
      h.round();
    }
    expect(h.mem.groups.updateNumber(1)).toBe(n + 1);
    expect(h.mem.pairs.state(pair)).toBe(PairState.NORMAL);
  });

  it('several volumes are copied one after another; their journals share the group\'s update numbers (§12.2 item 6)', () => {
    const h = system(200, 100);
    const [p1, p2] = setupPrimaryGroup(h, 1, [1, 2], JOURNAL, { initialCopyBytes: 32 * BLOCK_BYTES }) as [number, number];
    runUntil(h, () => h.mem.pairs.state(p1) === PairState.NORMAL && h.mem.pairs.state(p2) === PairState.NORMAL, 'both copied');
    const journals = journalsBetween(h, 0, h.mem.pointers.get(SET, 'ui_newest'));
    expect(journals.map((j) => [j.updateNumber, j.targetVolume, j.targetBlock, j.dataBlocks, j.dataVolume])).toEqual([
      ...[0, 32, 64, 96, 128, 160, 192].map((b, k) => [k + 1, 1, b, Math.min(32, 200 - b), 1]),
      ...[0, 32, 64, 96].map((b, k) => [k + 8, 2, b, Math.min(32, 100 - b), 2]),
    ]);
    const lines = h.trace.filter((l) => l.includes('S1020') || l.includes('S1070'));
    expect(lines).toEqual([
      `pair ${p1}: not-copied -> copying (initial copy, S1020)`,
      `pair ${p1}: copying -> normal (initial copy complete, S1070)`,
      `pair ${p2}: not-copied -> copying (initial copy, S1020)`,
      `pair ${p2}: copying -> normal (initial copy complete, S1070)`,
    ]);
    expect(h.mem.pointers.get(SET, 'wd_newest')).toBe(WD_HEAD);
  });
});

describe('initial copy: host writes meanwhile follow S1330 (§12.3 item 16)', () => {
  it('not copied: no journal; copying: a journal only below the copied address (copied == position is none); afterwards every write', () => {
    const h = system();
    const [pair] = setupPrimaryGroup(h, 1, [1], JOURNAL, { initialCopyBytes: 32 * BLOCK_BYTES }) as [number];
    caWrite(h, 1, 0, pattern(SLOT, 1)); // コピー未
    expect(h.mem.groups.updateNumber(1)).toBe(1);
    expect(h.mem.pointers.get(SET, 'ui_newest')).toBe(0);

    for (let i = 0; i < 50 && h.mem.pairs.copiedBlocks(pair) < 64; i++) h.ca[1]!.step();
    expect(h.mem.pairs.copiedBlocks(pair)).toBe(64);
    expect(h.mem.pairs.state(pair)).toBe(PairState.COPYING);
    expect(h.mem.groups.updateNumber(1)).toBe(3);

    const below = pattern(SLOT, 2);
    caWrite(h, 1, 63, below); // copied > position: journal 3
    expect(h.mem.groups.updateNumber(1)).toBe(4);
    const j3 = ui(h, 2 * SLOT);
    expect([j3.flags, j3.updateNumber, j3.targetBlock, j3.dataBlocks, j3.dataVolume, j3.dataPosition, j3.valid]).toEqual([0, 3, 63, 1, JOURNAL, WD_HEAD, null]);
    expect(Buffer.from(peek(h, JOURNAL, WD_HEAD / SLOT, 1)).equals(Buffer.from(below))).toBe(true);

    caWrite(h, 1, 64, pattern(SLOT, 3)); // copied == position: no journal (ERRATUM 5)
    caWrite(h, 1, 300, pattern(4 * SLOT, 4)); // far above: no journal
    expect(h.mem.groups.updateNumber(1)).toBe(4);
    caWrite(h, 1, 60, pattern(8 * SLOT, 5)); // starts below the copied address: journal 4
    expect(h.mem.groups.updateNumber(1)).toBe(5);
    expect(h.mem.pointers.get(SET, 'wd_newest')).toBe(WD_HEAD + 9 * SLOT);

    runUntil(h, () => h.mem.pairs.state(pair) === PairState.NORMAL, 'copied');
    expect(h.mem.groups.updateNumber(1)).toBe(16 + 2 + 1);
    const journals = journalsBetween(h, 0, h.mem.pointers.get(SET, 'ui_newest'));
    expect(journals.map((j) => [j.updateNumber, j.flags, j.targetBlock, j.dataBlocks])).toEqual([
      [1, 1, 0, 32], [2, 1, 32, 32], [3, 0, 63, 1], [4, 0, 60, 8],
      ...Array.from({ length: 14 }, (_, k) => [k + 5, 1, 64 + 32 * k, 32]),
    ]);
    caWrite(h, 1, 500, pattern(SLOT, 6)); // normal: journaled
    expect(h.mem.groups.updateNumber(1)).toBe(20);
  });
});

describe('initial copy: the update-information area is full (S1390 in copy mode, seed 000 §6.3)', () => {
  it('the copy waits without advancing or suspending, and goes on once a reader releases space', () => {
    const h = system();
    const [pair] = setupPrimaryGroup(h, 1, [1], JOURNAL, { initialCopyBytes: 32 * BLOCK_BYTES }) as [number];
    // 29 journals are held: two more fit, the third would make newest == oldest.
    h.mem.pointers.set(SET, 'ui_newest', 29 * SLOT);
    for (let i = 0; i < 3000; i++) {
      if (i % 10 === 0) h.clock.advance(1);
      h.round();
    }
    expect(h.mem.pairs.copiedBlocks(pair)).toBe(64);
    expect(h.mem.pairs.state(pair)).toBe(PairState.COPYING);
    expect(h.mem.groups.updateNumber(1)).toBe(3);
    expect(h.mem.pointers.get(SET, 'ui_newest')).toBe(31 * SLOT);
    expect(h.mem.groups.u8(1, 'suspend_reason')).toBe(SuspendReason.NONE);
    expect(h.mem.groups.state(1)).toBe(GroupState.NORMAL);
    expect(markedTracks(h, 1)).toEqual([]);
    expect(h.trace.some((l) => l.includes('abnormal'))).toBe(false);

    releaseAll(h);
    runUntil(h, () => h.mem.pairs.state(pair) === PairState.NORMAL, 'copied after the release');
    expect(h.mem.pairs.copiedBlocks(pair)).toBe(512);
    expect(h.mem.groups.updateNumber(1)).toBe(17);
    expect(h.mem.pointers.get(SET, 'ui_newest')).toBe(13 * SLOT); // 31 + 14 records, wrapped at 32
    const journals = journalsBetween(h, 31 * SLOT, 13 * SLOT);
    expect(journals.map((j) => [j.updateNumber, j.targetBlock, j.valid])).toEqual(Array.from({ length: 14 }, (_, k) => [k + 3, 64 + 32 * k, null]));
    expect(h.mem.pointers.get(SET, 'wd_newest')).toBe(WD_HEAD);
  });
});

describe('delta resync', () => {
  /** Volume 1 copied (22 journals of 24 blocks), everything released, then suspended by the operator. */
  function copiedThenSuspended(): { h: Harness; pair: number } {
    const h = system();
    const [pair] = setupPrimaryGroup(h, 1, [1], JOURNAL, { initialCopyBytes: 24 * BLOCK_BYTES }) as [number];
    runUntil(h, () => h.mem.pairs.state(pair) === PairState.NORMAL, 'initial copy');
    expect(h.mem.groups.updateNumber(1)).toBe(23);
    releaseAll(h);
    expect(h.copy.suspend(1)).toEqual({ status: 'ok', reason: 'ok' });
    expect(h.mem.pairs.state(pair)).toBe(PairState.ABNORMAL);
    expect(h.mem.groups.u8(1, 'suspend_reason')).toBe(SuspendReason.OPERATOR);
    expect(h.trace).toContain(`pair ${pair}: normal -> abnormal (operator)`);
    return { h, pair };
  }

  it('suspend, write two tracks, resync: the watch starts it, exactly the marked tracks are journaled in units ≤ the initial-copy unit, bits clear, the pair is normal again', () => {
    const { h, pair } = copiedThenSuspended();
    expect(h.write(0, 1, 130, pattern(4 * SLOT, 7)).status).toBe(ScsiStatus.GOOD);
    expect(h.write(0, 1, 400, pattern(2 * SLOT, 8)).status).toBe(ScsiStatus.GOOD);
    expect(h.mem.groups.updateNumber(1)).toBe(23); // suspended: no journal
    expect(markedTracks(h, 1)).toEqual([1, 3]);
    // Without a resync request nothing happens (an operator suspension does not resync by itself).
    for (let i = 0; i < 200; i++) {
      h.clock.advance(1);
      h.round();
    }
    expect(h.mem.pairs.state(pair)).toBe(PairState.ABNORMAL);

    const from = h.mem.pointers.get(SET, 'ui_newest');
    expect(h.copy.resync(1)).toEqual({ status: 'ok', reason: 'ok' });
    expect(h.mem.groups.hasFlag(1, GroupFlag.RESYNC_PENDING)).toBe(true);
    const states: PairStateCode[] = [PairState.ABNORMAL];
    runUntil(h, () => {
      const s = h.mem.pairs.state(pair);
      if (s !== states[states.length - 1]) states.push(s);
      return s === PairState.NORMAL;
    }, 'resync');
    expect(states).toEqual([PairState.ABNORMAL, PairState.COPYING, PairState.NORMAL]);
    expect(h.trace).toContain(`pair ${pair}: abnormal -> copying (delta resync of 2 tracks after operator)`);
    expect(h.trace).toContain(`pair ${pair}: copying -> normal (resync complete, S1070)`);
    expect(h.mem.groups.hasFlag(1, GroupFlag.RESYNC_PENDING)).toBe(false);
    expect(h.mem.groups.u8(1, 'suspend_reason')).toBe(SuspendReason.NONE);
    expect(markedTracks(h, 1)).toEqual([]);

    const units = (start: number): number[][] => [0, 24, 48, 72, 96, 120].map((o) => [start + o, Math.min(24, 128 - o)]);
    const journals = journalsBetween(h, from, h.mem.pointers.get(SET, 'ui_newest'));
    expect(journals.map((j) => [j.targetBlock, j.dataBlocks])).toEqual([...units(128), ...units(384)]);
    expect(journals.map((j) => j.updateNumber)).toEqual(Array.from({ length: 12 }, (_, k) => 23 + k));
    for (const j of journals) {
      expect([j.flags, j.groupNumber, j.targetVolume, j.dataVolume, j.dataPosition, j.valid]).toEqual([UPDATE_INFO_FLAG_INITIAL_COPY, 1, 1, 1, j.targetBlock * BLOCK_BYTES, null]);
    }
    expect(h.mem.pointers.get(SET, 'wd_newest')).toBe(WD_HEAD);
    // Normal again: a host write is journaled.
    expect(h.write(0, 1, 10, pattern(SLOT, 9)).status).toBe(ScsiStatus.GOOD);
    expect(h.mem.groups.updateNumber(1)).toBe(36);
  });

  it('resync is rejected with its reason, changing nothing, when the group has no suspended pair, has not started, is unused or abnormal', () => {
    const h = system();
    setupPrimaryGroup(h, 1, [1], JOURNAL, { start: false });
    expect(h.copy.resync(1)).toEqual({ status: 'rejected', reason: 'group 1 has not started copying' });
    expect(h.copy.resync(2)).toEqual({ status: 'rejected', reason: 'group 2 is unused (S900 first)' });
    expect(h.copy.startCopy(1, { readers: [2] }).status).toBe('ok');
    expect(h.copy.resync(1)).toEqual({ status: 'rejected', reason: 'group 1 has no suspended pair to resync' }); // not copied yet
    expect(h.mem.groups.hasFlag(1, GroupFlag.RESYNC_PENDING)).toBe(false);

    const { h: g, pair } = copiedThenSuspended();
    g.mem.pairs.setState(pair, PairState.NORMAL);
    expect(g.copy.resync(1)).toEqual({ status: 'rejected', reason: 'group 1 has no suspended pair to resync' });
    g.mem.pairs.setState(pair, PairState.ABNORMAL);
    g.mem.groups.setState(1, GroupState.ABNORMAL);
    expect(g.copy.resync(1)).toEqual({ status: 'rejected', reason: 'group 1 is abnormal; repair its journal volume first' });
    expect(g.mem.groups.hasFlag(1, GroupFlag.RESYNC_PENDING)).toBe(false);
    expect(g.mem.volumes.state(JOURNAL)).toBe(VolumeState.NORMAL);
  });

  // KNOWN BUG (journal-create.ts, resync branch of reserve()): a write that touches a track the
  // resync has already journaled AND a marked track ahead gets no journal; the passed track is
  // marked again but the scan never goes back, so the pair becomes normal with a marked track and
  // that part of the write never reaches the secondary.
  it('a write straddling a track the resync has passed and a marked track ahead is journaled or copied again before the pair is normal', () => {
    const { h, pair } = copiedThenSuspended();
    expect(h.write(0, 1, 140, pattern(SLOT, 10)).status).toBe(ScsiStatus.GOOD);
    expect(h.write(0, 1, 260, pattern(SLOT, 11)).status).toBe(ScsiStatus.GOOD);
    expect(markedTracks(h, 1)).toEqual([1, 2]);
    expect(h.copy.resync(1).status).toBe('ok');
    // Step until track 1's six units are journaled (the last one's update information written)
    // and the copy is about to move to track 2.
    const t = copyTask(h);
    runUntil(h, () => h.mem.pairs.state(pair) === PairState.COPYING, 'resync started');
    for (let i = 0; i < 100 && !(h.mem.groups.updateNumber(1) === 29 && h.mem.tasks[t + TaskWord.PHASE] === CopyPhase.COPY); i++) h.ca[1]!.step();
    expect(h.mem.groups.updateNumber(1)).toBe(29);
    expect(h.mem.tasks[t + TaskWord.PHASE]).toBe(CopyPhase.COPY);
    expect(markedTracks(h, 1)).toEqual([2]);
    const uiAtWrite = h.mem.pointers.get(SET, 'ui_newest');
    caWrite(h, 1, 250, pattern(8 * SLOT, 12)); // blocks 250..257: track 1 (passed) and track 2 (marked)
    runUntil(h, () => h.mem.pairs.state(pair) === PairState.NORMAL, 'resync');
    const later = journalsBetween(h, uiAtWrite, h.mem.pointers.get(SET, 'ui_newest'));
    // Blocks 250..255 must reach the secondary after the write: by a journal of the write or a copy made after it.
    expect(later.some((j) => covers(j, 250, 6))).toBe(true);
    expect(markedTracks(h, 1)).toEqual([]);
  });

  // KNOWN BUG (journal-create.ts suspendGroup + initial-copy.ts copy()): a track's bit is cleared
  // when its first resync unit is journaled; suspendGroup re-marks nothing for a pair in resync,
  // so a suspension in the middle of a track loses the rest of that track for the next resync.
  it('a suspension in the middle of a resync keeps the unfinished track marked, so the next resync copies it', () => {
    const { h, pair } = copiedThenSuspended();
    const n0 = h.mem.groups.updateNumber(1);
    expect(h.write(0, 1, 200, pattern(2 * SLOT, 13)).status).toBe(ScsiStatus.GOOD); // track 1, in its 4th unit
    expect(h.write(0, 1, 400, pattern(SLOT, 14)).status).toBe(ScsiStatus.GOOD); // track 3
    expect(h.copy.resync(1).status).toBe('ok');
    const t = copyTask(h);
    runUntil(h, () => h.mem.pairs.state(pair) === PairState.COPYING, 'resync started');
    for (let i = 0; i < 100 && !(h.mem.groups.updateNumber(1) === n0 + 2 && h.mem.tasks[t + TaskWord.PHASE] === CopyPhase.COPY); i++) h.ca[1]!.step();
    expect(h.mem.groups.updateNumber(1)).toBe(n0 + 2); // blocks 128..175 journaled, 176..255 not yet
    expect(markedTracks(h, 1)).toEqual([3]);
    expect(h.copy.suspend(1).status).toBe('ok');
    expect(h.mem.pairs.state(pair)).toBe(PairState.ABNORMAL);
    expect(markedTracks(h, 1)).toEqual([1, 3]);
    // And end to end: resync again; block 200 must be copied after the write that changed it.
    expect(h.copy.resync(1).status).toBe('ok');
    runUntil(h, () => h.mem.pairs.state(pair) === PairState.NORMAL, 'second resync');
    const journals = journalsBetween(h, 22 * SLOT, h.mem.pointers.get(SET, 'ui_newest'));
    expect(journals.some((j) => j.updateNumber >= n0 && covers(j, 200, 2))).toBe(true);
  });
});
