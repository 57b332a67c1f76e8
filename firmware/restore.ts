// Restore processing 250 (secondary; seed 000 §5.10, Figs. 19–20, S2010–S2060; seed 002 §7.8):
// applies the stored journals to the secondary volumes strictly in update-number order.
//
//   CHECK  S2010 group normal? S2020 journal volume usable? S2030 any journal (oldest != newest)?
//   UI     S2040 the update information at update-information oldest — complete and the next
//          number, or restore waits (journal store may still be copying it)
//   DATA   its write data into the group's restore buffer, checked against its checksum
//   APPLY  S2050 to the secondary volume paired with the update information's primary volume,
//          at the same position
//   S2060  release: oldest pointers advance by exactly this journal; next journal
// Restore timing follows the adapter's load (claim 14): while most of its host-command tasks
// are busy, restore yields for a short while between journals.

import { BLOCK_BYTES } from './config.ts';
import { IO_DONE, IO_ERROR, IO_WAIT } from './cache-io.ts';
import { free, loadGeometry, pointerSetOf, ready, sleepUntil, startService, taskWord, type CopyContext } from './copy-context.ts';
import { UI_SLOT_BYTES, advanceUi, advanceWd, type RingGeometry } from './journal-ring.ts';
import { GroupFlag, GroupState } from './structs/group-info.ts';
import { TASK_WORDS, GroupService, TaskF64 as F, TaskKind, TaskState, TaskWord as T } from './structs/task.ts';
import { decodeUpdateInfo, emptyUpdateInfo, validateUpdateInfo } from './structs/update-info-codec.ts';
import { VolumeState } from './structs/volume-info.ts';
import { crc32c } from '../hal/crc32c.ts';
import { Run } from './command-receive.ts';

export const RestorePhase = { CHECK: 0, UI: 1, DATA: 2, APPLY: 3 } as const;

/** S2030: how long restore sleeps when there is nothing to apply. */
export const RESTORE_IDLE_MS = 5;
/** Claim 14: how long restore yields when the adapter is busy with host commands. */
export const RESTORE_DEFER_MS = 0.5;

const W_TARGET = T.VOLUME; // the secondary volume being written
const W_BLOCK = T.LBA;
const W_BYTES = T.BYTE_LENGTH;

export class Restore {
  private readonly ui = emptyUpdateInfo();
  private readonly geometry: RingGeometry = { uiHead: 0, wdHead: 0, capacity: 0 };

  constructor(private readonly ctx: CopyContext) {}

  taskOf(group: number): number {
    return this.ctx.mem.serviceTask(group, GroupService.RESTORE);
  }

  static start(tasks: Int32Array, t: number, group: number): void {
    startService(tasks, t, TaskKind.RESTORE, group, RestorePhase.CHECK);
  }

  resume(task: number): number {
    const { mem } = this.ctx;
    const t = taskWord(this.ctx, task);
    const group = mem.tasks[t + T.GROUP]!;
    const jv = mem.groups.journalVolume(group, 0);
    const set = pointerSetOf(this.ctx, group, 0);
    const f = t >> 1;
    if (mem.tasks[t + T.PHASE] === RestorePhase.CHECK) {
      // S2010/S2015: only a normal group restores.
      if (mem.groups.state(group) !== GroupState.NORMAL || set < 0) {
        free(this.ctx, t);
        return Run.DONE;
      }
      // S2020/S2025: an abnormal journal volume makes the group abnormal.
      if (mem.volumes.state(jv) === VolumeState.ABNORMAL) {
        mem.groups.setState(group, GroupState.ABNORMAL);
        this.ctx.trace(`group ${group}: normal -> abnormal (journal volume ${jv} is abnormal, S2025)`);
        free(this.ctx, t);
        return Run.DONE;
      }
      // S2030: nothing stored — look again after a while. (A paused restore waits the same way,
      // always at a journal boundary, so the secondary volumes hold a consistent image.)
      const p = mem.pointers;
      if (p.get(set, 'ui_oldest') === p.get(set, 'ui_newest') || mem.groups.hasFlag(group, GroupFlag.RESTORE_PAUSED)) {
        sleepUntil(this.ctx, t, this.ctx.clock.nowMs() + RESTORE_IDLE_MS);
        mem.tasks[t + T.PHASE] = RestorePhase.CHECK;
        return Run.WAITING;
      }
      if (this.busy()) {
        sleepUntil(this.ctx, t, this.ctx.clock.nowMs() + RESTORE_DEFER_MS);
        return Run.WAITING;
      }
      mem.taskFloats[f + F.UI_POSITION] = p.get(set, 'ui_oldest');
      mem.tasks[t + T.CURSOR] = 0;
      mem.tasks[t + T.AUX_CURSOR] = 0;
      mem.tasks[t + T.PHASE] = RestorePhase.UI;
    }
    const scratch = mem.scratchOffset(this.ctx.processorId, task);
    if (mem.tasks[t + T.PHASE] === RestorePhase.UI) {
      // S2040: the journal with the smallest update number sits at update-information oldest.
      const r = this.ctx.io.transfer(task, false, jv, mem.taskFloats[f + F.UI_POSITION]! / BLOCK_BYTES, UI_SLOT_BYTES, mem.scratch, scratch >> 2, T.CURSOR);
      if (r !== IO_DONE) return this.waitOrFail(t, group, r);
      mem.tasks[t + T.CURSOR] = 0;
      const expected = mem.groups.restoredNumber(group) + 1;
      const problem = validateUpdateInfo(mem.scratchView, mem.scratchBytes, scratch, mem.config.maxTransferBytes / BLOCK_BYTES);
      decodeUpdateInfo(mem.scratchView, scratch, this.ui);
      if ((problem !== null || this.ui.updateNumber !== expected) && mem.groups.f64(group, 'received_number') >= expected) {
        // Journal store finished this journal, so its record is damaged on the journal volume.
        mem.groups.setState(group, GroupState.ABNORMAL);
        this.ctx.trace(`group ${group}: normal -> abnormal (update information of journal ${expected} is damaged on the journal volume: ${problem ?? `found ${this.ui.updateNumber}`})`);
        free(this.ctx, t);
        return Run.DONE;
      }
      if (problem !== null || this.ui.updateNumber !== expected) {
        // Not complete yet: journal store is still copying it. Wait (order is never skipped).
        mem.tasks[t + T.PHASE] = RestorePhase.CHECK;
        sleepUntil(this.ctx, t, this.ctx.clock.nowMs() + RESTORE_DEFER_MS);
        return Run.WAITING;
      }
      // S2050: the secondary volume paired with the journal's primary volume (seed 000 §11 item 17).
      const target = this.secondaryVolumeOf(group, this.ui.targetVolume);
      if (target === 0) {
        mem.groups.setState(group, GroupState.ABNORMAL);
        this.ctx.trace(`group ${group}: normal -> abnormal (journal ${expected} is for primary volume ${this.ui.targetVolume}, which no pair of the group copies)`);
        free(this.ctx, t);
        return Run.DONE;
      }
      // A record read back from the drive is trusted only as far as it checks out: its write data
      // must lie in this journal's write-data area and its target inside the secondary volume.
      loadGeometry(this.ctx, set, this.geometry);
      const position = this.ui.dataPosition;
      const damage = !(Number.isSafeInteger(position) && position % BLOCK_BYTES === 0 && position >= this.geometry.wdHead && position < this.geometry.capacity)
        ? `its write data at ${position} is outside the write-data area [${this.geometry.wdHead}, ${this.geometry.capacity})`
        : this.ui.targetBlock + this.ui.dataBlocks > mem.volumes.capacityBlocks(target)
          ? `it aims at blocks ${this.ui.targetBlock}..${this.ui.targetBlock + this.ui.dataBlocks - 1}, past the end of volume ${target} (${mem.volumes.capacityBlocks(target)} blocks)`
          : null;
      if (damage !== null) {
        mem.groups.setState(group, GroupState.ABNORMAL);
        this.ctx.trace(`group ${group}: normal -> abnormal (journal ${expected} is damaged on the journal volume: ${damage})`);
        free(this.ctx, t);
        return Run.DONE;
      }
      mem.tasks[t + W_TARGET] = target;
      mem.tasks[t + W_BLOCK] = this.ui.targetBlock;
      mem.tasks[t + W_BYTES] = this.ui.dataBlocks * BLOCK_BYTES;
      mem.taskFloats[f + F.UPDATE_NUMBER] = this.ui.updateNumber;
      mem.taskFloats[f + F.WD_POSITION] = this.ui.dataPosition;
      mem.taskFloats[f + F.RECEIVED_MS] = this.ui.receiveMs; // kept for the RPO figure after apply
      mem.tasks[t + T.COUNT] = this.ui.dataChecksum;
      mem.tasks[t + T.PHASE] = RestorePhase.DATA;
    }
    const buffer = mem.restoreStagingOffset(group);
    const bytes = mem.tasks[t + W_BYTES]!;
    if (mem.tasks[t + T.PHASE] === RestorePhase.DATA) {
      loadGeometry(this.ctx, set, this.geometry);
      const wd = mem.taskFloats[f + F.WD_POSITION]!;
      const first = Math.min(bytes, this.geometry.capacity - wd);
      let r = this.ctx.io.transfer(task, false, jv, wd / BLOCK_BYTES, first, mem.staging, buffer >> 2, T.CURSOR);
      if (r !== IO_DONE) return this.waitOrFail(t, group, r);
      if (first < bytes) {
        r = this.ctx.io.transfer(task, false, jv, this.geometry.wdHead / BLOCK_BYTES, bytes - first, mem.staging, (buffer + first) >> 2, T.AUX_CURSOR);
        if (r !== IO_DONE) return this.waitOrFail(t, group, r);
      }
      if ((crc32c(mem.stagingBytes, buffer, bytes) | 0) !== mem.tasks[t + T.COUNT]) {
        mem.groups.setState(group, GroupState.ABNORMAL);
        this.ctx.trace(`group ${group}: normal -> abnormal (write data of journal ${mem.taskFloats[f + F.UPDATE_NUMBER]} failed its checksum on the journal volume)`);
        free(this.ctx, t);
        return Run.DONE;
      }
      mem.tasks[t + T.CURSOR] = 0;
      mem.tasks[t + T.PHASE] = RestorePhase.APPLY;
    }
    // S2050: write the data to the secondary volume at the journal's position. A volume whose
    // drive failed (異常) cannot take it: its data would stay in cache for ever and fill it, so the
    // group stops here, the journal kept, as for a journal it cannot read. (Checked here, before
    // the first byte is written, not when the record is read: the drive may fail meanwhile.)
    const targetVolume = mem.tasks[t + W_TARGET]!;
    if (mem.volumes.state(targetVolume) === VolumeState.ABNORMAL && mem.tasks[t + T.CURSOR] === 0) {
      mem.groups.setState(group, GroupState.ABNORMAL);
      this.ctx.trace(`group ${group}: normal -> abnormal (secondary volume ${targetVolume} is abnormal: journal ${mem.taskFloats[f + F.UPDATE_NUMBER]} not restored)`);
      mem.tasks[t + W_TARGET] = 0;
      free(this.ctx, t);
      return Run.DONE;
    }
    const r = this.ctx.io.transfer(task, true, targetVolume, mem.tasks[t + W_BLOCK]!, bytes, mem.staging, buffer >> 2, T.CURSOR);
    if (r !== IO_DONE) return this.waitOrFail(t, group, r);
    // S2060: release exactly this journal, then restore the next.
    const lock = mem.lockMap.groupBase + group;
    mem.locks.lock(lock);
    loadGeometry(this.ctx, set, this.geometry);
    const p = mem.pointers;
    p.set(set, 'ui_oldest', advanceUi(p.get(set, 'ui_oldest'), 1, this.geometry));
    p.set(set, 'wd_oldest', advanceWd(p.get(set, 'wd_oldest'), bytes, this.geometry));
    p.set(set, 'oldest_number', mem.taskFloats[f + F.UPDATE_NUMBER]! + 1);
    mem.groups.setRestoredNumber(group, mem.taskFloats[f + F.UPDATE_NUMBER]!);
    mem.groups.setF64(group, 'restored_time_ms', mem.taskFloats[f + F.RECEIVED_MS]!);
    mem.groups.addF64(group, 'journals_restored', 1);
    mem.locks.unlock(lock);
    mem.tasks[t + W_TARGET] = 0; // no volume is being written any more (scans for commands in progress)
    ready(this.ctx, t, RestorePhase.CHECK);
    return Run.PROGRESS;
  }

  /** A transfer that could not finish: wait, or — a drive failed it — the group becomes abnormal. */
  private waitOrFail(t: number, group: number, r: number): number {
    if (r !== IO_ERROR) return r === IO_WAIT ? Run.WAITING : Run.PROGRESS;
    const { mem } = this.ctx;
    mem.groups.setState(group, GroupState.ABNORMAL);
    this.ctx.trace(`group ${group}: normal -> abnormal (a journal or its secondary volume could not be read from its drive)`);
    free(this.ctx, t);
    return Run.DONE;
  }

  /** The secondary volume of the group's pair whose primary volume is `primaryVolume`; 0 if none. */
  private secondaryVolumeOf(group: number, primaryVolume: number): number {
    const { mem } = this.ctx;
    for (let i = 0; i < mem.groups.pairCount(group); i++) {
      const pair = mem.groups.pairAt(group, i);
      if (mem.pairs.primaryVolume(pair) === primaryVolume) return mem.pairs.secondaryVolume(pair);
    }
    return 0;
  }

  /** Claim 14: most host-command tasks of this adapter are busy. */
  private busy(): boolean {
    const { mem } = this.ctx;
    let n = 0;
    for (let task = 0; task < mem.config.hostQueueDepth; task++) if (mem.tasks[this.ctx.taskBase + task * TASK_WORDS + T.STATE] !== TaskState.FREE) n++;
    return n * 4 > mem.config.hostQueueDepth * 3;
  }
}
