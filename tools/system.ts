// StorageSystem: boots one storage system from a configuration on a chosen runtime and drive
// back-end, and gives its user the two ports a real controller has — the host port and the
// maintenance port — plus power-off. This is the composition root: the only place that knows
// both the firmware and the hal implementations.
//
//   runtime 'threaded'       one worker thread per processor (the embedded default)
//   runtime 'deterministic'  every processor in this thread, seeded interleaving, virtual time
//   drives                   memory drives (SharedArrayBuffer) or file drives, per configuration

import { VirtualClock } from '../hal/clock.ts';
import type { Drive, DriveDescriptor } from '../hal/drive.ts';
import { DrivePersistence } from '../hal/drive-persistence.ts';
import { openDrive } from '../hal/drives.ts';
import { FaultControl } from '../hal/faulty-drive.ts';
import { MemoryDrive } from '../hal/memory-drive.ts';
import { DeterministicRuntime, type Steppable } from '../hal/runtime/deterministic.ts';
import { PowerFailure } from '../hal/drive-persistence.ts';
import { ThreadedRuntime, type LinkAttachment } from '../hal/runtime/threaded.ts';
import { LinkEndpoint } from '../hal/link.ts';
import { CopyCommands } from '../firmware/copy-commands.ts';
import { allocateSystem, attachHostPorts, attachProcessor, formatSystem, recoverAfterPowerLoss, requestPowerOff, type SystemShared } from '../firmware/boot.ts';
import { validateConfig, type SystemConfig } from '../firmware/config.ts';
import { ControlMemory, SystemWord, powerOnAgain } from '../firmware/layout.ts';
import { MaintenancePort } from '../firmware/maintenance.ts';
import { loadMirrorState, saveMirrorState, type MirrorLoad } from '../firmware/mirror-nv.ts';
import type { Processor } from '../firmware/platform.ts';
import { Reason, ScsiStatus, SenseKey } from '../hal/host-port.ts';
import { HostClient, threadedWaiter, type HostWaiter } from './host-client.ts';

export interface BootOptions {
  runtime: 'threaded' | 'deterministic';
  /** Deterministic runtime to join (several systems can share one); a new one from `seed` otherwise. */
  deterministic?: DeterministicRuntime;
  seed?: number;
  /** Wrap every drive in a FaultyDrive with a FaultControl the caller can reach. */
  faults?: boolean;
  trace?: (line: string) => void;
  /** Reuse these memory-drive buffers (a "reboot" of memory drives); by drive number. */
  memoryDrives?: ReadonlyMap<number, SharedArrayBuffer>;
  /**
   * Give every memory drive a volatile write cache: writes are durable only once flushed, and
   * `persistence(drive).powerLoss(rng)` may tear or lose the rest (file drives are unaffected).
   */
  persistentDrives?: boolean;
  /** Reuse these persistence buffers (with their `memoryDrives`) on a reboot; by drive number. */
  persistenceBuffers?: ReadonlyMap<number, SharedArrayBuffer>;
  /** This system's ends of its links, by link number (see tools/topology.ts). */
  links?: LinkAttachment[];
  /** Systems whose host ports this one writes to (synchronous pairs). */
  remotes?: Array<{ system: number; shared: SystemShared }>;
  /**
   * Threaded runtime only: the module each worker loads instead of firmware/boot.ts, and data
   * for it (structured-cloneable, passed as `shared.entryData`). Benchmarks use it to wrap the
   * firmware's processors with an in-thread load generator (bench/load-entry.ts).
   */
  entry?: { url: URL; data: unknown };
}

export interface PowerOffReport {
  undestagedSlots: number;
  failures: Array<{ processorId: number; error: string }>;
}

const ENTRY_URL = new URL('../firmware/boot.ts', import.meta.url);

export class StorageSystem {
  readonly maintenance: MaintenancePort;
  /** The remote-copy commands of the maintenance port. */
  readonly copy: CopyCommands;
  readonly host: HostClient;
  private powered = true;
  private readonly inspection = new Map<number, Drive>();
  /** The memory drives' persistence buffers (boot with persistentDrives: true), by drive number. */
  readonly persistenceBuffers: ReadonlyMap<number, SharedArrayBuffer>;
  /** What boot found of the non-volatile mirror state (configuration `mirrorNv`), if any. */
  mirrorLoad: MirrorLoad | null = null;
  /** This system's link ends (deterministic runtime): a processor that restarts attaches to them again. */
  private linkAttachments: LinkAttachment[] = [];
  /** Processors that are down (reset, or the power is off), until they start again. */
  private readonly down = new Set<number>();
  /** The deterministic runtime's participant of each processor (it catches a power failure). */
  private readonly participants: Steppable[] = [];
  /** The power is off (power loss or power cycle) until its power-on. */
  private off = false;
  /** An armed power failure (armPowerFailure) that has not struck yet. */
  private powerFailure: { drive: number; downMs: number; onDrives: () => void } | null = null;

  private constructor(
    readonly config: SystemConfig,
    readonly shared: SystemShared,
    readonly mem: ControlMemory,
    readonly driveDescriptors: Array<{ number: number; descriptor: DriveDescriptor }>,
    readonly faultControls: ReadonlyMap<number, FaultControl>,
    readonly memoryDrives: ReadonlyMap<number, SharedArrayBuffer>,
    private readonly persistenceControls: ReadonlyMap<number, DrivePersistence>,
    private readonly threaded: ThreadedRuntime | null,
    readonly deterministic: DeterministicRuntime | null,
    readonly processors: Processor[],
    private readonly localDrives: Drive[],
    readonly failures: Array<{ processorId: number; error: string }>,
    waiter: HostWaiter,
    nowMs: () => number,
    private readonly traceSink: (line: string) => void = () => {},
  ) {
    this.persistenceBuffers = new Map([...persistenceControls].map(([drive, control]) => [drive, control.buffer] as const));
    this.maintenance = new MaintenancePort(mem);
    this.copy = new CopyCommands(mem, nowMs, this.traceSink);
    this.host = new HostClient(attachHostPorts(shared, mem.doorbells), waiter, nowMs);
  }

  static async boot(config: SystemConfig, options: BootOptions): Promise<StorageSystem> {
    validateConfig(config);
    const trace = options.trace ?? (() => {});
    const shared = allocateSystem(config);
    if (options.remotes) shared.remotes = options.remotes;
    const memoryDrives = new Map<number, SharedArrayBuffer>();
    const faultControls = new Map<number, FaultControl>();
    const persistenceControls = new Map<number, DrivePersistence>();
    const descriptors: Array<{ number: number; descriptor: DriveDescriptor }> = [];
    for (const d of config.drives) {
      let faults: SharedArrayBuffer | undefined;
      if (options.faults) {
        faults = FaultControl.allocate();
        faultControls.set(d.number, new FaultControl(faults));
      }
      let descriptor: DriveDescriptor;
      if (d.kind === 'memory') {
        const reused = options.memoryDrives?.get(d.number);
        const buffer = reused ?? MemoryDrive.allocate(d.blockCount);
        memoryDrives.set(d.number, buffer);
        descriptor = faults ? { kind: 'memory', blockCount: d.blockCount, buffer, faults } : { kind: 'memory', blockCount: d.blockCount, buffer };
        let persistence = options.persistenceBuffers?.get(d.number);
        if (persistence !== undefined && reused === undefined) {
          throw new Error(`${config.name}: drive ${d.number}: a reused persistence buffer needs its memory drive buffer too (memoryDrives)`);
        }
        // A fresh cache over a reused drive starts with the drive's contents durable.
        if (persistence === undefined && options.persistentDrives) persistence = DrivePersistence.allocate(d.blockCount, reused);
        if (persistence !== undefined) {
          persistenceControls.set(d.number, new DrivePersistence(persistence, buffer));
          descriptor.persistence = persistence;
        }
      } else {
        descriptor = faults ? { kind: 'file', blockCount: d.blockCount, path: d.path!, faults } : { kind: 'file', blockCount: d.blockCount, path: d.path! };
      }
      descriptors.push({ number: d.number, descriptor });
    }
    // Open every drive once here first: a file drive is created and sized on first boot, and a
    // size mismatch is a configuration error reported before any processor starts.
    const localDrives: Drive[] = descriptors.map((d) => openDrive(d.descriptor));

    const links = options.links ?? [];
    for (const l of config.links) {
      if (!links.some((x) => x.number === l.number)) throw new Error(`${config.name}: link ${l.number} is configured but not connected (tools/topology.ts connects links)`);
    }
    const processorIds = Array.from({ length: config.channelAdapters + config.diskAdapters }, (_, i) => i);
    if (options.runtime === 'threaded') {
      formatSystem(shared, Date.now());
      const mem = new ControlMemory(config, shared.control, shared.cache, { singleThreaded: false, ownerId: 0xfff0 });
      const mirrorLoad = StorageSystem.loadMirrors(config, mem, descriptors, localDrives, trace);
      const failures: Array<{ processorId: number; error: string }> = [];
      const maintenance = new MaintenancePort(mem);
      const hostPorts = attachHostPorts(shared, mem.doorbells);
      const runtime = await ThreadedRuntime.start({
        entryUrl: options.entry?.url ?? ENTRY_URL,
        processorIds,
        shared: options.entry ? { ...shared, entryData: options.entry.data } : shared,
        drives: descriptors,
        links,
        onTrace: (_id, line) => trace(`${config.name}: ${line}`),
        onFailure: (processorId, error) => {
          failures.push({ processorId, error: error.stack ?? String(error) });
          maintenance.recordProcessorFailure(processorId);
          if (processorId < config.channelAdapters) {
            const ended = hostPorts.failOutstanding(processorId, ScsiStatus.BUSY, SenseKey.NOT_READY, Reason.PROCESSOR_STOPPED, Date.now());
            trace(`${config.name}: host port ${processorId}: ${ended} outstanding commands ended (adapter stopped)`);
          }
          trace(`${config.name}: processor ${processorId} failed: ${error.message}`);
        },
      });
      return new StorageSystem(config, shared, mem, descriptors, faultControls, memoryDrives, persistenceControls, runtime, null, [], localDrives, failures, threadedWaiter, () => Date.now(), (line) => trace(`${config.name}: ${line}`))
        .restartMirrors(mirrorLoad);
    }

    if (options.entry) throw new Error(`${config.name}: a custom processor entry needs the threaded runtime`);
    const runtime = options.deterministic ?? new DeterministicRuntime(options.seed ?? 1, new VirtualClock());
    const clock = runtime.clock;
    formatSystem(shared, clock.nowMs());
    const mem = new ControlMemory(config, shared.control, shared.cache, { singleThreaded: true, ownerId: 0xfff0 });
    const mirrorLoad = StorageSystem.loadMirrors(config, mem, descriptors, localDrives, trace);
    const processorDrives: Drive[] = [];
    const processors: Processor[] = [];
    for (const processorId of processorIds) {
      const drives = new Map<number, Drive>();
      descriptors.forEach((d) => {
        const drive = openDrive(d.descriptor);
        drives.set(d.number, drive);
        processorDrives.push(drive);
      });
      const endpoints = new Map(links.map((l) => [l.number, new LinkEndpoint(l.buffer, l.side, clock)] as const));
      const p = attachProcessor({ processorId, shared, drives, links: endpoints, clock, trace: (line) => trace(`${config.name}: ${line}`), singleThreaded: true });
      processors.push(p);
    }
    const waiter: HostWaiter = {
      wait: async (ports, port, slot) => {
        runtime.runUntil(() => ports.isComplete(port, slot), 5_000_000, `completion of port ${port} slot ${slot}`);
        return true;
      },
    };
    // Closed with the local handles at power-off, as a worker closes its own when it exits.
    const system = new StorageSystem(config, shared, mem, descriptors, faultControls, memoryDrives, persistenceControls, null, runtime, processors, [...localDrives, ...processorDrives], [], waiter, () => clock.nowMs(), (line) => trace(`${config.name}: ${line}`));
    system.linkAttachments = links;
    for (let id = 0; id < processors.length; id++) system.run(id);
    return system.restartMirrors(mirrorLoad);
  }

  /** Seed 004's non-volatile control memory: the mirror pairs saved at the last power-off. */
  private static loadMirrors(config: SystemConfig, mem: ControlMemory, descriptors: Array<{ number: number }>, drives: Drive[], trace: (line: string) => void): MirrorLoad | null {
    if (!config.mirrorNv) return null;
    const drive = drives[descriptors.findIndex((d) => d.number === config.mirrorNv!.drive)]!;
    const load = loadMirrorState(mem, drive, config.mirrorNv.startBlock, (line) => trace(`${config.name}: ${line}`));
    if (load.reason !== '') trace(`${config.name}: mirror state not restored: ${load.reason}`);
    return load;
  }

  /** Starts again the synchronisations a power-off interrupted (their copy ran on a processor). */
  private restartMirrors(load: MirrorLoad | null): this {
    this.mirrorLoad = load;
    for (const r of load?.restart ?? []) {
      const result = r.op === 'form' ? this.maintenance.mirror.form(r.pair) : this.maintenance.mirror.resync(r.pair);
      this.traceSink(`mirror ${r.pair}: ${r.op} restarted after power-off: ${result.reason}`);
    }
    return this;
  }

  /**
   * A mirror pair operation from the maintenance port (formation, split, resync), run to its end:
   * the host-side wait for what the firmware runs as a task. Throws with the reason if refused.
   */
  async mirrorOperation(pair: number, op: 'form' | 'split' | 'resync', timeoutMs = 60_000): Promise<void> {
    const started = this.maintenance.mirror[op](pair);
    if (started.status !== 'ok') throw new Error(`mirror ${op} of pair ${pair} refused: ${started.reason}`);
    await this.waitFor(() => this.maintenance.mirror.status(pair).data?.operation === 'none', `mirror ${op} of pair ${pair}`, timeoutMs);
    const result = this.maintenance.mirror.status(pair).data?.lastResult;
    if (result !== 'ok') throw new Error(`mirror ${op} of pair ${pair} ended: ${result}`);
  }

  /** Runs the system (deterministic) or waits (threaded) until `done()` holds. */
  async waitFor(done: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
    if (this.deterministic) {
      this.deterministic.runUntil(done, 50_000_000, what);
      return;
    }
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`${what} did not finish within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  /**
   * Resets one processor (deterministic runtime): it stops between two of its loop iterations,
   * its own memory is lost, and after `downMs` of virtual time a new processor attaches to the
   * same control memory, cache and drives and takes its tasks over (see ChannelAdapter and
   * DiskAdapter `takeOver`). Control memory and cache are not touched: they live outside the
   * processor, as on a real controller.
   */
  resetProcessor(processorId: number, downMs: number): void {
    this.deterministicOnly('a processor reset');
    if (processorId < 0 || processorId >= this.processors.length) throw new Error(`${this.config.name} has no processor ${processorId}`);
    if (this.down.has(processorId)) throw new Error(`${this.config.name}: processor ${processorId} is already down`);
    this.stop(processorId);
    this.traceSink(`processor ${processorId}: reset (down for ${downMs} ms)`);
    this.deterministic!.once(downMs, () => this.startProcessor(processorId, 'after its reset'));
  }

  /**
   * Loses the power (deterministic runtime): every processor stops at once between loop
   * iterations, with no destage and no flush. Control memory and cache memory are battery-backed
   * and keep their contents; each drive loses the writes it had not flushed, or keeps some of
   * their blocks (`onDrives` applies that, e.g. DrivePersistence.powerLoss). After `downMs` the
   * power returns and every processor attaches to the memory it left and takes its tasks over;
   * a dirty slot is still dirty (it is cleaned only after its drive flushed), so every write the
   * drives lost is destaged again.
   */
  powerLoss(downMs: number, onDrives: () => void = () => {}): void {
    this.deterministicOnly('a power loss');
    if (this.powerFailure) this.persistence(this.powerFailure.drive).armPowerFailure(0);
    for (let p = 0; p < this.processors.length; p++) if (!this.down.has(p)) this.stop(p);
    this.powerFailure = null;
    onDrives();
    this.off = true;
    this.traceSink(`power lost (back in ${downMs} ms)`);
    this.deterministic!.once(downMs, () => {
      const r = recoverAfterPowerLoss(this.mem);
      this.traceSink(`power restored: ${r.locksFreed} locks held at the loss freed, ${r.pinsCorrected} slot pin counts corrected, ${r.slotsRedirtied} unflushed slots to destage again`);
      this.powerOn();
    });
  }

  /**
   * An orderly power-off and power-on (deterministic runtime): the processors finish as at
   * power-off (host commands drain, every dirty slot is destaged and the drives flushed), stay
   * off for `downMs`, then attach to the same battery-backed memory and go on: remote-copy tasks
   * (journal read, restore, initial copy) continue where they were.
   */
  powerCycle(downMs: number): void {
    const runtime = this.deterministicOnly('a power cycle');
    if (this.down.size > 0) throw new Error(`${this.config.name}: a power cycle needs every processor up (${[...this.down].join(', ')} down)`);
    requestPowerOff(this.mem);
    runtime.runUntil(() => this.processors.every((p, i) => this.down.has(i) || p.finished()), 50_000_000, `power-off of ${this.config.name}`);
    for (let p = 0; p < this.processors.length; p++) if (!this.down.has(p)) this.stop(p);
    this.traceSink(`powered off (on again in ${downMs} ms)`);
    this.off = true;
    this.deterministic!.once(downMs, () => {
      powerOnAgain(this.mem.system);
      this.traceSink('powered on');
      this.powerOn();
    });
  }

  /**
   * Arms a power loss inside a disk adapter's I/O: the `operations`-th write or flush of drive
   * `drive` from now throws PowerFailure out of the adapter's loop iteration, and the system then
   * loses its power as powerLoss(downMs, onDrives) says — with the adapter stopped mid-iteration,
   * holding its slot locks and pins. Memory drives with persistence only (persistentDrives).
   */
  armPowerFailure(drive: number, operations: number, downMs: number, onDrives: () => void = () => {}): void {
    this.deterministicOnly('a power loss');
    this.disarmPowerFailure(); // one at a time: an earlier countdown left armed would strike later
    this.powerFailure = { drive, downMs, onDrives };
    this.persistence(drive).armPowerFailure(operations);
  }

  /** Disarms a power failure that has not struck (it strikes at the next iteration boundary instead, if the caller wants). */
  disarmPowerFailure(): boolean {
    const armed = this.powerFailure;
    if (!armed) return false;
    this.persistence(armed.drive).armPowerFailure(0);
    this.powerFailure = null;
    return true;
  }

  /** Adds processor `id` to the deterministic runtime, behind a participant that catches a power failure. */
  private run(id: number): void {
    const p = this.processors[id]!;
    const participant: Steppable = {
      kind: p.kind,
      step: () => {
        try {
          return p.step();
        } catch (e) {
          if (!(e instanceof PowerFailure) || !this.powerFailure) throw e;
          const { downMs, onDrives } = this.powerFailure;
          this.traceSink(`processor ${id}: ${e.message}`);
          this.powerLoss(downMs, onDrives);
          return 1;
        }
      },
      idleWaitMs: () => p.idleWaitMs(),
      finished: () => p.finished(),
    };
    this.participants[id] = participant;
    this.deterministic!.add(participant);
  }

  private stop(id: number): void {
    this.deterministic!.remove(this.participants[id]!);
    this.down.add(id);
  }

  /** Whether every processor is running (none reset or powered off). */
  allProcessorsUp(): boolean {
    return this.down.size === 0;
  }

  private deterministicOnly(what: string): DeterministicRuntime {
    if (!this.deterministic || !this.powered) throw new Error(`${this.config.name}: ${what} is modelled in the deterministic runtime of a powered system`);
    return this.deterministic;
  }

  /** The power is back: every processor that is down starts, in order. */
  private powerOn(): void {
    this.off = false;
    for (const p of [...this.down].sort((a, b) => a - b)) this.startProcessor(p, 'at power-on');
  }

  /** Attaches a new processor `processorId` to this system's memory, drives and links. */
  private startProcessor(processorId: number, why: string): void {
    // A processor reset whose time is up while the power is off starts at power-on; one whose
    // time is up after a power-on already started it again is up.
    if (this.off || !this.down.has(processorId)) return;
    const runtime = this.deterministic!;
    const drives = new Map<number, Drive>();
    for (const d of this.driveDescriptors) {
      const drive = openDrive(d.descriptor);
      drives.set(d.number, drive);
      this.localDrives.push(drive);
    }
    const endpoints = new Map(this.linkAttachments.map((l) => [l.number, new LinkEndpoint(l.buffer, l.side, runtime.clock)] as const));
    const p = attachProcessor({ processorId, shared: this.shared, drives, links: endpoints, clock: runtime.clock, trace: this.traceSink, singleThreaded: true });
    this.processors[processorId] = p;
    this.down.delete(processorId);
    this.run(processorId);
    this.traceSink(`processor ${processorId}: started ${why}`);
  }

  /** The fault control of a drive (boot with faults: true). */
  faults(drive: number): FaultControl {
    const control = this.faultControls.get(drive);
    if (!control) throw new Error(`drive ${drive} has no fault control; boot with { faults: true }`);
    return control;
  }

  /** The volatile write cache of a memory drive (boot with persistentDrives: true). */
  persistence(drive: number): DrivePersistence {
    const control = this.persistenceControls.get(drive);
    if (!control) throw new Error(`drive ${drive} has no persistence control; boot with { persistentDrives: true } (memory drives only)`);
    return control;
  }

  /**
   * Reads a drive's raw blocks through this thread's own handle, bypassing the controller and
   * any injected fault (verification, tests). Works after power-off; dispose() closes it.
   */
  readDrive(drive: number, lba: number, blocks: number): Uint8Array {
    const index = this.driveDescriptors.findIndex((x) => x.number === drive);
    if (index < 0) throw new Error(`drive ${drive} does not exist`);
    let d = this.inspection.get(drive);
    if (!d) {
      const { faults: _faults, ...raw } = this.driveDescriptors[index]!.descriptor;
      d = openDrive(raw as DriveDescriptor);
      this.inspection.set(drive, d);
    }
    const out = new Uint8Array(blocks * 512);
    const status = d.read(lba, blocks, out, 0);
    if (status !== 0) throw new Error(`drive ${drive} read failed with status ${status}`);
    return out;
  }

  /** Closes the inspection handles readDrive opened. */
  dispose(): void {
    for (const d of this.inspection.values()) d.close();
    this.inspection.clear();
  }

  /** Power-off: channel adapters drain, disk adapters destage every dirty slot and flush. */
  async powerOff(): Promise<PowerOffReport> {
    if (!this.powered) throw new Error(`${this.config.name} is already powered off`);
    // A processor that is down (reset, power loss) comes back first: power-off needs every one.
    if (this.deterministic && this.down.size > 0) this.deterministic.runUntil(() => this.down.size === 0, 50_000_000, `restart of ${this.config.name}'s processors before power-off`);
    this.powered = false;
    requestPowerOff(this.mem);
    if (this.threaded) {
      await this.threaded.stopped();
    } else {
      const runtime = this.deterministic!;
      runtime.runUntil(() => this.processors.every((p) => p.finished()), 50_000_000, `power-off of ${this.config.name}`);
      for (const p of this.participants) runtime.remove(p);
    }
    this.maintenance.markStopped();
    if (this.config.mirrorNv) {
      const index = this.driveDescriptors.findIndex((d) => d.number === this.config.mirrorNv!.drive);
      const why = saveMirrorState(this.mem, this.localDrives[index]!, this.config.mirrorNv.startBlock, Date.now());
      if (why !== '') this.traceSink(`mirror state not saved: ${why}`);
    }
    for (const d of this.localDrives) d.close();
    return { undestagedSlots: Atomics.load(this.mem.system, SystemWord.UNDESTAGED_SLOTS), failures: [...this.failures] };
  }
}
