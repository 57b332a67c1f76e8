// npm run sim — the deterministic simulator's command line.
//
//   npm run sim -- --seed N [--trace] [--writes W]   replay seed N exactly (with its trace)
//   npm run sim -- --seeds K [--from S] [--time S]  run seeds S..S+K-1, stop early after S seconds
//
// Every run prints one line per seed; a failing seed prints itself, its scenario and the trace
// lines before the violation, and the exit status is 1. See docs/simulation.md.

import { runSeed, type SimResult } from './sim/run.ts';

interface Args {
  seed?: number;
  seeds: number;
  from: number;
  timeS: number;
  trace: boolean;
  writes?: number;
}

function parse(argv: string[]): Args {
  const a: Args = { seeds: 20, from: 1, timeS: Infinity, trace: false };
  const number = (flag: string, value: string | undefined): number => {
    const n = Number(value);
    if (value === undefined || !Number.isInteger(n) || n < 0) throw new Error(`${flag} needs a non-negative integer, got '${value ?? ''}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    switch (flag) {
      case '--seed': a.seed = number(flag, argv[++i]); break;
      case '--seeds': a.seeds = number(flag, argv[++i]); break;
      case '--from': a.from = number(flag, argv[++i]); break;
      case '--time': a.timeS = number(flag, argv[++i]); break;
      case '--writes': a.writes = number(flag, argv[++i]); break;
      case '--trace': a.trace = true; break;
      case '--help':
        console.log('usage: npm run sim -- [--seed N [--trace]] [--seeds K] [--from S] [--time SECONDS] [--writes W]');
        process.exit(0);
        break;
      default: throw new Error(`unknown option '${flag}' (see --help)`);
    }
  }
  return a;
}

function line(r: SimResult, ms: number): string {
  const prefixes = Object.entries(r.prefixes).map(([s, k]) => `s${s}=${k}`).join(' ');
  return `seed ${r.seed}: ${r.ok ? 'ok  ' : 'FAIL'} ${r.writes} writes${r.refused > 0 ? ` (${r.refused} refused by a failed volume)` : ''}, ${r.checks} checks, ${r.virtualMs.toFixed(0)} ms simulated, ${r.steps} steps, ${(ms / 1000).toFixed(1)} s  [${prefixes}]  ${r.scenario}`;
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parse(process.argv.slice(2));
  } catch (e) {
    console.error(`sim: ${(e as Error).message}`);
    return 2;
  }
  const seeds = args.seed !== undefined ? [args.seed] : Array.from({ length: args.seeds }, (_, i) => args.from + i);
  const started = Date.now();
  const failed: SimResult[] = [];
  const faults: Record<string, number> = {};
  let runs = 0;
  let writes = 0;
  let refused = 0;
  let checks = 0;
  let simulatedMs = 0;
  const torn = { unflushedBlocks: 0, revertedBlocks: 0, tornWrites: 0 };
  let journalScans = 0;
  for (const seed of seeds) {
    if ((Date.now() - started) / 1000 > args.timeS) {
      console.log(`time limit of ${args.timeS} s reached after ${runs} seeds`);
      break;
    }
    const t0 = Date.now();
    const r = await runSeed(seed, { ...(args.writes !== undefined ? { writes: args.writes } : {}), ...(args.trace ? { trace: (l: string) => console.log(l) } : {}) });
    runs++;
    writes += r.writes;
    refused += r.refused;
    checks += r.checks;
    simulatedMs += r.virtualMs;
    torn.unflushedBlocks += r.torn.unflushedBlocks;
    torn.revertedBlocks += r.torn.revertedBlocks;
    torn.tornWrites += r.torn.tornWrites;
    journalScans += r.journalScans;
    for (const [k, n] of Object.entries(r.faults)) faults[k] = (faults[k] ?? 0) + n;
    console.log(line(r, Date.now() - t0));
    if (!r.ok) {
      failed.push(r);
      console.log(`  violation: ${r.violation}`);
      if (!args.trace) for (const l of r.traceTail.slice(-40)) console.log(`  | ${l}`);
      console.log(`  replay: npm run sim -- --seed ${r.seed} --trace`);
    }
  }
  const kinds = Object.entries(faults).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
  console.log(`${runs} seeds, ${failed.length} failed; ${writes} host writes verified (${refused} refused by failed volumes), ${checks} prefix checks, ${(simulatedMs / 1000).toFixed(1)} s simulated, faults: ${kinds}; power losses left ${torn.unflushedBlocks} blocks unflushed, ${torn.revertedBlocks} reverted, ${torn.tornWrites} writes torn; ${journalScans} journal volumes scanned intact from their drives; ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (failed.length > 0) console.log(`failing seeds: ${failed.map((r) => r.seed).join(' ')}`);
  return failed.length > 0 ? 1 : 0;
}

process.exitCode = await main();
