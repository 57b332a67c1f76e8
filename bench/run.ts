// npm run bench: the journal throughput benchmarks (bench/suite.ts). Prints a table per
// scenario and the targets, and writes bench/results/bench-<time>.{json,md}, latest.{json,md}
// and the SVG charts.
//
//   npm run bench -- [--quick] [--only hot-path,replication,drives,micro,mirror-dump] [--out bench/results] [--readme]
//
// --readme also replaces the README's "latest result" section with this run's targets and table.
//
// To see where the time goes: node --cpu-prof --cpu-prof-dir=var/prof --import tsx bench/run.ts
// --only hot-path, then npx tsx bench/profile.ts var/prof.

import { parseArgs } from 'node:util';
import { SCENARIOS, runBench, type Scenario } from './suite.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { targetsTable, updateReadme } from './report.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', default: SCENARIOS.join(',') },
    out: { type: 'string', default: 'bench/results' },
    scratch: { type: 'string', default: 'var/bench' },
    readme: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(`usage: npm run bench -- [--quick] [--only ${SCENARIOS.join(',')}] [--out DIR] [--scratch DIR] [--readme]`);
  process.exit(0);
}
const only = values.only!.split(',').map((s) => s.trim()).filter(Boolean) as Scenario[];
const unknown = only.filter((s) => !SCENARIOS.includes(s));
if (unknown.length > 0) {
  console.error(`--only: unknown scenario(s) ${unknown.join(', ')}; choose from ${SCENARIOS.join(', ')}`);
  process.exit(2);
}

const { result, files } = await runBench({ quick: values.quick!, only, outDir: values.out!, scratchDir: values.scratch!, latest: !values.quick, log: (line) => console.log(line) });
console.log('\ntargets');
for (const line of targetsTable(result.targets)) console.log(line);
console.log(`\nresults: ${files.json}\n         ${files.markdown}\n         ${files.charts.join('\n         ')}`);
if (values.readme) {
  writeFileSync('README.md', updateReadme(readFileSync('README.md', 'utf8'), result));
  console.log('README.md: latest result section updated');
}
