// Reads the .cpuprofile files that `node --cpu-prof` writes (one per thread: the main thread,
// every processor's worker, every host worker) and prints, per thread, where its time went:
// the functions with the most self time, and the share of the thread's samples spent idle
// (Atomics.wait, the "(idle)" and "(program)" nodes). This is how the benchmark report's
// "why" lines are found.
//
//   node --cpu-prof --cpu-prof-dir=var/prof --import tsx bench/run.ts --only hot-path
//   npx tsx bench/profile.ts var/prof [--top 12]

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const IDLE_FUNCTIONS = new Set(['(idle)', '(program)', 'wait', 'sleep', 'waitComplete']);

export interface ThreadProfile {
  file: string;
  seconds: number;
  busyShare: number;
  top: Array<{ name: string; share: number }>;
}

/** Self time per function (name and file:line), as shares of the thread's busy samples. */
export function summarise(file: string, top: number): ThreadProfile {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n] as const));
  const self = new Map<string, number>();
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    const dt = profile.timeDeltas[i] ?? 0;
    const f = node.callFrame;
    // Waiting, not working: the profiler's idle nodes, and the functions that block in
    // Atomics.wait (a doorbell sleep, a host waiting on a slot), whose time shows as their own.
    if (IDLE_FUNCTIONS.has(f.functionName)) {
      idle += dt;
      continue;
    }
    const where = f.url ? `${f.url.replace(/^.*\/(?=[^/]+\/[^/]+$)/, '')}:${f.lineNumber + 1}` : '';
    const name = `${f.functionName || '(anonymous)'} ${where}`.trim();
    self.set(name, (self.get(name) ?? 0) + dt);
  }
  const total = profile.endTime - profile.startTime;
  const busy = Math.max(1, total - idle);
  return {
    file,
    seconds: total / 1e6,
    busyShare: busy / Math.max(1, total),
    top: [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({ name, share: us / busy })),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '12' } } });
  const dir = positionals[0] ?? 'var/prof';
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
    const t = summarise(join(dir, name), Number(values.top));
    if (t.busyShare < 0.05) continue; // an idle thread (tsx bootstrap, a sleeping helper)
    console.log(`\n${name}: ${t.seconds.toFixed(1)} s, busy ${(100 * t.busyShare).toFixed(0)}%`);
    for (const f of t.top) console.log(`  ${(100 * f.share).toFixed(1).padStart(5)}%  ${f.name}`);
  }
}
