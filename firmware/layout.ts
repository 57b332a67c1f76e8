// Control-memory layout: which regions shared memory 140 holds, how big each is, and the one
// object (ControlMemory) through which a processor reaches them.
//
// The layout is a pure function of the configuration, so every processor computes the same
// offsets; each one also checks them against the region table in the image header, the way
// firmware asserts its struct sizes at load.
//
//  region        records                              what
//  system        1 x 64 B                             run state, processor counts, boot time
//  volumes       (volumesMax+1) x 64 B                volume information 400 (record 0 reserved)
//  pairs         (pairsMax+1) x 64 B                  pair information 500
//  groups        (groupsMax+1) x 128 B                group information 600
//  pointers      (groupsMax+1)*readersMax x 128 B     pointer information 700, readersMax sets per group
//  cache-ctl     1 x 64 B                             free list, LRU ends, dirty/used counts
//  slots         slotCount x 64 B                     cache slot headers
//  directory     bucketCount x 4 B                    hash buckets (slot index + 1)
//  locks         lockCount x 64 B                     mutexes with their counters
//  mailboxes     processors x Mailbox                 inter-processor messages
//  doorbells     processors x 64 B                    wake-up words
//  statistics    processors x 256 B                   float64 counters per processor
//  tasks         processors x tasksPerProcessor x 128 B  task records (host commands, then remote-copy services)
//  scratch       processors x tasksPerProcessor x 512 B  one block per task (update information being built)
//  bitmaps       (volumesMax+1) x 4 KiB                update bitmaps (differential bitmaps of suspended pairs)
//  staging       (groupsMax+1) x (readWindowMax+1) x journalBatchBytes  per group: journal batches received, journal being restored
//  batches       pointer sets x 288 B                  per pointer set: the batches sent and not yet released (firmware/sent-batches.ts)
//  windows       (groupsMax+1) x readWindowMax x 48 B  per group: journal reads in flight and batches waiting to be stored (firmware/read-window.ts)
//  mirrors       (mirrorPairsMax+1) x (128 B + 2 x mirrorBitmapBytes)  local mirror pairs 250 with their bitmaps 230, 240 (firmware/structs/mirror-info.ts)

import { Doorbells } from '../hal/doorbell.ts';
import { LockTable } from '../hal/lock.ts';
import { Mailbox } from '../hal/mailbox.ts';
import { planRegions, readRegionTable, writeRegionTable, type Region, type RegionSpec } from '../hal/shared-memory.ts';
import { assert } from './assert.ts';
import { processorCount, type SystemConfig } from './config.ts';
import { CACHE_CONTROL_BYTES, CACHE_SLOT_HEADER, DIRECTORY_BUCKET_BYTES } from './structs/cache-slot.ts';
import { GROUP_INFO, GroupTable } from './structs/group-info.ts';
import { PAIR_INFO, PairTable } from './structs/pair-info.ts';
import { POINTER_INFO, PointerTable } from './structs/pointer-info.ts';
import { STAT_BLOCK_BYTES } from './structs/statistics.ts';
import { GROUP_SERVICE_TASKS, TASK_RECORD, TASK_WORDS } from './structs/task.ts';
import { BITMAP_BYTES } from './bitmap.ts';
import { SENT_BATCHES_BYTES } from './sent-batches.ts';
import { READ_WINDOW_ENTRY_BYTES, ReadWindow } from './read-window.ts';
import { LINKS_MAX, mirrorGeometryOf } from './config.ts';
import { MIRROR_INFO, MirrorTable } from './structs/mirror-info.ts';
import { VOLUME_INFO, VolumeTable } from './structs/volume-info.ts';

export const RegionId = {
  SYSTEM: 1, VOLUMES: 2, PAIRS: 3, GROUPS: 4, POINTERS: 5, CACHE_CONTROL: 6, SLOTS: 7,
  DIRECTORY: 8, LOCKS: 9, MAILBOXES: 10, DOORBELLS: 11, STATISTICS: 12, TASKS: 13, SCRATCH: 14, BITMAPS: 15, STAGING: 16, BATCHES: 17, WINDOWS: 18, MIRRORS: 19,
} as const;

/** Bytes of one task's scratch block. */
export const TASK_SCRATCH_BYTES = 512;

// System record (64 bytes):
//  off size field                       meaning
//    0    4 run_state                   RunState (Atomics)
//    4    4 processors_started          processors attached
//    8    4 processors_finished         reserved for runtimes
//   12    4 failed_processor            id + 1 of the first processor that threw, 0 = none
//   16    4 channel_adapters_finished   channel adapters done with power-off
//   20    4 undestaged_slots            dirty slots left in cache at power-off (abnormal volumes)
//   24    8 reserved
//   32    8 boot_ms                     float64: boot time
//   40   16 finished_mask               bit p: processor p is done with power-off (128 processors)
//   56    8 reserved
export const SYSTEM_RECORD_BYTES = 64;
export const SYSTEM_BOOT_MS_OFFSET = 32;
/** System record words (int32). */
export const SystemWord = { RUN_STATE: 0, STARTED: 1, FINISHED: 2, FAILED_PROCESSOR: 3, CHANNEL_ADAPTERS_FINISHED: 4, UNDESTAGED_SLOTS: 5, FINISHED_MASK: 10 } as const;
const FINISHED_MASK_WORDS = 4;
export const RunState = { BOOTING: 0, RUNNING: 1, STOPPING: 2, STOPPED: 3 } as const;

/**
 * Marks processor `id` done with power-off. False if it already was: a processor reset after it
 * finished, whose successor finishes again, must not be counted twice (power-off counts
 * channel adapters finished and undestaged slots).
 */
export function markFinished(system: Int32Array, id: number): boolean {
  const bit = 1 << (id & 31);
  return (Atomics.or(system, SystemWord.FINISHED_MASK + (id >> 5), bit) & bit) === 0;
}

/** Power-on after an orderly power-off: running again, no processor finished. */
export function powerOnAgain(system: Int32Array): void {
  for (let w = 0; w < FINISHED_MASK_WORDS; w++) Atomics.store(system, SystemWord.FINISHED_MASK + w, 0);
  Atomics.store(system, SystemWord.CHANNEL_ADAPTERS_FINISHED, 0);
  Atomics.store(system, SystemWord.RUN_STATE, RunState.RUNNING);
}

export interface Geometry {
  processors: number;
  slotCount: number;
  sectorsPerSlot: number;
  bucketCount: number;
  lockCount: number;
  mailboxBytes: number;
  tasksPerProcessor: number;
  /** Index of the first remote-copy service task of a processor (after the host-command tasks). */
  serviceTaskBase: number;
  /** Index of the first journal-read-reception task (one per link). */
  receptionTaskBase: number;
  /** Bytes of one of a group's two staging buffers. */
  stagingBytes: number;
  /** Index of the first mirror service task (one per mirror pair number, after the remote-copy tasks). */
  mirrorTaskBase: number;
}

/** Lock numbering: one table, contiguous ranges. */
export interface LockMap {
  cacheList: number;
  bucketBase: number;
  slotBase: number;
  groupBase: number;
  maintenance: number;
}

export function geometryOf(config: SystemConfig): Geometry {
  const slotCount = config.cacheBytes / config.slotBytes;
  let bucketCount = 1;
  while (bucketCount < slotCount * 2) bucketCount *= 2;
  const processors = processorCount(config);
  return {
    processors,
    slotCount,
    sectorsPerSlot: config.slotBytes / 512,
    bucketCount,
    lockCount: 1 + bucketCount + slotCount + (config.groupsMax + 1) + 1,
    mailboxBytes: Math.ceil(Mailbox.bytesFor(config.mailboxCapacity) / 64) * 64,
    tasksPerProcessor: config.hostQueueDepth + (config.groupsMax + 1) * GROUP_SERVICE_TASKS + LINKS_MAX + 1 + mirrorGeometryOf(config).pairsMax,
    serviceTaskBase: config.hostQueueDepth,
    receptionTaskBase: config.hostQueueDepth + (config.groupsMax + 1) * GROUP_SERVICE_TASKS,
    stagingBytes: config.journalBatchBytes,
    mirrorTaskBase: config.hostQueueDepth + (config.groupsMax + 1) * GROUP_SERVICE_TASKS + LINKS_MAX + 1,
  };
}

export function lockMapOf(g: Geometry): LockMap {
  const bucketBase = 1;
  const slotBase = bucketBase + g.bucketCount;
  const groupBase = slotBase + g.slotCount;
  return { cacheList: 0, bucketBase, slotBase, groupBase, maintenance: g.lockCount - 1 };
}

export function regionSpecs(config: SystemConfig): RegionSpec[] {
  const g = geometryOf(config);
  const table = (id: number, name: string, recordBytes: number, recordCount: number): RegionSpec =>
    ({ id, name, recordBytes, recordCount, byteCount: recordBytes * recordCount });
  return [
    table(RegionId.SYSTEM, 'system', SYSTEM_RECORD_BYTES, 1),
    table(RegionId.VOLUMES, 'volumes', VOLUME_INFO.size, config.volumesMax + 1),
    table(RegionId.PAIRS, 'pairs', PAIR_INFO.size, config.pairsMax + 1),
    table(RegionId.GROUPS, 'groups', GROUP_INFO.size, config.groupsMax + 1),
    table(RegionId.POINTERS, 'pointers', POINTER_INFO.size, (config.groupsMax + 1) * config.readersMax),
    table(RegionId.CACHE_CONTROL, 'cache-ctl', CACHE_CONTROL_BYTES, 1),
    table(RegionId.SLOTS, 'slots', CACHE_SLOT_HEADER.size, g.slotCount),
    table(RegionId.DIRECTORY, 'directory', DIRECTORY_BUCKET_BYTES, g.bucketCount),
    table(RegionId.LOCKS, 'locks', LockTable.RECORD_BYTES, g.lockCount),
    table(RegionId.MAILBOXES, 'mailboxes', g.mailboxBytes, g.processors),
    table(RegionId.DOORBELLS, 'doorbells', 64, g.processors),
    table(RegionId.STATISTICS, 'statistics', STAT_BLOCK_BYTES, g.processors),
    table(RegionId.TASKS, 'tasks', TASK_RECORD.size, g.processors * g.tasksPerProcessor),
    table(RegionId.SCRATCH, 'scratch', TASK_SCRATCH_BYTES, g.processors * g.tasksPerProcessor),
    table(RegionId.BITMAPS, 'bitmaps', BITMAP_BYTES, config.volumesMax + 1),
    table(RegionId.STAGING, 'staging', g.stagingBytes * (config.readWindowMax + 1), config.groupsMax + 1),
    table(RegionId.BATCHES, 'batches', SENT_BATCHES_BYTES, (config.groupsMax + 1) * config.readersMax),
    table(RegionId.WINDOWS, 'windows', READ_WINDOW_ENTRY_BYTES * config.readWindowMax, config.groupsMax + 1),
    table(RegionId.MIRRORS, 'mirrors', MIRROR_INFO.size + 2 * mirrorGeometryOf(config).bitmapBytes, mirrorGeometryOf(config).pairsMax + 1),
  ];
}

export function planControlMemory(config: SystemConfig): { regions: Region[]; totalBytes: number } {
  return planRegions(regionSpecs(config));
}

/** Views over one storage system's control memory and cache memory. Attach-only. */
export class ControlMemory {
  readonly geometry: Geometry;
  readonly lockMap: LockMap;
  readonly regions: ReadonlyMap<number, Region>;
  readonly system: Int32Array;
  readonly volumes: VolumeTable;
  readonly pairs: PairTable;
  readonly groups: GroupTable;
  readonly pointers: PointerTable;
  readonly cacheControl: Int32Array;
  readonly slotHeaders: Int32Array;
  readonly directory: Int32Array;
  readonly locks: LockTable;
  readonly mailboxes: Mailbox[];
  readonly doorbells: Doorbells;
  readonly statistics: Float64Array;
  readonly tasks: Int32Array;
  readonly taskFloats: Float64Array;
  readonly scratch: Int32Array;
  readonly scratchBytes: Uint8Array;
  readonly scratchView: DataView;
  readonly bitmaps: Int32Array;
  readonly staging: Int32Array;
  /** Per pointer set: the batches sent and not yet released. */
  readonly batches: DataView;
  /** Per secondary group: journal reads in flight and batches waiting to be stored. */
  readonly window: ReadWindow;
  /** Local mirror pairs (seed 004) with their update bitmaps. */
  readonly mirrors: MirrorTable;
  readonly stagingBytes: Uint8Array;
  readonly stagingView: DataView;
  /** Cache memory 130: slot data. */
  readonly cacheBytes: Uint8Array;
  readonly cacheWords: Int32Array;

  constructor(
    readonly config: SystemConfig,
    readonly controlBuffer: SharedArrayBuffer,
    readonly cacheBuffer: SharedArrayBuffer,
    options: { singleThreaded: boolean; ownerId: number },
  ) {
    this.geometry = geometryOf(config);
    this.lockMap = lockMapOf(this.geometry);
    const plan = planControlMemory(config);
    assert(controlBuffer.byteLength >= plan.totalBytes, `control memory of ${controlBuffer.byteLength} bytes is smaller than the layout's ${plan.totalBytes}`);
    assert(cacheBuffer.byteLength === config.cacheBytes, `cache memory of ${cacheBuffer.byteLength} bytes, configuration says ${config.cacheBytes}`);
    const map = new Map<number, Region>();
    for (const r of plan.regions) map.set(r.id, r);
    this.regions = map;
    const r = (id: number): Region => {
      const region = map.get(id);
      assert(region, `region ${id} missing from the layout`);
      return region;
    };
    this.system = new Int32Array(controlBuffer, r(RegionId.SYSTEM).byteOffset, SYSTEM_RECORD_BYTES / 4);
    this.volumes = new VolumeTable(controlBuffer, r(RegionId.VOLUMES).byteOffset, r(RegionId.VOLUMES).recordCount);
    this.pairs = new PairTable(controlBuffer, r(RegionId.PAIRS).byteOffset, r(RegionId.PAIRS).recordCount);
    this.groups = new GroupTable(controlBuffer, r(RegionId.GROUPS).byteOffset, r(RegionId.GROUPS).recordCount);
    this.pointers = new PointerTable(controlBuffer, r(RegionId.POINTERS).byteOffset, r(RegionId.POINTERS).recordCount);
    this.cacheControl = new Int32Array(controlBuffer, r(RegionId.CACHE_CONTROL).byteOffset, CACHE_CONTROL_BYTES / 4);
    this.slotHeaders = new Int32Array(controlBuffer, r(RegionId.SLOTS).byteOffset, r(RegionId.SLOTS).byteCount / 4);
    this.directory = new Int32Array(controlBuffer, r(RegionId.DIRECTORY).byteOffset, r(RegionId.DIRECTORY).recordCount);
    this.locks = new LockTable(controlBuffer, r(RegionId.LOCKS).byteOffset, this.geometry.lockCount, options);
    this.mailboxes = [];
    for (let p = 0; p < this.geometry.processors; p++) {
      this.mailboxes.push(new Mailbox(controlBuffer, r(RegionId.MAILBOXES).byteOffset + p * this.geometry.mailboxBytes, config.mailboxCapacity));
    }
    this.doorbells = new Doorbells(controlBuffer, r(RegionId.DOORBELLS).byteOffset, this.geometry.processors);
    this.statistics = new Float64Array(controlBuffer, r(RegionId.STATISTICS).byteOffset, r(RegionId.STATISTICS).byteCount / 8);
    this.tasks = new Int32Array(controlBuffer, r(RegionId.TASKS).byteOffset, r(RegionId.TASKS).byteCount / 4);
    this.taskFloats = new Float64Array(controlBuffer, r(RegionId.TASKS).byteOffset, r(RegionId.TASKS).byteCount / 8);
    const scratch = r(RegionId.SCRATCH);
    this.scratch = new Int32Array(controlBuffer, scratch.byteOffset, scratch.byteCount / 4);
    this.scratchBytes = new Uint8Array(controlBuffer, scratch.byteOffset, scratch.byteCount);
    this.scratchView = new DataView(controlBuffer, scratch.byteOffset, scratch.byteCount);
    this.bitmaps = new Int32Array(controlBuffer, r(RegionId.BITMAPS).byteOffset, r(RegionId.BITMAPS).byteCount / 4);
    this.batches = new DataView(controlBuffer, r(RegionId.BATCHES).byteOffset, r(RegionId.BATCHES).byteCount);
    this.mirrors = new MirrorTable(controlBuffer, r(RegionId.MIRRORS).byteOffset, r(RegionId.MIRRORS).recordCount, mirrorGeometryOf(config).bitmapBytes);
    this.window = new ReadWindow(new DataView(controlBuffer, r(RegionId.WINDOWS).byteOffset, r(RegionId.WINDOWS).byteCount), config.readWindowMax);
    const staging = r(RegionId.STAGING);
    this.staging = new Int32Array(controlBuffer, staging.byteOffset, staging.byteCount / 4);
    this.stagingBytes = new Uint8Array(controlBuffer, staging.byteOffset, staging.byteCount);
    this.stagingView = new DataView(controlBuffer, staging.byteOffset, staging.byteCount);
    this.cacheBytes = new Uint8Array(cacheBuffer);
    this.cacheWords = new Int32Array(cacheBuffer);
  }

  /** Checks that the image header describes exactly this layout (a processor attaching to memory it did not format). */
  verifyHeader(): void {
    const table = readRegionTable(this.controlBuffer);
    const plan = planControlMemory(this.config);
    assert(table.systemNumber === this.config.systemNumber, `control memory belongs to system ${table.systemNumber}, configuration says ${this.config.systemNumber}`);
    for (const region of table.regions) {
      const mine = this.regions.get(region.id);
      assert(mine && mine.byteOffset === region.byteOffset && mine.byteCount === region.byteCount && mine.recordBytes === region.recordBytes,
        `region '${region.name}' in the image header does not match the layout computed from the configuration`);
    }
    assert(table.regions.length === this.regions.size && table.totalBytes === plan.totalBytes,
      `control memory header lists ${table.regions.length} regions in ${table.totalBytes} bytes; the configuration's layout has ${this.regions.size} in ${plan.totalBytes}`);

  }

  /** Byte offset (within the staging region) of the batch buffer of a group's read window slot. */
  stagingOffset(group: number, slot: number): number {
    assert(slot >= 0 && slot < this.config.readWindowMax, `staging slot ${slot} out of range`);
    return (group * (this.config.readWindowMax + 1) + slot) * this.geometry.stagingBytes;
  }

  /** Byte offset (within the staging region) of a group's restore buffer (after its batch buffers). */
  restoreStagingOffset(group: number): number {
    return (group * (this.config.readWindowMax + 1) + this.config.readWindowMax) * this.geometry.stagingBytes;
  }

  /** Task index (on the processor that runs it) of one of a group's remote-copy services. */
  serviceTask(group: number, service: number): number {
    return this.geometry.serviceTaskBase + group * GROUP_SERVICE_TASKS + service;
  }

  /** Word index of a task record in `tasks`. */
  taskWord(processorId: number, task: number): number {
    return (processorId * this.geometry.tasksPerProcessor + task) * TASK_WORDS;
  }

  /** Byte offset of a task's scratch block in the scratch region. */
  scratchOffset(processorId: number, task: number): number {
    return (processorId * this.geometry.tasksPerProcessor + task) * TASK_SCRATCH_BYTES;
  }

  static allocate(config: SystemConfig): { control: SharedArrayBuffer; cache: SharedArrayBuffer } {
    const plan = planControlMemory(config);
    return { control: new SharedArrayBuffer(plan.totalBytes), cache: new SharedArrayBuffer(config.cacheBytes) };
  }

  /** Writes the header and region table; the caller then formats the tables (boot.ts). */
  writeHeader(): void {
    const plan = planControlMemory(this.config);
    writeRegionTable(this.controlBuffer, this.config.systemNumber, plan.regions, plan.totalBytes);
  }
}
