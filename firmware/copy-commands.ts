// Remote-copy commands of the maintenance port (seed 000 §5.1, S900–S940; seed 002 §7.1), and
// what an operator of remote copy also needs: suspend, resync, takeover, pair deletion and the
// group status display. Each command checks everything first and returns a status and a reason;
// a rejected command changes nothing.
//
// Commands are issued to each storage system directly (seed 000 S900 item 3, S920 item 3: "the
// instruction may be sent directly to the secondary"); tools/remote-copy.ts issues them to both
// systems of a pair in the seed's order and checks what only both sides together can check
// (capacities). Table changes happen under the group's lock; processes are started by writing
// their task records on the channel adapter that runs them and ringing its doorbell.

import { BLOCK_BYTES } from './config.ts';
import { UpdateBitmaps } from './bitmap.ts';
import { InitialCopy } from './initial-copy.ts';
import { JournalCreation } from './journal-create.ts';
import { JournalRead } from './journal-read.ts';
import { UI_SLOT_BYTES, journalUsage, splitJournalVolume, usedBytes } from './journal-ring.ts';
import type { ControlMemory } from './layout.ts';
import type { MaintResult } from './maintenance.ts';
import { Restore } from './restore.ts';
import {
  GROUP_ROLE_NAME, GROUP_STATE_NAME, GroupFlag, GroupRole, GroupState, READ_LINKS_MAX, READ_POLICY_NAME, ReadPolicy, SUSPEND_REASON_NAME, StorePolicy, SuspendReason,
} from './structs/group-info.ts';
import { PAIR_STATE_NAME, PairFlag, PairState } from './structs/pair-info.ts';
import { GroupService, TASK_WORDS, TaskKind, TaskState, TaskWord as T, namesVolume } from './structs/task.ts';
import { ConfigOp, ReleaseMode } from './link-protocol.ts';
import { SentBatches } from './sent-batches.ts';
import { suspendedWithoutStorage } from './copy-context.ts';
import { NO_DRIVE, VOLUME_FLAG_JOURNAL, VOLUME_STATE_NAME, VolumeState } from './structs/volume-info.ts';

export interface GroupOptions {
  role: 'primary' | 'secondary';
  /** Secondary: the primary storage system and its group A. */
  partnerSystem?: number;
  partnerGroup?: number;
  /** Secondary: the link its journal reads use. */
  link?: number;
  /**
   * Secondary: further links its journal reads may use (seed 000 §7.1 item 16), each to the same
   * primary system and owned by the same channel adapter as `link`.
   */
  moreLinks?: number[];
  /** Secondary: journal read commands in flight at most (default 1, the seed's protocol; up to readWindowMax). */
  readWindow?: number;
  readPolicy?: keyof typeof ReadPolicy;
  readIntervalMs?: number;
  batchJournalsMax?: number;
  storePolicy?: keyof typeof StorePolicy;
  /**
   * Secondary: which batches each journal read releases on the primary — NEXT_COMMAND (the
   * base S1590), AFTER_SEND ([0107]: at once; a lost response is then lost), or RESTORED (up to
   * the secondary's restored update number: the primary keeps journals until they are applied).
   */
  releaseMode?: 'NEXT_COMMAND' | 'AFTER_SEND' | 'RESTORED';
  linkTimeoutMs?: number;
  initialCopyBytes?: number;
}

export interface PairView {
  pair: number;
  state: string;
  primarySystem: number;
  primaryVolume: number;
  secondarySystem: number;
  secondaryVolume: number;
  copiedPercent: number;
  resync: boolean;
  differentialTracks: number;
}

export interface GroupView {
  group: number;
  state: string;
  role: string;
  journalVolume: number;
  pairs: PairView[];
  suspendReason: string;
  nextUpdateNumber: number;
  journalsCreated: number;
  journalsSent: number;
  journalsRestored: number;
  restoredNumber: number;
  receivedNumber: number;
  /** Receive time (primary clock) of the last write applied on a secondary. */
  restoredTimeMs: number;
  journalUsage: number;
  journalsHeld: number;
  readers: Array<{ system: number; readNumber: number; oldestNumber: number; usage: number; lastReadMs: number }>;
  primaryUsage: number;
  failingSinceMs: number;
  readPolicy: string;
  /** Secondary: journal read commands in flight at most, and the links they use. */
  readWindow: number;
  readLinks: number[];
  takenOver: boolean;
}

const ok = <T>(data?: T): MaintResult<T> => (data === undefined ? { status: 'ok', reason: 'ok' } : { status: 'ok', reason: 'ok', data });
const rejected = <T = undefined>(reason: string): MaintResult<T> => ({ status: 'rejected', reason });
/** Operator input arrives from tools as parsed JSON: an options argument may be anything. */
const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Phases of the forwarding task (config-forward.ts); DONE holds an answer not yet collected. */
export const ForwardPhase = { SEND: 0, AWAIT: 1, DONE: 2, COLLECTED: 3 } as const;
/** Task fields of the forwarding task. */
export const FwdWord = { OP: T.OPCODE, GROUP: T.GROUP, A: T.LBA, B: T.BYTE_LENGTH, C: T.VOLUME, LINK: T.AUX0, REQUEST_ID: T.AUX1 } as const;
/** The answer in the forwarding task's scratch block: status (0 ok, 1 rejected), value, reason length, then the reason. */
export const FWD_RESULT_REASON = 16;

/** A journal volume must hold at least this many largest writes besides its update information. */
export const JOURNAL_MIN_WRITES = 4;

export class CopyCommands {
  private readonly bitmaps: UpdateBitmaps;
  private readonly journals: JournalCreation;

  constructor(private readonly mem: ControlMemory, private readonly nowMs: () => number, private readonly trace: (line: string) => void = () => {}) {
    this.bitmaps = new UpdateBitmaps(mem);
    this.journals = new JournalCreation(mem, trace);
  }

  /** S900: group creation (未使用 -> 正常). */
  createGroup(group: number, o: GroupOptions): MaintResult {
    const { mem } = this;
    if (!mem.groups.exists(group)) return rejected(`group ${group} is outside 1..${mem.groups.count - 1}`);
    if (!isObject(o)) return rejected('group options must be an object');
    if (o.role !== 'primary' && o.role !== 'secondary') return rejected(`role '${String(o.role)}' must be primary or secondary`);
    const readPolicy = o.readPolicy ?? 'RECEIVED';
    if (!(readPolicy in ReadPolicy)) return rejected(`read policy '${String(readPolicy)}' must be one of ${Object.keys(ReadPolicy).join(', ')}`);
    const storePolicy = o.storePolicy ?? 'DISCARD_RETRY';
    if (!(storePolicy in StorePolicy)) return rejected(`store policy '${String(storePolicy)}' must be DISCARD_RETRY or HOLD`);
    const releaseMode = o.releaseMode ?? 'NEXT_COMMAND';
    if (!['NEXT_COMMAND', 'AFTER_SEND', 'RESTORED'].includes(releaseMode)) return rejected(`release mode '${String(releaseMode)}' must be NEXT_COMMAND, AFTER_SEND or RESTORED`);
    const interval = o.readIntervalMs ?? 10;
    if (!(Number.isInteger(interval) && interval >= 0 && interval <= 60_000)) return rejected(`read interval ${interval} ms must be an integer 0..60000`);
    const batch = o.batchJournalsMax ?? 256;
    if (!(Number.isInteger(batch) && batch >= 1 && batch <= 65535)) return rejected(`batch of ${batch} journals must be 1..65535`);
    const timeout = o.linkTimeoutMs ?? 5000;
    if (!(Number.isInteger(timeout) && timeout >= 0 && timeout <= 3_600_000)) return rejected(`link timeout ${timeout} ms must be 0..3600000`);
    const unitBytes = o.initialCopyBytes ?? Math.min(1024 * 1024, mem.config.maxTransferBytes);
    if (!(Number.isInteger(unitBytes) && unitBytes >= BLOCK_BYTES && unitBytes % BLOCK_BYTES === 0 && unitBytes <= mem.config.maxTransferBytes)) {
      return rejected(`initial-copy unit ${unitBytes} bytes must be a multiple of ${BLOCK_BYTES} up to the maximum transfer ${mem.config.maxTransferBytes}`);
    }
    if (o.role === 'secondary') {
      if (!(Number.isInteger(o.partnerSystem) && o.partnerSystem! >= 1 && o.partnerSystem !== mem.config.systemNumber)) return rejected(`a secondary group needs the primary system's number (partnerSystem), got ${o.partnerSystem}`);
      if (!(Number.isInteger(o.partnerGroup) && o.partnerGroup! >= 1)) return rejected(`a secondary group needs the primary's group number (partnerGroup), got ${o.partnerGroup}`);
      const link = mem.config.links.find((l) => l.number === o.link);
      if (!link) return rejected(`link ${o.link} is not configured on this system`);
      if (link.peerSystem !== o.partnerSystem) return rejected(`link ${o.link} goes to system ${link.peerSystem}, not to the primary ${o.partnerSystem}`);
      const more = o.moreLinks ?? [];
      if (!Array.isArray(more) || more.length > READ_LINKS_MAX - 1) return rejected(`moreLinks must be a list of at most ${READ_LINKS_MAX - 1} links`);
      for (const n of more) {
        const l = mem.config.links.find((c) => c.number === n);
        if (!l) return rejected(`link ${n} is not configured on this system`);
        if (n === o.link || more.indexOf(n) !== more.lastIndexOf(n)) return rejected(`link ${n} is named twice`);
        if (l.peerSystem !== o.partnerSystem) return rejected(`link ${n} goes to system ${l.peerSystem}, not to the primary ${o.partnerSystem}`);
        if (l.adapter !== link.adapter) return rejected(`link ${n} belongs to channel adapter ${l.adapter}; the group's journal reads run on adapter ${link.adapter} (link ${o.link})`);
      }
    } else if (o.moreLinks !== undefined && o.moreLinks.length > 0) {
      return rejected('only a secondary group reads over links');
    }
    const window = o.readWindow ?? 1;
    if (!(Number.isInteger(window) && window >= 1 && window <= mem.config.readWindowMax)) {
      return rejected(`read window ${window} must be an integer 1..${mem.config.readWindowMax} (the system's readWindowMax)`);
    }
    if (o.role === 'secondary') {
      for (let g = 1; g < mem.groups.count; g++) {
        if (g !== group && mem.groups.state(g) !== GroupState.UNUSED && mem.groups.role(g) === GroupRole.SECONDARY && mem.groups.partnerSystem(g) === o.partnerSystem && mem.groups.partnerGroup(g) === o.partnerGroup) {
          return rejected(`group ${g} already copies group ${o.partnerGroup} of system ${o.partnerSystem}; two groups would share one pointer set on the primary`);
        }
      }
    }
    return this.locked(group, () => {
      if (mem.groups.state(group) !== GroupState.UNUSED) return rejected(`group ${group} is already in use (${GROUP_STATE_NAME[mem.groups.state(group)]})`);
      mem.groups.create(group, o.role === 'primary' ? GroupRole.PRIMARY : GroupRole.SECONDARY);
      if (o.role === 'secondary') {
        mem.groups.setPartner(group, o.partnerSystem!, o.partnerGroup!);
        mem.groups.setU32(group, 'link_number', o.link!);
        (o.moreLinks ?? []).forEach((n, i) => mem.groups.setReadLink(group, i + 1, n));
      }
      mem.groups.setU8(group, 'read_window', window);
      mem.groups.setU8(group, 'read_policy', ReadPolicy[readPolicy]);
      mem.groups.setU8(group, 'store_policy', StorePolicy[storePolicy]);
      mem.groups.setU8(group, 'release_mode', releaseMode === 'AFTER_SEND' ? ReleaseMode.AFTER_SEND : releaseMode === 'RESTORED' ? ReleaseMode.UP_TO : ReleaseMode.NEXT_COMMAND);
      mem.groups.setU32(group, 'read_interval_ms', interval);
      mem.groups.setU32(group, 'batch_journals_max', batch);
      mem.groups.setU32(group, 'link_timeout_ms', timeout);
      mem.groups.setU32(group, 'initial_copy_blocks', unitBytes / BLOCK_BYTES);
      this.trace(`group ${group}: unused -> normal (${o.role}, S900)`);
      return ok();
    });
  }

  /**
   * S910: pair registration. On the primary: (volume, secondary system, secondary volume); on
   * the secondary: (primary system, primary volume, secondary volume). State コピー未.
   */
  registerPair(group: number, p: {
    primaryVolume: number;
    secondaryVolume: number;
    primarySystem?: number;
    secondarySystem?: number;
    /** The other side's volume capacity, when the caller knows it (an inquiry): a mismatch is refused. */
    remoteCapacityBlocks?: number;
  }): MaintResult<{ pair: number }> {
    const { mem } = this;
    const g = this.usedGroup(group);
    if (g) return rejected(g);
    if (!isObject(p)) return rejected('the pair must be an object');
    const primary = mem.groups.role(group) === GroupRole.PRIMARY;
    const local = primary ? p.primaryVolume : p.secondaryVolume;
    const remoteSystem = primary ? p.secondarySystem : p.primarySystem;
    if (!(Number.isInteger(remoteSystem) && remoteSystem! >= 1 && remoteSystem !== mem.config.systemNumber)) {
      return rejected(`the ${primary ? 'secondary' : 'primary'} system number ${remoteSystem} must name another storage system`);
    }
    if (!Number.isInteger(p.primaryVolume) || p.primaryVolume < 1 || !Number.isInteger(p.secondaryVolume) || p.secondaryVolume < 1) {
      return rejected('volume numbers must be positive integers');
    }
    if (!mem.volumes.exists(local) || mem.volumes.number(local) === 0) return rejected(`volume ${local} is not defined`);
    if (primary && !mem.config.links.some((l) => l.peerSystem === remoteSystem)) return rejected(`no link to system ${remoteSystem} is configured: it could never read this group's journal`);
    if (!primary && remoteSystem !== mem.groups.partnerSystem(group)) return rejected(`group ${group} copies from system ${mem.groups.partnerSystem(group)}, not from system ${remoteSystem}`);
    if (p.remoteCapacityBlocks !== undefined && p.remoteCapacityBlocks !== mem.volumes.capacityBlocks(local)) {
      return rejected(`capacity mismatch: volume ${local} has ${mem.volumes.capacityBlocks(local)} blocks, the ${primary ? 'secondary' : 'primary'} volume ${p.remoteCapacityBlocks}`);
    }
    return this.locked(group, () => {
      if (mem.groups.hasFlag(group, GroupFlag.COPY_STARTED)) return rejected(`group ${group} is already copying; register pairs before starting it`);
      const state = mem.volumes.state(local);
      if (state === VolumeState.PRIMARY || state === VolumeState.SECONDARY) return rejected(`volume ${local} is already paired (pair ${mem.volumes.pairNumber(local)})`);
      if ((mem.volumes.flags(local) & VOLUME_FLAG_JOURNAL) !== 0) return rejected(`volume ${local} is a journal volume`);
      if (state !== VolumeState.NORMAL) return rejected(`volume ${local} is ${VOLUME_STATE_NAME[state]}`);
      if (mem.volumes.mirrorNumber(local) !== 0) return rejected(`volume ${local} belongs to local mirror pair ${mem.volumes.mirrorNumber(local)}; a volume is in a remote-copy pair or a mirror pair, not both`);
      for (let i = 0; i < mem.groups.pairCount(group); i++) {
        if (mem.pairs.primaryVolume(mem.groups.pairAt(group, i)) === p.primaryVolume) return rejected(`primary volume ${p.primaryVolume} is already paired in group ${group}`);
      }
      let pair = 0;
      for (let n = 1; n < mem.pairs.count && pair === 0; n++) if (mem.pairs.state(n) === PairState.UNUSED) pair = n;
      if (pair === 0) return rejected(`no unused pair number (pairsMax ${mem.pairs.count - 1})`);
      if (mem.groups.pairCount(group) >= 32) return rejected(`group ${group} already has the most pairs a group can hold (32)`);
      if (primary) mem.pairs.register(pair, mem.config.systemNumber, p.primaryVolume, p.secondarySystem!, p.secondaryVolume, group);
      else mem.pairs.register(pair, p.primarySystem!, p.primaryVolume, mem.config.systemNumber, p.secondaryVolume, group);
      mem.groups.addPair(group, pair);
      mem.volumes.setState(local, primary ? VolumeState.PRIMARY : VolumeState.SECONDARY);
      mem.volumes.setPairNumber(local, pair); // seed 000 §11 item 18
      this.bitmaps.clearAll(local);
      this.trace(`pair ${pair}: unused -> not-copied (volume ${local} -> ${primary ? 'primary' : 'secondary'}, S910)`);
      return ok({ pair });
    });
  }

  /** S920: journal volume registration; sets the volume 正常 and lays out its rings. */
  registerJournalVolume(group: number, volume: number): MaintResult {
    const { mem } = this;
    const g = this.usedGroup(group);
    if (g) return rejected(g);
    if (!mem.volumes.exists(volume) || mem.volumes.number(volume) === 0) return rejected(`volume ${volume} is not defined`);
    const bytes = mem.volumes.capacityBlocks(volume) * BLOCK_BYTES;
    const geometry = splitJournalVolume(bytes);
    const needed = JOURNAL_MIN_WRITES * (mem.config.maxTransferBytes + UI_SLOT_BYTES);
    if (bytes - geometry.wdHead < JOURNAL_MIN_WRITES * mem.config.maxTransferBytes || bytes < needed) {
      return rejected(`journal volume ${volume} of ${bytes} bytes is too small: it must hold ${JOURNAL_MIN_WRITES} largest writes (${needed} bytes at least)`);
    }
    return this.locked(group, () => {
      if (mem.groups.journalVolume(group, 0) !== 0) return rejected(`group ${group} already has journal volume ${mem.groups.journalVolume(group, 0)}`);
      const state = mem.volumes.state(volume);
      if (state === VolumeState.PRIMARY || state === VolumeState.SECONDARY) return rejected(`volume ${volume} is paired (pair ${mem.volumes.pairNumber(volume)})`);
      if ((mem.volumes.flags(volume) & VOLUME_FLAG_JOURNAL) !== 0) return rejected(`volume ${volume} is already the journal volume of group ${mem.volumes.groupNumber(volume)}`);
      if (state === VolumeState.ABNORMAL) return rejected(`volume ${volume} is abnormal`);
      mem.groups.setJournalVolume(group, 0, volume);
      mem.volumes.setFlags(volume, mem.volumes.flags(volume) | VOLUME_FLAG_JOURNAL);
      mem.volumes.setGroupNumber(volume, group);
      mem.volumes.setState(volume, VolumeState.NORMAL);
      // The reader-0 set: a secondary's own, or a primary's template until copying starts.
      mem.pointers.initialise(group * mem.config.readersMax, group, 0, volume, geometry.wdHead, geometry.capacity);
      this.trace(`group ${group}: journal volume ${volume} registered (update information ${geometry.wdHead} bytes, write data ${geometry.capacity - geometry.wdHead} bytes, S920)`);
      return ok();
    });
  }

  /**
   * S930: start copying. On the primary: copied address := 0 for every pair, one pointer set per
   * reader (`readers`, or the secondary systems of the pairs), initial copy starts. On a
   * secondary: journal read 240 and restore 250 start.
   */
  startCopy(group: number, o: { readers?: number[]; noCopy?: boolean } = {}): MaintResult {
    const { mem } = this;
    const g = this.usedGroup(group);
    if (g) return rejected(g);
    if (!isObject(o)) return rejected('start options must be an object');
    if (o.readers !== undefined && !Array.isArray(o.readers)) return rejected(`readers ${JSON.stringify(o.readers)} must be a list of distinct other storage systems`);
    const jv = mem.groups.journalVolume(group, 0);
    if (jv === 0) return rejected(`group ${group} has no journal volume (S920 first)`);
    if (mem.groups.pairCount(group) === 0 && mem.groups.role(group) === GroupRole.PRIMARY) return rejected(`group ${group} has no pairs (S910 first)`);
    if (mem.groups.hasFlag(group, GroupFlag.COPY_STARTED)) return rejected(`group ${group} is already copying`);
    const primary = mem.groups.role(group) === GroupRole.PRIMARY;
    if (primary && !o.noCopy) {
      // Seed 000 §7.3: initial copy cannot read a volume without storage.
      for (let i = 0; i < mem.groups.pairCount(group); i++) {
        const v = mem.pairs.primaryVolume(mem.groups.pairAt(group, i));
        if (mem.volumes.driveNumber(v) === NO_DRIVE) return rejected(`primary volume ${v} has no storage, so initial copy cannot read it; start with noCopy when the secondary already holds the same data`);
      }
    }
    let readers: number[] = [];
    if (primary) {
      readers = o.readers ?? [...new Set(Array.from({ length: mem.groups.pairCount(group) }, (_, i) => mem.pairs.secondarySystem(mem.groups.pairAt(group, i))))];
      if (readers.length === 0 || readers.length > mem.config.readersMax) return rejected(`a group has 1..${mem.config.readersMax} readers, got ${readers.length}`);
      if (readers.some((r) => !Number.isInteger(r) || r < 1 || r === mem.config.systemNumber) || new Set(readers).size !== readers.length) {
        return rejected(`readers ${JSON.stringify(readers)} must be distinct other storage systems`);
      }
    }
    const adapter = primary ? group % mem.config.channelAdapters : this.readAdapter(group);
    const base = mem.serviceTask(group, 0);
    const busy = [GroupService.JOURNAL_READ, GroupService.RESTORE, GroupService.INITIAL_COPY].some((k) => mem.tasks[mem.taskWord(adapter, base + k) + T.STATE] !== TaskState.FREE);
    if (busy) return rejected(`group ${group}'s processes from an earlier start are still running on channel adapter ${adapter}`);
    return this.locked(group, () => {
      mem.groups.setFlag(group, GroupFlag.COPY_STARTED, true);
      if (primary) {
        const template = group * mem.config.readersMax;
        const ui = mem.pointers.get(template, 'wd_head');
        const capacity = mem.pointers.get(template, 'capacity_bytes');
        readers.forEach((reader, r) => {
          mem.pointers.initialise(template + r, group, reader, jv, ui, capacity, mem.groups.updateNumber(group));
          new SentBatches(mem.batches).clear(template + r);
          mem.pointers.set(template + r, 'last_read_ms', this.nowMs());
        });
        for (let i = 0; i < mem.groups.pairCount(group); i++) {
          const pair = mem.groups.pairAt(group, i);
          mem.pairs.setCopiedBlocks(pair, 0);
          if (o.noCopy) {
            // No initial copy: the operator vouches that both sides already hold the same data.
            mem.pairs.transition(pair, PairState.NORMAL);
            mem.pairs.setCopiedBlocks(pair, mem.volumes.capacityBlocks(mem.pairs.primaryVolume(pair)));
            this.trace(`pair ${pair}: not-copied -> normal (started without initial copy)`);
          }
        }
        InitialCopy.start(mem.tasks, mem.taskWord(adapter, base + GroupService.INITIAL_COPY), group);
        this.trace(`group ${group}: copy started for readers ${readers.join(', ')} (S930)`);
      } else {
        JournalRead.start(mem, mem.taskWord(adapter, base + GroupService.JOURNAL_READ), group, this.nowMs());
        Restore.start(mem.tasks, mem.taskWord(adapter, base + GroupService.RESTORE), group);
        this.trace(`group ${group}: journal read and restore started (S930)`);
      }
      mem.doorbells.ring(adapter);
      return ok();
    });
  }

  /**
   * A synchronous pair (seed 000 embodiment 2: "100C updates ORG1 and DATA1 in 100A, as in the
   * prior art"): every host write to `volume` is also written to `targetVolume` of system
   * `targetSystem` through that system's host port before the host is answered. It starts 正常:
   * both volumes must already hold the same data (this model has no synchronous initial copy).
   */
  registerSyncPair(volume: number, targetSystem: number, targetVolume: number, reachable: (system: number) => boolean): MaintResult<{ pair: number }> {
    const { mem } = this;
    if (!mem.volumes.exists(volume) || mem.volumes.number(volume) === 0) return rejected(`volume ${volume} is not defined`);
    if (!(Number.isInteger(targetSystem) && targetSystem >= 1 && targetSystem !== mem.config.systemNumber)) return rejected(`target system ${targetSystem} must be another storage system`);
    if (!reachable(targetSystem)) return rejected(`system ${targetSystem}'s host port is not connected to this system`);
    if (!(Number.isInteger(targetVolume) && targetVolume >= 1)) return rejected(`target volume ${targetVolume} must be a positive integer`);
    return this.locked(0, () => {
      const state = mem.volumes.state(volume);
      if (state === VolumeState.PRIMARY || state === VolumeState.SECONDARY) return rejected(`volume ${volume} is already paired (pair ${mem.volumes.pairNumber(volume)})`);
      if (state !== VolumeState.NORMAL || (mem.volumes.flags(volume) & VOLUME_FLAG_JOURNAL) !== 0) return rejected(`volume ${volume} is not a normal data volume`);
      let pair = 0;
      for (let n = 1; n < mem.pairs.count && pair === 0; n++) if (mem.pairs.state(n) === PairState.UNUSED) pair = n;
      if (pair === 0) return rejected(`no unused pair number (pairsMax ${mem.pairs.count - 1})`);
      mem.pairs.register(pair, mem.config.systemNumber, volume, targetSystem, targetVolume, 0);
      mem.pairs.setFlags(pair, PairFlag.SYNC);
      mem.pairs.transition(pair, PairState.NORMAL);
      mem.volumes.setState(volume, VolumeState.PRIMARY);
      mem.volumes.setPairNumber(volume, pair);
      this.bitmaps.clearAll(volume);
      this.trace(`pair ${pair}: unused -> normal (synchronous copy of volume ${volume} to system ${targetSystem} volume ${targetVolume})`);
      return ok({ pair });
    });
  }

  /**
   * Forwards the secondary's part of a setup step to `system` over this system's link to it
   * (seed 000 S900 item 2, S910 step 3, S920 item 2, S930 step 3). Returns at once; the answer
   * comes from forwardResult(system). One forwarded instruction at a time per link adapter.
   */
  forward(system: number, o:
    | { op: 'createGroup'; group: number; primaryGroup: number }
    | { op: 'registerPair'; group: number; primaryVolume: number; secondaryVolume: number }
    | { op: 'registerJournalVolume'; group: number; volume: number }
    | { op: 'startCopy'; group: number }): MaintResult {
    const { mem } = this;
    const link = mem.config.links.find((l) => l.peerSystem === system);
    if (!link) return rejected(`unknown system ${system}: no link to it is configured`);
    if (!isObject(o)) return rejected('the instruction must be an object');
    if (!(Number.isInteger(o.group) && o.group >= 1)) return rejected(`group ${o.group} must be a positive integer`);
    let op: number;
    let a = 0;
    let b = 0;
    let c = 0;
    switch (o.op) {
      case 'createGroup':
        op = ConfigOp.CREATE_GROUP;
        a = o.primaryGroup;
        if (!mem.groups.exists(a) || mem.groups.role(a) !== GroupRole.PRIMARY) return rejected(`group ${a} is not a primary group here`);
        break;
      case 'registerPair':
        op = ConfigOp.REGISTER_PAIR;
        a = o.primaryVolume;
        b = o.secondaryVolume;
        if (!mem.volumes.exists(a) || mem.volumes.number(a) === 0) return rejected(`volume ${a} is not defined here`);
        c = mem.volumes.capacityBlocks(a); // the secondary checks its volume against it
        break;
      case 'registerJournalVolume':
        op = ConfigOp.REGISTER_JOURNAL;
        a = o.volume;
        break;
      case 'startCopy':
        op = ConfigOp.START;
        break;
      default:
        return rejected(`unknown instruction '${String((o as { op: unknown }).op)}'`);
    }
    const t = mem.taskWord(link.adapter, mem.geometry.receptionTaskBase);
    if (mem.tasks[t + T.STATE] !== TaskState.FREE) return rejected(`a forwarded instruction to system ${system} is still in progress`);
    mem.tasks[t + T.KIND] = TaskKind.FORWARD;
    mem.tasks[t + FwdWord.OP] = op;
    mem.tasks[t + FwdWord.GROUP] = o.group;
    mem.tasks[t + FwdWord.A] = a;
    mem.tasks[t + FwdWord.B] = b;
    mem.tasks[t + FwdWord.C] = c;
    mem.tasks[t + FwdWord.LINK] = link.number;
    mem.tasks[t + FwdWord.REQUEST_ID] = (mem.tasks[t + FwdWord.REQUEST_ID]! + 1) | 0;
    mem.tasks[t + T.CACHE_SLOT] = -1;
    mem.tasks[t + T.PHASE] = ForwardPhase.SEND;
    Atomics.store(mem.tasks, t + T.STATE, TaskState.READY);
    mem.doorbells.ring(link.adapter);
    return ok();
  }

  /** The answer to the last forwarded instruction to `system`; null while it is on its way. */
  forwardResult(system: number): MaintResult<{ value: number }> | null {
    const { mem } = this;
    const link = mem.config.links.find((l) => l.peerSystem === system);
    if (!link) return rejected(`unknown system ${system}: no link to it is configured`);
    const task = mem.geometry.receptionTaskBase;
    const t = mem.taskWord(link.adapter, task);
    if (mem.tasks[t + T.STATE] !== TaskState.FREE) return null;
    if (mem.tasks[t + T.PHASE] !== ForwardPhase.DONE || mem.tasks[t + T.KIND] !== TaskKind.FORWARD) return rejected(`no forwarded instruction to system ${system} is waiting for collection`);
    mem.tasks[t + T.PHASE] = ForwardPhase.COLLECTED;
    const at = mem.scratchOffset(link.adapter, task);
    const length = Math.min(mem.scratchView.getUint32(at + 8, true), 480);
    let reason = '';
    for (let i = 0; i < length; i++) reason += String.fromCharCode(mem.scratchBytes[at + FWD_RESULT_REASON + i]!);
    const value = mem.scratchView.getUint32(at + 4, true);
    return mem.scratchView.getUint32(at, true) === 0 ? { status: 'ok', reason, data: { value } } : { status: 'rejected', reason };
  }

  /** pairsplit: suspend the pairs of a primary group; writes go to the update bitmaps. */
  suspend(group: number): MaintResult {
    const { mem } = this;
    const g = this.usedGroup(group);
    if (g) return rejected(g);
    if (mem.groups.role(group) !== GroupRole.PRIMARY) return rejected(`group ${group} is not a primary group`);
    return this.locked(group, () => {
      let n = 0;
      for (let i = 0; i < mem.groups.pairCount(group); i++) {
        const pair = mem.groups.pairAt(group, i);
        const s = mem.pairs.state(pair);
        if (s === PairState.NORMAL || s === PairState.COPYING || s === PairState.NOT_COPIED) n++;
      }
      if (n === 0) return rejected(`group ${group} has no pair to suspend`);
      this.journals.suspendGroup(group, SuspendReason.OPERATOR);
      return ok();
    });
  }

  /** pairresync: copy the marked tracks of every suspended pair of a primary group again. */
  resync(group: number): MaintResult {
    const { mem } = this;
    const g = this.usedGroup(group);
    if (g) return rejected(g);
    if (mem.groups.role(group) !== GroupRole.PRIMARY) return rejected(`group ${group} is not a primary group`);
    if (!mem.groups.hasFlag(group, GroupFlag.COPY_STARTED)) return rejected(`group ${group} has not started copying`);
    return this.locked(group, () => {
      let suspended = 0;
      for (let i = 0; i < mem.groups.pairCount(group); i++) if (mem.pairs.state(mem.groups.pairAt(group, i)) === PairState.ABNORMAL) suspended++;
      if (suspended === 0) return rejected(`group ${group} has no suspended pair to resync`);
      if (mem.groups.state(group) !== GroupState.NORMAL) return rejected(`group ${group} is ${GROUP_STATE_NAME[mem.groups.state(group)]}; repair its journal volume first`);
      const unreadable = suspendedWithoutStorage(mem, group);
      if (unreadable !== 0) {
        return rejected(`primary volume ${unreadable} has no storage, so a resync cannot read the tracks it missed; the pair stays suspended and its secondary holds a consistent image up to the suspension`);
      }
      mem.groups.setFlag(group, GroupFlag.RESYNC_PENDING, true);
      mem.doorbells.ring(group % mem.config.channelAdapters);
      return ok();
    });
  }

  /**
   * Takeover on a secondary, step 1: stop pulling journals. Restore keeps applying what the
   * secondary holds; takeoverComplete() then makes the volumes writable.
   */
  takeover(group: number): MaintResult {
    const { mem } = this;
    const g = this.usedGroup(group);
    if (g) return rejected(g);
    if (mem.groups.role(group) !== GroupRole.SECONDARY) return rejected(`group ${group} is not a secondary group`);
    if (mem.groups.hasFlag(group, GroupFlag.TAKEN_OVER)) return rejected(`group ${group} was already taken over`);
    return this.locked(group, () => {
      mem.groups.setFlag(group, GroupFlag.READ_STOPPED, true);
      // The primary may have reported 障害 (S1735) and ended restore (S2015): what the
      // secondary holds is still applied, so restore runs again for the takeover.
      if (mem.groups.state(group) === GroupState.FAILURE) mem.groups.setState(group, GroupState.NORMAL);
      const adapter = this.readAdapter(group);
      const t = mem.taskWord(adapter, mem.serviceTask(group, GroupService.RESTORE));
      if (mem.tasks[t + T.STATE] === TaskState.FREE && mem.groups.state(group) === GroupState.NORMAL) {
        Restore.start(mem.tasks, t, group);
        mem.doorbells.ring(adapter);
      }
      this.trace(`group ${group}: takeover requested; journal reads stop, restore drains`);
      return ok();
    });
  }

  /**
   * Takeover, step 2: once every stored journal is restored, the secondary volumes become normal
   * (writable). Returns the last applied update number and the time of that write (the RPO).
   */
  takeoverComplete(group: number): MaintResult<{ restoredNumber: number; restoredTimeMs: number; pairs: number }> {
    const { mem } = this;
    const g = this.usedGroup(group);
    if (g) return rejected(g);
    if (!mem.groups.hasFlag(group, GroupFlag.READ_STOPPED)) return rejected(`group ${group}: request takeover first`);
    return this.locked(group, () => {
      const set = group * mem.config.readersMax;
      const readTask = mem.taskWord(this.readAdapter(group), mem.serviceTask(group, GroupService.JOURNAL_READ));
      if (mem.tasks[readTask + T.STATE] !== TaskState.FREE && mem.tasks[readTask + T.PHASE] !== 4 /* STOPPED */ && mem.tasks[readTask + T.PHASE] !== 0) {
        return rejected(`group ${group}: a journal read is still in flight; retry`);
      }
      if (mem.groups.state(group) === GroupState.NORMAL && mem.pointers.get(set, 'ui_oldest') !== mem.pointers.get(set, 'ui_newest')) {
        return rejected(`group ${group}: ${usedBytes(mem.pointers.get(set, 'ui_newest'), mem.pointers.get(set, 'ui_oldest'), mem.pointers.get(set, 'wd_head') - mem.pointers.get(set, 'ui_head')) / UI_SLOT_BYTES} journals still to restore; retry`);
      }
      let pairs = 0;
      for (let i = 0; i < mem.groups.pairCount(group); i++) {
        const pair = mem.groups.pairAt(group, i);
        const volume = mem.pairs.secondaryVolume(pair);
        if (mem.volumes.state(volume) === VolumeState.SECONDARY) {
          mem.volumes.setState(volume, VolumeState.NORMAL);
          pairs++;
        }
      }
      mem.groups.setFlag(group, GroupFlag.TAKEN_OVER, true);
      const restoredNumber = mem.groups.restoredNumber(group);
      const restoredTimeMs = mem.groups.f64(group, 'restored_time_ms');
      this.trace(`group ${group}: taken over at update number ${restoredNumber}; ${pairs} secondary volumes are now writable`);
      return ok({ restoredNumber, restoredTimeMs, pairs });
    });
  }

  /**
   * Holds restore at the next journal boundary (or lets it go on). While held, the secondary
   * volumes are a consistent image as of `restoredNumber` — what a checker or a backup reads.
   */
  pauseRestore(group: number, paused: boolean): MaintResult<{ atBoundary: boolean; restoredNumber: number }> {
    const { mem } = this;
    const g = this.usedGroup(group);
    if (g) return rejected(g);
    if (mem.groups.role(group) !== GroupRole.SECONDARY) return rejected(`group ${group} is not a secondary group`);
    mem.groups.setFlag(group, GroupFlag.RESTORE_PAUSED, paused);
    const adapter = this.readAdapter(group);
    const t = mem.taskWord(adapter, mem.serviceTask(group, GroupService.RESTORE));
    const atBoundary = mem.tasks[t + T.STATE] === TaskState.FREE || mem.tasks[t + T.PHASE] === 0;
    return ok({ atBoundary, restoredNumber: mem.groups.restoredNumber(group) });
  }

  /** Pair deletion: the volume returns to 正常 and the pair number to 未使用. */
  deletePair(pair: number): MaintResult {
    const { mem } = this;
    if (!mem.pairs.exists(pair) || mem.pairs.state(pair) === PairState.UNUSED) return rejected(`pair ${pair} is not in use`);
    const group = mem.pairs.groupNumber(pair);
    return this.locked(group, () => {
      const primary = mem.groups.role(group) === GroupRole.PRIMARY || (mem.pairs.flags(pair) & PairFlag.SYNC) !== 0;
      const volume = primary ? mem.pairs.primaryVolume(pair) : mem.pairs.secondaryVolume(pair);
      // A write in flight may still be journaling or forwarding for this pair.
      const { tasks, geometry } = mem;
      for (let task = 0; task < geometry.processors * geometry.tasksPerProcessor; task++) {
        const t = task * TASK_WORDS;
        if (tasks[t + T.STATE] !== TaskState.FREE && namesVolume(tasks[t + T.KIND]!) && (tasks[t + T.VOLUME] === volume || tasks[t + T.PAIR] === pair)) {
          return rejected(`pair ${pair} has commands in progress; retry when they have completed`);
        }
      }
      if (mem.volumes.state(volume) === VolumeState.PRIMARY || mem.volumes.state(volume) === VolumeState.SECONDARY) mem.volumes.setState(volume, VolumeState.NORMAL);
      mem.volumes.setPairNumber(volume, 0);
      mem.groups.removePair(group, pair);
      mem.pairs.clear(pair);
      this.bitmaps.clearAll(volume);
      this.trace(`pair ${pair}: deleted (volume ${volume} -> normal)`);
      return ok();
    });
  }

  /** pairdisplay: the group's states, progress, journal usage, numbers and lag. */
  groupStatus(group: number): MaintResult<GroupView> {
    const { mem } = this;
    if (!mem.groups.exists(group)) return rejected(`group ${group} is outside 1..${mem.groups.count - 1}`);
    if (mem.groups.state(group) === GroupState.UNUSED) return rejected(`group ${group} is unused`);
    const pairs: PairView[] = [];
    for (let i = 0; i < mem.groups.pairCount(group); i++) {
      const pair = mem.groups.pairAt(group, i);
      const primaryVolume = mem.pairs.primaryVolume(pair);
      const state = mem.pairs.state(pair);
      const primary = mem.groups.role(group) === GroupRole.PRIMARY;
      const capacity = primary ? mem.volumes.capacityBlocks(primaryVolume) : 0;
      pairs.push({
        pair,
        state: PAIR_STATE_NAME[state] ?? 'unknown',
        primarySystem: mem.pairs.primarySystem(pair),
        primaryVolume,
        secondarySystem: mem.pairs.secondarySystem(pair),
        secondaryVolume: mem.pairs.secondaryVolume(pair),
        copiedPercent: state === PairState.NORMAL ? 100 : state === PairState.COPYING && capacity > 0 && (mem.pairs.flags(pair) & PairFlag.RESYNC) === 0 ? (100 * mem.pairs.copiedBlocks(pair)) / capacity : 0,
        resync: (mem.pairs.flags(pair) & PairFlag.RESYNC) !== 0,
        differentialTracks: primary ? this.bitmaps.count(primaryVolume) : 0,
      });
    }
    const readers: GroupView['readers'] = [];
    let usage = 0;
    let held = 0;
    for (let r = 0; r < mem.config.readersMax; r++) {
      const s = group * mem.config.readersMax + r;
      if (mem.pointers.groupNumber(s) !== group) continue;
      const p = mem.pointers;
      const geometry = { uiHead: p.get(s, 'ui_head'), wdHead: p.get(s, 'wd_head'), capacity: p.get(s, 'capacity_bytes') };
      const u = journalUsage(p.get(s, 'ui_newest'), p.get(s, 'ui_oldest'), p.get(s, 'wd_newest'), p.get(s, 'wd_oldest'), geometry);
      usage = Math.max(usage, u);
      held = Math.max(held, usedBytes(p.get(s, 'ui_newest'), p.get(s, 'ui_oldest'), geometry.wdHead - geometry.uiHead) / UI_SLOT_BYTES);
      if (p.readerSystem(s) !== 0) readers.push({ system: p.readerSystem(s), readNumber: p.get(s, 'read_number'), oldestNumber: p.get(s, 'oldest_number'), usage: u, lastReadMs: p.get(s, 'last_read_ms') });
    }
    const g = mem.groups;
    return ok({
      group,
      state: GROUP_STATE_NAME[g.state(group)] ?? 'unknown',
      role: GROUP_ROLE_NAME[g.role(group)] ?? 'unknown',
      journalVolume: g.journalVolume(group, 0),
      pairs,
      suspendReason: SUSPEND_REASON_NAME[g.u8(group, 'suspend_reason')] ?? 'unknown',
      nextUpdateNumber: g.updateNumber(group),
      journalsCreated: g.f64(group, 'journals_created'),
      journalsSent: g.f64(group, 'journals_sent'),
      journalsRestored: g.f64(group, 'journals_restored'),
      restoredNumber: g.restoredNumber(group),
      receivedNumber: g.f64(group, 'received_number'),
      restoredTimeMs: g.f64(group, 'restored_time_ms'),
      journalUsage: usage,
      journalsHeld: held,
      readers,
      primaryUsage: g.f64(group, 'primary_usage'),
      failingSinceMs: g.f64(group, 'failing_since_ms'),
      readPolicy: READ_POLICY_NAME[g.u8(group, 'read_policy')] ?? 'unknown',
      readWindow: g.role(group) === GroupRole.SECONDARY ? JournalRead.windowOf(mem, group) : 0,
      readLinks: g.role(group) === GroupRole.SECONDARY ? [0, 1, 2, 3].map((i) => g.readLink(group, i)).filter((n) => n !== 0) : [],
      takenOver: g.hasFlag(group, GroupFlag.TAKEN_OVER),
    });
  }

  /** The channel adapter that runs a secondary group's journal read and restore (its link's owner). */
  private readAdapter(group: number): number {
    return this.mem.config.links.find((l) => l.number === this.mem.groups.u32(group, 'link_number'))?.adapter ?? 0;
  }

  private usedGroup(group: number): string | null {
    const { mem } = this;
    if (!mem.groups.exists(group)) return `group ${group} is outside 1..${mem.groups.count - 1}`;
    if (mem.groups.state(group) === GroupState.UNUSED) return `group ${group} is unused (S900 first)`;
    return null;
  }

  private locked<T>(group: number, body: () => MaintResult<T>): MaintResult<T> {
    const lock = this.mem.lockMap.groupBase + group;
    this.mem.locks.lock(lock);
    try {
      return body();
    } finally {
      this.mem.locks.unlock(lock);
    }
  }
}

