// Journal read processing 240 (secondary side; seed 000 §5.8, Figs. 16–17, S1700–S1760; seed 002
// §7.6) with journal store 1800 (seed 000 §5.9, S1810–S1850; seed 002 §7.7): the secondary's
// loop that pulls journals from the primary and keeps them in its own journal volume.
//
//   WAIT   until the next read is due (S1725 after "no journal", S1755 after a failed store,
//          S1760 after a stored batch, back-off after a failure)
//   SEND   S1700: a journal read command for the primary's group, with the retry flag
//   AWAIT  S1710: the response, or a timeout (the link or the primary did not answer)
//   STORE  S1800 for each journal of the batch: S1810/S1830 space, S1840 rewrite group number and
//          write-data address, S1850 write data then update information into the journal volume
//   STOPPED S1735/S1745: the group is not normal any more
//
// A response that never arrives may have been sent: the next command then carries the retry
// flag, so the primary resends its last batch instead of releasing it; journals already stored
// are recognised by their update numbers and skipped. The interval before the next read is a
// selectable policy (claims 1–6, S1760), chosen per group.

import { BLOCK_BYTES } from './config.ts';
import { IO_DONE, IO_WAIT } from './cache-io.ts';
import { free, loadGeometry, pointerSetOf, ready, rxView, sleepUntil, startService, taskWord, txView, type CopyContext } from './copy-context.ts';
import { UI_SLOT_BYTES, advanceUi, advanceWd, journalUsage, uiFits, wdFits, type RingGeometry } from './journal-ring.ts';
import { Frame, JNLRD_BYTES, JnlrdOff, RefusalReason, ReleaseMode, REFUSAL_TEXT, RESPONSE_FLAG_COPY_COMPLETE, RESPONSE_HEADER_BYTES, RespOff, ResponseKind, WIRE_UPDATE_INFO_BYTES } from './link-protocol.ts';
import type { LinkPort } from './platform.ts';
import { GROUP_STATE_NAME, GroupFlag, GroupState, READ_LINKS_MAX, ReadPolicy, StorePolicy, type GroupStateCode } from './structs/group-info.ts';
import { WindowState } from './read-window.ts';
import { PairState } from './structs/pair-info.ts';
import { Stat } from './structs/statistics.ts';
import { GroupService, TaskF64 as F, TaskKind, TaskState, TaskWord as T } from './structs/task.ts';
import { decodeUpdateInfo, emptyUpdateInfo, sealUpdateInfo, validateUpdateInfo } from './structs/update-info-codec.ts';
import { UPDATE_INFO } from './structs/update-info.ts';
import { VolumeState } from './structs/volume-info.ts';
import { crc32c } from '../hal/crc32c.ts';
import { Run } from './command-receive.ts';

export const ReadPhase = { WAIT: 0, SEND: 1, AWAIT: 2, STORE: 3, STOPPED: 4 } as const;

const W_REQUEST_ID = T.AUX0; // counter of this group's commands (the low 20 bits of their ids)
/**
 * Base protocol: 1 = the next command carries the retry flag. Numbered protocol: commands lost
 * and not yet asked for again by number (each re-request asks from received + 1).
 */
const W_RETRY = T.AUX1;
const W_FAILURES = T.AUX2;
const W_OFFSET = T.PAIR; // byte offset of the next journal in the batch staging buffer
const W_BATCH = T.LBA; // journals in the batch
const W_BATCH_BYTES = T.BYTE_LENGTH; // payload bytes of the batch
const W_STORE_STEP = T.OPCODE; // 0: reserve, 1: data, 2: update information
const W_SLOT = T.VOLUME; // read window slot whose batch is being stored
const W_LINK_NEXT = T.GENERATION; // round robin over the group's links
const W_FLAGS = T.PORT_SLOT; // ReadFlag bits
const F_NEXT_SEND = F.AUX_F64; // when the next command may go out

const ReadFlag = {
  /** The primary reported its group state (S1735), or the journal volume failed (S1745): reading ends. */
  STOP: 1,
  /** The last schedule said "again at once": fill the window. */
  PACE: 2,
  /** A response said initial copy has ended; applied once every batch before it is stored (numbered protocol). */
  COPY_DONE: 4,
} as const;

/** Request ids carry the group number above this many bits, so groups sharing a link never take each other's responses. */
const REQUEST_COUNTER_BITS = 20;

/** How long a journal read command may stay unanswered. */
export const RESPONSE_TIMEOUT_MS = 500;
/** Longest back-off between failing journal reads. */
export const BACKOFF_MAX_MS = 1000;

export class JournalRead {
  private readonly ui = emptyUpdateInfo();
  private readonly geometry: RingGeometry = { uiHead: 0, wdHead: 0, capacity: 0 };

  constructor(private readonly ctx: CopyContext) {}

  taskOf(group: number): number {
    return this.ctx.mem.serviceTask(group, GroupService.JOURNAL_READ);
  }

  /** Journal read commands the group may have in flight (its read_window, within readWindowMax). */
  static windowOf(mem: CopyContext['mem'], group: number): number {
    return Math.max(1, Math.min(mem.groups.u8(group, 'read_window'), mem.config.readWindowMax));
  }

  /**
   * The seed's base protocol (retry flag, release of the previous batch) holds only for one
   * command at a time over one link: with several links a retry could overtake the command it
   * repeats. Otherwise the group uses the numbered protocol: re-requests by update number and
   * release by number.
   */
  static basicProtocol(mem: CopyContext['mem'], group: number): boolean {
    if (JournalRead.windowOf(mem, group) !== 1) return false;
    for (let i = 1; i < READ_LINKS_MAX; i++) if (mem.groups.readLink(group, i) !== 0) return false;
    return true;
  }

  /** S930 on the secondary: start the loop (called by the maintenance port). */
  static start(mem: CopyContext['mem'], t: number, group: number, nowMs: number): void {
    const tasks = mem.tasks;
    mem.window.clear(group);
    tasks[t + W_RETRY] = 0;
    tasks[t + W_FAILURES] = 0;
    tasks[t + W_FLAGS] = 0;
    tasks[t + W_LINK_NEXT] = 0;
    mem.taskFloats[(t >> 1) + F.WAKE_MS] = nowMs;
    mem.taskFloats[(t >> 1) + F_NEXT_SEND] = nowMs;
    startService(tasks, t, TaskKind.JOURNAL_READ, group, ReadPhase.SEND);
  }

  /** Runs the group's journal read task one step; `busy(link)` says a link's send buffer is taken. */
  resume(task: number, busy: (link: number) => boolean): number {
    const { mem } = this.ctx;
    const t = taskWord(this.ctx, task);
    const group = mem.tasks[t + T.GROUP]!;
    switch (mem.tasks[t + T.PHASE]) {
      case ReadPhase.WAIT:
      case ReadPhase.SEND:
      case ReadPhase.AWAIT:
        return this.pump(task, t, group, busy);
      case ReadPhase.STORE:
        return this.store(task, t, group);
      default:
        mem.window.clear(group);
        free(this.ctx, t);
        return Run.DONE;
    }
  }

  /**
   * The loop of S1700–S1760 over the group's read window: expire unanswered commands, store the
   * batch that continues the update numbers already stored, ask again by number for what was
   * lost, send the commands that are due, and sleep until the next of these can happen.
   */
  private pump(task: number, t: number, group: number, busy: (link: number) => boolean): number {
    const { mem } = this.ctx;
    const tasks = mem.tasks;
    const win = mem.window;
    const now = this.ctx.clock.nowMs();
    const w = JournalRead.windowOf(mem, group);
    const basic = JournalRead.basicProtocol(mem, group);
    const stopping = mem.groups.state(group) !== GroupState.NORMAL || mem.groups.hasFlag(group, GroupFlag.READ_STOPPED) || (tasks[t + W_FLAGS]! & ReadFlag.STOP) !== 0;
    // S1710: a command unanswered for too long failed (the link or the primary lost it).
    if (!stopping) {
      for (let s = 0; s < w; s++) {
        if (win.state(group, s) === WindowState.AWAITING && now >= win.sentMs(group, s) + RESPONSE_TIMEOUT_MS) {
          win.release(group, s);
          this.failed(t, group, 'no response to journal read command');
        }
      }
    }
    // S1800 in update-number order: the batch holding received + 1 is stored next; duplicates go.
    // What is held is stored even when reading stops (a takeover applies it), unless the journal
    // volume itself failed.
    const received = mem.groups.f64(group, 'received_number');
    const jv = mem.groups.journalVolume(group, 0);
    let arrived = 0;
    let highest = -1;
    for (let s = 0; s < w; s++) {
      if (win.state(group, s) !== WindowState.ARRIVED) continue;
      const first = win.firstNumber(group, s);
      // The batch that continues what is stored goes next — a resend of journals all stored
      // already too: the store skips them and times the next read (S1760). With the base protocol
      // a batch is always next (a gap in it is the store's to report).
      if ((first <= received + 1 || basic) && mem.volumes.state(jv) !== VolumeState.ABNORMAL) return this.beginStore(task, t, group, s);
      if (first + win.count(group, s) - 1 <= received) {
        win.release(group, s);
        continue;
      }
      arrived++;
      if (highest < 0 || first > win.firstNumber(group, highest)) highest = s;
    }
    if (stopping) {
      ready(this.ctx, t, ReadPhase.STOPPED);
      return Run.PROGRESS;
    }
    const f = t >> 1;
    let awaiting = 0;
    let numberedInFlight = false;
    for (let s = 0; s < w; s++) {
      if (win.state(group, s) !== WindowState.AWAITING) continue;
      awaiting++;
      if (win.numbered(group, s)) numberedInFlight = true;
    }
    if (!basic) {
      // S940 once every batch before the flag is stored.
      if ((tasks[t + W_FLAGS]! & ReadFlag.COPY_DONE) !== 0 && arrived === 0 && awaiting === 0) {
        tasks[t + W_FLAGS] = tasks[t + W_FLAGS]! & ~ReadFlag.COPY_DONE;
        this.copyEnded(group);
      }
      // [0134]: batches wait beyond a gap no command in flight can fill: ask for it by number.
      if (arrived > 0 && awaiting === 0 && tasks[t + W_RETRY] === 0) tasks[t + W_RETRY] = 1;
      if (tasks[t + W_RETRY]! > 0 && !numberedInFlight) {
        // The re-request needs a slot: give up the batch furthest ahead (the primary still holds
        // it — it releases only what this secondary has stored — and sends it again later).
        if (win.countIn(group, WindowState.FREE, w) === 0 && highest >= 0) {
          win.release(group, highest);
          arrived--;
        }
        mem.taskFloats[f + F_NEXT_SEND] = Math.min(mem.taskFloats[f + F_NEXT_SEND]!, now);
      }
    }
    // S1700: send while commands are due and the window has room.
    while (mem.taskFloats[f + F_NEXT_SEND]! <= now) {
      const free = win.countIn(group, WindowState.FREE, w);
      if (free === 0) break;
      const numbered = !basic && tasks[t + W_RETRY]! > 0 && !numberedInFlight;
      // With a gap to fill, the last free slot is kept for the re-request.
      if (!basic && !numbered && free === 1 && (arrived > 0 || tasks[t + W_RETRY]! > 0)) break;
      const r = this.send(t, group, w, numbered, busy);
      if (r !== Run.PROGRESS) break;
      if (numbered) {
        numberedInFlight = true;
        tasks[t + W_RETRY] = tasks[t + W_RETRY]! - 1;
      }
      if ((tasks[t + W_FLAGS]! & ReadFlag.PACE) === 0 || basic) mem.taskFloats[f + F_NEXT_SEND] = Infinity; // the response schedules the next
    }
    // Sleep until a command is due or one times out; a response wakes the task earlier.
    let wake = win.countIn(group, WindowState.FREE, w) > 0 ? mem.taskFloats[f + F_NEXT_SEND]! : Infinity;
    awaiting = 0;
    for (let s = 0; s < w; s++) {
      if (win.state(group, s) !== WindowState.AWAITING) continue;
      awaiting++;
      wake = Math.min(wake, win.sentMs(group, s) + RESPONSE_TIMEOUT_MS);
    }
    if (wake === Infinity) wake = now + Math.max(1, mem.groups.u32(group, 'read_interval_ms'));
    tasks[t + T.PHASE] = awaiting > 0 ? ReadPhase.AWAIT : ReadPhase.WAIT;
    if (wake <= now) {
      ready(this.ctx, t, tasks[t + T.PHASE]!);
      return Run.PROGRESS;
    }
    sleepUntil(this.ctx, t, wake);
    return Run.WAITING;
  }

  /** S1700: send one journal read command on the next usable link; PROGRESS if one went out. */
  private send(t: number, group: number, w: number, numbered: boolean, busy: (link: number) => boolean): number {
    const { mem } = this.ctx;
    const tasks = mem.tasks;
    const now = this.ctx.clock.nowMs();
    let slot = 0;
    while (mem.window.state(group, slot) !== WindowState.FREE) slot++;
    // Round robin over the group's links that are up.
    let port: LinkPort | undefined;
    let link = 0;
    let configured = 0;
    let busyLink = false;
    for (let k = 0; k < READ_LINKS_MAX && !port; k++) {
      const i = (tasks[t + W_LINK_NEXT]! + k) % READ_LINKS_MAX;
      const n = mem.groups.readLink(group, i);
      if (n === 0) continue;
      const candidate = this.ctx.links.get(n);
      if (!candidate) continue;
      configured++;
      if (!candidate.isUp()) continue;
      if (busy(n)) {
        busyLink = true;
        continue;
      }
      port = candidate;
      link = n;
      tasks[t + W_LINK_NEXT] = (i + 1) % READ_LINKS_MAX;
    }
    if (!port) {
      if (busyLink) {
        mem.taskFloats[(t >> 1) + F_NEXT_SEND] = now + 0.05;
      } else if (mem.window.countIn(group, WindowState.AWAITING, w) === 0) {
        this.failed(t, group, configured > 0 ? 'link is down' : `link ${mem.groups.u32(group, 'link_number')} is not configured`);
      } else {
        mem.taskFloats[(t >> 1) + F_NEXT_SEND] = Infinity; // the commands in flight will tell
      }
      return Run.WAITING;
    }
    const view = txView(port);
    const basic = JournalRead.basicProtocol(mem, group);
    const counter = ((tasks[t + W_REQUEST_ID]! + 1) & ((1 << REQUEST_COUNTER_BITS) - 1)) || 1;
    tasks[t + W_REQUEST_ID] = counter;
    const id = (group << REQUEST_COUNTER_BITS) | counter;
    const from = numbered ? mem.groups.f64(group, 'received_number') + 1 : 0;
    view.setUint32(JnlrdOff.GROUP, mem.groups.partnerGroup(group), true);
    view.setUint32(JnlrdOff.REQUESTER, mem.config.systemNumber, true);
    view.setUint32(JnlrdOff.REQUEST_ID, id, true);
    view.setUint8(JnlrdOff.RETRY, basic ? tasks[t + W_RETRY]! : 0);
    let mode = mem.groups.u8(group, 'release_mode');
    // UP_TO: the primary may free what this secondary has applied (seed 002 §10.4's notification).
    // In the numbered protocol "the previous batch" means nothing: release what is stored.
    let releaseNumber = mode === ReleaseMode.UP_TO ? mem.groups.restoredNumber(group) : 0;
    if (!basic && mode === ReleaseMode.NEXT_COMMAND) {
      mode = ReleaseMode.UP_TO;
      releaseNumber = mem.groups.f64(group, 'received_number');
    }
    view.setUint8(JnlrdOff.RELEASE_MODE, mode);
    view.setUint16(JnlrdOff.RELEASE_MODE + 1, 0, true);
    view.setUint32(JnlrdOff.MAX_JOURNALS, mem.groups.u32(group, 'batch_journals_max'), true);
    view.setUint32(JnlrdOff.MAX_BYTES, Math.min(mem.config.journalBatchBytes, port.payloadMax), true);
    view.setFloat64(JnlrdOff.RELEASE_NUMBER, releaseNumber, true);
    view.setFloat64(JnlrdOff.FROM_NUMBER, from, true);
    if (!port.sendStaging(Frame.JNLRD, 0, JNLRD_BYTES)) {
      if (!port.isUp()) this.failed(t, group, 'link is down');
      else mem.taskFloats[(t >> 1) + F_NEXT_SEND] = now + 0.1;
      return Run.WAITING;
    }
    if (numbered) this.ctx.stats[Stat.READS_BY_NUMBER]!++;
    mem.window.sent(group, slot, link, id, from, now);
    return Run.PROGRESS;
  }

  /** S1710: a response arrived on `link`; true if it answers one of this adapter's commands. */
  onResponse(link: number, port: LinkPort): boolean {
    const { mem } = this.ctx;
    if (port.rxPayloadLength < RESPONSE_HEADER_BYTES) return false;
    const rx = rxView(port);
    const id = rx.getUint32(RespOff.REQUEST_ID, true);
    const win = mem.window;
    // The request id names the group (its high bits): only that group's commands can match.
    const group = id >>> REQUEST_COUNTER_BITS;
    if (!mem.groups.exists(group)) return false;
    const t = taskWord(this.ctx, this.taskOf(group));
    if (mem.tasks[t + T.STATE] === TaskState.FREE || mem.tasks[t + T.KIND] !== TaskKind.JOURNAL_READ || mem.tasks[t + T.GROUP] !== group) return false;
    const w = JournalRead.windowOf(mem, group);
    for (let s = 0; s < w; s++) {
      if (win.state(group, s) !== WindowState.AWAITING || win.link(group, s) !== link || win.requestId(group, s) !== id) continue;
      this.handle(t, group, s, port, rx);
      // Wake the task unless it is in the middle of storing another batch.
      if (mem.tasks[t + T.PHASE] !== ReadPhase.STORE && mem.tasks[t + T.STATE] === TaskState.WAITING) ready(this.ctx, t, mem.tasks[t + T.PHASE]!);
      return true;
    }
    return false;
  }

  private handle(t: number, group: number, slot: number, port: LinkPort, rx: DataView): void {
    const { mem } = this.ctx;
    const win = mem.window;
    const now = this.ctx.clock.nowMs();
    const kind = rx.getUint8(RespOff.KIND);
    mem.groups.setF64(group, 'primary_usage', rx.getFloat64(RespOff.PRIMARY_USAGE, true));
    mem.groups.setF64(group, 'last_contact_ms', now);
    const basic = JournalRead.basicProtocol(mem, group);
    const from = win.numbered(group, slot) ? win.firstNumber(group, slot) : 0;
    win.release(group, slot);
    if (kind === ResponseKind.REFUSED) {
      const reason = rx.getUint32(RespOff.REFUSAL, true);
      if (reason === RefusalReason.RELEASED) {
        // Released because this secondary stored them meanwhile (another answer came first): nothing lost.
        if (from > 0 && from <= mem.groups.f64(group, 'received_number')) return;
        // The journals after the last one stored are gone from the primary: the copy cannot go on in order.
        this.abnormal(t, group, `journal sequence gap: the primary released journals from ${mem.groups.f64(group, 'received_number') + 1} before they were stored`);
        return;
      }
      this.failed(t, group, `primary refused the journal read: ${REFUSAL_TEXT[reason] ?? reason}`);
      return;
    }
    if (kind === ResponseKind.GROUP_STATE) {
      // S1730/S1735: take the primary's group state and end journal read processing.
      const state = rx.getUint8(RespOff.GROUP_STATE) as GroupStateCode;
      if (state !== GroupState.FAILURE && state !== GroupState.UNUSED && state !== GroupState.ABNORMAL) {
        // Only 障害, 未使用 (S1735) and 異常 are reports; anything else is a malformed response.
        this.ctx.stats[Stat.BAD_MESSAGES]!++;
        this.failed(t, group, `bad journal read response: group state ${state} reported`);
        return;
      }
      const before = mem.groups.state(group);
      if (before !== state) {
        mem.groups.setState(group, state);
        this.ctx.trace(`group ${group}: ${GROUP_STATE_NAME[before]} -> ${GROUP_STATE_NAME[state] ?? state} (primary group reports it, S1735)`);
      }
      mem.tasks[t + W_FLAGS] = mem.tasks[t + W_FLAGS]! | ReadFlag.STOP;
      return;
    }
    this.healthy(t, group);
    if ((rx.getUint8(RespOff.FLAGS) & RESPONSE_FLAG_COPY_COMPLETE) !== 0) {
      // S940. With batches possibly still on their way, only once everything before is stored.
      if (basic) this.copyEnded(group);
      else mem.tasks[t + W_FLAGS] = mem.tasks[t + W_FLAGS]! | ReadFlag.COPY_DONE;
    }
    if (kind === ResponseKind.NO_JOURNAL) {
      // S1720/S1725: nothing to read; ask again after the interval.
      if (basic) mem.tasks[t + W_RETRY] = 0;
      this.schedule(t, group, 0, 0);
      return;
    }
    if (kind !== ResponseKind.JOURNALS) {
      this.failed(t, group, `response of unknown kind ${kind}`);
      return;
    }
    // S1740/S1745: the secondary's journal volume must be usable.
    const jv = mem.groups.journalVolume(group, 0);
    if (mem.volumes.state(jv) === VolumeState.ABNORMAL) {
      this.abnormal(t, group, `journal volume ${jv} is abnormal, S1745`);
      return;
    }
    const count = rx.getUint32(RespOff.COUNT, true);
    // The batch must fit the slot's staging buffer — never more than this secondary asked for.
    const asked = Math.min(mem.config.journalBatchBytes, port.payloadMax);
    const problem = port.rxPayloadLength > asked ? `response of ${port.rxPayloadLength} bytes exceeds the ${asked} bytes asked for`
      : count === 0 ? 'a journals response with no journal' : this.validateBatch(rx, port, count);
    if (problem !== null) {
      this.ctx.stats[Stat.BAD_MESSAGES]!++;
      this.failed(t, group, `bad journal read response: ${problem}`);
      return;
    }
    // Keep the batch: the link's receive buffer is needed for the next frame.
    const length = port.rxPayloadLength;
    mem.stagingBytes.set(port.rxStaging.subarray(0, length), mem.stagingOffset(group, slot));
    decodeUpdateInfo(rx, RESPONSE_HEADER_BYTES, this.ui);
    win.arrived(group, slot, count, length, this.ui.updateNumber);
    if (this.ui.updateNumber > mem.groups.f64(group, 'received_number') + 1) this.ctx.stats[Stat.READS_AHEAD]!++;
    mem.groups.addF64(group, 'journals_sent', count);
  }

  /** S1735/S1745 and sequence gaps: the group becomes abnormal and reading ends. */
  private abnormal(t: number, group: number, why: string): void {
    const { mem } = this.ctx;
    if (mem.groups.state(group) === GroupState.NORMAL) {
      mem.groups.setState(group, GroupState.ABNORMAL);
      this.ctx.trace(`group ${group}: normal -> abnormal (${why})`);
    }
    mem.tasks[t + W_FLAGS] = mem.tasks[t + W_FLAGS]! | ReadFlag.STOP;
  }

  /** Starts storing the batch of window slot `slot`. */
  private beginStore(task: number, t: number, group: number, slot: number): number {
    const { mem } = this.ctx;
    mem.tasks[t + W_SLOT] = slot;
    mem.tasks[t + W_BATCH] = mem.window.count(group, slot);
    mem.tasks[t + W_BATCH_BYTES] = mem.window.bytes(group, slot);
    mem.tasks[t + W_OFFSET] = RESPONSE_HEADER_BYTES;
    mem.tasks[t + T.COUNT] = 0;
    mem.tasks[t + W_STORE_STEP] = 0;
    mem.tasks[t + T.PHASE] = ReadPhase.STORE;
    return this.store(task, t, group);
  }

  /** Every journal of a response is checked before any is stored: structure, header, data checksum. */
  private validateBatch(rx: DataView, port: LinkPort, count: number): string | null {
    const maxBlocks = this.ctx.mem.config.maxTransferBytes / BLOCK_BYTES;
    let offset = RESPONSE_HEADER_BYTES;
    for (let k = 0; k < count; k++) {
      if (offset + WIRE_UPDATE_INFO_BYTES > port.rxPayloadLength) return `journal ${k} of ${count} is cut off`;
      const problem = validateUpdateInfo(rx, port.rxStaging, offset, maxBlocks);
      if (problem !== null) return `journal ${k}: ${problem}`;
      decodeUpdateInfo(rx, offset, this.ui);
      const dataBytes = this.ui.dataBlocks * BLOCK_BYTES;
      if (offset + WIRE_UPDATE_INFO_BYTES + dataBytes > port.rxPayloadLength) return `journal ${this.ui.updateNumber}: write data is cut off`;
      if (crc32c(port.rxStaging, offset + WIRE_UPDATE_INFO_BYTES, dataBytes) !== this.ui.dataChecksum) return `journal ${this.ui.updateNumber}: write data checksum mismatch`;
      offset += WIRE_UPDATE_INFO_BYTES + dataBytes;
    }
    if (offset !== port.rxPayloadLength) return 'trailing bytes after the last journal';
    return null;
  }

  /** S1800: store the batch's journals one by one, resuming where a wait left off. */
  private store(task: number, t: number, group: number): number {
    const { mem } = this.ctx;
    const tasks = mem.tasks;
    const f = t >> 1;
    const slot = tasks[t + W_SLOT]!;
    const staging = mem.stagingOffset(group, slot);
    const jv = mem.groups.journalVolume(group, 0);
    const set = pointerSetOf(this.ctx, group, 0);
    loadGeometry(this.ctx, set, this.geometry);
    while (tasks[t + T.COUNT]! < tasks[t + W_BATCH]!) {
      const at = staging + tasks[t + W_OFFSET]!;
      decodeUpdateInfo(mem.stagingView, at, this.ui);
      const dataBytes = this.ui.dataBlocks * BLOCK_BYTES;
      const step = tasks[t + W_STORE_STEP]!;
      if (step === 0) {
        const received = mem.groups.f64(group, 'received_number');
        if (this.ui.updateNumber <= received) {
          this.next(t, dataBytes); // a journal stored before, sent again by a retry
          continue;
        }
        if (this.ui.updateNumber !== received + 1) {
          this.abnormal(t, group, `journal sequence gap: expected ${received + 1}, received ${this.ui.updateNumber}`);
          ready(this.ctx, t, ReadPhase.STOPPED);
          return Run.PROGRESS;
        }
        // S1810/S1830 under the group lock; S1840 rewrite and advance the newest pointers.
        const lock = mem.lockMap.groupBase + group;
        mem.locks.lock(lock);
        const p = mem.pointers;
        const fits = uiFits(p.get(set, 'ui_newest'), p.get(set, 'ui_oldest'), this.geometry) &&
          wdFits(p.get(set, 'wd_newest'), p.get(set, 'wd_oldest'), dataBytes, this.geometry);
        if (fits) {
          mem.taskFloats[f + F.UI_POSITION] = p.get(set, 'ui_newest');
          mem.taskFloats[f + F.WD_POSITION] = p.get(set, 'wd_newest');
          p.set(set, 'ui_newest', advanceUi(p.get(set, 'ui_newest'), 1, this.geometry));
          p.set(set, 'wd_newest', advanceWd(p.get(set, 'wd_newest'), dataBytes, this.geometry));
        }
        mem.locks.unlock(lock);
        if (!fits) return this.storeFailed(t, group, slot);
        const v = mem.stagingView;
        v.setUint32(at + UPDATE_INFO.offsets.group_number, group, true);
        v.setUint32(at + UPDATE_INFO.offsets.data_volume, jv, true);
        v.setFloat64(at + UPDATE_INFO.offsets.data_position, mem.taskFloats[f + F.WD_POSITION]!, true);
        sealUpdateInfo(v, mem.stagingBytes, at);
        tasks[t + T.CURSOR] = 0;
        tasks[t + T.AUX_CURSOR] = 0;
        tasks[t + W_STORE_STEP] = 1;
      }
      if (tasks[t + W_STORE_STEP] === 1) {
        // S1850: the write data, wrapping at the end of the write-data area.
        const wd = mem.taskFloats[f + F.WD_POSITION]!;
        const first = Math.min(dataBytes, this.geometry.capacity - wd);
        const dataWord = (at + WIRE_UPDATE_INFO_BYTES) >> 2;
        let r = this.ctx.io.transfer(task, true, jv, wd / BLOCK_BYTES, first, mem.staging, dataWord, T.CURSOR);
        if (r !== IO_DONE) return r === IO_WAIT ? Run.WAITING : Run.PROGRESS;
        if (first < dataBytes) {
          r = this.ctx.io.transfer(task, true, jv, this.geometry.wdHead / BLOCK_BYTES, dataBytes - first, mem.staging, dataWord + (first >> 2), T.AUX_CURSOR);
          if (r !== IO_DONE) return r === IO_WAIT ? Run.WAITING : Run.PROGRESS;
        }
        const scratch = mem.scratchOffset(this.ctx.processorId, task);
        mem.scratchBytes.fill(0, scratch, scratch + UI_SLOT_BYTES);
        mem.scratchBytes.set(mem.stagingBytes.subarray(at, at + WIRE_UPDATE_INFO_BYTES), scratch);
        tasks[t + T.CURSOR] = 0;
        tasks[t + W_STORE_STEP] = 2;
      }
      // The update information last: it makes the journal visible to restore.
      const scratch = mem.scratchOffset(this.ctx.processorId, task);
      const r = this.ctx.io.transfer(task, true, jv, mem.taskFloats[f + F.UI_POSITION]! / BLOCK_BYTES, UI_SLOT_BYTES, mem.scratch, scratch >> 2, T.CURSOR);
      if (r !== IO_DONE) return r === IO_WAIT ? Run.WAITING : Run.PROGRESS;
      mem.groups.setF64(group, 'received_number', this.ui.updateNumber);
      mem.groups.addF64(group, 'journals_created', 1);
      this.next(t, dataBytes);
    }
    // S1760: the batch is stored; time the next read.
    mem.window.release(group, slot);
    if (JournalRead.basicProtocol(mem, group)) tasks[t + W_RETRY] = 0;
    this.schedule(t, group, tasks[t + W_BATCH]!, tasks[t + W_BATCH_BYTES]!);
    ready(this.ctx, t, ReadPhase.WAIT);
    return Run.PROGRESS;
  }

  private next(t: number, dataBytes: number): void {
    const tasks = this.ctx.mem.tasks;
    tasks[t + W_OFFSET] = tasks[t + W_OFFSET]! + WIRE_UPDATE_INFO_BYTES + dataBytes;
    tasks[t + T.COUNT] = tasks[t + T.COUNT]! + 1;
    tasks[t + W_STORE_STEP] = 0;
    tasks[t + T.CURSOR] = 0;
    tasks[t + T.AUX_CURSOR] = 0;
  }

  /** S1755: the journal volume is full. */
  private storeFailed(t: number, group: number, slot: number): number {
    const { mem } = this.ctx;
    const interval = Math.max(1, mem.groups.u32(group, 'read_interval_ms'));
    const now = this.ctx.clock.nowMs();
    if (mem.groups.u8(group, 'store_policy') === StorePolicy.HOLD) {
      // Keep the batch and store it again later; restore frees space meanwhile.
      mem.tasks[t + T.PHASE] = ReadPhase.STORE;
      sleepUntil(this.ctx, t, this.ctx.clock.nowMs() + interval);
      return Run.WAITING;
    }
    // Discard what is not stored and ask the primary to send it again (retry flag; with several
    // commands in flight, a command from the first journal not stored).
    mem.window.release(group, slot);
    this.askAgain(t, group);
    mem.tasks[t + W_FLAGS] = mem.tasks[t + W_FLAGS]! & ~ReadFlag.PACE;
    mem.taskFloats[(t >> 1) + F_NEXT_SEND] = now + interval;
    mem.tasks[t + T.PHASE] = ReadPhase.WAIT;
    sleepUntil(this.ctx, t, now + interval);
    return Run.WAITING;
  }

  /** S1760: when to send the next journal read, by the group's policy (claims 1–6). */
  private schedule(t: number, group: number, received: number, receivedBytes: number): void {
    const { mem } = this.ctx;
    const base = mem.groups.u32(group, 'read_interval_ms');
    const batchMax = Math.max(1, mem.groups.u32(group, 'batch_journals_max'));
    let interval = base;
    switch (mem.groups.u8(group, 'read_policy')) {
      case ReadPolicy.IMMEDIATE: interval = received > 0 ? 0 : base; break;
      case ReadPolicy.FIXED: interval = base; break;
      // Claim 2: a full batch means a backlog — read again at once; an empty one waits the full interval.
      case ReadPolicy.RECEIVED: interval = base * (1 - Math.min(1, received / batchMax)); break;
      // Claim 3: the more of the link a response used, the sooner the next read.
      case ReadPolicy.TRAFFIC: interval = base * (1 - Math.min(1, receivedBytes / mem.config.journalBatchBytes)); break;
      // Claim 4: a fuller own journal reads more slowly, leaving restore room to catch up.
      case ReadPolicy.OWN_USAGE: interval = base * (1 + 4 * this.ownUsage(group)); break;
      // Claim 5: a busier secondary reads more slowly.
      case ReadPolicy.LOAD: interval = base * (1 + 4 * this.load()); break;
      // Claim 6: a fuller primary journal is read sooner.
      case ReadPolicy.PRIMARY_USAGE: interval = base * (1 - Math.min(1, mem.groups.f64(group, 'primary_usage'))); break;
    }
    mem.tasks[t + W_FLAGS] = interval <= 0 ? mem.tasks[t + W_FLAGS]! | ReadFlag.PACE : mem.tasks[t + W_FLAGS]! & ~ReadFlag.PACE;
    mem.taskFloats[(t >> 1) + F_NEXT_SEND] = this.ctx.clock.nowMs() + Math.max(0, interval);
  }

  private ownUsage(group: number): number {
    const set = pointerSetOf(this.ctx, group, 0);
    if (set < 0) return 0;
    const p = this.ctx.mem.pointers;
    loadGeometry(this.ctx, set, this.geometry);
    return journalUsage(p.get(set, 'ui_newest'), p.get(set, 'ui_oldest'), p.get(set, 'wd_newest'), p.get(set, 'wd_oldest'), this.geometry);
  }

  /** This adapter's load: the share of its host-command tasks in use. */
  private load(): number {
    const { mem } = this.ctx;
    let busy = 0;
    for (let task = 0; task < mem.config.hostQueueDepth; task++) if (mem.tasks[taskWord(this.ctx, task) + T.STATE] !== TaskState.FREE) busy++;
    return busy / mem.config.hostQueueDepth;
  }

  /** A read that failed: ask again (retry flag, or from the first journal not stored) after a growing back-off. */
  private failed(t: number, group: number, why: string): void {
    const { mem } = this.ctx;
    const now = this.ctx.clock.nowMs();
    const failures = mem.tasks[t + W_FAILURES]! + 1;
    mem.tasks[t + W_FAILURES] = failures;
    if (mem.groups.f64(group, 'failing_since_ms') === 0) {
      mem.groups.setF64(group, 'failing_since_ms', now);
      this.ctx.trace(`group ${group}: journal reads failing (${why})`);
    }
    this.askAgain(t, group);
    mem.tasks[t + W_FLAGS] = mem.tasks[t + W_FLAGS]! & ~ReadFlag.PACE;
    const base = Math.max(1, mem.groups.u32(group, 'read_interval_ms'));
    const backoff = Math.min(BACKOFF_MAX_MS, base * 2 ** Math.min(failures, 16));
    mem.taskFloats[(t >> 1) + F_NEXT_SEND] = now + backoff;
  }

  /** What was lost must be asked for again: the retry flag, or one more re-request by number. */
  private askAgain(t: number, group: number): void {
    const { mem } = this.ctx;
    mem.tasks[t + W_RETRY] = JournalRead.basicProtocol(mem, group) ? 1 : Math.min(mem.tasks[t + W_RETRY]! + 1, JournalRead.windowOf(mem, group));
  }

  private healthy(t: number, group: number): void {
    const { mem } = this.ctx;
    if (mem.groups.f64(group, 'failing_since_ms') !== 0) {
      this.ctx.trace(`group ${group}: journal reads answered again after ${mem.tasks[t + W_FAILURES]} failures`);
      mem.groups.setF64(group, 'failing_since_ms', 0);
    }
    mem.tasks[t + W_FAILURES] = 0;
  }

  /** S940: the primary reports initial copy ended; the secondary's pairs become normal. */
  private copyEnded(group: number): void {
    const { mem } = this.ctx;
    for (let i = 0; i < mem.groups.pairCount(group); i++) {
      const pair = mem.groups.pairAt(group, i);
      const state = mem.pairs.state(pair);
      if (state === PairState.NOT_COPIED || state === PairState.COPYING) {
        mem.pairs.transition(pair, PairState.NORMAL);
        this.ctx.trace(`pair ${pair}: not-copied -> normal (initial copy ended, S940)`);
      }
    }
  }
}
