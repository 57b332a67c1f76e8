// Journal read reception (primary side; seed 000 §5.6–§5.7, §6.4–§6.6, §12.5 items 23–30; seed 002
// §7.5, §15 items 20–24, 26, 34–35). The system under test is a PRIMARY; the test plays the
// SECONDARY over link 1, byte for byte: it sends JNLRD frames built from link-protocol.ts's
// layout and decodes every JNLRD_RESPONSE field by field.
//
// Journal volume 3 (128 KiB): update information [0, 16384) in 512-byte slots, write data
// [16384, 131072). The reader-2 pointer set is set 4 (group 1 x readersMax 4 + 0).

import { describe, expect, it } from 'vitest';
import { BLOCK_BYTES } from '../../firmware/config.ts';
import { RESPONSE_FLAG_COPY_COMPLETE, RESPONSE_HEADER_BYTES, RefusalReason, ResponseKind, WIRE_UPDATE_INFO_BYTES } from '../../firmware/link-protocol.ts';
import { GroupState, type GroupStateCode } from '../../firmware/structs/group-info.ts';
import { PairState } from '../../firmware/structs/pair-info.ts';
import { STAT_COUNTERS_PER_PROCESSOR, Stat } from '../../firmware/structs/statistics.ts';
import { TASK_WORDS, TaskState, TaskWait, TaskWord as T } from '../../firmware/structs/task.ts';
import { UPDATE_INFO_FLAG_INITIAL_COPY } from '../../firmware/structs/update-info.ts';
import type { PointerField } from '../../firmware/structs/pointer-info.ts';
import { VolumeState } from '../../firmware/structs/volume-info.ts';
import { crc32c } from '../../hal/crc32c.ts';
import type { LinkEndpoint } from '../../hal/link.ts';
import { ScsiStatus } from '../../hal/host-port.ts';
import { decodeResponse, encodeJnlrd, Frame, sendFrame, takeFrame, type DecodedResponse, type JnlrdFields } from '../support/frames.ts';
import { freshSystem, pattern, peekVolume, pokeVolume, type Harness } from '../support/harness.ts';
import { INCOMPLETE_MAX_MS } from '../../firmware/journal-read-reception.ts';

const GROUP = 1;
const JV = 3;
const SET = 4; // reader 2's pointer set
const UI_AREA = 16384; // write-data head of the 128 KiB journal volume
const MAX_BLOCKS = 32; // maxTransferBytes 16 KiB

const POINTER_FIELDS: PointerField[] = [
  'ui_head', 'wd_head', 'ui_newest', 'ui_oldest', 'wd_newest', 'wd_oldest', 'read_start', 'retry_start',
  'capacity_bytes', 'batch_wd_bytes', 'read_number', 'oldest_number', 'last_read_ms',
];

type Pointers = Record<PointerField | 'batch_count', number>;
function pointers(h: Harness, set = SET): Pointers {
  const out = {} as Pointers;
  for (const f of POINTER_FIELDS) out[f] = h.mem.pointers.get(set, f);
  out.batch_count = h.mem.pointers.batchCount(set);
  return out;
}
/** The ring pointers only (what a journal read may move): everything but the last-read time. */
function ring(h: Harness, set = SET): Omit<Pointers, 'last_read_ms'> {
  const { last_read_ms: _ignored, ...rest } = pointers(h, set);
  return rest;
}

function recordBytes(h: Harness, table: { byteOffset: number; at(i: number): number; layout: { size: number } }, index: number): Buffer {
  return Buffer.from(new Uint8Array(h.mem.controlBuffer, table.byteOffset + table.at(index), table.layout.size));
}

const badMessages = (h: Harness): number => {
  let sum = 0;
  for (let p = 0; p < h.mem.geometry.processors; p++) sum += h.mem.statistics[p * STAT_COUNTERS_PER_PROCESSOR + Stat.BAD_MESSAGES]!;
  return sum;
};

interface Primary {
  h: Harness;
  peer: LinkEndpoint;
}

/** A primary system: group 1 (volumes 1 and 2 -> system 2), journal volume 3, reader 2, copy started. */
function primary(o: { pairs?: 'normal' | 'not-copied'; readers?: number[]; initialCopyBytes?: number; only?: number[]; beforeStart?: (h: Harness) => void } = {}): Primary {
  const h = freshSystem({ links: [{ number: 1, peerSystem: 2, adapter: 0 }], journalBatchBytes: 64 * 1024 });
  expect(h.copy.createGroup(GROUP, { role: 'primary', linkTimeoutMs: 0, ...(o.initialCopyBytes ? { initialCopyBytes: o.initialCopyBytes } : {}) }).status).toBe('ok');
  for (const v of o.only ?? [1, 2]) expect(h.copy.registerPair(GROUP, { primaryVolume: v, secondarySystem: 2, secondaryVolume: v }).status).toBe('ok');
  expect(h.copy.registerJournalVolume(GROUP, JV).status).toBe('ok');
  if ((o.pairs ?? 'normal') === 'normal') {
    for (let i = 0; i < h.mem.groups.pairCount(GROUP); i++) h.mem.pairs.setState(h.mem.groups.pairAt(GROUP, i), PairState.NORMAL);
  }
  o.beforeStart?.(h);
  expect(h.copy.startCopy(GROUP, { readers: o.readers ?? [2] }).status).toBe('ok');
  return { h, peer: h.peers.get(1)! };
}

/** A host write to a primary volume (one journal when its pair is normal); returns the data. */
function hostWrite(h: Harness, volume: number, block: number, blocks: number, seed: number): Uint8Array {
  const data = pattern(blocks * BLOCK_BYTES, seed);
  expect(h.write(0, volume, block, data).status).toBe(ScsiStatus.GOOD);
  return data;
}

let nextId = 100;
/** Sends one JNLRD and steps every processor until the response arrives; exactly one frame comes back. */
function command(p: Primary, f: Partial<JnlrdFields> = {}, maxRounds = 200): DecodedResponse {
  const requestId = f.requestId ?? nextId++;
  sendFrame(p.peer, Frame.JNLRD, encodeJnlrd({ group: GROUP, requester: 2, ...f, requestId }));
  return awaitResponse(p, maxRounds);
}

function awaitResponse(p: Primary, maxRounds = 200): DecodedResponse {
  for (let i = 0; i < maxRounds; i++) {
    p.h.round();
    const frame = takeFrame(p.peer);
    if (frame) {
      expect(frame.type).toBe(Frame.JNLRD_RESPONSE);
      for (let k = 0; k < 5; k++) p.h.round();
      expect(takeFrame(p.peer)).toBeNull();
      return decodeResponse(frame.payload, MAX_BLOCKS);
    }
  }
  throw new Error(`no JNLRD_RESPONSE within ${maxRounds} rounds`);
}

/** Steps for a while and asserts that nothing arrives on the test's end of the link. */
function expectSilence(p: Primary, rounds = 30): void {
  for (let i = 0; i < rounds; i++) {
    p.h.round();
    expect(takeFrame(p.peer)).toBeNull();
  }
}

function expectJournals(r: DecodedResponse, numbers: number[]): void {
  expect(r.kind).toBe(ResponseKind.JOURNALS);
  expect(r.count).toBe(numbers.length);
  expect(r.journals.map((j) => j.info.updateNumber)).toEqual(numbers);
  for (const j of r.journals) {
    expect(j.problem).toBeNull();
    expect(j.checksumOk).toBe(true);
  }
  expect(r.trailing).toBe(0);
  expect(r.length).toBe(RESPONSE_HEADER_BYTES + r.journals.reduce((n, j) => n + WIRE_UPDATE_INFO_BYTES + j.info.dataBlocks * BLOCK_BYTES, 0));
}

function expectHeaderOnly(r: DecodedResponse, kind: number): void {
  expect(r.kind).toBe(kind);
  expect(r.count).toBe(0);
  expect(r.length).toBe(RESPONSE_HEADER_BYTES);
  expect(r.journals).toEqual([]);
}

describe('journal read reception: S1510/S1515 — a group that is not normal answers with its state', () => {
  it.each([
    ['failure', GroupState.FAILURE],
    ['abnormal', GroupState.ABNORMAL],
    ['unused', GroupState.UNUSED],
  ] as Array<[string, GroupStateCode]>)('group %s: GROUP_STATE response with that state, nothing sent or released', (_name, state) => {
    const p = primary();
    hostWrite(p.h, 1, 0, 1, 1);
    hostWrite(p.h, 1, 8, 2, 2);
    expectJournals(command(p), [1, 2]); // batch 1 outstanding: a wrong release would free it
    hostWrite(p.h, 1, 16, 1, 3); // journal 3 unsent
    const before = ring(p.h);
    p.h.mem.groups.setState(GROUP, state);

    const r = command(p, { requestId: 4242 });
    expectHeaderOnly(r, ResponseKind.GROUP_STATE);
    expect(r.requestId).toBe(4242);
    expect(r.groupState).toBe(state);
    expect(r.refusal).toBe(RefusalReason.NONE);
    expect(ring(p.h)).toEqual(before);
    expect(p.h.mem.groups.state(GROUP)).toBe(state);
    // A retry is answered the same way: nothing is resent while the group is not normal.
    const retry = command(p, { retry: 1 });
    expectHeaderOnly(retry, ResponseKind.GROUP_STATE);
    expect(retry.groupState).toBe(state);
    expect(ring(p.h)).toEqual(before);
  });
});

describe('journal read reception: S1520/S1525 — journal volume not normal', () => {
  it('makes the group FAILURE and returns that state; no pointer moves', () => {
    const p = primary();
    hostWrite(p.h, 1, 0, 1, 1);
    expectJournals(command(p), [1]);
    hostWrite(p.h, 1, 4, 1, 2);
    const before = ring(p.h);
    p.h.mem.volumes.setState(JV, VolumeState.ABNORMAL);

    const r = command(p);
    expectHeaderOnly(r, ResponseKind.GROUP_STATE);
    expect(r.groupState).toBe(GroupState.FAILURE);
    expect(p.h.mem.groups.state(GROUP)).toBe(GroupState.FAILURE);
    expect(p.h.trace.some((l) => l.includes(`group ${GROUP}: normal -> failure`) && l.includes('S1525'))).toBe(true);
    expect(ring(p.h)).toEqual(before);

    // From now on S1510 answers: the group is failure (and stays so if the volume comes back).
    p.h.mem.volumes.setState(JV, VolumeState.NORMAL);
    const again = command(p);
    expectHeaderOnly(again, ResponseKind.GROUP_STATE);
    expect(again.groupState).toBe(GroupState.FAILURE);
    expect(ring(p.h)).toEqual(before);
  });
});

describe('journal read reception: S1550/S1560 — no journal', () => {
  it('an empty journal answers NO_JOURNAL with the header fields and moves nothing', () => {
    const p = primary();
    const before = ring(p.h);
    const r = command(p, { requestId: 77 });
    expectHeaderOnly(r, ResponseKind.NO_JOURNAL);
    expect(r.requestId).toBe(77);
    expect(r.groupState).toBe(GroupState.NORMAL);
    expect(r.flags).toBe(RESPONSE_FLAG_COPY_COMPLETE); // both pairs normal (S940)
    expect(r.reservedByte).toBe(0);
    expect(r.refusal).toBe(RefusalReason.NONE);
    expect(r.primaryUsage).toBe(0);
    expect(r.nextNumber).toBe(1);
    expect(ring(p.h)).toEqual(before);
    expect(before).toMatchObject({ ui_newest: 0, ui_oldest: 0, read_start: 0, retry_start: 0, wd_newest: UI_AREA, wd_oldest: UI_AREA, read_number: 1, oldest_number: 1, batch_count: 0 });
  });

  it('the copy-complete flag is clear while a pair of the group is not normal', () => {
    const p = primary();
    p.h.mem.pairs.setState(2, PairState.ABNORMAL);
    const r = command(p);
    expect(r.kind).toBe(ResponseKind.NO_JOURNAL);
    expect(r.flags & RESPONSE_FLAG_COPY_COMPLETE).toBe(0);
  });
});

describe('journal read reception: S1570–S1590 — the normal path', () => {
  it('sends journals in ascending update-number order, each update information valid and its data checksum matching', () => {
    const p = primary();
    const writes = [
      { volume: 1, block: 0, blocks: 1 },
      { volume: 2, block: 10, blocks: 3 },
      { volume: 1, block: 200, blocks: 32 },
      { volume: 1, block: 0, blocks: 2 }, // same place again: its own snapshot
    ];
    const data = writes.map((w, i) => hostWrite(p.h, w.volume, w.block, w.blocks, 10 + i));
    const r = command(p);
    expectJournals(r, [1, 2, 3, 4]);
    let wd = UI_AREA;
    r.journals.forEach((j, i) => {
      const w = writes[i]!;
      expect(j.info).toMatchObject({
        flags: 0, updateNumber: i + 1, groupNumber: GROUP, targetVolume: w.volume, targetBlock: w.block, dataBlocks: w.blocks,
        dataVolume: JV, dataPosition: wd, dataChecksum: crc32c(data[i]!, 0, data[i]!.byteLength),
      });
      expect(Buffer.from(j.data).equals(Buffer.from(data[i]!))).toBe(true);
      // The update information on the wire is the one on the journal volume, byte for byte.
      expect(Buffer.from(j.raw).equals(Buffer.from(peekVolume(p.h, JV, i * BLOCK_BYTES, BLOCK_BYTES).subarray(0, 64)))).toBe(true);
      wd += w.blocks * BLOCK_BYTES;
    });
    expect(r.nextNumber).toBe(5);
    expect(r.groupState).toBe(GroupState.NORMAL);
  });

  it('S1580/S1590 over three commands: exact pointers, the previous batch released, the last kept for a retry', () => {
    const p = primary();
    // Journals 1..3: 1, 2 and 3 blocks.
    hostWrite(p.h, 1, 0, 1, 1);
    hostWrite(p.h, 1, 10, 2, 2);
    hostWrite(p.h, 2, 20, 3, 3);
    expect(ring(p.h)).toMatchObject({ ui_newest: 1536, ui_oldest: 0, wd_newest: UI_AREA + 3072, wd_oldest: UI_AREA, read_start: 0, retry_start: 0 });

    const r1 = command(p);
    expectJournals(r1, [1, 2, 3]);
    expect(ring(p.h)).toEqual({
      ui_head: 0, wd_head: UI_AREA, capacity_bytes: 131072,
      ui_newest: 1536, wd_newest: UI_AREA + 3072,
      retry_start: 0, read_start: 1536, read_number: 4, // S1580
      ui_oldest: 0, wd_oldest: UI_AREA, oldest_number: 1, // S1590: no previous batch yet — nothing freed, batch 1 kept
      batch_wd_bytes: 3072, batch_count: 3,
    });
    expect(r1.primaryUsage).toBe(Math.max(1536 / UI_AREA, 3072 / (131072 - UI_AREA))); // the fuller area: update information

    // Journals 4 (4 blocks) and 5 (1 block).
    hostWrite(p.h, 1, 40, 4, 4);
    hostWrite(p.h, 2, 50, 1, 5);
    const r2 = command(p);
    expectJournals(r2, [4, 5]);
    expect(ring(p.h)).toEqual({
      ui_head: 0, wd_head: UI_AREA, capacity_bytes: 131072,
      ui_newest: 2560, wd_newest: UI_AREA + 3072 + 2560,
      retry_start: 1536, read_start: 2560, read_number: 6,
      ui_oldest: 1536, wd_oldest: UI_AREA + 3072, oldest_number: 4, // batch 1 (journals 1..3) freed now
      batch_wd_bytes: 2560, batch_count: 2,
    });

    // Nothing new: NO_JOURNAL, and (seed 000 §6.4's consistent rule) batch 2 is released too.
    const r3 = command(p);
    expectHeaderOnly(r3, ResponseKind.NO_JOURNAL);
    expect(ring(p.h)).toEqual({
      ui_head: 0, wd_head: UI_AREA, capacity_bytes: 131072,
      ui_newest: 2560, wd_newest: UI_AREA + 5632,
      retry_start: 2560, read_start: 2560, read_number: 6,
      ui_oldest: 2560, wd_oldest: UI_AREA + 5632, oldest_number: 6,
      batch_wd_bytes: 0, batch_count: 0,
    });
    expect(r3.primaryUsage).toBe(1024 / UI_AREA); // measured as the response is built, before this command's release
    const status = p.h.copy.groupStatus(GROUP).data!;
    expect(status.journalsSent).toBe(5);
    expect(status.readers).toEqual([expect.objectContaining({ system: 2, readNumber: 6, oldestNumber: 6 })]);
  });

  it('retry (flag 1) resends exactly the previous batch, byte-identical, and changes no pointer', () => {
    const p = primary();
    const d1 = hostWrite(p.h, 1, 0, 2, 1);
    hostWrite(p.h, 2, 7, 1, 2);
    const first = command(p, { requestId: 1 });
    expectJournals(first, [1, 2]);
    // A newer journal (4 blocks at the same place as journal 1) is waiting; the primary volume changed.
    hostWrite(p.h, 1, 0, 4, 3);
    const after = ring(p.h);

    for (const id of [2, 3]) {
      const again = command(p, { requestId: id, retry: 1 });
      expectJournals(again, [1, 2]);
      expect(again.requestId).toBe(id);
      expect(Buffer.from(again.body).equals(Buffer.from(first.body))).toBe(true);
      expect(Buffer.from(again.journals[0]!.data).equals(Buffer.from(d1))).toBe(true); // the snapshot, not the volume
      expect(ring(p.h)).toEqual(after);
    }
    // The next non-retry command acknowledges batch 1 and sends journal 3.
    expectJournals(command(p), [3]);
    expect(ring(p.h)).toMatchObject({ ui_oldest: 1024, wd_oldest: UI_AREA + 1536, oldest_number: 3, retry_start: 1024, read_start: 1536, read_number: 4 });
  });

  it('retry with nothing outstanding answers NO_JOURNAL: on a fresh reader and after a NO_JOURNAL command', () => {
    const p = primary();
    const fresh = ring(p.h);
    expectHeaderOnly(command(p, { retry: 1 }), ResponseKind.NO_JOURNAL);
    expect(ring(p.h)).toEqual(fresh);

    hostWrite(p.h, 1, 0, 1, 1);
    expectJournals(command(p), [1]);
    expectHeaderOnly(command(p), ResponseKind.NO_JOURNAL); // acknowledges and releases journal 1
    const released = ring(p.h);
    expect(released).toMatchObject({ retry_start: 512, read_start: 512, ui_oldest: 512, wd_oldest: UI_AREA + 512, batch_count: 0 });
    expectHeaderOnly(command(p, { retry: 1 }), ResponseKind.NO_JOURNAL);
    expect(ring(p.h)).toEqual(released);
  });

  it('batches by max_journals', () => {
    const p = primary();
    for (let i = 0; i < 5; i++) hostWrite(p.h, 1, i * 4, 1, i);
    expectJournals(command(p, { maxJournals: 2 }), [1, 2]);
    expect(ring(p.h)).toMatchObject({ read_start: 1024, retry_start: 0, batch_count: 2 });
    expectJournals(command(p, { maxJournals: 2 }), [3, 4]);
    expect(ring(p.h)).toMatchObject({ read_start: 2048, retry_start: 1024, ui_oldest: 1024, batch_count: 2 });
    expectJournals(command(p, { maxJournals: 2 }), [5]);
    expect(ring(p.h)).toMatchObject({ read_start: 2560, retry_start: 2048, ui_oldest: 2048, batch_count: 1 });
    expectHeaderOnly(command(p, { maxJournals: 2 }), ResponseKind.NO_JOURNAL);
  });

  it('batches by max_bytes (payload bytes, header included), and never beyond its own journalBatchBytes', () => {
    const p = primary();
    for (let i = 0; i < 4; i++) hostWrite(p.h, 1, i * 4, 4, i); // 2048 bytes each: 2112 on the wire
    const two = RESPONSE_HEADER_BYTES + 2 * (WIRE_UPDATE_INFO_BYTES + 2048);
    expectJournals(command(p, { maxBytes: two - 1 }), [1]);
    const r = command(p, { maxBytes: two });
    expectJournals(r, [2, 3]);
    expect(r.length).toBe(two);
    expectJournals(command(p, { maxBytes: 0 }), [4]); // 0 = as many as fit

    // 16 KiB journals: 3 fit in the primary's 64 KiB batch however much the secondary asks for.
    for (let i = 0; i < 5; i++) hostWrite(p.h, 1, 32 * i, 32, 20 + i);
    const big = command(p, { maxBytes: 0xffffffff });
    expectJournals(big, [5, 6, 7]);
    expect(big.length).toBe(RESPONSE_HEADER_BYTES + 3 * (WIRE_UPDATE_INFO_BYTES + 16384));
    expectJournals(command(p, { maxBytes: 0 }), [8, 9]);
  });

  it('an initial-copy journal sends the primary volume\'s contents at send time, checksummed on send; it frees no write data', () => {
    // Volume 2 (100 blocks) holds A before the copy starts: no journal for a pair not yet copied.
    const a = new Uint8Array(100 * BLOCK_BYTES);
    const p = primary({
      pairs: 'not-copied', only: [2], initialCopyBytes: 16384,
      beforeStart: (h) => { for (let b = 0; b < 100; b += 25) a.set(hostWrite(h, 2, b, 25, 100 + b), b * BLOCK_BYTES); },
    });
    expect(p.h.mem.groups.updateNumber(GROUP)).toBe(1);
    for (let i = 0; i < 400 && p.h.mem.pairs.state(1) !== PairState.NORMAL; i++) p.h.round();
    expect(p.h.mem.pairs.state(1)).toBe(PairState.NORMAL);
    expect(p.h.mem.groups.updateNumber(GROUP)).toBe(5); // 32 + 32 + 32 + 4 blocks
    expect(ring(p.h)).toMatchObject({ ui_newest: 2048, wd_newest: UI_AREA }); // no write-data space used
    // After journal 1 was created, blocks 1..2 change (journal 5); journal 1 must carry that.
    const b = hostWrite(p.h, 2, 1, 2, 7);
    const current = a.slice(0, 32 * BLOCK_BYTES);
    current.set(b, BLOCK_BYTES);

    const r = command(p, { maxJournals: 1 });
    expectJournals(r, [1]);
    const j = r.journals[0]!;
    expect(j.info).toMatchObject({
      flags: UPDATE_INFO_FLAG_INITIAL_COPY, targetVolume: 2, targetBlock: 0, dataBlocks: 32, dataVolume: 2, dataPosition: 0,
      dataChecksum: crc32c(current, 0, current.byteLength),
    });
    expect(Buffer.from(j.data).equals(Buffer.from(current))).toBe(true);
    // On the journal volume its checksum is still 0: only the wire copy is sealed with it.
    expect(new DataView(peekVolume(p.h, JV, 0, 512).buffer).getUint32(44, true)).toBe(0);
    expect(ring(p.h)).toMatchObject({ batch_wd_bytes: 0, batch_count: 1 });

    const rest = command(p);
    expectJournals(rest, [2, 3, 4, 5]);
    expect(rest.journals.map((x) => x.info.flags)).toEqual([1, 1, 1, 0]);
    expect(Buffer.from(rest.journals[2]!.data).equals(Buffer.from(a.subarray(96 * BLOCK_BYTES)))).toBe(true);
    expect(ring(p.h)).toMatchObject({ ui_oldest: 512, wd_oldest: UI_AREA, batch_wd_bytes: 1024 }); // journal 1 freed no write data
    expectHeaderOnly(command(p), ResponseKind.NO_JOURNAL);
    expect(ring(p.h)).toMatchObject({ ui_oldest: 2560, wd_oldest: UI_AREA + 1024, wd_newest: UI_AREA + 1024 }); // only journal 5's data
  });

  it('wrap (seed 002 §15 item 28): the update-information ring wraps and write data straddling the area end arrives intact', () => {
    const p = primary();
    const wdArea = 131072 - UI_AREA;
    const size = 13 * BLOCK_BYTES; // 6656 bytes: journal 18 runs past the end of the write-data area
    for (let n = 1; n <= 40; n++) {
      const volume = n % 2 === 1 ? 1 : 2;
      const data = hostWrite(p.h, volume, (n * 7) % 80, 13, 500 + n);
      const r = command(p);
      expectJournals(r, [n]);
      expect(r.journals[0]!.info).toMatchObject({ targetVolume: volume, targetBlock: (n * 7) % 80, dataPosition: UI_AREA + (((n - 1) * size) % wdArea) });
      expect(Buffer.from(r.journals[0]!.data).equals(Buffer.from(data))).toBe(true);
      expect(ring(p.h)).toMatchObject({
        read_start: (n * 512) % UI_AREA, retry_start: ((n - 1) * 512) % UI_AREA, ui_newest: (n * 512) % UI_AREA,
        ui_oldest: ((n - 1) * 512) % UI_AREA, wd_oldest: UI_AREA + (((n - 1) * size) % wdArea), wd_newest: UI_AREA + ((n * size) % wdArea),
      });
    }
  });

  it('several readers (seed 002 §15 items 34–35): newest pointers move together, each reader releases only its own set', () => {
    const p = primary({ readers: [2, 3] });
    hostWrite(p.h, 1, 0, 1, 1);
    hostWrite(p.h, 1, 4, 2, 2);
    for (const s of [4, 5]) expect(ring(p.h, s)).toMatchObject({ ui_newest: 1024, wd_newest: UI_AREA + 1536 });
    expectJournals(command(p, { requester: 2 }), [1, 2]);
    expectHeaderOnly(command(p, { requester: 2 }), ResponseKind.NO_JOURNAL);
    expect(ring(p.h, 4)).toMatchObject({ ui_oldest: 1024, wd_oldest: UI_AREA + 1536, read_start: 1024 });
    expect(ring(p.h, 5)).toMatchObject({ ui_oldest: 0, wd_oldest: UI_AREA, read_start: 0, retry_start: 0, read_number: 1 });
    expectJournals(command(p, { requester: 3, maxJournals: 1 }), [1]);
    expect(ring(p.h, 5)).toMatchObject({ ui_oldest: 0, read_start: 512, read_number: 2 });
    expect(ring(p.h, 4)).toMatchObject({ ui_oldest: 1024, read_start: 1024 });
    expect(p.h.copy.groupStatus(GROUP).data!.journalsHeld).toBe(2); // the slowest reader holds both
  });
});

describe('journal read reception: bad commands', () => {
  const cases: Array<[string, (p: Primary) => Uint8Array, number, number]> = [
    ['a 39-byte payload', () => encodeJnlrd({ requestId: 555 }).slice(0, 39), RefusalReason.MALFORMED, 555],
    ['a 41-byte payload', () => { const b = new Uint8Array(41); b.set(encodeJnlrd({ requestId: 556 })); return b; }, RefusalReason.MALFORMED, 556],
    ['an 8-byte payload', () => encodeJnlrd({ requestId: 557 }).slice(0, 8), RefusalReason.MALFORMED, 0],
    ['retry flag 7', () => encodeJnlrd({ requestId: 558, retry: 7 }), RefusalReason.MALFORMED, 558],
    ['retry flag 2', () => encodeJnlrd({ requestId: 559, retry: 2 }), RefusalReason.MALFORMED, 559],
    ['an unknown group', () => encodeJnlrd({ requestId: 560, group: 9 }), RefusalReason.UNKNOWN_GROUP, 560],
    ['group 0', () => encodeJnlrd({ requestId: 561, group: 0 }), RefusalReason.UNKNOWN_GROUP, 561],
    ['a group beyond groupsMax', () => encodeJnlrd({ requestId: 562, group: 1000 }), RefusalReason.UNKNOWN_GROUP, 562],
    ['a secondary group', (p) => {
      expect(p.h.copy.createGroup(2, { role: 'secondary', partnerSystem: 2, partnerGroup: 1, link: 1 }).status).toBe('ok');
      return encodeJnlrd({ requestId: 563, group: 2 });
    }, RefusalReason.UNKNOWN_GROUP, 563],
    ['a requester that is not a reader', () => encodeJnlrd({ requestId: 564, requester: 3 }), RefusalReason.NOT_A_READER, 564],
    ['requester 0', () => encodeJnlrd({ requestId: 565, requester: 0 }), RefusalReason.NOT_A_READER, 565],
    ['the primary itself as requester', () => encodeJnlrd({ requestId: 566, requester: 1 }), RefusalReason.NOT_A_READER, 566],
  ];

  it.each(cases)('%s: REFUSED with its reason; no pointer, no group state changes', (_name, build, reason, id) => {
    const p = primary();
    hostWrite(p.h, 1, 0, 1, 1);
    expectJournals(command(p), [1]);
    hostWrite(p.h, 1, 4, 1, 2);
    const payload = build(p);
    const pointersBefore = pointers(p.h);
    const groupBefore = recordBytes(p.h, p.h.mem.groups, GROUP);
    const bad = badMessages(p.h);

    sendFrame(p.peer, Frame.JNLRD, payload);
    const r = awaitResponse(p);
    expectHeaderOnly(r, ResponseKind.REFUSED);
    expect(r.requestId).toBe(id);
    expect(r.refusal).toBe(reason);
    expect(r.groupState).toBe(0);
    expect(r.flags).toBe(0);
    expect(r.primaryUsage).toBe(0);
    expect(r.nextNumber).toBe(0);
    expect(pointers(p.h)).toEqual(pointersBefore);
    expect(recordBytes(p.h, p.h.mem.groups, GROUP).equals(groupBefore)).toBe(true);
    expect(badMessages(p.h)).toBe(bad + 1);
    // The reader goes on where it was: journal 1 acknowledged now, journal 2 sent.
    expectJournals(command(p), [2]);
  });

  it('an unknown frame type is counted in bad_messages, answered with nothing, and changes nothing', () => {
    const p = primary();
    hostWrite(p.h, 1, 0, 1, 1);
    const before = pointers(p.h);
    const groupBefore = recordBytes(p.h, p.h.mem.groups, GROUP);
    const bad = badMessages(p.h);
    sendFrame(p.peer, 9, encodeJnlrd());
    expectSilence(p);
    expect(badMessages(p.h)).toBe(bad + 1);
    expect(pointers(p.h)).toEqual(before);
    expect(recordBytes(p.h, p.h.mem.groups, GROUP).equals(groupBefore)).toBe(true);
    expectJournals(command(p), [1]);
  });

  it('a JNLRD_RESPONSE nobody asked for is counted and ignored', () => {
    const p = primary();
    const before = pointers(p.h);
    const bad = badMessages(p.h);
    const fake = new Uint8Array(RESPONSE_HEADER_BYTES);
    fake[4] = ResponseKind.NO_JOURNAL;
    sendFrame(p.peer, Frame.JNLRD_RESPONSE, fake);
    expectSilence(p);
    expect(badMessages(p.h)).toBe(bad + 1);
    expect(pointers(p.h)).toEqual(before);
  });

  it('a corrupted frame is dropped by the link (bad_frames) and counted by the adapter; nothing changes', () => {
    const p = primary();
    hostWrite(p.h, 1, 0, 1, 1);
    const before = pointers(p.h);
    const groupBefore = recordBytes(p.h, p.h.mem.groups, GROUP);
    const bad = badMessages(p.h);
    const linkBad = p.peer.stats().tx.badFrames;
    p.peer.corruptNextFrame();
    sendFrame(p.peer, Frame.JNLRD, encodeJnlrd({ requestId: 9 }));
    expectSilence(p);
    expect(p.peer.stats().tx.badFrames).toBe(linkBad + 1);
    expect(p.peer.stats().tx.framesReceived).toBe(0);
    expect(badMessages(p.h)).toBe(bad + 1);
    expect(pointers(p.h)).toEqual(before);
    expect(recordBytes(p.h, p.h.mem.groups, GROUP).equals(groupBefore)).toBe(true);
    expectJournals(command(p), [1]);
  });

  it('a link cut while the response is being built: nothing is sent and no pointer moves; the batch is sent after the link is back', () => {
    const p = primary();
    hostWrite(p.h, 1, 0, 1, 1);
    hostWrite(p.h, 1, 4, 3, 2);
    expectJournals(command(p), [1, 2]);
    hostWrite(p.h, 2, 0, 2, 3);
    const before = ring(p.h);
    // Hold the slot of the update-information area so reception stops mid-batch.
    const slot = p.h.cache.lookup(JV, 0);
    expect(slot).toBeGreaterThanOrEqual(0);
    expect(p.h.cache.tryLockSlot(slot)).toBe(true);
    sendFrame(p.peer, Frame.JNLRD, encodeJnlrd({ requestId: 31 }));
    p.h.ca[0]!.step();
    const task = (p.h.mem.geometry.receptionTaskBase + 1) * TASK_WORDS; // CA 0's reception task of link 1
    expect(p.h.mem.tasks[task + T.STATE]).toBe(TaskState.WAITING);
    expect(p.h.mem.tasks[task + T.WAIT]).toBe(TaskWait.SLOT_BUSY);

    p.peer.cut();
    p.h.cache.unlockSlot(slot);
    p.h.cache.unpin(slot);
    for (let i = 0; i < 30; i++) p.h.round();
    expect(p.h.mem.tasks[task + T.STATE]).toBe(TaskState.FREE);
    expect(ring(p.h)).toEqual(before);
    expect(p.peer.stats().rx.framesSent).toBe(1); // the earlier response only
    expect(p.peer.stats().rx.sendRejectedDown).toBe(0);

    p.peer.restore();
    expect(takeFrame(p.peer)).toBeNull();
    // The secondary never got an answer, so it retries: batch 1 again, nothing moves ...
    expectJournals(command(p, { retry: 1 }), [1, 2]);
    expect(ring(p.h)).toEqual(before);
    // ... then reads on: batch 1 released, journal 3 sent.
    expectJournals(command(p), [3]);
    expect(ring(p.h)).toMatchObject({ ui_oldest: 1024, wd_oldest: UI_AREA + 2048, read_start: 1536, retry_start: 1024 });
  });
});

describe('journal read reception: a damaged update information on the primary', () => {
  it('answers "no journal" while the next record is incomplete, and after INCOMPLETE_MAX_MS fails the group with a trace line instead of stalling for ever', () => {
    const p = primary();
    hostWrite(p.h, 1, 0, 8, 1);
    hostWrite(p.h, 1, 8, 8, 2);
    // Damage journal 1's update information (its slot at update-information oldest) in cache and on the drive.
    const at = p.h.mem.pointers.get(SET, 'ui_oldest');
    pokeVolume(p.h, JV, at, new Uint8Array(512).fill(0x5a));
    expectHeaderOnly(command(p), ResponseKind.NO_JOURNAL);
    expect(p.h.mem.groups.state(GROUP)).toBe(GroupState.NORMAL);
    p.h.clock.advance(INCOMPLETE_MAX_MS + 1);
    const r = command(p);
    expectHeaderOnly(r, ResponseKind.GROUP_STATE);
    expect(r.groupState).toBe(GroupState.FAILURE);
    expect(p.h.mem.groups.state(GROUP)).toBe(GroupState.FAILURE);
    expect(p.h.trace.some((l) => l.includes('update information 1 stayed incomplete'))).toBe(true);
  });
});

describe('journal read reception: a channel adapter reset while a response is being built', () => {
  it('the response is given up as if the link had lost it: claim returned, slot unpinned, nothing sent; the next command gets the same journals', async () => {
    const { attachProcessor } = await import('../../firmware/boot.ts');
    const p = primary();
    const { h } = p;
    const data = [hostWrite(h, 1, 0, 2, 1), hostWrite(h, 2, 8, 1, 2), hostWrite(h, 1, 40, 3, 3)];
    for (let i = 0; i < 20; i++) h.round(); // destaged
    // The journal volume's slots leave the cache, so reading the journals needs a stage.
    for (let s = 0; s < h.cache.slotCount; s++) if (h.cache.volumeOf(s) === JV) expect(h.cache.discard(s)).toBe(true);
    const before = ring(h);
    sendFrame(p.peer, Frame.JNLRD, encodeJnlrd({ group: GROUP, requester: 2, requestId: 501 }));
    h.ca[0]!.step();
    const t = (h.mem.geometry.receptionTaskBase + 1) * TASK_WORDS; // adapter 0's reception task of link 1
    expect([h.mem.tasks[t + T.STATE], h.mem.tasks[t + T.WAIT]]).toEqual([TaskState.WAITING, TaskWait.STAGE]);
    const pinned = h.mem.tasks[t + T.CACHE_SLOT]!;
    expect(h.cache.pinCount(pinned)).toBe(1);
    // Reset: a new adapter 0 attaches to the same memory, drives and link.
    const platform = (h.ca[0] as unknown as { platform: { drives: ReadonlyMap<number, never>; links: ReadonlyMap<number, never> } }).platform;
    const ca = attachProcessor({ processorId: 0, shared: h.shared, drives: platform.drives, links: platform.links, clock: h.clock, trace: (l) => h.trace.push(l), singleThreaded: true });
    expect(h.trace.at(-1)).toBe('channel adapter 0: took over 0 host commands; 1 journal read responses being built were lost and will be asked for again');
    expect(h.mem.tasks[t + T.STATE]).toBe(TaskState.FREE);
    expect(h.cache.pinCount(pinned)).toBe(0);
    expect(ring(h)).toEqual(before);
    const step = (): void => { ca.step(); h.ca[1]!.step(); h.da[0]!.step(); h.clock.advance(0.01); };
    for (let i = 0; i < 30; i++) { step(); expect(takeFrame(p.peer)).toBeNull(); }
    // The secondary asks again (a new command): it gets journals 1..3, exactly.
    sendFrame(p.peer, Frame.JNLRD, encodeJnlrd({ group: GROUP, requester: 2, requestId: 502 }));
    let frame = null;
    for (let i = 0; i < 200 && !frame; i++) { step(); frame = takeFrame(p.peer); }
    expect(frame?.type).toBe(Frame.JNLRD_RESPONSE);
    const r = decodeResponse(frame!.payload, MAX_BLOCKS);
    expectJournals(r, [1, 2, 3]);
    expect(r.journals.map((j) => Buffer.from(j.data).equals(Buffer.from(data[j.info.updateNumber - 1]!)))).toEqual([true, true, true]);
  });
});
