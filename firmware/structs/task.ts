// Task records: the state of every task a processor is running, kept in shared memory so an
// inspector can see what each processor is doing and why a task waits.
//
// A task never blocks. When it cannot go on (cache full, slot busy, a stage outstanding, a
// timer) it records why in `wait` and yields; the processor loop runs it again later from its
// cursors and phase.
//
// Each processor has `tasksPerProcessor` records: first one per host-port command slot
// (host commands), then the service tasks of remote copy — three per group (journal read
// reception on a primary is per link, see below; journal read 240, restore 250 and initial
// copy per group) and one journal-read-reception task per link.
//
// Task record (128 bytes):
//  off size field          meaning
//    0    4 state          TaskState
//    4    4 wait           TaskWait: why a WAITING task waits
//    8    4 port_slot      host port slot of the command (host tasks)
//   12    4 opcode         HostOp of the command
//   16    4 volume         target volume
//   20    4 lba            first block
//   24    4 byte_length    transfer length
//   28    4 cursor_bytes   bytes of the current transfer already done
//   32    4 cache_slot     slot pinned while a stage is outstanding, -1 otherwise
//   36    4 attempts       times the task was resumed without progress
//   40    4 generation     the target volume's definition generation when the command started
//   44    4 kind           TaskKind
//   48    4 phase          the step of its process the task is at (process-specific)
//   52    4 group          group number (remote-copy tasks)
//   56    4 pair           pair number (host write journaling, initial copy)
//   60    4 aux_cursor     bytes done of a second transfer (journal copy of a host write)
//   64    8 wake_ms        float64: a task waiting on TIMER runs again at this time
//   72    8 update_number  float64: the journal this task is working on
//   80    8 ui_position    float64: its update-information position in the journal volume
//   88    8 wd_position    float64: its write-data position in the journal volume
//   96    4 count          journals in the batch being built or stored
//  100    4 aux0           process-specific
//  104    4 aux1           process-specific
//  108    4 aux2           process-specific
//  112    8 received_ms    float64: when the command was received (S1200), the journal's time field
//  120    8 aux_f64        float64: process-specific

import { defineStruct } from './struct.ts';

export const TaskState = { FREE: 0, READY: 1, WAITING: 2 } as const;
// MIRROR_HOLD: a host write held by a mirror pair's split or resync (seed 004 4020, 5020), or a
// split/resync waiting for the writes already in flight to finish.
export const TaskWait = { NONE: 0, CACHE_FULL: 1, SLOT_BUSY: 2, STAGE: 3, TIMER: 4, LINK: 5, RESPONSE: 6, MIRROR_HOLD: 7 } as const;
export const TASK_WAIT_NAME = ['none', 'cache-full', 'slot-busy', 'stage', 'timer', 'link', 'response', 'mirror-hold'] as const;
export const TaskKind = { HOST: 1, RECEPTION: 2, JOURNAL_READ: 3, RESTORE: 4, INITIAL_COPY: 5, FORWARD: 6, MIRROR: 7 } as const;
export const TASK_KIND_NAME = ['none', 'host', 'journal-read-reception', 'journal-read', 'restore', 'initial-copy', 'forward', 'mirror'] as const;

/**
 * Whether a live task of this kind works on the volume and pair its volume and pair words name
 * (what "commands in progress" scans look for). Journal read, its reception and configuration
 * forwarding keep other things in those words.
 */
export function namesVolume(kind: number): boolean {
  return kind !== TaskKind.RECEPTION && kind !== TaskKind.JOURNAL_READ && kind !== TaskKind.FORWARD;
}

/** Service tasks per group: journal read 240, restore 250, initial copy. */
export const GROUP_SERVICE_TASKS = 3;
export const GroupService = { JOURNAL_READ: 0, RESTORE: 1, INITIAL_COPY: 2 } as const;

export const TASK_RECORD = defineStruct('task', 128, [
  { name: 'state', offset: 0, size: 4, type: 'i32', meaning: 'free, ready, waiting' },
  { name: 'wait', offset: 4, size: 4, type: 'i32', meaning: 'why the task waits' },
  { name: 'port_slot', offset: 8, size: 4, type: 'i32', meaning: 'host port slot' },
  { name: 'opcode', offset: 12, size: 4, type: 'i32', meaning: 'command operation' },
  { name: 'volume', offset: 16, size: 4, type: 'i32', meaning: 'target volume' },
  { name: 'lba', offset: 20, size: 4, type: 'i32', meaning: 'first block' },
  { name: 'byte_length', offset: 24, size: 4, type: 'i32', meaning: 'transfer length' },
  { name: 'cursor_bytes', offset: 28, size: 4, type: 'i32', meaning: 'bytes done' },
  { name: 'cache_slot', offset: 32, size: 4, type: 'i32', meaning: 'pinned slot during a stage' },
  { name: 'attempts', offset: 36, size: 4, type: 'i32', meaning: 'resumptions without progress' },
  { name: 'generation', offset: 40, size: 4, type: 'i32', meaning: 'volume definition generation at start' },
  { name: 'kind', offset: 44, size: 4, type: 'i32', meaning: 'task kind' },
  { name: 'phase', offset: 48, size: 4, type: 'i32', meaning: 'process step' },
  { name: 'group', offset: 52, size: 4, type: 'i32', meaning: 'group number' },
  { name: 'pair', offset: 56, size: 4, type: 'i32', meaning: 'pair number' },
  { name: 'aux_cursor', offset: 60, size: 4, type: 'i32', meaning: 'bytes done of a second transfer' },
  { name: 'wake_ms', offset: 64, size: 8, type: 'f64', meaning: 'timer expiry' },
  { name: 'update_number', offset: 72, size: 8, type: 'f64', meaning: 'journal update number' },
  { name: 'ui_position', offset: 80, size: 8, type: 'f64', meaning: 'update-information position' },
  { name: 'wd_position', offset: 88, size: 8, type: 'f64', meaning: 'write-data position' },
  { name: 'count', offset: 96, size: 4, type: 'i32', meaning: 'journals in the batch' },
  { name: 'aux0', offset: 100, size: 4, type: 'i32', meaning: 'process-specific' },
  { name: 'aux1', offset: 104, size: 4, type: 'i32', meaning: 'process-specific' },
  { name: 'aux2', offset: 108, size: 4, type: 'i32', meaning: 'process-specific' },
  { name: 'received_ms', offset: 112, size: 8, type: 'f64', meaning: 'command receive time' },
  { name: 'aux_f64', offset: 120, size: 8, type: 'f64', meaning: 'process-specific' },
]);

export const TASK_WORDS = TASK_RECORD.size >> 2;
/** Int32 word indexes inside a task record. */
export const TaskWord = {
  STATE: 0, WAIT: 1, PORT_SLOT: 2, OPCODE: 3, VOLUME: 4, LBA: 5, BYTE_LENGTH: 6, CURSOR: 7, CACHE_SLOT: 8, ATTEMPTS: 9, GENERATION: 10,
  KIND: 11, PHASE: 12, GROUP: 13, PAIR: 14, AUX_CURSOR: 15, COUNT: 24, AUX0: 25, AUX1: 26, AUX2: 27,
} as const;
/**
 * The cache slot task `t` (its index in the task table) waits for a stage of, or -1. A stage wait
 * is the only pin a task holds from one loop iteration to the next, so after a reset or a power
 * loss these are the pins and the stage requests to restore.
 */
export function stageWaitSlot(tasks: Int32Array, t: number): number {
  const w = t * TASK_WORDS;
  return tasks[w + TaskWord.STATE] === TaskState.WAITING && tasks[w + TaskWord.WAIT] === TaskWait.STAGE ? tasks[w + TaskWord.CACHE_SLOT]! : -1;
}

/** Float64 indexes inside a task record (float64 index = word index / 2). */
export const TaskF64 = { WAKE_MS: 8, UPDATE_NUMBER: 9, UI_POSITION: 10, WD_POSITION: 11, RECEIVED_MS: 14, AUX_F64: 15 } as const;
export const TASK_F64S = TASK_RECORD.size >> 3;
