// Tests for a memory drive's volatile write cache (hal/drive-persistence.ts): what a flush makes
// durable, what a power loss keeps, reverts and tears, that every handle over one descriptor
// shares it, and how it combines with fault injection and the storage system's boot options.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, type SystemConfig } from '../../firmware/config.ts';
import { DrivePersistence, UNFLUSHED_WRITES_LOGGED_MAX } from '../../hal/drive-persistence.ts';
import { DRIVE_BLOCK_BYTES, DriveStatus } from '../../hal/drive.ts';
import type { Drive, DriveDescriptor } from '../../hal/drive.ts';
import { openDrive } from '../../hal/drives.ts';
import { FaultControl, FaultyDrive } from '../../hal/faulty-drive.ts';
import { FileDrive } from '../../hal/file-drive.ts';
import { MemoryDrive } from '../../hal/memory-drive.ts';
import { Prng } from '../../hal/runtime/prng.ts';
import { StorageSystem } from '../../tools/system.ts';

const BLOCK = DRIVE_BLOCK_BYTES;
const BLOCK_COUNT = 128;

/** Every byte of block i of a write is `fill + i`, so a block from another write or place shows. */
function blocksOf(fill: number, blocks: number): Uint8Array {
  const bytes = new Uint8Array(blocks * BLOCK);
  for (let i = 0; i < blocks; i++) bytes.fill((fill + i) & 0xff, i * BLOCK, (i + 1) * BLOCK);
  return bytes;
}

function readBlocks(drive: Drive, lba: number, blocks: number): Uint8Array {
  const dst = new Uint8Array(blocks * BLOCK);
  expect(drive.read(lba, blocks, dst, 0)).toBe(DriveStatus.OK);
  return dst;
}

/** The first byte of each block: enough to name which write's block is there (see blocksOf). */
function blockFills(drive: Drive, lba: number, blocks: number): number[] {
  const bytes = readBlocks(drive, lba, blocks);
  return Array.from({ length: blocks }, (_, i) => bytes[i * BLOCK]!);
}

function fresh(blockCount = BLOCK_COUNT): { descriptor: DriveDescriptor & { kind: 'memory' }; drive: MemoryDrive; control: DrivePersistence } {
  const buffer = MemoryDrive.allocate(blockCount);
  const persistence = DrivePersistence.allocate(blockCount);
  const descriptor = { kind: 'memory' as const, blockCount, buffer, persistence };
  const drive = openDrive(descriptor);
  if (!(drive instanceof MemoryDrive)) throw new Error('expected a MemoryDrive');
  return { descriptor, drive, control: new DrivePersistence(persistence, buffer) };
}

/** An rng that returns these draws in order and fails the test if asked for more. */
function scripted(draws: number[]): () => number {
  let next = 0;
  return () => {
    const draw = draws[next++];
    if (draw === undefined) throw new Error(`rng asked for draw ${next} of ${draws.length}`);
    return draw;
  };
}

/** Draws from the deterministic runtime's own seeded PRNG, as the simulator passes them. */
function seeded(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.next();
}

const KEEP = 0.1;
const REVERT = 0.9;

describe('flush', () => {
  it('a flushed write survives a power loss that would revert everything, and one that keeps everything', () => {
    const { drive, control } = fresh();
    expect(drive.write(10, 4, blocksOf(0x10, 4), 0)).toBe(DriveStatus.OK);
    expect(drive.flush()).toBe(DriveStatus.OK);
    expect(control.readDurable(10, 4)).toEqual(blocksOf(0x10, 4));
    for (const draw of [REVERT, KEEP]) {
      expect(control.powerLoss(() => draw)).toEqual({ unflushedBlocks: 0, keptNew: 0, revertedOld: 0, unflushedWrites: 0, tornWrites: 0 });
      expect(readBlocks(drive, 10, 4)).toEqual(blocksOf(0x10, 4));
    }
  });

  it('clears every mark, and a write after it is marked again', () => {
    const { drive, control } = fresh();
    expect(drive.write(0, 3, blocksOf(1, 3), 0)).toBe(DriveStatus.OK);
    expect(drive.write(100, 1, blocksOf(9, 1), 0)).toBe(DriveStatus.OK);
    expect(control.unflushedBlocks()).toBe(4);
    expect(drive.flush()).toBe(DriveStatus.OK);
    expect(control.unflushedBlocks()).toBe(0);
    expect(drive.write(1, 1, blocksOf(0x40, 1), 0)).toBe(DriveStatus.OK);
    expect(control.unflushedBlocks()).toBe(1);
    // The earlier flush made block 1 durable as 2; the new 0x40 is only in the cache.
    expect(control.readDurable(1, 1)).toEqual(blocksOf(2, 1));
  });

  it('copies runs that cross mark words and fill whole words, and nothing it was not asked to', () => {
    const { drive, control } = fresh(256);
    // Blocks 30..101: the tail of word 0, all of words 1 and 2 (block 64..95), the head of word 3.
    expect(drive.write(30, 72, blocksOf(0x30, 72), 0)).toBe(DriveStatus.OK);
    expect(drive.write(255, 1, blocksOf(0xee, 1), 0)).toBe(DriveStatus.OK);
    expect(control.unflushedBlocks()).toBe(73);
    expect(drive.flush()).toBe(DriveStatus.OK);
    expect(control.readDurable(30, 72)).toEqual(blocksOf(0x30, 72));
    expect(control.readDurable(255, 1)).toEqual(blocksOf(0xee, 1));
    expect(control.readDurable(0, 30)).toEqual(new Uint8Array(30 * BLOCK));
    expect(control.readDurable(102, 153)).toEqual(new Uint8Array(153 * BLOCK));
  });

  it('agrees with a block-by-block model through random writes, flushes and power losses', () => {
    // More than two summary words' worth of blocks (1024 each), and writes up to 70 blocks, so
    // runs cross mark words and summary words.
    const blockCount = 2100;
    const { drive, control } = fresh(blockCount);
    const current = new Array<number>(blockCount).fill(0);
    const durable = new Array<number>(blockCount).fill(0);
    const marked = new Array<boolean>(blockCount).fill(false);
    const ops = seeded(99);
    const draws = seeded(100);
    const replay = seeded(100);
    const expectImage = (image: Uint8Array, fills: number[]): void => {
      const wrong = fills.findIndex((fill, block) => image[block * BLOCK] !== fill || image[block * BLOCK + BLOCK - 1] !== fill);
      expect(wrong, 'first block that differs from the model').toBe(-1);
    };
    for (let step = 1; step <= 300; step++) {
      const op = ops();
      if (op < 0.8) {
        const blocks = 1 + Math.floor(ops() * 70);
        const lba = Math.floor(ops() * (blockCount - blocks + 1));
        const data = new Uint8Array(blocks * BLOCK).fill(step & 0xff);
        expect(drive.write(lba, blocks, data, 0)).toBe(DriveStatus.OK);
        for (let b = lba; b < lba + blocks; b++) {
          current[b] = step & 0xff;
          marked[b] = true;
        }
      } else if (op < 0.93) {
        expect(drive.flush()).toBe(DriveStatus.OK);
        for (let b = 0; b < blockCount; b++) if (marked[b]) durable[b] = current[b]!;
        marked.fill(false);
      } else {
        const report = control.powerLoss(draws);
        let keptNew = 0;
        for (let b = 0; b < blockCount; b++) {
          if (!marked[b]) continue;
          if (replay() < 0.5) {
            durable[b] = current[b]!;
            keptNew++;
          } else {
            current[b] = durable[b]!;
          }
        }
        expect(report).toMatchObject({ unflushedBlocks: marked.filter(Boolean).length, keptNew });
        marked.fill(false);
      }
      expect(control.unflushedBlocks()).toBe(marked.filter(Boolean).length);
      if (step % 10 === 0) {
        expectImage(readBlocks(drive, 0, blockCount), current);
        expectImage(control.readDurable(0, blockCount), durable);
      }
    }
  });

  it('with nothing written since the last flush, copies nothing (the durable image is left as it is)', () => {
    const { descriptor, drive, control } = fresh();
    expect(drive.write(5, 1, blocksOf(5, 1), 0)).toBe(DriveStatus.OK);
    expect(drive.flush()).toBe(DriveStatus.OK);
    // Bytes changed behind the drive's back (not a write) are not the flush's business.
    new Uint8Array(descriptor.buffer).fill(0x77, 5 * BLOCK, 6 * BLOCK);
    expect(drive.flush()).toBe(DriveStatus.OK);
    expect(control.readDurable(5, 1)).toEqual(blocksOf(5, 1));
  });
});

describe('power loss', () => {
  it('an unflushed block ends with its new contents when it reached the medium, its last flushed ones otherwise', () => {
    const { drive, control } = fresh();
    expect(drive.write(20, 2, blocksOf(0x20, 2), 0)).toBe(DriveStatus.OK);
    expect(drive.flush()).toBe(DriveStatus.OK);
    expect(drive.write(20, 2, blocksOf(0x80, 2), 0)).toBe(DriveStatus.OK);
    expect(drive.write(50, 1, blocksOf(0x50, 1), 0)).toBe(DriveStatus.OK);
    // Draws in ascending block order: 20 keeps, 21 reverts, 50 reverts.
    const report = control.powerLoss(scripted([KEEP, REVERT, REVERT]));
    expect(report).toEqual({ unflushedBlocks: 3, keptNew: 1, revertedOld: 2, unflushedWrites: 2, tornWrites: 1 });
    expect(readBlocks(drive, 20, 2)).toEqual(new Uint8Array([...blocksOf(0x80, 1), ...blocksOf(0x21, 1)]));
    expect(readBlocks(drive, 50, 1)).toEqual(new Uint8Array(BLOCK));
    // The drive and the durable image now agree, and nothing is left to lose.
    expect(control.readDurable(0, BLOCK_COUNT)).toEqual(readBlocks(drive, 0, BLOCK_COUNT));
    expect(control.unflushedBlocks()).toBe(0);
    expect(control.powerLoss(scripted([]))).toEqual({ unflushedBlocks: 0, keptNew: 0, revertedOld: 0, unflushedWrites: 0, tornWrites: 0 });
  });

  it('loses an unflushed write entirely, or keeps it entirely, when every block draws the same', () => {
    for (const [draw, expected] of [[REVERT, [0, 0, 0, 0]], [KEEP, [0x60, 0x61, 0x62, 0x63]]] as const) {
      const { drive, control } = fresh();
      expect(drive.write(60, 4, blocksOf(0x60, 4), 0)).toBe(DriveStatus.OK);
      const report = control.powerLoss(scripted([draw, draw, draw, draw]));
      expect(report.tornWrites).toBe(0);
      expect(report.unflushedWrites).toBe(1);
      expect(blockFills(drive, 60, 4)).toEqual(expected);
    }
  });

  it('a seeded rng tears an eight-block write: blocks 0, 3, 4 and 5 old, 1, 2, 6 and 7 new', () => {
    const { drive, control } = fresh();
    expect(drive.write(8, 8, blocksOf(0x08, 8), 0)).toBe(DriveStatus.OK);
    expect(drive.flush()).toBe(DriveStatus.OK);
    expect(drive.write(8, 8, blocksOf(0xa0, 8), 0)).toBe(DriveStatus.OK);
    const report = control.powerLoss(seeded(2));
    expect(report).toEqual({ unflushedBlocks: 8, keptNew: 4, revertedOld: 4, unflushedWrites: 1, tornWrites: 1 });
    expect(blockFills(drive, 8, 8)).toEqual([0x08, 0xa1, 0xa2, 0x0b, 0x0c, 0x0d, 0xa6, 0xa7]);
    expect(readBlocks(drive, 8, 8)).toEqual(control.readDurable(8, 8));
  });

  it('counts a write torn when a later unflushed write overlapped it and their shared blocks split', () => {
    const { drive, control } = fresh();
    expect(drive.write(0, 4, blocksOf(0x10, 4), 0)).toBe(DriveStatus.OK); // blocks 0..3
    expect(drive.write(2, 4, blocksOf(0x20, 4), 0)).toBe(DriveStatus.OK); // blocks 2..5
    // Blocks 0..5: the first write's own blocks 0 and 1 keep; 2..5 (the second's) revert.
    const report = control.powerLoss(scripted([KEEP, KEEP, REVERT, REVERT, REVERT, REVERT]));
    expect(report).toEqual({ unflushedBlocks: 6, keptNew: 2, revertedOld: 4, unflushedWrites: 2, tornWrites: 1 });
    expect(blockFills(drive, 0, 6)).toEqual([0x10, 0x11, 0, 0, 0, 0]);
  });

  it('leaves the write counts out once more writes than the log holds came without a flush', () => {
    const { drive, control } = fresh();
    const one = blocksOf(0x33, 1);
    let refused = 0;
    for (let i = 0; i <= UNFLUSHED_WRITES_LOGGED_MAX; i++) if (drive.write(i % BLOCK_COUNT, 1, one, 0) !== DriveStatus.OK) refused++;
    expect(refused).toBe(0);
    expect(control.unflushedBlocks()).toBe(BLOCK_COUNT);
    const report = control.powerLoss(() => REVERT);
    expect(report).toEqual({ unflushedBlocks: BLOCK_COUNT, keptNew: 0, revertedOld: BLOCK_COUNT });
    expect(readBlocks(drive, 0, BLOCK_COUNT)).toEqual(new Uint8Array(BLOCK_COUNT * BLOCK));
    // The log starts empty again: the next power loss counts writes once more.
    expect(drive.write(3, 2, blocksOf(1, 2), 0)).toBe(DriveStatus.OK);
    expect(control.powerLoss(scripted([KEEP, REVERT]))).toEqual({ unflushedBlocks: 2, keptNew: 1, revertedOld: 1, unflushedWrites: 1, tornWrites: 1 });
  });

  it('the log saturating does not stop a flush from making everything durable', () => {
    const { drive, control } = fresh();
    let refused = 0;
    for (let i = 0; i <= UNFLUSHED_WRITES_LOGGED_MAX + 10; i++) if (drive.write(i % 7, 1, blocksOf(i, 1), 0) !== DriveStatus.OK) refused++;
    expect(refused).toBe(0);
    expect(drive.flush()).toBe(DriveStatus.OK);
    expect(control.unflushedBlocks()).toBe(0);
    expect(control.readDurable(0, 7)).toEqual(readBlocks(drive, 0, 7));
  });

  it('refuses an rng draw outside [0, 1)', () => {
    const { drive, control } = fresh();
    expect(drive.write(0, 1, blocksOf(1, 1), 0)).toBe(DriveStatus.OK);
    expect(() => control.powerLoss(() => 1)).toThrow(/\[0, 1\)/);
  });
});

describe('sharing and set-up', () => {
  it('two handles over one descriptor share the marks and the durable image', () => {
    const { descriptor, drive: first } = fresh();
    const second = openDrive(descriptor) as MemoryDrive;
    expect(first.write(40, 2, blocksOf(0x40, 2), 0)).toBe(DriveStatus.OK);
    expect(second.persistence!.unflushedBlocks()).toBe(2);
    expect(second.flush()).toBe(DriveStatus.OK);
    expect(first.persistence!.unflushedBlocks()).toBe(0);
    expect(first.persistence!.readDurable(40, 2)).toEqual(blocksOf(0x40, 2));
    // A write through one handle is lost for both; the other flushed one is not.
    expect(second.write(41, 2, blocksOf(0x90, 2), 0)).toBe(DriveStatus.OK);
    expect(first.persistence!.powerLoss(scripted([REVERT, REVERT]))).toMatchObject({ unflushedBlocks: 2, revertedOld: 2 });
    expect(blockFills(second, 40, 3)).toEqual([0x40, 0x41, 0]);
  });

  it('a persistence block allocated over a drive that holds data starts with that data durable', () => {
    const buffer = MemoryDrive.allocate(8);
    new MemoryDrive(buffer, 8).write(3, 1, blocksOf(0x03, 1), 0);
    const persistence = DrivePersistence.allocate(8, buffer);
    const drive = openDrive({ kind: 'memory', blockCount: 8, buffer, persistence });
    expect(drive.write(3, 1, blocksOf(0x99, 1), 0)).toBe(DriveStatus.OK);
    new DrivePersistence(persistence, buffer).powerLoss(scripted([REVERT]));
    expect(blockFills(drive, 3, 1)).toEqual([0x03]);
  });

  it('refuses a persistence block made for another block count', () => {
    expect(() => openDrive({ kind: 'memory', blockCount: 8, buffer: MemoryDrive.allocate(8), persistence: DrivePersistence.allocate(16) })).toThrow(/for 16 blocks but the drive buffer holds 8/);
    expect(() => new DrivePersistence(new SharedArrayBuffer(64), MemoryDrive.allocate(8))).toThrow(/block count 0/);
  });

  it('faults and persistence together: a refused write marks nothing, a failed flush makes nothing durable', () => {
    const buffer = MemoryDrive.allocate(BLOCK_COUNT);
    const persistence = DrivePersistence.allocate(BLOCK_COUNT);
    const faults = FaultControl.allocate();
    const drive = openDrive({ kind: 'memory', blockCount: BLOCK_COUNT, buffer, faults, persistence });
    expect(drive).toBeInstanceOf(FaultyDrive);
    const control = new DrivePersistence(persistence, buffer);
    const faultControl = new FaultControl(faults);

    faultControl.failWrites(4, 4);
    expect(drive.write(4, 1, blocksOf(0x44, 1), 0)).toBe(DriveStatus.MEDIUM_ERROR);
    expect(control.unflushedBlocks()).toBe(0);
    expect(drive.write(5, 1, blocksOf(0x55, 1), 0)).toBe(DriveStatus.OK);
    expect(control.unflushedBlocks()).toBe(1);

    faultControl.failDrive();
    expect(drive.flush()).toBe(DriveStatus.DRIVE_FAILED);
    expect(control.unflushedBlocks()).toBe(1);
    faultControl.heal();
    expect(drive.write(6, 1, blocksOf(0x66, 1), 0)).toBe(DriveStatus.OK);
    expect(drive.flush()).toBe(DriveStatus.OK);
    expect(drive.write(7, 1, blocksOf(0x77, 1), 0)).toBe(DriveStatus.OK);
    expect(control.powerLoss(scripted([REVERT]))).toMatchObject({ unflushedBlocks: 1, revertedOld: 1 });
    expect(blockFills(drive, 4, 4)).toEqual([0, 0x55, 0x66, 0]);
  });
});

describe('file drives', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'drive-persistence-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('open as before, and a file descriptor carrying a persistence block is refused', () => {
    const path = join(dir, 'plain.img');
    const drive = openDrive({ kind: 'file', blockCount: 8, path });
    try {
      expect(drive).toBeInstanceOf(FileDrive);
      expect(drive.write(1, 1, blocksOf(1, 1), 0)).toBe(DriveStatus.OK);
      expect(drive.flush()).toBe(DriveStatus.OK);
    } finally {
      drive.close();
    }
    const withCache = { kind: 'file', blockCount: 8, path, persistence: DrivePersistence.allocate(8) } as DriveDescriptor;
    expect(() => openDrive(withCache)).toThrow(/only modelled for memory drives/);
  });

  it('a system booted with persistentDrives gives its memory drives a cache and its file drive none; a reboot reuses the buffers', async () => {
    const config: SystemConfig = {
      ...DEFAULT_CONFIG,
      cacheBytes: 8 * 65536,
      drives: [
        { number: 0, kind: 'memory', blockCount: 2048 },
        { number: 1, kind: 'file', blockCount: 2048, path: join(dir, 'system.img') },
      ],
      volumes: [
        { number: 1, capacityBlocks: 2048, drive: 0, startBlock: 0 },
        { number: 2, capacityBlocks: 2048, drive: 1, startBlock: 0 },
      ],
    };
    const first = await StorageSystem.boot(config, { runtime: 'deterministic', seed: 3, persistentDrives: true });
    expect([...first.persistenceBuffers.keys()]).toEqual([0]);
    expect(() => first.persistence(1)).toThrow(/no persistence control/);
    await first.host.writeOk(0, 1, 16, blocksOf(0x16, 2));
    await first.host.writeOk(0, 2, 16, blocksOf(0x26, 2));
    expect(await first.powerOff()).toEqual({ undestagedSlots: 0, failures: [] });
    // Power-off destages and flushes: the write is durable, so a power loss now changes nothing.
    expect(first.persistence(0).unflushedBlocks()).toBe(0);
    expect(first.persistence(0).readDurable(16, 2)).toEqual(blocksOf(0x16, 2));
    expect(first.persistence(0).powerLoss(scripted([])).unflushedBlocks).toBe(0);
    first.dispose();

    await expect(StorageSystem.boot(config, { runtime: 'deterministic', persistenceBuffers: first.persistenceBuffers })).rejects.toThrow(/memoryDrives/);
    const second = await StorageSystem.boot(config, { runtime: 'deterministic', seed: 4, memoryDrives: first.memoryDrives, persistenceBuffers: first.persistenceBuffers });
    expect(second.persistenceBuffers.get(0)).toBe(first.persistenceBuffers.get(0));
    expect(await second.host.readOk(1, 1, 16, 2 * BLOCK)).toEqual(blocksOf(0x16, 2));
    expect(await second.host.readOk(1, 2, 16, 2 * BLOCK)).toEqual(blocksOf(0x26, 2));
    await second.powerOff();
    second.dispose();
  });
});
