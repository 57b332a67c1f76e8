// One simulation run: boots a seed's scenario on the deterministic runtime (every processor of
// every system in one thread, seeded interleaving, virtual time), drives the host workload on the
// primary, strikes and heals the faults, and checks with independent checkers:
//
//   acknowledged  the primary accepts every host write, whatever the faults (journal full, link
//                 down): a write is never refused or lost on the primary
//   prefix        at each check, each secondary's volumes equal the primary's initial image plus
//                 writes 1..k for some k, and k never decreases — within a consistent epoch, i.e.
//                 once initial copy (or a resync) has ended and the secondary has restored every
//                 journal made until then
//   convergence   once the faults are healed (and a journal-full suspension resynced), every
//                 secondary equals the primary byte for byte and its group is normal
//   takeover      when the primary site is lost, each secondary applies what it holds and is a
//                 prefix at least as long as the last one checked
//
// The first violation ends the run; the result names the seed and the scenario so it can be
// replayed exactly (`npm run sim -- --seed N --trace`).

import { BLOCK_BYTES } from '../../firmware/config.ts';
import { Reason, ScsiStatus } from '../../hal/host-port.ts';
import { MemoryDrive } from '../../hal/memory-drive.ts';
import { scanJournal } from '../../firmware/journal-scan.ts';
import { TASK_WORDS, TaskState, TaskWord as T, stageWaitSlot } from '../../firmware/structs/task.ts';
import { Prng } from '../../hal/runtime/prng.ts';
import type { StorageSystem } from '../system.ts';
import { Topology } from '../topology.ts';
import { WriteHistory } from './history.ts';
import { DATA_DRIVE, DATA_VOLUMES, JOURNAL_DRIVE, JOURNAL_VOLUME, UPSTREAM, VOLUME_BLOCKS, describeScenario, hasUpstream, scenarioOf, SYSTEM_FAULTS, topologyOf, type Fault, type Scenario } from './scenario.ts';

export interface SimOptions {
  /** Override the scenario's number of host writes. */
  writes?: number;
  /** Receives every trace line (firmware state changes and the simulator's own events) as it happens. */
  trace?: (line: string) => void;
  /** Called on a violation before power-off, with the live topology and the write history (debugging). */
  inspect?: (topo: Topology, history: WriteHistory) => Promise<void> | void;
}

export interface SimResult {
  seed: number;
  scenario: string;
  ok: boolean;
  violation: string | null;
  writes: number;
  checks: number;
  /** Longest prefix seen per secondary at the end (takeover) or the last check. */
  prefixes: Record<number, number>;
  faults: Record<string, number>;
  /** What power losses did to the drives: unflushed blocks, those that reverted, writes left torn. */
  torn: { unflushedBlocks: number; revertedBlocks: number; tornWrites: number };
  /** Journal volumes scanned from their drives after power-off (all found intact, or the run failed). */
  journalScans: number;
  /** Host writes a volume refused because its drive had failed (not acknowledged). */
  refused: number;
  virtualMs: number;
  steps: number;
  /** The last trace lines before the end (all of them on a violation). */
  traceTail: string[];
}

class Violation extends Error {}

const STEPS_MAX = 60_000_000;
/** How often (virtual ms) a wait re-evaluates its condition: status views are not free. */
const POLL_MS = 0.05;

export async function runSeed(seed: number, o: SimOptions = {}): Promise<SimResult> {
  const sc = scenarioOf(seed, o.writes !== undefined ? { writes: o.writes } : {});
  const tail: string[] = [];
  let topo: Topology | null = null;
  let t0: number | null = null;
  const note = (line: string): void => {
    const now = topo?.deterministic?.clock.nowMs() ?? 0;
    t0 ??= now;
    const stamped = `${(now - t0).toFixed(3).padStart(10)} ms  ${line}`;
    tail.push(stamped);
    if (tail.length > 200) tail.shift();
    o.trace?.(stamped);
  };
  const result: SimResult = {
    seed, scenario: describeScenario(sc), ok: false, violation: null, writes: 0, checks: 0, prefixes: {}, faults: {}, torn: { unflushedBlocks: 0, revertedBlocks: 0, tornWrites: 0 }, journalScans: 0, refused: 0, virtualMs: 0, steps: 0, traceTail: tail,
  };
  const { configs, links, hostLinks } = topologyOf(sc);
  topo = await Topology.boot(configs, links, { runtime: 'deterministic', seed, faults: true, persistentDrives: true, trace: (line) => note(line) }, hostLinks);
  const sim = new Simulation(sc, topo, note, result);
  try {
    await sim.run();
    result.ok = true;
  } catch (e) {
    if (!(e instanceof Violation)) {
      result.violation = `the simulator stopped: ${e instanceof Error ? e.message : String(e)}`;
    } else {
      result.violation = e.message;
    }
    note(`VIOLATION: ${result.violation}`);
    await o.inspect?.(topo, sim.history);
  } finally {
    result.virtualMs = topo.deterministic!.clock.nowMs() - (t0 ?? topo.deterministic!.clock.nowMs());
    result.steps = topo.deterministic!.steps;
    try {
      await topo.powerOff();
    } catch (e) {
      if (result.ok) {
        result.ok = false;
        result.violation = `power-off failed: ${e instanceof Error ? e.message : String(e)}`;
      }
    }
    if (result.ok) {
      const problem = sim.durable();
      if (problem !== null) {
        result.ok = false;
        result.violation = problem;
        note(`VIOLATION: ${problem}`);
      }
    }
  }
  return result;
}

interface Epoch {
  /**
   * copying: initial copy or a resync runs (the secondary is not meant to be consistent);
   * sending: it has ended at update number `sentBy`, but journals up to it may still be unsent —
   * and an initial-copy journal carries the primary's data as of its sending ([0080]), newer than
   * the journals around it; draining: all of them are sent, so once the secondary has restored
   * everything created until then (`boundary`) its image is a prefix again.
   */
  phase: 'copying' | 'sending' | 'draining';
  sentBy: number;
  boundary: number;
  lastK: number;
}

class Simulation {
  private readonly primary: StorageSystem;
  /** The system the host writes to: the primary, or the upstream of a cascade. */
  private readonly writer: StorageSystem;
  private readonly secondaries: StorageSystem[];
  readonly history = new WriteHistory(DATA_VOLUMES, VOLUME_BLOCKS);
  private readonly rng: Prng;
  private readonly heals: Array<{ at: number; what: string; heal: () => void }> = [];
  private readonly epochs = new Map<number, Epoch>();
  private readonly restorePausedByFault = new Set<number>();
  /** A drive fault struck the primary's journal: the copy may end (group failure); the run ends with a takeover. */
  private degraded = false;
  /** Drives a fault failed ("system/drive"): their volumes may be abnormal for good. */
  private readonly failedDrives = new Set<string>();

  constructor(private readonly sc: Scenario, private readonly topo: Topology, private readonly note: (line: string) => void, private readonly result: SimResult) {
    this.primary = topo.system(1);
    this.writer = hasUpstream(sc) ? topo.system(UPSTREAM) : this.primary;
    this.secondaries = sc.secondaries.map((s) => topo.system(s));
    this.rng = new Prng((sc.seed ^ 0xa11ce) >>> 0);
    for (const s of sc.secondaries) this.epochs.set(s, { phase: 'copying', sentBy: 0, boundary: 0, lastK: 0 });
  }

  async run(): Promise<void> {
    this.setUp();
    for (let i = 1; i <= this.sc.writes; i++) {
      for (const f of this.sc.faults) if (f.at === i) this.strike(f);
      for (const h of this.heals.filter((x) => x.at === i)) this.healOne(h);
      await this.hostWrite();
      await this.topo.pass(this.rng.next() * this.sc.thinkMs);
      if (i % this.sc.checkEvery === 0) await this.checkAll();
    }
    for (const h of [...this.heals]) this.healOne(h);
    if (this.sc.ending === 'converge' && !this.degraded) await this.converge();
    else await this.primaryLost();
  }

  private setUp(): void {
    const ok = (what: string, r: { status: string; reason: string }): void => {
      if (r.status !== 'ok') throw new Violation(`setup: ${what} rejected: ${r.reason}`);
    };
    ok('primary group', this.primary.copy.createGroup(1, { role: 'primary', ...this.sc.primaryGroup }));
    for (const s of this.secondaries) {
      ok(`group on ${s.config.systemNumber}`, s.copy.createGroup(1, { role: 'secondary', partnerSystem: 1, partnerGroup: 1, link: 1, ...this.sc.secondaryGroups.get(s.config.systemNumber) }));
    }
    for (const v of DATA_VOLUMES) {
      ok('primary pair', this.primary.copy.registerPair(1, { primaryVolume: v, secondarySystem: this.sc.secondaries[0]!, secondaryVolume: v }));
      for (const s of this.secondaries) ok('secondary pair', s.copy.registerPair(1, { primarySystem: 1, primaryVolume: v, secondaryVolume: v }));
    }
    ok('primary journal', this.primary.copy.registerJournalVolume(1, JOURNAL_VOLUME));
    for (const s of this.secondaries) {
      ok('secondary journal', s.copy.registerJournalVolume(1, JOURNAL_VOLUME));
      ok('secondary start', s.copy.startCopy(1));
    }
    // A journal-only intermediate has nothing to copy from: both sides start equal (all zero).
    ok('primary start', this.primary.copy.startCopy(1, { readers: this.sc.secondaries, noCopy: this.sc.topology === 'journal-only' }));
    if (hasUpstream(this.sc)) {
      const upstream = this.writer;
      const reachable = (system: number): boolean => upstream.shared.remotes?.some((r) => r.system === system) ?? false;
      for (const v of DATA_VOLUMES) ok(`synchronous pair of volume ${v}`, upstream.copy.registerSyncPair(v, 1, v, reachable));
    }
    this.note(`sim: ${describeScenario(this.sc)}`);
  }

  /** Waits (in virtual time) until `condition` holds, evaluating it every POLL_MS. */
  private async until(condition: () => boolean, what: string): Promise<void> {
    const clock = this.topo.deterministic!.clock;
    let next = clock.nowMs();
    await this.topo.until(() => {
      if (clock.nowMs() < next) return false;
      next = clock.nowMs() + POLL_MS;
      return condition();
    }, what, { steps: STEPS_MAX });
  }

  private linkOf(f: Fault): ReturnType<Topology['linksBetween']>[number] {
    const handle = this.topo.linksBetween(1, f.secondary)[f.link];
    if (!handle) throw new Error(`scenario names link ${f.link} of system ${f.secondary}, which does not exist`);
    return handle;
  }

  private strike(f: Fault): void {
    this.result.faults[f.kind] = (this.result.faults[f.kind] ?? 0) + 1;
    const where = `link ${f.link + 1} of system ${f.secondary}`;
    const until = f.at + f.lasts;
    switch (f.kind) {
      case 'cut': {
        const link = this.linkOf(f);
        link.cut();
        this.heals.push({ at: until, what: `restore ${where}`, heal: () => link.restore() });
        break;
      }
      case 'flap': {
        const link = this.linkOf(f);
        link.cut();
        // It comes back and goes again `amount` times over the next writes.
        for (let k = 1; k <= f.amount; k++) {
          this.heals.push({ at: f.at + 2 * k - 1, what: `restore ${where} (flap)`, heal: () => link.restore() });
          if (k < f.amount) this.heals.push({ at: f.at + 2 * k, what: `cut ${where} (flap)`, heal: () => link.cut() });
        }
        break;
      }
      case 'delay': {
        const link = this.linkOf(f);
        link.setDelay(f.amount);
        this.heals.push({ at: until, what: `no delay on ${where}`, heal: () => link.setDelay(0) });
        break;
      }
      case 'drop':
      case 'duplicate':
      case 'reorder':
      case 'corrupt':
        this.linkOf(f).injectFaults({ [f.kind]: f.amount });
        break;
      case 'journal-read-error':
      case 'journal-drive-failure': {
        // The primary's journal drive: media errors on reads of the journal volume, or the whole drive failed.
        const drive = this.primary.faults(JOURNAL_DRIVE);
        if (f.kind === 'journal-read-error') drive.failReads(0, this.sc.journalBlocks - 1);
        else drive.failDrive();
        this.degraded = true;
        this.heals.push({ at: until, what: 'the primary journal drive is healthy again', heal: () => drive.heal() });
        break;
      }
      case 'power-loss':
        if (f.processor !== 0) {
          // Two in three strike inside a disk adapter's drive operation: the adapter stops in the
          // middle of its iteration (a destage written but not flushed, slot locks held).
          const system = this.topo.system(f.system);
          if (!system.allProcessorsUp()) {
            this.note(`sim: power loss of system ${f.system} skipped (it is already down)`);
            break;
          }
          const drive = this.rng.below(2) === 0 ? DATA_DRIVE : JOURNAL_DRIVE;
          const operations = 1 + this.rng.below(6);
          system.armPowerFailure(drive, operations, f.amount, () => this.tearDrives(system));
          this.note(`sim: system ${f.system} loses its power during operation ${operations} from now on drive ${drive}`);
          this.topo.deterministic!.once(5, () => {
            if (!system.disarmPowerFailure()) return;
            this.note(`sim: drive ${drive} of system ${f.system} did no ${operations} operations in 5 ms: the power goes now`);
            system.powerLoss(f.amount, () => this.tearDrives(system));
          });
          break;
        }
        // One in three strikes at a loop-iteration boundary, in the middle of host work.
        this.strikeBetweenIterations(f);
        break;
      case 'processor-reset':
        this.strikeBetweenIterations(f);
        break;
      case 'power-cycle': {
        const system = this.topo.system(f.system);
        if (system.allProcessorsUp()) system.powerCycle(f.amount);
        else this.note(`sim: power cycle of system ${f.system} skipped (a processor is down)`);
        break;
      }
      case 'data-drive-failure':
      case 'secondary-journal-failure': {
        // A whole drive of one system fails, and is healed (replaced) later: its volumes go
        // abnormal (their dirty data stays in cache), and the copy is not expected to converge.
        const system = this.topo.system(f.system);
        const drive = system.faults(f.kind === 'data-drive-failure' ? DATA_DRIVE : JOURNAL_DRIVE);
        drive.failDrive();
        this.degraded = true;
        this.failedDrives.add(`${f.system}/${f.kind === 'data-drive-failure' ? DATA_DRIVE : JOURNAL_DRIVE}`);
        this.heals.push({ at: until, what: `drive of system ${f.system} replaced`, heal: () => drive.heal() });
        break;
      }
      case 'pause-restore': {
        const s = this.topo.system(f.secondary);
        s.copy.pauseRestore(1, true);
        this.restorePausedByFault.add(f.secondary);
        this.heals.push({
          at: until,
          what: `restore resumes on system ${f.secondary}`,
          heal: () => {
            this.restorePausedByFault.delete(f.secondary);
            s.copy.pauseRestore(1, false);
          },
        });
        break;
      }
    }
    const target = f.kind === 'processor-reset' ? `processor ${f.processor} of system ${f.system}` : f.kind === 'data-drive-failure' || f.kind === 'secondary-journal-failure' ? `drive ${f.kind === 'data-drive-failure' ? DATA_DRIVE : JOURNAL_DRIVE} of system ${f.system}` : SYSTEM_FAULTS.includes(f.kind) ? `system ${f.system}` : f.kind === 'pause-restore' ? `system ${f.secondary}` : this.degraded && (f.kind === 'journal-read-error' || f.kind === 'journal-drive-failure') ? 'the primary journal drive' : where;
    this.note(`sim: fault ${f.kind} (${f.amount}) on ${target} before write ${f.at}`);
  }

  /**
   * Durability, after the final power-off: what the drives promise to keep — the flushed image,
   * as a power loss now would leave it — holds every acknowledged write on the system the host
   * wrote to (and on a cascade's primary, which acknowledged each write before the upstream did).
   * Null when it does.
   */
  durable(): string | null {
    const holders = [this.writer, ...(this.sc.topology === 'cascade' ? [this.primary] : [])];
    for (const system of holders) {
      if (this.failedDrives.has(`${system.config.systemNumber}/${DATA_DRIVE}`)) continue; // its dirty data stays in cache, undestageable
      const persistence = system.persistence(DATA_DRIVE);
      const image = new Map<number, Uint8Array>();
      for (const v of DATA_VOLUMES) {
        const at = system.config.volumes.find((x) => x.number === v)!.startBlock ?? 0;
        image.set(v, persistence.readDurable(at, VOLUME_BLOCKS));
      }
      const verdict = this.history.prefixOf(image);
      if (!verdict.ok || verdict.k !== this.history.writes.length) {
        return `system ${system.config.systemNumber}: its drives do not hold every acknowledged write after power-off: ${verdict.ok ? `only 1..${verdict.k} of ${this.history.writes.length}` : verdict.problem}`;
      }
    }
    return this.journalIntact();
  }

  /**
   * The primary's journal volume, scanned from its drive after power-off (firmware/journal-scan.ts
   * reads the bytes, not the pointers): every record from the oldest one still held to the last
   * one created is there, valid by checksum and update number, with no torn tail and nothing
   * discarded after a gap — whatever power losses tore on the way. Null when it is.
   */
  private journalIntact(): string | null {
    if (this.degraded) return null; // the journal drive failed or lost blocks on purpose
    const mem = this.primary.mem;
    const created = mem.groups.updateNumber(1) - 1;
    if (created === 0) return null;
    if (this.primary.persistence(JOURNAL_DRIVE).unflushedBlocks() !== 0) return `system 1: the journal drive holds unflushed writes after power-off`;
    let set = -1;
    let from = Infinity;
    for (let r = 0; r < mem.config.readersMax; r++) {
      const s = mem.config.readersMax + r; // group 1's pointer sets
      if (mem.pointers.groupNumber(s) !== 1) continue;
      if (set < 0) set = s;
      from = Math.min(from, mem.pointers.get(s, 'oldest_number'));
    }
    if (set < 0) return null;
    const volume = this.sc.journalBlocks;
    const buffer = this.primary.memoryDrives.get(JOURNAL_DRIVE)!;
    const report = scanJournal({
      drive: new MemoryDrive(buffer, buffer.byteLength / BLOCK_BYTES),
      startBlock: 0,
      volumeBlocks: volume,
      geometry: { uiHead: mem.pointers.get(set, 'ui_head'), wdHead: mem.pointers.get(set, 'wd_head'), capacity: mem.pointers.get(set, 'capacity_bytes'), uiSlot: mem.pointers.uiSlotBytes(set) },
      journalVolume: JOURNAL_VOLUME,
      group: 1,
      dataBlocksMax: mem.config.maxTransferBytes / BLOCK_BYTES,
      // Everything released (a converged run) still leaves the newest record's bytes in place.
      from: Math.min(from, created),
    });
    this.result.journalScans++;
    const wrong = report.status !== 'ok' ? `scan status ${report.status}` :
      report.newest !== created ? `newest record ${report.newest}, but ${created} were created` :
      report.tornTail !== null ? `a torn tail at slot ${report.tornTail.slot} (${report.tornTail.reason})` :
      report.discardedAfterGap !== 0 ? `${report.discardedAfterGap} records beyond a gap` :
      report.fromHeld !== true ? `records ${Math.min(from, created)}..${created} are not all there (${report.front})` : null;
    return wrong === null ? null : `system 1: the journal volume on its drive is not intact after power-off: ${wrong}; ${report.problems.slice(0, 3).join('; ')}`;
  }

  /** A power loss: each drive of the system loses or tears the writes it had not flushed. */
  private tearDrives(system: StorageSystem): void {
    for (const d of system.config.drives) {
      const r = system.persistence(d.number).powerLoss(() => this.rng.next());
      const t = this.result.torn;
      t.unflushedBlocks += r.unflushedBlocks;
      t.revertedBlocks += r.revertedOld;
      t.tornWrites += r.tornWrites ?? 0;
      if (r.unflushedBlocks > 0) this.note(`sim: drive ${d.number} of system ${system.config.systemNumber} lost power with ${r.unflushedBlocks} unflushed blocks: ${r.keptNew} reached the medium, ${r.revertedOld} did not (${r.tornWrites ?? '?'} writes torn)`);
    }
  }

  /** A processor reset, or a power loss, at a loop-iteration boundary while the processor has work in hand. */
  private strikeBetweenIterations(f: Fault): void {
    // Strikes in the middle of the work: once the processor (any channel adapter, for a power
    // loss) has a host command in progress or a stage outstanding, or after 2 ms at the latest.
    const system = this.topo.system(f.system);
    this.topo.deterministic!.once(2, () => {
      if (!system.allProcessorsUp()) {
        this.note(`sim: ${f.kind} on system ${f.system} skipped (it is already down)`);
        return;
      }
      if (f.kind === 'processor-reset') system.resetProcessor(f.processor, f.amount);
      else system.powerLoss(f.amount, () => this.tearDrives(system));
    }, () => busyProcessor(system, f.kind === 'power-loss' ? -1 : f.processor));
  }

  private healOne(h: { at: number; what: string; heal: () => void }): void {
    const i = this.heals.indexOf(h);
    if (i >= 0) this.heals.splice(i, 1);
    h.heal();
    this.note(`sim: ${h.what}`);
  }

  private async hostWrite(): Promise<void> {
    const volume = DATA_VOLUMES[this.rng.below(DATA_VOLUMES.length)]!;
    const blocks = 1 + this.rng.below(this.sc.maxWriteBlocks);
    const block = this.rng.below(VOLUME_BLOCKS - blocks + 1);
    const data = this.history.dataFor(volume, block, blocks);
    const r = await this.writer.host.write(this.history.writes.length % 2, volume, block, data);
    if (r.status !== ScsiStatus.GOOD) {
      // A volume whose drive failed refuses writes (HARDWARE ERROR, volume abnormal): not acknowledged, not counted.
      if (r.reason === Reason.VOLUME_ABNORMAL && this.failedDrives.has(`${this.writer.config.systemNumber}/${DATA_DRIVE}`)) {
        this.result.refused++;
        return;
      }
      throw new Violation(`host write ${this.history.writes.length + 1} (volume ${volume} block ${block}) refused: ${r.reasonText}`);
    }
    this.history.record(volume, block, blocks);
    this.result.writes++;
  }

  /** The primary's pairs all normal and none resyncing: journals alone carry every change. */
  private primaryInSync(): boolean {
    const p = this.primary.copy.groupStatus(1).data!;
    return p.pairs.every((x) => x.state === 'normal' && !x.resync);
  }

  /**
   * Whether journals alone carry every change the secondary gets: no pair copies volume contents
   * (initial copy or resync). A suspension keeps that true once every copy journal has been sent
   * (the epoch is draining) — writes after it are not sent at all, so the secondary stays a
   * prefix. A suspension earlier does not: a copy journal sent after it carries the volume's
   * contents as of sending ([0080]), writes made after the suspension included, so the secondary
   * is inconsistent until a resync. `sinceNormal` says the epoch is past that point.
   */
  private journalsOnly(sinceNormal: boolean): boolean {
    const p = this.primary.copy.groupStatus(1).data!;
    if (p.pairs.some((x) => x.resync || (x.state !== 'normal' && x.state !== 'abnormal'))) return false;
    return sinceNormal || p.pairs.every((x) => x.state === 'normal');
  }

  private async checkAll(): Promise<void> {
    const p = this.primary.copy.groupStatus(1).data!;
    const made = p.nextUpdateNumber - 1;
    for (const s of this.secondaries) {
      const n = s.config.systemNumber;
      const epoch = this.epochs.get(n)!;
      if (!this.journalsOnly(epoch.phase === 'draining')) {
        if (epoch.phase !== 'copying') this.note(`sim: system ${n} leaves its consistent epoch (initial copy or resync)`);
        epoch.phase = 'copying';
        continue;
      }
      if (epoch.phase === 'copying') {
        epoch.phase = 'sending';
        epoch.sentBy = made;
      }
      if (epoch.phase === 'sending') {
        const reader = p.readers.find((r) => r.system === n);
        if (!reader || reader.readNumber <= epoch.sentBy) continue;
        epoch.phase = 'draining';
        epoch.boundary = made;
        epoch.lastK = 0;
        this.note(`sim: system ${n} consistent once it has restored ${epoch.boundary}`);
      }
      if (this.failedDrives.has(`${n}/${DATA_DRIVE}`)) continue; // its volumes are abnormal: nothing to read
      const q = s.copy.groupStatus(1).data!;
      if (q.state !== 'normal') {
        if (this.degraded) continue; // the primary's journal failed: S1735 ends the copy
        throw new Violation(`system ${n}: secondary group is ${q.state} with no fault that should cause it`);
      }
      if (q.restoredNumber < epoch.boundary) continue;
      const k = await this.prefixOf(s);
      if (k < epoch.lastK) throw new Violation(`system ${n}: prefix went back from write ${epoch.lastK} to ${k}`);
      epoch.lastK = k;
      this.result.prefixes[n] = k;
      this.result.checks++;
    }
  }

  /** Pauses restore at a journal boundary, reads the secondary's volumes and checks them against the history. */
  private async prefixOf(s: StorageSystem): Promise<number> {
    const n = s.config.systemNumber;
    s.copy.pauseRestore(1, true);
    await this.until(() => s.copy.pauseRestore(1, true).data!.atBoundary, `system ${n}: restore paused at a journal boundary`);
    const contents = await readVolumes(s);
    if (!this.restorePausedByFault.has(n)) s.copy.pauseRestore(1, false);
    const verdict = this.history.prefixOf(contents);
    if (!verdict.ok) throw new Violation(`system ${n}: not a prefix of the primary's writes: ${verdict.problem}`);
    return verdict.k;
  }

  private async converge(): Promise<void> {
    let resynced = false;
    let unrepairable = false;
    const target = (): number => this.primary.copy.groupStatus(1).data!.nextUpdateNumber - 1;
    const done = (): boolean => {
      const p = this.primary.copy.groupStatus(1).data!;
      if (this.sc.topology === 'journal-only' && p.pairs.some((x) => x.state === 'abnormal')) {
        // A journal-only intermediate has no data to resync from: the suspension stays.
        unrepairable = true;
        return true;
      }
      if (!resynced && p.pairs.some((x) => x.state === 'abnormal') && p.suspendReason === 'journal full') {
        // The operator's resync after a journal-full suspension (a link-failure one resyncs by itself).
        resynced = true;
        const r = this.primary.copy.resync(1);
        this.note(`sim: resync after journal full: ${r.status} ${r.reason}`);
      }
      return this.primaryInSync() && this.secondaries.every((s) => s.copy.groupStatus(1).data!.restoredNumber >= target());
    };
    try {
      await this.until(done, 'convergence');
    } catch {
      const p = this.primary.copy.groupStatus(1).data!;
      const qs = this.secondaries.map((s) => { const q = s.copy.groupStatus(1).data!; return `system ${s.config.systemNumber} ${q.state} restored ${q.restoredNumber} received ${q.receivedNumber}`; });
      throw new Violation(`no convergence: primary pairs ${p.pairs.map((x) => x.state).join('/')} (${p.suspendReason}), next update ${p.nextUpdateNumber}; ${qs.join('; ')}`);
    }
    if (unrepairable) {
      const r = this.primary.copy.resync(1);
      if (r.status === 'ok' || !r.reason.includes('has no storage')) throw new Violation(`a journal-only intermediate accepted a resync it cannot do: ${r.status} ${r.reason}`);
      this.note(`sim: the journal-only intermediate's pairs are suspended for good (${r.reason}); the secondary takes over`);
      await this.primaryLost();
      return;
    }
    const want = await readVolumes(this.writer);
    const image = this.history.prefixOf(want);
    if (!image.ok || image.k !== this.history.writes.length) throw new Violation(`the ${hasUpstream(this.sc) ? 'upstream' : 'primary'} does not hold every acknowledged write: ${image.ok ? `only 1..${image.k}` : image.problem}`);
    if (this.sc.topology === 'cascade') {
      // Synchronous: the primary holds exactly what the upstream acknowledged.
      const held = this.history.prefixOf(await readVolumes(this.primary));
      if (!held.ok || held.k !== this.history.writes.length) throw new Violation(`the primary does not hold every write the upstream acknowledged: ${held.ok ? `only 1..${held.k}` : held.problem}`);
    }
    for (const s of this.secondaries) {
      const n = s.config.systemNumber;
      const q = s.copy.groupStatus(1).data!;
      if (q.state !== 'normal') throw new Violation(`system ${n}: secondary group ${q.state} after convergence`);
      const got = await readVolumes(s);
      for (const v of DATA_VOLUMES) {
        const a = want.get(v)!;
        const b = got.get(v)!;
        for (let at = 0; at < a.byteLength; at += BLOCK_BYTES) {
          if (Buffer.compare(Buffer.from(a.subarray(at, at + BLOCK_BYTES)), Buffer.from(b.subarray(at, at + BLOCK_BYTES))) !== 0) {
            throw new Violation(`system ${n}: volume ${v} block ${at / BLOCK_BYTES} differs from the primary after convergence`);
          }
        }
      }
      this.result.prefixes[n] = this.history.writes.length;
      this.note(`sim: system ${n} equals the primary (${this.history.writes.length} writes)`);
    }
  }

  private async primaryLost(): Promise<void> {
    for (const s of this.sc.secondaries) for (const link of this.topo.linksBetween(1, s)) link.cut();
    this.note('sim: the primary site is lost (every link cut for good)');
    for (const s of this.secondaries) {
      const n = s.config.systemNumber;
      const r = s.copy.takeover(1);
      if (r.status !== 'ok') throw new Violation(`system ${n}: takeover refused: ${r.reason}`);
      s.copy.pauseRestore(1, false);
      let last = '';
      try {
        await this.until(() => { const c = s.copy.takeoverComplete(1); last = c.reason; return c.status === 'ok'; }, `system ${n}: takeover`);
      } catch {
        throw new Violation(`system ${n}: takeover never completed: ${last}`);
      }
      const epoch = this.epochs.get(n)!;
      if (this.failedDrives.has(`${n}/${DATA_DRIVE}`)) {
        this.note(`sim: system ${n} took over, but its data drive failed: its volumes are abnormal and not read`);
        continue;
      }
      const contents = await readVolumes(s);
      const verdict = this.history.prefixOf(contents);
      if (!this.journalsOnly(epoch.phase === 'draining') || epoch.phase !== 'draining' || s.copy.groupStatus(1).data!.restoredNumber < epoch.boundary) {
        this.note(`sim: system ${n} taken over before its image was consistent (initial copy or resync not drained): not required to be a prefix (${verdict.ok ? `is one, k ${verdict.k}` : 'is not'})`);
        continue;
      }
      if (!verdict.ok) throw new Violation(`system ${n}: after takeover not a prefix: ${verdict.problem}`);
      if (verdict.k < epoch.lastK) throw new Violation(`system ${n}: takeover image holds writes 1..${verdict.k}, less than the ${epoch.lastK} seen before`);
      this.result.prefixes[n] = verdict.k;
      this.note(`sim: system ${n} took over with writes 1..${verdict.k} of ${this.history.writes.length}`);
    }
  }
}

/**
 * Whether processor `processor` of a system is in the middle of work a reset would cut: a channel
 * adapter with a host command in progress, a disk adapter with a stage some task waits for.
 * Processor -1: any channel adapter.
 */
function busyProcessor(system: StorageSystem, processor: number): boolean {
  const { mem } = system;
  const perProcessor = mem.geometry.tasksPerProcessor;
  const cas = mem.config.channelAdapters;
  if (processor >= cas) {
    for (let t = 0; t < cas * perProcessor; t++) if (stageWaitSlot(mem.tasks, t) >= 0) return true;
    return false;
  }
  for (let p = processor < 0 ? 0 : processor; p < (processor < 0 ? cas : processor + 1); p++) {
    for (let task = 0; task < mem.config.hostQueueDepth; task++) {
      if (mem.tasks[(p * perProcessor + task) * TASK_WORDS + T.STATE] !== TaskState.FREE) return true;
    }
  }
  return false;
}

async function readVolumes(system: StorageSystem): Promise<Map<number, Uint8Array>> {
  const out = new Map<number, Uint8Array>();
  const chunk = 32 * 1024;
  for (const v of DATA_VOLUMES) {
    const bytes = new Uint8Array(VOLUME_BLOCKS * BLOCK_BYTES);
    for (let at = 0; at < bytes.byteLength; at += chunk) bytes.set(await system.host.readOk(0, v, at / BLOCK_BYTES, chunk), at);
    out.set(v, bytes);
  }
  return out;
}
