// Journal volume images made by the real firmware, for the tests of the journal scan
// (firmware/journal-scan.ts) and of the `journal-scan` command: a primary group on copySystem()
// whose host writes are all journaled, a power-off that destages and flushes everything, and the
// scan target its volume and pointer information describe.

import { expect } from 'vitest';
import { requestPowerOff } from '../../firmware/boot.ts';
import { BLOCK_BYTES } from '../../firmware/config.ts';
import type { JournalScanTarget } from '../../firmware/journal-scan.ts';
import type { Drive } from '../../hal/drive.ts';
import { ScsiStatus } from '../../hal/host-port.ts';
import { MemoryDrive } from '../../hal/memory-drive.ts';
import { copySystem, pattern, setupPrimaryGroup, type Harness } from './harness.ts';

/** copySystem()'s journal volume 3: drive 0 from block 1024, 256 blocks. */
export const JOURNAL = 3;

/** A primary group (volumes 1 and 2, journal volume 3) copying without initial copy: every host write is journaled. */
export function journaledPrimary(group = 1): Harness {
  const h = copySystem();
  setupPrimaryGroup(h, group, [1, 2], JOURNAL, { start: false });
  const r = h.copy.startCopy(group, { readers: [2], noCopy: true });
  if (r.status !== 'ok') throw new Error(r.reason);
  return h;
}

/** One host write of `blocks[i]` blocks per entry, alternating volumes 1 and 2 and ports 0 and 1. */
export function hostWrites(h: Harness, blocks: readonly number[], seed = 100): void {
  blocks.forEach((n, i) => {
    expect(h.write(i % 2, 1 + (i % 2), 8 * i, pattern(n * BLOCK_BYTES, seed + i)).status).toBe(ScsiStatus.GOOD);
  });
}

/** Power-off: channel adapters drain, disk adapters destage every dirty slot and flush. */
export function powerOff(h: Harness): void {
  requestPowerOff(h.mem);
  for (let i = 0; i < 200 && ![...h.ca, ...h.da].every((p) => p.finished()); i++) h.round();
  expect([...h.ca, ...h.da].every((p) => p.finished())).toBe(true);
  expect(h.cache.dirtySlots()).toBe(0);
}

/** The scan target of `group`'s journal volume, as its volume and pointer information describe it. */
export function scanTarget(h: Harness, group: number, o: { from?: number; drive?: Drive } = {}): JournalScanTarget {
  const { mem } = h;
  const jv = mem.groups.journalVolume(group, 0);
  const set = group * mem.config.readersMax;
  const bytes = h.driveBytes.get(mem.volumes.driveNumber(jv))!;
  return {
    drive: o.drive ?? new MemoryDrive(bytes.buffer as SharedArrayBuffer, bytes.byteLength / BLOCK_BYTES),
    startBlock: mem.volumes.driveStartBlock(jv),
    volumeBlocks: mem.volumes.capacityBlocks(jv),
    geometry: { uiHead: mem.pointers.get(set, 'ui_head'), wdHead: mem.pointers.get(set, 'wd_head'), capacity: mem.pointers.get(set, 'capacity_bytes'), uiSlot: mem.pointers.uiSlotBytes(set) },
    journalVolume: jv,
    group,
    dataBlocksMax: mem.config.maxTransferBytes / BLOCK_BYTES,
    ...(o.from === undefined ? {} : { from: o.from }),
  };
}
