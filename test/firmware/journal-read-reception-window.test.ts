// Journal read reception with several commands of one reader in flight (seed 000 [0134]; the
// choices in docs/decisions.md "Several journal reads in flight"). The system under test is a
// PRIMARY with two links to system 2 (link 1 on channel adapter 0, link 2 on channel adapter 1);
// the test plays the secondary on both, byte for byte.
//
// What is held here: commands that ask for "the next journals" on two links never get the same
// journal twice and never skip one; a command naming from_number resends from there what was
// sent and is still held, moving no pointer; an UP_TO release frees by number; journals already
// released are refused with RELEASED; malformed numbered commands are refused and change nothing.

import { describe, expect, it } from 'vitest';
import { BLOCK_BYTES } from '../../firmware/config.ts';
import { RefusalReason, ReleaseMode, ResponseKind } from '../../firmware/link-protocol.ts';
import { PairState } from '../../firmware/structs/pair-info.ts';
import type { PointerField } from '../../firmware/structs/pointer-info.ts';
import { ScsiStatus } from '../../hal/host-port.ts';
import type { LinkEndpoint } from '../../hal/link.ts';
import { decodeResponse, encodeJnlrd, Frame, sendFrame, takeFrame, type DecodedResponse, type JnlrdFields } from '../support/frames.ts';
import { freshSystem, pattern, type Harness } from '../support/harness.ts';

const GROUP = 1;
const SET = 4; // reader 2's pointer set (group 1 x readersMax 4)
const MAX_BLOCKS = 32;

function primary(): Harness {
  const h = freshSystem({
    links: [{ number: 1, peerSystem: 2, adapter: 0 }, { number: 2, peerSystem: 2, adapter: 1 }],
    journalBatchBytes: 64 * 1024,
  });
  expect(h.copy.createGroup(GROUP, { role: 'primary', linkTimeoutMs: 0 }).status).toBe('ok');
  expect(h.copy.registerPair(GROUP, { primaryVolume: 1, secondarySystem: 2, secondaryVolume: 1 }).status).toBe('ok');
  expect(h.copy.registerJournalVolume(GROUP, 3).status).toBe('ok');
  h.mem.pairs.setState(h.mem.groups.pairAt(GROUP, 0), PairState.NORMAL);
  expect(h.copy.startCopy(GROUP, { readers: [2] }).status).toBe('ok');
  return h;
}

/** Host writes of one block each: journals first..first+n-1. */
function writes(h: Harness, n: number, seed = 0): void {
  for (let i = 0; i < n; i++) expect(h.write(0, 1, (seed + i) * 8, pattern(BLOCK_BYTES, seed + i)).status).toBe(ScsiStatus.GOOD);
}

let nextId = 1000;
function send(h: Harness, link: number, f: Partial<JnlrdFields> = {}): number {
  const requestId = f.requestId ?? nextId++;
  sendFrame(h.peers.get(link)!, Frame.JNLRD, encodeJnlrd({ group: GROUP, requester: 2, releaseMode: ReleaseMode.UP_TO, ...f, requestId }));
  return requestId;
}

/** Steps until each of `links` has answered once; the responses by link. */
function responses(h: Harness, links: number[]): Map<number, DecodedResponse> {
  const out = new Map<number, DecodedResponse>();
  for (let i = 0; i < 400 && out.size < links.length; i++) {
    h.round();
    for (const link of links) {
      const frame = takeFrame(h.peers.get(link) as LinkEndpoint);
      if (!frame) continue;
      expect(frame.type).toBe(Frame.JNLRD_RESPONSE);
      expect(out.has(link)).toBe(false);
      out.set(link, decodeResponse(frame.payload, MAX_BLOCKS));
    }
  }
  expect([...out.keys()].sort()).toEqual([...links].sort());
  return out;
}

function command(h: Harness, link: number, f: Partial<JnlrdFields> = {}): DecodedResponse {
  const id = send(h, link, f);
  const r = responses(h, [link]).get(link)!;
  expect(r.requestId).toBe(id);
  return r;
}

const numbers = (r: DecodedResponse): number[] => r.journals.map((j) => j.info.updateNumber);

const FIELDS: PointerField[] = ['ui_newest', 'ui_oldest', 'wd_newest', 'wd_oldest', 'read_start', 'retry_start', 'read_number', 'oldest_number'];
function ring(h: Harness): Record<string, number> {
  return Object.fromEntries(FIELDS.map((f) => [f, h.mem.pointers.get(SET, f)]));
}

describe('journal read reception: next-journal commands on two links at once', () => {
  it('two commands sent together get disjoint, consecutive batches; together every journal once', () => {
    const h = primary();
    writes(h, 10);
    send(h, 1, { maxJournals: 4 });
    send(h, 2, { maxJournals: 4 });
    const r = responses(h, [1, 2]);
    const all = [...numbers(r.get(1)!), ...numbers(r.get(2)!)].sort((a, b) => a - b);
    expect(all).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // Each batch is a run of consecutive numbers.
    for (const link of [1, 2]) {
      const n = numbers(r.get(link)!);
      expect(n).toHaveLength(4);
      expect(n).toEqual([n[0]!, n[0]! + 1, n[0]! + 2, n[0]! + 3]);
      expect(r.get(link)!.journals.every((j) => j.checksumOk && j.problem === null)).toBe(true);
    }
    expect(h.mem.pointers.get(SET, 'read_number')).toBe(9);
    expect(h.mem.groups.f64(GROUP, 'journals_sent')).toBe(8);
    // The next command takes the rest; the claim was given back by both receptions.
    expect(numbers(command(h, 2, { maxJournals: 4 }))).toEqual([9, 10]);
    expect(h.mem.batches.getUint32(SET * 288 + 8, true)).toBe(0);
  });

  it('UP_TO releases by number: the oldest pointers move past exactly the journals stored on the secondary', () => {
    const h = primary();
    writes(h, 6);
    send(h, 1, { maxJournals: 2 });
    send(h, 2, { maxJournals: 2 });
    responses(h, [1, 2]);
    expect(h.mem.pointers.get(SET, 'oldest_number')).toBe(1);
    // The secondary has stored 1..2 only (the other batch is still on its way, say).
    command(h, 1, { maxJournals: 2, releaseNumber: 2 });
    expect(h.mem.pointers.get(SET, 'oldest_number')).toBe(3);
    expect(h.mem.pointers.get(SET, 'ui_oldest')).toBe(2 * 512);
    expect(h.mem.pointers.get(SET, 'wd_oldest')).toBe(h.mem.pointers.get(SET, 'wd_head') + 2 * BLOCK_BYTES);
  });
});

describe('journal read reception: from_number — resend what was sent and is still held', () => {
  it('resends from the named number up to what was sent, within max_journals, moving no pointer', () => {
    const h = primary();
    writes(h, 8);
    expect(numbers(command(h, 1, { maxJournals: 3 }))).toEqual([1, 2, 3]);
    expect(numbers(command(h, 2, { maxJournals: 3 }))).toEqual([4, 5, 6]);
    const before = ring(h);
    const sent = h.mem.groups.f64(GROUP, 'journals_sent');

    const again = command(h, 1, { fromNumber: 2, maxJournals: 8 });
    expect(again.kind).toBe(ResponseKind.JOURNALS);
    expect(numbers(again)).toEqual([2, 3, 4, 5, 6]); // not 7, 8: those were never sent
    expect(again.journals.every((j) => j.checksumOk && j.problem === null)).toBe(true);
    expect(ring(h)).toEqual(before);
    expect(h.mem.groups.f64(GROUP, 'journals_sent')).toBe(sent);

    expect(numbers(command(h, 2, { fromNumber: 4, maxJournals: 2 }))).toEqual([4, 5]);
    expect(ring(h)).toEqual(before);
  });

  it('a numbered command with UP_TO releases by number too; a number at or past read_number is a next-journal command', () => {
    const h = primary();
    writes(h, 6);
    expect(numbers(command(h, 1, { maxJournals: 2 }))).toEqual([1, 2]);
    expect(numbers(command(h, 1, { maxJournals: 2 }))).toEqual([3, 4]);
    expect(numbers(command(h, 1, { fromNumber: 3, releaseNumber: 2 }))).toEqual([3, 4]);
    expect(h.mem.pointers.get(SET, 'oldest_number')).toBe(3);
    expect(h.mem.pointers.get(SET, 'read_number')).toBe(5);
    // from 5 = read_number: the unsent journals, and the pointers advance.
    expect(numbers(command(h, 2, { fromNumber: 5 }))).toEqual([5, 6]);
    expect(h.mem.pointers.get(SET, 'read_number')).toBe(7);
  });

  it('journals already released are refused (RELEASED) and nothing changes', () => {
    const h = primary();
    writes(h, 4);
    expect(numbers(command(h, 1, { maxJournals: 2 }))).toEqual([1, 2]);
    expect(numbers(command(h, 1, { maxJournals: 2, releaseNumber: 2 }))).toEqual([3, 4]);
    const before = ring(h);
    const r = command(h, 2, { fromNumber: 1, releaseNumber: 0 });
    expect(r.kind).toBe(ResponseKind.REFUSED);
    expect(r.refusal).toBe(RefusalReason.RELEASED);
    expect(r.count).toBe(0);
    expect(ring(h)).toEqual(before);
  });

  it.each([
    ['retry flag with a from number', { retry: 1, fromNumber: 3 }],
    ['a negative from number', { fromNumber: -1 }],
    ['a fractional from number', { fromNumber: 2.5 }],
    ['a from number that is not a number', { fromNumber: Number.NaN }],
    ['a from number beyond 2^53', { fromNumber: 2 ** 60 }],
  ] as Array<[string, Partial<JnlrdFields>]>)('%s is refused as malformed; nothing changes', (_name, f) => {
    const h = primary();
    writes(h, 3);
    expect(numbers(command(h, 1, { maxJournals: 2 }))).toEqual([1, 2]);
    const before = ring(h);
    const r = command(h, 1, f);
    expect(r.kind).toBe(ResponseKind.REFUSED);
    expect(r.refusal).toBe(RefusalReason.MALFORMED);
    expect(ring(h)).toEqual(before);
    // And the reader goes on as if nothing happened.
    expect(numbers(command(h, 1))).toEqual([3]);
  });
});

describe('journal read reception: a command the link delivered twice', () => {
  it('the copy (same request id, base protocol) is answered as a retry: the same journals again, nothing released or advanced', () => {
    const h = primary();
    writes(h, 6);
    expect(numbers(command(h, 1, { maxJournals: 2, releaseMode: ReleaseMode.NEXT_COMMAND, requestId: 71 }))).toEqual([1, 2]);
    expect(numbers(command(h, 1, { maxJournals: 2, releaseMode: ReleaseMode.NEXT_COMMAND, requestId: 72 }))).toEqual([3, 4]);
    const before = ring(h);
    const again = command(h, 1, { maxJournals: 2, releaseMode: ReleaseMode.NEXT_COMMAND, requestId: 72 });
    expect(again.kind).toBe(ResponseKind.JOURNALS);
    expect(numbers(again)).toEqual([3, 4]);
    expect(ring(h)).toEqual(before);
    // The secondary's real next command goes on from 5 and releases 3..4 as usual.
    expect(numbers(command(h, 1, { maxJournals: 2, releaseMode: ReleaseMode.NEXT_COMMAND, requestId: 73 }))).toEqual([5, 6]);
    expect(h.mem.pointers.get(SET, 'oldest_number')).toBe(5);
  });
});
