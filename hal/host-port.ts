// Host port: the hardware between a host computer and a channel adapter (connection path 190).
//
// Each channel adapter has a port of `queueDepth` command slots in a SharedArrayBuffer (host
// memory that both sides can reach, like an HBA's command ring). A host claims a free slot,
// writes a command record and, for a write, its data; pushes the slot number onto the adapter's
// submission mailbox; and rings the adapter's doorbell. The adapter answers in the same slot
// with a status, a sense key and a reason, and wakes the host through the slot's state word.
// Nothing on this path is a postMessage: the same code runs from the main thread, from workload
// worker threads and inside the deterministic runtime (which polls instead of waiting).
//
// Port layout (per channel adapter, ports one after another, each 64-byte aligned):
//   submission mailbox      Mailbox.bytesFor(mailboxCapacity)
//   slots                   queueDepth * slotBytes; slotBytes = SLOT_HEADER_BYTES + maxTransferBytes
// Slot header (int32 words, little-endian):
//   word byte field
//     0    0 state          FREE, CLAIMED, SUBMITTED, ACTIVE, COMPLETE (Atomics)
//     1    4 opcode         HostOp
//     2    8 volume         logical volume number
//     3   12 lba            first block
//     4   16 byte_length    transfer length in bytes (a multiple of the block size)
//     5   20 tag            the host's own number, echoed
//     6   24 status         ScsiStatus
//     7   28 sense_key      SenseKey
//     8   32 reason         Reason (the additional sense code of this model)
//     9   36 info0          INQUIRY: volume state
//    10   40 info1          INQUIRY: capacity in blocks
//    11   44 info2          INQUIRY: pair number
//    12   48 submit_ms      float64, host clock
//    14   56 complete_ms    float64, controller clock
//   data                   from byte SLOT_HEADER_BYTES, maxTransferBytes

import { Mailbox } from './mailbox.ts';
import type { Doorbells } from './doorbell.ts';
import { alignUp } from './shared-memory.ts';

export const SLOT_HEADER_BYTES = 64;

export const SlotState = { FREE: 0, CLAIMED: 1, SUBMITTED: 2, ACTIVE: 3, COMPLETE: 4 } as const;

export const HostOp = {
  READ: 1, WRITE: 2, INQUIRY: 3,
  // Seed 004's commands from the CPU to the controller (§4.4): mirror temporary cancellation
  // (split), mirror resync, update information transfer, dump read.
  MIRROR_SPLIT: 16, MIRROR_RESYNC: 17, UPDATE_INFO: 18, DUMP_READ: 19,
} as const;
export type HostOpCode = (typeof HostOp)[keyof typeof HostOp];

export const ScsiStatus = { GOOD: 0, CHECK_CONDITION: 2, BUSY: 8 } as const;

export const SenseKey = {
  NO_SENSE: 0x0,
  NOT_READY: 0x2,
  MEDIUM_ERROR: 0x3,
  HARDWARE_ERROR: 0x4,
  ILLEGAL_REQUEST: 0x5,
  DATA_PROTECT: 0x7,
  ABORTED_COMMAND: 0xb,
} as const;

/** Why a command ended abnormally: this model's additional sense codes. */
export const Reason = {
  NONE: 0,
  INVALID_OPCODE: 1,
  VOLUME_NOT_DEFINED: 2,
  VOLUME_UNUSED: 3,
  VOLUME_ABNORMAL: 4,
  VOLUME_WRITE_PROTECTED: 5,
  LBA_OUT_OF_RANGE: 6,
  ZERO_LENGTH: 7,
  TRANSFER_TOO_LONG: 8,
  TRANSFER_MISALIGNED: 9,
  DRIVE_READ_ERROR: 10,
  VOLUME_NO_STORAGE: 11,
  PROCESSOR_STOPPED: 12,
  JOURNAL_VOLUME: 13,
  NOT_MIRRORED: 14,
  MIRROR_SECONDARY: 15,
  MIRROR_STATE: 16,
  MIRROR_BUSY: 17,
} as const;
export type ReasonCode = (typeof Reason)[keyof typeof Reason];

export const REASON_TEXT: Readonly<Record<number, string>> = {
  [Reason.NONE]: 'no error',
  [Reason.INVALID_OPCODE]: 'invalid command operation code',
  [Reason.VOLUME_NOT_DEFINED]: 'logical volume number is not defined on this system',
  [Reason.VOLUME_UNUSED]: 'logical volume is unused',
  [Reason.VOLUME_ABNORMAL]: 'logical volume is abnormal (its storage failed)',
  [Reason.VOLUME_WRITE_PROTECTED]: 'logical volume is a secondary volume; host writes are rejected',
  [Reason.LBA_OUT_OF_RANGE]: 'logical block address out of range',
  [Reason.ZERO_LENGTH]: 'transfer length is zero',
  [Reason.TRANSFER_TOO_LONG]: 'transfer length exceeds the maximum transfer size',
  [Reason.TRANSFER_MISALIGNED]: 'transfer length is not a multiple of the block size',
  [Reason.DRIVE_READ_ERROR]: 'unrecovered read error on the storage device',
  [Reason.VOLUME_NO_STORAGE]: 'logical volume has no storage device allocated',
  [Reason.PROCESSOR_STOPPED]: 'channel adapter stopped before the command completed',
  [Reason.JOURNAL_VOLUME]: 'logical volume is a journal volume; host writes are rejected',
  [Reason.NOT_MIRRORED]: 'logical volume belongs to no local mirror pair',
  [Reason.MIRROR_SECONDARY]: 'logical volume is the secondary of a mirror pair; host writes must name the primary',
  [Reason.MIRROR_STATE]: 'the mirror pair is not in a state that allows this command',
  [Reason.MIRROR_BUSY]: 'another split or resync of this mirror pair is in progress',
};

export interface HostPortGeometry {
  portCount: number;
  queueDepth: number;
  maxTransferBytes: number;
}

export interface CommandResult {
  status: number;
  senseKey: number;
  reason: number;
  reasonText: string;
  tag: number;
  info0: number;
  info1: number;
  info2: number;
  latencyMs: number;
}

const W_STATE = 0, W_OPCODE = 1, W_VOLUME = 2, W_LBA = 3, W_LENGTH = 4, W_TAG = 5;
const W_STATUS = 6, W_SENSE = 7, W_REASON = 8, W_INFO0 = 9, W_INFO1 = 10, W_INFO2 = 11;
const F_SUBMIT = 6, F_COMPLETE = 7; // float64 indexes within the header

function mailboxCapacityFor(queueDepth: number): number {
  let capacity = 1;
  while (capacity < queueDepth) capacity *= 2;
  return capacity;
}

/** Both sides of every port of one storage system; attach-only, format() once at boot. */
export class HostPorts {
  readonly geometry: HostPortGeometry;
  readonly slotBytes: number;
  readonly portBytes: number;
  private readonly mailboxBytes: number;
  private readonly mailboxes: Mailbox[] = [];
  private readonly words: Int32Array;
  private readonly floats: Float64Array;
  readonly bytes: Uint8Array;

  static bytesFor(geometry: HostPortGeometry): number {
    return geometry.portCount * HostPorts.portBytesFor(geometry);
  }

  private static portBytesFor(g: HostPortGeometry): number {
    const slotBytes = SLOT_HEADER_BYTES + alignUp(g.maxTransferBytes, 64);
    return alignUp(Mailbox.bytesFor(mailboxCapacityFor(g.queueDepth)), 64) + g.queueDepth * slotBytes;
  }

  constructor(
    readonly buffer: SharedArrayBuffer,
    geometry: HostPortGeometry,
    private readonly doorbells: Doorbells,
    /** doorbellIndex[port] = the doorbell of the channel adapter behind that port. */
    private readonly doorbellIndex: readonly number[],
  ) {
    if (!(geometry.maxTransferBytes > 0 && geometry.maxTransferBytes % 512 === 0)) {
      throw new Error(`maxTransferBytes ${geometry.maxTransferBytes} must be a positive multiple of 512`);
    }
    if (doorbellIndex.length !== geometry.portCount) throw new Error('one doorbell per host port is required');
    this.geometry = { ...geometry };
    this.slotBytes = SLOT_HEADER_BYTES + alignUp(geometry.maxTransferBytes, 64);
    this.mailboxBytes = alignUp(Mailbox.bytesFor(mailboxCapacityFor(geometry.queueDepth)), 64);
    this.portBytes = HostPorts.portBytesFor(geometry);
    if (buffer.byteLength < HostPorts.bytesFor(geometry)) throw new Error('host port buffer is too small for its geometry');
    for (let port = 0; port < geometry.portCount; port++) {
      this.mailboxes.push(new Mailbox(buffer, port * this.portBytes, mailboxCapacityFor(geometry.queueDepth)));
    }
    this.words = new Int32Array(buffer);
    this.floats = new Float64Array(buffer, 0, Math.floor(buffer.byteLength / 8));
    this.bytes = new Uint8Array(buffer);
  }

  format(): void {
    this.bytes.fill(0, 0, HostPorts.bytesFor(this.geometry));
    for (const mailbox of this.mailboxes) mailbox.format();
  }

  /** Byte offset of a slot's header in the buffer. */
  slotOffset(port: number, slot: number): number {
    if (!(port >= 0 && port < this.geometry.portCount)) throw new Error(`host port ${port} does not exist`);
    if (!(slot >= 0 && slot < this.geometry.queueDepth)) throw new Error(`host port slot ${slot} does not exist`);
    return port * this.portBytes + this.mailboxBytes + slot * this.slotBytes;
  }

  /** Byte offset of a slot's data buffer in the buffer. */
  dataOffset(port: number, slot: number): number {
    return this.slotOffset(port, slot) + SLOT_HEADER_BYTES;
  }

  // ---- host side ----------------------------------------------------------------------

  /** Claims a free slot; -1 when every slot of the port is busy (queue full). */
  claim(port: number): number {
    for (let slot = 0; slot < this.geometry.queueDepth; slot++) {
      const w = this.slotOffset(port, slot) >> 2;
      if (Atomics.compareExchange(this.words, w + W_STATE, SlotState.FREE, SlotState.CLAIMED) === SlotState.FREE) return slot;
    }
    return -1;
  }

  /** Writes the command record of a claimed slot and hands it to the adapter. */
  submit(port: number, slot: number, opcode: number, volume: number, lba: number, byteLength: number, tag: number, nowMs: number): void {
    const w = this.slotOffset(port, slot) >> 2;
    if (Atomics.load(this.words, w + W_STATE) !== SlotState.CLAIMED) throw new Error(`slot ${slot} of port ${port} was not claimed`);
    this.words[w + W_OPCODE] = opcode;
    this.words[w + W_VOLUME] = volume;
    this.words[w + W_LBA] = lba;
    this.words[w + W_LENGTH] = byteLength;
    this.words[w + W_TAG] = tag;
    this.words[w + W_STATUS] = 0;
    this.words[w + W_SENSE] = 0;
    this.words[w + W_REASON] = 0;
    this.floats[(w >> 1) + F_SUBMIT] = nowMs;
    Atomics.store(this.words, w + W_STATE, SlotState.SUBMITTED);
    // The mailbox has a cell for every slot, so a claimed slot always fits.
    if (!this.mailboxes[port]!.tryPush(slot, 0, 0, 0, 0, 0)) throw new Error(`submission mailbox of port ${port} is full`);
    this.doorbells.ring(this.doorbellIndex[port]!);
  }

  isComplete(port: number, slot: number): boolean {
    return Atomics.load(this.words, (this.slotOffset(port, slot) >> 2) + W_STATE) === SlotState.COMPLETE;
  }

  /** Blocks the calling thread until the slot completes or the timeout passes; true if complete. */
  waitComplete(port: number, slot: number, timeoutMs: number): boolean {
    const index = (this.slotOffset(port, slot) >> 2) + W_STATE;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = Atomics.load(this.words, index);
      if (state === SlotState.COMPLETE) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      Atomics.wait(this.words, index, state, left);
    }
  }

  /** Resolves when the slot completes, without blocking the event loop. */
  async waitCompleteAsync(port: number, slot: number, timeoutMs: number): Promise<boolean> {
    const index = (this.slotOffset(port, slot) >> 2) + W_STATE;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = Atomics.load(this.words, index);
      if (state === SlotState.COMPLETE) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      const waited = Atomics.waitAsync(this.words, index, state, left);
      if (waited.async) await waited.value;
    }
  }

  result(port: number, slot: number): CommandResult {
    const w = this.slotOffset(port, slot) >> 2;
    const reason = this.words[w + W_REASON]!;
    return {
      status: this.words[w + W_STATUS]!,
      senseKey: this.words[w + W_SENSE]!,
      reason,
      reasonText: REASON_TEXT[reason] ?? `reason ${reason}`,
      tag: this.words[w + W_TAG]!,
      info0: this.words[w + W_INFO0]!,
      info1: this.words[w + W_INFO1]!,
      info2: this.words[w + W_INFO2]!,
      latencyMs: this.floats[(w >> 1) + F_COMPLETE]! - this.floats[(w >> 1) + F_SUBMIT]!,
    };
  }

  /** Returns a completed slot to the free pool. */
  release(port: number, slot: number): void {
    const w = this.slotOffset(port, slot) >> 2;
    if (Atomics.compareExchange(this.words, w + W_STATE, SlotState.COMPLETE, SlotState.FREE) !== SlotState.COMPLETE) {
      throw new Error(`slot ${slot} of port ${port} released before it completed`);
    }
  }

  // ---- controller side ----------------------------------------------------------------

  /** Takes the next submitted slot of a port; -1 when none is waiting. */
  fetch(port: number, scratch: Int32Array): number {
    if (!this.mailboxes[port]!.tryPop(scratch)) return -1;
    const slot = scratch[0]!;
    if (!(slot >= 0 && slot < this.geometry.queueDepth)) return -2; // a corrupt mailbox entry: reported by the caller
    const w = this.slotOffset(port, slot) >> 2;
    if (Atomics.compareExchange(this.words, w + W_STATE, SlotState.SUBMITTED, SlotState.ACTIVE) !== SlotState.SUBMITTED) return -2;
    return slot;
  }

  opcode(port: number, slot: number): number { return this.words[(this.slotOffset(port, slot) >> 2) + W_OPCODE]!; }
  volume(port: number, slot: number): number { return this.words[(this.slotOffset(port, slot) >> 2) + W_VOLUME]!; }
  lba(port: number, slot: number): number { return this.words[(this.slotOffset(port, slot) >> 2) + W_LBA]!; }
  byteLength(port: number, slot: number): number { return this.words[(this.slotOffset(port, slot) >> 2) + W_LENGTH]!; }

  setInfo(port: number, slot: number, info0: number, info1: number, info2: number): void {
    const w = this.slotOffset(port, slot) >> 2;
    this.words[w + W_INFO0] = info0;
    this.words[w + W_INFO1] = info1;
    this.words[w + W_INFO2] = info2;
  }

  /** Ends a command: status, sense and reason, then the state change that wakes the host. */
  complete(port: number, slot: number, status: number, senseKey: number, reason: number, nowMs: number): void {
    const w = this.slotOffset(port, slot) >> 2;
    this.words[w + W_STATUS] = status;
    this.words[w + W_SENSE] = senseKey;
    this.words[w + W_REASON] = reason;
    this.floats[(w >> 1) + F_COMPLETE] = nowMs;
    Atomics.store(this.words, w + W_STATE, SlotState.COMPLETE);
    Atomics.notify(this.words, w + W_STATE);
  }

  /**
   * Ends every command still queued or in progress on a port whose adapter has died, so no
   * host waits forever. Returns how many commands were ended.
   */
  failOutstanding(port: number, status: number, senseKey: number, reason: number, nowMs: number): number {
    let ended = 0;
    for (let slot = 0; slot < this.geometry.queueDepth; slot++) {
      const w = (this.slotOffset(port, slot) >> 2) + W_STATE;
      const state = Atomics.load(this.words, w);
      if (state === SlotState.SUBMITTED || state === SlotState.ACTIVE) {
        this.complete(port, slot, status, senseKey, reason, nowMs);
        ended++;
      }
    }
    return ended;
  }

  /** Raw access for tests that write malformed command records. */
  rawWord(port: number, slot: number, word: number, value?: number): number {
    const w = (this.slotOffset(port, slot) >> 2) + word;
    if (value !== undefined) this.words[w] = value;
    return this.words[w]!;
  }
}
