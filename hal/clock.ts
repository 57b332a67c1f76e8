// Clocks: the time source a processor sees.
//
// Firmware reads time only through Clock, so the same task code runs on real time in the
// threaded runtime and on virtual time in the deterministic runtime, where time moves only
// when the scheduler moves it.

export interface Clock {
  /** Milliseconds since the Unix epoch, with sub-millisecond resolution where available. */
  nowMs(): number;
}

/** Wall-clock time: performance.now() anchored at the process's time origin. */
export class RealClock implements Clock {
  nowMs(): number {
    return performance.timeOrigin + performance.now();
  }
}

/** Virtual time, moved only by its owner (the deterministic runtime or a test). */
export class VirtualClock implements Clock {
  private timeMs: number;
  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.timeMs = startMs;
  }
  nowMs(): number {
    return this.timeMs;
  }
  advance(deltaMs: number): void {
    if (!(deltaMs >= 0)) throw new Error(`virtual time cannot move backwards (delta ${deltaMs} ms)`);
    this.timeMs += deltaMs;
  }
  advanceTo(timeMs: number): void {
    if (timeMs > this.timeMs) this.timeMs = timeMs;
  }
}
