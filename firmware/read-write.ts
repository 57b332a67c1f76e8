// Read/write processing 220 (seed 000 §5.5, seed 002 §7.9): the disk adapter's two transfers
// between cache memory and storage devices, addressed by logical address and translated to a
// physical one through volume information 400.
//   stage:   read a volume slot's invalid sectors from the drive into its cache slot;
//   destage: write a cache slot's dirty sectors to the drive (the disk adapter lets the slot go
//            once the drive has flushed).
// Both run with the slot pinned and its slot lock held, so host data, staged data and
// destaged data never interleave within a slot. Dirty sectors are never overwritten by a
// stage: the cache holds the newer data.

import type { Drive } from '../hal/drive.ts';
import { DriveStatus } from '../hal/drive.ts';
import { BLOCK_BYTES } from './config.ts';
import type { Cache } from './cache.ts';
import type { ControlMemory } from './layout.ts';
import { MsgStatus } from './messages.ts';
import { NO_DRIVE } from './structs/volume-info.ts';

export type StatusCode = (typeof MsgStatus)[keyof typeof MsgStatus];

export interface Transferred {
  /** Blocks moved by the last call. */
  blocks: number;
  /** The drive the last call transferred with; null for a volume without storage. */
  drive: Drive | null;
}

/** A drive's status code as the message status the adapters report. */
function driveStatus(status: number): StatusCode {
  return status === DriveStatus.OK ? MsgStatus.OK : status === DriveStatus.DRIVE_FAILED ? MsgStatus.DRIVE_FAILED : MsgStatus.MEDIUM_ERROR;
}

/**
 * Stage: reads every invalid sector of slot s (within the volume's capacity) from its drive.
 * Reading the whole slot, not just the requested sectors, is the adapter's read-ahead: the
 * next sequential read of the same slot hits. Caller holds the slot lock.
 */
export function stageSlot(mem: ControlMemory, cache: Cache, drives: ReadonlyMap<number, Drive>, s: number, out: Transferred): StatusCode {
  out.blocks = 0;
  out.drive = null;
  const volume = cache.volumeOf(s);
  const driveNumber = mem.volumes.driveNumber(volume);
  if (driveNumber === NO_DRIVE) return MsgStatus.NO_STORAGE;
  const drive = drives.get(driveNumber);
  if (!drive) return MsgStatus.DRIVE_FAILED;
  out.drive = drive;
  const sectors = cache.sectorsPerSlot;
  const firstBlock = cache.slotNumberOf(s) * sectors;
  const limit = Math.min(sectors, mem.volumes.capacityBlocks(volume) - firstBlock);
  const base = mem.volumes.driveStartBlock(volume) + firstBlock;
  const dataOffset = cache.dataOffset(s);
  let sector = 0;
  while (sector < limit) {
    if (cache.isSectorValid(s, sector)) {
      sector++;
      continue;
    }
    let run = 1;
    while (sector + run < limit && !cache.isSectorValid(s, sector + run)) run++;
    const status = drive.read(base + sector, run, mem.cacheBytes, dataOffset + sector * BLOCK_BYTES);
    if (status !== DriveStatus.OK) return driveStatus(status);
    cache.markValid(s, sector, run);
    out.blocks += run;
    sector += run;
  }
  return MsgStatus.OK;
}

/**
 * Destage: writes every dirty sector of slot s to its drive and leaves the slot dirty. The disk
 * adapter then marks it clean, and UNFLUSHED until `out.drive` has flushed (docs/decisions.md,
 * "Power and processor resets"). A volume without storage (seed 000 embodiment 3) keeps
 * nothing: OK with `out.drive` null, nothing written. Caller holds the slot lock.
 */
export function writeDirtySectors(mem: ControlMemory, cache: Cache, drives: ReadonlyMap<number, Drive>, s: number, out: Transferred): StatusCode {
  out.blocks = 0;
  out.drive = null;
  const volume = cache.volumeOf(s);
  const driveNumber = mem.volumes.driveNumber(volume);
  if (driveNumber === NO_DRIVE) return MsgStatus.OK;
  const drive = drives.get(driveNumber);
  if (!drive) return MsgStatus.DRIVE_FAILED;
  out.drive = drive;
  const sectors = cache.sectorsPerSlot;
  const firstBlock = cache.slotNumberOf(s) * sectors;
  const base = mem.volumes.driveStartBlock(volume) + firstBlock;
  const dataOffset = cache.dataOffset(s);
  let sector = 0;
  while (sector < sectors) {
    if (!cache.isSectorDirty(s, sector)) {
      sector++;
      continue;
    }
    let run = 1;
    while (sector + run < sectors && cache.isSectorDirty(s, sector + run)) run++;
    const status = drive.write(base + sector, run, mem.cacheBytes, dataOffset + sector * BLOCK_BYTES);
    // On an error the data stays dirty in cache: an acknowledged write is never dropped.
    if (status !== DriveStatus.OK) return driveStatus(status);
    out.blocks += run;
    sector += run;
  }
  return MsgStatus.OK;
}
