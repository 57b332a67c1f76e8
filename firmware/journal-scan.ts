// Journal scan: which journals a journal volume holds, read from its drive alone. Pointer
// information 700 lives in volatile control memory, so after a power loss nothing says where the
// rings begin and end; what the drive holds must say it, and a recovery must trust only what
// checks out (guide: "every record read from a drive or a link is validated").
//
// What the firmware leaves on the drive (journal-create.ts, command-receive.ts S1360,
// journal-read.ts S1850):
//   - one update information per slot, slots in update-number order, wrapping at the end of the
//     update-information area; released records are not erased, so behind the oldest journal
//     held lie the previous lap's records, intact;
//   - write data in the write-data area, each journal's right after the previous one's, a record
//     straddling the end continues at the head (journal-ring.ts);
//   - the write data first, the update information last: a record whose update information
//     checks out had its data written before it — unless power failed with the two in different
//     states of destage, which the data checksum catches;
//   - an initial-copy record on a primary holds no write data (its data address is the primary
//     volume's own, seed 000 §6.5); on a secondary every record's data is in the journal volume.
//   - at most (slots - 1) records and fewer than (write-data area) bytes are held at once: a
//     store leaves newest != oldest in both rings (S1340/S1345).
//
// The scan:
//   1. reads every slot; a record is well formed if validateUpdateInfo accepts it, it carries
//      the expected group, and its write data lies where the ring can hold it;
//   2. takes the highest update number M of a well-formed record as the top and walks the ring
//      backwards from its slot, expecting M-1, M-2, ... in the slots before it. A step is good
//      if its slot holds exactly the expected number, its write data ends where the next
//      record's begins (or, across a hole, before), lies less than a whole write-data area
//      behind the topmost write data that checked out, and matches its data checksum. The walk takes at most (slots - 1) steps
//      and never goes below update number 1, or below `from` when the caller gives it;
//   3. the run is the deepest stretch of good steps: records above a bad step can only be
//      applied after the record that is damaged there, so they are never accepted across it.
//      The bad step right above the run is the torn tail; good records above it are counted as
//      discarded after a gap. Below the run lies the front: a record released and overwritten,
//      a slot never written, or a step that breaks the ring's rules.
//
// Without `from` the scan cannot tell a released record whose bytes are still intact from one
// still held: the run then reaches as far back as the drive's bytes allow, and a damaged
// record among released ones ends it there. A caller that knows the oldest number it holds
// (the secondary's restored number + 1, a saved pointer) passes it as `from`.
//
// A scan never throws: bytes of any kind give a report, and a drive that fails gives a status.

import { crc32c } from '../hal/crc32c.ts';
import { DriveStatus, type Drive } from '../hal/drive.ts';
import { BLOCK_BYTES } from './config.ts';
import { UI_SLOT_BYTES, advanceUi, advanceWd, uiAreaBytes, usedBytes, wdAreaBytes, wdPieces, type RingGeometry } from './journal-ring.ts';
import { UPDATE_INFO_BYTES } from './structs/update-info.ts';
import { decodeUpdateInfo, emptyUpdateInfo, isInitialCopy, validateUpdateInfo } from './structs/update-info-codec.ts';

/** Update-information slots one scan reads at most (512 MiB of update information). */
export const JOURNAL_SCAN_SLOTS_MAX = 1 << 20;
/** Largest write data of one record a scan reads (the buffer it allocates once). */
export const JOURNAL_SCAN_DATA_BYTES_MAX = 64 * 1024 * 1024;
/** Problem lines one report carries at most; the last one says how many more there were. */
export const JOURNAL_SCAN_PROBLEMS_MAX = 32;
/** Slots read from the drive in one request. */
const CHUNK_SLOTS = 64;

export interface JournalScanTarget {
  drive: Drive;
  /** The journal volume's first block on the drive (volume information's drive_start_block). */
  startBlock: number;
  /** The journal volume's capacity in blocks. */
  volumeBlocks: number;
  /** The rings as pointer information 700 holds them: ui_head, wd_head, capacity_bytes, ui_slot_bytes. */
  geometry: RingGeometry;
  /** The journal volume's number: write data "in the ring" names it as its data volume. */
  journalVolume: number;
  /** The group every record must carry (A on a primary, B on a secondary, as stored). */
  group: number;
  /** Largest data size of a record in blocks (maxTransferBytes / BLOCK_BYTES). */
  dataBlocksMax: number;
  /** The oldest update number the caller expects still held; the run never reaches below it. */
  from?: number;
}

export interface JournalScanSlot {
  /** Slot index in the update-information area (0 = the slot at ui_head). */
  slot: number;
  /** Byte position of the slot in the journal volume. */
  position: number;
  reason: string;
}

export interface JournalScanReport {
  /**
   * 'ok': the update-information area was read and every field below holds; 'bad-geometry': the
   * target does not describe a ring on the drive (problems say why), nothing was read;
   * 'drive-failed': the drive failed during the scan (problems say where), the fields are empty.
   */
  status: 'ok' | 'bad-geometry' | 'drive-failed';
  /** Update-information slots in the ring. */
  slots: number;
  /** Slots whose header bytes are all zero (never written). */
  slotsBlank: number;
  /** Slots holding something that is not a well-formed record: damaged header, unreadable, or write data where the ring cannot hold it. */
  slotsDamaged: number;
  /** Highest update number of a well-formed record of the group anywhere in the ring; 0: none. */
  highest: number;
  /** The run of consecutive update numbers accepted, oldest..newest; null: none. */
  oldest: number | null;
  newest: number | null;
  /** Journals in the run (newest - oldest + 1, or 0). */
  records: number;
  /** Records of the run whose write data is not in this journal volume: initial-copy records on a primary (seed 000 §6.5). */
  recordsWithoutData: number;
  /** Write data of the run in the write-data area, in bytes. */
  dataBytes: number;
  /** Position of the oldest record's update information; null without a run. */
  uiOldest: number | null;
  /** Where the next update information goes: the slot after the newest; null without a run. */
  uiNewest: number | null;
  /** Where the oldest write data of the run begins; null if the run holds no write data here. */
  wdOldest: number | null;
  /** Where the next write data goes: right after the run's newest write data; null as wdOldest. */
  wdNewest: number | null;
  /** The slot right after the run, when it holds a record that failed (it is discarded). */
  tornTail: JournalScanSlot | null;
  /** Well-formed, checked records with numbers above the torn tail: never accepted across the gap. */
  discardedAfterGap: number;
  /** Why the run begins where it does. */
  front: string;
  /** The caller's `from`, and whether every record from it to newest is held (null without it). */
  from: number | null;
  fromHeld: boolean | null;
  /** What an operator must know: the torn tail, a gap, damaged records beyond it, records missing from `from`. */
  problems: string[];
}

/** Reads the journal volume `target` describes and reports the journals it holds. Never throws. */
export function scanJournal(target: JournalScanTarget): JournalScanReport {
  const problems = geometryProblems(target);
  const slotBytes = target.geometry.uiSlot ?? UI_SLOT_BYTES;
  if (problems.length > 0) return emptyReport('bad-geometry', 0, target.from ?? null, problems);
  const slots = uiAreaBytes(target.geometry) / slotBytes;
  try {
    return new Scanner(target, slotBytes, slots).scan();
  } catch (e) {
    if (!(e instanceof DriveFailed)) throw e;
    return emptyReport('drive-failed', slots, target.from ?? null, [e.message]);
  }
}

function emptyReport(status: JournalScanReport['status'], slots: number, from: number | null, problems: string[]): JournalScanReport {
  return {
    status, slots, slotsBlank: 0, slotsDamaged: 0, highest: 0, oldest: null, newest: null, records: 0, recordsWithoutData: 0, dataBytes: 0,
    uiOldest: null, uiNewest: null, wdOldest: null, wdNewest: null, tornTail: null, discardedAfterGap: 0, front: 'nothing was read',
    from, fromHeld: from === null ? null : false, problems,
  };
}

const isCount = (n: unknown, min: number): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n >= min;

/** Why `target` does not describe a ring a scan can read; empty if it does. */
function geometryProblems(t: JournalScanTarget): string[] {
  const p: string[] = [];
  const g = t.geometry;
  const slotBytes = g.uiSlot ?? UI_SLOT_BYTES;
  const blockCount = t.drive.blockCount;
  if (!isCount(t.startBlock, 0) || !isCount(t.volumeBlocks, 1)) p.push(`volume blocks ${t.startBlock} + ${t.volumeBlocks}: a start block >= 0 and a capacity >= 1 block`);
  else if (t.startBlock + t.volumeBlocks > blockCount) p.push(`volume blocks ${t.startBlock}..${t.startBlock + t.volumeBlocks - 1} are beyond the drive's ${blockCount} blocks`);
  if (!isCount(slotBytes, BLOCK_BYTES) || slotBytes % BLOCK_BYTES !== 0) p.push(`update-information slot of ${slotBytes} bytes: a drive holds whole ${BLOCK_BYTES}-byte blocks`);
  const aligned = [g.uiHead, g.wdHead, g.capacity].every((x) => isCount(x, 0) && x % BLOCK_BYTES === 0);
  if (!aligned) p.push(`ring positions ui head ${g.uiHead}, wd head ${g.wdHead}, capacity ${g.capacity} must be whole blocks`);
  else if (!(g.uiHead < g.wdHead && g.wdHead < g.capacity)) p.push(`ring positions must satisfy ui head ${g.uiHead} < wd head ${g.wdHead} < capacity ${g.capacity}`);
  else if (isCount(t.volumeBlocks, 1) && g.capacity > t.volumeBlocks * BLOCK_BYTES) p.push(`ring capacity ${g.capacity} is beyond the volume's ${t.volumeBlocks * BLOCK_BYTES} bytes`);
  else if (isCount(slotBytes, BLOCK_BYTES)) {
    const slots = uiAreaBytes(g) / slotBytes;
    if (!Number.isInteger(slots) || slots < 2) p.push(`update-information area of ${uiAreaBytes(g)} bytes is not 2 or more slots of ${slotBytes} bytes`);
    else if (slots > JOURNAL_SCAN_SLOTS_MAX) p.push(`update-information area of ${slots} slots is more than a scan reads (${JOURNAL_SCAN_SLOTS_MAX})`);
  }
  if (!isCount(t.dataBlocksMax, 1) || t.dataBlocksMax * BLOCK_BYTES > JOURNAL_SCAN_DATA_BYTES_MAX) p.push(`largest record ${t.dataBlocksMax} blocks: 1..${JOURNAL_SCAN_DATA_BYTES_MAX / BLOCK_BYTES}`);
  if (!isCount(t.group, 1)) p.push(`group ${t.group}: a group number >= 1`);
  if (!isCount(t.journalVolume, 1)) p.push(`journal volume ${t.journalVolume}: a volume number >= 1`);
  if (t.from !== undefined && !isCount(t.from, 1)) p.push(`from ${t.from}: an update number >= 1`);
  return p;
}

class DriveFailed extends Error {
  override name = 'DriveFailed';
}

/** What one slot holds. */
const Slot = {
  /** A well-formed record of the group, its fields in Scanner.ui. */
  RECORD: 0,
  BLANK: 1,
  UNREADABLE: 2,
  /** The header fails validateUpdateInfo. */
  DAMAGED: 3,
  /** A valid header of another group: an earlier use of the volume. */
  FOREIGN: 4,
  /** A valid header of the group whose write data cannot lie where it says. */
  MISPLACED: 5,
} as const;

/** One step of the backward walk that did not check out. */
interface BadStep {
  step: number;
  slot: number;
  expected: number;
  reason: string;
}

/** A stretch of good steps of the walk: steps top..bottom, numbers M - top .. M - bottom. */
interface Stretch {
  top: number;
  bottom: number;
  topSlot: number;
  bottomSlot: number;
  /** Good steps above this stretch (beyond the bad step right above it). */
  goodAbove: number;
  /** The bad step right above (the torn tail), null at step 0. */
  above: BadStep | null;
  /** The first bad step below, null if the walk ended with this stretch. */
  below: BadStep | null;
  wdNewest: number;
  wdOldest: number;
  dataBytes: number;
  withoutData: number;
}

class Scanner {
  private readonly ui = emptyUpdateInfo();
  private readonly g: RingGeometry;
  private readonly wdArea: number;
  private readonly pieces = { firstBytes: 0, secondPosition: 0 };
  private readonly chunk: Uint8Array;
  private readonly chunkView: DataView;
  private readonly chunkUnreadable = new Uint8Array(CHUNK_SLOTS);
  private chunkFirst = -1;
  private readonly data: Uint8Array;
  /** Why the last slot examined is not a well-formed record. */
  private reason = '';

  constructor(private readonly t: JournalScanTarget, private readonly slotBytes: number, private readonly slots: number) {
    const g = t.geometry;
    this.g = { uiHead: g.uiHead, wdHead: g.wdHead, capacity: g.capacity, uiSlot: slotBytes };
    this.wdArea = wdAreaBytes(g);
    this.chunk = new Uint8Array(CHUNK_SLOTS * slotBytes);
    this.chunkView = new DataView(this.chunk.buffer);
    this.data = new Uint8Array(t.dataBlocksMax * BLOCK_BYTES);
  }

  scan(): JournalScanReport {
    const { t, slots } = this;
    const from = t.from ?? null;
    // 1. Every slot: counts, and the top — the highest number of a well-formed record.
    let blank = 0;
    let damaged = 0;
    let highest = 0;
    let topSlot = -1;
    let firstDamage: JournalScanSlot | null = null;
    for (let s = 0; s < slots; s++) {
      const kind = this.examine(s);
      if (kind === Slot.BLANK) blank++;
      else if (kind === Slot.DAMAGED || kind === Slot.UNREADABLE || kind === Slot.MISPLACED) {
        damaged++;
        firstDamage ??= this.slotAt(s, this.reason);
      } else if (kind === Slot.RECORD && this.ui.updateNumber > highest) {
        highest = this.ui.updateNumber;
        topSlot = s;
      }
    }
    const report: JournalScanReport = { ...emptyReport('ok', slots, from, []), slotsBlank: blank, slotsDamaged: damaged, highest };
    if (highest === 0) {
      report.front = 'no well-formed record of the group';
      if (damaged > 0) report.problems.push(`no valid record of group ${t.group}; ${damaged} of ${slots} slots hold damaged records (first: slot ${firstDamage!.slot}: ${firstDamage!.reason})`);
      if (from !== null) {
        // Nothing written yet is held in full by a caller who expects nothing before 1.
        report.fromHeld = from === 1;
        if (from > 1) report.problems.push(`updates from ${from} are expected, but no record was found`);
      }
      return report;
    }
    const stop = from ?? 1;
    if (stop > highest) {
      // Every record found is older than the caller holds: the journal is empty for it.
      report.front = `from ${stop}: every record found is older`;
      report.fromHeld = stop === highest + 1;
      report.tornTail = this.tailAfter(topSlot);
      if (stop > highest + 1) report.problems.push(`updates from ${stop} are expected, but the highest record found is ${highest}`);
      if (report.tornTail) report.problems.push(`torn tail at slot ${report.tornTail.slot}, after update ${highest}: ${report.tornTail.reason}`);
      return report;
    }

    // 2. Walk back from the top.
    const bad: BadStep[] = [];
    let last: BadStep | null = null;
    let run: Stretch | null = null;
    let goodSteps = 0;
    let previousGood = false;
    let wdTop = -1; // end of the topmost write data that checked out
    let dAbove = 0; // how far behind wdTop the nearest write data that checked out begins
    let chainIntact = true; // every step since that record held its expected record, whole
    for (let step = 0; step <= slots - 2 && highest - step >= stop; step++) {
      const s = (((topSlot - step) % slots) + slots) % slots;
      const expected = highest - step;
      const kind = this.examine(s);
      let reason: string | null = null;
      let reused = false;
      let inRing = false;
      let position = 0;
      let bytes = 0;
      if (kind !== Slot.RECORD) reason = this.reason;
      else if (this.ui.updateNumber !== expected) reason = `holds update ${this.ui.updateNumber}, expected ${expected}`;
      else {
        inRing = this.ui.dataVolume === t.journalVolume;
        if (inRing) {
          position = this.ui.dataPosition;
          bytes = this.ui.dataBlocks * BLOCK_BYTES;
          // Distances are measured back from the end of the topmost write data that checked out.
          const top = wdTop < 0 ? advanceWd(position, bytes, this.g) : wdTop;
          const d = usedBytes(top, position, this.wdArea) || this.wdArea;
          if (d >= this.wdArea) reason = `its write data at ${position} lies a whole write-data area behind update ${highest}'s: released`;
          else if (chainIntact && d - bytes !== dAbove) reason = `its write data (${bytes} bytes at ${position}) does not end where the next record's begins (${this.wdBehind(top, dAbove)})`;
          else if (d - bytes < dAbove) reason = `its write data (${bytes} bytes at ${position}) overlaps a later record's`;
          else reason = this.checkData(position, bytes, this.ui.dataChecksum);
          // Misplaced, and the records above leave no room for it: the write-data area cannot
          // hold it together with them (a store never fills the area), so its space went to them.
          if (reason !== null && wdTop >= 0 && dAbove + bytes >= this.wdArea) reused = true;
          if (reason === null) {
            // The reference for the records below: only write data that checked out.
            wdTop = top;
            dAbove = d;
            chainIntact = true;
          } else {
            chainIntact = false;
          }
        }
      }
      if (kind !== Slot.RECORD || this.ui.updateNumber !== expected) chainIntact = false; // a hole
      // Right below a run that checks out, a record the write-data area has no room left for
      // beside that run was released: its space went to later records (space is reused only
      // once freed). It is the front of the journal, not a hole, and nothing below it belongs to
      // the journal any more. A misplaced record with room for it stays a hole. (So does an
      // older lap's record in a slot: a release never rewrites a slot.)
      if (reused && previousGood && run !== null) {
        last = { step, slot: s, expected, reason: reason!.endsWith('released') ? reason! : `${reason!}: released, no room for it beside the records above` };
        run.below = last;
        break;
      }
      if (reason === null) {
        if (!previousGood) {
          run = { top: step, bottom: step, topSlot: s, bottomSlot: s, goodAbove: goodSteps, above: last, below: null, wdNewest: -1, wdOldest: -1, dataBytes: 0, withoutData: 0 };
        }
        run!.bottom = step;
        run!.bottomSlot = s;
        if (inRing) {
          if (run!.wdNewest < 0) run!.wdNewest = advanceWd(position, bytes, this.g);
          run!.wdOldest = position;
          run!.dataBytes += bytes;
        } else {
          run!.withoutData++;
        }
        goodSteps++;
      } else {
        last = { step, slot: s, expected, reason };
        if (previousGood) run!.below = last;
        if (bad.length < JOURNAL_SCAN_PROBLEMS_MAX) bad.push(last);
      }
      previousGood = reason === null;
    }

    // 3. The deepest stretch is the run.
    if (run === null) {
      const top = bad[0]!;
      report.tornTail = this.slotAt(top.slot, top.reason);
      report.front = `update ${top.expected} (slot ${top.slot}): ${top.reason}`;
      report.problems.push(`torn tail at slot ${top.slot}: ${top.reason}; no record before it checks out`);
      if (from !== null) report.problems.push(`updates ${from}..${highest} are not held: ${report.front}`);
      return report;
    }
    const oldest = highest - run.bottom;
    const newest = highest - run.top;
    report.oldest = oldest;
    report.newest = newest;
    report.records = newest - oldest + 1;
    report.recordsWithoutData = run.withoutData;
    report.dataBytes = run.dataBytes;
    report.uiOldest = this.g.uiHead + run.bottomSlot * this.slotBytes;
    report.uiNewest = advanceUi(this.g.uiHead + run.topSlot * this.slotBytes, 1, this.g);
    report.wdOldest = run.wdOldest < 0 ? null : run.wdOldest;
    report.wdNewest = run.wdNewest < 0 ? null : run.wdNewest;
    report.discardedAfterGap = run.goodAbove;
    report.front = run.below !== null ? `update ${run.below.expected} (slot ${run.below.slot}): ${run.below.reason}`
      : oldest === stop ? (from !== null ? `from ${from}` : 'update 1 is the first')
        : `the update-information ring holds at most ${slots - 1} records`;
    report.fromHeld = from === null ? null : oldest === from;
    if (run.above !== null) {
      report.tornTail = this.slotAt(run.above.slot, run.above.reason);
      if (run.goodAbove > 0) {
        report.problems.push(`gap at slot ${run.above.slot}, after update ${newest}: ${run.above.reason}; ${run.goodAbove} valid record(s) beyond it, up to update ${highest}, discarded: a journal is never accepted across a gap`);
      } else {
        report.problems.push(`torn tail at slot ${run.above.slot}, after update ${newest}: ${run.above.reason}`);
      }
      this.beyond(report, bad, run.top - 1);
    } else {
      report.tornTail = this.tailAfter(run.topSlot);
      if (report.tornTail) report.problems.push(`torn tail at slot ${report.tornTail.slot}, after update ${newest}: ${report.tornTail.reason}`);
    }
    if (from !== null && oldest > from) report.problems.push(`updates ${from}..${oldest - 1} are not held: ${report.front}`);
    if (report.problems.length > JOURNAL_SCAN_PROBLEMS_MAX) {
      const more = report.problems.length - (JOURNAL_SCAN_PROBLEMS_MAX - 1);
      report.problems.length = JOURNAL_SCAN_PROBLEMS_MAX - 1;
      report.problems.push(`... and ${more} more`);
    }
    return report;
  }

  /** Problem lines for the damaged records above the torn tail (walk steps before `steps`). */
  private beyond(report: JournalScanReport, bad: BadStep[], steps: number): void {
    for (const b of bad) if (b.step < steps) report.problems.push(`update ${b.expected} (slot ${b.slot}) beyond the gap: ${b.reason}`);
  }

  /**
   * The slot after the top of the run when the run reaches the highest record: a damaged record
   * there is a torn tail; a blank slot or an older record (the previous lap) is a clean end.
   */
  private tailAfter(topSlot: number): JournalScanSlot | null {
    const s = (topSlot + 1) % this.slots;
    const kind = this.examine(s);
    return kind === Slot.DAMAGED || kind === Slot.UNREADABLE || kind === Slot.MISPLACED ? this.slotAt(s, this.reason) : null;
  }

  private slotAt(slot: number, reason: string): JournalScanSlot {
    return { slot, position: this.g.uiHead + slot * this.slotBytes, reason };
  }

  /** The write-data position `d` bytes behind `wdTop`. */
  private wdBehind(wdTop: number, d: number): number {
    return this.g.wdHead + ((wdTop - this.g.wdHead - d + 2 * this.wdArea) % this.wdArea);
  }

  /** Reads slot `s`'s header and says what it holds; a RECORD's fields are left in this.ui. */
  private examine(s: number): number {
    const { t } = this;
    const first = s - (s % CHUNK_SLOTS);
    if (first !== this.chunkFirst) this.load(first);
    const i = s - first;
    if (this.chunkUnreadable[i] !== 0) {
      this.reason = 'unreadable (medium error)';
      return Slot.UNREADABLE;
    }
    const at = i * this.slotBytes;
    let zero = true;
    for (let b = 0; b < UPDATE_INFO_BYTES && zero; b++) zero = this.chunk[at + b] === 0;
    if (zero) {
      this.reason = 'blank slot';
      return Slot.BLANK;
    }
    const invalid = validateUpdateInfo(this.chunkView, this.chunk, at, t.dataBlocksMax);
    if (invalid !== null) {
      this.reason = invalid;
      return Slot.DAMAGED;
    }
    const ui = this.ui;
    decodeUpdateInfo(this.chunkView, at, ui);
    if (ui.groupNumber !== t.group) {
      this.reason = `record of group ${ui.groupNumber}, not ${t.group}`;
      return Slot.FOREIGN;
    }
    const bytes = ui.dataBlocks * BLOCK_BYTES;
    const position = ui.dataPosition;
    const aligned = Number.isSafeInteger(position) && position >= 0 && position % BLOCK_BYTES === 0;
    if (ui.dataVolume === t.journalVolume) {
      if (!(aligned && position >= this.g.wdHead && position < this.g.capacity && bytes < this.wdArea)) {
        this.reason = `write data (${bytes} bytes at ${position}) cannot lie in the write-data area [${this.g.wdHead}, ${this.g.capacity})`;
        return Slot.MISPLACED;
      }
    } else if (!isInitialCopy(ui)) {
      this.reason = `write data in volume ${ui.dataVolume}, not journal volume ${t.journalVolume}, yet not an initial-copy record`;
      return Slot.MISPLACED;
    } else if (!aligned) {
      this.reason = `initial-copy data address ${position} of volume ${ui.dataVolume} is not a block`;
      return Slot.MISPLACED;
    }
    return Slot.RECORD;
  }

  /** Loads the chunk of slots from `first`; on a medium error, slot by slot, marking the unreadable ones. */
  private load(first: number): void {
    const count = Math.min(CHUNK_SLOTS, this.slots - first);
    const blocksPerSlot = this.slotBytes / BLOCK_BYTES;
    const lba = this.t.startBlock + (this.g.uiHead + first * this.slotBytes) / BLOCK_BYTES;
    this.chunkFirst = first;
    this.chunkUnreadable.fill(0);
    if (this.read(lba, count * blocksPerSlot, this.chunk, 0, 'update information') === DriveStatus.OK) return;
    for (let i = 0; i < count; i++) {
      if (this.read(lba + i * blocksPerSlot, blocksPerSlot, this.chunk, i * this.slotBytes, 'update information') !== DriveStatus.OK) this.chunkUnreadable[i] = 1;
    }
  }

  /** Null if `bytes` of write data at `position` (wrapping) match `checksum`, else why not. */
  private checkData(position: number, bytes: number, checksum: number): string | null {
    const pieces = this.pieces;
    wdPieces(position, bytes, this.g, pieces);
    const first = pieces.firstBytes;
    const lba = this.t.startBlock + position / BLOCK_BYTES;
    if (this.read(lba, first / BLOCK_BYTES, this.data, 0, 'write data') !== DriveStatus.OK) return `write data at ${position} unreadable (medium error)`;
    if (first < bytes && this.read(this.t.startBlock + pieces.secondPosition / BLOCK_BYTES, (bytes - first) / BLOCK_BYTES, this.data, first, 'write data') !== DriveStatus.OK) {
      return `write data at ${pieces.secondPosition} unreadable (medium error)`;
    }
    return crc32c(this.data, 0, bytes) === checksum ? null : 'data checksum mismatch';
  }

  /** One drive read; a failed drive ends the scan (DriveFailed), a medium error is the caller's to report. */
  private read(lba: number, blocks: number, dst: Uint8Array, offset: number, what: string): number {
    let status: number;
    try {
      status = this.t.drive.read(lba, blocks, dst, offset);
    } catch (e) {
      throw new DriveFailed(`reading ${what} at block ${lba} of ${this.t.drive.description} threw: ${(e as Error).message}`);
    }
    if (status === DriveStatus.DRIVE_FAILED) throw new DriveFailed(`${this.t.drive.description} failed reading ${what} at block ${lba}`);
    return status;
  }
}
