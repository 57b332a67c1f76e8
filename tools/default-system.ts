// The embedded default storage system: what `npm start` boots when given no options.
//
// To run the same job on file-backed drives, change DRIVE_KIND to 'file' (or pass
// `--drives file`); the drives are then files under DRIVE_DIRECTORY, created and sized on
// first boot and reused on the next.

import { BLOCK_BYTES, DEFAULT_CONFIG, type SystemConfig } from '../firmware/config.ts';

export const DRIVE_KIND: 'memory' | 'file' = 'memory';
export const DRIVE_DIRECTORY = 'var/drives';

const MiB = 1024 * 1024;

export function defaultSystem(options: { drives?: 'memory' | 'file'; driveDirectory?: string; channelAdapters?: number; diskAdapters?: number; volumes?: number; volumeMiB?: number } = {}): SystemConfig {
  const kind = options.drives ?? DRIVE_KIND;
  const directory = options.driveDirectory ?? DRIVE_DIRECTORY;
  const volumeCount = options.volumes ?? 4;
  const volumeBlocks = ((options.volumeMiB ?? 128) * MiB) / BLOCK_BYTES;
  const volumesPerDrive = 2;
  const driveCount = Math.ceil(volumeCount / volumesPerDrive);
  return {
    ...DEFAULT_CONFIG,
    name: 'primary',
    channelAdapters: options.channelAdapters ?? DEFAULT_CONFIG.channelAdapters,
    diskAdapters: options.diskAdapters ?? DEFAULT_CONFIG.diskAdapters,
    drives: Array.from({ length: driveCount }, (_, d) => ({
      number: d,
      kind,
      blockCount: volumeBlocks * volumesPerDrive,
      ...(kind === 'file' ? { path: `${directory}/drive${d}.img` } : {}),
    })),
    volumes: Array.from({ length: volumeCount }, (_, i) => ({
      number: i + 1,
      format: 'OPEN3',
      capacityBlocks: volumeBlocks,
      drive: Math.floor(i / volumesPerDrive),
      startBlock: (i % volumesPerDrive) * volumeBlocks,
    })),
  };
}
