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

/**
 * One end of a link (connection path 200) as a processor sees it: a frame being built in
 * `staging` is sent with sendStaging; receive() delivers the next frame's payload into
 * `rxStaging`. Never blocks. hal/link.ts implements it over shared-memory rings (in one
 * process, or bridged to TCP).
 */
export interface LinkPort {
  readonly staging: Uint8Array;
  readonly stagingWords: Int32Array;
  readonly rxStaging: Uint8Array;
  readonly rxStagingWords: Int32Array;
  readonly rxPayloadLength: number;
  readonly payloadMax: number;
  isUp(): boolean;
  /** Sends the first payloadLength bytes of staging as a frame; false if the link is down or full. */
  sendStaging(type: number, flags: number, payloadLength: number): boolean;
  /** The type of the next delivered frame (> 0), 0 if none, negative for a bad frame (counted by the link). */
  receive(): number;
}

export interface Platform {
  readonly processorId: number;
  readonly mem: ControlMemory;
  readonly hostPorts: HostPorts;
  /** Drives by storage device number; every processor has its own handles. */
  readonly drives: ReadonlyMap<number, Drive>;
  readonly clock: Clock;
  /** Host ports of other storage systems this one writes to (synchronous pairs), by system number. */
  readonly remotePorts: ReadonlyMap<number, HostPorts>;
  /** Link endpoints by link number (configuration `links`); each is used only by its adapter. */
  readonly links: ReadonlyMap<number, LinkPort>;
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
