// Deterministic runtime: every processor of every storage system (and any host actor) in one
// thread, stepped in an order chosen by a seeded PRNG, on virtual time.
//
// Each scheduling decision picks one participant uniformly at random and runs one step of it.
// A step costs STEP_COST_MS of virtual time. When every participant's latest step did nothing,
// time jumps by the shortest idle wait among them — the moment the earliest sleeper would have
// woken — so timers fire without burning steps. The same seed gives the same interleaving, the
// same virtual times and so the same result.

import { VirtualClock } from '../clock.ts';
import { Prng } from './prng.ts';

export const STEP_COST_MS = 0.001;

export interface Steppable {
  readonly kind: string;
  step(): number;
  idleWaitMs(): number;
  finished(): boolean;
}

export class DeterministicRuntime {
  readonly clock: VirtualClock;
  readonly prng: Prng;
  private readonly participants: Steppable[] = [];
  private readonly idle: boolean[] = [];
  steps = 0;

  constructor(readonly seed: number, clock?: VirtualClock) {
    this.clock = clock ?? new VirtualClock();
    this.prng = new Prng(seed);
  }

  add(participant: Steppable): void {
    this.participants.push(participant);
    this.idle.push(false);
  }

  remove(participant: Steppable): void {
    const i = this.participants.indexOf(participant);
    if (i >= 0) {
      this.participants.splice(i, 1);
      this.idle.splice(i, 1);
    }
  }

  /**
   * Runs `action` once, `ms` of virtual time from now — or at the first step where `early()`
   * holds — as a participant of its own, whatever else is waiting then (timed events of a
   * simulation: a processor restarting, a fault striking).
   */
  once(ms: number, action: () => void, early: () => boolean = () => false): void {
    const due = this.clock.nowMs() + ms;
    let done = false;
    this.add({
      kind: 'event',
      step: () => {
        if (done || (this.clock.nowMs() < due && !early())) return 0;
        done = true;
        action();
        return 1;
      },
      idleWaitMs: () => Math.max(0.001, due - this.clock.nowMs()),
      finished: () => done,
    });
  }

  /** One scheduling decision. Returns false when every participant has finished. */
  step(): boolean {
    const live: number[] = [];
    for (let i = 0; i < this.participants.length; i++) if (!this.participants[i]!.finished()) live.push(i);
    if (live.length === 0) return false;
    const i = live[this.prng.below(live.length)]!;
    const work = this.participants[i]!.step();
    this.steps++;
    this.clock.advance(STEP_COST_MS);
    this.idle[i] = work === 0;
    if (work === 0 && live.every((j) => this.idle[j])) {
      let wait = Infinity;
      for (const j of live) wait = Math.min(wait, this.participants[j]!.idleWaitMs());
      if (Number.isFinite(wait) && wait > 0) this.clock.advance(wait);
      for (const j of live) this.idle[j] = false;
    }
    return true;
  }

  /** Steps until `done()` holds; throws, naming the seed, if it takes more than maxSteps. */
  runUntil(done: () => boolean, maxSteps: number, what = 'condition'): number {
    const start = this.steps;
    while (!done()) {
      if (this.steps - start >= maxSteps) throw new Error(`deterministic runtime (seed ${this.seed}): ${what} not reached within ${maxSteps} steps`);
      if (!this.step()) {
        if (done()) break;
        throw new Error(`deterministic runtime (seed ${this.seed}): every participant finished before ${what}`);
      }
    }
    return this.steps - start;
  }

  /** Steps until every participant has finished (power-off). */
  runToCompletion(maxSteps: number): number {
    return this.runUntil(() => this.participants.every((p) => p.finished()), maxSteps, 'power-off');
  }
}
