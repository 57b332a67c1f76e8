// MemoryDrive: a drive whose blocks live in a SharedArrayBuffer, so every processor thread that
// opens the same descriptor sees the same bytes without any message passing. It is the fast
// back-end for tests and benchmarks; its contents vanish with the process. Given a persistence
// block (drive-persistence.ts), its writes sit in a volatile write cache until flush(), and the
// simulator's power loss may tear or lose them.
//
// It also exports assertTransfer, the argument check every back-end shares, so that a bad address
// throws the same way whichever drive (or fault wrapper) it reaches first.
//
// No node:* import here on purpose: firmware-adjacent code may load this module.

import { DrivePersistence } from './drive-persistence.ts';
import { DRIVE_BLOCK_BYTES, DriveStatus } from './drive.ts';
import type { Drive, DriveStatusCode } from './drive.ts';

/**
 * Throws for a transfer a correct caller could never issue: a block range outside the drive, a
 * buffer offset that is not 4-byte aligned, or a buffer too short for the blocks. These are
 * programmer errors, so they throw rather than return a status.
 */
export function assertTransfer(
  drive: Drive,
  lba: number,
  blocks: number,
  buffer: Uint8Array,
  bufferOffset: number,
  bufferName: string,
): void {
  if (!Number.isSafeInteger(lba) || lba < 0) {
    throw new Error(`${drive.description}: lba ${lba} is not a non-negative integer`);
  }
  if (!Number.isSafeInteger(blocks) || blocks < 1) {
    throw new Error(`${drive.description}: block count ${blocks} is not a positive integer`);
  }
  if (lba + blocks > drive.blockCount) {
    throw new Error(
      `${drive.description}: blocks ${lba}..${lba + blocks - 1} lie outside the drive ` +
        `(${drive.blockCount} blocks)`,
    );
  }
  if (!Number.isSafeInteger(bufferOffset) || bufferOffset < 0 || bufferOffset % 4 !== 0) {
    throw new Error(
      `${drive.description}: ${bufferName} offset ${bufferOffset} is not a non-negative multiple of 4`,
    );
  }
  const byteCount = blocks * drive.blockBytes;
  if (bufferOffset + byteCount > buffer.length) {
    throw new Error(
      `${drive.description}: ${bufferName} holds ${buffer.length} bytes, too few for ` +
        `${byteCount} bytes at offset ${bufferOffset}`,
    );
  }
}

/** "256 MiB", "48 KiB", "1536 B": the largest binary unit that divides the size exactly. */
function describeSize(byteCount: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = byteCount;
  let unit = 0;
  while (unit < units.length - 1 && value >= 1024 && value % 1024 === 0) {
    value /= 1024;
    unit++;
  }
  return `${value} ${units[unit]}`;
}

// Why copies go through copyBytes rather than a bare Uint8Array.set:
//
// When either side of TypedArray.prototype.set is a SharedArrayBuffer, V8 copies with relaxed
// atomics, one 8-byte word at a time only if source and destination addresses are congruent
// mod 8; otherwise it falls back to byte-at-a-time. Block offsets in the drive are 512-aligned,
// but a caller's offset is only promised to be 4-aligned, so half the possible callers hit the
// byte loop. Measured on Node 20.20 (this container, best of 3, GB/s):
//
//                               congruent mod 8        4 mod 8 apart (byte loop)
//   4 KiB  SAB->SAB        u8.set 11.9 i32.set 12.7 Buffer.copy 12.2 | all three 2.9-3.1
//   4 KiB  ordinary->SAB   u8.set  5.4 i32.set  6.4 Buffer.copy  6.8 | all three 2.9-3.1
//   64 KiB SAB->SAB        u8.set 15.7 i32.set 16.1 Buffer.copy 15.8 | all three 3.5-3.6
//   64 KiB ordinary->SAB   u8.set 18.5 i32.set 18.2 Buffer.copy 17.6 | all three 3.4-3.6
//   (reads SAB->caller: 11-17 congruent, 1.6-2.4 not)
//
// So the primitive does not matter (Int32Array.set and Buffer.copy go through the same V8
// routine; Buffer.copy is TypedArray.set underneath on Node 20) and Uint8Array.set needs no
// alignment of the caller's view. What matters is the phase: a non-congruent copy is bounced
// through an ordinary scratch buffer, whose phase can be shifted with a plain memmove
// (copyWithin on non-shared memory), so every copy that touches shared memory is congruent.
// Through this class that measured 4-9 GB/s at 4-64 KiB instead of 1.6-3.6. Below 1 KiB the
// two extra views cost more than the byte loop, so single blocks are copied directly.

/** Scratch is reused per thread (module state is per isolate), so no transfer allocates it. */
const SCRATCH_CHUNK_BYTES = 64 * 1024;
const scratch = new Uint8Array(new ArrayBuffer(SCRATCH_CHUNK_BYTES + 8));
const BOUNCE_MIN_BYTES = 1024;

function isShared(view: Uint8Array): boolean {
  return view.buffer instanceof SharedArrayBuffer;
}

/** Copies byteCount bytes; src and dst never overlap (one of them is always the drive). */
function copyBytes(
  dst: Uint8Array,
  dstIndex: number,
  src: Uint8Array,
  srcIndex: number,
  byteCount: number,
): void {
  const srcPhase = (src.byteOffset + srcIndex) & 7;
  const dstPhase = (dst.byteOffset + dstIndex) & 7;
  if (srcPhase === dstPhase || byteCount < BOUNCE_MIN_BYTES) {
    dst.set(src.subarray(srcIndex, srcIndex + byteCount), dstIndex);
    return;
  }
  // A copy between two ordinary buffers is a memcpy whatever the phase, so the scratch only
  // needs to match the phase of a shared side.
  const landPhase = isShared(src) ? srcPhase : dstPhase;
  const leavePhase = isShared(dst) ? dstPhase : landPhase;
  for (let done = 0; done < byteCount; done += SCRATCH_CHUNK_BYTES) {
    const chunkBytes = Math.min(SCRATCH_CHUNK_BYTES, byteCount - done);
    scratch.set(src.subarray(srcIndex + done, srcIndex + done + chunkBytes), landPhase);
    if (landPhase !== leavePhase) scratch.copyWithin(leavePhase, landPhase, landPhase + chunkBytes);
    dst.set(scratch.subarray(leavePhase, leavePhase + chunkBytes), dstIndex + done);
  }
}

export class MemoryDrive implements Drive {
  readonly blockBytes = DRIVE_BLOCK_BYTES;
  readonly blockCount: number;
  readonly description: string;
  /** The volatile write cache, when the descriptor carries one; null: every write is durable. */
  readonly persistence: DrivePersistence | null;
  /** Cached once so a transfer creates at most the one view it copies through. */
  private readonly bytes: Uint8Array;

  /** A zero-filled buffer sized for a drive of blockCount blocks, to put in a DriveDescriptor. */
  static allocate(blockCount: number): SharedArrayBuffer {
    assertBlockCount(blockCount);
    return new SharedArrayBuffer(blockCount * DRIVE_BLOCK_BYTES);
  }

  /** `persistence`: a DrivePersistence.allocate(blockCount) buffer, shared like `buffer`. */
  constructor(buffer: SharedArrayBuffer, blockCount: number, persistence?: SharedArrayBuffer) {
    assertBlockCount(blockCount);
    if (!(buffer instanceof SharedArrayBuffer)) {
      throw new Error('MemoryDrive: buffer must be a SharedArrayBuffer so every processor sees it');
    }
    const expectedBytes = blockCount * DRIVE_BLOCK_BYTES;
    if (buffer.byteLength !== expectedBytes) {
      throw new Error(
        `MemoryDrive: buffer holds ${buffer.byteLength} bytes but ${blockCount} blocks need ${expectedBytes}`,
      );
    }
    this.blockCount = blockCount;
    this.description = `memory ${describeSize(expectedBytes)}`;
    this.bytes = new Uint8Array(buffer);
    // DrivePersistence checks that its block count is the buffer's.
    this.persistence = persistence === undefined ? null : new DrivePersistence(persistence, buffer);
  }

  read(lba: number, blocks: number, dst: Uint8Array, dstOffset: number): DriveStatusCode {
    assertTransfer(this, lba, blocks, dst, dstOffset, 'dst');
    copyBytes(dst, dstOffset, this.bytes, lba * DRIVE_BLOCK_BYTES, blocks * DRIVE_BLOCK_BYTES);
    return DriveStatus.OK;
  }

  write(lba: number, blocks: number, src: Uint8Array, srcOffset: number): DriveStatusCode {
    assertTransfer(this, lba, blocks, src, srcOffset, 'src');
    copyBytes(this.bytes, lba * DRIVE_BLOCK_BYTES, src, srcOffset, blocks * DRIVE_BLOCK_BYTES);
    if (this.persistence) {
      this.persistence.noteWrite(lba, blocks);
      this.persistence.tick(`a write of blocks ${lba}..${lba + blocks - 1}`);
    }
    return DriveStatus.OK;
  }

  /** Without a persistence block, memory has nothing below it to make durable. */
  flush(): DriveStatusCode {
    if (this.persistence) {
      this.persistence.tick('a flush');
      this.persistence.flush();
    }
    return DriveStatus.OK;
  }

  /** The buffer belongs to the descriptor, not to this handle; nothing to release. */
  close(): void {}
}

export function assertBlockCount(blockCount: number): void {
  if (!Number.isSafeInteger(blockCount) || blockCount < 1) {
    throw new Error(`drive block count ${blockCount} is not a positive integer`);
  }
}
