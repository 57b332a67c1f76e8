// npm run bench: runs the benchmark suite and writes the figures to results/bench-*.json.
// (The journal throughput benchmarks join this suite as the remote-copy path lands.)

import { mkdirSync, writeFileSync } from 'node:fs';
import { runMicro } from './micro.ts';

console.log('micro-benchmarks (same run, same machine: compare rows, not absolute numbers)');
const micro = runMicro((line) => console.log(line));
mkdirSync('results', { recursive: true });
const path = `results/bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
writeFileSync(path, JSON.stringify({ node: process.version, micro }, null, 2));
console.log(`results: ${path}`);
