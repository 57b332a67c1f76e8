// System configuration: what a storage system is built from, validated before anything is
// formatted. Every problem is reported with the field it concerns and why, all at once, so an
// operator fixes a configuration in one pass.

export interface DriveConfig {
  /** Storage device number (volume information 400's physical address refers to it). */
  number: number;
  /** How the hal backs the drive; the firmware itself only sees the Drive interface. */
  kind: 'memory' | 'file';
  blockCount: number;
  /** File path for kind 'file'. */
  path?: string;
}

export interface VolumeConfig {
  number: number;
  format?: string;
  capacityBlocks: number;
  drive: number;
  startBlock: number;
  /** Volumes are defined normal (正常) unless said otherwise. */
  state?: 'normal' | 'unused';
  /**
   * A volume with no storage behind it (seed 000 embodiment 3): writes only make journals,
   * reads are refused. drive and startBlock are ignored.
   */
  virtual?: boolean;
}

/** A link (connection path 200) to another storage system, served by one channel adapter. */
export interface LinkConfig {
  /** Link number on this system, 1..linksMax. */
  number: number;
  /** The storage system at the other end. */
  peerSystem: number;
  /** The channel adapter (0-based) that owns this link endpoint. */
  adapter: number;
}

export interface SystemConfig {
  systemNumber: number;
  name: string;
  channelAdapters: number;
  diskAdapters: number;
  cacheBytes: number;
  slotBytes: number;
  volumesMax: number;
  pairsMax: number;
  groupsMax: number;
  /** Pointer-information sets per group on a primary: the secondaries that may read it. */
  readersMax: number;
  hostQueueDepth: number;
  maxTransferBytes: number;
  mailboxCapacity: number;
  /** Dirty slots a disk adapter destages per loop iteration at most. */
  destageBatchSlots: number;
  /** Largest journal read response payload, and the size of each group's staging buffer. */
  journalBatchBytes: number;
  /** Journal read commands one secondary group may have in flight at most; each needs a staging buffer of journalBatchBytes. */
  readWindowMax: number;
  drives: DriveConfig[];
  volumes: VolumeConfig[];
  links: LinkConfig[];
  /** Local mirror pairs (seed 004) this system can hold; default MIRROR_DEFAULTS.pairsMax. */
  mirrorPairsMax?: number;
  /** Bytes of each of a mirror pair's two update bitmaps (230, 240); default MIRROR_DEFAULTS.bitmapBytes. */
  mirrorBitmapBytes?: number;
  /**
   * Where the non-volatile part of the mirror control memory (pairs, and the bitmaps of pairs
   * marked non-volatile) is kept across power-off: an extent of a drive no volume uses.
   */
  mirrorNv?: { drive: number; startBlock: number };
}

/** Defaults of the optional mirror fields, so configurations written before seed 004 keep working. */
export const MIRROR_DEFAULTS = { pairsMax: 8, bitmapBytes: 16 * 1024 } as const;

/** The mirror fields of a configuration with their defaults applied. */
export function mirrorGeometryOf(config: SystemConfig): { pairsMax: number; bitmapBytes: number } {
  return { pairsMax: config.mirrorPairsMax ?? MIRROR_DEFAULTS.pairsMax, bitmapBytes: config.mirrorBitmapBytes ?? MIRROR_DEFAULTS.bitmapBytes };
}

export const LINKS_MAX = 8;

export const BLOCK_BYTES = 512;

export const DEFAULT_CONFIG: SystemConfig = {
  systemNumber: 1,
  name: 'primary',
  channelAdapters: 2,
  diskAdapters: 1,
  cacheBytes: 64 * 1024 * 1024,
  slotBytes: 64 * 1024,
  volumesMax: 64,
  pairsMax: 64,
  groupsMax: 16,
  readersMax: 4,
  hostQueueDepth: 32,
  maxTransferBytes: 256 * 1024,
  mailboxCapacity: 256,
  destageBatchSlots: 32,
  journalBatchBytes: 1024 * 1024,
  readWindowMax: 1,
  links: [],
  drives: [
    { number: 0, kind: 'memory', blockCount: (256 * 1024 * 1024) / BLOCK_BYTES },
    { number: 1, kind: 'memory', blockCount: (256 * 1024 * 1024) / BLOCK_BYTES },
  ],
  volumes: [
    { number: 1, format: 'OPEN3', capacityBlocks: (128 * 1024 * 1024) / BLOCK_BYTES, drive: 0, startBlock: 0 },
    { number: 2, format: 'OPEN3', capacityBlocks: (128 * 1024 * 1024) / BLOCK_BYTES, drive: 0, startBlock: (128 * 1024 * 1024) / BLOCK_BYTES },
    { number: 3, format: 'OPEN3', capacityBlocks: (128 * 1024 * 1024) / BLOCK_BYTES, drive: 1, startBlock: 0 },
    { number: 4, format: 'OPEN3', capacityBlocks: (128 * 1024 * 1024) / BLOCK_BYTES, drive: 1, startBlock: (128 * 1024 * 1024) / BLOCK_BYTES },
  ],
};

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Powers of two up to 2^30, the largest any bounded structure here accepts. */
const isPow2 = (n: number): boolean => Number.isInteger(n) && n > 0 && n <= 2 ** 30 && Number.isInteger(Math.log2(n));
const isCount = (n: unknown, min: number, max: number): boolean => typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max;

/** Checks a configuration; throws ConfigError listing every problem. */
export function validateConfig(config: SystemConfig): SystemConfig {
  const p: string[] = [];
  const need = (ok: boolean, message: string): void => {
    if (!ok) p.push(message);
  };
  need(isCount(config.systemNumber, 1, 0xffff), `systemNumber: ${config.systemNumber} must be an integer 1..65535`);
  need(isCount(config.channelAdapters, 1, 64), `channelAdapters: ${config.channelAdapters} must be an integer 1..64 (at least one channel adapter)`);
  need(isCount(config.diskAdapters, 1, 64), `diskAdapters: ${config.diskAdapters} must be an integer 1..64 (at least one disk adapter)`);
  need(isPow2(config.slotBytes) && config.slotBytes >= 4096 && config.slotBytes <= 65536, `slotBytes: ${config.slotBytes} must be a power of two from 4096 to 65536`);
  need(isCount(config.cacheBytes, 1, 2 ** 31 - 1), `cacheBytes: ${config.cacheBytes} must be a positive integer below 2 GiB`);
  if (isPow2(config.slotBytes) && config.cacheBytes % config.slotBytes !== 0) p.push(`cacheBytes: ${config.cacheBytes} is not a multiple of slotBytes ${config.slotBytes}`);
  if (isPow2(config.slotBytes) && config.cacheBytes / config.slotBytes < 8) p.push(`cacheBytes: ${config.cacheBytes} gives fewer than 8 cache slots`);
  need(isCount(config.volumesMax, 1, 4095), `volumesMax: ${config.volumesMax} must be an integer 1..4095`);
  need(isCount(config.pairsMax, 1, 65535), `pairsMax: ${config.pairsMax} must be an integer 1..65535`);
  need(isCount(config.groupsMax, 1, 255), `groupsMax: ${config.groupsMax} must be an integer 1..255`);
  need(isCount(config.readersMax, 1, 16), `readersMax: ${config.readersMax} must be an integer 1..16`);
  need(isCount(config.hostQueueDepth, 1, 1024), `hostQueueDepth: ${config.hostQueueDepth} must be an integer 1..1024`);
  need(isCount(config.maxTransferBytes, BLOCK_BYTES, 16 * 1024 * 1024) && config.maxTransferBytes % BLOCK_BYTES === 0,
    `maxTransferBytes: ${config.maxTransferBytes} must be a multiple of ${BLOCK_BYTES} up to 16 MiB`);
  need(isPow2(config.mailboxCapacity) && config.mailboxCapacity >= config.hostQueueDepth * 2 && config.mailboxCapacity <= 65536,
    `mailboxCapacity: ${config.mailboxCapacity} must be a power of two of at least twice hostQueueDepth, at most 65536`);
  need(isCount(config.destageBatchSlots, 1, 4096), `destageBatchSlots: ${config.destageBatchSlots} must be an integer 1..4096`);

  need(isCount(config.journalBatchBytes, 64 * 1024, 16 * 1024 * 1024) && config.journalBatchBytes % BLOCK_BYTES === 0 && config.journalBatchBytes >= config.maxTransferBytes + 2 * BLOCK_BYTES,
    `journalBatchBytes: ${config.journalBatchBytes} must be a multiple of ${BLOCK_BYTES} from 64 KiB to 16 MiB and hold one largest write with its update information`);
  need(isCount(config.readWindowMax, 1, 8), `readWindowMax: ${config.readWindowMax} must be an integer 1..8`);
  const mirror = mirrorGeometryOf(config);
  need(isCount(mirror.pairsMax, 1, 1024), `mirrorPairsMax: ${mirror.pairsMax} must be an integer 1..1024`);
  need(isCount(mirror.bitmapBytes, 64, 1024 * 1024) && mirror.bitmapBytes % 64 === 0, `mirrorBitmapBytes: ${mirror.bitmapBytes} must be a multiple of 64 from 64 to 1 MiB`);
  const linkNumbers = new Set<number>();
  (config.links ?? []).forEach((l, i) => {
    const where = `links[${i}]`;
    if (!isCount(l.number, 1, LINKS_MAX)) p.push(`${where}.number: ${l.number} must be an integer 1..${LINKS_MAX}`);
    else if (linkNumbers.has(l.number)) p.push(`${where}.number: link ${l.number} is defined twice`);
    else linkNumbers.add(l.number);
    if (!isCount(l.peerSystem, 1, 0xffff) || l.peerSystem === config.systemNumber) p.push(`${where}.peerSystem: ${l.peerSystem} must be another system's number 1..65535`);
    if (!isCount(l.adapter, 0, config.channelAdapters - 1)) p.push(`${where}.adapter: ${l.adapter} must name a channel adapter 0..${config.channelAdapters - 1}`);
  });

  const drives = new Map<number, DriveConfig>();
  (config.drives ?? []).forEach((d, i) => {
    const where = `drives[${i}]`;
    if (!isCount(d.number, 0, 0xfffe)) p.push(`${where}.number: ${d.number} must be an integer 0..65534`);
    else if (drives.has(d.number)) p.push(`${where}.number: drive ${d.number} is defined twice`);
    else drives.set(d.number, d);
    if (d.kind !== 'memory' && d.kind !== 'file') p.push(`${where}.kind: '${String(d.kind)}' must be 'memory' or 'file'`);
    if (d.kind === 'file' && (typeof d.path !== 'string' || d.path.length === 0)) p.push(`${where}.path: a file drive needs a path`);
    if (!isCount(d.blockCount, 1, 2 ** 32 - 1)) p.push(`${where}.blockCount: ${d.blockCount} must be an integer 1..2^32-1`);
  });
  if (drives.size === 0) p.push('drives: at least one drive is required');
  if (config.mirrorNv !== undefined) {
    const d = drives.get(config.mirrorNv.drive);
    const nvBlocks = mirrorNvBlocks(config);
    if (!d) p.push(`mirrorNv.drive: drive ${config.mirrorNv.drive} is not defined`);
    else if (!isCount(config.mirrorNv.startBlock, 0, 2 ** 32 - 1) || config.mirrorNv.startBlock + nvBlocks > d.blockCount) {
      p.push(`mirrorNv: blocks ${config.mirrorNv.startBlock}..${config.mirrorNv.startBlock + nvBlocks - 1} do not fit on drive ${config.mirrorNv.drive} of ${d.blockCount} blocks`);
    } else {
      for (const v of config.volumes ?? []) {
        if (v.virtual !== true && v.drive === config.mirrorNv.drive && config.mirrorNv.startBlock < v.startBlock + v.capacityBlocks && v.startBlock < config.mirrorNv.startBlock + nvBlocks) {
          p.push(`mirrorNv: blocks overlap volume ${v.number} on drive ${v.drive}`);
        }
      }
    }
  }

  const volumeNumbers = new Set<number>();
  const extents: Array<{ drive: number; from: number; to: number; volume: number }> = [];
  (config.volumes ?? []).forEach((v, i) => {
    const where = `volumes[${i}]`;
    if (!isCount(v.number, 1, config.volumesMax)) p.push(`${where}.number: ${v.number} must be an integer 1..volumesMax (${config.volumesMax})`);
    else if (volumeNumbers.has(v.number)) p.push(`${where}.number: volume ${v.number} is defined twice`);
    else volumeNumbers.add(v.number);
    if (!isCount(v.capacityBlocks, 1, 2 ** 31 - 1)) p.push(`${where}.capacityBlocks: ${v.capacityBlocks} must be an integer 1..2^31-1`);
    if (v.format !== undefined && (typeof v.format !== 'string' || v.format.length > 8 || !/^[\x20-\x7e]*$/.test(v.format))) {
      p.push(`${where}.format: '${String(v.format)}' must be printable ASCII of at most 8 characters`);
    }
    if (v.state !== undefined && v.state !== 'normal' && v.state !== 'unused') p.push(`${where}.state: '${String(v.state)}' must be 'normal' or 'unused'`);
    const drive = drives.get(v.drive);
    if (v.virtual === true) {
      // No storage: nothing to place on a drive.
    } else if (!drive) p.push(`${where}.drive: drive ${v.drive} is not defined`);
    else if (!isCount(v.startBlock, 0, 2 ** 32 - 1) || v.startBlock + v.capacityBlocks > drive.blockCount) {
      p.push(`${where}: blocks ${v.startBlock}..${v.startBlock + v.capacityBlocks - 1} do not fit on drive ${v.drive} of ${drive.blockCount} blocks`);
    } else {
      for (const e of extents) {
        if (e.drive === v.drive && v.startBlock < e.to && e.from < v.startBlock + v.capacityBlocks) {
          p.push(`${where}: overlaps volume ${e.volume} on drive ${v.drive}`);
        }
      }
      extents.push({ drive: v.drive, from: v.startBlock, to: v.startBlock + v.capacityBlocks, volume: v.number });
    }
  });
  if (p.length > 0) throw new ConfigError(p);
  return config;
}

/** Blocks the non-volatile mirror image takes on its drive: a header block, then the mirrors region. */
export function mirrorNvBlocks(config: SystemConfig): number {
  const m = mirrorGeometryOf(config);
  return 1 + Math.ceil(((m.pairsMax + 1) * (128 + 2 * m.bitmapBytes)) / BLOCK_BYTES);
}

export function processorCount(config: SystemConfig): number {
  return config.channelAdapters + config.diskAdapters;
}
