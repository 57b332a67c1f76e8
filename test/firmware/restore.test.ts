// Restore processing 250 (secondary; seed 000 §5.10, §5.7 secondary release, §12.7 items 37–40;
// seed 002 §7.8, §15 items 29, 31–33). The system under test is a SECONDARY (group B = 2 reading
// group A = 1 of system 2 over link 1). The test plays the primary with a small, protocol-faithful
// responder: each JNLRD gets the next journals (within max_journals / max_bytes), a retry gets the
// previous batch again. Journals are stored by the firmware's own journal store; the test then
// watches restore apply them to secondary volume 1 (paired with primary volume 11) and 2 (12).

import { describe, expect, it } from 'vitest';
import { BLOCK_BYTES } from '../../firmware/config.ts';
import { RESTORE_IDLE_MS } from '../../firmware/restore.ts';
import { GroupState } from '../../firmware/structs/group-info.ts';
import type { PointerField } from '../../firmware/structs/pointer-info.ts';
import { GROUP_SERVICE_TASKS, GroupService, TASK_WORDS, TaskF64, TaskState, TaskWait, TaskWord as T } from '../../firmware/structs/task.ts';
import { VolumeState } from '../../firmware/structs/volume-info.ts';
import { RESPONSE_HEADER_BYTES, WIRE_UPDATE_INFO_BYTES } from '../../firmware/link-protocol.ts';
import { ScsiStatus } from '../../hal/host-port.ts';
import type { LinkEndpoint } from '../../hal/link.ts';
import { decodeJnlrd, encodeResponse, Frame, sendFrame, takeFrame, wireJournal, type DecodedJnlrd, type WireJournal } from '../support/frames.ts';
import { secondaryTestSystem, pattern, peekVolume, pokeVolume, type Harness } from '../support/harness.ts';

const B = 2;
const A = 1;
const JV = 3;
const SET = B * 4;
/** Secondary volume of each primary volume. */
const SECONDARY_OF: Record<number, number> = { 11: 1, 12: 2 };
const CAPACITY_BLOCKS: Record<number, number> = { 1: 256, 2: 100 };

interface Secondary {
  h: Harness;
  peer: LinkEndpoint;
  /** Journal volume geometry. */
  wdHead: number;
  capacity: number;
}

function secondary(o: { journalBlocks?: number; batchJournalsMax?: number } = {}): Secondary {
  const journalBlocks = o.journalBlocks ?? 256;
  const h = secondaryTestSystem({ journalBlocks });
  expect(h.copy.createGroup(B, { role: 'secondary', partnerSystem: 2, partnerGroup: A, link: 1, readPolicy: 'FIXED', readIntervalMs: 2, batchJournalsMax: o.batchJournalsMax ?? 8 }).status).toBe('ok');
  expect(h.copy.registerPair(B, { primarySystem: 2, primaryVolume: 11, secondaryVolume: 1 }).status).toBe('ok');
  expect(h.copy.registerPair(B, { primarySystem: 2, primaryVolume: 12, secondaryVolume: 2 }).status).toBe('ok');
  expect(h.copy.registerJournalVolume(B, JV).status).toBe('ok');
  expect(h.copy.startCopy(B).status).toBe('ok');
  return { h, peer: h.peers.get(1)!, wdHead: h.mem.pointers.get(SET, 'wd_head'), capacity: journalBlocks * BLOCK_BYTES };
}

/** The primary's side of the link: journals in update-number order, resent on retry. */
class FakePrimary {
  next = 0;
  last: WireJournal[] = [];
  readonly commands: DecodedJnlrd[] = [];
  constructor(private readonly s: Secondary, readonly journals: WireJournal[] = []) {}

  /** Answers one pending command, if any. */
  serve(): void {
    const frame = takeFrame(this.s.peer);
    if (!frame) return;
    expect(frame.type).toBe(Frame.JNLRD);
    const c = decodeJnlrd(frame.payload);
    this.commands.push(c);
    if (c.retry === 0) {
      const batch: WireJournal[] = [];
      let bytes = RESPONSE_HEADER_BYTES;
      while (this.next < this.journals.length && batch.length < c.maxJournals) {
        const j = this.journals[this.next]!;
        const size = WIRE_UPDATE_INFO_BYTES + j.data.byteLength;
        if (batch.length > 0 && bytes + size > c.maxBytes) break;
        batch.push(j);
        bytes += size;
        this.next++;
      }
      this.last = batch;
    }
    sendFrame(this.s.peer, Frame.JNLRD_RESPONSE, encodeResponse({ requestId: c.requestId, journals: this.last }));
  }
}

function stepAll(h: Harness): void {
  for (const ca of h.ca) ca.step();
  for (const da of h.da) da.step();
}

/** Runs the secondary with the fake primary for `ms` of virtual time, or until `until` holds. */
function pump(s: Secondary, fp: FakePrimary, ms: number, until?: () => boolean, stepMs = 0.25): void {
  const end = s.h.clock.nowMs() + ms;
  while (s.h.clock.nowMs() < end) {
    stepAll(s.h);
    fp.serve();
    if (until?.()) return;
    s.h.clock.advance(stepMs);
  }
  if (until) throw new Error(`condition not reached within ${ms} ms`);
}

/** Journal n for `blocks` blocks of primary volume `volume` at `block`. */
function jn(n: number, volume: number, block: number, blocks: number): WireJournal {
  return wireJournal({ updateNumber: n, groupNumber: A, targetVolume: volume, targetBlock: block, dataVolume: 9, dataPosition: 40960 + 512 * n, receiveMs: 5_000_000 + 17 * n }, pattern(blocks * BLOCK_BYTES, 300 + n));
}

/** The secondary volumes' expected contents after applying `journals` in order to zeroed volumes. */
function model(journals: WireJournal[]): Map<number, Uint8Array> {
  const images = new Map<number, Uint8Array>([[1, new Uint8Array(256 * BLOCK_BYTES)], [2, new Uint8Array(100 * BLOCK_BYTES)]]);
  for (const j of journals) images.get(SECONDARY_OF[j.info.targetVolume]!)!.set(j.data, j.info.targetBlock * BLOCK_BYTES);
  return images;
}

function expectImages(s: Secondary, journals: WireJournal[]): void {
  for (const [volume, image] of model(journals)) {
    expect(Buffer.from(peekVolume(s.h, volume, 0, CAPACITY_BLOCKS[volume]! * BLOCK_BYTES)).equals(Buffer.from(image))).toBe(true);
  }
}

const ring = (h: Harness): Record<string, number> =>
  Object.fromEntries((['ui_newest', 'ui_oldest', 'wd_newest', 'wd_oldest', 'oldest_number'] as PointerField[]).map((f) => [f, h.mem.pointers.get(SET, f)]));
const restored = (h: Harness): number => h.mem.groups.restoredNumber(B);
const received = (h: Harness): number => h.mem.groups.f64(B, 'received_number');
const restoreTask = (h: Harness): number => (h.mem.geometry.serviceTaskBase + B * GROUP_SERVICE_TASKS + GroupService.RESTORE) * TASK_WORDS;

/** Stores `journals` with restore paused; returns the fake primary. */
function stored(s: Secondary, journals: WireJournal[]): FakePrimary {
  expect(s.h.copy.pauseRestore(B, true).status).toBe('ok');
  const fp = new FakePrimary(s, journals);
  pump(s, fp, 200, () => received(s.h) === journals.length);
  return fp;
}

describe('restore 250: S2040–S2060 — order, target, release', () => {
  it('applies journals strictly in ascending update number, one at a time, to the paired volume at the same block; releases exactly that journal', () => {
    const s = secondary();
    const journals = [jn(1, 11, 0, 2), jn(2, 12, 5, 1), jn(3, 11, 1, 2), jn(4, 12, 99, 1), jn(5, 11, 200, 8)];
    const fp = stored(s, journals);
    expect(restored(s.h)).toBe(0);
    expectImages(s, []);
    const storedRing = ring(s.h);

    expect(s.h.copy.pauseRestore(B, false).data).toMatchObject({ atBoundary: true, restoredNumber: 0 });
    let wd = s.wdHead;
    for (let n = 1; n <= journals.length; n++) {
      pump(s, fp, 50, () => restored(s.h) >= n);
      expect(restored(s.h)).toBe(n); // never two at once, never one skipped
      wd += journals[n - 1]!.data.byteLength;
      expect(ring(s.h)).toEqual({ ...storedRing, ui_oldest: n * 512, wd_oldest: wd, oldest_number: n + 1 });
      expect(s.h.mem.groups.f64(B, 'restored_time_ms')).toBe(journals[n - 1]!.info.receiveMs);
      expectImages(s, journals.slice(0, n));
    }
    expect(ring(s.h)).toMatchObject({ ui_oldest: storedRing.ui_newest, wd_oldest: storedRing.wd_newest }); // empty again
    expect(s.h.copy.groupStatus(B).data).toMatchObject({ restoredNumber: 5, journalsRestored: 5, journalsHeld: 0 });
    // What a host reads from the secondary volumes (reads of 副 volumes are allowed).
    const read1 = s.h.read(0, 1, 0, 4 * BLOCK_BYTES);
    expect(read1.status).toBe(ScsiStatus.GOOD);
    expect(Buffer.from(read1.data).equals(Buffer.from(model(journals).get(1)!.subarray(0, 4 * BLOCK_BYTES)))).toBe(true);
  });

  it('with wrap: both rings wrap many times; every journal is applied once, in order, and the oldest pointers follow exactly', () => {
    // 64 blocks: 8 update-information slots, 28 KiB of write data; 41 journals of 3 blocks wrap both areas.
    const s = secondary({ journalBlocks: 64 });
    const journals = Array.from({ length: 41 }, (_, i) => jn(i + 1, i % 2 === 0 ? 11 : 12, (i * 7) % 90, 3));
    const fp = new FakePrimary(s, journals);
    const uiArea = s.wdHead;
    const wdArea = s.capacity - s.wdHead;
    let last = 0;
    pump(s, fp, 5000, () => {
      const now = restored(s.h);
      if (now !== last) {
        expect(now).toBe(last + 1);
        last = now;
        expect(s.h.mem.pointers.get(SET, 'ui_oldest')).toBe((now * 512) % uiArea);
        expect(s.h.mem.pointers.get(SET, 'wd_oldest')).toBe(s.wdHead + ((now * 1536) % wdArea));
      }
      return now === journals.length;
    }, 0.1);
    expect(restored(s.h)).toBe(41);
    expect(ring(s.h)).toEqual({ ui_newest: 512, ui_oldest: 512, wd_newest: s.wdHead + (41 * 1536) % wdArea, wd_oldest: s.wdHead + (41 * 1536) % wdArea, oldest_number: 42 });
    expectImages(s, journals);
    // The journal volume was full on the way (8 > 7 usable slots): the secondary asked for resends.
    expect(fp.commands.some((c) => c.retry === 1)).toBe(true);
    expect(s.h.mem.groups.state(B)).toBe(GroupState.NORMAL);
  });

  it('waits, applying nothing, while the next slot does not hold journal restored+1 (its store is still copying)', () => {
    const s = secondary({ journalBlocks: 64 });
    const journals = Array.from({ length: 8 }, (_, i) => jn(i + 1, 11, i, 1));
    const fp = new FakePrimary(s, journals);
    pump(s, fp, 500, () => restored(s.h) === 8);
    expect(ring(s.h)).toMatchObject({ ui_newest: 0, ui_oldest: 0 }); // slot 0 still holds journal 1's (valid) update information
    const image = peekVolume(s.h, 1, 0, 256 * BLOCK_BYTES);

    // Journal 9's write data goes to the slot holding wd newest: hold that cache slot so its store stops after reserving.
    const wd = s.h.mem.pointers.get(SET, 'wd_newest');
    const slot = s.h.cache.obtain(JV, Math.floor(wd / s.h.config.slotBytes), { value: false });
    expect(slot).toBeGreaterThanOrEqual(0);
    expect(s.h.cache.tryLockSlot(slot)).toBe(true);
    const j9 = jn(9, 11, 100, 1);
    fp.journals.push(j9);
    pump(s, fp, 30);
    expect(s.h.mem.pointers.get(SET, 'ui_newest')).toBe(512); // reserved ...
    expect(received(s.h)).toBe(8); // ... but not complete
    expect(restored(s.h)).toBe(8);
    expect(ring(s.h)).toMatchObject({ ui_oldest: 0, wd_oldest: wd });
    expect(new DataView(peekVolume(s.h, JV, 0, BLOCK_BYTES).buffer).getFloat64(16, true)).toBe(1); // the stale record restore finds
    const t = restoreTask(s.h);
    expect(s.h.mem.tasks[t + T.STATE]).toBe(TaskState.WAITING);
    expect(s.h.mem.tasks[t + T.WAIT]).toBe(TaskWait.TIMER);
    expect(Buffer.from(peekVolume(s.h, 1, 0, 256 * BLOCK_BYTES)).equals(Buffer.from(image))).toBe(true);
    expect(s.h.mem.groups.state(B)).toBe(GroupState.NORMAL);

    s.h.cache.unlockSlot(slot);
    s.h.cache.unpin(slot);
    pump(s, fp, 50, () => restored(s.h) === 9);
    expectImages(s, [...journals, j9]);
  });

  it('releases a journal only after its secondary-volume write is done (seed 000 §12.7 item 40)', () => {
    const s = secondary();
    const fp = stored(s, [jn(1, 11, 0, 1)]);
    const before = ring(s.h);
    const slot = s.h.cache.obtain(1, 0, { value: false });
    expect(s.h.cache.tryLockSlot(slot)).toBe(true);
    s.h.copy.pauseRestore(B, false);
    pump(s, fp, 30);
    const t = restoreTask(s.h);
    expect(s.h.mem.tasks[t + T.STATE]).toBe(TaskState.WAITING);
    expect(s.h.mem.tasks[t + T.WAIT]).toBe(TaskWait.SLOT_BUSY);
    expect(ring(s.h)).toEqual(before);
    expect(restored(s.h)).toBe(0);
    s.h.cache.unlockSlot(slot);
    s.h.cache.unpin(slot);
    pump(s, fp, 10, () => restored(s.h) === 1);
    expect(ring(s.h)).toMatchObject({ ui_oldest: 512, wd_oldest: s.wdHead + 512 });
  });
});

describe('restore 250: S2010–S2030 — when restore runs', () => {
  it('S2015: a group that is not normal ends restore; nothing is applied, not even after the group is normal again', () => {
    const s = secondary();
    const fp = stored(s, [jn(1, 11, 0, 1), jn(2, 12, 0, 1)]);
    const before = ring(s.h);
    s.h.mem.groups.setState(B, GroupState.FAILURE);
    s.h.copy.pauseRestore(B, false);
    pump(s, fp, 30);
    expect(s.h.mem.tasks[restoreTask(s.h) + T.STATE]).toBe(TaskState.FREE);
    expect(restored(s.h)).toBe(0);
    expect(ring(s.h)).toEqual(before);
    s.h.mem.groups.setState(B, GroupState.NORMAL);
    pump(s, fp, 30);
    expect(restored(s.h)).toBe(0);
    expectImages(s, []);
  });

  it('S2025: an abnormal journal volume makes the group ABNORMAL and ends restore', () => {
    const s = secondary();
    const fp = stored(s, [jn(1, 11, 0, 1)]);
    const before = ring(s.h);
    s.h.mem.volumes.setState(JV, VolumeState.ABNORMAL);
    s.h.copy.pauseRestore(B, false);
    pump(s, fp, 30);
    expect(s.h.mem.groups.state(B)).toBe(GroupState.ABNORMAL);
    expect(s.h.trace).toContain(`group ${B}: normal -> abnormal (journal volume ${JV} is abnormal, S2025)`);
    expect(s.h.mem.tasks[restoreTask(s.h) + T.STATE]).toBe(TaskState.FREE);
    expect(restored(s.h)).toBe(0);
    expect(ring(s.h)).toEqual(before);
    expectImages(s, []);
  });

  it('a secondary volume whose drive failed (abnormal) makes the group ABNORMAL before its journal is applied; the journals before it are applied, it and the rest are kept', () => {
    const s = secondary();
    const fp = stored(s, [jn(1, 11, 0, 1), jn(2, 12, 4, 2), jn(3, 11, 8, 1)]);
    s.h.mem.volumes.setState(2, VolumeState.ABNORMAL); // the secondary volume of primary volume 12
    s.h.copy.pauseRestore(B, false);
    pump(s, fp, 30);
    expect(s.h.mem.groups.state(B)).toBe(GroupState.ABNORMAL);
    expect(s.h.trace).toContain(`group ${B}: normal -> abnormal (secondary volume 2 is abnormal: journal 2 not restored)`);
    expect(s.h.mem.tasks[restoreTask(s.h) + T.STATE]).toBe(TaskState.FREE);
    expect(restored(s.h)).toBe(1);
    expect(s.h.mem.pointers.get(SET, 'oldest_number')).toBe(2);
  });

  it('S2030: with nothing stored restore sleeps RESTORE_IDLE_MS, then looks again', () => {
    const s = secondary();
    const t0 = s.h.clock.nowMs();
    stepAll(s.h); // journal read sends its first command; restore finds nothing
    const t = restoreTask(s.h);
    expect(s.h.mem.tasks[t + T.STATE]).toBe(TaskState.WAITING);
    expect(s.h.mem.tasks[t + T.WAIT]).toBe(TaskWait.TIMER);
    expect(s.h.mem.taskFloats[(t >> 1) + TaskF64.WAKE_MS]).toBe(t0 + RESTORE_IDLE_MS);
    const frame = takeFrame(s.peer)!;
    const c = decodeJnlrd(frame.payload);
    sendFrame(s.peer, Frame.JNLRD_RESPONSE, encodeResponse({ requestId: c.requestId, journals: [jn(1, 11, 3, 1)] }));
    for (let i = 0; i < 5; i++) stepAll(s.h);
    expect(received(s.h)).toBe(1);
    s.h.clock.advance(RESTORE_IDLE_MS - 0.01);
    for (let i = 0; i < 5; i++) stepAll(s.h);
    expect(restored(s.h)).toBe(0); // still asleep
    s.h.clock.advance(0.02);
    stepAll(s.h);
    expect(restored(s.h)).toBe(1);
    expectImages(s, [jn(1, 11, 3, 1)]);
  });

  it('pauseRestore holds restore at a journal boundary and lets it go on', () => {
    const s = secondary();
    const journals = [jn(1, 11, 0, 2), jn(2, 11, 1, 2), jn(3, 12, 4, 1)];
    const fp = stored(s, journals);
    s.h.copy.pauseRestore(B, false);
    pump(s, fp, 50, () => restored(s.h) === 1);
    const held = s.h.copy.pauseRestore(B, true);
    expect(held).toEqual({ status: 'ok', reason: 'ok', data: { atBoundary: true, restoredNumber: 1 } });
    const ringHeld = ring(s.h);
    pump(s, fp, 100);
    expect(restored(s.h)).toBe(1);
    expect(ring(s.h)).toEqual(ringHeld);
    expectImages(s, journals.slice(0, 1)); // a consistent image as of journal 1
    s.h.copy.pauseRestore(B, false);
    pump(s, fp, 50, () => restored(s.h) === 3);
    expectImages(s, journals);
    // Only a secondary group has a restore to pause.
    expect(s.h.copy.createGroup(1, { role: 'primary' }).status).toBe('ok');
    expect(s.h.copy.pauseRestore(1, true)).toEqual({ status: 'rejected', reason: 'group 1 is not a secondary group' });
  });
});

describe('restore 250: damaged journals', () => {
  it('write data that fails its checksum on the journal volume makes the group ABNORMAL with a trace line; nothing is applied', () => {
    const s = secondary();
    const fp = stored(s, [jn(1, 11, 0, 4), jn(2, 11, 8, 1)]);
    const before = ring(s.h);
    const dataPosition = new DataView(peekVolume(s.h, JV, 0, BLOCK_BYTES).buffer).getFloat64(48, true);
    expect(dataPosition).toBe(s.wdHead);
    const byte = peekVolume(s.h, JV, dataPosition + 1024, BLOCK_BYTES)[100]!;
    pokeVolume(s.h, JV, dataPosition + 1024 + 100, Uint8Array.of(byte ^ 0x40));
    s.h.copy.pauseRestore(B, false);
    pump(s, fp, 30);
    expect(s.h.mem.groups.state(B)).toBe(GroupState.ABNORMAL);
    expect(s.h.trace).toContain(`group ${B}: normal -> abnormal (write data of journal 1 failed its checksum on the journal volume)`);
    expect(restored(s.h)).toBe(0);
    expect(ring(s.h)).toEqual(before);
    expectImages(s, []);
  });

  it('a journal for a primary volume no pair of the group copies makes the group ABNORMAL; nothing is applied', () => {
    const s = secondary();
    const fp = stored(s, [jn(1, 11, 0, 1), jn(2, 13, 0, 1)]);
    s.h.copy.pauseRestore(B, false);
    pump(s, fp, 30);
    expect(restored(s.h)).toBe(1);
    expect(s.h.mem.groups.state(B)).toBe(GroupState.ABNORMAL);
    expect(s.h.trace).toContain(`group ${B}: normal -> abnormal (journal 2 is for primary volume 13, which no pair of the group copies)`);
    expectImages(s, [jn(1, 11, 0, 1)]);
  });
});
