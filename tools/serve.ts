// `serve` and `up`: storage systems as long-running processes with control sockets.
//
//   serve  one system of a topology file in this process; its links are TCP bridges (the first
//          system named by a link listens, the second connects and keeps retrying), so several
//          serve processes form a multi-site system on one machine or several.
//   up     every system of the topology in this process, links in memory (cut and restore work
//          the same), one control socket per system: for experiments.
//
// SIGINT or SIGTERM (or the control operation `shutdown`) shuts down cleanly: journals drain
// for a few seconds, the operator state is saved, cache is destaged and file drives flushed
// (StorageSystem.powerOff), links and sockets close. A second signal exits at once.

import { LinkBuffer, LinkEndpoint } from '../hal/link.ts';
import { Agent } from './agent.ts';
import { CommandError, ControlServer } from './control.ts';
import { DEFAULT_LINK_RING_BYTES } from './topology.ts';
import { formatAddress, loadTopology, systemOf, type TopologyFile } from './topology-file.ts';

export interface Running {
  agents: Agent[];
  servers: ControlServer[];
  /** Resolves when the process has shut down (signal or `shutdown`). */
  done: Promise<void>;
  shutdown: () => Promise<void>;
}

const stamp = (): string => new Date().toISOString().slice(11, 23);

/** Starts one system (serve) or all of them (up) and their control sockets. */
export async function run(
  mode: 'serve' | 'up',
  topologyPath: string,
  name: string | null,
  out: (line: string) => void = (l) => void process.stdout.write(`${l}\n`),
  log: (line: string) => void = (l) => void process.stderr.write(`${stamp()} ${l}\n`),
): Promise<Running> {
  const topology = loadTopology(topologyPath);
  const agents = mode === 'serve' ? [await Agent.start(topology, systemOf(topology, name!), { log })] : await startAll(topology, log);
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  let shuttingDown: Promise<void> | null = null;
  const servers: ControlServer[] = [];
  const shutdown = (): Promise<void> => {
    shuttingDown ??= (async () => {
      out('shutting down: draining journals, destaging cache, flushing drives');
      for (const s of servers) await s.close();
      for (const a of agents) {
        const r = await a.shutdown();
        out(`${a.spec.name}: stopped (${r.undestagedSlots} undestaged slots${r.drained ? '' : ', journals not drained'}${a.spec.stateFile ? `; state saved to ${a.spec.stateFile}` : ''})`);
      }
      resolveDone();
    })();
    return shuttingDown;
  };
  for (const agent of agents) {
    let server: ControlServer;
    try {
      server = await ControlServer.listen(agent.spec.control, async (op, args) => {
        if (op === 'shutdown') {
          setImmediate(() => void shutdown());
          return { shuttingDown: true };
        }
        if (shuttingDown) throw new CommandError(`${agent.spec.name} is shutting down`);
        return agent.handle(op, args);
      });
    } catch (e) {
      // The systems are booted: power them off (and close their links) before giving up.
      await shutdown();
      throw e;
    }
    servers.push(server);
    const links = topology.links.filter((l) => l.a.system === agent.spec.name || l.b.system === agent.spec.name).map((l) => {
      const mine = l.a.system === agent.spec.name ? l.a : l.b;
      const peer = mine === l.a ? l.b.system : l.a.system;
      const how = mode === 'up' ? 'in memory' : `tcp ${mine === l.a ? 'listen' : 'connect'} ${l.tcp!.host}:${l.tcp!.port}`;
      return `link ${mine.link} -> ${peer} (${how})`;
    });
    out(`${agent.spec.name} (system ${agent.spec.config.systemNumber}) ready; control ${formatAddress(agent.spec.control)}${links.length ? `; ${links.join(', ')}` : ''}`);
  }
  return { agents, servers, done, shutdown };
}

/** `up`: every link is one shared buffer between its two systems. */
async function startAll(topology: TopologyFile, log: (line: string) => void): Promise<Agent[]> {
  const ends = new Map<string, Array<{ attachment: { number: number; buffer: SharedArrayBuffer; side: 0 | 1 }; control: LinkEndpoint }>>();
  for (const l of topology.links) {
    const buffer = LinkBuffer.allocate(DEFAULT_LINK_RING_BYTES);
    const control = new LinkEndpoint(buffer, 0, { nowMs: () => Date.now() });
    const list = (n: string): NonNullable<ReturnType<typeof ends.get>> => ends.get(n) ?? (ends.set(n, []), ends.get(n)!);
    list(l.a.system).push({ attachment: { number: l.a.link, buffer, side: 0 }, control });
    list(l.b.system).push({ attachment: { number: l.b.link, buffer, side: 1 }, control });
  }
  const agents: Agent[] = [];
  for (const spec of topology.systems.values()) agents.push(await Agent.start(topology, spec, { log, attachments: ends.get(spec.name) ?? [] }));
  return agents;
}

/** Runs until a signal or `shutdown`; the process exits 0 after a clean shutdown. */
export async function runUntilSignalled(mode: 'serve' | 'up', topologyPath: string, name: string | null): Promise<void> {
  const running = await run(mode, topologyPath, name);
  let signals = 0;
  const onSignal = (signal: string): void => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`${signal} again: exiting without a clean shutdown\n`);
      process.exit(130);
    }
    process.stdout.write(`${signal} received\n`);
    void running.shutdown();
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  await running.done;
  process.exit(0);
}
