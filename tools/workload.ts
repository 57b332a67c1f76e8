// Host workload: writers and readers that drive a storage system's host ports from worker
// threads, keep an exact model of what every block should hold, and verify it.
//
// Addresses are in chunks of `chunkBytes` (the write size). Writers may overlap freely across
// threads and channel adapters, but, like a real host, never have two writes to the same chunk
// in flight: a chunk is claimed through a lock word in a shared model buffer before the command
// is submitted and released after completion, and the model records the seed of the last
// completed write. So the model is exact: after the run, chunk c must hold fill(seed[c]).
//
// Data is a cheap, address-stamped pattern: word k of block b is a hash of (volume, block,
// seed, k), so a block landing at the wrong address or holding an old write is detected.

import type { HostPorts } from '../hal/host-port.ts';
import { HostOp, ScsiStatus } from '../hal/host-port.ts';

export const WORDS_PER_BLOCK = 128;

/** Writes the expected content of `blocks` blocks starting at `lba` into words[wordOffset..]. */
export function fillBlocks(words: Int32Array, wordOffset: number, volume: number, lba: number, blocks: number, seed: number): void {
  let w = wordOffset;
  for (let b = 0; b < blocks; b++) {
    const base = (Math.imul(seed, 0x9e3779b1) ^ Math.imul(lba + b, 0x85ebca6b) ^ Math.imul(volume, 0xc2b2ae35)) | 0;
    for (let k = 0; k < WORDS_PER_BLOCK; k++) words[w++] = (base + Math.imul(k, 0x27d4eb2f)) | 0;
  }
}

/** Index of the first block whose content differs from the expected pattern, or -1. */
export function checkBlocks(words: Int32Array, wordOffset: number, volume: number, lba: number, blocks: number, seed: number): number {
  let w = wordOffset;
  for (let b = 0; b < blocks; b++) {
    const base = (Math.imul(seed, 0x9e3779b1) ^ Math.imul(lba + b, 0x85ebca6b) ^ Math.imul(volume, 0xc2b2ae35)) | 0;
    for (let k = 0; k < WORDS_PER_BLOCK; k++) {
      if (words[w++] !== ((base + Math.imul(k, 0x27d4eb2f)) | 0)) return b;
    }
  }
  return -1;
}

export interface VolumeSpan {
  volume: number;
  chunks: number;
}

/**
 * The shared model: for every (volume, chunk) a lock word and the seed of the last completed
 * write (0 = never written in this run).
 */
export class WorkloadModel {
  readonly locks: Int32Array;
  readonly seeds: Int32Array;
  readonly offsets: number[];
  readonly totalChunks: number;

  static allocate(spans: readonly VolumeSpan[]): SharedArrayBuffer {
    const total = spans.reduce((n, s) => n + s.chunks, 0);
    return new SharedArrayBuffer(total * 8);
  }

  constructor(readonly buffer: SharedArrayBuffer, readonly spans: readonly VolumeSpan[]) {
    this.totalChunks = spans.reduce((n, s) => n + s.chunks, 0);
    this.locks = new Int32Array(buffer, 0, this.totalChunks);
    this.seeds = new Int32Array(buffer, this.totalChunks * 4, this.totalChunks);
    this.offsets = [];
    let at = 0;
    for (const s of spans) {
      this.offsets.push(at);
      at += s.chunks;
    }
  }

  /** Claims chunks [first, first+count) of span `span`; all or nothing. */
  tryClaim(span: number, first: number, count: number): boolean {
    const base = this.offsets[span]! + first;
    for (let i = 0; i < count; i++) {
      if (Atomics.compareExchange(this.locks, base + i, 0, 1) !== 0) {
        for (let j = 0; j < i; j++) Atomics.store(this.locks, base + j, 0);
        return false;
      }
    }
    return true;
  }

  release(span: number, first: number, count: number): void {
    const base = this.offsets[span]! + first;
    for (let i = 0; i < count; i++) Atomics.store(this.locks, base + i, 0);
  }

  seed(span: number, chunk: number): number {
    return Atomics.load(this.seeds, this.offsets[span]! + chunk);
  }

  setSeed(span: number, chunk: number, seed: number): void {
    Atomics.store(this.seeds, this.offsets[span]! + chunk, seed);
  }
}

export interface WorkloadOptions {
  workerIndex: number;
  port: number;
  chunkBytes: number;
  /** Commands this worker keeps in flight. */
  queueDepth: number;
  /** Fraction of commands that are reads, 0..1. */
  readRatio: number;
  /** Largest write, in chunks (writes of 1..maxChunks chunks, so writes overlap partially). */
  maxChunks: number;
  durationMs: number;
  randomSeed: number;
}

export interface WorkloadCounters {
  writes: number;
  reads: number;
  writeBytes: number;
  readBytes: number;
  verifiedReads: number;
  errors: number;
  mismatches: number;
  firstMismatch: string | null;
  latencyMsSum: number;
}

interface InFlight {
  slot: number;
  isWrite: boolean;
  span: number;
  chunk: number;
  count: number;
  seed: number;
  submitMs: number;
}

/**
 * A host computer as a non-blocking actor: each step submits commands up to the queue depth
 * and retires the ones that completed. runWorkload drives it from a worker thread; the
 * deterministic runtime steps it like a processor.
 */
export class WorkloadActor {
  readonly kind = 'host';
  readonly counters: WorkloadCounters = { writes: 0, reads: 0, writeBytes: 0, readBytes: 0, verifiedReads: 0, errors: 0, mismatches: 0, firstMismatch: null, latencyMsSum: 0 };
  private readonly words: Int32Array;
  private readonly blocksPerChunk: number;
  private readonly inflight: InFlight[] = [];
  private rng: number;
  private seedCounter = 0;
  private submitted = 0;
  private stopped = false;

  constructor(
    private readonly ports: HostPorts,
    private readonly model: WorkloadModel,
    private readonly o: WorkloadOptions & { commandsMax?: number },
    private readonly nowMs: () => number,
  ) {
    this.words = new Int32Array(ports.buffer);
    this.blocksPerChunk = o.chunkBytes / 512;
    this.rng = (o.randomSeed >>> 0) || 1;
  }

  /** Stops submitting; in-flight commands still retire. */
  stop(): void {
    this.stopped = true;
  }

  inFlight(): number {
    return this.inflight.length;
  }

  /** Slot of the oldest in-flight command (to wait on), -1 if none. */
  oldestSlot(): number {
    return this.inflight.length > 0 ? this.inflight[0]!.slot : -1;
  }

  finished(): boolean {
    return this.inflight.length === 0 && (this.stopped || (this.o.commandsMax !== undefined && this.submitted >= this.o.commandsMax));
  }

  idleWaitMs(): number {
    return 1;
  }

  step(): number {
    let work = 0;
    for (let i = 0; i < this.inflight.length; i++) {
      if (this.ports.isComplete(this.o.port, this.inflight[i]!.slot)) {
        this.retire(this.inflight[i]!);
        this.inflight.splice(i, 1);
        i--;
        work++;
      }
    }
    while (!this.stopped && (this.o.commandsMax === undefined || this.submitted < this.o.commandsMax) && this.inflight.length < this.o.queueDepth) {
      if (!this.submitOne()) break;
      work++;
    }
    return work;
  }

  private rand(n: number): number {
    this.rng ^= this.rng << 13; this.rng >>>= 0;
    this.rng ^= this.rng >>> 17;
    this.rng ^= this.rng << 5; this.rng >>>= 0;
    return this.rng % n;
  }

  private submitOne(): boolean {
    const { o, model, ports } = this;
    const span = this.rand(model.spans.length);
    const chunks = model.spans[span]!.chunks;
    const isWrite = this.rand(1_000_000) >= o.readRatio * 1_000_000;
    const count = Math.min(1 + this.rand(o.maxChunks), chunks);
    const chunk = this.rand(chunks - count + 1);
    if (!model.tryClaim(span, chunk, count)) return false;
    const slot = ports.claim(o.port);
    if (slot < 0) {
      model.release(span, chunk, count);
      return false;
    }
    const volume = model.spans[span]!.volume;
    const lba = chunk * this.blocksPerChunk;
    let seed = 0;
    if (isWrite) {
      seed = ((o.workerIndex + 1) << 24) | (++this.seedCounter & 0xffffff);
      const base = ports.dataOffset(o.port, slot) >> 2;
      for (let i = 0; i < count; i++) {
        fillBlocks(this.words, base + ((i * o.chunkBytes) >> 2), volume, lba + i * this.blocksPerChunk, this.blocksPerChunk, seed);
      }
    }
    ports.submit(o.port, slot, isWrite ? HostOp.WRITE : HostOp.READ, volume, lba, count * o.chunkBytes, o.workerIndex, this.nowMs());
    this.inflight.push({ slot, isWrite, span, chunk, count, seed, submitMs: this.nowMs() });
    this.submitted++;
    return true;
  }

  private retire(f: InFlight): void {
    const { o, model, ports, counters: c } = this;
    const r = ports.result(o.port, f.slot);
    c.latencyMsSum += this.nowMs() - f.submitMs;
    const volume = model.spans[f.span]!.volume;
    if (r.status !== ScsiStatus.GOOD) {
      c.errors++;
      if (!c.firstMismatch) c.firstMismatch = `${f.isWrite ? 'write' : 'read'} volume ${volume} chunk ${f.chunk}: ${r.reasonText}`;
    } else if (f.isWrite) {
      for (let i = 0; i < f.count; i++) model.setSeed(f.span, f.chunk + i, f.seed);
      c.writes++;
      c.writeBytes += f.count * o.chunkBytes;
    } else {
      c.reads++;
      c.readBytes += f.count * o.chunkBytes;
      const base = ports.dataOffset(o.port, f.slot) >> 2;
      for (let i = 0; i < f.count; i++) {
        const seed = model.seed(f.span, f.chunk + i);
        if (seed === 0) continue; // never written in this run: content unknown (a reused file drive)
        const lba = (f.chunk + i) * this.blocksPerChunk;
        const bad = checkBlocks(this.words, base + ((i * o.chunkBytes) >> 2), volume, lba, this.blocksPerChunk, seed);
        c.verifiedReads++;
        if (bad >= 0) {
          c.mismatches++;
          if (!c.firstMismatch) c.firstMismatch = `read volume ${volume} block ${lba + bad}: content differs from the last write (seed ${seed})`;
        }
      }
    }
    ports.release(o.port, f.slot);
    model.release(f.span, f.chunk, f.count);
  }
}

/**
 * Runs a mixed workload against one host port until the duration passes, keeping up to
 * queueDepth commands in flight. Blocks the calling thread (it is meant for a worker).
 */
export function runWorkload(ports: HostPorts, model: WorkloadModel, o: WorkloadOptions, onProgress?: (c: WorkloadCounters) => void): WorkloadCounters {
  const actor = new WorkloadActor(ports, model, o, () => performance.now());
  const start = performance.now();
  let lastProgress = start;
  while (!actor.finished()) {
    const now = performance.now();
    if (now - start >= o.durationMs) actor.stop();
    if (actor.step() === 0 && actor.inFlight() > 0) ports.waitComplete(o.port, actor.oldestSlot(), 5);
    if (onProgress && now - lastProgress > 250) {
      lastProgress = now;
      onProgress(actor.counters);
    }
  }
  return actor.counters;
}

/**
 * Reads back every chunk of `span` in [first, first+count) that the model says was written and
 * compares it with the expected pattern. Returns the blocks verified and the first mismatch.
 */
export function verifyRange(ports: HostPorts, port: number, model: WorkloadModel, span: number, first: number, count: number, chunkBytes: number): { blocks: number; mismatch: string | null } {
  const words = new Int32Array(ports.buffer);
  const volume = model.spans[span]!.volume;
  const blocksPerChunk = chunkBytes / 512;
  const chunksPerRead = Math.max(1, Math.floor(ports.geometry.maxTransferBytes / chunkBytes));
  let blocks = 0;
  for (let chunk = first; chunk < first + count; chunk += chunksPerRead) {
    const n = Math.min(chunksPerRead, first + count - chunk);
    let any = false;
    for (let i = 0; i < n; i++) if (model.seed(span, chunk + i) !== 0) any = true;
    if (!any) continue;
    const slot = ports.claim(port);
    if (slot < 0) throw new Error(`verify: port ${port} has no free slot`);
    ports.submit(port, slot, HostOp.READ, volume, chunk * blocksPerChunk, n * chunkBytes, 0, Date.now());
    if (!ports.waitComplete(port, slot, 30_000)) throw new Error(`verify: read of volume ${volume} chunk ${chunk} timed out`);
    const r = ports.result(port, slot);
    if (r.status !== ScsiStatus.GOOD) {
      ports.release(port, slot);
      return { blocks, mismatch: `volume ${volume} chunk ${chunk}: read failed: ${r.reasonText}` };
    }
    for (let i = 0; i < n; i++) {
      const seed = model.seed(span, chunk + i);
      if (seed === 0) continue;
      const lba = (chunk + i) * blocksPerChunk;
      const bad = checkBlocks(words, (ports.dataOffset(port, slot) >> 2) + (i * chunkBytes >> 2), volume, lba, blocksPerChunk, seed);
      if (bad >= 0) {
        ports.release(port, slot);
        return { blocks, mismatch: `volume ${volume} block ${lba + bad} differs from its last acknowledged write` };
      }
      blocks += blocksPerChunk;
    }
    ports.release(port, slot);
  }
  return { blocks, mismatch: null };
}
