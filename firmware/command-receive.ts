// Command reception processing 210 (seed 000 §5.3, Figs. 11–12, S1200–S1280; seed 002 §7.3):
// a channel adapter's handling of one host access command, from validation to completion.
//
// A command is a task: it starts in start() and continues in resume() each time the processor
// loop runs it, from its cursor, until it completes. It never blocks: no free cache slot, a
// busy slot, or a stage outstanding make it record why it waits and yield.
//
// A write to a 正常 volume goes straight to S1270. A write to a 正 volume pins and locks all its
// slots, reserves its journal under the group lock (journal-create.ts, S1265), lands its data,
// then copies the journal's write data and update information to the journal volume (S1360)
// before completing — or, for a synchronous pair (seed 000 embodiment 2), forwards the write to
// the secondary system's host port and completes when that write has.

import { HostOp, Reason, ScsiStatus, SenseKey } from '../hal/host-port.ts';
import type { HostPorts } from '../hal/host-port.ts';
import { BLOCK_BYTES } from './config.ts';
import { MsgStatus } from './messages.ts';
import { Stat } from './structs/statistics.ts';
import { TASK_WORDS, TaskF64 as F, TaskKind, TaskState, TaskWait, TaskWord as T } from './structs/task.ts';
import { CacheIo, IO_DONE, IO_WAIT, type IoContext } from './cache-io.ts';
import { Journal, JournalCreation, type Reservation } from './journal-create.ts';
import { UI_SLOT_BYTES } from './journal-ring.ts';
import { emptyUpdateInfo, encodeUpdateInfo, type UpdateInfoFields } from './structs/update-info-codec.ts';
import { crc32c } from '../hal/crc32c.ts';
import { NO_DRIVE, VOLUME_FLAG_JOURNAL, VolumeState } from './structs/volume-info.ts';
import { PairFlag, PairState } from './structs/pair-info.ts';
import type { Clock } from '../hal/clock.ts';
import { MirrorProcesses, WRITE_TO_SECONDARY, startOperation } from './mirror.ts';
import { MIRROR_STATE_NAME, MirrorOp, MirrorResult, MirrorState, MirrorWord } from './structs/mirror-info.ts';

/** Outcome of running a task once. */
export const Run = { DONE: 0, WAITING: 1, PROGRESS: 2 } as const;

export interface AdapterContext extends IoContext {
  readonly port: number;
  readonly ports: HostPorts;
  readonly clock: Clock;
  /** Shared with the adapter's remote-copy processes when present. */
  readonly journals?: JournalCreation;
  /** Host ports of other storage systems this system writes to (synchronous pairs), by system number. */
  readonly remotePorts?: ReadonlyMap<number, HostPorts>;
  readonly trace?: (line: string) => void;
  readonly io?: CacheIo;
}

/** Phases of a host write task. */
const WritePhase = { DATA: 0, JOURNAL_DATA: 1, JOURNAL_UI: 2, REMOTE_SEND: 3, REMOTE_WAIT: 4 } as const;

export class CommandReceive {
  private readonly hit = { value: false };
  private readonly tasks: Int32Array;
  private readonly floats: Float64Array;
  private readonly io: CacheIo;
  private readonly journals: JournalCreation;
  private readonly reservation: Reservation = { updateNumber: 0, journalVolume: 0, uiPosition: 0, wdPosition: 0 };
  /** The update information being built (S1360), reused so a journal allocates nothing. */
  private readonly ui: UpdateInfoFields = emptyUpdateInfo();
  /** Slots a primary-volume write holds at once (pinned and locked) within one step. */
  private readonly heldSlots: Int32Array;
  private readonly hostWords: Int32Array;
  private readonly controlWords: Int32Array;
  private readonly sectorsPerSlot: number;
  private readonly slotBytes: number;
  /** Seed 004's processes for local mirror pairs (the service tasks run them through here too). */
  readonly mirror: MirrorProcesses;
  private readonly ticket = { operationsDone: 0 };

  constructor(private readonly ctx: AdapterContext, trace: (line: string) => void) {
    this.tasks = ctx.mem.tasks;
    this.floats = ctx.mem.taskFloats;
    this.io = ctx.io ?? new CacheIo(ctx);
    this.journals = ctx.journals ?? new JournalCreation(ctx.mem, trace);
    this.heldSlots = new Int32Array(Math.ceil(ctx.mem.config.maxTransferBytes / ctx.cache.slotBytes) + 1);
    this.hostWords = new Int32Array(ctx.ports.buffer);
    this.controlWords = new Int32Array(ctx.mem.controlBuffer);
    this.sectorsPerSlot = ctx.cache.sectorsPerSlot;
    this.slotBytes = ctx.cache.slotBytes;
    this.mirror = new MirrorProcesses({ ...ctx, io: this.io, trace });
  }

  /** S1200–S1250: takes a fetched host port slot into task `task`; completes it at once if invalid. */
  start(task: number, portSlot: number): number {
    const { ports, port, mem, stats } = this.ctx;
    const t = this.ctx.taskBase + task * TASK_WORDS;
    let opcode = ports.opcode(port, portSlot);
    let volume = ports.volume(port, portSlot);
    const lba = ports.lba(port, portSlot);
    const byteLength = ports.byteLength(port, portSlot);
    this.tasks[t + T.PORT_SLOT] = portSlot;
    this.tasks[t + T.OPCODE] = opcode;
    this.tasks[t + T.VOLUME] = volume;
    this.tasks[t + T.LBA] = lba;
    this.tasks[t + T.BYTE_LENGTH] = byteLength;
    this.tasks[t + T.CURSOR] = 0;
    this.tasks[t + T.CACHE_SLOT] = -1;
    this.tasks[t + T.ATTEMPTS] = 0;
    this.tasks[t + T.WAIT] = TaskWait.NONE;
    this.tasks[t + T.KIND] = TaskKind.HOST;
    this.floats[(t >> 1) + F.RECEIVED_MS] = this.ctx.clock.nowMs();
    this.tasks[t + T.PHASE] = WritePhase.DATA;
    this.tasks[t + T.AUX_CURSOR] = 0;
    this.tasks[t + T.AUX2] = 0;

    // Seed 004 command decision 2000 (2050–2110): the mirror commands go to their processes.
    if (opcode >= HostOp.MIRROR_SPLIT && opcode <= HostOp.DUMP_READ) {
      const mirror = mem.volumes.exists(volume) ? mem.volumes.mirrorNumber(volume) : 0;
      if (mirror === 0) return this.reject(task, SenseKey.ILLEGAL_REQUEST, mem.volumes.exists(volume) && mem.volumes.number(volume) !== 0 ? Reason.NOT_MIRRORED : Reason.VOLUME_NOT_DEFINED);
      if (opcode !== HostOp.DUMP_READ) {
        this.tasks[t + T.GENERATION] = mem.volumes.generation(volume);
        return this.mirrorCommand(task, t, opcode, mirror);
      }
      // 7010/7020: a dump read reads the secondary, whichever member is named, and only while split.
      if (mem.mirrors.state(mirror) !== MirrorState.SPLIT) return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.MIRROR_STATE);
      volume = this.mirror.dumpReadVolume(mirror, Math.max(0, byteLength) / BLOCK_BYTES);
      opcode = HostOp.READ;
      this.tasks[t + T.OPCODE] = opcode;
      this.tasks[t + T.VOLUME] = volume;
    }

    // S1210/S1215: classify the command.
    if (opcode !== HostOp.READ && opcode !== HostOp.WRITE && opcode !== HostOp.INQUIRY) {
      return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.INVALID_OPCODE);
    }
    if (!mem.volumes.exists(volume) || mem.volumes.number(volume) === 0) return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.VOLUME_NOT_DEFINED);
    this.tasks[t + T.GENERATION] = mem.volumes.generation(volume);
    const state = mem.volumes.state(volume);
    if (opcode === HostOp.INQUIRY) {
      stats[Stat.HOST_INQUIRIES]!++;
      ports.setInfo(port, portSlot, state, mem.volumes.capacityBlocks(volume), mem.volumes.pairNumber(volume));
      return this.finish(task, ScsiStatus.GOOD, SenseKey.NO_SENSE, Reason.NONE);
    }
    if (state === VolumeState.UNUSED) return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.VOLUME_UNUSED);
    if (state === VolumeState.ABNORMAL) return this.reject(task, SenseKey.HARDWARE_ERROR, Reason.VOLUME_ABNORMAL);
    // S1240/S1245: a write is accepted only by a 正常 or 正 volume (副 is write-protected).
    if (opcode === HostOp.WRITE && state !== VolumeState.NORMAL && state !== VolumeState.PRIMARY) {
      return this.reject(task, SenseKey.DATA_PROTECT, Reason.VOLUME_WRITE_PROTECTED);
    }
    // A journal volume belongs to remote copy: a host write would corrupt journals.
    if (opcode === HostOp.WRITE && (mem.volumes.flags(volume) & VOLUME_FLAG_JOURNAL) !== 0) {
      return this.reject(task, SenseKey.DATA_PROTECT, Reason.JOURNAL_VOLUME);
    }
    const mirror = mem.volumes.mirrorNumber(volume);
    if (mirror !== 0) {
      // Seed 004 §5.3: host writes name the primary; the secondary is written only by the
      // mirroring, and never while split (it holds the frozen image).
      if (opcode === HostOp.WRITE && volume !== mem.mirrors.primaryVolume(mirror) && mem.mirrors.state(mirror) !== MirrorState.SEPARATED) {
        return this.reject(task, SenseKey.DATA_PROTECT, Reason.MIRROR_SECONDARY);
      }
      if (opcode === HostOp.READ && volume === mem.mirrors.primaryVolume(mirror) && mem.mirrors.state(mirror) === MirrorState.SPLIT) {
        Atomics.add(mem.mirrors.words, mem.mirrors.word(mirror, MirrorWord.PRIMARY_READ_BLOCKS), Math.max(0, byteLength) / BLOCK_BYTES);
      }
    }
    if (byteLength === 0) return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.ZERO_LENGTH);
    if (byteLength < 0 || byteLength % BLOCK_BYTES !== 0) return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.TRANSFER_MISALIGNED);
    if (byteLength > mem.config.maxTransferBytes || byteLength > ports.geometry.maxTransferBytes) {
      return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.TRANSFER_TOO_LONG);
    }
    const blocks = byteLength / BLOCK_BYTES;
    if (lba < 0 || lba + blocks > mem.volumes.capacityBlocks(volume)) return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.LBA_OUT_OF_RANGE);
    if (opcode === HostOp.READ && mem.volumes.driveNumber(volume) === NO_DRIVE) {
      return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.VOLUME_NO_STORAGE);
    }
    this.tasks[t + T.STATE] = TaskState.READY;
    return Run.PROGRESS;
  }

  /** Runs a READY or WAITING task as far as it can go. */
  resume(task: number): number {
    const t = this.ctx.taskBase + task * TASK_WORDS;
    // The volume was deleted or redefined while this command waited: its data must not land
    // in whatever the number means now.
    if (this.ctx.mem.volumes.generation(this.tasks[t + T.VOLUME]!) !== this.tasks[t + T.GENERATION]) {
      return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.VOLUME_UNUSED);
    }
    const opcode = this.tasks[t + T.OPCODE];
    if (opcode === HostOp.MIRROR_SPLIT || opcode === HostOp.MIRROR_RESYNC) return this.mirrorWait(task, t);
    return opcode === HostOp.WRITE ? this.runWrite(task, t) : this.runRead(task, t);
  }

  /**
   * 2050/2070 and 2090: a split or resync starts on the pair's mirror service task and this
   * command waits for it as a task; update information transfer (6000) answers at once with
   * bytes [lba, lba + length) of 240 and, in info0..2, the units, the unit size in blocks and the
   * split sequence.
   */
  private mirrorCommand(task: number, t: number, opcode: number, mirror: number): number {
    const { mem, ports, port } = this.ctx;
    const portSlot = this.tasks[t + T.PORT_SLOT]!;
    const { mirrors } = mem;
    if (opcode === HostOp.UPDATE_INFO) {
      if (mirrors.state(mirror) === MirrorState.SEPARATED) return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.MIRROR_STATE);
      const offset = this.tasks[t + T.LBA]!;
      const length = this.tasks[t + T.BYTE_LENGTH]!;
      if (length <= 0 || length > ports.geometry.maxTransferBytes) return this.reject(task, SenseKey.ILLEGAL_REQUEST, length === 0 ? Reason.ZERO_LENGTH : Reason.TRANSFER_TOO_LONG);
      if (offset < 0 || offset + length > mirrors.bitmapBytes) return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.LBA_OUT_OF_RANGE);
      this.mirror.updateInfo(mirror, offset, length, ports.bytes, ports.dataOffset(port, portSlot));
      ports.setInfo(port, portSlot, mirrors.units(mirror), mirrors.unitBlocks(mirror), mirrors.splitSequence(mirror));
      return this.finish(task, ScsiStatus.GOOD, SenseKey.NO_SENSE, Reason.NONE);
    }
    this.tasks[t + T.AUX0] = mirror; // not T.PAIR: that names a remote-copy pair
    const why = startOperation(mem, mirror, opcode === HostOp.MIRROR_SPLIT ? MirrorOp.SPLIT : MirrorOp.RESYNC, this.ticket);
    if (why !== '') {
      this.ctx.trace?.(`host ${opcode === HostOp.MIRROR_SPLIT ? 'split' : 'resync'} refused: ${why}`);
      return this.reject(task, SenseKey.ILLEGAL_REQUEST, mirrors.operation(mirror) !== MirrorOp.NONE ? Reason.MIRROR_BUSY : Reason.MIRROR_STATE);
    }
    this.tasks[t + T.AUX1] = this.ticket.operationsDone;
    this.tasks[t + T.STATE] = TaskState.WAITING;
    this.tasks[t + T.WAIT] = TaskWait.MIRROR_HOLD;
    return Run.WAITING;
  }

  /** A host split or resync waits until the operation it started has ended. */
  private mirrorWait(task: number, t: number): number {
    const { mem, ports, port } = this.ctx;
    const mirror = this.tasks[t + T.AUX0]!;
    if (Atomics.load(mem.mirrors.words, mem.mirrors.word(mirror, MirrorWord.OPERATIONS_DONE)) === this.tasks[t + T.AUX1]) {
      this.tasks[t + T.STATE] = TaskState.WAITING;
      this.tasks[t + T.WAIT] = TaskWait.MIRROR_HOLD;
      return Run.WAITING;
    }
    // (RUNNING here means a later operation has already started after this one ended.)
    if (mem.mirrors.lastResult(mirror) === MirrorResult.STAGE_FAILED) return this.reject(task, SenseKey.MEDIUM_ERROR, Reason.DRIVE_READ_ERROR);
    ports.setInfo(port, this.tasks[t + T.PORT_SLOT]!, mem.mirrors.state(mirror), mem.mirrors.subState(mirror), mem.mirrors.splitSequence(mirror));
    this.ctx.trace?.(`host command done: mirror ${mirror} is ${MIRROR_STATE_NAME[mem.mirrors.state(mirror)]}`);
    return this.finish(task, ScsiStatus.GOOD, SenseKey.NO_SENSE, Reason.NONE);
  }

  /** A stage this task asked for has ended (message from a disk adapter); -1 if it was not waiting for it. */
  stageDone(task: number, slot: number, status: number): number {
    const r = this.io.stageDone(task, slot, status);
    if (r < 0) return -1;
    if (r === MsgStatus.OK) return Run.PROGRESS;
    // A host command ends here with the error; nothing is left for a later transfer to report.
    this.tasks[this.ctx.taskBase + task * TASK_WORDS + T.CACHE_SLOT] = -1;
    if (r === MsgStatus.NO_STORAGE) return this.reject(task, SenseKey.ILLEGAL_REQUEST, Reason.VOLUME_NO_STORAGE);
    if (r === MsgStatus.DRIVE_FAILED) return this.reject(task, SenseKey.HARDWARE_ERROR, Reason.VOLUME_ABNORMAL);
    return this.reject(task, SenseKey.MEDIUM_ERROR, Reason.DRIVE_READ_ERROR);
  }

  /** S1250–S1280 for a write: host data into cache, a journal for a 正 volume (S1265), completion. */
  private runWrite(task: number, t: number): number {
    const volume = this.tasks[t + T.VOLUME]!;
    const phase = this.tasks[t + T.PHASE]!;
    if (phase === WritePhase.DATA) {
      const mirror = this.ctx.mem.volumes.mirrorNumber(volume);
      if (mirror !== 0) {
        // Seed 004 write 3000 (mirror.ts).
        const r = this.mirror.write(task, t, mirror, this.hostWords, this.hostWord(t));
        if (r === WRITE_TO_SECONDARY) return this.reject(task, SenseKey.DATA_PROTECT, Reason.MIRROR_SECONDARY);
        if (r !== IO_DONE) return r === IO_WAIT ? Run.WAITING : Run.PROGRESS;
        return this.writeDone(task, t);
      }
      if (this.ctx.mem.volumes.state(volume) === VolumeState.PRIMARY) return this.primaryData(task, t, volume);
      const r = this.io.transfer(task, true, volume, this.tasks[t + T.LBA]!, this.tasks[t + T.BYTE_LENGTH]!, this.hostWords, this.hostWord(t), T.CURSOR);
      if (r !== IO_DONE) return r === IO_WAIT ? Run.WAITING : Run.PROGRESS;
      return this.writeDone(task, t);
    }
    const phase2 = this.tasks[t + T.PHASE]!;
    if (phase2 === WritePhase.REMOTE_SEND || phase2 === WritePhase.REMOTE_WAIT) return this.forward(task, t);
    return this.journalCopy(task, t);
  }

  /**
   * A synchronous pair (seed 000 embodiment 2, [0144] "as in the prior art"): the write goes to
   * the secondary system's host port as an ordinary write, and the host is answered when it
   * completes. If it cannot be delivered the pair is suspended (its bitmap remembers the write)
   * and the host still gets GOOD: the data is safe here ("fence level never").
   */
  private forward(task: number, t: number): number {
    const { mem } = this.ctx;
    const pair = this.tasks[t + T.PAIR]!;
    const ports = this.ctx.remotePorts?.get(mem.pairs.secondarySystem(pair));
    const byteLength = this.tasks[t + T.BYTE_LENGTH]!;
    if (!ports || mem.pairs.state(pair) !== PairState.NORMAL || byteLength > ports.geometry.maxTransferBytes) {
      this.suspendSync(pair, t, ports ? 'the secondary cannot take the write' : `system ${mem.pairs.secondarySystem(pair)} is not reachable`);
      // Once the pair is suspended no write of it is forwarded again, so the tickets still
      // waiting simply end here too.
      return this.writeDone(task, t);
    }
    const port = this.ctx.processorId % ports.geometry.portCount;
    const serving = mem.pairs.forwardWord(pair) + 1;
    if (this.tasks[t + T.PHASE] === WritePhase.REMOTE_SEND) {
      // One forwarded write per synchronous pair at a time, in ticket order.
      if (Atomics.load(this.controlWords, serving) !== this.tasks[t + T.AUX2]) return this.wait(t, TaskWait.RESPONSE, Stat.SLOT_BUSY_WAITS, false);
      const slot = ports.claim(port);
      if (slot < 0) return this.wait(t, TaskWait.RESPONSE, Stat.SLOT_BUSY_WAITS, false);
      ports.bytes.set(this.ctx.ports.bytes.subarray(this.hostWord(t) << 2, (this.hostWord(t) << 2) + byteLength), ports.dataOffset(port, slot));
      ports.submit(port, slot, HostOp.WRITE, mem.pairs.secondaryVolume(pair), this.tasks[t + T.LBA]!, byteLength, task, this.ctx.clock.nowMs());
      this.tasks[t + T.AUX1] = slot;
      this.tasks[t + T.PHASE] = WritePhase.REMOTE_WAIT;
    }
    const slot = this.tasks[t + T.AUX1]!;
    if (!ports.isComplete(port, slot)) return this.wait(t, TaskWait.RESPONSE, Stat.SLOT_BUSY_WAITS, false);
    const result = ports.result(port, slot);
    ports.release(port, slot);
    Atomics.add(this.controlWords, serving, 1);
    if (result.status !== ScsiStatus.GOOD) this.suspendSync(pair, t, `the secondary answered: ${result.reasonText}`);
    return this.writeDone(task, t);
  }

  /**
   * A synchronous copy failed: the pair is suspended and the write remembered for a later copy —
   * and so is every other synchronous pair to the same system. Their volumes form one image
   * there (a cascade's primary journals them as one group): were the others to go on, the copy
   * would hold later writes without this one, and no longer be a state the host ever saw.
   */
  private suspendSync(pair: number, t: number, why: string): void {
    const { mem } = this.ctx;
    const target = mem.pairs.secondarySystem(pair);
    for (let p = 1; p < mem.pairs.count; p++) {
      if (mem.pairs.state(p) !== PairState.NORMAL || (mem.pairs.flags(p) & PairFlag.SYNC) === 0 || mem.pairs.secondarySystem(p) !== target) continue;
      mem.pairs.transition(p, PairState.ABNORMAL);
      this.ctx.trace?.(p === pair ? `pair ${p}: normal -> abnormal (synchronous copy failed: ${why})` : `pair ${p}: normal -> abnormal (synchronous copy of pair ${pair} to system ${target} failed)`);
    }
    this.journals.suspendedWrite(mem.pairs.primaryVolume(pair), this.tasks[t + T.LBA]!, this.tasks[t + T.BYTE_LENGTH]! / BLOCK_BYTES);
  }

  /**
   * S1250 + S1265 for a 正 (primary) volume: every cache slot of the write is pinned and locked
   * first, so the update number taken under the group lock and the order the data lands in the
   * volume's cache agree — two writes to the same block can never reach the secondary in the
   * opposite order from the one the primary keeps.
   */
  private primaryData(task: number, t: number, volume: number): number {
    const { cache, mem, stats } = this.ctx;
    const lba = this.tasks[t + T.LBA]!;
    const byteLength = this.tasks[t + T.BYTE_LENGTH]!;
    const blocks = byteLength / BLOCK_BYTES;
    const firstSlot = Math.floor(lba / this.sectorsPerSlot);
    const lastSlot = Math.floor((lba + blocks - 1) / this.sectorsPerSlot);
    let held = 0;
    for (let n = firstSlot; n <= lastSlot; n++) {
      const s = cache.obtain(volume, n, this.hit);
      if (s < 0) return this.releaseHeld(held, t, TaskWait.CACHE_FULL, Stat.CACHE_FULL_WAITS);
      if (!cache.tryLockSlot(s)) {
        cache.unpin(s);
        return this.releaseHeld(held, t, TaskWait.SLOT_BUSY, Stat.SLOT_BUSY_WAITS);
      }
      this.heldSlots[held++] = s;
    }
    const pair = mem.volumes.pairNumber(volume);
    const outcome = this.journals.reserveForWrite(pair, lba, blocks, this.reservation);
    // S1250: the data goes into the volume's cache (Fig. 11, 1100), in the order the update numbers say.
    const hostWord = this.hostWord(t);
    let cursor = 0;
    for (let i = 0; i < held; i++) {
      const s = this.heldSlots[i]!;
      const block = lba + cursor / BLOCK_BYTES;
      const sector = block - Math.floor(block / this.sectorsPerSlot) * this.sectorsPerSlot;
      const sectors = Math.min(this.sectorsPerSlot - sector, (byteLength - cursor) / BLOCK_BYTES);
      const words = (sectors * BLOCK_BYTES) >> 2;
      mem.cacheWords.set(this.hostWords.subarray(hostWord + (cursor >> 2), hostWord + (cursor >> 2) + words), (s * this.slotBytes + sector * BLOCK_BYTES) >> 2);
      cache.markDirty(s, sector, sectors);
      stats[Stat.WRITE_SLOT_HITS]!++;
      cursor += sectors * BLOCK_BYTES;
    }
    for (let i = 0; i < held; i++) {
      cache.unlockSlot(this.heldSlots[i]!);
      cache.unpin(this.heldSlots[i]!);
    }
    if (outcome === Journal.FORWARD) {
      // The ticket is taken while every slot of the write is still locked, so overlapping
      // writes are forwarded in the order their data landed here.
      this.tasks[t + T.AUX2] = Atomics.add(this.controlWords, mem.pairs.forwardWord(pair), 1);
      this.tasks[t + T.PAIR] = pair;
      this.tasks[t + T.PHASE] = WritePhase.REMOTE_SEND;
      return this.forward(task, t);
    }
    if (outcome !== Journal.RESERVED) return this.writeDone(task, t); // S1270: no journal for this write
    // S1360: the journal's write data and update information go to the journal volume next.
    this.floats[(t >> 1) + F.UPDATE_NUMBER] = this.reservation.updateNumber;
    this.floats[(t >> 1) + F.UI_POSITION] = this.reservation.uiPosition;
    this.floats[(t >> 1) + F.WD_POSITION] = this.reservation.wdPosition;
    this.tasks[t + T.AUX0] = this.reservation.journalVolume;
    this.tasks[t + T.PAIR] = pair;
    this.tasks[t + T.CURSOR] = 0;
    this.tasks[t + T.AUX_CURSOR] = 0;
    this.tasks[t + T.PHASE] = WritePhase.JOURNAL_DATA;
    return this.journalCopy(task, t);
  }

  /** S1360: write data into the write-data area (wrapping), then the update information, which completes the journal. */
  private journalCopy(task: number, t: number): number {
    const { mem } = this.ctx;
    const journalVolume = this.tasks[t + T.AUX0]!;
    const byteLength = this.tasks[t + T.BYTE_LENGTH]!;
    const hostWord = this.hostWord(t);
    const f = t >> 1;
    if (this.tasks[t + T.PHASE] === WritePhase.JOURNAL_DATA) {
      const pointer = this.pointerSetOf(this.tasks[t + T.PAIR]!);
      const wd = this.floats[f + F.WD_POSITION]!;
      const capacity = mem.pointers.get(pointer, 'capacity_bytes');
      const first = Math.min(byteLength, capacity - wd);
      let r = this.io.transfer(task, true, journalVolume, wd / BLOCK_BYTES, first, this.hostWords, hostWord, T.AUX_CURSOR);
      if (r !== IO_DONE) return r === IO_WAIT ? Run.WAITING : Run.PROGRESS;
      if (first < byteLength) {
        const wdHead = mem.pointers.get(pointer, 'wd_head');
        r = this.io.transfer(task, true, journalVolume, wdHead / BLOCK_BYTES, byteLength - first, this.hostWords, hostWord + (first >> 2), T.CURSOR);
        if (r !== IO_DONE) return r === IO_WAIT ? Run.WAITING : Run.PROGRESS;
      }
      // The update information, built once, checksummed over the write data.
      const scratch = this.scratchOffset(task);
      mem.scratchBytes.fill(0, scratch, scratch + UI_SLOT_BYTES);
      const pair = this.tasks[t + T.PAIR]!;
      const ui = this.ui;
      ui.flags = 0;
      ui.receiveMs = this.floats[f + F.RECEIVED_MS]!;
      ui.updateNumber = this.floats[f + F.UPDATE_NUMBER]!;
      ui.groupNumber = mem.pairs.groupNumber(pair);
      ui.targetVolume = this.tasks[t + T.VOLUME]!;
      ui.targetBlock = this.tasks[t + T.LBA]!;
      ui.dataBlocks = byteLength / BLOCK_BYTES;
      ui.dataVolume = journalVolume;
      ui.dataChecksum = crc32c(this.ctx.ports.bytes, hostWord << 2, byteLength);
      ui.dataPosition = this.floats[f + F.WD_POSITION]!;
      encodeUpdateInfo(mem.scratchView, mem.scratchBytes, scratch, ui);
      this.tasks[t + T.AUX_CURSOR] = 0;
      this.tasks[t + T.PHASE] = WritePhase.JOURNAL_UI;
    }
    const r = this.io.transfer(task, true, journalVolume, this.floats[f + F.UI_POSITION]! / BLOCK_BYTES, UI_SLOT_BYTES, mem.scratch, this.scratchOffset(task) >> 2, T.AUX_CURSOR);
    if (r !== IO_DONE) return r === IO_WAIT ? Run.WAITING : Run.PROGRESS;
    return this.writeDone(task, t);
  }

  private writeDone(task: number, t: number): number {
    const { stats } = this.ctx;
    stats[Stat.HOST_WRITES]!++;
    stats[Stat.HOST_WRITE_BYTES]! += this.tasks[t + T.BYTE_LENGTH]!;
    return this.finish(task, ScsiStatus.GOOD, SenseKey.NO_SENSE, Reason.NONE);
  }

  private releaseHeld(held: number, t: number, why: number, counter: number): number {
    for (let i = 0; i < held; i++) {
      this.ctx.cache.unlockSlot(this.heldSlots[i]!);
      this.ctx.cache.unpin(this.heldSlots[i]!);
    }
    return this.wait(t, why, counter, false);
  }

  /** S1230: ordinary read processing — cache hit, or stage from the drive through a disk adapter. */
  private runRead(task: number, t: number): number {
    const r = this.io.transfer(task, false, this.tasks[t + T.VOLUME]!, this.tasks[t + T.LBA]!, this.tasks[t + T.BYTE_LENGTH]!, this.hostWords, this.hostWord(t), T.CURSOR);
    if (r !== IO_DONE) return r === IO_WAIT ? Run.WAITING : Run.PROGRESS;
    this.ctx.stats[Stat.HOST_READS]!++;
    this.ctx.stats[Stat.HOST_READ_BYTES]! += this.tasks[t + T.BYTE_LENGTH]!;
    return this.finish(task, ScsiStatus.GOOD, SenseKey.NO_SENSE, Reason.NONE);
  }

  private hostWord(t: number): number {
    return this.ctx.ports.dataOffset(this.ctx.port, this.tasks[t + T.PORT_SLOT]!) >> 2;
  }

  private scratchOffset(task: number): number {
    return this.ctx.mem.scratchOffset(this.ctx.processorId, task);
  }

  /** The first pointer set of the pair's group (every set shares the ring geometry). */
  private pointerSetOf(pair: number): number {
    const { mem } = this.ctx;
    const group = mem.pairs.groupNumber(pair);
    for (let r = 0; r < mem.config.readersMax; r++) {
      const s = group * mem.config.readersMax + r;
      if (mem.pointers.groupNumber(s) === group) return s;
    }
    return group * mem.config.readersMax;
  }

  private wait(t: number, why: number, counter: number, progressed: boolean): number {
    this.ctx.stats[counter]!++;
    this.tasks[t + T.STATE] = TaskState.WAITING;
    this.tasks[t + T.WAIT] = why;
    this.tasks[t + T.ATTEMPTS] = progressed ? 0 : this.tasks[t + T.ATTEMPTS]! + 1;
    return progressed ? Run.PROGRESS : Run.WAITING;
  }

  private reject(task: number, senseKey: number, reason: number): number {
    this.ctx.stats[Stat.HOST_REJECTED]!++;
    return this.finish(task, ScsiStatus.CHECK_CONDITION, senseKey, reason);
  }

  private finish(task: number, status: number, senseKey: number, reason: number): number {
    const t = this.ctx.taskBase + task * TASK_WORDS;
    const now = this.ctx.clock.nowMs();
    this.ctx.ports.complete(this.ctx.port, this.tasks[t + T.PORT_SLOT]!, status, senseKey, reason, now);
    this.tasks[t + T.STATE] = TaskState.FREE;
    this.tasks[t + T.WAIT] = TaskWait.NONE;
    return Run.DONE;
  }
}
