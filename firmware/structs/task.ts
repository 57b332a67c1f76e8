// Task records: the state of every task a processor is running, kept in shared memory so an
// inspector can see what each processor is doing and why a task waits.
//
// A task never blocks. When it cannot go on (cache full, slot busy, a stage outstanding) it
// records why in `wait` and yields; the processor loop runs it again later from `cursor_bytes`.
//
// Task record (64 bytes, int32 words):
//  off size field          meaning
//    0    4 state          TaskState
//    4    4 wait           TaskWait: why a WAITING task waits
//    8    4 port_slot      host port slot of the command
//   12    4 opcode         HostOp of the command
//   16    4 volume         target volume
//   20    4 lba            first block
//   24    4 byte_length    transfer length
//   28    4 cursor_bytes   bytes of the transfer already done
//   32    4 cache_slot     slot pinned while a stage is outstanding, -1 otherwise
//   36    4 attempts       times the task was resumed without progress
//   40    4 generation     the target volume's definition generation when the command started
//   44   20 reserved

import { defineStruct } from './struct.ts';

export const TaskState = { FREE: 0, READY: 1, WAITING: 2 } as const;
export const TaskWait = { NONE: 0, CACHE_FULL: 1, SLOT_BUSY: 2, STAGE: 3 } as const;
export const TASK_WAIT_NAME = ['none', 'cache-full', 'slot-busy', 'stage'] as const;

export const TASK_RECORD = defineStruct('task', 64, [
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
]);

export const TASK_WORDS = TASK_RECORD.size >> 2;
export const TaskWord = {
  STATE: 0, WAIT: 1, PORT_SLOT: 2, OPCODE: 3, VOLUME: 4, LBA: 5, BYTE_LENGTH: 6, CURSOR: 7, CACHE_SLOT: 8, ATTEMPTS: 9, GENERATION: 10,
} as const;
