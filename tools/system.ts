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
import { DeterministicRuntime } from '../hal/runtime/deterministic.ts';
import { ThreadedRuntime, type LinkAttachment } from '../hal/runtime/threaded.ts';
import { LinkEndpoint } from '../hal/link.ts';
import { CopyCommands } from '../firmware/copy-commands.ts';
import { allocateSystem, attachHostPorts, attachProcessor, formatSystem, requestPowerOff, type SystemShared } from '../firmware/boot.ts';
import { validateConfig, type SystemConfig } from '../firmware/config.ts';
import { ControlMemory, SystemWord } from '../firmware/layout.ts';
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
      runtime.add(p);
    }
    const waiter: HostWaiter = {
      wait: async (ports, port, slot) => {
        runtime.runUntil(() => ports.isComplete(port, slot), 5_000_000, `completion of port ${port} slot ${slot}`);
        return true;
      },
    };
    // Closed with the local handles at power-off, as a worker closes its own when it exits.
    return new StorageSystem(config, shared, mem, descriptors, faultControls, memoryDrives, persistenceControls, null, runtime, processors, [...localDrives, ...processorDrives], [], waiter, () => clock.nowMs(), (line) => trace(`${config.name}: ${line}`))
      .restartMirrors(mirrorLoad);
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
    this.powered = false;
    requestPowerOff(this.mem);
    if (this.threaded) {
      await this.threaded.stopped();
    } else {
      const runtime = this.deterministic!;
      runtime.runUntil(() => this.processors.every((p) => p.finished()), 50_000_000, `power-off of ${this.config.name}`);
      for (const p of this.processors) runtime.remove(p);
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
