// Journal read 240 with several commands in flight over several links (seed 000 [0134], §7.1
// item 16): the secondary's read window. The system under test is a SECONDARY (group B = 2,
// reading group A = 1 of system 2 over links 1 and 2, both on channel adapter 0, window 3); the
// test plays the PRIMARY on both links and answers in whatever order it likes.
//
// Held here: the window fills only when the primary has a backlog; commands alternate over the
// links that are up; responses that arrive out of order wait in their staging buffers and are
// stored strictly in update-number order; a lost response is asked for again by number
// (from_number = received + 1) and duplicates are stored once; RELEASED ends the copy with the
// group abnormal; with one window slot the seed's protocol is unchanged (journal-read.test.ts).

import { describe, expect, it } from 'vitest';
import { BLOCK_BYTES } from '../../firmware/config.ts';
import { RESPONSE_TIMEOUT_MS } from '../../firmware/journal-read.ts';
import { RESPONSE_FLAG_COPY_COMPLETE, RefusalReason, ReleaseMode, ResponseKind } from '../../firmware/link-protocol.ts';
import { WindowState } from '../../firmware/read-window.ts';
import { GroupState } from '../../firmware/structs/group-info.ts';
import { PairState } from '../../firmware/structs/pair-info.ts';
import { GROUP_SERVICE_TASKS, GroupService, TASK_WORDS, TaskWord as T } from '../../firmware/structs/task.ts';
import { decodeUpdateInfo, emptyUpdateInfo } from '../../firmware/structs/update-info-codec.ts';
import type { LinkEndpoint } from '../../hal/link.ts';
import { decodeJnlrd, encodeResponse, Frame, sendFrame, takeFrame, wireJournal, type DecodedJnlrd, type WireJournal } from '../support/frames.ts';
import { freshSystem, pattern, peekVolume, type Harness } from '../support/harness.ts';

const B = 2;
const A = 1;
const JV = 3;
const SET = B * 4;

interface Cmd extends DecodedJnlrd {
  link: number;
}

function secondary(o: { window?: number; batch?: number } = {}): Harness {
  const h = freshSystem({
    links: [{ number: 1, peerSystem: 2, adapter: 0 }, { number: 2, peerSystem: 2, adapter: 0 }],
    journalBatchBytes: 64 * 1024,
    maxTransferBytes: 4096,
    readWindowMax: 3,
    volumes: [
      { number: 1, format: 'OPEN3', capacityBlocks: 256, drive: 0, startBlock: 0 },
      { number: 2, format: 'OPEN3', capacityBlocks: 64, drive: 0, startBlock: 256 },
      { number: 3, format: 'OPEN3', capacityBlocks: 256, drive: 1, startBlock: 0 },
      { number: 4, format: 'OPEN3', capacityBlocks: 256, drive: 1, startBlock: 256 },
    ],
  });
  expect(h.copy.createGroup(B, {
    role: 'secondary', partnerSystem: 2, partnerGroup: A, link: 1, moreLinks: [2], readWindow: o.window ?? 3,
    readPolicy: 'RECEIVED', readIntervalMs: 10, batchJournalsMax: o.batch ?? 2,
  }).status).toBe('ok');
  expect(h.copy.registerPair(B, { primarySystem: 2, primaryVolume: 11, secondaryVolume: 1 }).status).toBe('ok');
  expect(h.copy.registerJournalVolume(B, JV).status).toBe('ok');
  expect(h.copy.startCopy(B).status).toBe('ok');
  return h;
}

function stepAll(h: Harness): void {
  for (const ca of h.ca) ca.step();
  for (const da of h.da) da.step();
}

/** Every command the secondary sends within `ms` of virtual time, in order, with its link. */
function commands(h: Harness, ms = 1, stepMs = 0.05): Cmd[] {
  const out: Cmd[] = [];
  const t0 = h.clock.nowMs();
  while (h.clock.nowMs() - t0 < ms) {
    for (let k = 0; k < 3; k++) {
      stepAll(h);
      for (const link of [1, 2]) {
        for (let f = takeFrame(h.peers.get(link) as LinkEndpoint); f; f = takeFrame(h.peers.get(link) as LinkEndpoint)) {
          expect(f.type).toBe(Frame.JNLRD);
          out.push({ ...decodeJnlrd(f.payload), link });
        }
      }
    }
    h.clock.advance(stepMs);
  }
  return out;
}

function jn(n: number): WireJournal {
  return wireJournal({ updateNumber: n, groupNumber: A, targetVolume: 11, targetBlock: n, dataVolume: 9, dataPosition: 40960 + n * 512 }, pattern(BLOCK_BYTES, 500 + n));
}

function answer(h: Harness, c: Cmd, journals: number[] | 'none' | { refused: number }, flags = 0): void {
  const fields = journals === 'none' ? { kind: ResponseKind.NO_JOURNAL }
    : Array.isArray(journals) ? { journals: journals.map(jn) }
      : { kind: ResponseKind.REFUSED, refusal: journals.refused };
  sendFrame(h.peers.get(c.link)!, Frame.JNLRD_RESPONSE, encodeResponse({ requestId: c.requestId, flags, ...fields }));
}

function settle(h: Harness, rounds = 8): void {
  for (let i = 0; i < rounds; i++) stepAll(h);
}

/**
 * Update numbers of the journals stored in the secondary's journal volume, in ring order from its
 * head (restore may have freed some already; the ring does not wrap in these tests).
 */
function stored(h: Harness): number[] {
  const out: number[] = [];
  const newest = h.mem.pointers.get(SET, 'ui_newest');
  const info = emptyUpdateInfo();
  for (let at = h.mem.pointers.get(SET, 'ui_head'); at !== newest; at += 512) {
    const bytes = peekVolume(h, JV, at, BLOCK_BYTES);
    decodeUpdateInfo(new DataView(bytes.buffer), 0, info);
    out.push(info.updateNumber);
  }
  return out;
}

/** Starts a window of three commands: the first batch is full, so the rest follow at once. */
function threeInFlight(h: Harness): Cmd[] {
  const [first, ...more] = commands(h);
  expect(more).toEqual([]);
  answer(h, first!, [1, 2]);
  const cmds = commands(h);
  expect(cmds).toHaveLength(3);
  expect(stored(h)).toEqual([1, 2]);
  return cmds;
}

describe('journal read 240 with a read window', () => {
  it('one command until a full batch shows a backlog; then three in flight, alternating links, releasing what is stored', () => {
    const h = secondary();
    const first = commands(h);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ link: 1, retry: 0, fromNumber: 0, releaseMode: ReleaseMode.UP_TO, releaseNumber: 0, maxJournals: 2 });
    answer(h, first[0]!, [1, 2]);
    const cmds = commands(h);
    // Round robin from link 2 (link 1 took the first): 2, 1, 2 — collected link by link.
    expect(cmds.map((c) => c.link).sort()).toEqual([1, 2, 2]);
    expect(cmds.every((c) => c.fromNumber === 0 && c.releaseMode === ReleaseMode.UP_TO && c.releaseNumber === 2)).toBe(true);
    expect(new Set(cmds.map((c) => c.requestId)).size).toBe(3);
    // The window is full: nothing more until something is answered.
    expect(commands(h, 5)).toEqual([]);
    expect(h.mem.window.countIn(B, WindowState.AWAITING)).toBe(3);
  });

  it('responses arriving out of order wait; journals are stored strictly in update-number order', () => {
    const h = secondary();
    const [c1, c2, c3] = threeInFlight(h);
    answer(h, c3!, [7, 8]);
    answer(h, c2!, [5, 6]);
    settle(h);
    // 3..4 are missing: nothing after the gap is stored; both batches wait in the window.
    expect(stored(h)).toEqual([1, 2]);
    expect(h.mem.groups.f64(B, 'received_number')).toBe(2);
    expect(h.mem.window.countIn(B, WindowState.ARRIVED)).toBe(2);
    answer(h, c1!, [3, 4]);
    settle(h, 20);
    expect(stored(h)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(h.mem.groups.f64(B, 'received_number')).toBe(8);
    expect(h.mem.groups.state(B)).toBe(GroupState.NORMAL);
    // Each stored journal's write data is its own, at the write-data position its record names.
    const info = emptyUpdateInfo();
    for (let k = 0; k < 8; k++) {
      const ui = peekVolume(h, JV, k * 512, BLOCK_BYTES);
      decodeUpdateInfo(new DataView(ui.buffer), 0, info);
      expect(info.groupNumber).toBe(B);
      expect(peekVolume(h, JV, info.dataPosition, BLOCK_BYTES)).toEqual(pattern(BLOCK_BYTES, 500 + k + 1));
    }
  });

  it('a lost response: after the timeout the secondary asks from the first journal it lacks; duplicates are stored once', () => {
    const h = secondary();
    const [, c2, c3] = threeInFlight(h); // c1 (3..4) is lost
    answer(h, c2!, [5, 6]);
    answer(h, c3!, 'none');
    settle(h);
    // c1's response (3..4) is lost. After RESPONSE_TIMEOUT_MS and the back-off: a numbered command.
    const later = commands(h, RESPONSE_TIMEOUT_MS + 100, 1);
    const numbered = later.find((c) => c.fromNumber !== 0);
    expect(numbered).toBeDefined();
    expect(numbered).toMatchObject({ fromNumber: 3, retry: 0, releaseNumber: 2 });
    expect(h.mem.groups.f64(B, 'failing_since_ms')).toBeGreaterThan(0);
    // The primary resends everything from 3 it still holds: 3..6; 5..6 are already waiting.
    answer(h, numbered!, [3, 4, 5, 6]);
    settle(h, 20);
    expect(stored(h)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(h.mem.window.countIn(B, WindowState.ARRIVED)).toBe(0);
    expect(h.mem.groups.f64(B, 'failing_since_ms')).toBe(0);
  });

  it('RELEASED: the journals it lacks are gone from the primary — group abnormal with a trace line, reading ends', () => {
    const h = secondary();
    const [c1, c2, c3] = threeInFlight(h);
    answer(h, c2!, [5, 6]);
    answer(h, c3!, 'none');
    settle(h);
    const numbered = commands(h, RESPONSE_TIMEOUT_MS + 100, 1).find((c) => c.fromNumber !== 0)!;
    void c1;
    answer(h, numbered, { refused: RefusalReason.RELEASED });
    settle(h);
    expect(h.mem.groups.state(B)).toBe(GroupState.ABNORMAL);
    expect(h.trace.some((l) => l.includes(`group ${B}: normal -> abnormal (journal sequence gap`) && l.includes('from 3'))).toBe(true);
    expect(stored(h)).toEqual([1, 2]);
    expect(commands(h, 50, 1)).toEqual([]);
    expect(h.mem.window.countIn(B, WindowState.FREE)).toBe(3);
  });

  it('with one link down the commands go over the other; with both down reads fail and back off', () => {
    const h = secondary();
    h.peers.get(1)!.cut();
    const first = commands(h);
    expect(first.map((c) => c.link)).toEqual([2]);
    answer(h, first[0]!, [1, 2]);
    const cmds = commands(h);
    expect(cmds.map((c) => c.link)).toEqual([2, 2, 2]);
    for (const c of cmds) answer(h, c, 'none');
    settle(h);
    h.peers.get(2)!.cut();
    expect(commands(h, 200, 1)).toEqual([]);
    expect(h.mem.groups.f64(B, 'failing_since_ms')).toBeGreaterThan(0);
    expect(h.trace.some((l) => l.includes('journal reads failing (link is down)'))).toBe(true);
  });
});

describe('journal read 240 with a read window: losses, races and stops (review findings)', () => {
  it('two responses lost, one batch between them arriving: both gaps are asked for again by number, one after the other, and reading never stalls', () => {
    const h = secondary();
    const [c1, c2, c3] = threeInFlight(h);
    answer(h, c2!, [5, 6]); // c1 (3..4) and c3 (7..8) are lost
    settle(h);
    // Both time out: the first re-request asks from 3.
    const r1 = commands(h, RESPONSE_TIMEOUT_MS + 100, 1).filter((c) => c.fromNumber !== 0);
    expect(r1.map((c) => c.fromNumber)).toEqual([3]);
    answer(h, r1[0]!, [3, 4]);
    settle(h, 20);
    expect(h.mem.groups.f64(B, 'received_number')).toBe(6);
    // The second loss is still owed: the next re-request asks from 7, and a slot is kept for it.
    const more = commands(h, 50, 1);
    const r2 = more.find((c) => c.fromNumber !== 0);
    expect(r2).toMatchObject({ fromNumber: 7 });
    for (const c of more) if (c !== r2) answer(h, c, c.fromNumber === 0 ? [9 + 2 * more.indexOf(c), 10 + 2 * more.indexOf(c)] : 'none');
    answer(h, r2!, [7, 8]);
    settle(h, 40);
    expect(h.mem.groups.f64(B, 'received_number')).toBeGreaterThanOrEqual(8);
    expect(h.mem.groups.state(B)).toBe(GroupState.NORMAL);
    void c1; void c3;
  });

  it('every slot holding a batch beyond a gap, nothing in flight: the furthest batch is given up so the gap can be asked for', () => {
    const h = secondary();
    const [c1, c2, c3] = threeInFlight(h);
    answer(h, c2!, [5, 6]);
    answer(h, c3!, [7, 8]);
    settle(h);
    // c1 times out; its slot goes to the re-request (the other two wait).
    const r = commands(h, RESPONSE_TIMEOUT_MS + 100, 1).find((c) => c.fromNumber !== 0)!;
    expect(r.fromNumber).toBe(3);
    answer(h, r, [3, 4]);
    settle(h, 20);
    expect(stored(h)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    void c1;
  });

  it('RELEASED for a re-request whose journals were stored meanwhile is no gap: the group stays normal', () => {
    const h = secondary();
    const [c1, c2, c3] = threeInFlight(h);
    answer(h, c2!, [5, 6]);
    answer(h, c3!, 'none');
    settle(h);
    const r = commands(h, RESPONSE_TIMEOUT_MS + 100, 1).find((c) => c.fromNumber !== 0)!;
    // The re-request is answered: 3..6 stored. A second re-request from 3 was still out (a later
    // loss asked again while the first was in flight); the primary, told that 6 is stored, has
    // released 3..6 and refuses it with RELEASED.
    answer(h, r, [3, 4]);
    settle(h, 20);
    expect(h.mem.groups.f64(B, 'received_number')).toBe(6);
    const slot = [0, 1, 2].find((k) => h.mem.window.state(B, k) !== WindowState.ARRIVED)!; // stands for a second re-request still out
    const id = (B << 20) | 0x7abc;
    h.mem.window.sent(B, slot, 1, id, 3, h.clock.nowMs());
    answer(h, { ...r, link: 1, requestId: id }, { refused: RefusalReason.RELEASED });
    settle(h);
    expect(h.mem.groups.state(B)).toBe(GroupState.NORMAL);
    void c1;
  });

  it('the copy-complete flag on a batch that arrives ahead of a gap waits until everything before it is stored', () => {
    const h = secondary();
    const [c1, c2, c3] = threeInFlight(h);
    const pair = h.mem.groups.pairAt(B, 0);
    answer(h, c3!, [7, 8], RESPONSE_FLAG_COPY_COMPLETE);
    answer(h, c2!, [5, 6]);
    settle(h);
    expect(h.mem.pairs.state(pair)).toBe(PairState.NOT_COPIED);
    answer(h, c1!, [3, 4]);
    settle(h, 30);
    commands(h, 5);
    expect(h.mem.pairs.state(pair)).toBe(PairState.NORMAL);
  });

  it('a takeover while batches wait in the window stores every batch it can before reading stops', () => {
    const h = secondary();
    const [c1, c2, c3] = threeInFlight(h);
    answer(h, c2!, [5, 6]);
    answer(h, c1!, [3, 4]);
    expect(h.copy.takeover(B).status).toBe('ok');
    settle(h, 30);
    expect(stored(h)).toEqual([1, 2, 3, 4, 5, 6]);
    void c3;
  });

  it('window 1 over two links uses the numbered protocol: release by number, a lost response asked for by number', () => {
    const h = secondary({ window: 1 });
    const [c] = commands(h);
    expect(c).toMatchObject({ releaseMode: ReleaseMode.UP_TO, retry: 0, fromNumber: 0 });
    answer(h, c!, [1, 2]);
    const [lost] = commands(h);
    expect(lost).toMatchObject({ releaseNumber: 2 });
    const again = commands(h, RESPONSE_TIMEOUT_MS + 100, 1);
    expect(again[0]).toMatchObject({ retry: 0, fromNumber: 3 });
  });

  it('two secondary groups reading over one link never take each other\'s responses (the request id names the group)', () => {
    const h = secondary();
    expect(h.copy.createGroup(3, { role: 'secondary', partnerSystem: 2, partnerGroup: 5, link: 1, readPolicy: 'FIXED', readIntervalMs: 10 }).status).toBe('ok');
    expect(h.copy.registerPair(3, { primarySystem: 2, primaryVolume: 15, secondaryVolume: 2 }).status).toBe('ok');
    expect(h.copy.registerJournalVolume(3, 4).status).toBe('ok');
    expect(h.copy.startCopy(3).status).toBe('ok');
    const first = commands(h);
    expect(first.map((c) => c.group).sort()).toEqual([A, 5]);
    const [forB, for3] = [first.find((c) => c.group === A)!, first.find((c) => c.group === 5)!];
    expect(forB.requestId).not.toBe(for3.requestId);
    answer(h, for3, 'none');
    answer(h, forB, [1, 2]);
    settle(h, 20);
    expect(h.mem.groups.f64(B, 'received_number')).toBe(2);
    expect(h.mem.groups.f64(3, 'received_number')).toBe(0);
  });

  it('a journal read task whose task words happen to hold a volume number does not block volume definition', () => {
    const h = secondary();
    commands(h);
    const t = (h.mem.geometry.serviceTaskBase + B * GROUP_SERVICE_TASKS + GroupService.JOURNAL_READ) * TASK_WORDS;
    h.mem.tasks[t + T.VOLUME] = 5;
    expect(h.maintenance.defineVolume({ number: 5, capacityBlocks: 64, drive: 1, startBlock: 512 }).status).toBe('ok');
  });
});

describe('group creation: read window and further links', () => {
  function base(o: Parameters<Harness['copy']['createGroup']>[1]): string {
    const h = freshSystem({
      links: [{ number: 1, peerSystem: 2, adapter: 0 }, { number: 2, peerSystem: 2, adapter: 1 }, { number: 3, peerSystem: 4, adapter: 0 }, { number: 4, peerSystem: 2, adapter: 0 }],
      readWindowMax: 2,
    });
    const r = h.copy.createGroup(B, o);
    const state = h.mem.groups.state(B);
    if (r.status === 'ok') return 'ok';
    expect(state).toBe(GroupState.UNUSED);
    return r.reason;
  }
  const secondaryGroup = { role: 'secondary' as const, partnerSystem: 2, partnerGroup: A, link: 1 };

  it.each([
    [{ ...secondaryGroup, readWindow: 3 }, 'read window 3 must be an integer 1..2 (the system\'s readWindowMax)'],
    [{ ...secondaryGroup, readWindow: 0 }, 'read window 0 must be an integer 1..2 (the system\'s readWindowMax)'],
    [{ ...secondaryGroup, moreLinks: [2] }, 'link 2 belongs to channel adapter 1; the group\'s journal reads run on adapter 0 (link 1)'],
    [{ ...secondaryGroup, moreLinks: [3] }, 'link 3 goes to system 4, not to the primary 2'],
    [{ ...secondaryGroup, moreLinks: [7] }, 'link 7 is not configured on this system'],
    [{ ...secondaryGroup, moreLinks: [1] }, 'link 1 is named twice'],
    [{ ...secondaryGroup, moreLinks: [4, 4] }, 'link 4 is named twice'],
    [{ role: 'primary' as const, moreLinks: [4] }, 'only a secondary group reads over links'],
  ])('%o is refused: %s', (o, reason) => {
    expect(base(o)).toBe(reason);
  });

  it('a valid window and link list is recorded and shown by groupStatus', () => {
    const h = freshSystem({ links: [{ number: 1, peerSystem: 2, adapter: 0 }, { number: 4, peerSystem: 2, adapter: 0 }], readWindowMax: 2 });
    expect(h.copy.createGroup(B, { ...secondaryGroup, moreLinks: [4], readWindow: 2 }).status).toBe('ok');
    expect(h.mem.groups.u8(B, 'read_window')).toBe(2);
    expect([0, 1, 2, 3].map((i) => h.mem.groups.readLink(B, i))).toEqual([1, 4, 0, 0]);
    const s = h.copy.groupStatus(B);
    expect([s.data?.readWindow, s.data?.readLinks]).toEqual([2, [1, 4]]);
  });
});
