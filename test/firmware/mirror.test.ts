// Local mirror pairs (seed 004): processes 2000–7000 against a freshly formatted shared memory,
// processors stepped by hand. Test names cite the seed's testable behaviours (§10, numbered).

import { describe, expect, it } from 'vitest';
import { HostOp, Reason, ScsiStatus, SenseKey } from '../../hal/host-port.ts';
import { requestPowerOff } from '../../firmware/boot.ts';
import { bm } from '../../firmware/mirror.ts';
import { BITMAP_230, BITMAP_240, MIRROR_INFO, MirrorWord } from '../../firmware/structs/mirror-info.ts';
import { STAT_COUNTERS_PER_PROCESSOR, Stat } from '../../firmware/structs/statistics.ts';
import { TASK_WORDS, TaskState, TaskWait, TaskWord as T } from '../../firmware/structs/task.ts';
import { pattern, peek, type Harness } from '../support/harness.ts';
import { formed, mirrorSystem, must, settle } from '../support/mirror.ts';

const BLOCK = 512;
const TRACK = 128; // blocks per bit with unit 'track'

const bits = (h: Harness, which: '230' | '240', pair = 1): number[] => must(h.maintenance.mirror.bitmap(pair, which));
const state = (h: Harness, pair = 1): string => {
  const s = must(h.maintenance.mirror.status(pair));
  return s.subState === '—' ? s.state : `${s.state}/${s.subState}`;
};
const block = (seed: number): Uint8Array => pattern(BLOCK, seed);
const writeOk = (h: Harness, port: number, volume: number, lba: number, data: Uint8Array): void => {
  const r = h.write(port, volume, lba, data);
  expect(r.status, r.reasonText).toBe(ScsiStatus.GOOD);
};
const hostSplit = (h: Harness, volume = 1, port = 0) => h.finish(port, h.submit(port, HostOp.MIRROR_SPLIT, volume, 0, 0), 20_000);
const hostResync = (h: Harness, volume = 1, port = 0) => h.finish(port, h.submit(port, HostOp.MIRROR_RESYNC, volume, 0, 0), 20_000);
const updateInfo = (h: Harness, volume = 1, bytes = 1024) => h.finish(0, h.submit(0, HostOp.UPDATE_INFO, volume, 0, bytes));
const units = (info: Uint8Array): number[] => {
  const out: number[] = [];
  info.forEach((b, i) => { for (let k = 0; k < 8; k++) if (b & (1 << k)) out.push(i * 8 + k); });
  return out;
};
const total = (h: Harness, i: number): number => {
  let sum = 0;
  for (let p = 0; p < h.mem.geometry.processors; p++) sum += h.mem.statistics[p * STAT_COUNTERS_PER_PROCESSOR + i]!;
  return sum;
};
const flush = (h: Harness): void => {
  for (let i = 0; i < 10_000 && h.cache.dirtySlots() > 0; i++) h.round();
  expect(h.cache.dirtySlots()).toBe(0);
};
const volumeBytes = (h: Harness, v: number): Uint8Array => peek(h, v, 0, h.mem.volumes.capacityBlocks(v));

describe('mirror pair states (§4.3, behaviours 1–3)', () => {
  it('1: a new pair is separated; formation goes mirror/synchronising then mirror/synchronised, and then S == P', () => {
    const h = mirrorSystem();
    writeOk(h, 0, 1, 5, block(1));
    writeOk(h, 0, 1, 900, block(2));
    must(h.maintenance.mirror.createPair(1, { primary: 1, secondary: 2 }));
    expect(state(h)).toBe('separated');
    must(h.maintenance.mirror.form(1));
    h.ca[0]!.step();
    expect(state(h)).toBe('mirror/synchronising');
    settle(h, 1);
    expect(state(h)).toBe('mirror/synchronised');
    expect(Buffer.from(volumeBytes(h, 2)).equals(Buffer.from(volumeBytes(h, 1)))).toBe(true);
    expect(h.trace.filter((l) => l.startsWith('mirror 1'))).toEqual([
      'mirror 1 (E1): separated -> mirror/synchronising (form)',
      'mirror 1 (E1): mirror/synchronising -> mirror/synchronised (synchronised)',
    ]);
  });

  it('2: resync from split goes mirror/synchronising then synchronised; invalid transitions are refused and change nothing', () => {
    const h = mirrorSystem();
    must(h.maintenance.mirror.createPair(1, { primary: 1, secondary: 2 }));
    const before = Buffer.from(h.mem.controlBuffer).subarray(h.mem.mirrors.byteOffset, h.mem.mirrors.byteOffset + h.mem.mirrors.stride * 2);
    const snapshot = Buffer.from(before);
    expect(h.maintenance.mirror.split(1).reason).toBe('mirror pair 1 is separated; a split needs mirror/synchronised (the secondary must equal the primary)');
    expect(h.maintenance.mirror.resync(1).reason).toBe('mirror pair 1 is separated; only a split pair can be resynchronised');
    expect(Buffer.from(before).equals(snapshot)).toBe(true);
    must(h.maintenance.mirror.form(1));
    h.ca[0]!.step();
    expect(state(h)).toBe('mirror/synchronising');
    // Split while synchronising (the model's guard, §4.3): refused.
    expect(h.maintenance.mirror.split(1).reason).toBe('mirror pair 1 is mirror/synchronising; a split needs mirror/synchronised (the secondary must equal the primary)');
    settle(h, 1);
    expect(h.maintenance.mirror.form(1).reason).toBe('mirror pair 1 is mirror/synchronised; only a separated pair can be formed');
    expect(h.maintenance.mirror.resync(1).reason).toBe('mirror pair 1 is mirror/synchronised; only a split pair can be resynchronised');
    must(h.maintenance.mirror.split(1));
    settle(h, 1);
    expect(state(h)).toBe('split');
    expect(h.maintenance.mirror.split(1).reason).toBe('mirror pair 1 is split; a split needs mirror/synchronised (the secondary must equal the primary)');
    for (let b = 0; b < 1024; b += 64) writeOk(h, 0, 1, b, block(b)); // more to copy than one step copies
    must(h.maintenance.mirror.resync(1));
    h.ca[0]!.step();
    expect(state(h)).toBe('mirror/synchronising');
    expect(h.maintenance.mirror.split(1).reason).toBe('mirror pair 1 is mirror/synchronising; a split needs mirror/synchronised (the secondary must equal the primary)');
    expect(h.maintenance.mirror.form(1).reason).toBe('mirror pair 1 is mirror/synchronising; only a separated pair can be formed');
    settle(h, 1);
    expect(state(h)).toBe('mirror/synchronised');
  });

  it('2: a host split while synchronising is refused with MIRROR_BUSY; a host resync of a separated pair with MIRROR_STATE', () => {
    const h = mirrorSystem();
    must(h.maintenance.mirror.createPair(1, { primary: 1, secondary: 2 }));
    let r = hostResync(h);
    expect([r.status, r.senseKey, r.reason]).toEqual([ScsiStatus.CHECK_CONDITION, SenseKey.ILLEGAL_REQUEST, Reason.MIRROR_STATE]);
    must(h.maintenance.mirror.form(1));
    r = h.finish(1, h.submit(1, HostOp.MIRROR_SPLIT, 1, 0, 0), 1);
    expect([r.status, r.reason]).toEqual([ScsiStatus.CHECK_CONDITION, Reason.MIRROR_BUSY]);
    r = h.finish(1, h.submit(1, HostOp.MIRROR_SPLIT, 5, 0, 0), 1);
    expect([r.status, r.reason, r.reasonText]).toEqual([ScsiStatus.CHECK_CONDITION, Reason.NOT_MIRRORED, 'logical volume belongs to no local mirror pair']);
  });

  it('3: the state table reports each volume of a pair, with the sub-state only in the mirror state (Fig. 3)', () => {
    const h = mirrorSystem();
    formed(h, 'E1', 'track', 1, [1, 2]);
    formed(h, 'E1', 'track', 2, [3, 4]);
    must(h.maintenance.mirror.split(2));
    settle(h, 2);
    expect(must(h.maintenance.mirror.stateTable())).toEqual([
      { volume: 1, pair: 1, role: 'primary', state: 'mirror', subState: 'synchronised' },
      { volume: 2, pair: 1, role: 'secondary', state: 'mirror', subState: 'synchronised' },
      { volume: 3, pair: 2, role: 'primary', state: 'split', subState: '—' },
      { volume: 4, pair: 2, role: 'secondary', state: 'split', subState: '—' },
    ]);
  });

  it('pair creation refuses bad input with a reason and changes nothing', () => {
    const h = mirrorSystem();
    const m = h.maintenance.mirror;
    expect(m.createPair(9, { primary: 1, secondary: 2 }).reason).toBe('mirror pair 9 is outside 1..4');
    expect(m.createPair(1, { primary: 1, secondary: 1 }).reason).toBe('the primary and the secondary must be two volumes (both are 1)');
    expect(m.createPair(1, { primary: 1, secondary: 5 }).reason).toBe("the secondary's capacity (512 blocks) must equal the primary's (1024 blocks)");
    expect(m.createPair(1, { primary: 1, secondary: 7 }).reason).toBe('secondary volume 7 is not defined');
    expect(m.createPair(1, { primary: 1, secondary: 2, embodiment: 'E3' as 'E1' }).reason).toBe("embodiment 'E3' must be E1, E2a or E2b");
    expect(m.createPair(1, { primary: 1, secondary: 2, unit: 'byte' as 'track' }).reason).toBe("unit 'byte' must be sector, track or cylinder");
    expect(m.createPair(1, { primary: 1, secondary: 2, nonVolatile: true }).reason).toMatch(/needs the configuration's mirrorNv extent/);
    const small = mirrorSystem({ mirrorBitmapBytes: 64 });
    expect(small.maintenance.mirror.createPair(1, { primary: 1, secondary: 2, unit: 'sector' }).reason)
      .toBe('a sector bitmap of 1024 blocks needs 1024 bits; each bitmap holds 512 (choose a larger unit or mirrorBitmapBytes)');
    expect(m.stateTable().data).toEqual([]);
    must(m.createPair(1, { primary: 1, secondary: 2 }));
    expect(m.createPair(2, { primary: 3, secondary: 2 }).reason).toBe('secondary volume 2 already belongs to mirror pair 1');
    expect(h.maintenance.deleteVolume(2).reason).toBe('volume 2 belongs to mirror pair 1; delete the mirror pair first');
    const linked = mirrorSystem({ links: [{ number: 1, peerSystem: 2, adapter: 0 }] });
    must(linked.maintenance.mirror.createPair(1, { primary: 1, secondary: 2 }));
    must(linked.copy.createGroup(1, { role: 'primary' }));
    expect(linked.copy.registerPair(1, { primaryVolume: 1, secondarySystem: 2, secondaryVolume: 1 }).reason)
      .toBe('volume 1 belongs to local mirror pair 1; a volume is in a remote-copy pair or a mirror pair, not both');
    must(m.deletePair(1));
    expect(h.mem.volumes.mirrorNumber(1)).toBe(0);
    expect(m.status(1).reason).toBe('mirror pair 1 is not defined');
  });
});

describe('write 3000 (behaviours 4–7)', () => {
  for (const e of ['E1', 'E2a', 'E2b'] as const) {
    it(`4: ${e}: in mirror (both sub-states) a write updates P and S and sets 230${e === 'E2b' ? ' only' : ' and 240'}`, () => {
      const h = mirrorSystem();
      formed(h, e);
      writeOk(h, 0, 1, 3 * TRACK + 1, block(7));
      expect(peek(h, 1, 3 * TRACK + 1, 1)).toEqual(block(7));
      expect(peek(h, 2, 3 * TRACK + 1, 1)).toEqual(block(7));
      expect(bits(h, '230')).toEqual([3]);
      expect(bits(h, '240')).toEqual(e === 'E2b' ? [] : [3]);
    });
  }

  it('4: a write while synchronising is duplicated too', () => {
    const h = mirrorSystem();
    must(h.maintenance.mirror.createPair(1, { primary: 1, secondary: 2 }));
    must(h.maintenance.mirror.form(1));
    h.ca[0]!.step();
    expect(state(h)).toBe('mirror/synchronising');
    writeOk(h, 1, 1, 1000, block(9));
    expect(peek(h, 2, 1000, 1)).toEqual(block(9));
    expect(bits(h, '230')).toEqual([7]);
    expect(bits(h, '240')).toEqual([7]);
  });

  it('5: in split (and separated) a write updates P only; S byte for byte unchanged, 240 unchanged, 230 gets the bit', () => {
    const h = mirrorSystem();
    must(h.maintenance.mirror.createPair(1, { primary: 1, secondary: 2 }));
    writeOk(h, 0, 1, 10, block(1));
    expect(bits(h, '230')).toEqual([0]);
    expect(peek(h, 2, 10, 1)).toEqual(new Uint8Array(BLOCK));
    must(h.maintenance.mirror.form(1));
    settle(h, 1);
    writeOk(h, 0, 1, 2 * TRACK, block(2));
    must(h.maintenance.mirror.split(1));
    settle(h, 1);
    const s = Buffer.from(volumeBytes(h, 2));
    const before240 = bits(h, '240');
    writeOk(h, 0, 1, 5 * TRACK + 3, block(3));
    expect(Buffer.from(volumeBytes(h, 2)).equals(s)).toBe(true);
    expect(bits(h, '240')).toEqual(before240);
    expect(bits(h, '230')).toEqual([5]);
    expect(peek(h, 1, 5 * TRACK + 3, 1)).toEqual(block(3));
  });

  it('5: a host write naming the secondary is refused in mirror and split (DATA_PROTECT), allowed while separated', () => {
    const h = mirrorSystem();
    must(h.maintenance.mirror.createPair(1, { primary: 1, secondary: 2 }));
    writeOk(h, 0, 2, 0, block(4));
    must(h.maintenance.mirror.form(1));
    settle(h, 1);
    const s = Buffer.from(volumeBytes(h, 2));
    let r = h.write(0, 2, 0, block(5));
    expect([r.status, r.senseKey, r.reason]).toEqual([ScsiStatus.CHECK_CONDITION, SenseKey.DATA_PROTECT, Reason.MIRROR_SECONDARY]);
    must(h.maintenance.mirror.split(1));
    settle(h, 1);
    r = h.write(1, 2, 8, block(6));
    expect(r.reasonText).toBe('logical volume is the secondary of a mirror pair; host writes must name the primary');
    expect(Buffer.from(volumeBytes(h, 2)).equals(s)).toBe(true);
  });

  it('6: a write spanning units sets each; rewriting a unit n times sets one bit; sector and cylinder units map differently', () => {
    const h = mirrorSystem();
    formed(h, 'E1', 'track');
    h.write(0, 1, TRACK - 2, pattern(4 * BLOCK, 1)); // blocks 126..129: tracks 0 and 1
    for (let i = 0; i < 5; i++) writeOk(h, 1, 1, 6 * TRACK, block(i));
    expect(bits(h, '230')).toEqual([0, 1, 6]);
    expect(must(h.maintenance.mirror.status(1)).updated230).toBe(3);
    const s = mirrorSystem();
    formed(s, 'E1', 'sector');
    writeOk(s, 0, 1, TRACK - 2, pattern(4 * BLOCK, 1));
    expect(bits(s, '230')).toEqual([126, 127, 128, 129]);
    const c = mirrorSystem();
    formed(c, 'E1', 'cylinder');
    writeOk(c, 0, 1, 1000, block(1));
    expect(bits(c, '230')).toEqual([0]);
    expect(must(c.maintenance.mirror.status(1)).units).toBe(1);
  });

  it('7: no old data is read on the write path; a split write costs one device write, a mirrored one two', () => {
    const h = mirrorSystem();
    formed(h);
    flush(h);
    const stages = total(h, Stat.STAGE_REQUESTS);
    let destaged = total(h, Stat.DESTAGE_BLOCKS);
    writeOk(h, 0, 1, 40, block(1));
    flush(h);
    expect(total(h, Stat.DESTAGE_BLOCKS) - destaged).toBe(2);
    must(h.maintenance.mirror.split(1));
    settle(h, 1);
    destaged = total(h, Stat.DESTAGE_BLOCKS);
    writeOk(h, 0, 1, 48, block(2));
    flush(h);
    expect(total(h, Stat.DESTAGE_BLOCKS) - destaged).toBe(1);
    expect(total(h, Stat.STAGE_REQUESTS)).toBe(stages);
  });
});

describe('split 4000 (behaviours 8–11)', () => {
  it('8: E1: after a split 230 is all zero and 240 keeps its pre-split value, equal to the pre-split 230', () => {
    const h = mirrorSystem();
    formed(h, 'E1');
    writeOk(h, 0, 1, 0, block(1));
    writeOk(h, 0, 1, 4 * TRACK, block(2));
    expect(bits(h, '230')).toEqual([0, 4]);
    expect(bits(h, '240')).toEqual([0, 4]);
    const r = hostSplit(h);
    expect([r.status, r.info0, r.info2]).toEqual([ScsiStatus.GOOD, 3, 1]); // state split, split sequence 1
    expect(bits(h, '230')).toEqual([]);
    expect(bits(h, '240')).toEqual([0, 4]);
  });

  for (const e of ['E2a', 'E2b'] as const) {
    it(`9: ${e}: after a split 240 equals the pre-split 230 and 230 is all zero (copy before clear)`, () => {
      const h = mirrorSystem();
      formed(h, e);
      writeOk(h, 0, 1, 2 * TRACK, block(1));
      writeOk(h, 0, 1, 7 * TRACK, block(2));
      expect(bits(h, '230')).toEqual([2, 7]);
      hostSplit(h);
      expect(bits(h, '240')).toEqual([2, 7]);
      expect(bits(h, '230')).toEqual([]);
    });
  }

  it('10: writes arriving during the split are held as tasks, then land on P only in the new 230; S equals snap(T)', () => {
    const h = mirrorSystem();
    formed(h, 'E1');
    // W1 is admitted and stuck on a slot the test holds: the split must wait for it.
    const slot = h.cache.obtain(1, 0, { value: false });
    expect(h.cache.tryLockSlot(slot)).toBe(true);
    const w1 = h.submit(1, HostOp.WRITE, 1, 0, BLOCK, block(1));
    h.ca[1]!.step();
    const word = h.mem.mirrors.word(1, MirrorWord.WRITES_ACTIVE);
    expect(Atomics.load(h.mem.mirrors.words, word)).toBe(1);
    must(h.maintenance.mirror.split(1));
    h.ca[0]!.step(); // 4020: hold; the split waits for W1
    const opTask = (h.mem.geometry.mirrorTaskBase) * TASK_WORDS;
    expect([h.mem.tasks[opTask + T.STATE], h.mem.tasks[opTask + T.WAIT]]).toEqual([TaskState.WAITING, TaskWait.MIRROR_HOLD]);
    expect(state(h)).toBe('mirror/synchronised');
    // W2 arrives during the split: held, as a waiting task, not rejected.
    const w2 = h.submit(0, HostOp.WRITE, 1, 3 * TRACK, BLOCK, block(2));
    h.ca[0]!.step();
    const t2 = 0 * TASK_WORDS;
    expect([h.mem.tasks[t2 + T.STATE], h.mem.tasks[t2 + T.WAIT]]).toEqual([TaskState.WAITING, TaskWait.MIRROR_HOLD]);
    h.cache.unlockSlot(slot);
    h.cache.unpin(slot);
    expect(h.finish(1, w1).status).toBe(ScsiStatus.GOOD);
    expect(h.finish(0, w2).status).toBe(ScsiStatus.GOOD);
    expect(state(h)).toBe('split');
    expect(peek(h, 2, 0, 1)).toEqual(block(1)); // W1 was before T: in S
    expect(peek(h, 2, 3 * TRACK, 1)).toEqual(new Uint8Array(BLOCK)); // W2 after T: not in S
    expect(peek(h, 1, 3 * TRACK, 1)).toEqual(block(2));
    expect(bits(h, '230')).toEqual([3]);
  });

  it('power-off waits for a split that holds writes: its adapter does not finish before the split does', () => {
    const h = mirrorSystem();
    formed(h, 'E1');
    const slot = h.cache.obtain(1, 0, { value: false });
    expect(h.cache.tryLockSlot(slot)).toBe(true);
    const w1 = h.submit(1, HostOp.WRITE, 1, 0, BLOCK, block(1)); // admitted on CA 1, stuck on the slot
    h.ca[1]!.step();
    must(h.maintenance.mirror.split(1));
    h.ca[0]!.step(); // CA 0 owns pair 1: the split holds writes and waits for W1
    requestPowerOff(h.mem);
    for (let i = 0; i < 5; i++) h.ca[0]!.step();
    expect(h.ca[0]!.finished()).toBe(false);
    h.cache.unlockSlot(slot);
    h.cache.unpin(slot);
    expect(h.finish(1, w1).status).toBe(ScsiStatus.GOOD);
    for (let i = 0; i < 1000 && !h.ca.every((c) => c.finished()); i++) h.round();
    expect(h.ca.every((c) => c.finished())).toBe(true);
    expect(state(h)).toBe('split');
  });

  it('11: while split S stays snap(T) and every unit where P and S differ is in 230 (all variants)', () => {
    for (const e of ['E1', 'E2a', 'E2b'] as const) {
      const h = mirrorSystem();
      formed(h, e);
      writeOk(h, 0, 1, 100, block(1));
      hostSplit(h);
      const snap = Buffer.from(volumeBytes(h, 1));
      for (let i = 0; i < 6; i++) writeOk(h, i % 2, 1, (i * 173) % 1024, block(10 + i));
      expect(Buffer.from(volumeBytes(h, 2)).equals(snap)).toBe(true);
      const p = volumeBytes(h, 1);
      const s = volumeBytes(h, 2);
      const differing = new Set<number>();
      for (let b = 0; b < 1024; b++) if (!Buffer.from(p.subarray(b * BLOCK, (b + 1) * BLOCK)).equals(Buffer.from(s.subarray(b * BLOCK, (b + 1) * BLOCK)))) differing.add(Math.floor(b / TRACK));
      for (const u of differing) expect(bits(h, '230')).toContain(u);
    }
  });
});

describe('holding writes (behaviour 28)', () => {
  it('28: a write during the dump loop (split, between 1010 and 1070) is never held: it completes in one step of its adapter', () => {
    const h = mirrorSystem();
    formed(h, 'E1');
    hostSplit(h);
    const slot = h.submit(1, HostOp.WRITE, 1, 77, BLOCK, block(1));
    h.ca[1]!.step();
    expect(h.ports.isComplete(1, slot)).toBe(true);
    expect(h.finish(1, slot).status).toBe(ScsiStatus.GOOD);
    // And while mirrored, the same.
    hostResync(h);
    const again = h.submit(1, HostOp.WRITE, 1, 78, BLOCK, block(2));
    h.ca[1]!.step();
    expect(h.ports.isComplete(1, again)).toBe(true);
    h.finish(1, again);
  });
});

describe('update information transfer 6000 and dump read 7000 (behaviours 12, 13, 27)', () => {
  it('12: returns 240 whichever member is named, modifies nothing, and repeats identically while split', () => {
    const h = mirrorSystem();
    formed(h, 'E1');
    writeOk(h, 0, 1, 5 * TRACK, block(1));
    writeOk(h, 0, 1, 1 * TRACK, block(2));
    hostSplit(h);
    writeOk(h, 0, 1, 0, block(3));
    const a = updateInfo(h, 1);
    const b = updateInfo(h, 2);
    expect(a.status).toBe(ScsiStatus.GOOD);
    expect(units(a.data)).toEqual([1, 5]);
    expect(Buffer.from(b.data).equals(Buffer.from(a.data))).toBe(true);
    expect([a.info0, a.info1, a.info2]).toEqual([8, TRACK, 1]);
    expect(bits(h, '230')).toEqual([0]);
    expect(bits(h, '240')).toEqual([1, 5]);
    expect(updateInfo(h, 5).reason).toBe(Reason.NOT_MIRRORED);
    expect(h.finish(0, h.submit(0, HostOp.UPDATE_INFO, 1, 1000, 100)).reason).toBe(Reason.LBA_OUT_OF_RANGE);
  });

  it('13, 27: a dump read returns S even when P is named; later writes to P do not change it; no primary reads', () => {
    const h = mirrorSystem();
    formed(h, 'E1');
    writeOk(h, 0, 1, 2 * TRACK, pattern(4 * BLOCK, 1));
    expect(h.finish(0, h.submit(0, HostOp.DUMP_READ, 1, 0, BLOCK)).reason).toBe(Reason.MIRROR_STATE); // not split
    hostSplit(h);
    writeOk(h, 1, 1, 2 * TRACK, pattern(4 * BLOCK, 2));
    const r = h.finish(0, h.submit(0, HostOp.DUMP_READ, 1, 2 * TRACK, 4 * BLOCK));
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect(r.data).toEqual(pattern(4 * BLOCK, 1));
    const s = must(h.maintenance.mirror.status(1));
    expect([s.dumpReadBlocks, s.primaryReadBlocks]).toEqual([4, 0]);
  });
});

describe('resync 5000 (behaviours 14–17)', () => {
  it('14: E1: after resync mirror/synchronised, S == P, 240 == 230 == the writes since the split (during the dump and the resync)', () => {
    const h = mirrorSystem();
    formed(h, 'E1');
    writeOk(h, 0, 1, 0, block(1));
    hostSplit(h);
    writeOk(h, 0, 1, 2 * TRACK, block(2)); // during the dump
    must(h.maintenance.mirror.resync(1));
    h.ca[0]!.step(); // 5030–5050 done; copying
    expect(state(h)).toBe('mirror/synchronising');
    expect(bits(h, '240')).toEqual([]);
    writeOk(h, 1, 1, 6 * TRACK, block(3)); // during synchronising: both maps
    expect(bits(h, '240')).toEqual([6]);
    settle(h, 1);
    expect(state(h)).toBe('mirror/synchronised');
    expect(Buffer.from(volumeBytes(h, 2)).equals(Buffer.from(volumeBytes(h, 1)))).toBe(true);
    expect(bits(h, '230')).toEqual([2, 6]);
    expect(bits(h, '240')).toEqual([2, 6]);
  });

  it('15: E1: in mirror/synchronised 230 == 240 after every write', () => {
    const h = mirrorSystem();
    formed(h, 'E1');
    for (let i = 0; i < 8; i++) {
      writeOk(h, i % 2, 1, (i * 301) % 1024, block(i));
      expect(bits(h, '240')).toEqual(bits(h, '230'));
    }
  });

  for (const e of ['E2a', 'E2b'] as const) {
    it(`16: ${e}: resync never touches 230 or 240 except through writes made while synchronising`, () => {
      const h = mirrorSystem();
      formed(h, e);
      writeOk(h, 0, 1, 1 * TRACK, block(1));
      hostSplit(h); // 240 = {1}, 230 = {}
      writeOk(h, 0, 1, 4 * TRACK, block(2)); // 230 = {4}
      must(h.maintenance.mirror.resync(1));
      h.ca[0]!.step();
      expect([bits(h, '230'), bits(h, '240')]).toEqual([[4], [1]]);
      writeOk(h, 1, 1, 7 * TRACK, block(3));
      settle(h, 1);
      expect(bits(h, '230')).toEqual([4, 7]);
      expect(bits(h, '240')).toEqual(e === 'E2a' ? [1, 7] : [1]);
      expect(Buffer.from(volumeBytes(h, 2)).equals(Buffer.from(volumeBytes(h, 1)))).toBe(true);
    });
  }

  it('17: a write during synchronising ends with S == P == the new data; the copy never leaves a stale value', () => {
    const h = mirrorSystem();
    formed(h, 'E1', 'sector');
    hostSplit(h);
    for (let b = 0; b < 1024; b += 8) writeOk(h, 0, 1, b, block(b)); // every slot differs
    must(h.maintenance.mirror.resync(1));
    // Interleave writes to slots the copy has not reached yet and ones it has.
    for (let i = 0; i < 40; i++) {
      h.round();
      writeOk(h, i % 2, 1, (i * 97) % 1024, block(5000 + i));
    }
    settle(h, 1);
    expect(Buffer.from(volumeBytes(h, 2)).equals(Buffer.from(volumeBytes(h, 1)))).toBe(true);
    for (let i = 0; i < 40; i++) {
      const b = (i * 97) % 1024;
      if (!(40 > i + 1 && Array.from({ length: 40 - i - 1 }, (_, j) => (j + i + 1) * 97 % 1024).includes(b))) expect(peek(h, 2, b, 1)).toEqual(block(5000 + i));
    }
  });

  it('a delta resync copies only the slots of marked units; a full resync (the seed\'s example) copies the whole volume', () => {
    const h = mirrorSystem();
    formed(h, 'E1');
    hostSplit(h);
    writeOk(h, 0, 1, 3 * TRACK + 5, block(1));
    hostResync(h);
    expect(must(h.maintenance.mirror.status(1)).copiedBlocks).toBe(TRACK);
    const f = mirrorSystem();
    must(f.maintenance.mirror.createPair(1, { primary: 1, secondary: 2, resync: 'full' }));
    must(f.maintenance.mirror.form(1));
    settle(f, 1);
    hostSplit(f);
    writeOk(f, 0, 1, 3 * TRACK + 5, block(1));
    hostResync(f);
    expect(must(f.maintenance.mirror.status(1)).copiedBlocks).toBe(1024);
  });
});

describe('bitmap timelines', () => {
  it('§5.8 (E1): 230 and 240 at every moment of a cycle', () => {
    const h = mirrorSystem();
    formed(h, 'E1');
    const at = (): [number[], number[]] => [bits(h, '230'), bits(h, '240')];
    writeOk(h, 0, 1, 0 * TRACK, block(1));
    hostSplit(h); // T0
    writeOk(h, 0, 1, 1 * TRACK, block(2));
    hostResync(h);
    writeOk(h, 0, 1, 2 * TRACK, block(3)); // (T0, T1]
    expect(at()).toEqual([[1, 2], [1, 2]]); // mirror/synchronised: 240 stays equal to 230
    hostSplit(h); // T1
    expect(at()).toEqual([[], [1, 2]]); // after split 4040: 230 ∅, 240 = writes in (T0, T1]
    writeOk(h, 0, 1, 3 * TRACK, block(4)); // during the dump
    expect(at()).toEqual([[3], [1, 2]]);
    must(h.maintenance.mirror.resync(1));
    h.ca[0]!.step(); // 5030: 240 ∅
    expect(at()).toEqual([[3], []]);
    writeOk(h, 1, 1, 4 * TRACK, block(5)); // 5050–5060: both
    expect(at()).toEqual([[3, 4], [4]]);
    settle(h, 1); // 5070: 240 := 230
    expect(at()).toEqual([[3, 4], [3, 4]]);
    writeOk(h, 0, 1, 5 * TRACK, block(6));
    expect(at()).toEqual([[3, 4, 5], [3, 4, 5]]);
    hostSplit(h); // T2
    expect(at()).toEqual([[], [3, 4, 5]]);
  });

  for (const e of ['E2a', 'E2b'] as const) {
    it(`§6.4 (${e}): 240 := 230 then 230 := ∅ at each split; 240 stale between dumps`, () => {
      const h = mirrorSystem();
      formed(h, e);
      const at = (): [number[], number[]] => [bits(h, '230'), bits(h, '240')];
      writeOk(h, 0, 1, 0, block(1));
      hostSplit(h); // T0
      expect(at()).toEqual([[], [0]]);
      writeOk(h, 0, 1, 1 * TRACK, block(2));
      expect(at()).toEqual([[1], [0]]);
      hostResync(h);
      expect(at()).toEqual([[1], [0]]);
      writeOk(h, 0, 1, 2 * TRACK, block(3));
      expect(at()).toEqual([[1, 2], e === 'E2a' ? [0, 2] : [0]]);
      hostSplit(h); // T1
      expect(at()).toEqual([[], [1, 2]]);
    });
  }
});

describe('mirror-info 250 record layout', () => {
  it('matches its documented table', () => {
    expect(MIRROR_INFO.size).toBe(128);
    expect(MIRROR_INFO.fields.map((f) => [f.name, f.offset, f.size, f.type])).toEqual([
      ['number', 0, 4, 'u32'], ['state', 4, 1, 'u8'], ['sub_state', 5, 1, 'u8'], ['embodiment', 6, 1, 'u8'], ['flags', 7, 1, 'u8'],
      ['primary_volume', 8, 4, 'u32'], ['secondary_volume', 12, 4, 'u32'], ['unit_blocks', 16, 4, 'u32'], ['units', 20, 4, 'u32'],
      ['hold', 24, 4, 'i32'], ['writes_active', 28, 4, 'i32'], ['operation', 32, 4, 'i32'], ['split_sequence', 36, 4, 'u32'],
      ['split_ms', 40, 8, 'f64'], ['copied_blocks', 48, 4, 'u32'], ['last_result', 52, 4, 'u32'], ['dump_read_blocks', 56, 4, 'i32'],
      ['primary_read_blocks', 60, 4, 'i32'], ['operations_done', 64, 4, 'i32'],
    ]);
    const h = mirrorSystem();
    formed(h, 'E2b', 'sector');
    const raw = new DataView(h.mem.controlBuffer, h.mem.mirrors.byteOffset + h.mem.mirrors.stride);
    expect([raw.getUint32(0, true), raw.getUint8(4), raw.getUint8(5), raw.getUint8(6), raw.getUint32(8, true), raw.getUint32(12, true), raw.getUint32(16, true), raw.getUint32(20, true)])
      .toEqual([1, 2, 2, 3, 1, 2, 1, 1024]);
    // The maintenance port reads the record field by field.
    expect(must(h.maintenance.readControlBlock('mirror', 1))).toMatchObject({
      number: 1, state: 2, sub_state: 2, embodiment: 3, flags: 0, primary_volume: 1, secondary_volume: 2, unit_blocks: 1, units: 1024,
      hold: 0, writes_active: 0, operation: 0, split_sequence: 0, copied_blocks: 1024, last_result: 0, operations_done: 1,
    });
    expect(h.maintenance.readControlBlock('mirror', 5).reason).toBe('mirror pair record 5 is outside 0..4');
    writeOk(h, 0, 1, 9, block(1));
    // 230 starts right after the 128-byte record: unit 9 is bit 1 of byte 1.
    expect(raw.getUint8(128 + 1)).toBe(2);
    expect(h.mem.mirrors.bitmapWord(1, BITMAP_240) - h.mem.mirrors.bitmapWord(1, BITMAP_230)).toBe(1024 / 4);
    expect(bm(1, BITMAP_230)).toBe(2);
  });
});
