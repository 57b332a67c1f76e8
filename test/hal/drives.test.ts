// Tests for the hal drive back-ends: one suite every Drive must pass (memory and file), then what
// is specific to each back-end, the fault-injection wrapper and openDrive.

import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, truncateSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRIVE_BLOCK_BYTES, DriveStatus } from '../../hal/drive.ts';
import type { Drive } from '../../hal/drive.ts';
import { openDrive } from '../../hal/drives.ts';
import { FaultControl, FaultyDrive } from '../../hal/faulty-drive.ts';
import { FileDrive } from '../../hal/file-drive.ts';
import { MemoryDrive } from '../../hal/memory-drive.ts';

const BLOCK = DRIVE_BLOCK_BYTES;
// Enough blocks for a transfer larger than MemoryDrive's 64 KiB bounce chunk.
const BLOCK_COUNT = 256;

/** Deterministic, position-dependent bytes, so a misplaced or shifted block shows up. */
function pattern(seed: number, byteCount: number): Uint8Array {
  const bytes = new Uint8Array(byteCount);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < byteCount; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/**
 * Byte-exact comparison for large transfers, where toEqual's element-by-element diff takes a third
 * of a second; on a mismatch it names the first differing byte.
 */
function expectSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let firstDifference = -1;
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      firstDifference = i;
      break;
    }
  }
  expect(firstDifference, `${what}: first differing byte`).toBe(-1);
}

function filled(byteCount: number, value: number): Uint8Array {
  return new Uint8Array(byteCount).fill(value);
}

function readBlocks(drive: Drive, lba: number, blocks: number): Uint8Array {
  const dst = filled(blocks * BLOCK, 0xaa);
  expect(drive.read(lba, blocks, dst, 0)).toBe(DriveStatus.OK);
  return dst;
}

let tempDir = '';
let fileSerial = 0;
function freshPath(): string {
  return join(tempDir, `drive-${fileSerial++}.img`);
}

beforeAll(() => {
  tempDir = mkdtempSync(join(tmpdir(), 'hal-drives-'));
});
afterAll(() => {
  rmSync(tempDir, { recursive: true, force: true });
});

interface Backend {
  name: string;
  open(blockCount: number): Drive;
}

const backends: Backend[] = [
  { name: 'MemoryDrive', open: (blockCount) => new MemoryDrive(MemoryDrive.allocate(blockCount), blockCount) },
  { name: 'FileDrive', open: (blockCount) => FileDrive.open(freshPath(), blockCount) },
];

describe.each(backends)('$name (shared Drive suite)', (backend) => {
  function withDrive(body: (drive: Drive) => void): void {
    const drive = backend.open(BLOCK_COUNT);
    try {
      body(drive);
    } finally {
      drive.close();
    }
  }

  it('reports 512-byte blocks and its block count', () => {
    withDrive((drive) => {
      expect(drive.blockBytes).toBe(512);
      expect(drive.blockCount).toBe(BLOCK_COUNT);
      expect(drive.description.length).toBeGreaterThan(0);
    });
  });

  it('reads back exactly what was written at the first block, the last block and a multi-block span', () => {
    withDrive((drive) => {
      const first = pattern(1, BLOCK);
      const last = pattern(2, BLOCK);
      const span = pattern(3, 7 * BLOCK);
      expect(drive.write(0, 1, first, 0)).toBe(DriveStatus.OK);
      expect(drive.write(BLOCK_COUNT - 1, 1, last, 0)).toBe(DriveStatus.OK);
      expect(drive.write(40, 7, span, 0)).toBe(DriveStatus.OK);
      expect(readBlocks(drive, 0, 1)).toEqual(first);
      expect(readBlocks(drive, BLOCK_COUNT - 1, 1)).toEqual(last);
      expect(readBlocks(drive, 40, 7)).toEqual(span);
      // A read that straddles the span's edges sees the span in the middle and zeros around it.
      const around = readBlocks(drive, 39, 9);
      expect(around.subarray(0, BLOCK)).toEqual(new Uint8Array(BLOCK));
      expect(around.subarray(BLOCK, 8 * BLOCK)).toEqual(span);
      expect(around.subarray(8 * BLOCK)).toEqual(new Uint8Array(BLOCK));
    });
  });

  it('overwrites only the addressed blocks', () => {
    withDrive((drive) => {
      const base = pattern(4, 4 * BLOCK);
      const patch = pattern(5, BLOCK);
      expect(drive.write(10, 4, base, 0)).toBe(DriveStatus.OK);
      expect(drive.write(12, 1, patch, 0)).toBe(DriveStatus.OK);
      const expected = base.slice();
      expected.set(patch, 2 * BLOCK);
      expect(readBlocks(drive, 10, 4)).toEqual(expected);
    });
  });

  it('reads never-written blocks as zeros (and overwrites the destination with them)', () => {
    withDrive((drive) => {
      expect(drive.write(5, 1, pattern(6, BLOCK), 0)).toBe(DriveStatus.OK);
      expect(readBlocks(drive, 4, 1)).toEqual(new Uint8Array(BLOCK));
      expect(readBlocks(drive, 6, 1)).toEqual(new Uint8Array(BLOCK));
      expect(readBlocks(drive, 100, 50)).toEqual(new Uint8Array(50 * BLOCK));
    });
  });

  // Shared and ordinary caller buffers, views at offsets both congruent and not congruent mod 8
  // with the drive's blocks, and sizes below, at and above MemoryDrive's bounce thresholds.
  const transferCases: { shared: boolean; viewByteOffset: number; bufferOffset: number; blocks: number }[] = [];
  for (const shared of [true, false]) {
    for (const [viewByteOffset, bufferOffset] of [[8, 8], [4, 8], [12, 4], [0, 4]] as const) {
      for (const blocks of [1, 3, 160]) transferCases.push({ shared, viewByteOffset, bufferOffset, blocks });
    }
  }

  it.each(transferCases)(
    'transfers through a caller view (shared $shared, view at byte $viewByteOffset, offset $bufferOffset, $blocks blocks)',
    ({ shared, viewByteOffset, bufferOffset, blocks }) => {
      withDrive((drive) => {
        const byteCount = blocks * BLOCK;
        const guardBytes = 16;
        const backingBytes = viewByteOffset + bufferOffset + byteCount + guardBytes;
        const backing = shared ? new SharedArrayBuffer(backingBytes) : new ArrayBuffer(backingBytes);
        const data = pattern(100 + blocks + viewByteOffset, byteCount);

        const src = new Uint8Array(backing, viewByteOffset);
        src.fill(0x55);
        src.set(data, bufferOffset);
        const lba = BLOCK_COUNT - blocks - 1;
        expect(drive.write(lba, blocks, src, bufferOffset)).toBe(DriveStatus.OK);
        expectSameBytes(readBlocks(drive, lba, blocks), data, 'drive after write');
        // The drive took exactly the addressed bytes: its neighbours stay zero.
        expect(readBlocks(drive, lba - 1, 1)).toEqual(new Uint8Array(BLOCK));
        expect(readBlocks(drive, lba + blocks, 1)).toEqual(new Uint8Array(BLOCK));

        const dstBacking = shared ? new SharedArrayBuffer(backingBytes) : new ArrayBuffer(backingBytes);
        const dst = new Uint8Array(dstBacking, viewByteOffset);
        dst.fill(0x77);
        expect(drive.read(lba, blocks, dst, bufferOffset)).toBe(DriveStatus.OK);
        expectSameBytes(dst.subarray(bufferOffset, bufferOffset + byteCount), data, 'caller after read');
        // Bytes of the caller's buffer outside the transfer are untouched.
        expect(dst.subarray(0, bufferOffset)).toEqual(filled(bufferOffset, 0x77));
        expect(dst.subarray(bufferOffset + byteCount)).toEqual(filled(guardBytes, 0x77));
        expect(new Uint8Array(dstBacking, 0, viewByteOffset)).toEqual(new Uint8Array(viewByteOffset));
      });
    },
  );

  it('throws for addresses outside the drive and for bad buffer arguments', () => {
    withDrive((drive) => {
      const buf = new Uint8Array(4 * BLOCK);
      expect(() => drive.read(BLOCK_COUNT, 1, buf, 0)).toThrow(/outside the drive/);
      expect(() => drive.write(BLOCK_COUNT, 1, buf, 0)).toThrow(/outside the drive/);
      expect(() => drive.read(BLOCK_COUNT - 1, 2, buf, 0)).toThrow(/outside the drive/);
      expect(() => drive.write(BLOCK_COUNT - 3, 4, buf, 0)).toThrow(/outside the drive/);
      expect(() => drive.read(-1, 1, buf, 0)).toThrow(/lba/);
      expect(() => drive.write(1.5, 1, buf, 0)).toThrow(/lba/);
      expect(() => drive.read(0, 0, buf, 0)).toThrow(/block count/);
      expect(() => drive.write(0, -1, buf, 0)).toThrow(/block count/);
      expect(() => drive.read(0, 1, buf, 2)).toThrow(/multiple of 4/);
      expect(() => drive.write(0, 1, buf, 6)).toThrow(/multiple of 4/);
      expect(() => drive.read(0, 4, buf, 4)).toThrow(/too few/);
      expect(() => drive.write(0, 5, buf, 0)).toThrow(/too few/);
      // Nothing reached the drive.
      expect(readBlocks(drive, 0, 4)).toEqual(new Uint8Array(4 * BLOCK));
      expect(readBlocks(drive, BLOCK_COUNT - 4, 4)).toEqual(new Uint8Array(4 * BLOCK));
    });
  });

  it('flushes with OK', () => {
    withDrive((drive) => {
      expect(drive.flush()).toBe(DriveStatus.OK);
      expect(drive.write(3, 1, pattern(7, BLOCK), 0)).toBe(DriveStatus.OK);
      expect(drive.flush()).toBe(DriveStatus.OK);
      expect(readBlocks(drive, 3, 1)).toEqual(pattern(7, BLOCK));
    });
  });
});

describe('MemoryDrive', () => {
  it('allocates blockCount * 512 bytes and describes its size', () => {
    const buffer = MemoryDrive.allocate(2048);
    expect(buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(buffer.byteLength).toBe(2048 * 512);
    expect(new MemoryDrive(buffer, 2048).description).toBe('memory 1 MiB');
  });

  it('refuses a buffer of the wrong size', () => {
    expect(() => new MemoryDrive(MemoryDrive.allocate(8), 9)).toThrow(/4096 bytes but 9 blocks need 4608/);
    expect(() => new MemoryDrive(MemoryDrive.allocate(8), 0)).toThrow(/block count/);
  });

  it('shares bytes between handles on the same buffer (as processors do)', () => {
    const buffer = MemoryDrive.allocate(16);
    const a = new MemoryDrive(buffer, 16);
    const b = new MemoryDrive(buffer, 16);
    const data = pattern(8, 2 * BLOCK);
    expect(a.write(7, 2, data, 0)).toBe(DriveStatus.OK);
    expect(readBlocks(b, 7, 2)).toEqual(data);
    expect(new Uint8Array(buffer, 7 * BLOCK, 2 * BLOCK)).toEqual(data);
  });
});

describe('FileDrive', () => {
  it('creates the file (and its directories) sized to blockCount * 512 on first open', () => {
    const path = join(tempDir, 'nested', 'deeper', 'd0.img');
    expect(existsSync(path)).toBe(false);
    const drive = FileDrive.open(path, 100);
    try {
      expect(statSync(path).size).toBe(100 * 512);
      expect(drive.description).toBe(`file ${path}`);
    } finally {
      drive.close();
    }
  });

  it('keeps its data across close and reopen (the file survives a reboot)', () => {
    const path = freshPath();
    const data = pattern(9, 3 * BLOCK);
    const before = FileDrive.open(path, 64);
    expect(before.write(20, 3, data, 0)).toBe(DriveStatus.OK);
    expect(before.flush()).toBe(DriveStatus.OK);
    before.close();

    const after = FileDrive.open(path, 64);
    try {
      expect(statSync(path).size).toBe(64 * 512);
      expect(readBlocks(after, 20, 3)).toEqual(data);
      expect(readBlocks(after, 19, 1)).toEqual(new Uint8Array(BLOCK));
    } finally {
      after.close();
    }
  });

  it('gives each open its own descriptor, and each sees the others\u2019 writes', () => {
    const path = freshPath();
    const a = FileDrive.open(path, 32);
    const b = FileDrive.open(path, 32);
    try {
      const fromA = pattern(10, BLOCK);
      const fromB = pattern(11, 2 * BLOCK);
      expect(a.write(3, 1, fromA, 0)).toBe(DriveStatus.OK);
      expect(b.write(30, 2, fromB, 0)).toBe(DriveStatus.OK);
      expect(readBlocks(b, 3, 1)).toEqual(fromA);
      expect(readBlocks(a, 30, 2)).toEqual(fromB);
      // Closing one handle leaves the other working.
      a.close();
      expect(readBlocks(b, 3, 1)).toEqual(fromA);
    } finally {
      a.close();
      b.close();
    }
  });

  it('refuses to open an existing file with another block count, naming the path and both sizes', () => {
    const path = freshPath();
    FileDrive.open(path, 16).close();
    expect(() => FileDrive.open(path, 32)).toThrow(path);
    expect(() => FileDrive.open(path, 32)).toThrow(/8192 bytes.*32 blocks \(16384 bytes\)/);
    // The refused open did not touch the file.
    expect(statSync(path).size).toBe(16 * 512);
  });

  it('throws when used after close', () => {
    const drive = FileDrive.open(freshPath(), 8);
    drive.close();
    drive.close(); // idempotent
    expect(() => drive.read(0, 1, new Uint8Array(BLOCK), 0)).toThrow(/after close/);
    expect(() => drive.flush()).toThrow(/after close/);
  });

  it('returns MEDIUM_ERROR when the OS fails the transfer', () => {
    const path = freshPath();
    const drive = FileDrive.open(path, 8);
    // A descriptor opened for the wrong direction makes read(2)/write(2) fail with EBADF, which
    // stands in for EIO: both are OS errors the drive must report as a status, not throw.
    const readOnlyFd = openSync(path, constants.O_RDONLY);
    const writeOnlyFd = openSync(path, constants.O_WRONLY);
    const realFd: unknown = Reflect.get(drive, 'fd');
    try {
      Reflect.set(drive, 'fd', readOnlyFd);
      expect(drive.write(0, 1, pattern(12, BLOCK), 0)).toBe(DriveStatus.MEDIUM_ERROR);
      Reflect.set(drive, 'fd', writeOnlyFd);
      const dst = filled(BLOCK, 0xaa);
      expect(drive.read(0, 1, dst, 0)).toBe(DriveStatus.MEDIUM_ERROR);
    } finally {
      Reflect.set(drive, 'fd', realFd);
      closeSync(readOnlyFd);
      closeSync(writeOnlyFd);
    }
    expect(readBlocks(drive, 0, 1)).toEqual(new Uint8Array(BLOCK));
    drive.close();
  });

  it('returns MEDIUM_ERROR for blocks lost because the file shrank under it', () => {
    const path = freshPath();
    const drive = FileDrive.open(path, 8);
    try {
      truncateSync(path, 4 * BLOCK);
      expect(readBlocks(drive, 3, 1)).toEqual(new Uint8Array(BLOCK));
      expect(drive.read(4, 1, new Uint8Array(BLOCK), 0)).toBe(DriveStatus.MEDIUM_ERROR);
      expect(drive.read(3, 2, new Uint8Array(2 * BLOCK), 0)).toBe(DriveStatus.MEDIUM_ERROR);
    } finally {
      drive.close();
    }
  });
});

describe('FaultyDrive', () => {
  const INNER_BLOCKS = 32;
  // The inner drive starts with known, non-zero contents so "unchanged" is a real check.
  function setup(): { inner: MemoryDrive; innerBytes: Uint8Array; drive: FaultyDrive; control: FaultControl } {
    const buffer = MemoryDrive.allocate(INNER_BLOCKS);
    const innerBytes = new Uint8Array(buffer);
    innerBytes.set(pattern(50, buffer.byteLength));
    const inner = new MemoryDrive(buffer, INNER_BLOCKS);
    const control = new FaultControl(FaultControl.allocate());
    return { inner, innerBytes, drive: new FaultyDrive(inner, control), control };
  }

  it('passes operations through untouched while healthy', () => {
    const { innerBytes, drive, control } = setup();
    expect(drive.blockCount).toBe(INNER_BLOCKS);
    expect(drive.blockBytes).toBe(BLOCK);
    expect(drive.description).toBe('memory 16 KiB');
    const data = pattern(51, 2 * BLOCK);
    expect(drive.write(4, 2, data, 0)).toBe(DriveStatus.OK);
    expect(innerBytes.subarray(4 * BLOCK, 6 * BLOCK)).toEqual(data);
    expect(readBlocks(drive, 4, 2)).toEqual(data);
    expect(drive.flush()).toBe(DriveStatus.OK);
    expect([control.reads, control.writes, control.injectedFailures]).toEqual([1, 1, 0]);
  });

  it('failDrive: every operation returns DRIVE_FAILED and nothing moves', () => {
    const { innerBytes, drive, control } = setup();
    const before = innerBytes.slice();
    control.failDrive();
    const dst = filled(BLOCK, 0xaa);
    expect(drive.read(0, 1, dst, 0)).toBe(DriveStatus.DRIVE_FAILED);
    expect(dst).toEqual(filled(BLOCK, 0xaa));
    expect(drive.write(0, 1, pattern(52, BLOCK), 0)).toBe(DriveStatus.DRIVE_FAILED);
    expect(drive.flush()).toBe(DriveStatus.DRIVE_FAILED);
    expect(innerBytes).toEqual(before);
    expect([control.reads, control.writes, control.injectedFailures]).toEqual([1, 1, 3]);
    // A bad address is still a bug, failed drive or not.
    expect(() => drive.read(INNER_BLOCKS, 1, dst, 0)).toThrow(/outside the drive/);
  });

  it('failReads: reads touching the inclusive range fail with MEDIUM_ERROR, others and writes work', () => {
    const { innerBytes, drive, control } = setup();
    control.failReads(10, 12);
    for (const [lba, blocks] of [[10, 1], [12, 1], [9, 2], [12, 3], [8, 8]] as const) {
      const dst = filled(blocks * BLOCK, 0xaa);
      expect(drive.read(lba, blocks, dst, 0), `read ${lba}+${blocks}`).toBe(DriveStatus.MEDIUM_ERROR);
      expect(dst).toEqual(filled(blocks * BLOCK, 0xaa));
    }
    for (const [lba, blocks] of [[9, 1], [13, 1], [0, 10], [13, 19]] as const) {
      expect(readBlocks(drive, lba, blocks), `read ${lba}+${blocks}`).toEqual(
        innerBytes.slice(lba * BLOCK, (lba + blocks) * BLOCK),
      );
    }
    const data = pattern(53, BLOCK);
    expect(drive.write(11, 1, data, 0)).toBe(DriveStatus.OK);
    expect(innerBytes.subarray(11 * BLOCK, 12 * BLOCK)).toEqual(data);
    expect([control.reads, control.writes, control.injectedFailures]).toEqual([9, 1, 5]);
  });

  it('failWrites: a write touching the range fails and leaves every inner byte unchanged', () => {
    const { innerBytes, drive, control } = setup();
    control.failWrites(20, 20);
    const before = innerBytes.slice();
    // Spans blocks 18..21: the failing block is in the middle, so a partial write would show.
    expect(drive.write(18, 4, pattern(54, 4 * BLOCK), 0)).toBe(DriveStatus.MEDIUM_ERROR);
    expect(drive.write(20, 1, pattern(55, BLOCK), 0)).toBe(DriveStatus.MEDIUM_ERROR);
    expect(innerBytes).toEqual(before);
    // Reads of the range and writes beside it work.
    expect(readBlocks(drive, 20, 1)).toEqual(before.slice(20 * BLOCK, 21 * BLOCK));
    const beside = pattern(56, BLOCK);
    expect(drive.write(21, 1, beside, 0)).toBe(DriveStatus.OK);
    expect(innerBytes.subarray(21 * BLOCK, 22 * BLOCK)).toEqual(beside);
    expect([control.reads, control.writes, control.injectedFailures]).toEqual([1, 3, 2]);
  });

  it('failNextWrites: exactly the next n writes fail, wherever they land', () => {
    const { innerBytes, drive, control } = setup();
    const before = innerBytes.slice();
    control.failNextWrites(2);
    expect(drive.write(1, 1, pattern(57, BLOCK), 0)).toBe(DriveStatus.MEDIUM_ERROR);
    expect(readBlocks(drive, 1, 1)).toEqual(before.slice(BLOCK, 2 * BLOCK)); // reads unaffected
    expect(drive.write(30, 2, pattern(58, 2 * BLOCK), 0)).toBe(DriveStatus.MEDIUM_ERROR);
    expect(innerBytes).toEqual(before);
    const third = pattern(59, BLOCK);
    expect(drive.write(1, 1, third, 0)).toBe(DriveStatus.OK);
    expect(innerBytes.subarray(BLOCK, 2 * BLOCK)).toEqual(third);
    expect(drive.write(2, 1, third, 0)).toBe(DriveStatus.OK);
    expect([control.reads, control.writes, control.injectedFailures]).toEqual([1, 4, 2]);
  });

  it('failNextFlushes: exactly the next n flushes fail with MEDIUM_ERROR; writes and reads are unaffected', () => {
    const { innerBytes, drive, control } = setup();
    control.failNextFlushes(2);
    const data = pattern(61, BLOCK);
    expect(drive.write(3, 1, data, 0)).toBe(DriveStatus.OK);
    expect(innerBytes.subarray(3 * BLOCK, 4 * BLOCK)).toEqual(data);
    expect(drive.flush()).toBe(DriveStatus.MEDIUM_ERROR);
    expect(drive.flush()).toBe(DriveStatus.MEDIUM_ERROR);
    expect(drive.flush()).toBe(DriveStatus.OK);
    expect([control.reads, control.writes, control.injectedFailures]).toEqual([0, 1, 2]);
    expect(() => control.failNextFlushes(-1)).toThrow('flush count -1 is not a non-negative int32');
  });

  it('heal clears every fault; resetCounters zeroes the counters', () => {
    const { innerBytes, drive, control } = setup();
    control.failDrive();
    control.failReads(0, 31);
    control.failWrites(0, 31);
    control.failNextWrites(5);
    control.failNextFlushes(5);
    expect(drive.read(0, 1, new Uint8Array(BLOCK), 0)).toBe(DriveStatus.DRIVE_FAILED);
    control.heal();
    const data = pattern(60, BLOCK);
    expect(drive.write(0, 1, data, 0)).toBe(DriveStatus.OK);
    expect(innerBytes.subarray(0, BLOCK)).toEqual(data);
    expect(readBlocks(drive, 0, 1)).toEqual(data);
    expect(drive.flush()).toBe(DriveStatus.OK);
    expect([control.reads, control.writes, control.injectedFailures]).toEqual([2, 1, 1]);
    control.resetCounters();
    expect([control.reads, control.writes, control.injectedFailures]).toEqual([0, 0, 0]);
  });

  it('obeys faults injected through another FaultControl on the same buffer (as from another thread)', () => {
    const faultBuffer = FaultControl.allocate();
    const innerBuffer = MemoryDrive.allocate(INNER_BLOCKS);
    // The "worker's" drive builds its own FaultControl from the buffer it received.
    const drive = new FaultyDrive(new MemoryDrive(innerBuffer, INNER_BLOCKS), faultBuffer);
    const testSide = new FaultControl(faultBuffer);
    expect(drive.control).not.toBe(testSide);

    const data = pattern(61, BLOCK);
    expect(drive.write(5, 1, data, 0)).toBe(DriveStatus.OK);
    testSide.failReads(5, 5);
    expect(drive.read(5, 1, new Uint8Array(BLOCK), 0)).toBe(DriveStatus.MEDIUM_ERROR);
    testSide.failDrive();
    expect(drive.write(6, 1, data, 0)).toBe(DriveStatus.DRIVE_FAILED);
    expect(new Uint8Array(innerBuffer, 6 * BLOCK, BLOCK)).toEqual(new Uint8Array(BLOCK));
    testSide.heal();
    expect(readBlocks(drive, 5, 1)).toEqual(data);
    // Counters kept by the drive's instance are visible through the test's.
    expect([testSide.reads, testSide.writes, testSide.injectedFailures]).toEqual([2, 2, 2]);
  });

  it('refuses bad fault arguments and foreign buffers', () => {
    const control = new FaultControl(FaultControl.allocate());
    expect(() => control.failReads(5, 4)).toThrow(/after lbaTo/);
    expect(() => control.failWrites(-1, 4)).toThrow(/lbaFrom/);
    expect(() => control.failNextWrites(-2)).toThrow(/write count/);
    expect(() => new FaultControl(new SharedArrayBuffer(8))).toThrow(/FaultControl.allocate/);
  });

  it('wraps a FileDrive the same way', () => {
    const path = freshPath();
    const faults = FaultControl.allocate();
    const drive = new FaultyDrive(FileDrive.open(path, 8), faults);
    try {
      const data = pattern(62, BLOCK);
      expect(drive.write(2, 1, data, 0)).toBe(DriveStatus.OK);
      new FaultControl(faults).failWrites(2, 2);
      expect(drive.write(2, 1, pattern(63, BLOCK), 0)).toBe(DriveStatus.MEDIUM_ERROR);
      expect(readBlocks(drive, 2, 1)).toEqual(data);
    } finally {
      drive.close();
    }
  });
});

describe('openDrive', () => {
  it('opens a memory descriptor on the shared buffer', () => {
    const buffer = MemoryDrive.allocate(8);
    const drive = openDrive({ kind: 'memory', blockCount: 8, buffer });
    expect(drive).toBeInstanceOf(MemoryDrive);
    const data = pattern(70, BLOCK);
    expect(drive.write(7, 1, data, 0)).toBe(DriveStatus.OK);
    expect(new Uint8Array(buffer, 7 * BLOCK)).toEqual(data);
  });

  it('opens a file descriptor with its own handle', () => {
    const path = freshPath();
    const first = openDrive({ kind: 'file', blockCount: 8, path });
    const second = openDrive({ kind: 'file', blockCount: 8, path });
    try {
      expect(first).toBeInstanceOf(FileDrive);
      expect(second).not.toBe(first);
      const data = pattern(71, BLOCK);
      expect(first.write(1, 1, data, 0)).toBe(DriveStatus.OK);
      expect(readBlocks(second, 1, 1)).toEqual(data);
    } finally {
      first.close();
      second.close();
    }
  });

  it('wraps the drive in a FaultyDrive when the descriptor carries a fault block', () => {
    const faults = FaultControl.allocate();
    const drive = openDrive({ kind: 'memory', blockCount: 8, buffer: MemoryDrive.allocate(8), faults });
    expect(drive).toBeInstanceOf(FaultyDrive);
    new FaultControl(faults).failDrive();
    expect(drive.flush()).toBe(DriveStatus.DRIVE_FAILED);
  });
});
