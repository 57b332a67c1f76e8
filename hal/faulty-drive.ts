// FaultyDrive: wraps another drive and fails operations on command, so tests can exercise the
// firmware's media-error and failed-drive paths. The commands live in a small SharedArrayBuffer
// (FaultControl) that travels in the DriveDescriptor: a test on the main thread injects a fault
// and the drives opened inside worker threads obey it on their next operation.

import { DriveStatus } from './drive.ts';
import type { Drive, DriveStatusCode } from './drive.ts';
import { assertTransfer } from './memory-drive.ts';

// Int32 slots of the control block. Range fields are guarded by RANGE_SEQ (a seqlock) because a
// range is three words and a worker must never see the start of one range with the end of another.
const RANGE_SEQ = 0;
const DRIVE_FAILED = 1;
const READ_RANGE = 2; // enabled, lbaFrom, lbaTo
const WRITE_RANGE = 5; // enabled, lbaFrom, lbaTo
const NEXT_WRITE_FAILURES = 8;
const READS = 9;
const WRITES = 10;
const INJECTED_FAILURES = 11;
const NEXT_FLUSH_FAILURES = 12;
const CONTROL_SLOTS = 16;

const MAX_INT32 = 0x7fff_ffff;

/** The fault commands and counters for one drive, usable from any thread that holds the buffer. */
export class FaultControl {
  readonly buffer: SharedArrayBuffer;
  private readonly slots: Int32Array;

  /** A control block with no faults set; zeros mean "healthy", so no initialisation is needed. */
  static allocate(): SharedArrayBuffer {
    return new SharedArrayBuffer(CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT);
  }

  constructor(buffer: SharedArrayBuffer) {
    if (!(buffer instanceof SharedArrayBuffer)) {
      throw new Error('FaultControl: buffer must be a SharedArrayBuffer so every thread sees it');
    }
    if (buffer.byteLength !== CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT) {
      throw new Error(
        `FaultControl: buffer holds ${buffer.byteLength} bytes; use FaultControl.allocate()`,
      );
    }
    this.buffer = buffer;
    this.slots = new Int32Array(buffer);
  }

  /** Every operation, including flush, returns DRIVE_FAILED until heal(). */
  failDrive(): void {
    Atomics.store(this.slots, DRIVE_FAILED, 1);
  }

  /** Reads touching any block in lbaFrom..lbaTo (inclusive) return MEDIUM_ERROR until heal(). */
  failReads(lbaFrom: number, lbaTo: number): void {
    this.setRange(READ_RANGE, lbaFrom, lbaTo);
  }

  /** Writes touching any block in lbaFrom..lbaTo (inclusive) return MEDIUM_ERROR until heal(). */
  failWrites(lbaFrom: number, lbaTo: number): void {
    this.setRange(WRITE_RANGE, lbaFrom, lbaTo);
  }

  /**
   * The next writeCount writes that reach the medium fail with MEDIUM_ERROR, wherever they land.
   * Replaces any count still pending. Writes refused by failDrive() do not use one up.
   */
  failNextWrites(writeCount: number): void {
    this.setCount(NEXT_WRITE_FAILURES, writeCount, 'write');
  }

  /**
   * The next flushCount flushes fail with MEDIUM_ERROR: the drive may not have made the writes
   * since its last flush durable. Replaces any count still pending.
   */
  failNextFlushes(flushCount: number): void {
    this.setCount(NEXT_FLUSH_FAILURES, flushCount, 'flush');
  }

  private setCount(slot: number, count: number, what: string): void {
    if (!Number.isSafeInteger(count) || count < 0 || count > MAX_INT32) {
      throw new Error(`FaultControl: ${what} count ${count} is not a non-negative int32`);
    }
    Atomics.store(this.slots, slot, count);
  }

  /** Clears every fault. Counters keep counting; see resetCounters(). */
  heal(): void {
    Atomics.store(this.slots, DRIVE_FAILED, 0);
    Atomics.store(this.slots, NEXT_WRITE_FAILURES, 0);
    Atomics.store(this.slots, NEXT_FLUSH_FAILURES, 0);
    this.lockRanges();
    Atomics.store(this.slots, READ_RANGE, 0);
    Atomics.store(this.slots, WRITE_RANGE, 0);
    Atomics.add(this.slots, RANGE_SEQ, 1);
  }

  /** Read calls seen (failed ones included), summed over every thread's drive. */
  get reads(): number {
    return Atomics.load(this.slots, READS) >>> 0;
  }

  /** Write calls seen (failed ones included), summed over every thread's drive. */
  get writes(): number {
    return Atomics.load(this.slots, WRITES) >>> 0;
  }

  /** Operations (reads, writes and flushes) that failed because of an injected fault. */
  get injectedFailures(): number {
    return Atomics.load(this.slots, INJECTED_FAILURES) >>> 0;
  }

  resetCounters(): void {
    Atomics.store(this.slots, READS, 0);
    Atomics.store(this.slots, WRITES, 0);
    Atomics.store(this.slots, INJECTED_FAILURES, 0);
  }

  // ---- used by FaultyDrive ----

  /** @internal */
  driveFailed(): boolean {
    return Atomics.load(this.slots, DRIVE_FAILED) !== 0;
  }

  /** @internal Counts the read and says whether an injected fault fails it. */
  takeRead(lba: number, blocks: number): DriveStatusCode {
    Atomics.add(this.slots, READS, 1);
    return this.verdict(this.driveFailed() ? DriveStatus.DRIVE_FAILED : this.rangeStatus(READ_RANGE, lba, blocks));
  }

  /** @internal Counts the write and says whether an injected fault fails it. */
  takeWrite(lba: number, blocks: number): DriveStatusCode {
    Atomics.add(this.slots, WRITES, 1);
    if (this.driveFailed()) return this.verdict(DriveStatus.DRIVE_FAILED);
    if (this.takeCount(NEXT_WRITE_FAILURES)) return this.verdict(DriveStatus.MEDIUM_ERROR);
    return this.verdict(this.rangeStatus(WRITE_RANGE, lba, blocks));
  }

  /** @internal */
  takeFlush(): DriveStatusCode {
    if (this.driveFailed()) return this.verdict(DriveStatus.DRIVE_FAILED);
    return this.verdict(this.takeCount(NEXT_FLUSH_FAILURES) ? DriveStatus.MEDIUM_ERROR : DriveStatus.OK);
  }

  private verdict(status: DriveStatusCode): DriveStatusCode {
    if (status !== DriveStatus.OK) Atomics.add(this.slots, INJECTED_FAILURES, 1);
    return status;
  }

  /** Decrements the pending count only if it is positive, so racing writers never overdraw it. */
  /** Uses up one of a pending count of failures; false when none is left. */
  private takeCount(slot: number): boolean {
    for (;;) {
      const pending = Atomics.load(this.slots, slot);
      if (pending <= 0) return false;
      if (Atomics.compareExchange(this.slots, slot, pending, pending - 1) === pending) {
        return true;
      }
    }
  }

  private rangeStatus(base: number, lba: number, blocks: number): DriveStatusCode {
    for (;;) {
      const seqBefore = Atomics.load(this.slots, RANGE_SEQ);
      if ((seqBefore & 1) !== 0) continue; // a writer is mid-update; it finishes in a few stores
      const enabled = Atomics.load(this.slots, base);
      const lbaFrom = Atomics.load(this.slots, base + 1);
      const lbaTo = Atomics.load(this.slots, base + 2);
      if (Atomics.load(this.slots, RANGE_SEQ) !== seqBefore) continue;
      const hit = enabled !== 0 && lba <= lbaTo && lba + blocks - 1 >= lbaFrom;
      return hit ? DriveStatus.MEDIUM_ERROR : DriveStatus.OK;
    }
  }

  private setRange(base: number, lbaFrom: number, lbaTo: number): void {
    for (const [name, lba] of [['lbaFrom', lbaFrom], ['lbaTo', lbaTo]] as const) {
      if (!Number.isSafeInteger(lba) || lba < 0 || lba > MAX_INT32) {
        throw new Error(`FaultControl: ${name} ${lba} is not a non-negative int32`);
      }
    }
    if (lbaFrom > lbaTo) {
      throw new Error(`FaultControl: lbaFrom ${lbaFrom} is after lbaTo ${lbaTo}`);
    }
    this.lockRanges();
    Atomics.store(this.slots, base, 1);
    Atomics.store(this.slots, base + 1, lbaFrom);
    Atomics.store(this.slots, base + 2, lbaTo);
    Atomics.add(this.slots, RANGE_SEQ, 1);
  }

  /** Makes the sequence odd; a second injecting thread waits its turn rather than tearing ranges. */
  private lockRanges(): void {
    for (;;) {
      const seq = Atomics.load(this.slots, RANGE_SEQ);
      if ((seq & 1) === 0 && Atomics.compareExchange(this.slots, RANGE_SEQ, seq, seq + 1) === seq) {
        return;
      }
    }
  }
}

export class FaultyDrive implements Drive {
  readonly blockBytes: number;
  readonly blockCount: number;
  /** The inner drive's, so status displays look the same with or without fault injection. */
  readonly description: string;
  readonly control: FaultControl;
  private readonly inner: Drive;

  constructor(inner: Drive, control: FaultControl | SharedArrayBuffer) {
    this.inner = inner;
    this.control = control instanceof FaultControl ? control : new FaultControl(control);
    this.blockBytes = inner.blockBytes;
    this.blockCount = inner.blockCount;
    this.description = inner.description;
  }

  read(lba: number, blocks: number, dst: Uint8Array, dstOffset: number): DriveStatusCode {
    // Checked here too: a bad address is a bug even when the drive is failed.
    assertTransfer(this, lba, blocks, dst, dstOffset, 'dst');
    const injected = this.control.takeRead(lba, blocks);
    if (injected !== DriveStatus.OK) return injected;
    return this.inner.read(lba, blocks, dst, dstOffset);
  }

  write(lba: number, blocks: number, src: Uint8Array, srcOffset: number): DriveStatusCode {
    assertTransfer(this, lba, blocks, src, srcOffset, 'src');
    // Decided before the inner drive is touched, so a failed write changes no byte.
    const injected = this.control.takeWrite(lba, blocks);
    if (injected !== DriveStatus.OK) return injected;
    return this.inner.write(lba, blocks, src, srcOffset);
  }

  flush(): DriveStatusCode {
    const injected = this.control.takeFlush();
    if (injected !== DriveStatus.OK) return injected;
    return this.inner.flush();
  }

  close(): void {
    this.inner.close();
  }
}
