// Forwarded configuration (seed 000 S900 item 2, S910 step 3, S920 item 2, S930 step 3; seed 002
// §7.1): the primary passes the secondary's part of a setup instruction over the link, and the
// secondary carries it out and answers.
//
// Sender: the maintenance port fills the forwarding task of the link's channel adapter (one
// forwarded instruction at a time per system); the adapter sends a CONFIG frame and waits for
// the CONFIG_RESPONSE, or FORWARD_TIMEOUT_MS. Receiver: the adapter that owns the link carries
// the instruction out with the same commands an operator would issue there, as the system at
// the other end of that link, and answers with the status and the reason.

import { CopyCommands, FWD_RESULT_REASON, ForwardPhase, FwdWord } from './copy-commands.ts';
import { free, rxView, sleepUntil, taskWord, txView, type CopyContext } from './copy-context.ts';
import {
  CONFIG_BYTES, CONFIG_REASON_MAX, CONFIG_RESPONSE_HEADER_BYTES, CfgRespOff, ConfigOff, ConfigOp, Frame,
} from './link-protocol.ts';
import type { LinkPort } from './platform.ts';
import { Stat } from './structs/statistics.ts';
import { TaskState, TaskWord as T } from './structs/task.ts';
import { Run } from './command-receive.ts';
import type { MaintResult } from './maintenance.ts';

export const FORWARD_TIMEOUT_MS = 2000;

export class ConfigForward {
  private readonly commands: CopyCommands;

  constructor(private readonly ctx: CopyContext) {
    this.commands = new CopyCommands(ctx.mem, () => ctx.clock.nowMs(), ctx.trace);
  }

  taskOf(): number {
    return this.ctx.mem.geometry.receptionTaskBase; // reception tasks use receptionTaskBase + link (links are 1..8)
  }

  /** Sends the CONFIG frame, then waits for the answer or the timeout. */
  resume(task: number, port: LinkPort | undefined, linkBusy: boolean): number {
    const { mem } = this.ctx;
    const t = taskWord(this.ctx, task);
    if (mem.tasks[t + T.PHASE] === ForwardPhase.AWAIT) {
      this.finish(task, t, 1, 0, `system at link ${mem.tasks[t + FwdWord.LINK]} did not answer within ${FORWARD_TIMEOUT_MS} ms`);
      return Run.DONE;
    }
    if (!port || !port.isUp()) {
      this.finish(task, t, 1, 0, `link ${mem.tasks[t + FwdWord.LINK]} is down`);
      return Run.DONE;
    }
    if (linkBusy) {
      sleepUntil(this.ctx, t, this.ctx.clock.nowMs() + 0.05);
      return Run.WAITING;
    }
    const v = txView(port);
    v.setUint32(ConfigOff.REQUEST_ID, mem.tasks[t + FwdWord.REQUEST_ID]!, true);
    v.setUint32(ConfigOff.OP, mem.tasks[t + FwdWord.OP]!, true);
    v.setUint32(ConfigOff.GROUP, mem.tasks[t + FwdWord.GROUP]!, true);
    v.setUint32(ConfigOff.A, mem.tasks[t + FwdWord.A]!, true);
    v.setUint32(ConfigOff.B, mem.tasks[t + FwdWord.B]!, true);
    v.setUint32(ConfigOff.C, mem.tasks[t + FwdWord.C]!, true);
    v.setFloat64(24, 0, true);
    if (!port.sendStaging(Frame.CONFIG, 0, CONFIG_BYTES)) {
      sleepUntil(this.ctx, t, this.ctx.clock.nowMs() + 0.1);
      return Run.WAITING;
    }
    mem.tasks[t + T.PHASE] = ForwardPhase.AWAIT;
    sleepUntil(this.ctx, t, this.ctx.clock.nowMs() + FORWARD_TIMEOUT_MS);
    return Run.WAITING;
  }

  /** A CONFIG_RESPONSE arrived on `link`; false if no forwarded instruction waits for it. */
  onResponse(link: number, port: LinkPort): boolean {
    const { mem } = this.ctx;
    const task = this.taskOf();
    const t = taskWord(this.ctx, task);
    const rx = rxView(port);
    if (port.rxPayloadLength < CONFIG_RESPONSE_HEADER_BYTES || mem.tasks[t + T.STATE] === TaskState.FREE || mem.tasks[t + T.PHASE] !== ForwardPhase.AWAIT) return false;
    if (mem.tasks[t + FwdWord.LINK] !== link || rx.getUint32(CfgRespOff.REQUEST_ID, true) !== mem.tasks[t + FwdWord.REQUEST_ID]) return false;
    const length = Math.min(rx.getUint16(CfgRespOff.REASON_LENGTH, true), CONFIG_REASON_MAX, port.rxPayloadLength - CONFIG_RESPONSE_HEADER_BYTES);
    let reason = '';
    for (let i = 0; i < length; i++) reason += String.fromCharCode(port.rxStaging[CONFIG_RESPONSE_HEADER_BYTES + i]! & 0x7f);
    this.finish(task, t, rx.getUint8(CfgRespOff.STATUS) === 0 ? 0 : 1, rx.getUint32(CfgRespOff.VALUE, true), reason);
    return true;
  }

  /** A CONFIG frame arrived on `link`: carry it out as instructed by the system at its other end, and answer. */
  onRequest(link: number, port: LinkPort): void {
    const { mem } = this.ctx;
    const rx = rxView(port);
    const sender = mem.config.links.find((l) => l.number === link)?.peerSystem ?? 0;
    let result: MaintResult<unknown>;
    if (port.rxPayloadLength !== CONFIG_BYTES) {
      this.ctx.stats[Stat.BAD_MESSAGES]!++;
      result = { status: 'rejected', reason: 'malformed forwarded instruction' };
    } else {
      const group = rx.getUint32(ConfigOff.GROUP, true);
      const a = rx.getUint32(ConfigOff.A, true);
      const b = rx.getUint32(ConfigOff.B, true);
      const c = rx.getUint32(ConfigOff.C, true);
      switch (rx.getUint8(ConfigOff.OP)) {
        case ConfigOp.CREATE_GROUP: result = this.commands.createGroup(group, { role: 'secondary', partnerSystem: sender, partnerGroup: a, link }); break;
        case ConfigOp.REGISTER_PAIR: result = this.commands.registerPair(group, { primarySystem: sender, primaryVolume: a, secondaryVolume: b, remoteCapacityBlocks: c }); break;
        case ConfigOp.REGISTER_JOURNAL: result = this.commands.registerJournalVolume(group, a); break;
        case ConfigOp.START: result = this.commands.startCopy(group); break;
        default:
          this.ctx.stats[Stat.BAD_MESSAGES]!++;
          result = { status: 'rejected', reason: `unknown forwarded instruction ${rx.getUint8(ConfigOff.OP)}` };
      }
    }
    const tx = txView(port);
    tx.setUint32(CfgRespOff.REQUEST_ID, port.rxPayloadLength >= 4 ? rx.getUint32(ConfigOff.REQUEST_ID, true) : 0, true);
    tx.setUint8(CfgRespOff.STATUS, result.status === 'ok' ? 0 : 1);
    tx.setUint8(CfgRespOff.STATUS + 1, 0);
    const reason = result.reason.slice(0, CONFIG_REASON_MAX);
    tx.setUint16(CfgRespOff.REASON_LENGTH, reason.length, true);
    tx.setUint32(CfgRespOff.VALUE, (result.data as { pair?: number } | undefined)?.pair ?? 0, true);
    tx.setUint32(12, 0, true);
    for (let i = 0; i < reason.length; i++) port.staging[CfgRespOff.REASON + i] = reason.charCodeAt(i) & 0x7f;
    // Best effort: a full ring leaves the sender to time out and say so.
    port.sendStaging(Frame.CONFIG_RESPONSE, 0, CONFIG_RESPONSE_HEADER_BYTES + reason.length);
  }

  private finish(task: number, t: number, status: number, value: number, reason: string): void {
    const { mem } = this.ctx;
    const at = mem.scratchOffset(this.ctx.processorId, task);
    mem.scratchView.setUint32(at, status, true);
    mem.scratchView.setUint32(at + 4, value, true);
    const text = reason.slice(0, CONFIG_REASON_MAX);
    mem.scratchView.setUint32(at + 8, text.length, true);
    for (let i = 0; i < text.length; i++) mem.scratchBytes[at + FWD_RESULT_REASON + i] = text.charCodeAt(i) & 0x7f;
    mem.tasks[t + T.PHASE] = ForwardPhase.DONE;
    free(this.ctx, t);
  }
}

