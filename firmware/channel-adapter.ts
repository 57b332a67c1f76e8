// Channel adapter (host adapter 110): a processor that serves one host port and the links
// (connection paths 200) configured to it, and runs the remote-copy processes of its groups.
//
// Each loop iteration (step):
//   1. messages from disk adapters (stage completions) wake the tasks that wait for them;
//   2. new host commands are fetched while a host-command task record is free (210);
//   3. frames are taken from this adapter's links: journal read commands start journal read
//      reception, responses go to the journal read process that asked;
//   4. every READY task runs; a WAITING task runs again when its wait can end on its own
//      (cache full, slot busy, link busy, timer expired).
// Tasks run to completion or yield; the processor itself never blocks. It reports how much it
// did so the runtime can put an idle adapter to sleep on its doorbell.

import { Reason, ScsiStatus, SenseKey } from '../hal/host-port.ts';
import { assert } from './assert.ts';
import { Cache } from './cache.ts';
import { CacheIo } from './cache-io.ts';
import { CommandReceive, Run, type AdapterContext } from './command-receive.ts';
import type { CopyContext } from './copy-context.ts';
import { InitialCopy } from './initial-copy.ts';
import { ConfigForward } from './config-forward.ts';
import { JournalCreation } from './journal-create.ts';
import { JournalRead } from './journal-read.ts';
import { JournalReadReception } from './journal-read-reception.ts';
import { RunState, SystemWord, markFinished } from './layout.ts';
import { Frame } from './link-protocol.ts';
import { Msg } from './messages.ts';
import type { LinkPort, Platform, Processor } from './platform.ts';
import { Restore } from './restore.ts';
import { STAT_COUNTERS_PER_PROCESSOR, Stat } from './structs/statistics.ts';
import { TASK_WORDS, TaskF64, TaskKind, TaskState, TaskWait, TaskWord as T } from './structs/task.ts';

/** Idle sleep while some task waits for cache space: destage frees it without ringing us. */
const WAITING_RETRY_MS = 1;
/** Idle sleep while a task waits for a slot lock: another processor holds it for one copy. */
const SLOT_BUSY_RETRY_MS = 0.05;
const IDLE_SLEEP_MS = 50;
/** Frames taken from one link per step at most, so host commands are not starved. */
const FRAMES_PER_STEP = 8;

export class ChannelAdapter implements Processor {
  readonly kind = 'channel-adapter' as const;
  readonly processorId: number;
  private readonly ctx: AdapterContext & CopyContext;
  private readonly receive: CommandReceive;
  private readonly reception: JournalReadReception;
  private readonly journalRead: JournalRead;
  /** Whether a link's send buffer holds a response being built (journal read asks before sending). */
  private readonly linkBusy = (link: number): boolean => this.reception.busy(link);
  private readonly restore: Restore;
  private readonly initialCopy: InitialCopy;
  private readonly forward: ConfigForward;
  private readonly hostTasks: number;
  private readonly taskCount: number;
  /** Links this adapter owns: [link number, port] pairs. */
  private readonly ownLinks: Array<[number, LinkPort]> = [];
  private readonly scratch = new Int32Array(6);
  private waitingTasks = 0;
  private slotBusyTasks = 0;
  private nextTimerMs = Infinity;
  private activeTasks = 0;
  private done = false;

  constructor(private readonly platform: Platform) {
    const { mem } = platform;
    this.processorId = platform.processorId;
    assert(this.processorId < mem.config.channelAdapters, `processor ${this.processorId} is not a channel adapter`);
    this.hostTasks = mem.config.hostQueueDepth;
    this.taskCount = mem.geometry.tasksPerProcessor;
    const cache = new Cache(mem);
    const stats = mem.statistics.subarray(this.processorId * STAT_COUNTERS_PER_PROCESSOR, (this.processorId + 1) * STAT_COUNTERS_PER_PROCESSOR);
    const io = new CacheIo({ processorId: this.processorId, mem, cache, stats, taskBase: this.processorId * this.taskCount * TASK_WORDS });
    this.ctx = {
      processorId: this.processorId,
      port: this.processorId,
      mem,
      cache,
      ports: platform.hostPorts,
      clock: platform.clock,
      stats,
      taskBase: this.processorId * this.taskCount * TASK_WORDS,
      links: platform.links,
      remotePorts: platform.remotePorts,
      trace: platform.trace,
      io,
      journals: new JournalCreation(mem, platform.trace),
    };
    this.receive = new CommandReceive(this.ctx, platform.trace);
    this.reception = new JournalReadReception(this.ctx);
    this.journalRead = new JournalRead(this.ctx);
    this.restore = new Restore(this.ctx);
    this.initialCopy = new InitialCopy(this.ctx);
    this.forward = new ConfigForward(this.ctx);
    for (const link of mem.config.links) {
      const port = platform.links.get(link.number);
      if (link.adapter === this.processorId && port) this.ownLinks.push([link.number, port]);
    }
    this.takeOver();
  }

  /**
   * An adapter attaching to control memory its processor used before a reset takes its tasks
   * over: every task's state is in the task table, so host commands, journal reads, restore and
   * initial copy go on from their cursors and phases, and stage answers still arrive in this
   * processor's mailbox. Only a response being built in a link's send staging buffer (the
   * processor's own memory) is lost: that reception is given up, as if the link had lost it.
   * On a freshly formatted system every record is free and this finds nothing.
   */
  private takeOver(): void {
    const { mem } = this.ctx;
    let host = 0;
    for (let task = 0; task < this.hostTasks; task++) {
      if (mem.tasks[this.ctx.taskBase + task * TASK_WORDS + T.STATE] !== TaskState.FREE) host++;
    }
    this.activeTasks = host;
    let abandoned = 0;
    for (const [number] of this.ownLinks) if (this.reception.abandon(number)) abandoned++;
    if (host > 0 || abandoned > 0) this.platform.trace(`channel adapter ${this.processorId}: took over ${host} host commands; ${abandoned} journal read responses being built were lost and will be asked for again`);
  }

  step(): number {
    const { mem, stats } = this.ctx;
    let work = 0;
    stats[Stat.LOOP_ITERATIONS]!++;
    const mailbox = mem.mailboxes[this.processorId]!;
    while (mailbox.tryPop(this.scratch)) {
      work++;
      this.onMessage();
    }
    work += this.fetchCommands();
    for (const [number, port] of this.ownLinks) work += this.pollLink(number, port);
    work += this.runTasks();
    const evictions = this.ctx.cache.evictions;
    if (evictions !== 0) {
      stats[Stat.EVICTIONS]! += evictions;
      this.ctx.cache.evictions = 0;
    }
    // Power-off: once stopping and no host command is in flight, this adapter's part is over.
    // A mirror operation holding writes (seed 004) is finished first: writes held on other adapters wait for it.
    if (!this.done && this.activeTasks === 0 && Atomics.load(mem.system, SystemWord.RUN_STATE) >= RunState.STOPPING && !this.receive.mirror.holdsWrites()) {
      this.done = true;
      if (markFinished(mem.system, this.processorId)) Atomics.add(mem.system, SystemWord.CHANNEL_ADAPTERS_FINISHED, 1);
      for (let p = mem.config.channelAdapters; p < mem.geometry.processors; p++) mem.doorbells.ring(p);
    }
    return work;
  }

  idleWaitMs(): number {
    if (this.slotBusyTasks > 0) return SLOT_BUSY_RETRY_MS;
    if (this.waitingTasks > 0) return WAITING_RETRY_MS;
    const untilTimer = this.nextTimerMs - this.ctx.clock.nowMs();
    const wait = Math.min(IDLE_SLEEP_MS, this.ownLinks.length > 0 ? WAITING_RETRY_MS : IDLE_SLEEP_MS, untilTimer);
    return wait > 0 ? wait : 0.01;
  }

  finished(): boolean {
    return this.done;
  }

  doorbell(): number {
    return this.ctx.mem.doorbells.read(this.processorId);
  }

  sleep(seen: number, timeoutMs: number): void {
    this.ctx.stats[Stat.IDLE_SLEEPS]!++;
    this.ctx.mem.doorbells.sleep(this.processorId, seen, timeoutMs);
  }

  private onMessage(): void {
    const [kind, , task, slot, status] = this.scratch as unknown as [number, number, number, number, number];
    if (kind === Msg.STAGE_DONE && task >= 0 && task < this.taskCount && slot >= 0 && slot < this.ctx.cache.slotCount) {
      if (task < this.hostTasks) {
        const r = this.receive.stageDone(task, slot, status);
        if (r === Run.DONE) this.activeTasks--; // a failed stage ends the command here
        if (r >= 0) return;
      } else if (this.ctx.io.stageDone(task, slot, status) >= 0) {
        // A remote-copy task's stage failed: it rereads, and a failing drive shows in the volume state.
        return;
      }
    }
    this.ctx.stats[Stat.BAD_MESSAGES]!++;
  }

  private fetchCommands(): number {
    const { ports, port, mem } = this.ctx;
    // A stopping system takes no new commands; what is queued completes with an error.
    const stopping = Atomics.load(mem.system, SystemWord.RUN_STATE) >= RunState.STOPPING;
    let work = 0;
    for (let task = 0; task < this.hostTasks; task++) {
      const t = this.ctx.taskBase + task * TASK_WORDS;
      if (mem.tasks[t + T.STATE] !== TaskState.FREE) continue;
      const slot = ports.fetch(port, this.scratch);
      if (slot === -1) break;
      work++;
      if (slot < 0) {
        this.ctx.stats[Stat.BAD_MESSAGES]!++;
        continue;
      }
      if (stopping) {
        ports.complete(port, slot, ScsiStatus.BUSY, SenseKey.NOT_READY, Reason.PROCESSOR_STOPPED, this.ctx.clock.nowMs());
        continue;
      }
      this.activeTasks++;
      if (this.receive.start(task, slot) === Run.DONE) this.activeTasks--;
    }
    return work;
  }

  /** Takes frames from a link: commands start reception, responses go to their journal read. */
  private pollLink(number: number, port: LinkPort): number {
    let work = 0;
    for (let i = 0; i < FRAMES_PER_STEP; i++) {
      // While a response is being built in the link's send buffer, the next command waits in the ring.
      if (this.reception.busy(number)) break;
      const type = port.receive();
      if (type === 0) break;
      work++;
      if (type === Frame.JNLRD) this.reception.accept(number, port);
      else if (type === Frame.JNLRD_RESPONSE) {
        if (!this.journalRead.onResponse(number, port)) this.ctx.stats[Stat.BAD_MESSAGES]!++; // stale or unknown
      } else if (type === Frame.CONFIG) {
        this.forward.onRequest(number, port);
      } else if (type === Frame.CONFIG_RESPONSE) {
        if (!this.forward.onResponse(number, port)) this.ctx.stats[Stat.BAD_MESSAGES]!++;
      } else {
        this.ctx.stats[Stat.BAD_MESSAGES]!++; // a bad frame (counted by the link too) or an unknown type
      }
    }
    return work;
  }

  private runTasks(): number {
    const { mem } = this.ctx;
    const tasks = mem.tasks;
    const now = this.ctx.clock.nowMs();
    let work = 0;
    let waiting = 0;
    let slotBusy = 0;
    let nextTimer = Infinity;
    for (let task = 0; task < this.taskCount; task++) {
      const t = this.ctx.taskBase + task * TASK_WORDS;
      const state = tasks[t + T.STATE]!;
      if (state === TaskState.FREE) continue;
      if (state === TaskState.WAITING) {
        const wait = tasks[t + T.WAIT];
        if (wait === TaskWait.STAGE) {
          waiting++;
          continue; // only the disk adapter's answer ends this wait
        }
        if (wait === TaskWait.TIMER) {
          const wake = mem.taskFloats[(t >> 1) + TaskF64.WAKE_MS]!;
          if (wake > now) {
            if (wake < nextTimer) nextTimer = wake;
            continue;
          }
        }
      }
      const r = task < this.hostTasks ? this.receive.resume(task) : this.runService(task, t);
      if (r === Run.DONE) {
        if (task < this.hostTasks) this.activeTasks--;
        work++;
      } else if (r === Run.PROGRESS) {
        work++;
      } else if (tasks[t + T.WAIT] !== TaskWait.TIMER) {
        waiting++;
        if (tasks[t + T.WAIT] === TaskWait.SLOT_BUSY) slotBusy++;
      } else {
        const wake = mem.taskFloats[(t >> 1) + TaskF64.WAKE_MS]!;
        if (wake < nextTimer) nextTimer = wake;
      }
    }
    this.waitingTasks = waiting;
    this.slotBusyTasks = slotBusy;
    this.nextTimerMs = nextTimer;
    return work;
  }

  private runService(task: number, t: number): number {
    const { mem } = this.ctx;
    const group = mem.tasks[t + T.GROUP]!;
    switch (mem.tasks[t + T.KIND]) {
      case TaskKind.RECEPTION: {
        const link = task - mem.geometry.receptionTaskBase;
        const port = this.ctx.links.get(link);
        if (!port) {
          mem.tasks[t + T.STATE] = TaskState.FREE;
          return Run.DONE;
        }
        return this.reception.resume(link, port);
      }
      case TaskKind.JOURNAL_READ: {
        return this.journalRead.resume(task, this.linkBusy);
      }
      case TaskKind.RESTORE:
        return this.restore.resume(task);
      case TaskKind.FORWARD: {
        const link = mem.tasks[t + T.AUX0]!;
        return this.forward.resume(task, this.ctx.links.get(link), this.reception.busy(link));
      }
      case TaskKind.INITIAL_COPY:
        return this.initialCopy.resume(task);
      case TaskKind.MIRROR:
        return this.receive.mirror.runOp(t); // seed 004: a mirror pair's split, resync or formation
      default:
        mem.tasks[t + T.STATE] = TaskState.FREE;
        return Run.DONE;
    }
  }
}
