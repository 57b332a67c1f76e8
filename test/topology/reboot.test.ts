// Power-off destages and flushes; a system booted again on the same file drives (or the same
// memory-drive buffers) finds every acknowledged write — in both runtimes.

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, type SystemConfig } from '../../firmware/config.ts';
import { StorageSystem } from '../../tools/system.ts';
import { pattern } from '../support/harness.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fileConfig(dir: string): SystemConfig {
  return {
    ...DEFAULT_CONFIG,
    cacheBytes: 8 * 65536,
    drives: [{ number: 0, kind: 'file', blockCount: 4096, path: join(dir, 'drive0.img') }],
    volumes: [
      { number: 1, format: 'OPEN3', capacityBlocks: 2048, drive: 0, startBlock: 0 },
      { number: 2, format: 'OPEN3', capacityBlocks: 2048, drive: 0, startBlock: 2048 },
    ],
  };
}

describe.each(['threaded', 'deterministic'] as const)('%s runtime', (runtime) => {
  it('file drives: writes survive power-off and a second boot on the same files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reboot-'));
    dirs.push(dir);
    const config = fileConfig(dir);
    const first = await StorageSystem.boot(config, { runtime, seed: 5 });
    expect(statSync(join(dir, 'drive0.img')).size).toBe(4096 * 512);
    const writes = [
      { volume: 1, lba: 0, data: pattern(4096, 1) },
      { volume: 1, lba: 2040, data: pattern(4096, 2) },
      { volume: 2, lba: 100, data: pattern(65536, 3) },
    ];
    for (const w of writes) await first.host.writeOk(0, w.volume, w.lba, w.data);
    expect(await first.powerOff()).toEqual({ undestagedSlots: 0, failures: [] });
    // On the file itself, at each volume's place on the drive.
    expect(first.readDrive(0, 2048 + 100, 128)).toEqual(writes[2]!.data);
    first.dispose();

    const second = await StorageSystem.boot(config, { runtime, seed: 6 });
    for (const w of writes) {
      expect(await second.host.readOk(1, w.volume, w.lba, w.data.byteLength)).toEqual(w.data);
    }
    // A block nobody wrote is still zero.
    expect(Array.from(await second.host.readOk(0, 1, 1000, 512)).every((b) => b === 0)).toBe(true);
    expect(second.maintenance.statistics().data!.totals.stages).toBeGreaterThan(0);
    await second.powerOff();
    second.dispose();
  });

  it('memory drives: a second boot on the same buffers finds the data', async () => {
    const config: SystemConfig = { ...DEFAULT_CONFIG, cacheBytes: 8 * 65536, drives: [{ number: 0, kind: 'memory', blockCount: 2048 }], volumes: [{ number: 1, capacityBlocks: 2048, drive: 0, startBlock: 0 }] };
    const first = await StorageSystem.boot(config, { runtime, seed: 9 });
    await first.host.writeOk(1, 1, 7, pattern(1024, 4));
    await first.powerOff();
    const second = await StorageSystem.boot(config, { runtime, seed: 10, memoryDrives: first.memoryDrives });
    expect(await second.host.readOk(0, 1, 7, 1024)).toEqual(pattern(1024, 4));
    await second.powerOff();
  });

  it('a drive file of the wrong size is a boot error naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reboot-'));
    dirs.push(dir);
    const config = fileConfig(dir);
    const first = await StorageSystem.boot(config, { runtime });
    await first.powerOff();
    const bigger = { ...config, drives: [{ ...config.drives[0]!, blockCount: 8192 }] };
    await expect(StorageSystem.boot(bigger, { runtime })).rejects.toThrow('drive0.img');
  });
});
