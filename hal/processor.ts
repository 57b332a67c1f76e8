// RunnableProcessor: what a runtime needs from a processor, whatever the processor does.
//
// A processor is a loop of non-blocking tasks. A runtime repeatedly calls step(); when a step
// did nothing it may put the processor to sleep on its doorbell for at most idleWaitMs(). The
// threaded runtime sleeps for real (Atomics.wait); the deterministic runtime only moves
// virtual time. The same processor object runs under both.

export interface RunnableProcessor {
  readonly processorId: number;
  readonly kind: string;
  /** One loop iteration; returns units of work done, 0 when idle. */
  step(): number;
  /** Longest sleep allowed when idle (timers, waits that end without a doorbell). */
  idleWaitMs(): number;
  /** True once the processor has finished its part of power-off; the runtime stops calling step. */
  finished(): boolean;
  /** The doorbell value, read before step() so a ring during the step is never missed. */
  doorbell(): number;
  /** Sleeps until the doorbell moves from `seen` or `timeoutMs` passes. Threaded runtime only. */
  sleep(seen: number, timeoutMs: number): void;
}
