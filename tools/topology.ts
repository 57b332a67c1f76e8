// Topology: several storage systems and the links between them, booted together on one runtime
// (the threaded runtime, or one deterministic runtime shared by every system so the whole
// topology steps in one seeded interleaving). Each link is one LinkBuffer whose two sides belong
// to the two systems; the firmware on each side sees only its own LinkEndpoint.

import { LinkBuffer, LinkEndpoint } from '../hal/link.ts';
import { TcpLinkBridge } from '../hal/link-tcp.ts';
import { VirtualClock } from '../hal/clock.ts';
import { DeterministicRuntime } from '../hal/runtime/deterministic.ts';
import type { LinkAttachment } from '../hal/runtime/threaded.ts';
import type { SystemConfig } from '../firmware/config.ts';
import { StorageSystem, type BootOptions } from './system.ts';

export interface LinkSpec {
  /** (system number, link number) of each end. */
  a: { system: number; link: number };
  b: { system: number; link: number };
  /** Ring bytes per direction; must hold two of the largest frames. */
  ringBytes?: number;
}

export interface TopologyOptions {
  runtime: 'threaded' | 'deterministic';
  /**
   * How links are carried: 'memory' — one shared LinkBuffer per link; 'tcp' — each system has
   * its own LinkBuffer and a TCP bridge on 127.0.0.1 joins the two, exactly as when each system
   * runs in its own process (threaded runtime only: the bridges need real time).
   */
  transport?: 'memory' | 'tcp';
  seed?: number;
  trace?: (line: string) => void;
  faults?: boolean;
  /** Give every memory drive a volatile write cache (unflushed writes a power loss may tear). */
  persistentDrives?: boolean;
  /** Per system: a processor entry module to load instead of the firmware's (see BootOptions.entry). */
  entry?: (systemNumber: number) => { url: URL; data: unknown } | undefined;
}

export const DEFAULT_LINK_RING_BYTES = 4 * 1024 * 1024;

export class Topology {
  private constructor(
    readonly systems: Map<number, StorageSystem>,
    readonly links: Array<{ spec: LinkSpec; buffer: SharedArrayBuffer; control: LinkEndpoint }>,
    readonly deterministic: DeterministicRuntime | null,
    private readonly bridges: TcpLinkBridge[],
  ) {}

  /**
   * `hostLinks`: upstream systems that write to another system's host port (synchronous pairs of
   * seed 000 embodiment 2); the target is booted first.
   */
  static async boot(configs: SystemConfig[], links: LinkSpec[], o: TopologyOptions, hostLinks: Array<{ from: number; to: number }> = []): Promise<Topology> {
    const attachments = new Map<number, LinkAttachment[]>();
    const made: Array<{ spec: LinkSpec; buffer: SharedArrayBuffer; control: LinkEndpoint }> = [];
    const runtime = o.runtime === 'deterministic' ? new DeterministicRuntime(o.seed ?? 1, new VirtualClock()) : null;
    const tcp = o.transport === 'tcp';
    if (tcp && runtime) throw new Error('TCP links need real time: use the threaded runtime');
    const bridges: TcpLinkBridge[] = [];
    for (const spec of links) {
      for (const end of [spec.a, spec.b]) {
        const config = configs.find((c) => c.systemNumber === end.system);
        if (!config) throw new Error(`link between systems ${spec.a.system} and ${spec.b.system}: system ${end.system} is not in the topology`);
        if (!config.links.some((l) => l.number === end.link)) throw new Error(`system ${end.system} has no link ${end.link} in its configuration`);
      }
      const buffer = LinkBuffer.allocate(spec.ringBytes ?? DEFAULT_LINK_RING_BYTES);
      const list = (n: number): LinkAttachment[] => attachments.get(n) ?? (attachments.set(n, []), attachments.get(n)!);
      list(spec.a.system).push({ number: spec.a.link, buffer, side: 0 });
      if (tcp) {
        // System b gets a buffer of its own; the two buffers are joined over a socket.
        const other = LinkBuffer.allocate(spec.ringBytes ?? DEFAULT_LINK_RING_BYTES);
        list(spec.b.system).push({ number: spec.b.link, buffer: other, side: 0 });
        const listener = await TcpLinkBridge.listen(buffer, { host: '127.0.0.1', port: 0, firmwareSide: 0 });
        const connector = TcpLinkBridge.connect(other, { host: '127.0.0.1', port: listener.port, firmwareSide: 0, retryMs: 50 });
        bridges.push(listener, connector);
        await connector.waitConnected(10_000);
      } else {
        list(spec.b.system).push({ number: spec.b.link, buffer, side: 1 });
      }
      // A control handle for cutting, delaying and restoring the link; it never sends or receives.
      made.push({ spec, buffer, control: new LinkEndpoint(buffer, 0, runtime?.clock ?? { nowMs: () => Date.now() }) });
    }
    const systems = new Map<number, StorageSystem>();
    // Targets of host links boot before the systems that write to them.
    const order = [...configs].sort((x, y) => Number(hostLinks.some((h) => h.from === x.systemNumber)) - Number(hostLinks.some((h) => h.from === y.systemNumber)));
    for (const config of order) {
      const boot: BootOptions = { runtime: o.runtime, links: attachments.get(config.systemNumber) ?? [] };
      const remotes = hostLinks.filter((h) => h.from === config.systemNumber).map((h) => {
        const target = systems.get(h.to);
        if (!target) throw new Error(`host link ${h.from} -> ${h.to}: system ${h.to} is not booted first (is it in the topology? are host links cyclic?)`);
        return { system: h.to, shared: target.shared };
      });
      if (remotes.length > 0) boot.remotes = remotes;
      if (runtime) boot.deterministic = runtime;
      if (o.trace) boot.trace = o.trace;
      if (o.faults) boot.faults = true;
      if (o.persistentDrives) boot.persistentDrives = true;
      const entry = o.entry?.(config.systemNumber);
      if (entry) boot.entry = entry;
      systems.set(config.systemNumber, await StorageSystem.boot(config, boot));
    }
    return new Topology(systems, made, runtime, bridges);
  }

  system(number: number): StorageSystem {
    const s = this.systems.get(number);
    if (!s) throw new Error(`system ${number} is not in the topology`);
    return s;
  }

  /** The control handles of every link between two systems, in the order they were given. */
  linksBetween(systemA: number, systemB: number): LinkEndpoint[] {
    return this.links.filter((x) => (x.spec.a.system === systemA && x.spec.b.system === systemB) || (x.spec.a.system === systemB && x.spec.b.system === systemA)).map((x) => x.control);
  }

  /** The control handle of the link between two systems (cut, restore, setDelay). */
  link(systemA: number, systemB: number): LinkEndpoint {
    const l = this.links.find((x) => (x.spec.a.system === systemA && x.spec.b.system === systemB) || (x.spec.a.system === systemB && x.spec.b.system === systemA));
    if (!l) throw new Error(`no link between systems ${systemA} and ${systemB}`);
    return l.control;
  }

  /** Waits for a condition: steps the deterministic runtime, or polls in real time. */
  async until(condition: () => boolean, what: string, limit: { steps?: number; ms?: number } = {}): Promise<void> {
    if (this.deterministic) {
      this.deterministic.runUntil(condition, limit.steps ?? 20_000_000, what);
      return;
    }
    const deadline = Date.now() + (limit.ms ?? 30_000);
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`${what} not reached within ${limit.ms ?? 30_000} ms`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  /** Moves time forward by `ms` (virtual in the deterministic runtime, real otherwise). */
  async pass(ms: number): Promise<void> {
    if (this.deterministic) {
      const end = this.deterministic.clock.nowMs() + ms;
      this.deterministic.runUntil(() => this.deterministic!.clock.nowMs() >= end, 50_000_000, `${ms} ms of virtual time`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, ms));
  }

  async powerOff(): Promise<void> {
    for (const s of this.systems.values()) await s.powerOff();
    for (const b of this.bridges) await b.close();
  }
}
