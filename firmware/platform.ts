// Platform: what the hal hands a processor at start, and what a processor offers its runtime.
//
// The firmware never chooses its hardware: a runtime (threaded or deterministic) builds a
// Platform from configuration — drives opened for this processor, a clock, the shared
// regions — and calls createProcessor (boot.ts). The runtime then calls step() in a loop.

import type { Clock } from '../hal/clock.ts';
import type { Drive } from '../hal/drive.ts';
import type { HostPorts } from '../hal/host-port.ts';
import type { RunnableProcessor } from '../hal/processor.ts';
import type { ControlMemory } from './layout.ts';

export interface Platform {
  readonly processorId: number;
  readonly mem: ControlMemory;
  readonly hostPorts: HostPorts;
  /** Drives by storage device number; every processor has its own handles. */
  readonly drives: ReadonlyMap<number, Drive>;
  readonly clock: Clock;
  /** Trace sink for state changes ("volume 3: normal -> abnormal (drive 1 failed)"). */
  readonly trace: (line: string) => void;
}

export interface Processor extends RunnableProcessor {
  readonly kind: 'channel-adapter' | 'disk-adapter';
}

/** Processor numbering: channel adapters first, then disk adapters. */
export function processorKind(mem: ControlMemory, processorId: number): 'channel-adapter' | 'disk-adapter' {
  return processorId < mem.config.channelAdapters ? 'channel-adapter' : 'disk-adapter';
}
