// Local mirror pair commands of the maintenance port (seed 004): create a pair (分離状態,
// separated), form it (-> ミラー), split and resync it as an operator, delete it, and show the
// volume state information 250 the way Fig. 3 does. Every command checks everything first and
// returns a status and a reason; a rejected command changes nothing.
//
// Split, resync and formation start the pair's operation on its mirror service task
// (mirror.ts) and return at once; `status(pair).operation` says when it has ended and
// `lastResult` how. The host's own split and resync commands (dump acquisition 1000) start the
// same operations through the host port.

import type { ControlMemory } from './layout.ts';
import type { MaintResult } from './maintenance.ts';
import { MirrorBitmaps, bm, startOperation } from './mirror.ts';
import {
  BITMAP_230, BITMAP_240, EMBODIMENT_NAME, Embodiment, MIRROR_OP_NAME, MIRROR_RESULT_NAME, MIRROR_STATE_NAME, MIRROR_SUB_NAME, MirrorFlag, MirrorOp,
  MirrorState, MirrorWord, UNIT_BLOCKS, type UnitName,
} from './structs/mirror-info.ts';
import { NO_DRIVE, VOLUME_FLAG_JOURNAL, VOLUME_STATE_NAME, VolumeState } from './structs/volume-info.ts';

export interface MirrorPairOptions {
  primary: number;
  secondary: number;
  /** E1 (default), E2a (Fig. 6 write) or E2b (Fig. 14 write). */
  embodiment?: 'E1' | 'E2a' | 'E2b';
  /** Bitmap unit: sector, track (default) or cylinder. */
  unit?: UnitName;
  /** Keep 230 and 240 across power-off (needs the configuration's mirrorNv extent). */
  nonVolatile?: boolean;
  /** Resync copies only the units marked in 230 ('delta', default) or the whole volume ('full', the seed's example). */
  resync?: 'delta' | 'full';
}

export interface MirrorView {
  pair: number;
  state: string;
  subState: string;
  embodiment: string;
  primary: number;
  secondary: number;
  unit: string;
  unitBlocks: number;
  units: number;
  nonVolatile: boolean;
  fullResync: boolean;
  bitmapsLost: boolean;
  /** Units marked in 230 and in 240. */
  updated230: number;
  updated240: number;
  splitSequence: number;
  splitMs: number;
  /** The operation running, or 'none'. */
  operation: string;
  lastResult: string;
  hold: boolean;
  writesActive: number;
  copiedBlocks: number;
  dumpReadBlocks: number;
  primaryReadBlocks: number;
}

/** One row of Fig. 3: volume number, volume state, sub-state ("—" outside the mirror state). */
export interface StateRow {
  volume: number;
  pair: number;
  role: 'primary' | 'secondary';
  state: string;
  subState: string;
}

const ok = <T>(data?: T): MaintResult<T> => (data === undefined ? { status: 'ok', reason: 'ok' } : { status: 'ok', reason: 'ok', data });
const rejected = <T = undefined>(reason: string): MaintResult<T> => ({ status: 'rejected', reason });

const EMBODIMENTS = { E1: Embodiment.E1, E2a: Embodiment.E2A, E2b: Embodiment.E2B } as const;

export class MirrorCommands {
  private readonly bitmaps: MirrorBitmaps;

  constructor(
    private readonly mem: ControlMemory,
    /** The maintenance port's lock around table changes, and its count of a volume's host commands in progress. */
    private readonly locked: <T>(body: () => MaintResult<T>) => MaintResult<T>,
    private readonly commandsInProgress: (volume: number) => number,
  ) {
    this.bitmaps = new MirrorBitmaps(mem);
  }

  /** Defines a pair in the separated state (分離状態); `form` then makes it a mirror. */
  createPair(pair: number, o: MirrorPairOptions): MaintResult<MirrorView> {
    const { mem } = this;
    const { mirrors, volumes } = mem;
    if (!mirrors.exists(pair)) return rejected(`mirror pair ${pair} is outside 1..${mirrors.count - 1}`);
    const embodiment = o.embodiment ?? 'E1';
    if (!(embodiment in EMBODIMENTS)) return rejected(`embodiment '${String(embodiment)}' must be E1, E2a or E2b`);
    const unit = o.unit ?? 'track';
    if (!(unit in UNIT_BLOCKS)) return rejected(`unit '${String(unit)}' must be sector, track or cylinder`);
    const resync = o.resync ?? 'delta';
    if (resync !== 'delta' && resync !== 'full') return rejected(`resync '${String(resync)}' must be delta or full`);
    if (o.nonVolatile === true && mem.config.mirrorNv === undefined) return rejected('a non-volatile pair needs the configuration\'s mirrorNv extent (where its bitmaps are kept across power-off)');
    if (o.primary === o.secondary) return rejected(`the primary and the secondary must be two volumes (both are ${o.primary})`);
    for (const [role, v] of [['primary', o.primary], ['secondary', o.secondary]] as const) {
      if (!volumes.exists(v) || volumes.number(v) === 0) return rejected(`${role} volume ${v} is not defined`);
      const state = volumes.state(v);
      if (state !== VolumeState.NORMAL) return rejected(`${role} volume ${v} is ${VOLUME_STATE_NAME[state]}; a mirror pair needs normal volumes (not remote-copy volumes)`);
      if ((volumes.flags(v) & VOLUME_FLAG_JOURNAL) !== 0) return rejected(`${role} volume ${v} is a journal volume`);
      if (volumes.driveNumber(v) === NO_DRIVE) return rejected(`${role} volume ${v} has no storage`);
      if (volumes.mirrorNumber(v) !== 0) return rejected(`${role} volume ${v} already belongs to mirror pair ${volumes.mirrorNumber(v)}`);
    }
    const capacity = volumes.capacityBlocks(o.primary);
    if (volumes.capacityBlocks(o.secondary) !== capacity) {
      return rejected(`the secondary's capacity (${volumes.capacityBlocks(o.secondary)} blocks) must equal the primary's (${capacity} blocks)`);
    }
    const unitBlocks = UNIT_BLOCKS[unit];
    const units = Math.ceil(capacity / unitBlocks);
    if (units > mirrors.bitmapBytes * 8) {
      return rejected(`a ${unit} bitmap of ${capacity} blocks needs ${units} bits; each bitmap holds ${mirrors.bitmapBytes * 8} (choose a larger unit or mirrorBitmapBytes)`);
    }
    return this.locked(() => {
      if (mirrors.state(pair) !== MirrorState.UNUSED) return rejected(`mirror pair ${pair} is already defined (${MIRROR_STATE_NAME[mirrors.state(pair)]})`);
      for (const v of [o.primary, o.secondary]) {
        if (volumes.mirrorNumber(v) !== 0) return rejected(`volume ${v} already belongs to mirror pair ${volumes.mirrorNumber(v)}`);
        // A write admitted before the pair existed would not be counted by a split: none may be in flight.
        if (this.commandsInProgress(v) > 0) return rejected(`volume ${v} has commands in progress; retry when they have completed`);
      }
      const flags = (o.nonVolatile === true ? MirrorFlag.NONVOLATILE : 0) | (resync === 'full' ? MirrorFlag.FULL_RESYNC : 0);
      mirrors.define(pair, o.primary, o.secondary, EMBODIMENTS[embodiment], flags, unitBlocks, units);
      volumes.setMirrorNumber(o.primary, pair);
      volumes.setMirrorNumber(o.secondary, pair);
      return ok(this.view(pair));
    });
  }

  /** Pair formation: separated -> mirror/synchronising -> mirror/synchronised (whole-volume copy). */
  form(pair: number): MaintResult {
    return this.start(pair, MirrorOp.FORM);
  }

  /** Mirror temporary cancellation 4000, started by the operator. */
  split(pair: number): MaintResult {
    return this.start(pair, MirrorOp.SPLIT);
  }

  /** Mirror resync 5000, started by the operator. */
  resync(pair: number): MaintResult {
    return this.start(pair, MirrorOp.RESYNC);
  }

  /**
   * Deletes a pair in any state (the model's transition to "no pair"; the seed describes none):
   * the two volumes become unrelated normal volumes. Refused while an operation runs or a write
   * to the pair is in flight.
   */
  deletePair(pair: number): MaintResult {
    const { mirrors, volumes } = this.mem;
    if (!mirrors.exists(pair) || mirrors.state(pair) === MirrorState.UNUSED) return rejected(`mirror pair ${pair} is not defined`);
    return this.locked(() => {
      const opWord = mirrors.word(pair, MirrorWord.OPERATION);
      if (Atomics.compareExchange(mirrors.words, opWord, MirrorOp.NONE, MirrorOp.DELETE) !== MirrorOp.NONE) {
        return rejected(`mirror pair ${pair}: a ${MIRROR_OP_NAME[mirrors.operation(pair)]} operation is in progress`);
      }
      const hold = mirrors.word(pair, MirrorWord.HOLD);
      Atomics.store(mirrors.words, hold, 1);
      if (Atomics.load(mirrors.words, mirrors.word(pair, MirrorWord.WRITES_ACTIVE)) !== 0) {
        Atomics.store(mirrors.words, hold, 0);
        Atomics.store(mirrors.words, opWord, MirrorOp.NONE);
        return rejected(`mirror pair ${pair} has writes in flight; retry`);
      }
      volumes.setMirrorNumber(mirrors.primaryVolume(pair), 0);
      volumes.setMirrorNumber(mirrors.secondaryVolume(pair), 0);
      mirrors.erase(pair); // also releases hold and operation
      return ok();
    });
  }

  status(pair: number): MaintResult<MirrorView> {
    const { mirrors } = this.mem;
    if (!mirrors.exists(pair)) return rejected(`mirror pair ${pair} is outside 1..${mirrors.count - 1}`);
    if (mirrors.state(pair) === MirrorState.UNUSED) return rejected(`mirror pair ${pair} is not defined`);
    return ok(this.view(pair));
  }

  /** Volume state information 250 as Fig. 3 shows it: one row per volume of every pair. */
  stateTable(): MaintResult<StateRow[]> {
    const { mirrors } = this.mem;
    const rows: StateRow[] = [];
    for (let m = 1; m < mirrors.count; m++) {
      const state = mirrors.state(m);
      if (state === MirrorState.UNUSED) continue;
      const subState = state === MirrorState.MIRROR ? MIRROR_SUB_NAME[mirrors.subState(m)] ?? '?' : '—';
      rows.push({ volume: mirrors.primaryVolume(m), pair: m, role: 'primary', state: MIRROR_STATE_NAME[state], subState });
      rows.push({ volume: mirrors.secondaryVolume(m), pair: m, role: 'secondary', state: MIRROR_STATE_NAME[state], subState });
    }
    rows.sort((a, b) => a.volume - b.volume);
    return ok(rows);
  }

  /** The units marked in 230 or 240, in order. */
  bitmap(pair: number, which: '230' | '240'): MaintResult<number[]> {
    const { mirrors } = this.mem;
    if (!mirrors.exists(pair) || mirrors.state(pair) === MirrorState.UNUSED) return rejected(`mirror pair ${pair} is not defined`);
    if (which !== '230' && which !== '240') return rejected(`bitmap '${String(which)}' must be 230 or 240`);
    return ok(this.bitmaps.list(bm(pair, which === '230' ? BITMAP_230 : BITMAP_240)));
  }

  private start(pair: number, op: number): MaintResult {
    const why = startOperation(this.mem, pair, op);
    return why === '' ? ok() : rejected(why);
  }

  private view(m: number): MirrorView {
    const { mirrors } = this.mem;
    const flags = mirrors.flags(m);
    const unitBlocks = mirrors.unitBlocks(m);
    const load = (w: number): number => Atomics.load(mirrors.words, mirrors.word(m, w));
    return {
      pair: m,
      state: MIRROR_STATE_NAME[mirrors.state(m)],
      subState: mirrors.state(m) === MirrorState.MIRROR ? MIRROR_SUB_NAME[mirrors.subState(m)] ?? '?' : '—',
      embodiment: EMBODIMENT_NAME[mirrors.embodiment(m)] ?? '?',
      primary: mirrors.primaryVolume(m),
      secondary: mirrors.secondaryVolume(m),
      unit: (Object.entries(UNIT_BLOCKS).find(([, b]) => b === unitBlocks)?.[0]) ?? `${unitBlocks} blocks`,
      unitBlocks,
      units: mirrors.units(m),
      nonVolatile: (flags & MirrorFlag.NONVOLATILE) !== 0,
      fullResync: (flags & MirrorFlag.FULL_RESYNC) !== 0,
      bitmapsLost: (flags & MirrorFlag.BITMAPS_LOST) !== 0,
      updated230: this.bitmaps.count(bm(m, BITMAP_230)),
      updated240: this.bitmaps.count(bm(m, BITMAP_240)),
      splitSequence: mirrors.splitSequence(m),
      splitMs: mirrors.splitMs(m),
      operation: MIRROR_OP_NAME[mirrors.operation(m)] ?? '?',
      lastResult: MIRROR_RESULT_NAME[mirrors.lastResult(m)] ?? '?',
      hold: load(MirrorWord.HOLD) !== 0,
      writesActive: load(MirrorWord.WRITES_ACTIVE),
      copiedBlocks: mirrors.copiedBlocks(m),
      dumpReadBlocks: load(MirrorWord.DUMP_READ_BLOCKS),
      primaryReadBlocks: load(MirrorWord.PRIMARY_READ_BLOCKS),
    };
  }
}

