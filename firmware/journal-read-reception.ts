// Journal read reception (primary side; seed 000 §5.6, Figs. 14–15, S1510–S1590; seed 002 §7.5):
// answers a secondary's journal read command from that secondary's pointer set.
//
// One task per link builds one response at a time directly in the link's send staging buffer:
//   CHECK  S1510 group normal? S1520 journal volume normal? S1530 retry? S1550 anything unsent?
//   UI     read the next update information (one block) of the batch and check it
//   DATA   read its write data — from the write-data area, or for an initial-copy journal the
//          primary volume's current contents (seed 000 [0080]) — and check or compute its checksum
//   SEND   send the response; then, on the normal path, S1580 (retry start := read start, read
//          start advances past the batch) and S1590 (release the previous batch)
// Batches hold up to max_journals journals or max_bytes bytes ([0105]). A journal whose update
// information is not complete yet (its creator is still copying its data) ends the batch: journals
// are always sent in update-number order.
//
// Release (S1590) follows seed 002's normative reading: a non-retry command acknowledges the
// previous batch, whose space is freed only after this command's batch has been sent; the batch
// just sent stays for a possible retry. On the "no journal" path the previous batch is released
// too (seed 000 §6.4, recommended rule), so an idle secondary does not pin the last batch forever.
//
// Several reads in flight (seed 000 [0134]): a secondary may keep several commands outstanding
// over several links. Only one reception at a time takes a pointer set's unsent journals (a claim
// in the set's sent batches; another waits in CHECK), so batches never overlap. A command may
// name the update number to start from (from_number): the journals from there that were already
// sent and not yet released are sent again — how a secondary asks for a batch whose response was
// lost — without moving any pointer. Such a secondary releases by number (UP_TO).

import { BLOCK_BYTES } from './config.ts';
import { UI_SLOT_BYTES, advanceUi, advanceWd, journalUsage, journalsHeld, type RingGeometry } from './journal-ring.ts';
import { IO_DONE, IO_ERROR, IO_WAIT } from './cache-io.ts';
import { free, loadGeometry, pairsIn, pointerSetOf, ready, rxView, sleepUntil, taskWord, txView, type CopyContext } from './copy-context.ts';
import { SENT_BATCHES_MAX, SentBatches } from './sent-batches.ts';
import { Frame, JNLRD_BYTES, JnlrdOff, ReleaseMode, RESPONSE_FLAG_COPY_COMPLETE, RESPONSE_HEADER_BYTES, RefusalReason, RespOff, ResponseKind, WIRE_UPDATE_INFO_BYTES } from './link-protocol.ts';
import type { LinkPort } from './platform.ts';
import { GroupRole, GroupState } from './structs/group-info.ts';
import { PairState } from './structs/pair-info.ts';
import { Stat } from './structs/statistics.ts';
import { TaskF64 as F, TaskKind, TaskState, TaskWait, TaskWord as T } from './structs/task.ts';
import { decodeUpdateInfo, emptyUpdateInfo, isInitialCopy, sealUpdateInfo, validateUpdateInfo } from './structs/update-info-codec.ts';
import { UPDATE_INFO } from './structs/update-info.ts';
import { VolumeState } from './structs/volume-info.ts';
import { crc32c } from '../hal/crc32c.ts';
import { assert } from './assert.ts';
import { Run } from './command-receive.ts';

const Phase = { CHECK: 0, UI: 1, DATA: 2, SEND: 3 } as const;

// Bits of W_RETRY above the retry flag (bits 0-7) and the release mode (bits 8-15).
const NUMBERED = 0x10000; // resend from a named update number: no pointer moves
const CLAIMED = 0x20000; // this task holds its pointer set's claim on the unsent journals

/** How long the next journal's update information may stay incomplete before it counts as damaged. */
export const INCOMPLETE_MAX_MS = 5000;
/** How long a command waits for another reception of the same reader to finish taking unsent journals. */
const CLAIM_WAIT_MS = 0.05;

// Task fields used by this process.
const W_REQUESTER = T.AUX0;
const W_REQUEST_ID = T.AUX1;
const W_RETRY = T.AUX2;
const W_MAX_JOURNALS = T.LBA;
const W_MAX_BYTES = T.BYTE_LENGTH;
const W_SET = T.VOLUME;
const W_OFFSET = T.PAIR; // payload bytes built so far
const W_LIMIT = T.GENERATION; // journals available for this batch
const W_KIND = T.OPCODE; // response kind being built
const W_REFUSAL = T.PORT_SLOT;

export class JournalReadReception {
  private readonly ui = emptyUpdateInfo();
  private readonly geometry: RingGeometry = { uiHead: 0, wdHead: 0, capacity: 0 };

  private readonly sent: SentBatches;

  constructor(private readonly ctx: CopyContext) {
    this.sent = new SentBatches(ctx.mem.batches);
  }

  /** The reception task of a link (one response at a time per link). */
  taskOf(link: number): number {
    return this.ctx.mem.geometry.receptionTaskBase + link;
  }

  /** True while the link's send staging buffer holds a response being built. */
  busy(link: number): boolean {
    return this.ctx.mem.tasks[taskWord(this.ctx, this.taskOf(link)) + T.STATE] !== TaskState.FREE;
  }

  /**
   * A reset adapter's reception of `link` was building its response in the adapter's own send
   * staging buffer, which the reset lost. The command is given up as if the link had lost the
   * response: nothing was sent, no pointer moved, the claim on unsent journals is returned and a
   * pinned slot unpinned. The secondary asks again after its timeout. True if there was one.
   */
  abandon(link: number): boolean {
    const { mem } = this.ctx;
    const t = taskWord(this.ctx, this.taskOf(link));
    if (mem.tasks[t + T.STATE] === TaskState.FREE) return false;
    if (mem.tasks[t + T.STATE] === TaskState.WAITING && mem.tasks[t + T.WAIT] === TaskWait.STAGE && mem.tasks[t + T.CACHE_SLOT]! >= 0) {
      this.ctx.cache.unpin(mem.tasks[t + T.CACHE_SLOT]!);
    }
    mem.tasks[t + T.CACHE_SLOT] = -1;
    if ((mem.tasks[t + W_RETRY]! & CLAIMED) !== 0) this.locked(mem.tasks[t + T.GROUP]!, () => this.sent.unclaim(mem.tasks[t + W_SET]!, link));
    free(this.ctx, t);
    return true;
  }

  /** S1220: a JNLRD frame arrived on `link` (payload in rxStaging); false if the link's task is busy. */
  accept(link: number, port: LinkPort): void {
    const { mem } = this.ctx;
    const t = taskWord(this.ctx, this.taskOf(link));
    const rx = rxView(port);
    mem.tasks[t + T.KIND] = TaskKind.RECEPTION;
    mem.tasks[t + T.CURSOR] = 0;
    mem.tasks[t + T.AUX_CURSOR] = 0;
    mem.tasks[t + T.COUNT] = 0;
    mem.tasks[t + T.CACHE_SLOT] = -1;
    mem.tasks[t + W_OFFSET] = RESPONSE_HEADER_BYTES;
    mem.tasks[t + W_REFUSAL] = RefusalReason.NONE;
    if (port.rxPayloadLength !== JNLRD_BYTES) {
      mem.tasks[t + W_REQUEST_ID] = port.rxPayloadLength >= 12 ? rx.getUint32(JnlrdOff.REQUEST_ID, true) : 0;
      return this.refuse(t, RefusalReason.MALFORMED);
    }
    mem.tasks[t + T.GROUP] = rx.getUint32(JnlrdOff.GROUP, true);
    mem.tasks[t + W_REQUESTER] = rx.getUint32(JnlrdOff.REQUESTER, true);
    mem.tasks[t + W_REQUEST_ID] = rx.getUint32(JnlrdOff.REQUEST_ID, true);
    const mode = rx.getUint8(JnlrdOff.RELEASE_MODE);
    mem.tasks[t + W_RETRY] = rx.getUint8(JnlrdOff.RETRY) | (mode << 8);
    mem.taskFloats[(t >> 1) + F.RECEIVED_MS] = rx.getFloat64(JnlrdOff.RELEASE_NUMBER, true);
    const maxJournals = rx.getUint32(JnlrdOff.MAX_JOURNALS, true);
    const maxBytes = rx.getUint32(JnlrdOff.MAX_BYTES, true);
    mem.tasks[t + W_MAX_JOURNALS] = maxJournals === 0 || maxJournals > 65535 ? 65535 : maxJournals;
    mem.tasks[t + W_MAX_BYTES] = Math.min(maxBytes === 0 ? port.payloadMax : maxBytes, port.payloadMax, mem.config.journalBatchBytes);
    const from = rx.getFloat64(JnlrdOff.FROM_NUMBER, true);
    mem.taskFloats[(t >> 1) + F.AUX_F64] = from;
    const retry = mem.tasks[t + W_RETRY]! & 0xff;
    if (retry > 1 || mode > ReleaseMode.UP_TO || !(Number.isSafeInteger(from) && from >= 0) || (retry === 1 && from > 0)) return this.refuse(t, RefusalReason.MALFORMED);
    ready(this.ctx, t, Phase.CHECK);
  }

  private refuse(t: number, reason: number): void {
    this.ctx.mem.tasks[t + W_REFUSAL] = reason;
    this.ctx.mem.tasks[t + W_KIND] = ResponseKind.REFUSED;
    this.ctx.stats[Stat.BAD_MESSAGES]!++;
    ready(this.ctx, t, Phase.SEND);
  }

  /** Runs the link's reception task one step. */
  resume(link: number, port: LinkPort): number {
    const { mem } = this.ctx;
    const task = this.taskOf(link);
    const t = taskWord(this.ctx, task);
    for (;;) {
      const phase = mem.tasks[t + T.PHASE]!;
      if (phase === Phase.CHECK) {
        if (!this.check(t, link)) return Run.WAITING;
      } else if (phase === Phase.UI || phase === Phase.DATA) {
        const r = phase === Phase.UI ? this.readUi(task, t, port) : this.readData(task, t, port);
        if (r !== Run.DONE) return r;
      } else {
        return this.send(t, link, port);
      }
    }
  }

  /** S1510–S1560: decide what this command gets; false if it must wait for another reception of its reader. */
  private check(t: number, link: number): boolean {
    const { mem } = this.ctx;
    const group = mem.tasks[t + T.GROUP]!;
    const tasks = mem.tasks;
    if (!mem.groups.exists(group) || mem.groups.role(group) !== GroupRole.PRIMARY) {
      this.refuse(t, RefusalReason.UNKNOWN_GROUP);
      return true;
    }
    const set = pointerSetOf(this.ctx, group, tasks[t + W_REQUESTER]!);
    if (set < 0) {
      this.refuse(t, RefusalReason.NOT_A_READER);
      return true;
    }
    tasks[t + W_SET] = set;
    const lock = mem.lockMap.groupBase + group;
    mem.locks.lock(lock);
    try {
      mem.groups.setF64(group, 'last_contact_ms', this.ctx.clock.nowMs());
      mem.pointers.set(set, 'last_read_ms', this.ctx.clock.nowMs());
      // S1510/S1515: a group that is not normal answers with its state.
      if (mem.groups.state(group) !== GroupState.NORMAL) {
        tasks[t + W_KIND] = ResponseKind.GROUP_STATE;
        ready(this.ctx, t, Phase.SEND);
        return true;
      }
      // S1520/S1525: the journal volume must be normal; otherwise the group fails.
      const jv = mem.groups.journalVolume(group, 0);
      if (mem.volumes.state(jv) !== VolumeState.NORMAL) {
        mem.groups.setState(group, GroupState.FAILURE);
        this.ctx.trace(`group ${group}: normal -> failure (journal volume ${jv} is not normal, S1525)`);
        tasks[t + W_KIND] = ResponseKind.GROUP_STATE;
        ready(this.ctx, t, Phase.SEND);
        return true;
      }
      loadGeometry(this.ctx, set, this.geometry);
      const p = mem.pointers;
      const f = t >> 1;
      const from = mem.taskFloats[f + F.AUX_F64]!;
      if (from > 0 && from < p.get(set, 'oldest_number')) {
        this.refuse(t, RefusalReason.RELEASED);
        return true;
      }
      if (from > 0 && from < p.get(set, 'read_number')) {
        // [0134]: send again what was sent from `from` on and is still held; no pointer moves.
        tasks[t + W_RETRY] = tasks[t + W_RETRY]! | NUMBERED;
        tasks[t + W_LIMIT] = p.get(set, 'read_number') - from;
        mem.taskFloats[f + F.UI_POSITION] = advanceUi(p.get(set, 'ui_oldest'), from - p.get(set, 'oldest_number'), this.geometry);
        mem.taskFloats[f + F.UPDATE_NUMBER] = from;
      } else if ((tasks[t + W_RETRY]! & 0xff) === 0 && from === 0 && tasks[t + W_REQUEST_ID] !== 0 && (tasks[t + W_REQUEST_ID]! >>> 0) === this.sent.lastRequest(set)) {
        // The same command again (a link that duplicated it): answered as a retry, so the batch it
        // already got is neither released nor followed by another the secondary would not expect.
        tasks[t + W_RETRY] = (tasks[t + W_RETRY]! & ~0xff) | 1;
        tasks[t + W_LIMIT] = p.batchCount(set);
        mem.taskFloats[f + F.UI_POSITION] = p.get(set, 'retry_start');
        mem.taskFloats[f + F.UPDATE_NUMBER] = p.get(set, 'read_number') - p.batchCount(set);
        this.ctx.stats[Stat.BAD_MESSAGES]!++;
      } else if ((tasks[t + W_RETRY]! & 0xff) === 1) {
        // S1540: resend exactly the previous batch, from retry start.
        tasks[t + W_LIMIT] = p.batchCount(set);
        mem.taskFloats[f + F.UI_POSITION] = p.get(set, 'retry_start');
        mem.taskFloats[f + F.UPDATE_NUMBER] = p.get(set, 'read_number') - p.batchCount(set);
      } else if (this.sent.length(set) >= SENT_BATCHES_MAX - 1) {
        // The reader releases nothing (UP_TO mode, its restore held): send no more until it does.
        tasks[t + W_LIMIT] = 0;
        mem.taskFloats[f + F.UI_POSITION] = p.get(set, 'read_start');
        mem.taskFloats[f + F.UPDATE_NUMBER] = p.get(set, 'read_number');
      } else if (!this.sent.claim(set, link)) {
        // Another of this reader's commands is taking the unsent journals: wait for it.
        sleepUntil(this.ctx, t, this.ctx.clock.nowMs() + CLAIM_WAIT_MS);
        return false;
      } else {
        // S1550: unsent journals are those between read start and update-information newest.
        tasks[t + W_RETRY] = tasks[t + W_RETRY]! | CLAIMED;
        tasks[t + W_LIMIT] = journalsHeld(p.get(set, 'ui_newest'), p.get(set, 'read_start'), this.geometry);
        mem.taskFloats[f + F.UI_POSITION] = p.get(set, 'read_start');
        mem.taskFloats[f + F.UPDATE_NUMBER] = p.get(set, 'read_number');
      }
    } finally {
      mem.locks.unlock(lock);
    }
    tasks[t + W_KIND] = ResponseKind.JOURNALS;
    mem.taskFloats[(t >> 1) + F.WD_POSITION] = 0; // write-data bytes of the batch, summed as it is built
    ready(this.ctx, t, tasks[t + W_LIMIT]! > 0 ? Phase.UI : Phase.SEND);
    return true;
  }

  /** The next update information of the batch, into the task's scratch block, then checked. */
  private readUi(task: number, t: number, port: LinkPort): number {
    const { mem } = this.ctx;
    const tasks = mem.tasks;
    const f = t >> 1;
    const group = tasks[t + T.GROUP]!;
    const jv = mem.groups.journalVolume(group, 0);
    const scratch = mem.scratchOffset(this.ctx.processorId, task);
    const r = this.ctx.io.transfer(task, false, jv, mem.taskFloats[f + F.UI_POSITION]! / BLOCK_BYTES, UI_SLOT_BYTES, mem.scratch, scratch >> 2, T.CURSOR);
    if (r !== IO_DONE) return this.waitOrFail(t, r);
    tasks[t + T.CURSOR] = 0;
    const expected = mem.taskFloats[f + F.UPDATE_NUMBER]!;
    const problem = validateUpdateInfo(mem.scratchView, mem.scratchBytes, scratch, mem.config.maxTransferBytes / BLOCK_BYTES);
    decodeUpdateInfo(mem.scratchView, scratch, this.ui);
    if (problem !== null || this.ui.updateNumber !== expected) {
      const set = tasks[t + W_SET]!;
      if ((tasks[t + W_RETRY]! & NUMBERED) !== 0 && expected < mem.pointers.get(set, 'oldest_number')) {
        // Released while this resend was built (a later command of the same reader): end the batch.
        ready(this.ctx, t, Phase.SEND);
        return Run.PROGRESS;
      }
      if ((tasks[t + W_RETRY]! & (0xff | NUMBERED)) !== 0) {
        // A journal already sent must still be intact: the journal volume is damaged.
        this.corrupt(t, `update information ${expected} unreadable on resend (${problem ?? `found ${this.ui.updateNumber}`})`);
        return Run.PROGRESS;
      }
      // Not complete yet (its creator is still copying): the batch ends here. A record that stays
      // incomplete far longer than any copy takes is damaged: say so rather than stall for ever.
      if (tasks[t + T.COUNT] === 0 && this.sent.stalled(set, expected, this.ctx.clock.nowMs()) > INCOMPLETE_MAX_MS) {
        this.corrupt(t, `update information ${expected} stayed incomplete for over ${INCOMPLETE_MAX_MS} ms (${problem ?? `found ${this.ui.updateNumber}`})`);
        return Run.PROGRESS;
      }
      ready(this.ctx, t, Phase.SEND);
      return Run.PROGRESS;
    }
    const dataBytes = this.ui.dataBlocks * BLOCK_BYTES;
    const damage = this.misplaced(group, tasks[t + W_SET]!);
    if (damage !== null) {
      this.corrupt(t, `update information ${expected} is damaged on the journal volume: ${damage}`);
      return Run.PROGRESS;
    }
    const offset = tasks[t + W_OFFSET]!;
    // A retry resends the whole previous batch whatever its limits say: a partial resend followed
    // by a non-retry command would release journals the secondary never got. (A numbered resend
    // may stop anywhere: its reader releases by number.)
    if ((tasks[t + W_RETRY]! & 0xff) === 0 && tasks[t + T.COUNT]! > 0 && (offset + WIRE_UPDATE_INFO_BYTES + dataBytes > tasks[t + W_MAX_BYTES]! || tasks[t + T.COUNT]! >= tasks[t + W_MAX_JOURNALS]!)) {
      ready(this.ctx, t, Phase.SEND); // the batch is full
      return Run.PROGRESS;
    }
    if (offset + WIRE_UPDATE_INFO_BYTES + dataBytes > port.payloadMax) {
      this.corrupt(t, `journal ${expected} of ${dataBytes} bytes does not fit a link frame`);
      return Run.PROGRESS;
    }
    port.staging.set(mem.scratchBytes.subarray(scratch, scratch + WIRE_UPDATE_INFO_BYTES), offset);
    ready(this.ctx, t, Phase.DATA);
    return Run.PROGRESS;
  }

  /** The batch's next write data, after its update information in the staging buffer. */
  private readData(task: number, t: number, port: LinkPort): number {
    const { mem } = this.ctx;
    const tasks = mem.tasks;
    const f = t >> 1;
    const offset = tasks[t + W_OFFSET]!;
    const view = txView(port);
    decodeUpdateInfo(view, offset, this.ui);
    const dataBytes = this.ui.dataBlocks * BLOCK_BYTES;
    const dataWord = (offset + WIRE_UPDATE_INFO_BYTES) >> 2;
    const copy = isInitialCopy(this.ui);
    if (copy) {
      // An initial-copy journal sends the primary volume's current contents (seed 000 §5.6 S1570).
      const r = this.ctx.io.transfer(task, false, this.ui.dataVolume, this.ui.dataPosition / BLOCK_BYTES, dataBytes, port.stagingWords, dataWord, T.CURSOR);
      if (r !== IO_DONE) return this.waitOrFail(t, r);
      view.setUint32(offset + UPDATE_INFO.offsets.data_checksum, crc32c(port.staging, offset + WIRE_UPDATE_INFO_BYTES, dataBytes), true);
      sealUpdateInfo(view, port.staging, offset);
    } else {
      const set = tasks[t + W_SET]!;
      loadGeometry(this.ctx, set, this.geometry);
      const first = Math.min(dataBytes, this.geometry.capacity - this.ui.dataPosition);
      let r = this.ctx.io.transfer(task, false, this.ui.dataVolume, this.ui.dataPosition / BLOCK_BYTES, first, port.stagingWords, dataWord, T.CURSOR);
      if (r !== IO_DONE) return this.waitOrFail(t, r);
      if (first < dataBytes) {
        r = this.ctx.io.transfer(task, false, this.ui.dataVolume, this.geometry.wdHead / BLOCK_BYTES, dataBytes - first, port.stagingWords, dataWord + (first >> 2), T.AUX_CURSOR);
        if (r !== IO_DONE) return this.waitOrFail(t, r);
      }
      if (crc32c(port.staging, offset + WIRE_UPDATE_INFO_BYTES, dataBytes) !== this.ui.dataChecksum) {
        if ((tasks[t + W_RETRY]! & (0xff | NUMBERED)) !== 0 && this.ui.updateNumber < mem.pointers.get(set, 'oldest_number')) {
          // A resend whose journal was released (and its space reused) while it was read: the
          // reader has it already. The batch ends before it.
          ready(this.ctx, t, Phase.SEND);
          return Run.PROGRESS;
        }
        this.corrupt(t, `write data of journal ${this.ui.updateNumber} failed its checksum`);
        return Run.PROGRESS;
      }
      // Write data in the journal volume counts towards this batch's release (initial-copy
      // journals occupy none, seed 000 §6.5).
      mem.taskFloats[f + F.WD_POSITION] = mem.taskFloats[f + F.WD_POSITION]! + dataBytes;
    }
    tasks[t + T.CURSOR] = 0;
    tasks[t + T.AUX_CURSOR] = 0;
    tasks[t + W_OFFSET] = offset + WIRE_UPDATE_INFO_BYTES + dataBytes;
    tasks[t + T.COUNT] = tasks[t + T.COUNT]! + 1;
    mem.taskFloats[f + F.UPDATE_NUMBER] = mem.taskFloats[f + F.UPDATE_NUMBER]! + 1;
    loadGeometry(this.ctx, tasks[t + W_SET]!, this.geometry);
    mem.taskFloats[f + F.UI_POSITION] = advanceUi(mem.taskFloats[f + F.UI_POSITION]!, 1, this.geometry);
    ready(this.ctx, t, tasks[t + T.COUNT]! < tasks[t + W_LIMIT]! ? Phase.UI : Phase.SEND);
    return Run.PROGRESS;
  }

  /**
   * Where the journal just read says its write data is, checked before any transfer: in this
   * journal volume's write-data area, or — an initial-copy journal — inside the primary volume of
   * one of the group's pairs. Null when it checks out.
   */
  private misplaced(group: number, set: number): string | null {
    const { mem } = this.ctx;
    const ui = this.ui;
    const position = ui.dataPosition;
    if (!(Number.isSafeInteger(position) && position >= 0 && position % BLOCK_BYTES === 0)) return `write data position ${position} is not a block`;
    if (isInitialCopy(ui)) {
      for (let i = 0; i < mem.groups.pairCount(group); i++) {
        const v = mem.pairs.primaryVolume(mem.groups.pairAt(group, i));
        if (v === ui.dataVolume) return position / BLOCK_BYTES + ui.dataBlocks <= mem.volumes.capacityBlocks(v) ? null : `initial-copy data at ${position} runs past primary volume ${v}`;
      }
      return `initial-copy data names volume ${ui.dataVolume}, the primary volume of no pair of the group`;
    }
    loadGeometry(this.ctx, set, this.geometry);
    if (ui.dataVolume !== mem.groups.journalVolume(group, 0)) return `write data names volume ${ui.dataVolume}, not the journal volume`;
    if (position < this.geometry.wdHead || position >= this.geometry.capacity) return `write data at ${position} is outside the write-data area [${this.geometry.wdHead}, ${this.geometry.capacity})`;
    return null;
  }

  /** A transfer that could not finish: wait, or — its stage failed on the drive — fail the group. */
  private waitOrFail(t: number, r: number): number {
    if (r === IO_ERROR) {
      this.corrupt(t, 'a journal could not be read from its drive');
      return Run.PROGRESS;
    }
    return r === IO_WAIT ? Run.WAITING : Run.PROGRESS;
  }

  /** A journal on the primary is damaged: the group fails (S1525's state) and says so. */
  private corrupt(t: number, what: string): void {
    const { mem } = this.ctx;
    const group = mem.tasks[t + T.GROUP]!;
    mem.groups.setState(group, GroupState.FAILURE);
    this.ctx.trace(`group ${group}: normal -> failure (${what})`);
    mem.tasks[t + W_KIND] = ResponseKind.GROUP_STATE;
    mem.tasks[t + T.COUNT] = 0;
    ready(this.ctx, t, Phase.SEND);
  }

  /** S1545/S1560/S1580: send the response; then move the pointers (S1580) and release (S1590). */
  private send(t: number, link: number, port: LinkPort): number {
    const { mem } = this.ctx;
    const tasks = mem.tasks;
    const f = t >> 1;
    const view = txView(port);
    const group = tasks[t + T.GROUP]!;
    let kind = tasks[t + W_KIND]!;
    const count = kind === ResponseKind.JOURNALS ? tasks[t + T.COUNT]! : 0;
    if (kind === ResponseKind.JOURNALS && count === 0) kind = ResponseKind.NO_JOURNAL; // S1560
    const set = tasks[t + W_SET]!;
    const known = kind !== ResponseKind.REFUSED;
    view.setUint32(RespOff.REQUEST_ID, tasks[t + W_REQUEST_ID]!, true);
    view.setUint8(RespOff.KIND, kind);
    view.setUint8(RespOff.GROUP_STATE, known ? mem.groups.state(group) : 0);
    view.setUint8(RespOff.FLAGS, known && this.copyComplete(group) ? RESPONSE_FLAG_COPY_COMPLETE : 0);
    view.setUint8(RespOff.FLAGS + 1, 0);
    view.setUint32(RespOff.COUNT, count, true);
    view.setUint32(RespOff.REFUSAL, tasks[t + W_REFUSAL]!, true);
    let usage = 0;
    if (known) {
      loadGeometry(this.ctx, set, this.geometry);
      const p = mem.pointers;
      usage = journalUsage(p.get(set, 'ui_newest'), p.get(set, 'ui_oldest'), p.get(set, 'wd_newest'), p.get(set, 'wd_oldest'), this.geometry);
    }
    view.setFloat64(RespOff.PRIMARY_USAGE, usage, true);
    view.setFloat64(RespOff.NEXT_NUMBER, known ? mem.groups.updateNumber(group) : 0, true);
    const length = kind === ResponseKind.JOURNALS ? tasks[t + W_OFFSET]! : RESPONSE_HEADER_BYTES;
    const flags = tasks[t + W_RETRY]!;
    if (!port.isUp()) {
      // The link went down: nothing was sent, so no pointer moves; the secondary will ask again.
      if ((flags & CLAIMED) !== 0) this.locked(group, () => this.sent.unclaim(set, link));
      free(this.ctx, t);
      return Run.DONE;
    }
    if (!port.sendStaging(Frame.JNLRD_RESPONSE, 0, length)) {
      tasks[t + T.STATE] = TaskState.WAITING;
      tasks[t + T.WAIT] = TaskWait.LINK;
      return Run.WAITING;
    }
    const mode = (flags >> 8) & 0xff;
    if (known && kind !== ResponseKind.GROUP_STATE && (flags & 0xff) === 0) {
      const releaseNumber = mem.taskFloats[f + F.RECEIVED_MS]!;
      if ((flags & NUMBERED) !== 0) {
        // A resend from a named number moves no pointer; only an UP_TO release applies.
        if (mode === ReleaseMode.UP_TO) this.locked(group, () => this.releaseUpTo(set, releaseNumber));
      } else {
        this.advance(group, set, count, mem.taskFloats[f + F.WD_POSITION]!, mode, releaseNumber, tasks[t + W_REQUEST_ID]!);
        mem.groups.addF64(group, 'journals_sent', count);
      }
    }
    if ((flags & CLAIMED) !== 0) this.locked(group, () => this.sent.unclaim(set, link));
    free(this.ctx, t);
    return Run.DONE;
  }

  private locked(group: number, body: () => void): void {
    const lock = this.ctx.mem.lockMap.groupBase + group;
    this.ctx.mem.locks.lock(lock);
    try {
      body();
    } finally {
      this.ctx.mem.locks.unlock(lock);
    }
  }

  /** Releases every sent batch whose journals are all numbered at most `releaseNumber` (caller holds the group lock). */
  private releaseUpTo(set: number, releaseNumber: number): void {
    loadGeometry(this.ctx, set, this.geometry);
    while (this.sent.length(set) > 0 && this.sent.firstNumber(set) + this.sent.count(set) - 1 <= releaseNumber) this.releaseOldest(set);
  }

  /** S1580 then S1590 (or its [0107] variant), under the group lock. */
  private advance(group: number, set: number, count: number, batchWdBytes: number, mode: number, releaseNumber: number, requestId: number): void {
    const { mem } = this.ctx;
    const p = mem.pointers;
    const lock = mem.lockMap.groupBase + group;
    mem.locks.lock(lock);
    try {
      loadGeometry(this.ctx, set, this.geometry);
      const readStart = p.get(set, 'read_start');
      const readNumber = p.get(set, 'read_number');
      this.sent.setLastRequest(set, requestId);
      // S1580: retry start := read start; read start past the batch just sent.
      p.set(set, 'retry_start', readStart);
      p.set(set, 'read_start', advanceUi(readStart, count, this.geometry));
      p.set(set, 'read_number', readNumber + count);
      p.set(set, 'batch_wd_bytes', count > 0 ? batchWdBytes : 0);
      p.setBatchCount(set, count);
      if (count > 0) this.sent.push(set, readNumber, count, batchWdBytes);
      // S1590: release what this command acknowledges.
      if (mode === ReleaseMode.UP_TO) {
        this.releaseUpTo(set, releaseNumber);
      } else {
        // The base protocol keeps the batch just sent for a retry; AFTER_SEND keeps nothing.
        const keep = mode === ReleaseMode.NEXT_COMMAND && count > 0 ? 1 : 0;
        while (this.sent.length(set) > keep) this.releaseOldest(set);
      }
      if (this.sent.length(set) === 0 || count === 0) {
        // Nothing left to resend: retry start catches up, so a later retry answers "no journal"
        // ("no journal" path: seed 000 §6.4's recommended rule).
        p.set(set, 'retry_start', p.get(set, 'read_start'));
        p.setBatchCount(set, 0);
        p.set(set, 'batch_wd_bytes', 0);
      }
    } finally {
      mem.locks.unlock(lock);
    }
  }

  /** Frees the oldest sent batch: the oldest pointers move past exactly its journals. */
  private releaseOldest(set: number): void {
    const p = this.ctx.mem.pointers;
    const count = this.sent.count(set);
    // Seed 000 §12.5 item 28: a journal is never freed before it has been sent, nor out of order.
    assert(this.sent.firstNumber(set) === p.get(set, 'oldest_number') && this.sent.firstNumber(set) + count <= p.get(set, 'read_number'),
      `pointer set ${set}: releasing journals ${this.sent.firstNumber(set)}..${this.sent.firstNumber(set) + count - 1} with oldest ${p.get(set, 'oldest_number')} and read number ${p.get(set, 'read_number')}`);
    p.set(set, 'ui_oldest', advanceUi(p.get(set, 'ui_oldest'), count, this.geometry));
    p.set(set, 'wd_oldest', advanceWd(p.get(set, 'wd_oldest'), this.sent.wdBytes(set), this.geometry));
    p.set(set, 'oldest_number', this.sent.firstNumber(set) + count);
    this.sent.pop(set);
  }

  /** S940: every primary pair of the group has finished its initial copy. */
  private copyComplete(group: number): boolean {
    const n = this.ctx.mem.groups.pairCount(group);
    return n > 0 && pairsIn(this.ctx.mem, group, PairState.NORMAL) === n;
  }
}
