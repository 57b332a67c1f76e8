// Channel adapter (host adapter 110): a processor that serves one host port.
//
// Each loop iteration (step):
//   1. messages from disk adapters (stage completions) wake the tasks that wait for them;
//   2. new commands are fetched from the host port while a task record is free;
//   3. every READY task runs, and every WAITING task whose wait can end on its own
//      (cache full, slot busy) is tried again.
// Tasks run to completion or yield; the processor itself never blocks. It reports how much it
// did so the runtime can put an idle adapter to sleep on its doorbell.

import { Reason, ScsiStatus, SenseKey } from '../hal/host-port.ts';
import { CommandReceive, Run, type AdapterContext } from './command-receive.ts';
import { Cache } from './cache.ts';
import { Msg } from './messages.ts';
import type { Platform, Processor } from './platform.ts';
import { RunState, SystemWord } from './layout.ts';
import { STAT_COUNTERS_PER_PROCESSOR, Stat } from './structs/statistics.ts';
import { TASK_WORDS, TaskState, TaskWait, TaskWord as T } from './structs/task.ts';
import { assert } from './assert.ts';

/** Idle sleep while some task waits for cache space: destage frees it without ringing us. */
const WAITING_RETRY_MS = 1;
const IDLE_SLEEP_MS = 50;

export class ChannelAdapter implements Processor {
  readonly kind = 'channel-adapter' as const;
  readonly processorId: number;
  private readonly ctx: AdapterContext;
  private readonly receive: CommandReceive;
  private readonly taskCount: number;
  private readonly scratch = new Int32Array(6);
  private waitingTasks = 0;
  private activeTasks = 0;
  private done = false;

  constructor(private readonly platform: Platform) {
    const { mem } = platform;
    this.processorId = platform.processorId;
    assert(this.processorId < mem.config.channelAdapters, `processor ${this.processorId} is not a channel adapter`);
    this.taskCount = mem.geometry.tasksPerProcessor;
    this.ctx = {
      processorId: this.processorId,
      port: this.processorId,
      mem,
      cache: new Cache(mem),
      ports: platform.hostPorts,
      clock: platform.clock,
      stats: mem.statistics.subarray(this.processorId * STAT_COUNTERS_PER_PROCESSOR, (this.processorId + 1) * STAT_COUNTERS_PER_PROCESSOR),
      taskBase: this.processorId * this.taskCount * TASK_WORDS,
    };
    this.receive = new CommandReceive(this.ctx);
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
    work += this.runTasks();
    // Power-off: once stopping and nothing is in flight, this adapter's part is over.
    if (!this.done && this.activeTasks === 0 && Atomics.load(mem.system, SystemWord.RUN_STATE) >= RunState.STOPPING) {
      this.done = true;
      Atomics.add(mem.system, SystemWord.CHANNEL_ADAPTERS_FINISHED, 1);
      for (let p = mem.config.channelAdapters; p < mem.geometry.processors; p++) mem.doorbells.ring(p);
    }
    const evictions = this.ctx.cache.evictions;
    if (evictions !== 0) {
      stats[Stat.EVICTIONS]! += evictions;
      this.ctx.cache.evictions = 0;
    }
    return work;
  }

  idleWaitMs(): number {
    return this.waitingTasks > 0 ? WAITING_RETRY_MS : IDLE_SLEEP_MS;
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
      const r = this.receive.stageDone(task, slot, status);
      if (r === Run.DONE) this.activeTasks--; // a failed stage ends the command here
      if (r >= 0) return;
    }
    this.ctx.stats[Stat.BAD_MESSAGES]!++;
  }

  private fetchCommands(): number {
    const { ports, port, mem } = this.ctx;
    // A stopping system takes no new commands; what is queued completes with an error.
    const stopping = Atomics.load(mem.system, SystemWord.RUN_STATE) >= RunState.STOPPING;
    let work = 0;
    for (let task = 0; task < this.taskCount; task++) {
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

  private runTasks(): number {
    const tasks = this.ctx.mem.tasks;
    let work = 0;
    let waiting = 0;
    for (let task = 0; task < this.taskCount; task++) {
      const t = this.ctx.taskBase + task * TASK_WORDS;
      const state = tasks[t + T.STATE]!;
      if (state === TaskState.FREE) continue;
      if (state === TaskState.WAITING && tasks[t + T.WAIT] === TaskWait.STAGE) {
        waiting++;
        continue; // only the disk adapter's answer ends this wait
      }
      const r = this.receive.resume(task);
      if (r === Run.DONE) {
        this.activeTasks--;
        work++;
      } else if (r === Run.PROGRESS) {
        work++;
      } else {
        waiting++;
      }
    }
    this.waitingTasks = waiting;
    return work;
  }
}
