// Journal read processing 240 and journal store 1800 (secondary side; seed 000 §5.8–§5.9, §6.3,
// §12.6 items 31–36; seed 002 §7.6–§7.7, §15 items 20–21, 25, 27). The system under test is a
// SECONDARY (group B = 2, reading group A = 1 of system 2 over link 1); the test plays the
// PRIMARY: it takes the JNLRD frames the secondary sends and answers with crafted responses —
// update information from the firmware's codec, write data with its CRC-32C.
//
// Journal volume 3 (256 blocks): update information [0, 16384), write data [16384, 131072);
// the secondary's pointer set is set 8 (group 2 x readersMax 4). Pairs: primary volume 11 ->
// secondary volume 1, primary volume 12 -> secondary volume 2.

import { describe, expect, it } from 'vitest';
import { BLOCK_BYTES } from '../../firmware/config.ts';
import { BACKOFF_MAX_MS, RESPONSE_TIMEOUT_MS } from '../../firmware/journal-read.ts';
import { journalUsage } from '../../firmware/journal-ring.ts';
import { RESPONSE_FLAG_COPY_COMPLETE, RESPONSE_HEADER_BYTES, RefusalReason, ResponseKind, WIRE_UPDATE_INFO_BYTES } from '../../firmware/link-protocol.ts';
import { GroupState, type GroupStateCode } from '../../firmware/structs/group-info.ts';
import { PairState } from '../../firmware/structs/pair-info.ts';
import type { PointerField } from '../../firmware/structs/pointer-info.ts';
import { STAT_COUNTERS_PER_PROCESSOR, Stat } from '../../firmware/structs/statistics.ts';
import { GROUP_SERVICE_TASKS, GroupService, TASK_WORDS, TaskState, TaskWord as T } from '../../firmware/structs/task.ts';
import { decodeUpdateInfo, emptyUpdateInfo, validateUpdateInfo, type UpdateInfoFields } from '../../firmware/structs/update-info-codec.ts';
import { UPDATE_INFO_FLAG_INITIAL_COPY } from '../../firmware/structs/update-info.ts';
import { VolumeState } from '../../firmware/structs/volume-info.ts';
import type { LinkEndpoint } from '../../hal/link.ts';
import {
  decodeJnlrd, encodeResponse, Frame, sendFrame, takeFrame, wireJournal, type DecodedJnlrd, type ResponseFields, type WireJournal,
} from '../support/frames.ts';
import { freshSystem, secondaryTestSystem, pattern, peekVolume, type Harness } from '../support/harness.ts';

const B = 2; // the secondary's group
const A = 1; // the primary's group
const JV = 3;
const SET = B * 4;
const UI_AREA = 16384;
const CAPACITY = 256 * BLOCK_BYTES;
const BATCH_BYTES = 64 * 1024;

interface Secondary {
  h: Harness;
  peer: LinkEndpoint;
}

interface SecondaryOptions {
  readPolicy?: 'IMMEDIATE' | 'FIXED' | 'RECEIVED' | 'OWN_USAGE' | 'PRIMARY_USAGE' | 'LOAD' | 'TRAFFIC';
  readIntervalMs?: number;
  batchJournalsMax?: number;
  storePolicy?: 'DISCARD_RETRY' | 'HOLD';
  journalBlocks?: number;
}

function secondary(o: SecondaryOptions = {}): Secondary {
  const h = secondaryTestSystem(o.journalBlocks !== undefined ? { journalBlocks: o.journalBlocks } : {});
  expect(h.copy.createGroup(B, {
    role: 'secondary', partnerSystem: 2, partnerGroup: A, link: 1,
    readPolicy: o.readPolicy ?? 'FIXED', readIntervalMs: o.readIntervalMs ?? 10, batchJournalsMax: o.batchJournalsMax ?? 8, storePolicy: o.storePolicy ?? 'DISCARD_RETRY',
  }).status).toBe('ok');
  expect(h.copy.registerPair(B, { primarySystem: 2, primaryVolume: 11, secondaryVolume: 1 }).status).toBe('ok');
  expect(h.copy.registerPair(B, { primarySystem: 2, primaryVolume: 12, secondaryVolume: 2 }).status).toBe('ok');
  expect(h.copy.registerJournalVolume(B, JV).status).toBe('ok');
  expect(h.copy.startCopy(B).status).toBe('ok');
  return { h, peer: h.peers.get(1)! };
}

const POINTERS: PointerField[] = ['ui_newest', 'ui_oldest', 'wd_newest', 'wd_oldest'];
function ring(h: Harness): Record<string, number> {
  return Object.fromEntries(POINTERS.map((f) => [f, h.mem.pointers.get(SET, f)]));
}

const badMessages = (h: Harness): number => {
  let sum = 0;
  for (let p = 0; p < h.mem.geometry.processors; p++) sum += h.mem.statistics[p * STAT_COUNTERS_PER_PROCESSOR + Stat.BAD_MESSAGES]!;
  return sum;
};

/** CA 0's journal read task of group B. */
const readTask = (h: Harness): number => (h.mem.geometry.serviceTaskBase + B * GROUP_SERVICE_TASKS + GroupService.JOURNAL_READ) * TASK_WORDS;

/** Every processor one step, without moving the clock. */
function stepAll(h: Harness): void {
  for (const ca of h.ca) ca.step();
  for (const da of h.da) da.step();
}

/**
 * Steps (two steps per instant, then `stepMs` of virtual time) until the secondary sends a frame.
 * Returns how long after the first step it came, or null if none came within `withinMs`.
 */
function nextCommand(s: Secondary, withinMs: number, stepMs = 0.05): { delay: number; cmd: DecodedJnlrd } | null {
  const t0 = s.h.clock.nowMs();
  for (;;) {
    for (let k = 0; k < 2; k++) {
      stepAll(s.h);
      const frame = takeFrame(s.peer);
      if (frame) {
        expect(frame.type).toBe(Frame.JNLRD);
        return { delay: s.h.clock.nowMs() - t0, cmd: decodeJnlrd(frame.payload) };
      }
    }
    if (s.h.clock.nowMs() - t0 >= withinMs) return null;
    s.h.clock.advance(stepMs);
  }
}

function command(s: Secondary, withinMs = 5000, stepMs = 0.5): DecodedJnlrd {
  const r = nextCommand(s, withinMs, stepMs);
  if (!r) throw new Error(`no journal read command within ${withinMs} ms`);
  return r.cmd;
}

/** The command came `delay` ms after the response: at `expectedMs` on a grid of `stepMs`. */
function expectDelay(delay: number, expectedMs: number, stepMs = 0.05): void {
  expect(delay).toBeGreaterThanOrEqual(expectedMs - 1e-3);
  expect(delay).toBeLessThan(expectedMs + stepMs + 1e-3);
}

function respond(s: Secondary, cmd: DecodedJnlrd, r: Partial<ResponseFields> & { journals?: WireJournal[]; truncate?: number; trailing?: number } = {}): void {
  sendFrame(s.peer, Frame.JNLRD_RESPONSE, encodeResponse({ requestId: cmd.requestId, ...r }));
}

/** Journal n as the primary sends it: `blocks` blocks of primary volume `volume` at `block`. */
function jn(n: number, o: { volume?: number; block?: number; blocks?: number; seed?: number; flags?: number } = {}): WireJournal {
  const blocks = o.blocks ?? 1;
  return wireJournal({
    updateNumber: n, groupNumber: A, targetVolume: o.volume ?? 11, targetBlock: o.block ?? n, flags: o.flags ?? 0,
    dataVolume: (o.flags ?? 0) !== 0 ? (o.volume ?? 11) : 9, dataPosition: (o.flags ?? 0) !== 0 ? (o.block ?? n) * BLOCK_BYTES : 40960 + n * 512,
  }, pattern(blocks * BLOCK_BYTES, o.seed ?? 1000 + n));
}

/** The update information stored in the secondary's journal volume at `position`. */
function storedInfo(h: Harness, position: number): { info: UpdateInfoFields; problem: string | null } {
  const bytes = peekVolume(h, JV, position, BLOCK_BYTES);
  const view = new DataView(bytes.buffer);
  const info = emptyUpdateInfo();
  decodeUpdateInfo(view, 0, info);
  return { info, problem: validateUpdateInfo(view, bytes, 0, 8) };
}

/** Answers the next command with `journals` and lets the secondary store them. */
function deliver(s: Secondary, journals: WireJournal[], extra: Partial<ResponseFields> = {}): DecodedJnlrd {
  const cmd = command(s);
  respond(s, cmd, { journals, ...extra });
  for (let i = 0; i < 4; i++) stepAll(s.h);
  return cmd;
}

describe('journal read 240: S1700 — the command', () => {
  it('names the primary\'s group A, this system as requester, no retry, and the batch limits', () => {
    const s = secondary({ batchJournalsMax: 8 });
    stepAll(s.h);
    const frame = takeFrame(s.peer);
    expect(frame).not.toBeNull();
    expect(frame!.type).toBe(Frame.JNLRD);
    expect(frame!.payload.byteLength).toBe(40);
    const c = decodeJnlrd(frame!.payload);
    expect(c).toEqual({
      length: 40, group: A, requester: 1, requestId: c.requestId, retry: 0, maxJournals: 8,
      maxBytes: Math.min(BATCH_BYTES, s.peer.payloadMax), releaseMode: 0, releaseNumber: 0, fromNumber: 0, reserved: [0, 0],
    });
    // One command at a time: nothing more until it is answered.
    for (let i = 0; i < 20; i++) stepAll(s.h);
    expect(takeFrame(s.peer)).toBeNull();
    respond(s, c, { kind: ResponseKind.NO_JOURNAL });
    const next = command(s);
    expect(next.requestId).toBe((c.requestId + 1) | 0);
    expect(next.retry).toBe(0);
  });
});

describe('journal read 240: S1720–S1745 — what the response says', () => {
  it('S1725: after NO_JOURNAL the next command comes only after the read interval', () => {
    const s = secondary({ readPolicy: 'FIXED', readIntervalMs: 10 });
    const c = command(s);
    respond(s, c, { kind: ResponseKind.NO_JOURNAL });
    const r = nextCommand(s, 50);
    expect(r).not.toBeNull();
    expectDelay(r!.delay, 10);
    expect(r!.cmd.retry).toBe(0);
    expect(ring(s.h)).toEqual({ ui_newest: 0, ui_oldest: 0, wd_newest: UI_AREA, wd_oldest: UI_AREA });
  });

  it.each([
    ['failure', GroupState.FAILURE],
    ['unused', GroupState.UNUSED],
  ] as Array<[string, GroupStateCode]>)('S1735: GROUP_STATE %s — the secondary group takes that state and sends nothing more', (name, state) => {
    const s = secondary();
    const c = command(s);
    respond(s, c, { kind: ResponseKind.GROUP_STATE, groupState: state });
    expect(nextCommand(s, 3000, 5)).toBeNull();
    expect(s.h.mem.groups.state(B)).toBe(state);
    expect(s.h.trace).toContain(`group ${B}: normal -> ${name} (primary group reports it, S1735)`);
    expect(s.h.mem.tasks[readTask(s.h) + T.STATE]).toBe(TaskState.FREE);
  });

  it('S1745: the own journal volume abnormal — the group becomes ABNORMAL, nothing is stored, reading ends', () => {
    const s = secondary();
    const c = command(s);
    s.h.mem.volumes.setState(JV, VolumeState.ABNORMAL);
    respond(s, c, { journals: [jn(1), jn(2)] });
    stepAll(s.h);
    expect(s.h.mem.groups.state(B)).toBe(GroupState.ABNORMAL);
    expect(s.h.trace).toContain(`group ${B}: normal -> abnormal (journal volume ${JV} is abnormal, S1745)`);
    expect(ring(s.h)).toEqual({ ui_newest: 0, ui_oldest: 0, wd_newest: UI_AREA, wd_oldest: UI_AREA });
    expect(s.h.mem.groups.f64(B, 'received_number')).toBe(0);
    expect(nextCommand(s, 2000, 5)).toBeNull();
  });

  it('a REFUSED response is a failed read: the next command carries the retry flag', () => {
    const s = secondary({ readIntervalMs: 10 });
    const c = command(s);
    respond(s, c, { kind: ResponseKind.REFUSED, refusal: RefusalReason.NOT_A_READER, groupState: 0 });
    const r = nextCommand(s, 100);
    expectDelay(r!.delay, 20); // first failure: twice the interval
    expect(r!.cmd.retry).toBe(1);
    expect(s.h.mem.groups.state(B)).toBe(GroupState.NORMAL);
    expect(s.h.trace.some((l) => l.includes('journal reads failing') && l.includes('requester is not a reader of this group'))).toBe(true);
  });

  it('S940: the copy-complete flag turns the secondary pairs NORMAL; without it they stay not-copied', () => {
    const s = secondary();
    respond(s, command(s), { kind: ResponseKind.NO_JOURNAL });
    deliver(s, [jn(1)]);
    expect([s.h.mem.pairs.state(1), s.h.mem.pairs.state(2)]).toEqual([PairState.NOT_COPIED, PairState.NOT_COPIED]);
    deliver(s, [jn(2)], { flags: RESPONSE_FLAG_COPY_COMPLETE });
    expect([s.h.mem.pairs.state(1), s.h.mem.pairs.state(2)]).toEqual([PairState.NORMAL, PairState.NORMAL]);
    expect(s.h.trace).toContain('pair 1: not-copied -> normal (initial copy ended, S940)');
    expect(s.h.trace).toContain('pair 2: not-copied -> normal (initial copy ended, S940)');
    expect(s.h.mem.groups.f64(B, 'received_number')).toBe(2);
  });
});

describe('journal store 1800: S1810–S1850', () => {
  it('stores a batch: group number rewritten to B, write-data address to its own journal volume and wd newest; the rest kept', () => {
    const s = secondary();
    expect(s.h.copy.pauseRestore(B, true).status).toBe('ok'); // keep every journal in place
    const batch1 = [jn(1, { blocks: 2 }), jn(2, { volume: 12, block: 40, blocks: 8 }), jn(3, { blocks: 1, flags: UPDATE_INFO_FLAG_INITIAL_COPY })];
    deliver(s, batch1);
    const batch2 = [jn(4, { blocks: 3 })];
    deliver(s, batch2);
    expect(ring(s.h)).toEqual({ ui_newest: 4 * 512, ui_oldest: 0, wd_newest: UI_AREA + (2 + 8 + 1 + 3) * 512, wd_oldest: UI_AREA });
    expect(s.h.mem.groups.f64(B, 'received_number')).toBe(4);
    expect(s.h.copy.groupStatus(B).data!).toMatchObject({ receivedNumber: 4, journalsCreated: 4, journalsSent: 4 });
    let wd = UI_AREA;
    [...batch1, ...batch2].forEach((j, i) => {
      const stored = storedInfo(s.h, i * 512);
      expect(stored.problem).toBeNull(); // resealed after the rewrite
      expect(stored.info).toEqual({ ...j.info, groupNumber: B, dataVolume: JV, dataPosition: wd });
      expect(Buffer.from(peekVolume(s.h, JV, wd, j.data.byteLength)).equals(Buffer.from(j.data))).toBe(true);
      wd += j.data.byteLength;
    });
  });

  it('a journal already stored (number <= received) is skipped; only the new ones move the pointers', () => {
    const s = secondary();
    expect(s.h.copy.pauseRestore(B, true).status).toBe('ok');
    deliver(s, [jn(1), jn(2, { blocks: 2 })]);
    const before = ring(s.h);
    const first2 = storedInfo(s.h, 512).info;
    deliver(s, [jn(1, { seed: 7 }), jn(2, { blocks: 2, seed: 8 }), jn(3, { blocks: 3 })]);
    expect(ring(s.h)).toEqual({ ...before, ui_newest: before.ui_newest! + 512, wd_newest: before.wd_newest! + 1536 });
    expect(storedInfo(s.h, 512).info).toEqual(first2);
    expect(storedInfo(s.h, 1024).info.updateNumber).toBe(3);
    expect(s.h.mem.groups.f64(B, 'received_number')).toBe(3);
  });

  it('a gap in the update numbers makes the group ABNORMAL with a trace line; journals before it are kept', () => {
    const s = secondary();
    deliver(s, [jn(1), jn(3)]);
    expect(s.h.mem.groups.state(B)).toBe(GroupState.ABNORMAL);
    expect(s.h.trace).toContain(`group ${B}: normal -> abnormal (journal sequence gap: expected 2, received 3)`);
    expect(ring(s.h)).toEqual({ ui_newest: 512, ui_oldest: 0, wd_newest: UI_AREA + 512, wd_oldest: UI_AREA });
    expect(s.h.mem.groups.f64(B, 'received_number')).toBe(1);
    expect(nextCommand(s, 1000, 5)).toBeNull();
  });

  it('a first journal that is not number 1 is a gap too: nothing stored', () => {
    const s = secondary();
    deliver(s, [jn(2)]);
    expect(s.h.mem.groups.state(B)).toBe(GroupState.ABNORMAL);
    expect(s.h.trace).toContain(`group ${B}: normal -> abnormal (journal sequence gap: expected 1, received 2)`);
    expect(ring(s.h)).toEqual({ ui_newest: 0, ui_oldest: 0, wd_newest: UI_AREA, wd_oldest: UI_AREA });
  });

  type Damage = (requestId: number) => Uint8Array;
  const damaged: Array<[string, Damage]> = [
    ['a bad data checksum in the second journal', (requestId) => {
      const j2 = jn(2, { blocks: 2 });
      return encodeResponse({ requestId, journals: [jn(1), { info: { ...j2.info, dataChecksum: (j2.info.dataChecksum ^ 1) >>> 0 }, data: j2.data }] });
    }],
    ['write data cut off', (requestId) => encodeResponse({ requestId, journals: [jn(1), jn(2, { blocks: 2 })], truncate: 512 })],
    ['a count larger than the journals sent', (requestId) => encodeResponse({ requestId, journals: [jn(1), jn(2)], count: 3 })],
    ['trailing bytes after the last journal', (requestId) => encodeResponse({ requestId, journals: [jn(1), jn(2)], trailing: 512 })],
    ['an update information whose header checksum does not match', (requestId) => {
      const payload = encodeResponse({ requestId, journals: [jn(1), jn(2)] });
      const at = RESPONSE_HEADER_BYTES + WIRE_UPDATE_INFO_BYTES + 512 + 32; // journal 2's target_block
      payload[at] = payload[at]! ^ 0x01; // not resealed
      return payload;
    }],
    ['an update information with data size 0', (requestId) => {
      const j2 = jn(2);
      return encodeResponse({ requestId, journals: [jn(1), { info: { ...j2.info, dataBlocks: 0 }, data: new Uint8Array(0) }] });
    }],
    ['a journal larger than the maximum transfer', (requestId) => encodeResponse({ requestId, journals: [jn(1), jn(2, { blocks: 9 })] })],
  ];

  it.each(damaged)('%s: nothing stored, counted, and the next command (after the back-off) carries the retry flag', (_name, build) => {
    const s = secondary({ readIntervalMs: 10 });
    const c = command(s);
    const bad = badMessages(s.h);
    sendFrame(s.peer, Frame.JNLRD_RESPONSE, build(c.requestId));
    const r = nextCommand(s, 100);
    expect(ring(s.h)).toEqual({ ui_newest: 0, ui_oldest: 0, wd_newest: UI_AREA, wd_oldest: UI_AREA });
    expect(s.h.mem.groups.f64(B, 'received_number')).toBe(0);
    expect(s.h.mem.groups.state(B)).toBe(GroupState.NORMAL);
    expect(badMessages(s.h)).toBe(bad + 1);
    expect(s.h.trace.some((l) => l.startsWith(`group ${B}: journal reads failing (bad journal read response:`))).toBe(true);
    expectDelay(r!.delay, 20);
    expect(r!.cmd.retry).toBe(1);
    // The primary resends the batch intact: stored, and reads go on without the retry flag.
    respond(s, r!.cmd, { journals: [jn(1), jn(2, { blocks: 2 })] });
    const after = nextCommand(s, 100);
    expect(s.h.mem.groups.f64(B, 'received_number')).toBe(2);
    expect(after!.cmd.retry).toBe(0);
    expect(s.h.trace).toContain(`group ${B}: journal reads answered again after 1 failures`);
  });

  it('a response to an earlier command (stale request id) is counted and ignored; the command still waits', () => {
    const s = secondary();
    const c = command(s);
    const bad = badMessages(s.h);
    sendFrame(s.peer, Frame.JNLRD_RESPONSE, encodeResponse({ requestId: c.requestId + 5, journals: [jn(1)] }));
    for (let i = 0; i < 5; i++) stepAll(s.h);
    expect(badMessages(s.h)).toBe(bad + 1);
    expect(s.h.mem.groups.f64(B, 'received_number')).toBe(0);
    respond(s, c, { journals: [jn(1)] });
    stepAll(s.h);
    expect(s.h.mem.groups.f64(B, 'received_number')).toBe(1);
  });

  it('a response longer than the max_bytes it asked for is refused: nothing stored, its batch buffer not overrun, a retry follows', () => {
    // The secondary asks for at most 64 KiB (its batch staging buffer); 17 journals of 4 KiB are
    // 70 720 bytes. Copied as they are, the bytes past 64 KiB would land in the group's restore buffer.
    const s = secondary({ batchJournalsMax: 64, readIntervalMs: 10 });
    const c = command(s);
    expect(c.maxBytes).toBe(BATCH_BYTES);
    const restoreBuffer = s.h.mem.restoreStagingOffset(B);
    const bad = badMessages(s.h);
    const journals = Array.from({ length: 17 }, (_, i) => jn(i + 1, { blocks: 8 }));
    const payload = encodeResponse({ requestId: c.requestId, journals });
    expect(payload.byteLength).toBe(RESPONSE_HEADER_BYTES + 17 * (WIRE_UPDATE_INFO_BYTES + 4096));
    sendFrame(s.peer, Frame.JNLRD_RESPONSE, payload);
    const r = nextCommand(s, 100);
    expect(s.h.mem.groups.f64(B, 'received_number')).toBe(0);
    expect(ring(s.h)).toEqual({ ui_newest: 0, ui_oldest: 0, wd_newest: UI_AREA, wd_oldest: UI_AREA });
    expect(s.h.mem.stagingBytes.subarray(restoreBuffer, restoreBuffer + 8192).every((b) => b === 0)).toBe(true);
    expect(badMessages(s.h)).toBe(bad + 1);
    expect(s.h.trace).toContain(`group ${B}: journal reads failing (bad journal read response: response of ${payload.byteLength} bytes exceeds the ${BATCH_BYTES} bytes asked for)`);
    expect(r!.cmd.retry).toBe(1);
    // A response within max_bytes is stored.
    const fits = Array.from({ length: 15 }, (_, i) => jn(i + 1, { blocks: 8 }));
    const exact = encodeResponse({ requestId: r!.cmd.requestId, journals: fits });
    expect(exact.byteLength).toBeLessThanOrEqual(BATCH_BYTES);
    sendFrame(s.peer, Frame.JNLRD_RESPONSE, exact);
    for (let i = 0; i < 4; i++) stepAll(s.h);
    expect(s.h.mem.groups.f64(B, 'received_number')).toBe(15);
  });

  it('an oversized response to the last group (whose batch buffer ends the staging region) does not throw out of the channel adapter', () => {
    const h = freshSystem({
      links: [{ number: 1, peerSystem: 2, adapter: 0 }], journalBatchBytes: BATCH_BYTES, maxTransferBytes: 4096,
      volumes: [
        { number: 1, format: 'OPEN3', capacityBlocks: 256, drive: 0, startBlock: 0 },
        { number: 3, format: 'OPEN3', capacityBlocks: 512, drive: 1, startBlock: 0 },
      ],
    });
    const last = h.config.groupsMax;
    expect(h.copy.createGroup(last, { role: 'secondary', partnerSystem: 2, partnerGroup: A, link: 1, batchJournalsMax: 100 }).status).toBe('ok');
    expect(h.copy.registerPair(last, { primarySystem: 2, primaryVolume: 11, secondaryVolume: 1 }).status).toBe('ok');
    expect(h.copy.registerJournalVolume(last, 3).status).toBe('ok');
    expect(h.copy.startCopy(last).status).toBe('ok');
    const peer = h.peers.get(1)!;
    stepAll(h);
    const c = decodeJnlrd(takeFrame(peer)!.payload);
    sendFrame(peer, Frame.JNLRD_RESPONSE, encodeResponse({ requestId: c.requestId, journals: Array.from({ length: 40 }, (_, i) => jn(i + 1, { blocks: 8 })) }));
    expect(() => stepAll(h)).not.toThrow();
    expect(h.mem.groups.f64(last, 'received_number')).toBe(0);
    expect(h.mem.groups.state(last)).toBe(GroupState.NORMAL);
  });
});

describe('journal read 240: no response (timeout) and back-off', () => {
  it('an unanswered command times out after RESPONSE_TIMEOUT_MS; the next carries retry 1, and the back-off doubles up to its maximum', () => {
    const s = secondary({ readIntervalMs: 10 });
    const first = command(s);
    expect(first.retry).toBe(0);
    const delays: number[] = [];
    const retries: number[] = [];
    for (let k = 0; k < 8; k++) {
      const r = nextCommand(s, RESPONSE_TIMEOUT_MS + BACKOFF_MAX_MS + 10, 1);
      expect(r).not.toBeNull();
      delays.push(r!.delay);
      retries.push(r!.cmd.retry);
    }
    // timeout + back-off of 10 ms x 2^failures, capped at BACKOFF_MAX_MS.
    const expected = [20, 40, 80, 160, 320, 640, 1000, 1000].map((b) => RESPONSE_TIMEOUT_MS + b);
    delays.forEach((d, i) => expectDelay(d, expected[i]!, 1));
    expect(retries).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect(s.h.trace.filter((l) => l.includes('journal reads failing (no response to journal read command)'))).toHaveLength(1);
    expect(s.h.mem.groups.f64(B, 'failing_since_ms')).toBeGreaterThan(0);
  });

  it('after a timeout, the late response is ignored and the retry\'s answer is stored once', () => {
    const s = secondary({ readIntervalMs: 10 });
    const c1 = command(s);
    const c2 = command(s, RESPONSE_TIMEOUT_MS + 100, 1);
    expect(c2.retry).toBe(1);
    const bad = badMessages(s.h);
    respond(s, c1, { journals: [jn(1), jn(2)] }); // too late
    respond(s, c2, { journals: [jn(1), jn(2)] });
    for (let i = 0; i < 4; i++) stepAll(s.h);
    expect(badMessages(s.h)).toBe(bad + 1);
    expect(s.h.mem.groups.f64(B, 'received_number')).toBe(2);
    expect(ring(s.h)).toMatchObject({ ui_newest: 1024 });
    expect(s.h.mem.groups.f64(B, 'failing_since_ms')).toBe(0);
    expect(command(s).retry).toBe(0);
  });

  it('a retry answered only with journals stored already: they are skipped and the next read follows after the interval (no stall)', () => {
    const s = secondary({ readIntervalMs: 10 });
    deliver(s, [jn(1), jn(2)]);
    const lost = command(s); // its response (journals 1..2 again, say) is lost
    const retry = command(s, RESPONSE_TIMEOUT_MS + 100, 1);
    expect(retry.retry).toBe(1);
    respond(s, retry, { journals: [jn(1), jn(2)] });
    for (let i = 0; i < 4; i++) stepAll(s.h);
    expect(s.h.mem.groups.f64(B, 'received_number')).toBe(2);
    expect(ring(s.h)).toMatchObject({ ui_newest: 1024 });
    const r = nextCommand(s, 50, 0.5);
    expect(r).not.toBeNull();
    expectDelay(r!.delay, 10, 0.5);
    expect(r!.cmd.retry).toBe(0);
    void lost;
  });

  it('with the link down the reads fail and retry with back-off; once it is back, reading resumes with the retry flag', () => {
    const s = secondary({ readIntervalMs: 10 });
    respond(s, command(s), { kind: ResponseKind.NO_JOURNAL });
    stepAll(s.h); // answered before the cut
    s.peer.cut();
    expect(nextCommand(s, 300, 1)).toBeNull();
    expect(s.h.trace).toContain(`group ${B}: journal reads failing (link is down)`);
    s.peer.restore();
    const c = command(s, BACKOFF_MAX_MS + 50, 1);
    expect(c.retry).toBe(1);
  });
});

describe('journal store: S1755 — the journal volume is full', () => {
  // Journal volume of 64 blocks: 8 update-information slots (7 usable), 28 KiB of write data.
  const tiny = { journalBlocks: 64, readIntervalMs: 10 };
  const eight = (): WireJournal[] => Array.from({ length: 8 }, (_, i) => jn(i + 1));

  it('DISCARD_RETRY: the rest of the batch is discarded; after the interval a retry command; stored once restore frees space', () => {
    const s = secondary({ ...tiny, storePolicy: 'DISCARD_RETRY' });
    expect(s.h.copy.pauseRestore(B, true).status).toBe('ok');
    const c = command(s);
    respond(s, c, { journals: eight() });
    const r = nextCommand(s, 100);
    expect(s.h.mem.groups.f64(B, 'received_number')).toBe(7);
    expect(ring(s.h)).toEqual({ ui_newest: 7 * 512, ui_oldest: 0, wd_newest: 4096 + 7 * 512, wd_oldest: 4096 });
    expectDelay(r!.delay, 10);
    expect(r!.cmd.retry).toBe(1);
    expect(s.h.mem.groups.state(B)).toBe(GroupState.NORMAL);

    // Still full: the resent batch's first seven are duplicates, the eighth fails again.
    respond(s, r!.cmd, { journals: eight() });
    const again = nextCommand(s, 100);
    expect(again!.cmd.retry).toBe(1);
    expect(s.h.mem.groups.f64(B, 'received_number')).toBe(7);

    // Restore frees a slot; the next resend stores journal 8 in the last slot (ui newest wraps to 0).
    expect(s.h.copy.pauseRestore(B, false).status).toBe('ok');
    for (let i = 0; i < 40 && s.h.mem.groups.restoredNumber(B) < 1; i++) { s.h.clock.advance(1); stepAll(s.h); }
    expect(s.h.mem.groups.restoredNumber(B)).toBeGreaterThanOrEqual(1);
    respond(s, again!.cmd, { journals: eight() });
    const next = nextCommand(s, 100);
    expect(s.h.mem.groups.f64(B, 'received_number')).toBe(8);
    expect(s.h.mem.pointers.get(SET, 'ui_newest')).toBe(0);
    expect(next!.cmd.retry).toBe(0);
  });

  it('HOLD: nothing is re-requested; the held batch is stored as soon as restore frees space', () => {
    const s = secondary({ ...tiny, storePolicy: 'HOLD' });
    expect(s.h.copy.pauseRestore(B, true).status).toBe('ok');
    respond(s, command(s), { journals: eight() });
    expect(nextCommand(s, 500, 1)).toBeNull(); // held: no command while the batch waits
    expect(s.h.mem.groups.f64(B, 'received_number')).toBe(7);
    expect(s.h.mem.groups.state(B)).toBe(GroupState.NORMAL);

    expect(s.h.copy.pauseRestore(B, false).status).toBe('ok');
    const r = nextCommand(s, 500, 0.5);
    expect(r).not.toBeNull();
    expect(s.h.mem.groups.f64(B, 'received_number')).toBe(8);
    expect(r!.cmd.retry).toBe(0);
    // Journal 8 went to the last slot, and the update-information ring wrapped behind it.
    const stored = storedInfo(s.h, 7 * 512);
    expect(stored.problem).toBeNull();
    expect(stored.info.updateNumber).toBe(8);
    expect(s.h.mem.pointers.get(SET, 'ui_newest')).toBe(0);
  });
});

describe('journal read 240: S1760 — interval policies', () => {
  it('FIXED waits read_interval_ms after a batch and after NO_JOURNAL', () => {
    const s = secondary({ readPolicy: 'FIXED', readIntervalMs: 7, batchJournalsMax: 2 });
    respond(s, command(s), { journals: [jn(1), jn(2)] });
    const a = nextCommand(s, 50)!;
    expectDelay(a.delay, 7);
    respond(s, a.cmd, { kind: ResponseKind.NO_JOURNAL });
    expectDelay(nextCommand(s, 50)!.delay, 7);
  });

  it('RECEIVED: at once after a full batch, half the interval after a half batch, the full interval after an empty one', () => {
    const s = secondary({ readPolicy: 'RECEIVED', readIntervalMs: 8, batchJournalsMax: 4 });
    respond(s, command(s), { journals: [jn(1), jn(2), jn(3), jn(4)] });
    const full = nextCommand(s, 50)!;
    expect(full.delay).toBe(0);
    respond(s, full.cmd, { journals: [jn(5), jn(6)] });
    const half = nextCommand(s, 50)!;
    expectDelay(half.delay, 4);
    respond(s, half.cmd, { kind: ResponseKind.NO_JOURNAL });
    expectDelay(nextCommand(s, 50)!.delay, 8);
  });

  it('IMMEDIATE: at once after journals, the interval after NO_JOURNAL', () => {
    const s = secondary({ readPolicy: 'IMMEDIATE', readIntervalMs: 6 });
    respond(s, command(s), { journals: [jn(1)] });
    const a = nextCommand(s, 50)!;
    expect(a.delay).toBe(0);
    respond(s, a.cmd, { kind: ResponseKind.NO_JOURNAL });
    expectDelay(nextCommand(s, 50)!.delay, 6);
  });

  it('PRIMARY_USAGE: the fuller the primary\'s journal (piggy-backed in the response), the shorter the interval', () => {
    const s = secondary({ readPolicy: 'PRIMARY_USAGE', readIntervalMs: 20 });
    const delays: number[] = [];
    let c = command(s);
    for (const usage of [0, 0.25, 0.75, 1]) {
      respond(s, c, { kind: ResponseKind.NO_JOURNAL, primaryUsage: usage });
      const r = nextCommand(s, 50)!;
      delays.push(r.delay);
      expect(s.h.mem.groups.f64(B, 'primary_usage')).toBe(usage);
      c = r.cmd;
    }
    expectDelay(delays[0]!, 20);
    expectDelay(delays[1]!, 15);
    expectDelay(delays[2]!, 5);
    expect(delays[3]).toBe(0);
  });

  it('OWN_USAGE: the fuller the secondary\'s own journal, the longer the interval', () => {
    const s = secondary({ readPolicy: 'OWN_USAGE', readIntervalMs: 10, batchJournalsMax: 8 });
    expect(s.h.copy.pauseRestore(B, true).status).toBe('ok'); // keep what is stored
    respond(s, command(s), { kind: ResponseKind.NO_JOURNAL });
    const empty = nextCommand(s, 100)!;
    expectDelay(empty.delay, 10);
    // 8 journals of 8 blocks: update information 8/32 used, write data 32 KiB of 112 KiB.
    respond(s, empty.cmd, { journals: Array.from({ length: 8 }, (_, i) => jn(i + 1, { blocks: 8 })) });
    const full = nextCommand(s, 100)!;
    const p = ring(s.h);
    const usage = journalUsage(p.ui_newest!, p.ui_oldest!, p.wd_newest!, p.wd_oldest!, { uiHead: 0, wdHead: UI_AREA, capacity: CAPACITY });
    expect(usage).toBe(32768 / (CAPACITY - UI_AREA)); // the fuller area: write data
    expectDelay(full.delay, 10 * (1 + 4 * usage));
    expect(full.delay).toBeGreaterThan(empty.delay);
  });
});
