// System boot: format a storage system's shared memory from a validated configuration, and
// attach a processor (channel or disk adapter) to that memory inside whatever runtime runs it.
//
// formatSystem runs once, before any processor starts. attachProcessor runs in each processor's
// own thread (or, in the deterministic runtime, once per processor in the one thread); it only
// attaches views, checks the image header against the configuration, and builds the processor.

import type { Clock } from '../hal/clock.ts';
import type { Drive } from '../hal/drive.ts';
import { HostPorts } from '../hal/host-port.ts';
import { readRegionTable } from '../hal/shared-memory.ts';
import { Doorbells } from '../hal/doorbell.ts';
import { Cache } from './cache.ts';
import { ChannelAdapter } from './channel-adapter.ts';
import { validateConfig, type SystemConfig } from './config.ts';
import { DiskAdapter } from './disk-adapter.ts';
import { ControlMemory, RegionId, RunState, SYSTEM_BOOT_MS_OFFSET, SYSTEM_RECORD_BYTES, SystemWord } from './layout.ts';
import type { LinkPort, Platform, Processor } from './platform.ts';
import { NO_DRIVE, VolumeState } from './structs/volume-info.ts';
import { stageWaitSlot } from './structs/task.ts';

/** Everything a processor of one storage system shares with the others; structured-cloneable. */
export interface SystemShared {
  config: SystemConfig;
  control: SharedArrayBuffer;
  cache: SharedArrayBuffer;
  host: SharedArrayBuffer;
  /**
   * Other systems whose host ports this one writes to (synchronous pairs, seed 000 embodiment
   * 2): the connection an upstream system has to its primary's target port.
   */
  remotes?: Array<{ system: number; shared: SystemShared }>;
}

/** The host ports of another system, from its shared buffers alone (its doorbells by region name). */
export function attachRemoteHostPorts(remote: SystemShared): HostPorts {
  const region = readRegionTable(remote.control).regions.find((r) => r.name === 'doorbells');
  if (!region) throw new Error(`system ${remote.config.systemNumber}: control memory has no doorbell region`);
  return attachHostPorts(remote, new Doorbells(remote.control, region.byteOffset, region.recordCount));
}

export interface AttachServices {
  processorId: number;
  shared: unknown;
  drives: ReadonlyMap<number, Drive>;
  /** Link endpoints of this system by link number (hal LinkEndpoint objects). */
  links?: ReadonlyMap<number, LinkPort>;
  clock: Clock;
  trace: (line: string) => void;
  singleThreaded: boolean;
}

/** Host port geometry of a configuration: one port per channel adapter. */
export function hostPortGeometry(config: SystemConfig): { portCount: number; queueDepth: number; maxTransferBytes: number } {
  return { portCount: config.channelAdapters, queueDepth: config.hostQueueDepth, maxTransferBytes: config.maxTransferBytes };
}

/** Builds the host ports of a system over its shared buffers (CA doorbells are processors 0..n-1). */
export function attachHostPorts(shared: SystemShared, doorbells: Doorbells): HostPorts {
  const geometry = hostPortGeometry(shared.config);
  return new HostPorts(shared.host, geometry, doorbells, Array.from({ length: geometry.portCount }, (_, i) => i));
}

/** Allocates the shared buffers of a system (not its drives). */
export function allocateSystem(config: SystemConfig): SystemShared {
  validateConfig(config);
  const { control, cache } = ControlMemory.allocate(config);
  const host = new SharedArrayBuffer(HostPorts.bytesFor(hostPortGeometry(config)));
  return { config, control, cache, host };
}

/** Formats every region: tables, cache directory, locks, mailboxes, doorbells, counters, host ports. */
export function formatSystem(shared: SystemShared, nowMs: number): ControlMemory {
  const { config } = shared;
  validateConfig(config);
  const mem = new ControlMemory(config, shared.control, shared.cache, { singleThreaded: true, ownerId: 0xffff });
  new Uint8Array(shared.control).fill(0);
  mem.writeHeader();
  mem.locks.format();
  for (const mailbox of mem.mailboxes) mailbox.format();
  mem.doorbells.format();
  new Cache(mem).format();
  for (const v of config.volumes) {
    mem.volumes.define(v.number, v.format ?? 'OPEN', v.capacityBlocks, v.virtual ? NO_DRIVE : v.drive, v.virtual ? 0 : v.startBlock, v.state === 'unused' ? VolumeState.UNUSED : VolumeState.NORMAL);
  }
  attachHostPorts(shared, mem.doorbells).format();
  new DataView(shared.control, mem.regions.get(RegionId.SYSTEM)!.byteOffset, SYSTEM_RECORD_BYTES).setFloat64(SYSTEM_BOOT_MS_OFFSET, nowMs, true);
  Atomics.store(mem.system, SystemWord.RUN_STATE, RunState.RUNNING);
  return mem;
}

/** Builds processor `processorId` of the system over shared memory formatted by formatSystem. */
export function attachProcessor(services: AttachServices): Processor {
  const shared = services.shared as SystemShared;
  const mem = new ControlMemory(shared.config, shared.control, shared.cache, { singleThreaded: services.singleThreaded, ownerId: services.processorId });
  mem.verifyHeader();
  const platform: Platform = {
    processorId: services.processorId,
    mem,
    hostPorts: attachHostPorts(shared, mem.doorbells),
    drives: services.drives,
    links: services.links ?? new Map(),
    remotePorts: new Map((shared.remotes ?? []).map((r) => [r.system, attachRemoteHostPorts(r.shared)] as const)),
    clock: services.clock,
    trace: services.trace,
  };
  Atomics.add(mem.system, SystemWord.STARTED, 1);
  return services.processorId < shared.config.channelAdapters ? new ChannelAdapter(platform) : new DiskAdapter(platform);
}

/**
 * Power-on after a power loss, before any processor starts. Control memory and cache are
 * battery-backed and kept everything, but the processors stopped wherever they were: a disk
 * adapter may have stopped inside a drive operation, holding slot locks and pins for that one
 * loop iteration. None runs now, so every lock is freed and each slot's pin count is set to the
 * tasks that wait for its stage — the only pins held from one iteration to the next. Dirty slots
 * stay dirty, and a slot destaged since its drive's last flush (UNFLUSHED) is made dirty again,
 * so whatever the drives lost is destaged again. Returns what it corrected.
 */
export function recoverAfterPowerLoss(mem: ControlMemory): { locksFreed: number; pinsCorrected: number; slotsRedirtied: number } {
  const locksFreed = mem.locks.releaseAll();
  const cache = new Cache(mem);
  const pins = new Int32Array(cache.slotCount);
  const perProcessor = mem.geometry.tasksPerProcessor;
  for (let task = 0; task < mem.geometry.processors * perProcessor; task++) {
    const slot = stageWaitSlot(mem.tasks, task);
    if (slot >= 0 && slot < cache.slotCount) pins[slot]!++;
  }
  let pinsCorrected = 0;
  let slotsRedirtied = 0;
  for (let s = 0; s < cache.slotCount; s++) {
    if (cache.isUnflushed(s)) {
      cache.redirtyUnflushed(s);
      slotsRedirtied++;
    }
    if (cache.pinCount(s) === pins[s]) continue;
    cache.setPinCount(s, pins[s]!);
    pinsCorrected++;
  }
  return { locksFreed, pinsCorrected, slotsRedirtied };
}

/** Asks every processor to finish: channel adapters drain, disk adapters destage and flush. */
export function requestPowerOff(mem: ControlMemory): void {
  Atomics.store(mem.system, SystemWord.RUN_STATE, RunState.STOPPING);
  for (let p = 0; p < mem.geometry.processors; p++) mem.doorbells.ring(p);
}
