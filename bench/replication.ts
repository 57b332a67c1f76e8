// End-to-end replication benchmark (scenario 2): a primary and a secondary in one process
// (tools/two-site.ts), host writes generated inside the primary's channel adapters
// (bench/host-load.ts), and a time series of the primary's ingest (journals created per
// second), the secondary's restore rate, the lag (update numbers and milliseconds) and the
// journal usage of both sites, through these phases:
//
//   saturate   the host writes as fast as the primary takes them: ingest versus restore at the
//              limit of this machine (on 2 cores the secondary competes for the same cores)
//   drain      the host stops; the secondary restores what is left (its rate with no host load)
//   steady     the host writes at a paced rate, a fraction of what the secondary restored (under
//              load in the saturate phase, or alone in the drain when the load starved it): the steady state, where restore must keep up (the
//              target: restore at least 0.9 of ingest, lag bounded, no suspension)
//              A pace under which the lag grows is a 'probe': the host pauses until the secondary
//              has caught up and the pace is halved, at most twice.
//   cut        the link is cut under the same paced load: journals pile up on the primary
//   catch-up   the link is back, the load goes on; the lag falls back to its steady level
//
// At the end the host stops, the secondary catches up, both systems power off and the
// secondary's volumes are compared with the primary's.

import { loadTotals, allocateLoad, LoadState, setLoad, type LoadTarget } from './host-load.ts';
import { LOAD_ENTRY_URL, sizeOf, type SystemSize } from './primary.ts';
import { DEFAULT_TWO_SITE, PRIMARY, SECONDARY, bootTwoSites, compareVolumes, resyncAll, snapshot, startReplication, waitCaughtUp, type TwoSiteSpec } from '../tools/two-site.ts';

const MiB = 1024 * 1024;

export interface ReplicationBenchOptions extends SystemSize {
  channelAdapters: number;
  writeBytes: number;
  saturateMs: number;
  steadyMs: number;
  cutMs: number;
  catchUpMs: number;
  sampleMs: number;
  /** Paced load as a fraction of the restore rate seen under load in the saturate phase. */
  pacedFraction: number;
  /** How long the drain and the final catch-up may take before the run reports it did not catch up. */
  catchUpLimitMs: number;
}

export type Phase = 'saturate' | 'drain' | 'resync' | 'probe' | 'steady' | 'cut' | 'catch-up' | 'final';

export interface ReplicationPoint {
  seconds: number;
  phase: Phase;
  ingestPerSecond: number;
  restorePerSecond: number;
  hostBytesPerSecond: number;
  lagUpdates: number;
  lagMs: number;
  primaryUsage: number;
  secondaryUsage: number;
  healthy: boolean;
}

export interface PhaseSummary {
  phase: Phase;
  seconds: number;
  ingestPerSecond: number;
  restorePerSecond: number;
  restoreToIngest: number;
  lagUpdatesMax: number;
  lagMsMax: number;
  lagUpdatesAtEnd: number;
  primaryUsageMax: number;
  suspended: boolean;
}

export interface ReplicationResult {
  options: ReplicationBenchOptions;
  series: ReplicationPoint[];
  phases: PhaseSummary[];
  pacedRatePerSecond: number;
  /** Paces tried first and given up because the lag grew (each followed by a halving). */
  pacesOverrun: number[];
  /** Steady phase: lag at its end no larger than 1.5 x the largest lag of its first half (+ one sample's worth). */
  steadyLagBounded: boolean;
  catchUpAfterCutSeconds: number | null;
  suspendedAnywhere: boolean;
  /** The secondary restored everything after the host stopped, within catchUpLimitMs. */
  caughtUp: boolean;
  verified: boolean;
  firstDifference: string | null;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runReplicationBench(o: ReplicationBenchOptions, log: (line: string) => void = () => {}): Promise<ReplicationResult> {
  const spec: TwoSiteSpec = { ...DEFAULT_TWO_SITE, ...sizeOf(o), channelAdapters: o.channelAdapters, maxTransferBytes: Math.max(o.writeBytes, 64 * 1024) };
  const regionBlocks = Math.floor((o.volumeMiB * MiB) / 512 / o.channelAdapters);
  const targets: LoadTarget[][] = Array.from({ length: o.channelAdapters }, (_, a) =>
    Array.from({ length: o.volumes }, (_, v) => ({ volume: v + 1, firstBlock: a * regionBlocks, blocks: regionBlocks })));
  const load = allocateLoad(o.channelAdapters, targets, o.writeBytes);
  const sites = await bootTwoSites(spec, { entry: (system) => (system === PRIMARY ? { url: LOAD_ENTRY_URL, data: load } : undefined) });
  startReplication(sites, { linkTimeoutMs: 60_000 });
  const series: ReplicationPoint[] = [];
  const started = performance.now();
  let last = { at: started, created: 0, restored: 0, bytes: 0 };
  let phase: Phase = 'saturate';
  const take = (): ReplicationPoint => {
    const now = performance.now();
    const snap = snapshot(sites);
    const bytes = loadTotals(load).bytes;
    const dt = Math.max(1e-6, (now - last.at) / 1000);
    const point: ReplicationPoint = {
      seconds: (now - started) / 1000,
      phase,
      ingestPerSecond: (snap.created - last.created) / dt,
      restorePerSecond: (snap.restored - last.restored) / dt,
      hostBytesPerSecond: (bytes - last.bytes) / dt,
      lagUpdates: snap.lagUpdates,
      lagMs: snap.lagMs,
      primaryUsage: snap.primaryUsage,
      secondaryUsage: snap.secondaryUsage,
      healthy: snap.healthy,
    };
    last = { at: now, created: snap.created, restored: snap.restored, bytes };
    series.push(point);
    return point;
  };
  const ticker = setInterval(take, o.sampleMs);
  const run = (rate: number): void => {
    setLoad(load, LoadState.RUN, o.writeBytes, rate);
    for (let p = 0; p < o.channelAdapters; p++) sites.primary.mem.doorbells.ring(p);
  };
  const begin = (p: Phase): void => {
    take();
    phase = p;
    log(`  ${p} ...`);
  };
  let pacedRatePerSecond = 0;
  const pacesOverrun: number[] = [];
  let catchUpAfterCutSeconds: number | null = null;
  let result: ReplicationResult | null = null;
  let poweredOff = false;
  try {
    begin('saturate');
    run(0);
    await sleep(o.saturateMs);
    begin('drain');
    setLoad(load, LoadState.IDLE);
    const drained = await waitCaughtUp(sites, o.catchUpLimitMs, { drainOnly: true });
    if (snapshot(sites).suspended && drained.caughtUp) {
      begin('resync');
      resyncAll(sites);
      await waitCaughtUp(sites, o.catchUpLimitMs, { healthy: true });
    }
    // The pace: a fraction of what the secondary showed it can restore (under load, or, when the
    // host's load starved it, alone in the drain), never more than the primary took.
    const saturate = summarise(series, 'saturate');
    const drain = summarise(series, 'drain');
    pacedRatePerSecond = Math.max(100, o.pacedFraction * Math.min(saturate.ingestPerSecond, Math.max(saturate.restorePerSecond, drain.restorePerSecond)));
    // A pace the secondary cannot follow shows as a growing lag: that attempt becomes a probe,
    // the host pauses until the secondary has caught up, and the pace is halved (twice at most).
    for (let attempt = 0; ; attempt++) {
      begin('steady');
      run(pacedRatePerSecond / o.channelAdapters);
      await sleep(o.steadyMs);
      if (attempt === 2 || lagBounded(series, 'steady', pacedRatePerSecond * (o.sampleMs / 1000))) break;
      pacesOverrun.push(pacedRatePerSecond);
      for (const p of series) if (p.phase === 'steady') p.phase = 'probe';
      phase = 'probe';
      setLoad(load, LoadState.IDLE);
      await waitCaughtUp(sites, o.catchUpLimitMs, { drainOnly: true });
      pacedRatePerSecond /= 2;
    }
    begin('cut');
    const link = sites.topo.link(PRIMARY, SECONDARY);
    link.cut();
    await sleep(o.cutMs);
    const steady = summarise(series, 'steady');
    begin('catch-up');
    link.restore();
    const cutEnded = performance.now();
    const deadline = cutEnded + o.catchUpMs;
    while (performance.now() < deadline) {
      await sleep(Math.max(1, o.sampleMs / 4));
      if (catchUpAfterCutSeconds === null && snapshot(sites).lagUpdates <= Math.max(steady.lagUpdatesMax, 1)) catchUpAfterCutSeconds = (performance.now() - cutEnded) / 1000;
    }
    begin('final');
    setLoad(load, LoadState.STOP);
    const final = await waitCaughtUp(sites, o.catchUpLimitMs, { healthy: true });
    take();
    clearInterval(ticker);
    poweredOff = true;
    await sites.topo.powerOff();
    const comparison = final.caughtUp ? compareVolumes(sites) : { blocks: 0, firstDifference: 'not compared: the secondary did not catch up' };
    const phases = (['saturate', 'drain', 'steady', 'cut', 'catch-up'] as const).map((p) => summarise(series, p));
    result = {
      options: o,
      series,
      phases,
      pacedRatePerSecond,
      pacesOverrun,
      steadyLagBounded: lagBounded(series, 'steady', pacedRatePerSecond * (o.sampleMs / 1000)),
      catchUpAfterCutSeconds,
      suspendedAnywhere: series.some((p) => !p.healthy),
      caughtUp: final.caughtUp,
      verified: comparison.firstDifference === null && sites.primary.failures.length === 0 && sites.secondary.failures.length === 0,
      firstDifference: comparison.firstDifference,
    };
  } finally {
    clearInterval(ticker);
    setLoad(load, LoadState.STOP);
    if (!poweredOff) await sites.topo.powerOff();
    sites.primary.dispose();
    sites.secondary.dispose();
  }
  return result;
}

function pointsOf(series: ReplicationPoint[], phase: Phase): ReplicationPoint[] {
  return series.filter((p) => p.phase === phase);
}

/** Rates over a phase: mean of its samples (each sample a rate over its own interval). */
export function summarise(series: ReplicationPoint[], phase: Phase): PhaseSummary {
  const points = pointsOf(series, phase);
  const n = Math.max(1, points.length);
  const ingest = points.reduce((a, p) => a + p.ingestPerSecond, 0) / n;
  const restore = points.reduce((a, p) => a + p.restorePerSecond, 0) / n;
  return {
    phase,
    seconds: points.length === 0 ? 0 : points[points.length - 1]!.seconds - points[0]!.seconds,
    ingestPerSecond: ingest,
    restorePerSecond: restore,
    restoreToIngest: ingest === 0 ? 0 : restore / ingest,
    lagUpdatesMax: Math.max(0, ...points.map((p) => p.lagUpdates)),
    lagMsMax: Math.max(0, ...points.map((p) => p.lagMs)),
    lagUpdatesAtEnd: points[points.length - 1]?.lagUpdates ?? 0,
    primaryUsageMax: Math.max(0, ...points.map((p) => p.primaryUsage)),
    suspended: points.some((p) => !p.healthy),
  };
}

function lagBounded(series: ReplicationPoint[], phase: Phase, slack: number): boolean {
  const points = pointsOf(series, phase);
  if (points.length < 4) return true;
  const half = points.slice(0, Math.floor(points.length / 2));
  const firstHalfMax = Math.max(...half.map((p) => p.lagUpdates));
  return points[points.length - 1]!.lagUpdates <= 1.5 * firstHalfMax + slack;
}
