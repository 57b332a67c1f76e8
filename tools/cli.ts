// The operator's command line: `npm run cli -- <command> [options]` (or `tsx tools/cli.ts`).
// Exit status: 0 success, 1 the command failed (refused, wrong state, unreachable system),
// 2 it was called wrongly (unknown command, missing or bad option, bad topology file).

import { TopologyError, loadTopology } from './topology-file.ts';
import { Context, UsageError, parseArgs } from './commands/context.ts';
import { groupCreate, journalAdd, pairCreate, pairDelete, pairDisplay, pairResync, pairSplit, takeover } from './commands/pairs.ts';
import { dump, info, link, shutdown, status } from './commands/monitor.ts';
import { inspect, verify, workload } from './commands/data.ts';
import { formatAddress } from './topology-file.ts';
import { table } from './format.ts';

export const USAGE = `usage: npm run cli -- <command> [options]      (-t FILE or $JCF_TOPOLOGY: the topology file, default ./topology.json)

Processes
  serve -s SYSTEM                 run one system of the topology (links over TCP, control socket)
  up                              run every system of the topology in this process (links in memory)
  validate                        check the topology file and list its systems
  info [-s SYSTEM]                which systems answer, their links
  shutdown -s SYSTEM              clean shutdown (drain, destage, flush, save state)

Copy commands
  group create -s SYSTEM -g G --role primary|secondary [--partner PRIMARY]
  journal add -s SYSTEM -g G -v VOLUME
  paircreate -g G -p PRIMARY -S SECONDARY -v P[:S] [-v ...] [--jnl V|P:S] [--nocopy] [--wait]
  pairdisplay -g G [-s SYSTEM ...]
  pairsplit -g G [-s PRIMARY]
  pairresync -g G [-s PRIMARY] [--wait]
  horctakeover -g G -s SECONDARY [--timeout SECONDS]
  pairdelete -g G [-v VOLUME] [-s SYSTEM ...]

Watching and faults
  status [-s SYSTEM ...] [--watch] [--interval SECONDS] [--count N]
  link cut|restore -s SYSTEM -l LINK

Data
  workload -s SYSTEM -v 1,2 [--seconds 5] [--size 4096] [--read PERCENT] [--depth 4] [--rate IOPS] [--record FILE]
  verify -s SECONDARY --record FILE [-g G] [--prefix]
  dump -s SYSTEM -o FILE          write the shared (control) memory to a file
  inspect memory FILE [--section NAME]
  inspect journal DRIVE --start BLOCK --blocks N   |   inspect journal -s SYSTEM -v VOLUME
  journal-scan -s SYSTEM -g G [-v VOLUME] [--from N]   the journals a group's journal volume holds on its file drive

Every command prints a table by default and JSON with --json.`;

async function validate(ctx: Context): Promise<void> {
  const t = loadTopology(ctx.option('topology') ?? process.env.JCF_TOPOLOGY ?? 'topology.json');
  const rows = [...t.systems.values()].map((s) => [s.name, s.config.systemNumber, formatAddress(s.control), s.config.drives.length, s.config.volumes.length, s.config.links.map((l) => `${l.number}->${l.peerSystem}`).join(' ')]);
  ctx.print(`${t.path}: valid\n${table(['system', 'number', 'control', 'drives', 'volumes', 'links'], rows)}`, { path: t.path, systems: [...t.systems.values()].map((s) => ({ name: s.name, number: s.config.systemNumber, control: formatAddress(s.control), links: s.config.links })) });
}

const COMMANDS: Record<string, (ctx: Context) => Promise<void>> = {
  validate,
  info,
  shutdown,
  group: async (ctx) => {
    if (ctx.args.words[1] !== 'create') throw new UsageError('group create -s SYSTEM -g G --role primary|secondary [--partner PRIMARY]');
    await groupCreate(ctx);
  },
  journal: async (ctx) => {
    if (ctx.args.words[1] !== 'add') throw new UsageError('journal add -s SYSTEM -g G -v VOLUME');
    await journalAdd(ctx);
  },
  paircreate: pairCreate,
  pairdisplay: pairDisplay,
  pairsplit: pairSplit,
  pairresync: pairResync,
  horctakeover: takeover,
  takeover,
  pairdelete: pairDelete,
  status,
  link,
  workload,
  verify,
  dump,
  inspect,
  'journal-scan': async (ctx) => (await import('./commands/journal-scan.ts')).journalScan(ctx),
};

export async function main(argv: string[]): Promise<number> {
  let ctx: Context | null = null;
  try {
    const args = parseArgs(argv);
    const command = args.words[0];
    if (command === undefined || args.flags.has('help') || command === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return command === undefined && !args.flags.has('help') ? 2 : 0;
    }
    ctx = new Context(args);
    if (command === 'serve' || command === 'up') {
      const topology = ctx.option('topology') ?? process.env.JCF_TOPOLOGY ?? 'topology.json';
      const name = command === 'serve' ? ctx.required('system', 'the system of the topology to run') : null;
      if (name) ctx.system(name);
      // Loaded only here: the firmware and hal modules are not needed by the client commands.
      const { runUntilSignalled } = await import('./serve.ts');
      await runUntilSignalled(command, topology, name);
      return 0;
    }
    const run = COMMANDS[command];
    if (!run) throw new UsageError(`unknown command '${command}'; see --help`);
    await run(ctx);
    return 0;
  } catch (e) {
    const usage = e instanceof UsageError || e instanceof TopologyError;
    const message = (e as Error).message;
    if (ctx?.json) process.stdout.write(`${JSON.stringify({ ok: false, error: message })}\n`);
    process.stderr.write(`error: ${message}\n`);
    return usage ? 2 : 1;
  } finally {
    ctx?.close();
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
