// Test harness: one storage system's shared memory, freshly formatted, with its processors
// attached in this thread and NOT running — each test steps the processor it is testing by
// hand, so it can look at every table between steps. Drives are memory drives wrapped in
// fault-injecting drives.

import { VirtualClock } from '../../hal/clock.ts';
import type { Drive } from '../../hal/drive.ts';
import { FaultControl, FaultyDrive } from '../../hal/faulty-drive.ts';
import { HostOp, type CommandResult, type HostPorts } from '../../hal/host-port.ts';
import { MemoryDrive } from '../../hal/memory-drive.ts';
import { allocateSystem, attachHostPorts, attachProcessor, formatSystem, type SystemShared } from '../../firmware/boot.ts';
import { Cache } from '../../firmware/cache.ts';
import type { ChannelAdapter } from '../../firmware/channel-adapter.ts';
import { DEFAULT_CONFIG, type SystemConfig } from '../../firmware/config.ts';
import type { DiskAdapter } from '../../firmware/disk-adapter.ts';
import type { ControlMemory } from '../../firmware/layout.ts';
import { MaintenancePort } from '../../firmware/maintenance.ts';
import { CopyCommands } from '../../firmware/copy-commands.ts';
import { LinkBuffer, LinkEndpoint } from '../../hal/link.ts';

/** A small system: 2 CAs, 1 DA, 16 cache slots of 4 KiB (8 sectors), 3 volumes of 64 blocks... */
export function smallConfig(overrides: Partial<SystemConfig> = {}): SystemConfig {
  return {
    ...DEFAULT_CONFIG,
    channelAdapters: 2,
    diskAdapters: 1,
    cacheBytes: 16 * 4096,
    slotBytes: 4096,
    hostQueueDepth: 4,
    maxTransferBytes: 16 * 1024,
    mailboxCapacity: 16,
    destageBatchSlots: 4,
    drives: [
      { number: 0, kind: 'memory', blockCount: 1024 },
      { number: 1, kind: 'memory', blockCount: 1024 },
    ],
    volumes: [
      { number: 1, format: 'OPEN3', capacityBlocks: 256, drive: 0, startBlock: 0 },
      { number: 2, format: 'OPEN3', capacityBlocks: 100, drive: 0, startBlock: 256 },
      { number: 3, format: 'OPEN6', capacityBlocks: 256, drive: 1, startBlock: 0, state: 'unused' },
    ],
    ...overrides,
  };
}

export interface Harness {
  config: SystemConfig;
  shared: SystemShared;
  mem: ControlMemory;
  cache: Cache;
  clock: VirtualClock;
  ports: HostPorts;
  maintenance: MaintenancePort;
  /** Raw memory-drive bytes by drive number (what is "on disk"). */
  driveBytes: Map<number, Uint8Array>;
  faults: Map<number, FaultControl>;
  ca: ChannelAdapter[];
  da: DiskAdapter[];
  trace: string[];
  /** The remote-copy commands of the maintenance port. */
  copy: CopyCommands;
  /** Far ends of the configured links, by link number (the test plays the other system). */
  peers: Map<number, LinkEndpoint>;
  /** Claims a slot on `port`, writes data, submits; returns the slot. */
  submit(port: number, opcode: number, volume: number, lba: number, byteLength: number, data?: Uint8Array): number;
  /** Steps every processor round-robin until the slot completes (bounded), then returns and releases. */
  finish(port: number, slot: number, maxRounds?: number): CommandResult & { data: Uint8Array };
  write(port: number, volume: number, lba: number, data: Uint8Array): CommandResult;
  read(port: number, volume: number, lba: number, byteLength: number): CommandResult & { data: Uint8Array };
  /** Steps every processor once, CAs first; returns total work. */
  round(): number;
}

/**
 * A formatted system whose configured links (overrides.links) are connected to test-owned
 * endpoints: `peers.get(link)` is the far end, on which a test plays the other storage system.
 */
export function freshSystem(overrides: Partial<SystemConfig> = {}): Harness {
  const config = smallConfig(overrides);
  const linkEndpoints = new Map<number, LinkEndpoint>();
  const peers = new Map<number, LinkEndpoint>();
  const shared = allocateSystem(config);
  const clock = new VirtualClock();
  const mem = formatSystem(shared, clock.nowMs());
  const driveBytes = new Map<number, Uint8Array>();
  const faults = new Map<number, FaultControl>();
  const drives = new Map<number, Drive>();
  for (const d of config.drives) {
    const buffer = MemoryDrive.allocate(d.blockCount);
    driveBytes.set(d.number, new Uint8Array(buffer));
    const control = new FaultControl(FaultControl.allocate());
    faults.set(d.number, control);
    drives.set(d.number, new FaultyDrive(new MemoryDrive(buffer, d.blockCount), control));
  }
  const trace: string[] = [];
  for (const link of config.links) {
    const buffer = LinkBuffer.allocate(4 * 1024 * 1024);
    linkEndpoints.set(link.number, new LinkEndpoint(buffer, 0, clock));
    peers.set(link.number, new LinkEndpoint(buffer, 1, clock));
  }
  const processors = Array.from({ length: config.channelAdapters + config.diskAdapters }, (_, processorId) =>
    attachProcessor({ processorId, shared, drives, links: linkEndpoints, clock, trace: (line) => trace.push(line), singleThreaded: true }));
  const ca = processors.filter((p) => p.kind === 'channel-adapter') as ChannelAdapter[];
  const da = processors.filter((p) => p.kind === 'disk-adapter') as DiskAdapter[];
  const ports = attachHostPorts(shared, mem.doorbells);
  const h: Harness = {
    config, shared, mem, cache: new Cache(mem), clock, ports, maintenance: new MaintenancePort(mem), driveBytes, faults, ca, da, trace,
    copy: new CopyCommands(mem, () => clock.nowMs(), (line) => trace.push(line)), peers,
    submit(port, opcode, volume, lba, byteLength, data) {
      const slot = ports.claim(port);
      if (slot < 0) throw new Error(`port ${port} has no free slot`);
      if (data) ports.bytes.set(data, ports.dataOffset(port, slot));
      ports.submit(port, slot, opcode, volume, lba, byteLength, 1, clock.nowMs());
      return slot;
    },
    finish(port, slot, maxRounds = 1000) {
      for (let i = 0; i < maxRounds && !ports.isComplete(port, slot); i++) h.round();
      if (!ports.isComplete(port, slot)) throw new Error(`port ${port} slot ${slot} did not complete in ${maxRounds} rounds`);
      const result = ports.result(port, slot);
      const from = ports.dataOffset(port, slot);
      const data = ports.bytes.slice(from, from + Math.max(0, Math.min(ports.byteLength(port, slot), ports.geometry.maxTransferBytes)));
      ports.release(port, slot);
      return { ...result, data };
    },
    write(port, volume, lba, data) {
      return h.finish(port, h.submit(port, HostOp.WRITE, volume, lba, data.byteLength, data));
    },
    read(port, volume, lba, byteLength) {
      return h.finish(port, h.submit(port, HostOp.READ, volume, lba, byteLength));
    },
    round() {
      let work = 0;
      for (const p of processors) work += p.step();
      clock.advance(0.01);
      return work;
    },
  };
  return h;
}

/** Deterministic test pattern: byte i of block `lba` of volume `volume`, tagged by `seed`. */
export function pattern(byteLength: number, seed: number): Uint8Array {
  const out = new Uint8Array(byteLength);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < byteLength; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * What the firmware would read from `volume` at bytes [byteOffset, +byteLength): a block's valid
 * cache sector if it has one, else its drive bytes. Both offsets are whole blocks.
 */
export function peekVolume(h: Harness, volume: number, byteOffset: number, byteLength: number): Uint8Array {
  const out = new Uint8Array(byteLength);
  const sectorsPerSlot = h.config.slotBytes / 512;
  const drive = h.driveBytes.get(h.mem.volumes.driveNumber(volume))!;
  const start = h.mem.volumes.driveStartBlock(volume);
  for (let done = 0; done < byteLength; done += 512) {
    const block = (byteOffset + done) / 512;
    const slotNumber = Math.floor(block / sectorsPerSlot);
    const sector = block - slotNumber * sectorsPerSlot;
    const s = h.cache.lookup(volume, slotNumber);
    if (s >= 0 && h.cache.isSectorValid(s, sector)) {
      const at = s * h.config.slotBytes + sector * 512;
      out.set(h.mem.cacheBytes.subarray(at, at + 512), done);
    } else {
      out.set(drive.subarray((start + block) * 512, (start + block + 1) * 512), done);
    }
    if (s >= 0) h.cache.unpin(s);
  }
  return out;
}

/**
 * Overwrites `volume`'s bytes at byteOffset behind the firmware's back (fault injection): in the
 * block's valid cache sector if cached, and on the drive. byteOffset need not be block-aligned.
 */
export function pokeVolume(h: Harness, volume: number, byteOffset: number, bytes: Uint8Array): void {
  const sectorsPerSlot = h.config.slotBytes / 512;
  const drive = h.driveBytes.get(h.mem.volumes.driveNumber(volume))!;
  const start = h.mem.volumes.driveStartBlock(volume);
  for (let i = 0; i < bytes.byteLength; i++) {
    const position = byteOffset + i;
    const block = Math.floor(position / 512);
    const slotNumber = Math.floor(block / sectorsPerSlot);
    const sector = block - slotNumber * sectorsPerSlot;
    const s = h.cache.lookup(volume, slotNumber);
    if (s >= 0 && h.cache.isSectorValid(s, sector)) h.mem.cacheBytes[s * h.config.slotBytes + sector * 512 + (position % 512)] = bytes[i]!;
    if (s >= 0) h.cache.unpin(s);
    drive[start * 512 + position] = bytes[i]!;
  }
}

/**
 * A system for remote-copy tests: drives of 2048 blocks; data volumes 1, 2 (drive 0) and 4
 * (drive 1) of 512 blocks (four 128-block tracks of the update bitmap), journal volumes 3
 * (drive 0) and 5 (drive 1) of 256 blocks (16 KiB of update information = 32 records, 112 KiB
 * of write data, with the small system's 16 KiB largest transfer). Four groups and 64 KiB journal
 * batches keep shared memory small, so a test file can build dozens of systems quickly.
 */
export function copySystem(overrides: Partial<SystemConfig> = {}): Harness {
  return freshSystem({
    groupsMax: 4,
    journalBatchBytes: 64 * 1024,
    // A primary pairs only with systems it has a link to (they must be able to read its journal).
    links: [{ number: 1, peerSystem: 2, adapter: 0 }],
    drives: [
      { number: 0, kind: 'memory', blockCount: 2048 },
      { number: 1, kind: 'memory', blockCount: 2048 },
    ],
    volumes: [
      { number: 1, format: 'OPEN3', capacityBlocks: 512, drive: 0, startBlock: 0 },
      { number: 2, format: 'OPEN3', capacityBlocks: 512, drive: 0, startBlock: 512 },
      { number: 3, format: 'OPEN3', capacityBlocks: 256, drive: 0, startBlock: 1024 },
      { number: 4, format: 'OPEN3', capacityBlocks: 512, drive: 1, startBlock: 0 },
      { number: 5, format: 'OPEN3', capacityBlocks: 256, drive: 1, startBlock: 512 },
    ],
    ...overrides,
  });
}

/**
 * A system for tests that play the primary against a secondary: link 1 to system 2 on channel
 * adapter 0, 64 KiB journal batches, 4 KiB largest transfer; data volumes 1 (256 blocks) and 2
 * (100 blocks) on drive 0, journal volume 3 (`journalBlocks`, default 256) on drive 1.
 */
export function secondaryTestSystem(o: { journalBlocks?: number; readWindowMax?: number } = {}): Harness {
  return freshSystem({
    links: [{ number: 1, peerSystem: 2, adapter: 0 }],
    ...(o.readWindowMax !== undefined ? { readWindowMax: o.readWindowMax } : {}),
    journalBatchBytes: 64 * 1024,
    maxTransferBytes: 4096,
    volumes: [
      { number: 1, format: 'OPEN3', capacityBlocks: 256, drive: 0, startBlock: 0 },
      { number: 2, format: 'OPEN3', capacityBlocks: 100, drive: 0, startBlock: 256 },
      { number: 3, format: 'OPEN3', capacityBlocks: o.journalBlocks ?? 256, drive: 1, startBlock: 0 },
    ],
  });
}

/**
 * S900–S930 on a primary through the maintenance commands: creates `group` (link timeout 0, so
 * the watch never suspends on silent readers), pairs each of `primaries` with the same volume
 * number on system 2, registers `journal` and starts copying for `readers` (default [2]).
 * Returns the pair numbers in the order of `primaries`. Throws on any rejection.
 */
export function setupPrimaryGroup(h: Harness, group: number, primaries: number[], journal: number, o: { readers?: number[]; initialCopyBytes?: number; start?: boolean } = {}): number[] {
  const must = <T>(r: { status: string; reason: string; data?: T }): T | undefined => {
    if (r.status !== 'ok') throw new Error(`maintenance command rejected: ${r.reason}`);
    return r.data;
  };
  must(h.copy.createGroup(group, { role: 'primary', linkTimeoutMs: 0, ...(o.initialCopyBytes === undefined ? {} : { initialCopyBytes: o.initialCopyBytes }) }));
  const pairs = primaries.map((v) => must(h.copy.registerPair(group, { primaryVolume: v, secondarySystem: 2, secondaryVolume: v }))!.pair);
  must(h.copy.registerJournalVolume(group, journal));
  if (o.start !== false) must(h.copy.startCopy(group, { readers: o.readers ?? [2] }));
  return pairs;
}

/**
 * What `blocks` blocks of `volume` from `block` hold now, without stepping any processor: a
 * sector valid in cache comes from the cache, any other from the drive. (A lookup pins and
 * touches the slot; it is unpinned again at once.)
 */
export function peek(h: Harness, volume: number, block: number, blocks: number): Uint8Array {
  const out = new Uint8Array(blocks * 512);
  const sectors = h.cache.sectorsPerSlot;
  const drive = h.driveBytes.get(h.mem.volumes.driveNumber(volume))!;
  const start = h.mem.volumes.driveStartBlock(volume);
  for (let i = 0; i < blocks; i++) {
    const b = block + i;
    const s = h.cache.lookup(volume, Math.floor(b / sectors));
    const sector = b % sectors;
    if (s >= 0 && h.cache.isSectorValid(s, sector)) out.set(h.mem.cacheBytes.subarray(h.cache.dataOffset(s) + sector * 512, h.cache.dataOffset(s) + (sector + 1) * 512), i * 512);
    else out.set(drive.subarray((start + b) * 512, (start + b + 1) * 512), i * 512);
    if (s >= 0) h.cache.unpin(s);
  }
  return out;
}
