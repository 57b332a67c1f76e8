// Agent: one running storage system as the control socket sees it. It owns the StorageSystem,
// the system's ends of its links (TCP bridges under `serve`, in-process buffers under `up`), the
// operator-state file, and answers every control operation by calling the maintenance port's
// copy commands. `cli serve` runs one agent per process; `cli up` runs one per system.
//
// Operator state across restarts: the firmware keeps group, pair, pointer and bitmap tables in
// volatile control memory, so a restart would forget every group. The agent writes the
// operator-level configuration (groups, pairs, journal volumes, whether copying had started,
// and the update numbers at shutdown) to a small JSON state file next to the drives after every
// change and at shutdown, and applies it again at start (docs/operations.md, "Restart").

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { TcpLinkBridge } from '../hal/link-tcp.ts';
import { LinkBuffer, LinkEndpoint } from '../hal/link.ts';
import type { LinkAttachment } from '../hal/runtime/threaded.ts';
import { HostOp, ScsiStatus } from '../hal/host-port.ts';
import { UpdateBitmaps } from '../firmware/bitmap.ts';
import { BLOCK_BYTES } from '../firmware/config.ts';
import type { GroupOptions, GroupView } from '../firmware/copy-commands.ts';
import type { MaintResult } from '../firmware/maintenance.ts';
import { GroupFlag, GroupRole, GroupState } from '../firmware/structs/group-info.ts';
import { StorageSystem } from './system.ts';
import { CommandError } from './control.ts';
import { DEFAULT_LINK_RING_BYTES } from './topology.ts';
import type { TopologyFile, TopologySystem } from './topology-file.ts';
import { fillBlocks } from './workload.ts';
import { writeMemoryDump } from './inspect.ts';

export const STATE_FILE_VERSION = 1;
/** How long a clean shutdown waits for readers (primary) or restore (secondary) to drain. */
export const SHUTDOWN_DRAIN_MS_MAX = 5000;
/** Largest read or write one control request carries. */
export const CONTROL_IO_BYTES_MAX = 1024 * 1024;

export interface SavedGroup {
  group: number;
  role: 'primary' | 'secondary';
  partnerSystem: number;
  partnerGroup: number;
  link: number;
  journalVolume: number;
  pairs: Array<{ primaryVolume: number; secondaryVolume: number; primarySystem: number; secondarySystem: number }>;
  started: boolean;
  takenOver: boolean;
  /** Primary: the next update number; secondary: the last restored one. */
  nextUpdateNumber: number;
  restoredNumber: number;
}

export interface OperatorState {
  version: number;
  system: number;
  savedMs: number;
  groups: SavedGroup[];
}

interface AgentLink {
  number: number;
  peerSystem: number;
  /** Local control handle of the link (cut and restore of in-process links). */
  control: LinkEndpoint;
  bridge: TcpLinkBridge | null;
  /** Remakes the bridge after a cut (TCP links). */
  reopen: (() => Promise<TcpLinkBridge>) | null;
  cut: boolean;
}

export interface RecordedWrite {
  volume: number;
  lba: number;
  blocks: number;
  seed: number;
  /** Writes acknowledged before this one was issued (its causal predecessors are lines 0..issuedAfter-1). */
  issuedAfter: number;
}

const int = (args: Record<string, unknown>, name: string, min = 1, max = 2 ** 31 - 1): number => {
  const v = args[name];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new CommandError(`${name}: ${JSON.stringify(v)} must be an integer ${min}..${max}`);
  return v;
};
const optInt = (args: Record<string, unknown>, name: string, fallback: number, min = 0, max = 2 ** 31 - 1): number => (args[name] === undefined ? fallback : int(args, name, min, max));

function must<T>(r: MaintResult<T>): T {
  if (r.status !== 'ok') throw new CommandError(r.reason);
  return r.data as T;
}

export class Agent {
  private readonly bitmaps: UpdateBitmaps;
  private stopping = false;
  workloadRunning = false;

  private constructor(readonly spec: TopologySystem, readonly system: StorageSystem, private readonly links: AgentLink[], private readonly log: (line: string) => void) {
    this.bitmaps = new UpdateBitmaps(system.mem);
  }

  /**
   * Boots the system of `spec`. `attachments`: in-process link ends (up); without them each link
   * of the topology gets a TCP bridge (serve): the link's first system listens, the second connects.
   */
  static async start(topology: TopologyFile, spec: TopologySystem, o: { log: (line: string) => void; attachments?: Array<{ attachment: LinkAttachment; control: LinkEndpoint }> }): Promise<Agent> {
    const links: AgentLink[] = [];
    const attachments: LinkAttachment[] = [];
    if (o.attachments) {
      for (const a of o.attachments) {
        const peer = spec.config.links.find((l) => l.number === a.attachment.number)!.peerSystem;
        attachments.push(a.attachment);
        links.push({ number: a.attachment.number, peerSystem: peer, control: a.control, bridge: null, reopen: null, cut: false });
      }
    } else {
      for (const l of topology.links) {
        const mine = l.a.system === spec.name ? l.a : l.b.system === spec.name ? l.b : null;
        if (!mine) continue;
        if (!l.tcp) throw new Error(`link between ${l.a.system} and ${l.b.system} has no "tcp" address: a served system reaches its peers over TCP (use "up" for in-process links)`);
        const buffer = LinkBuffer.allocate(DEFAULT_LINK_RING_BYTES);
        const tcp = l.tcp;
        const listener = mine === l.a;
        const open = async (): Promise<TcpLinkBridge> => listener
          ? TcpLinkBridge.listen(buffer, { host: tcp.host, port: tcp.port, firmwareSide: 0, log: (m) => o.log(`link ${mine.link}: ${m}`) })
          : TcpLinkBridge.connect(buffer, { host: tcp.host, port: tcp.port, firmwareSide: 0, retryMs: 100, log: (m) => o.log(`link ${mine.link}: ${m}`) });
        const bridge = await open();
        attachments.push({ number: mine.link, buffer, side: 0 });
        const peer = spec.config.links.find((x) => x.number === mine.link)!.peerSystem;
        links.push({ number: mine.link, peerSystem: peer, control: new LinkEndpoint(buffer, 0, { nowMs: () => Date.now() }), bridge, reopen: open, cut: false });
      }
    }
    const system = await StorageSystem.boot(spec.config, { runtime: 'threaded', links: attachments, trace: o.log });
    const agent = new Agent(spec, system, links, o.log);
    agent.restore(topology);
    return agent;
  }

  // ---- operator state ----------------------------------------------------------------------

  /** The operator-level configuration as control memory holds it now. */
  captureState(): OperatorState {
    const { mem } = this.system;
    const groups: SavedGroup[] = [];
    for (let g = 1; g < mem.groups.count; g++) {
      if (mem.groups.state(g) === GroupState.UNUSED) continue;
      const primary = mem.groups.role(g) === GroupRole.PRIMARY;
      const pairs: SavedGroup['pairs'] = [];
      for (let i = 0; i < mem.groups.pairCount(g); i++) {
        const p = mem.groups.pairAt(g, i);
        pairs.push({ primaryVolume: mem.pairs.primaryVolume(p), secondaryVolume: mem.pairs.secondaryVolume(p), primarySystem: mem.pairs.primarySystem(p), secondarySystem: mem.pairs.secondarySystem(p) });
      }
      groups.push({
        group: g,
        role: primary ? 'primary' : 'secondary',
        partnerSystem: mem.groups.partnerSystem(g),
        partnerGroup: mem.groups.partnerGroup(g),
        link: mem.groups.u32(g, 'link_number'),
        journalVolume: mem.groups.journalVolume(g, 0),
        pairs,
        started: mem.groups.hasFlag(g, GroupFlag.COPY_STARTED),
        takenOver: mem.groups.hasFlag(g, GroupFlag.TAKEN_OVER),
        nextUpdateNumber: mem.groups.updateNumber(g),
        restoredNumber: mem.groups.restoredNumber(g),
      });
    }
    return { version: STATE_FILE_VERSION, system: this.spec.config.systemNumber, savedMs: Date.now(), groups };
  }

  saveState(): void {
    const file = this.spec.stateFile;
    if (!file) return;
    mkdirSync(dirname(file), { recursive: true });
    // Written beside and renamed, so a crash mid-write leaves the previous state.
    writeFileSync(`${file}.tmp`, `${JSON.stringify(this.captureState(), null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
  }

  /** At start: the saved operator state if there is one, else the topology file's groups. */
  private restore(topology: TopologyFile): void {
    const file = this.spec.stateFile;
    if (file && existsSync(file)) {
      const state = JSON.parse(readFileSync(file, 'utf8')) as OperatorState;
      if (state.version !== STATE_FILE_VERSION || state.system !== this.spec.config.systemNumber) {
        throw new Error(`${file}: state of system ${state.system} version ${state.version}; this is system ${this.spec.config.systemNumber}, version ${STATE_FILE_VERSION}`);
      }
      for (const g of state.groups) {
        try {
          this.applyGroup(g);
        } catch (e) {
          throw new Error(`${file}: saved group ${g.group} cannot be applied again: ${(e as Error).message} (did the topology change? move the state file away to start without it)`);
        }
      }
      this.log(`operator state restored from ${file}: ${state.groups.length} group(s)`);
      return;
    }
    for (const g of this.spec.groups) {
      const partner = g.partner ? topology.systems.get(g.partner)!.config.systemNumber : 0;
      const link = this.spec.config.links.find((l) => l.peerSystem === partner)?.number ?? 0;
      this.groupCreate({ group: g.group, role: g.role, partnerSystem: partner, partnerGroup: g.group, link });
      if (g.journalVolume !== undefined) must(this.system.copy.registerJournalVolume(g.group, g.journalVolume));
    }
    this.saveState();
  }

  /**
   * One saved group made again. Journal pointers and differential bitmaps were in volatile
   * memory: a primary group that was copying comes back suspended with every track marked
   * (pairresync copies the volumes again); a secondary group resumes reading after the last
   * update number it restored; a taken-over group comes back without its pairs (writable).
   */
  private applyGroup(g: SavedGroup): void {
    const copy = this.system.copy;
    const o: GroupOptions = g.role === 'primary' ? { role: 'primary' } : { role: 'secondary', partnerSystem: g.partnerSystem, partnerGroup: g.partnerGroup, link: g.link, readIntervalMs: 2 };
    must(copy.createGroup(g.group, o));
    if (!g.takenOver) {
      for (const p of g.pairs) must(copy.registerPair(g.group, p));
    }
    if (g.journalVolume !== 0) must(copy.registerJournalVolume(g.group, g.journalVolume));
    const { mem } = this.system;
    if (g.takenOver) {
      // The volumes stay writable; the group remembers where it stopped.
      mem.groups.setFlag(g.group, GroupFlag.READ_STOPPED, true);
      mem.groups.setFlag(g.group, GroupFlag.TAKEN_OVER, true);
      mem.groups.setF64(g.group, 'restored_number', g.restoredNumber);
      mem.groups.setF64(g.group, 'received_number', g.restoredNumber);
      return;
    }
    if (!g.started || g.journalVolume === 0) return;
    if (g.role === 'primary') {
      mem.groups.setUpdateNumber(g.group, g.nextUpdateNumber);
      must(copy.startCopy(g.group, { noCopy: true }));
      must(copy.suspend(g.group));
      for (const p of g.pairs) this.bitmaps.setAll(p.primaryVolume);
    } else {
      mem.groups.setF64(g.group, 'restored_number', g.restoredNumber);
      mem.groups.setF64(g.group, 'received_number', g.restoredNumber);
      must(copy.startCopy(g.group));
    }
  }

  // ---- operations ----------------------------------------------------------------------------

  async handle(op: string, args: Record<string, unknown>): Promise<unknown> {
    if (this.stopping && op !== 'info') throw new CommandError(`${this.spec.name} is shutting down`);
    const copy = this.system.copy;
    switch (op) {
      case 'info': return this.info();
      case 'groupCreate': {
        const r = this.groupCreate(args);
        this.saveState();
        return r;
      }
      case 'journalAdd': {
        must(copy.registerJournalVolume(int(args, 'group', 1, 255), int(args, 'volume', 1, 4095)));
        this.saveState();
        return this.groupStatus(args.group as number);
      }
      case 'pairRegister': {
        const group = int(args, 'group', 1, 255);
        const p = { primaryVolume: int(args, 'primaryVolume', 1, 4095), secondaryVolume: int(args, 'secondaryVolume', 1, 4095), primarySystem: optInt(args, 'primarySystem', 0), secondarySystem: optInt(args, 'secondarySystem', 0) };
        const r = must(copy.registerPair(group, p));
        this.saveState();
        return r;
      }
      case 'start': {
        must(copy.startCopy(int(args, 'group', 1, 255), { noCopy: args.noCopy === true }));
        this.saveState();
        return this.groupStatus(args.group as number);
      }
      case 'suspend':
        must(copy.suspend(int(args, 'group', 1, 255)));
        this.saveState();
        return this.groupStatus(args.group as number);
      case 'resync':
        must(copy.resync(int(args, 'group', 1, 255)));
        this.saveState();
        return this.groupStatus(args.group as number);
      case 'takeover': return this.takeover(int(args, 'group', 1, 255), optInt(args, 'timeoutMs', 30_000, 0, 600_000));
      case 'pairDelete': {
        const group = int(args, 'group', 1, 255);
        const view = this.groupStatus(group);
        const volume = args.volume === undefined ? 0 : int(args, 'volume', 1, 4095);
        const targets = view.pairs.filter((p) => volume === 0 || p.primaryVolume === volume || p.secondaryVolume === volume);
        if (targets.length === 0) throw new CommandError(volume === 0 ? `group ${group} has no pairs` : `volume ${volume} is not paired in group ${group}`);
        for (const p of targets) must(copy.deletePair(p.pair));
        this.saveState();
        return { deleted: targets.map((p) => p.pair) };
      }
      case 'pauseRestore': return must(copy.pauseRestore(int(args, 'group', 1, 255), args.paused === true));
      case 'groupStatus': return this.groupStatus(int(args, 'group', 1, 255));
      case 'groups': return this.groups();
      case 'stats': return this.stats();
      case 'volumes': return must(this.system.maintenance.listVolumes());
      case 'linkCut': return this.linkCut(int(args, 'link', 1, 8));
      case 'linkRestore': return this.linkRestore(int(args, 'link', 1, 8));
      case 'write': return this.write(args);
      case 'read': return this.read(args);
      case 'workload': {
        if (this.workloadRunning) throw new CommandError('a workload is already running on this system');
        const volumes = args.volumes;
        if (!Array.isArray(volumes) || volumes.length === 0 || !volumes.every((v) => Number.isInteger(v) && v >= 1)) throw new CommandError('volumes: a list of volume numbers');
        const sizeBytes = optInt(args, 'sizeBytes', 4096, BLOCK_BYTES, this.system.config.maxTransferBytes);
        if (sizeBytes % BLOCK_BYTES !== 0) throw new CommandError(`sizeBytes: ${sizeBytes} must be a multiple of ${BLOCK_BYTES}`);
        return this.workload({
          volumes: volumes as number[], sizeBytes,
          seconds: optInt(args, 'seconds', 5, 0, 3600),
          readPercent: optInt(args, 'readPercent', 0, 0, 100),
          depth: optInt(args, 'depth', 4, 1, 256),
          ratePerSec: optInt(args, 'ratePerSec', 0, 0, 1_000_000),
          seed: optInt(args, 'seed', 1, 1),
        });
      }
      case 'dumpMemory': {
        if (typeof args.path !== 'string' || args.path.length === 0) throw new CommandError('path: the file to write the dump to');
        return writeMemoryDump(this.system, args.path);
      }
      default: throw new CommandError(`unknown operation '${op}'`);
    }
  }

  private info(): unknown {
    const { config } = this.system;
    return {
      name: config.name,
      system: config.systemNumber,
      pid: process.pid,
      runState: this.system.maintenance.runState(),
      stateFile: this.spec.stateFile,
      failedProcessors: this.system.failures.map((f) => ({ processor: f.processorId, error: f.error.split('\n')[0] })),
      links: this.links.map((l) => ({ link: l.number, peerSystem: l.peerSystem, connected: l.bridge ? l.bridge.connected : !l.cut, cut: l.cut })),
    };
  }

  private groupCreate(args: Record<string, unknown>): GroupView {
    const group = int(args, 'group', 1, 255);
    if (args.role !== 'primary' && args.role !== 'secondary') throw new CommandError(`role: ${JSON.stringify(args.role)} must be primary or secondary`);
    const o: GroupOptions = { role: args.role };
    if (args.role === 'secondary') {
      o.partnerSystem = int(args, 'partnerSystem', 1, 0xffff);
      o.partnerGroup = optInt(args, 'partnerGroup', group, 1, 255);
      o.link = optInt(args, 'link', this.spec.config.links.find((l) => l.peerSystem === o.partnerSystem)?.number ?? 0, 0, 8);
      o.readIntervalMs = optInt(args, 'readIntervalMs', 2, 0, 60_000);
    }
    must(this.system.copy.createGroup(group, o));
    return this.groupStatus(group);
  }

  groupStatus(group: number): GroupView {
    return must(this.system.copy.groupStatus(group));
  }

  private groups(): GroupView[] {
    const out: GroupView[] = [];
    for (let g = 1; g < this.system.mem.groups.count; g++) {
      const r = this.system.copy.groupStatus(g);
      if (r.status === 'ok') out.push(r.data!);
    }
    return out;
  }

  private stats(): unknown {
    const s = must(this.system.maintenance.statistics());
    return {
      atMs: Date.now(),
      name: this.spec.name,
      system: this.spec.config.systemNumber,
      totals: s.totals,
      perProcessor: s.perProcessor.map((p) => ({ processorId: p.processorId, kind: p.kind, counters: p.counters })),
      cache: s.cache,
      locks: s.locks,
      groups: this.groups(),
      links: (this.info() as { links: unknown }).links,
    };
  }

  private async takeover(group: number, timeoutMs: number): Promise<unknown> {
    const copy = this.system.copy;
    must(copy.takeover(group));
    const started = Date.now();
    let last: MaintResult<{ restoredNumber: number; restoredTimeMs: number; pairs: number }>;
    // Restore drains what the secondary holds; takeoverComplete refuses ("retry") until it has.
    for (;;) {
      last = copy.takeoverComplete(group);
      if (last.status === 'ok' || !/retry/.test(last.reason) || Date.now() - started > timeoutMs) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const done = must(last);
    this.saveState();
    return { ...done, drainMs: Date.now() - started };
  }

  private linkOf(number: number): AgentLink {
    const l = this.links.find((x) => x.number === number);
    if (!l) throw new CommandError(`link ${number} is not a link of ${this.spec.name} (links: ${this.links.map((x) => x.number).join(', ') || 'none'})`);
    return l;
  }

  private async linkCut(number: number): Promise<unknown> {
    const l = this.linkOf(number);
    if (l.cut) throw new CommandError(`link ${number} is already cut`);
    l.cut = true;
    if (l.bridge) {
      // Closing the bridge drops the TCP connection: both ends see the link fail.
      await l.bridge.close();
      l.bridge = null;
    } else {
      l.control.cut();
    }
    this.log(`link ${number}: cut by the operator`);
    return this.info();
  }

  private async linkRestore(number: number): Promise<unknown> {
    const l = this.linkOf(number);
    if (!l.cut) throw new CommandError(`link ${number} is not cut`);
    if (l.reopen) l.bridge = await l.reopen();
    else l.control.restore();
    l.cut = false;
    this.log(`link ${number}: restored by the operator`);
    return this.info();
  }

  private port = 0;
  private nextPort(): number {
    this.port = (this.port + 1) % this.system.host.portCount;
    return this.port;
  }

  private async write(args: Record<string, unknown>): Promise<unknown> {
    const volume = int(args, 'volume', 1, 4095);
    const lba = int(args, 'lba', 0);
    if (typeof args.data !== 'string') throw new CommandError('data: base64 bytes to write');
    const data = Buffer.from(args.data, 'base64');
    if (data.byteLength === 0 || data.byteLength % BLOCK_BYTES !== 0 || data.byteLength > Math.min(CONTROL_IO_BYTES_MAX, this.system.config.maxTransferBytes)) {
      throw new CommandError(`data: ${data.byteLength} bytes must be a whole number of ${BLOCK_BYTES}-byte blocks up to ${Math.min(CONTROL_IO_BYTES_MAX, this.system.config.maxTransferBytes)}`);
    }
    const r = await this.system.host.write(this.nextPort(), volume, lba, new Uint8Array(data));
    if (r.status !== ScsiStatus.GOOD) throw new CommandError(`write of volume ${volume} lba ${lba} failed: status ${r.status}, ${r.reasonText}`);
    return { blocks: data.byteLength / BLOCK_BYTES };
  }

  private async read(args: Record<string, unknown>): Promise<unknown> {
    const volume = int(args, 'volume', 1, 4095);
    const lba = int(args, 'lba', 0);
    const blocks = int(args, 'blocks', 1, CONTROL_IO_BYTES_MAX / BLOCK_BYTES);
    // In pieces of the host port's largest transfer.
    const pieceBlocks = this.system.config.maxTransferBytes / BLOCK_BYTES;
    const out = Buffer.alloc(blocks * BLOCK_BYTES);
    for (let done = 0; done < blocks; done += pieceBlocks) {
      const n = Math.min(pieceBlocks, blocks - done);
      const r = await this.system.host.read(this.nextPort(), volume, lba + done, n * BLOCK_BYTES);
      if (r.status !== ScsiStatus.GOOD) throw new CommandError(`read of volume ${volume} lba ${lba + done} failed: status ${r.status}, ${r.reasonText}`);
      out.set(r.data.subarray(0, n * BLOCK_BYTES), done * BLOCK_BYTES);
    }
    return { data: out.toString('base64') };
  }

  /**
   * Host workload from this process: `depth` commands in flight, a write/read mix, fixed sizes,
   * an optional rate, for a duration. Returns every acknowledged write in acknowledgement order
   * (the caller records them); a chunk never has two writes in flight, as on a real host.
   */
  async workload(o: { volumes: number[]; seconds: number; sizeBytes: number; readPercent: number; depth: number; ratePerSec: number; seed: number; onProgress?: (done: { writes: number; reads: number; bytes: number }) => void }): Promise<{ writes: RecordedWrite[]; reads: number; errors: number; ms: number }> {
    const { host } = this.system;
    const blocks = o.sizeBytes / BLOCK_BYTES;
    const spans = o.volumes.map((v) => {
      const view = must(this.system.maintenance.volume(v));
      return { volume: v, chunks: Math.floor(view.capacityBlocks / blocks) };
    });
    if (spans.some((s) => s.chunks === 0)) throw new CommandError(`a volume is smaller than one ${o.sizeBytes}-byte write`);
    const busy = new Set<string>();
    const writes: RecordedWrite[] = [];
    let reads = 0;
    let errors = 0;
    let seed = o.seed;
    let rng = o.seed >>> 0 || 1;
    const random = (): number => {
      rng ^= rng << 13; rng >>>= 0; rng ^= rng >>> 17; rng ^= rng << 5; rng >>>= 0;
      return rng / 2 ** 32;
    };
    const started = Date.now();
    const endMs = started + o.seconds * 1000;
    let issued = 0;
    this.workloadRunning = true;
    const worker = async (): Promise<void> => {
      const words = new Int32Array(o.sizeBytes / 4);
      while (Date.now() < endMs && !this.stopping) {
        if (o.ratePerSec > 0) {
          const due = started + (issued / o.ratePerSec) * 1000;
          if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
        }
        issued++;
        const span = spans[Math.floor(random() * spans.length)]!;
        const chunk = Math.floor(random() * span.chunks);
        const key = `${span.volume}:${chunk}`;
        if (busy.has(key)) continue;
        busy.add(key);
        const lba = chunk * blocks;
        try {
          if (random() * 100 < o.readPercent) {
            const r = await host.read(this.nextPort(), span.volume, lba, o.sizeBytes);
            if (r.status === ScsiStatus.GOOD) reads++;
            else errors++;
          } else {
            const s = (seed = (seed + 1) | 0);
            const issuedAfter = writes.length;
            fillBlocks(words, 0, span.volume, lba, blocks, s);
            const r = await host.command(this.nextPort(), HostOp.WRITE, span.volume, lba, o.sizeBytes, new Uint8Array(words.buffer));
            if (r.status === ScsiStatus.GOOD) writes.push({ volume: span.volume, lba, blocks, seed: s, issuedAfter });
            else errors++;
          }
        } finally {
          busy.delete(key);
        }
      }
    };
    const progress = o.onProgress ? setInterval(() => o.onProgress!({ writes: writes.length, reads, bytes: (writes.length + reads) * o.sizeBytes }), 500) : null;
    try {
      await Promise.all(Array.from({ length: o.depth }, worker));
    } finally {
      if (progress) clearInterval(progress);
      this.workloadRunning = false;
    }
    return { writes, reads, errors, ms: Date.now() - started };
  }

  /**
   * Clean shutdown: let journals drain for a while (a primary's readers catch up, a secondary
   * restores what it received), save the operator state, power off (destage, flush), close links.
   */
  async shutdown(): Promise<{ undestagedSlots: number; drained: boolean }> {
    this.stopping = true;
    const deadline = Date.now() + SHUTDOWN_DRAIN_MS_MAX;
    let drained = false;
    while (!(drained = this.drained()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    this.saveState();
    const report = await this.system.powerOff();
    this.system.dispose();
    for (const l of this.links) if (l.bridge) await l.bridge.close();
    return { undestagedSlots: report.undestagedSlots, drained };
  }

  private drained(): boolean {
    for (const g of this.groups()) {
      if (!g.pairs.length) continue;
      if (g.role === 'secondary' && g.receivedNumber > g.restoredNumber) return false;
      if (g.role === 'primary' && g.pairs.some((p) => p.state === 'normal' || p.state === 'copying') && g.readers.some((r) => r.readNumber < g.nextUpdateNumber)) return false;
    }
    return true;
  }
}
