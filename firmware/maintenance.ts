// Maintenance port (the seeds' maintenance terminal, 保守端末): define and inspect volumes, read
// any control block, read the statistics. Every command returns a result with a status and a
// reason; a refused command changes nothing. Tests and the operator tools reach the firmware
// only through this port and the host port.
//
// The port runs in the caller's thread against shared memory, like a service processor wired
// to shared memory 140; changes to the tables are made under the maintenance lock.

import { Cache } from './cache.ts';
import { MirrorCommands } from './mirror-commands.ts';
import { BLOCK_BYTES } from './config.ts';
import type { ControlMemory } from './layout.ts';
import { RegionId, RunState, SYSTEM_BOOT_MS_OFFSET, SystemWord, markFinished } from './layout.ts';
import { CACHE_SLOT_HEADER, CacheControlWord } from './structs/cache-slot.ts';
import { GROUP_STATE_NAME } from './structs/group-info.ts';
import { PAIR_STATE_NAME } from './structs/pair-info.ts';
import { STAT_COUNTERS_PER_PROCESSOR, STAT_NAMES } from './structs/statistics.ts';
import { decodeRecord, type DecodedValue } from './structs/struct.ts';
import { TASK_RECORD, TASK_WAIT_NAME, TASK_WORDS, TaskState, TaskWord, namesVolume } from './structs/task.ts';
import { NO_DRIVE, VOLUME_FLAG_JOURNAL, VOLUME_STATE_NAME, VolumeState } from './structs/volume-info.ts';

export type MaintStatus = 'ok' | 'rejected';

export interface MaintResult<T = undefined> {
  status: MaintStatus;
  /** Why a command was rejected; 'ok' otherwise. */
  reason: string;
  data?: T;
}

export interface VolumeView {
  number: number;
  state: string;
  format: string;
  capacityBlocks: number;
  capacityBytes: number;
  pairNumber: number;
  drive: number | null;
  driveStartBlock: number;
  journal: boolean;
}

export interface LockSummary {
  acquisitions: number;
  contended: number;
  spins: number;
  sleeps: number;
}

export interface StatisticsView {
  totals: Record<string, number>;
  perProcessor: Array<{ processorId: number; kind: string; counters: Record<string, number> }>;
  cache: { slots: number; usedSlots: number; dirtySlots: number; slotBytes: number };
  locks: { cacheList: LockSummary; buckets: LockSummary; slots: LockSummary; groups: LockSummary };
}

export type ControlBlockKind = 'system' | 'volume' | 'pair' | 'group' | 'pointer' | 'slot' | 'task' | 'lock' | 'mirror';

const ok = <T>(data?: T): MaintResult<T> => (data === undefined ? { status: 'ok', reason: 'ok' } : { status: 'ok', reason: 'ok', data });
const rejected = <T = undefined>(reason: string): MaintResult<T> => ({ status: 'rejected', reason });

export class MaintenancePort {
  private readonly cache: Cache;
  private readonly statsOut = new Float64Array(4);
  /** The local mirror pair commands (seed 004): create, form, split, resync, delete, status. */
  readonly mirror: MirrorCommands;

  constructor(readonly mem: ControlMemory) {
    this.cache = new Cache(mem);
    this.mirror = new MirrorCommands(mem, (body) => this.locked(body), (volume) => this.commandsInProgress(volume));
  }

  volume(number: number): MaintResult<VolumeView> {
    const { volumes } = this.mem;
    if (!volumes.exists(number)) return rejected(`volume ${number} is outside 1..${volumes.count - 1}`);
    if (volumes.number(number) === 0) return rejected(`volume ${number} is not defined`);
    return ok(this.volumeView(number));
  }

  /** Every defined volume, unused ones included. */
  listVolumes(): MaintResult<VolumeView[]> {
    const out: VolumeView[] = [];
    for (let v = 1; v < this.mem.volumes.count; v++) if (this.mem.volumes.number(v) !== 0) out.push(this.volumeView(v));
    return ok(out);
  }

  /** Defines a volume on free space of a drive; the volume starts normal (正常). */
  defineVolume(spec: { number: number; capacityBlocks: number; drive: number; startBlock: number; format?: string }): MaintResult<VolumeView> {
    const { volumes, config } = this.mem;
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) return rejected('the volume definition must be an object');
    const { number, capacityBlocks, drive, startBlock } = spec;
    const format = spec.format ?? 'OPEN';
    if (!volumes.exists(number)) return rejected(`volume ${number} is outside 1..${volumes.count - 1}`);
    if (!Number.isInteger(capacityBlocks) || capacityBlocks < 1 || capacityBlocks > 2 ** 31 - 1) return rejected(`capacity ${capacityBlocks} blocks must be an integer 1..2^31-1`);
    if (typeof format !== 'string' || format.length > 8 || !/^[\x20-\x7e]*$/.test(format)) return rejected(`format '${String(format)}' must be printable ASCII of at most 8 characters`);
    const driveConfig = config.drives.find((d) => d.number === drive);
    if (!driveConfig) return rejected(`drive ${drive} does not exist`);
    if (!Number.isInteger(startBlock) || startBlock < 0 || startBlock + capacityBlocks > driveConfig.blockCount) {
      return rejected(`blocks ${startBlock}..${startBlock + capacityBlocks - 1} do not fit on drive ${drive} of ${driveConfig.blockCount} blocks`);
    }
    return this.locked(() => {
      if (volumes.number(number) !== 0 && volumes.state(number) !== VolumeState.UNUSED) {
        return rejected(`volume ${number} is already defined and ${VOLUME_STATE_NAME[volumes.state(number)]}`);
      }
      for (let v = 1; v < volumes.count; v++) {
        if (v === number || volumes.number(v) === 0 || volumes.driveNumber(v) !== drive) continue;
        const from = volumes.driveStartBlock(v);
        if (startBlock < from + volumes.capacityBlocks(v) && from < startBlock + capacityBlocks) return rejected(`blocks overlap volume ${v} on drive ${drive}`);
      }
      if (this.commandsInProgress(number) > 0 || this.pinnedSlotsOf(number) > 0) return rejected(`volume ${number} has commands in progress; retry when they have completed`);
      if (this.cachedSlotsOf(number, true) > 0) return rejected(`volume ${number} still has dirty data in cache`);
      if (!this.dropCleanSlots(number)) return rejected(`volume ${number} has commands in progress; retry when they have completed`);
      volumes.define(number, format, capacityBlocks, drive, startBlock, VolumeState.NORMAL);
      return ok(this.volumeView(number));
    });
  }

  /** Takes a normal volume out of use (正常 -> 未使用) once its dirty data is on the drive. */
  deleteVolume(number: number): MaintResult {
    const { volumes } = this.mem;
    if (!volumes.exists(number) || volumes.number(number) === 0) return rejected(`volume ${number} is not defined`);
    return this.locked(() => {
      const state = volumes.state(number);
      if (state === VolumeState.UNUSED) return rejected(`volume ${number} is already unused`);
      if (state === VolumeState.PRIMARY || state === VolumeState.SECONDARY) return rejected(`volume ${number} is a ${VOLUME_STATE_NAME[state]} volume of pair ${volumes.pairNumber(number)}; delete the pair first`);
      if ((volumes.flags(number) & VOLUME_FLAG_JOURNAL) !== 0) return rejected(`volume ${number} is the journal volume of group ${volumes.groupNumber(number)}`);
      if (volumes.mirrorNumber(number) !== 0) return rejected(`volume ${number} belongs to mirror pair ${volumes.mirrorNumber(number)}; delete the mirror pair first`);
      if (this.commandsInProgress(number) > 0 || this.pinnedSlotsOf(number) > 0) return rejected(`volume ${number} has commands in progress; retry when they have completed`);
      if (this.cachedSlotsOf(number, true) > 0) return rejected(`volume ${number} has dirty data in cache not yet destaged; retry after destage`);
      if (!this.dropCleanSlots(number)) return rejected(`volume ${number} has commands in progress; retry when they have completed`);
      volumes.setState(number, VolumeState.UNUSED);
      volumes.bumpGeneration(number);
      return ok();
    });
  }

  /** Reads one record of any control block, decoded field by field. */
  readControlBlock(kind: ControlBlockKind, index: number): MaintResult<Record<string, DecodedValue>> {
    const { mem } = this;
    const inRange = (count: number): boolean => Number.isInteger(index) && index >= 0 && index < count;
    switch (kind) {
      case 'system': {
        const view = new DataView(mem.controlBuffer, mem.regions.get(RegionId.SYSTEM)!.byteOffset, 64);
        return ok({
          run_state: ['booting', 'running', 'stopping', 'stopped'][view.getInt32(0, true)] ?? 'unknown',
          processors_started: view.getInt32(4, true),
          processors_finished: view.getInt32(8, true),
          failed_processor: view.getInt32(12, true) - 1,
          channel_adapters_finished: view.getInt32(16, true),
          undestaged_slots: view.getInt32(20, true),
          boot_ms: view.getFloat64(SYSTEM_BOOT_MS_OFFSET, true),
        });
      }
      case 'volume': return inRange(mem.volumes.count) ? ok(mem.volumes.decode(index)) : rejected(`volume record ${index} is outside 0..${mem.volumes.count - 1}`);
      case 'pair': return inRange(mem.pairs.count) ? ok(mem.pairs.decode(index)) : rejected(`pair record ${index} is outside 0..${mem.pairs.count - 1}`);
      case 'group': return inRange(mem.groups.count) ? ok(mem.groups.decode(index)) : rejected(`group record ${index} is outside 0..${mem.groups.count - 1}`);
      case 'pointer': return inRange(mem.pointers.count) ? ok(mem.pointers.decode(index)) : rejected(`pointer set ${index} is outside 0..${mem.pointers.count - 1}`);
      case 'mirror': return inRange(mem.mirrors.count) ? ok(mem.mirrors.decode(index)) : rejected(`mirror pair record ${index} is outside 0..${mem.mirrors.count - 1}`);
      case 'slot': {
        if (!inRange(mem.geometry.slotCount)) return rejected(`cache slot ${index} is outside 0..${mem.geometry.slotCount - 1}`);
        const view = new DataView(mem.controlBuffer, mem.regions.get(RegionId.SLOTS)!.byteOffset, mem.regions.get(RegionId.SLOTS)!.byteCount);
        const record = decodeRecord(CACHE_SLOT_HEADER, view, index * CACHE_SLOT_HEADER.size);
        const words = (offset: number): number[] => [0, 1, 2, 3].map((i) => view.getUint32(index * CACHE_SLOT_HEADER.size + offset + i * 4, true));
        record.valid = words(CACHE_SLOT_HEADER.offsets.valid);
        record.dirty = words(CACHE_SLOT_HEADER.offsets.dirty);
        return ok(record);
      }
      case 'task': {
        const count = mem.geometry.processors * mem.geometry.tasksPerProcessor;
        if (!inRange(count)) return rejected(`task record ${index} is outside 0..${count - 1}`);
        const view = new DataView(mem.controlBuffer, mem.regions.get(RegionId.TASKS)!.byteOffset, mem.regions.get(RegionId.TASKS)!.byteCount);
        const record = decodeRecord(TASK_RECORD, view, index * TASK_RECORD.size);
        record.wait_name = TASK_WAIT_NAME[record.wait as number] ?? 'unknown';
        return ok(record);
      }
      case 'lock': {
        if (!inRange(mem.geometry.lockCount)) return rejected(`lock ${index} is outside 0..${mem.geometry.lockCount - 1}`);
        const s = mem.locks.statsObject(index);
        return ok({ locked: mem.locks.isLocked(index) ? 1 : 0, owner: mem.locks.ownerOf(index), ...s });
      }
      default:
        return rejected(`unknown control block '${String(kind)}'; expected system, volume, pair, group, pointer, slot, task, lock or mirror`);
    }
  }

  statistics(): MaintResult<StatisticsView> {
    const { mem } = this;
    const totals: Record<string, number> = {};
    for (const name of STAT_NAMES) totals[name] = 0;
    const perProcessor: StatisticsView['perProcessor'] = [];
    for (let p = 0; p < mem.geometry.processors; p++) {
      const counters: Record<string, number> = {};
      STAT_NAMES.forEach((name, i) => {
        const value = mem.statistics[p * STAT_COUNTERS_PER_PROCESSOR + i]!;
        counters[name] = value;
        totals[name]! += value;
      });
      perProcessor.push({ processorId: p, kind: p < mem.config.channelAdapters ? 'channel-adapter' : 'disk-adapter', counters });
    }
    const { lockMap, geometry } = mem;
    return ok({
      totals,
      perProcessor,
      cache: {
        slots: geometry.slotCount,
        usedSlots: mem.cacheControl[CacheControlWord.USED_SLOTS]!,
        dirtySlots: Atomics.load(mem.cacheControl, CacheControlWord.DIRTY_SLOTS),
        slotBytes: mem.config.slotBytes,
      },
      locks: {
        cacheList: this.sumLocks(lockMap.cacheList, 1),
        buckets: this.sumLocks(lockMap.bucketBase, geometry.bucketCount),
        slots: this.sumLocks(lockMap.slotBase, geometry.slotCount),
        groups: this.sumLocks(lockMap.groupBase, mem.config.groupsMax + 1),
      },
    });
  }

  /** Run state of the system: 'running', 'stopping', ... */
  runState(): string {
    return ['booting', 'running', 'stopping', 'stopped'][Atomics.load(this.mem.system, SystemWord.RUN_STATE)] ?? 'unknown';
  }

  /** Marks the system stopped once every processor has finished (called by the runtime owner). */
  markStopped(): void {
    Atomics.store(this.mem.system, SystemWord.RUN_STATE, RunState.STOPPED);
  }

  /**
   * Records a processor that failed (threw); the system keeps running without it. A failed
   * channel adapter counts as finished for power-off, which otherwise would wait for it forever.
   */
  recordProcessorFailure(processorId: number): void {
    Atomics.compareExchange(this.mem.system, SystemWord.FAILED_PROCESSOR, 0, processorId + 1);
    if (processorId < this.mem.config.channelAdapters && markFinished(this.mem.system, processorId)) {
      Atomics.add(this.mem.system, SystemWord.CHANNEL_ADAPTERS_FINISHED, 1);
      for (let p = this.mem.config.channelAdapters; p < this.mem.geometry.processors; p++) this.mem.doorbells.ring(p);
    }
  }

  groupStateName(code: number): string { return GROUP_STATE_NAME[code] ?? `state ${code}`; }
  pairStateName(code: number): string { return PAIR_STATE_NAME[code] ?? `state ${code}`; }

  private volumeView(v: number): VolumeView {
    const { volumes } = this.mem;
    const drive = volumes.driveNumber(v);
    return {
      number: v,
      state: VOLUME_STATE_NAME[volumes.state(v)] ?? 'unknown',
      format: volumes.format(v),
      capacityBlocks: volumes.capacityBlocks(v),
      capacityBytes: volumes.capacityBlocks(v) * BLOCK_BYTES,
      pairNumber: volumes.pairNumber(v),
      drive: drive === NO_DRIVE ? null : drive,
      driveStartBlock: volumes.driveStartBlock(v),
      journal: (volumes.flags(v) & VOLUME_FLAG_JOURNAL) !== 0,
    };
  }

  private sumLocks(first: number, count: number): LockSummary {
    const sum: LockSummary = { acquisitions: 0, contended: 0, spins: 0, sleeps: 0 };
    for (let i = first; i < first + count; i++) {
      this.mem.locks.stats(i, this.statsOut);
      sum.acquisitions += this.statsOut[0]!;
      sum.contended += this.statsOut[1]!;
      sum.spins += this.statsOut[2]!;
      sum.sleeps += this.statsOut[3]!;
    }
    return sum;
  }

  /** Host commands started for the volume and not yet completed, on every channel adapter. */
  private commandsInProgress(volume: number): number {
    const { tasks, geometry } = this.mem;
    let n = 0;
    for (let task = 0; task < geometry.processors * geometry.tasksPerProcessor; task++) {
      const t = task * TASK_WORDS;
      if (tasks[t + TaskWord.STATE] !== TaskState.FREE && namesVolume(tasks[t + TaskWord.KIND]!) && tasks[t + TaskWord.VOLUME] === volume) n++;
    }
    return n;
  }

  private pinnedSlotsOf(volume: number): number {
    let n = 0;
    for (let s = 0; s < this.cache.slotCount; s++) if (this.cache.volumeOf(s) === volume && this.cache.pinCount(s) > 0) n++;
    return n;
  }

  /** Cache slots holding the volume; when `dirtyOnly`, only those not yet durable on its drive (dirty, or destaged and not flushed). */
  private cachedSlotsOf(volume: number, dirtyOnly: boolean): number {
    let n = 0;
    for (let s = 0; s < this.cache.slotCount; s++) {
      if (this.cache.volumeOf(s) === volume && (!dirtyOnly || this.cache.isHeld(s))) n++;
    }
    return n;
  }

  /** Drops the volume's clean, unpinned slots so a redefined volume never reads stale cache. */
  private dropCleanSlots(volume: number): boolean {
    let all = true;
    for (let s = 0; s < this.cache.slotCount; s++) {
      if (this.cache.volumeOf(s) === volume && !this.cache.discard(s)) all = false;
    }
    return all;
  }

  private locked<T>(body: () => MaintResult<T>): MaintResult<T> {
    const lock = this.mem.lockMap.maintenance;
    this.mem.locks.lock(lock);
    try {
      return body();
    } finally {
      this.mem.locks.unlock(lock);
    }
  }
}
