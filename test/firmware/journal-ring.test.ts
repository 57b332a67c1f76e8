// Journal ring arithmetic (seed 000 §4.4, §6.1–§6.2, §12.4 item 21; seed 002 §6): every pure
// function of firmware/journal-ring.ts checked exhaustively on small rings against a reference
// that walks the ring one address unit at a time (so it shares no modular arithmetic with the
// code under test), then a randomized model check of create/release cycles against a queue of
// journals with a byte-ownership map of the journal volume.
//
// Mismatches are collected and compared with [] once per test: a million expect() calls would
// make the file slow, and the first few mismatches say everything.

import { describe, expect, it } from 'vitest';
import {
  UI_SLOT_BYTES, advanceUi, advanceWd, journalUsage, journalsHeld, splitJournalVolume, uiAreaBytes, uiFits, usedBytes, wdAreaBytes, wdFits, wdPieces,
  type RingGeometry,
} from '../../firmware/journal-ring.ts';

// ---------------------------------------------------------------------------------------------
// Reference: one address unit at a time, wrapping from `end` to `head`.

function step(p: number, head: number, end: number): number {
  return p + 1 === end ? head : p + 1;
}

function walk(p: number, units: number, head: number, end: number): number {
  for (let i = 0; i < units; i++) p = step(p, head, end);
  return p;
}

/** Forward distance from `from` to `to` walking the ring [head, end); 0 when equal. */
function distance(from: number, to: number, head: number, end: number): number {
  let d = 0;
  for (let p = from; p !== to; p = step(p, head, end)) {
    d++;
    if (d > end - head) throw new Error(`${to} is not in [${head}, ${end})`);
  }
  return d;
}

/** True if walking `units` units forward from `from` (excluding `from`, including the end) meets `target`. */
function meets(from: number, units: number, target: number, head: number, end: number): boolean {
  let p = from;
  for (let i = 0; i < units; i++) {
    p = step(p, head, end);
    if (p === target) return true;
  }
  return false;
}

/** Every address a record of `units` from `from` occupies, walking with wrap. */
function addresses(from: number, units: number, head: number, end: number): number[] {
  const out: number[] = [];
  let p = from;
  for (let i = 0; i < units; i++) {
    out.push(p);
    p = step(p, head, end);
  }
  return out;
}

function range(from: number, to: number, stride = 1): number[] {
  const out: number[] = [];
  for (let a = from; a < to; a += stride) out.push(a);
  return out;
}

class Failures {
  readonly list: string[] = [];
  checks = 0;
  check(ok: boolean, what: () => string): void {
    this.checks++;
    if (!ok && this.list.length < 20) this.list.push(what());
  }
}

/** Every small geometry of the brief: uiHead 0, uiSlot 1..4, 2..6 slots, 1..12 write-data units. */
function* smallGeometries(): Generator<RingGeometry & { uiSlot: number; slots: number }> {
  for (let uiSlot = 1; uiSlot <= 4; uiSlot++) {
    for (let slots = 2; slots <= 6; slots++) {
      for (let wd = 1; wd <= 12; wd++) yield { uiHead: 0, wdHead: slots * uiSlot, capacity: slots * uiSlot + wd, uiSlot, slots };
    }
  }
}

const show = (g: RingGeometry): string => `{ui ${g.uiHead}..${g.wdHead} slot ${g.uiSlot ?? 'default'}, wd ${g.wdHead}..${g.capacity}}`;

// ---------------------------------------------------------------------------------------------

describe('journal ring: exhaustive over small rings', () => {
  it('area sizes: the update-information area is [uiHead, wdHead), the write-data area [wdHead, capacity)', () => {
    const f = new Failures();
    let geometries = 0;
    for (const g of smallGeometries()) {
      geometries++;
      f.check(uiAreaBytes(g) === g.slots * g.uiSlot, () => `uiAreaBytes ${show(g)} = ${uiAreaBytes(g)}`);
      f.check(wdAreaBytes(g) === g.capacity - g.wdHead, () => `wdAreaBytes ${show(g)} = ${wdAreaBytes(g)}`);
    }
    expect(geometries).toBe(4 * 5 * 12);
    expect(f.list).toEqual([]);
  });

  it('usedBytes is the forward distance from oldest to newest in either area (0 when equal = empty)', () => {
    const f = new Failures();
    for (const g of smallGeometries()) {
      const ui = uiAreaBytes(g);
      // Every address pair of the update-information area, slot-aligned or not.
      for (let n = g.uiHead; n < g.wdHead; n++) {
        for (let o = g.uiHead; o < g.wdHead; o++) {
          const want = distance(o, n, g.uiHead, g.wdHead);
          f.check(usedBytes(n, o, ui) === want, () => `ui usedBytes(${n}, ${o}, ${ui}) ${show(g)} = ${usedBytes(n, o, ui)}, want ${want}`);
        }
      }
      const wd = wdAreaBytes(g);
      for (let n = g.wdHead; n < g.capacity; n++) {
        for (let o = g.wdHead; o < g.capacity; o++) {
          const want = distance(o, n, g.wdHead, g.capacity);
          f.check(usedBytes(n, o, wd) === want, () => `wd usedBytes(${n}, ${o}, ${wd}) ${show(g)} = ${usedBytes(n, o, wd)}, want ${want}`);
          if (n === o) f.check(usedBytes(n, o, wd) === 0, () => `newest == oldest ${n} is not empty`);
        }
      }
    }
    expect(f.checks).toBeGreaterThan(40_000);
    expect(f.list).toEqual([]);
  });

  it('uiFits: one more record fits iff storing it cannot reach oldest (strict: newest never becomes oldest)', () => {
    const f = new Failures();
    let fits = 0;
    let full = 0;
    for (const g of smallGeometries()) {
      for (let i = 0; i < g.slots; i++) {
        for (let j = 0; j < g.slots; j++) {
          const n = g.uiHead + i * g.uiSlot;
          const o = g.uiHead + j * g.uiSlot;
          // Reference: the record occupies [n, n + slot) and newest moves to n + slot; neither
          // may run into oldest (unless the ring is empty and oldest is where we start).
          const want = !meets(n, g.uiSlot, o, g.uiHead, g.wdHead);
          const got = uiFits(n, o, g);
          f.check(got === want, () => `uiFits(${n}, ${o}) ${show(g)} = ${got}, want ${want}`);
          if (got) {
            fits++;
            const next = advanceUi(n, 1, g);
            f.check(next !== o, () => `uiFits(${n}, ${o}) ${show(g)} but the store makes newest == oldest`);
            f.check(usedBytes(next, o, uiAreaBytes(g)) === usedBytes(n, o, uiAreaBytes(g)) + g.uiSlot, () => `store at ${n} ${show(g)} did not add one slot`);
          } else full++;
          // At most slots - 1 records are ever held: full exactly when slots - 1 are.
          const held = distance(o, n, g.uiHead, g.wdHead) / g.uiSlot;
          f.check(got === held < g.slots - 1, () => `uiFits(${n}, ${o}) ${show(g)} with ${held} held = ${got}`);
          if (n === o) f.check(got, () => `an empty ring ${show(g)} refuses a record`);
        }
      }
    }
    expect(fits).toBeGreaterThan(0);
    expect(full).toBeGreaterThan(0);
    expect(f.list).toEqual([]);
  });

  it('uiFits without uiSlot uses one 512-byte block per record', () => {
    const g: RingGeometry = { uiHead: 0, wdHead: 4 * UI_SLOT_BYTES, capacity: 8 * UI_SLOT_BYTES };
    expect(UI_SLOT_BYTES).toBe(512);
    expect(uiFits(0, 0, g)).toBe(true);
    expect(uiFits(2 * 512, 0, g)).toBe(true); // 2 held, the third fits
    expect(uiFits(3 * 512, 0, g)).toBe(false); // 3 held: a fourth would make newest == oldest
    expect(uiFits(0, 512, g)).toBe(false);
    expect(uiFits(512, 1024, g)).toBe(false);
    expect(uiFits(1024, 512, g)).toBe(true);
    expect(advanceUi(3 * 512, 1, g)).toBe(0);
    expect(advanceUi(512, 6, g)).toBe(3 * 512);
    expect(journalsHeld(512, 1024, g)).toBe(3);
  });

  it('wdFits: data of every size fits iff it cannot reach oldest (strict); an empty area takes at most area - 1', () => {
    const f = new Failures();
    for (const g of smallGeometries()) {
      const wd = wdAreaBytes(g);
      for (let n = g.wdHead; n < g.capacity; n++) {
        for (let o = g.wdHead; o < g.capacity; o++) {
          for (let bytes = 0; bytes <= wd + 1; bytes++) {
            const want = bytes === 0 ? true : !meets(n, bytes, o, g.wdHead, g.capacity) && bytes < wd;
            const got = wdFits(n, o, bytes, g);
            f.check(got === want, () => `wdFits(${n}, ${o}, ${bytes}) ${show(g)} = ${got}, want ${want}`);
            if (got && bytes > 0) f.check(advanceWd(n, bytes, g) !== o, () => `wdFits(${n}, ${o}, ${bytes}) ${show(g)} but newest becomes oldest`);
            if (n === o) f.check(got === bytes < wd, () => `empty wd area ${show(g)}: wdFits(${bytes}) = ${got}`);
          }
        }
      }
    }
    expect(f.checks).toBeGreaterThan(20_000);
    expect(f.list).toEqual([]);
  });

  it('advanceUi and advanceWd wrap exactly into [head, end) for every start and length', () => {
    const f = new Failures();
    for (const g of smallGeometries()) {
      for (let i = 0; i < g.slots; i++) {
        const p = g.uiHead + i * g.uiSlot;
        for (let records = 0; records <= 2 * g.slots + 1; records++) {
          const want = walk(p, records * g.uiSlot, g.uiHead, g.wdHead);
          const got = advanceUi(p, records, g);
          f.check(got === want, () => `advanceUi(${p}, ${records}) ${show(g)} = ${got}, want ${want}`);
          f.check(got >= g.uiHead && got < g.wdHead && (got - g.uiHead) % g.uiSlot === 0, () => `advanceUi(${p}, ${records}) ${show(g)} = ${got} outside the ui area`);
        }
      }
      for (let p = g.wdHead; p < g.capacity; p++) {
        const wd = wdAreaBytes(g);
        for (let bytes = 0; bytes <= 2 * wd + 1; bytes++) {
          const want = walk(p, bytes, g.wdHead, g.capacity);
          const got = advanceWd(p, bytes, g);
          f.check(got === want, () => `advanceWd(${p}, ${bytes}) ${show(g)} = ${got}, want ${want}`);
          f.check(got >= g.wdHead && got < g.capacity, () => `advanceWd(${p}, ${bytes}) ${show(g)} = ${got} outside the wd area`);
        }
      }
    }
    expect(f.list).toEqual([]);
  });

  it('wdPieces splits a record at the area end: the pieces cover exactly the walked addresses', () => {
    const f = new Failures();
    const out = { firstBytes: -1, secondPosition: -1 };
    let split = 0;
    for (const g of smallGeometries()) {
      if (g.uiSlot !== 1) continue;
      const wd = wdAreaBytes(g);
      for (let p = g.wdHead; p < g.capacity; p++) {
        for (let bytes = 1; bytes <= wd; bytes++) {
          wdPieces(p, bytes, g, out);
          const got = [...range(p, p + out.firstBytes), ...range(out.secondPosition, out.secondPosition + bytes - out.firstBytes)];
          const want = addresses(p, bytes, g.wdHead, g.capacity);
          f.check(JSON.stringify(got) === JSON.stringify(want), () => `wdPieces(${p}, ${bytes}) ${show(g)} = ${JSON.stringify(out)}: ${got} != ${want}`);
          f.check(out.firstBytes === Math.min(bytes, g.capacity - p), () => `wdPieces(${p}, ${bytes}) ${show(g)} first piece ${out.firstBytes}`);
          f.check(out.secondPosition === g.wdHead, () => `wdPieces(${p}, ${bytes}) ${show(g)} second piece at ${out.secondPosition}`);
          // The record ends where advanceWd puts newest.
          const end = bytes > out.firstBytes ? out.secondPosition + bytes - out.firstBytes : p + out.firstBytes;
          f.check((end === g.capacity ? g.wdHead : end) === advanceWd(p, bytes, g), () => `wdPieces(${p}, ${bytes}) ${show(g)} ends at ${end}, advanceWd says ${advanceWd(p, bytes, g)}`);
          if (out.firstBytes < bytes) split++;
        }
      }
    }
    expect(split).toBeGreaterThan(0);
    expect(f.list).toEqual([]);
  });

  it('journalsHeld counts the records between oldest and newest; journalUsage is the fuller area', () => {
    const f = new Failures();
    for (const g of smallGeometries()) {
      const ui = uiAreaBytes(g);
      const wd = wdAreaBytes(g);
      for (let i = 0; i < g.slots; i++) {
        for (let j = 0; j < g.slots; j++) {
          const n = g.uiHead + i * g.uiSlot;
          const o = g.uiHead + j * g.uiSlot;
          let records = 0;
          for (let p = o; p !== n; p = walk(p, g.uiSlot, g.uiHead, g.wdHead)) records++;
          f.check(journalsHeld(n, o, g) === records, () => `journalsHeld(${n}, ${o}) ${show(g)} = ${journalsHeld(n, o, g)}, want ${records}`);
          const uiUsage = distance(o, n, g.uiHead, g.wdHead) / ui;
          for (let wn = g.wdHead; wn < g.capacity; wn++) {
            for (let wo = g.wdHead; wo < g.capacity; wo++) {
              const want = Math.max(uiUsage, distance(wo, wn, g.wdHead, g.capacity) / wd);
              const got = journalUsage(n, o, wn, wo, g);
              f.check(Math.abs(got - want) < 1e-12 && got >= 0 && got < 1, () => `journalUsage(${n}, ${o}, ${wn}, ${wo}) ${show(g)} = ${got}, want ${want}`);
            }
          }
        }
      }
    }
    expect(f.list).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Model check: a queue of journals (update-information slot + write-data bytes) against the ring
// functions, with every byte of the journal volume owned by at most one stored journal.

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface StoredJournal { id: number; ui: number; wd: number; bytes: number }

interface ModelStats { created: number; refused: number; released: number; uiWraps: number; wdWraps: number; splits: number; emptied: number }

/**
 * `dataUnit` is the granularity of write-data sizes; every position is then a multiple of it (or
 * of the record size), so ownership is tracked per unit, not per byte.
 */
function modelCheck(g: RingGeometry, seed: number, cycles: number, dataUnit: number): ModelStats {
  const rnd = mulberry32(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const slot = g.uiSlot ?? UI_SLOT_BYTES;
  const uiArea = uiAreaBytes(g);
  const wdArea = wdAreaBytes(g);
  const owner = new Int32Array(g.capacity).fill(-1);
  const content = new Uint8Array(g.capacity);
  const queue: StoredJournal[] = [];
  let wdHeld = 0;
  let uiNewest = g.uiHead;
  let uiOldest = g.uiHead;
  let wdNewest = g.wdHead;
  let wdOldest = g.wdHead;
  const stats: ModelStats = { created: 0, refused: 0, released: 0, uiWraps: 0, wdWraps: 0, splits: 0, emptied: 0 };
  const pieces = { firstBytes: 0, secondPosition: 0 };
  const fail = (what: string): never => {
    throw new Error(`${show(g)} seed ${seed} after ${stats.created} created / ${stats.released} released: ${what}`);
  };
  const bytesOf = (j: StoredJournal): number[] => {
    const out = range(j.ui, j.ui + slot, Math.min(slot, dataUnit));
    if (j.bytes > 0) {
      wdPieces(j.wd, j.bytes, g, pieces);
      out.push(...range(j.wd, j.wd + pieces.firstBytes, dataUnit), ...range(pieces.secondPosition, pieces.secondPosition + j.bytes - pieces.firstBytes, dataUnit));
    }
    return out;
  };
  const invariants = (): void => {
    if (usedBytes(uiNewest, uiOldest, uiArea) !== queue.length * slot) fail(`ui used ${usedBytes(uiNewest, uiOldest, uiArea)} != ${queue.length} records`);
    if (journalsHeld(uiNewest, uiOldest, g) !== queue.length) fail(`journalsHeld ${journalsHeld(uiNewest, uiOldest, g)} != ${queue.length}`);
    if (usedBytes(wdNewest, wdOldest, wdArea) !== wdHeld) fail(`wd used ${usedBytes(wdNewest, wdOldest, wdArea)} != ${wdHeld}`);
    if ((uiNewest === uiOldest) !== (queue.length === 0)) fail(`ui newest == oldest is ${uiNewest === uiOldest} with ${queue.length} journals`);
    if ((wdNewest === wdOldest) !== (wdHeld === 0)) fail(`wd newest == oldest is ${wdNewest === wdOldest} with ${wdHeld} bytes held`);
    const usage = journalUsage(uiNewest, uiOldest, wdNewest, wdOldest, g);
    if (Math.abs(usage - Math.max((queue.length * slot) / uiArea, wdHeld / wdArea)) > 1e-12) fail(`journalUsage ${usage}`);
    for (const p of [uiNewest, uiOldest]) if (p < g.uiHead || p >= g.wdHead) fail(`ui pointer ${p} outside its area`);
    for (const p of [wdNewest, wdOldest]) if (p < g.wdHead || p >= g.capacity) fail(`wd pointer ${p} outside its area`);
    const first = queue[0];
    if (first && (first.ui !== uiOldest || first.wd !== wdOldest)) fail(`oldest pointers ${uiOldest}/${wdOldest} are not the oldest journal's ${first.ui}/${first.wd}`);
  };
  let nextId = 1;
  for (let c = 0; c < cycles; c++) {
    // Create a burst, then release some from the oldest end (a reader's batch).
    for (let k = int(4); k >= 0; k--) {
      // Some journals carry no write data (initial-copy journals at the primary, seed 000 §6.5).
      const bytes = rnd() < 0.15 ? 0 : (1 + int(Math.max(1, Math.floor(wdArea / dataUnit / 2)))) * dataUnit;
      const want = (queue.length + 1) * slot < uiArea && wdHeld + bytes < wdArea;
      const got = uiFits(uiNewest, uiOldest, g) && wdFits(wdNewest, wdOldest, bytes, g);
      if (got !== want) fail(`fits(${bytes}) = ${got}, the model says ${want} (${queue.length} held, ${wdHeld} bytes)`);
      if (!got) {
        stats.refused++;
        continue;
      }
      const j: StoredJournal = { id: nextId++, ui: uiNewest, wd: wdNewest, bytes };
      for (const a of bytesOf(j)) {
        const inUi = a >= g.uiHead && a < g.wdHead;
        const inWd = a >= g.wdHead && a < g.capacity;
        if (!(inUi || inWd)) fail(`journal ${j.id} address ${a} outside the journal volume`);
        if (owner[a] !== -1) fail(`journal ${j.id} overwrites byte ${a} of stored journal ${owner[a]}`);
        owner[a] = j.id;
        content[a] = j.id & 0xff;
      }
      if (bytes > 0) {
        wdPieces(j.wd, bytes, g, pieces);
        if (pieces.firstBytes < bytes) stats.splits++;
      }
      const ui = advanceUi(uiNewest, 1, g);
      if (ui < uiNewest) stats.uiWraps++;
      const wd = advanceWd(wdNewest, bytes, g);
      if (bytes > 0 && wd <= wdNewest) stats.wdWraps++;
      uiNewest = ui;
      wdNewest = wd;
      queue.push(j);
      wdHeld += bytes;
      stats.created++;
      invariants();
    }
    if (queue.length > 0 && rnd() < 0.6) {
      const n = 1 + int(queue.length);
      let bytes = 0;
      for (let i = 0; i < n; i++) {
        const j = queue.shift()!;
        for (const a of bytesOf(j)) {
          if (owner[a] !== j.id || content[a] !== (j.id & 0xff)) fail(`journal ${j.id}'s byte ${a} was overwritten before its release (owner ${owner[a]})`);
          owner[a] = -1;
        }
        bytes += j.bytes;
      }
      wdHeld -= bytes;
      uiOldest = advanceUi(uiOldest, n, g);
      wdOldest = advanceWd(wdOldest, bytes, g);
      stats.released += n;
      if (queue.length === 0) stats.emptied++;
      invariants();
    }
  }
  return stats;
}

describe('journal ring: randomized model check (seed 000 §12.4 item 21)', () => {
  it('small rings in address units: thousands of create/release cycles never overlap a stored journal and stay in their areas', () => {
    const rnd = mulberry32(2024);
    const total: ModelStats = { created: 0, refused: 0, released: 0, uiWraps: 0, wdWraps: 0, splits: 0, emptied: 0 };
    for (let run = 0; run < 40; run++) {
      const uiSlot = 1 + Math.floor(rnd() * 8);
      const slots = 2 + Math.floor(rnd() * 10);
      const wd = 1 + Math.floor(rnd() * 64);
      const uiHead = Math.floor(rnd() * 3) * uiSlot;
      const g: RingGeometry = { uiHead, wdHead: uiHead + slots * uiSlot, capacity: uiHead + slots * uiSlot + wd, uiSlot };
      const s = modelCheck(g, 1000 + run, 500, 1);
      for (const k of Object.keys(total) as Array<keyof ModelStats>) total[k] += s[k];
    }
    expect(total.created).toBeGreaterThan(20_000);
    expect(total.refused).toBeGreaterThan(100);
    expect(total.uiWraps).toBeGreaterThan(1000);
    expect(total.wdWraps).toBeGreaterThan(1000);
    expect(total.splits).toBeGreaterThan(100);
    expect(total.emptied).toBeGreaterThan(100);
  });

  it('a real split (512-byte records, write data in blocks) cycles both rings through their whole areas', () => {
    const g = splitJournalVolume(64 * 1024);
    const s = modelCheck(g, 77, 5000, 512);
    expect(s.created).toBeGreaterThan(5000);
    expect(s.uiWraps).toBeGreaterThan(100);
    expect(s.wdWraps).toBeGreaterThan(100);
    expect(s.splits).toBeGreaterThan(10);
    expect(s.refused).toBeGreaterThan(10);
  });

  it('the worked-example geometry of seed 000 Fig. 7 (ui 0..700 in 100s, wd 700..2700) holds at most 6 journals', () => {
    const g: RingGeometry = { uiHead: 0, wdHead: 700, capacity: 2700, uiSlot: 100 };
    expect(uiFits(500, 200, g)).toBe(true);
    expect(wdFits(2200, 1300, 100, g)).toBe(true);
    expect(advanceUi(500, 1, g)).toBe(600);
    expect(advanceUi(600, 1, g)).toBe(0);
    expect(advanceWd(2200, 100, g)).toBe(2300);
    expect(advanceWd(2600, 300, g)).toBe(900);
    expect(journalsHeld(500, 200, g)).toBe(3);
    expect(uiFits(100, 200, g)).toBe(false); // 6 held out of 7 slots
    expect(wdFits(1200, 1300, 100, g)).toBe(false); // 1900 held, 100 more would make newest == oldest
    expect(wdFits(1200, 1300, 99, g)).toBe(true);
    const s = modelCheck(g, 5, 3000, 50);
    expect(s.created).toBeGreaterThan(2000);
  });
});

describe('journal ring: splitJournalVolume', () => {
  it('gives an eighth of the volume, rounded down to whole blocks, to update information; the rest to write data', () => {
    expect(splitJournalVolume(131072)).toEqual({ uiHead: 0, wdHead: 16384, capacity: 131072 });
    expect(splitJournalVolume(1024 * 1024)).toEqual({ uiHead: 0, wdHead: 131072, capacity: 1024 * 1024 });
    expect(splitJournalVolume(100_000)).toEqual({ uiHead: 0, wdHead: 24 * 512, capacity: 100_000 }); // 12500 -> 24 blocks
    expect(splitJournalVolume(36 * 1024)).toEqual({ uiHead: 0, wdHead: 4608, capacity: 36 * 1024 }); // exactly 9 blocks
    expect(splitJournalVolume(65536, 25)).toEqual({ uiHead: 0, wdHead: 16384, capacity: 65536 });
    // No uiSlot: the firmware's 512-byte records.
    expect(splitJournalVolume(131072).uiSlot).toBeUndefined();
  });

  it('never gives the update-information area fewer than 4 records', () => {
    expect(splitJournalVolume(16384).wdHead).toBe(4 * 512); // exactly 4 blocks
    expect(splitJournalVolume(16383).wdHead).toBe(4 * 512);
    expect(splitJournalVolume(8192).wdHead).toBe(4 * 512);
    expect(splitJournalVolume(4096).wdHead).toBe(4 * 512);
    expect(splitJournalVolume(65536, 1).wdHead).toBe(4 * 512);
    for (let blocks = 8; blocks <= 4096; blocks += 7) {
      const bytes = blocks * 512;
      const g = splitJournalVolume(bytes);
      const eighth = Math.floor(bytes / 8 / 512) * 512;
      expect(g.wdHead).toBe(Math.max(eighth, 2048));
      expect(g.wdHead % 512).toBe(0);
      expect(g.uiHead).toBe(0);
      expect(g.capacity).toBe(bytes);
    }
  });
});
