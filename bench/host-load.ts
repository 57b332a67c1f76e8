// In-adapter host load: a host port that delivers write commands to its channel adapter from
// inside the adapter's own thread, so a benchmark measures the firmware rather than a host
// thread competing for the same cores.
//
// A real host bus adapter fills command slots by DMA: the data and the command record are in
// host-port memory before the adapter looks. HostLoad does the same through the ordinary
// HostPorts protocol (claim a slot, write the record, push the slot number on the submission
// mailbox, ring the doorbell) and retires completed slots, between the adapter's loop
// iterations (bench/load-entry.ts calls pump() before each step()). Each slot's data buffer is
// filled once at start, like data already landed by DMA: the per-command cost left is the
// command record, which is what a host port costs a real adapter.
//
// Control and counters live in SharedArrayBuffers the benchmark's main thread reads:
//   control (int32):   [0] state: IDLE, RUN, STOP    [1] write bytes    [2] commands per second
//                      per adapter (0 = as fast as the adapter takes them)
//   counters (float64, COUNTERS_PER_ADAPTER per adapter): completed, bytes, errors, submitted
// Nothing allocates after construction.

import { HostOp, ScsiStatus, SlotState, type HostPorts } from '../hal/host-port.ts';

export const LoadState = { IDLE: 0, RUN: 1, STOP: 2 } as const;
export const LoadControl = { STATE: 0, WRITE_BYTES: 1, RATE_PER_ADAPTER: 2 } as const;
export const LOAD_CONTROL_WORDS = 4;
export const LoadCounter = { COMPLETED: 0, BYTES: 1, ERRORS: 2, SUBMITTED: 3 } as const;
export const COUNTERS_PER_ADAPTER = 4;

/** Where an adapter writes: its own region of each listed volume, sequentially, wrapping. */
export interface LoadTarget {
  volume: number;
  firstBlock: number;
  blocks: number;
}

export interface LoadSpec {
  control: SharedArrayBuffer;
  counters: SharedArrayBuffer;
  /** targets[adapter] = the regions that adapter's port writes to, in turn. */
  targets: LoadTarget[][];
}

export function allocateLoad(adapters: number, targets: LoadTarget[][], writeBytes: number): LoadSpec {
  const control = new SharedArrayBuffer(LOAD_CONTROL_WORDS * 4);
  new Int32Array(control)[LoadControl.WRITE_BYTES] = writeBytes;
  return { control, counters: new SharedArrayBuffer(adapters * COUNTERS_PER_ADAPTER * 8), targets };
}

const BLOCK_BYTES = 512;
/** Slot header word of the command's SCSI status (hal/host-port.ts). */
const STATUS_WORD = 6;
const MAX_TARGETS = 64;

export class HostLoad {
  private readonly control: Int32Array;
  private readonly counters: Float64Array;
  private readonly base: number;
  private readonly queueDepth: number;
  /** Per slot: the byte length submitted, 0 when the slot is free. */
  private readonly inFlight: Int32Array;
  private readonly targetVolume: Int32Array;
  private readonly targetFirst: Float64Array;
  private readonly targetBlocks: Float64Array;
  private readonly targetCursor: Float64Array;
  private readonly targetCount: number;
  private nextTarget = 0;
  private outstanding = 0;
  private startedMs = 0;
  private submittedSinceStart = 0;

  constructor(private readonly ports: HostPorts, private readonly port: number, spec: LoadSpec) {
    this.control = new Int32Array(spec.control);
    this.counters = new Float64Array(spec.counters);
    this.base = port * COUNTERS_PER_ADAPTER;
    this.queueDepth = ports.geometry.queueDepth;
    this.inFlight = new Int32Array(this.queueDepth);
    const targets = spec.targets[port] ?? [];
    if (targets.length === 0 || targets.length > MAX_TARGETS) throw new Error(`host load: port ${port} needs 1..${MAX_TARGETS} targets, has ${targets.length}`);
    this.targetCount = targets.length;
    this.targetVolume = Int32Array.from(targets, (t) => t.volume);
    this.targetFirst = Float64Array.from(targets, (t) => t.firstBlock);
    this.targetBlocks = Float64Array.from(targets, (t) => t.blocks);
    this.targetCursor = new Float64Array(targets.length);
    // The data each slot carries: a pattern that differs by slot, written once (the DMA).
    for (let slot = 0; slot < this.queueDepth; slot++) {
      const at = ports.dataOffset(port, slot);
      for (let i = 0; i < ports.geometry.maxTransferBytes; i += 4) ports.bytes[at + i] = (slot * 31 + i) & 0xff;
    }
  }

  /** Retires completed commands and submits new ones while the benchmark says RUN. */
  pump(nowMs: number): number {
    let work = 0;
    if (this.outstanding > 0) work += this.retire();
    const state = Atomics.load(this.control, LoadControl.STATE);
    if (state !== LoadState.RUN) {
      this.startedMs = 0;
      return work;
    }
    const writeBytes = Atomics.load(this.control, LoadControl.WRITE_BYTES);
    const rate = Atomics.load(this.control, LoadControl.RATE_PER_ADAPTER);
    if (this.startedMs === 0) {
      this.startedMs = nowMs;
      this.submittedSinceStart = 0;
    }
    let allowed = this.queueDepth - this.outstanding;
    if (rate > 0) allowed = Math.min(allowed, Math.floor(((nowMs - this.startedMs) * rate) / 1000) - this.submittedSinceStart);
    for (let slot = 0; slot < this.queueDepth && allowed > 0; slot++) {
      if (this.inFlight[slot] !== 0) continue;
      this.submit(slot, writeBytes, nowMs);
      allowed--;
      work++;
    }
    return work;
  }

  /** Commands submitted and not yet completed. */
  get pending(): number {
    return this.outstanding;
  }

  private submit(slot: number, writeBytes: number, nowMs: number): void {
    const { ports, port } = this;
    const k = this.nextTarget;
    this.nextTarget = k + 1 === this.targetCount ? 0 : k + 1;
    const blocks = writeBytes / BLOCK_BYTES;
    let cursor = this.targetCursor[k]!;
    if (cursor + blocks > this.targetBlocks[k]!) cursor = 0;
    this.targetCursor[k] = cursor + blocks;
    // This adapter is the port's only host, so the slot it knows is free is claimed without a scan.
    ports.rawWord(port, slot, 0, SlotState.CLAIMED);
    ports.submit(port, slot, HostOp.WRITE, this.targetVolume[k]!, this.targetFirst[k]! + cursor, writeBytes, slot, nowMs);
    this.inFlight[slot] = writeBytes;
    this.outstanding++;
    this.submittedSinceStart++;
    this.counters[this.base + LoadCounter.SUBMITTED]!++;
  }

  private retire(): number {
    const { ports, port } = this;
    let work = 0;
    for (let slot = 0; slot < this.queueDepth; slot++) {
      const bytes = this.inFlight[slot]!;
      if (bytes === 0 || !ports.isComplete(port, slot)) continue;
      if (ports.rawWord(port, slot, STATUS_WORD) === ScsiStatus.GOOD) {
        this.counters[this.base + LoadCounter.COMPLETED]!++;
        this.counters[this.base + LoadCounter.BYTES]! += bytes;
      } else {
        this.counters[this.base + LoadCounter.ERRORS]!++;
      }
      ports.release(port, slot);
      this.inFlight[slot] = 0;
      this.outstanding--;
      work++;
    }
    return work;
  }
}

/** Totals over the adapters: completed commands, bytes, errors. */
export function loadTotals(spec: LoadSpec): { completed: number; bytes: number; errors: number } {
  const c = new Float64Array(spec.counters);
  const out = { completed: 0, bytes: 0, errors: 0 };
  for (let i = 0; i < c.length; i += COUNTERS_PER_ADAPTER) {
    out.completed += c[i + LoadCounter.COMPLETED]!;
    out.bytes += c[i + LoadCounter.BYTES]!;
    out.errors += c[i + LoadCounter.ERRORS]!;
  }
  return out;
}

export function setLoad(spec: LoadSpec, state: number, writeBytes?: number, ratePerAdapter?: number): void {
  const control = new Int32Array(spec.control);
  if (writeBytes !== undefined) Atomics.store(control, LoadControl.WRITE_BYTES, writeBytes);
  if (ratePerAdapter !== undefined) Atomics.store(control, LoadControl.RATE_PER_ADAPTER, Math.round(ratePerAdapter));
  Atomics.store(control, LoadControl.STATE, state);
}
