// What every CLI command gets: its parsed arguments, the topology file, connections to the
// systems' control sockets, and the output conventions (a human table by default, --json for
// scripts; a failure is an exception whose message the operator reads).

import { ControlClient } from '../control.ts';
import { loadTopology, systemOf, type TopologyFile, type TopologySystem } from '../topology-file.ts';

/** A mistake in how the command was called (exit status 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Args {
  words: string[];
  options: Map<string, string[]>;
  flags: Set<string>;
}

/** Options that take no value. */
const FLAGS = new Set(['json', 'wait', 'nocopy', 'watch', 'help', 'prefix', 'exact']);
const ALIASES: Record<string, string> = { t: 'topology', s: 'system', g: 'group', p: 'primary', S: 'secondary', v: 'volume', l: 'link', o: 'output', h: 'help' };

export function parseArgs(argv: string[]): Args {
  const words: string[] = [];
  const options = new Map<string, string[]>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-') || a === '-' || /^-\d/.test(a)) {
      words.push(a);
      continue;
    }
    let name = a.replace(/^--?/, '');
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    name = ALIASES[name] ?? name;
    if (FLAGS.has(name)) {
      flags.add(name);
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`option --${name} needs a value`);
    }
    options.set(name, [...(options.get(name) ?? []), value]);
  }
  return { words, options, flags };
}

export class Context {
  private topologyFile: TopologyFile | null = null;
  private readonly clients = new Map<string, ControlClient>();

  constructor(readonly args: Args, readonly stdout: NodeJS.WriteStream = process.stdout) {}

  get json(): boolean {
    return this.args.flags.has('json');
  }

  /** Progress and notes go to stderr when stdout carries JSON. */
  get notes(): NodeJS.WriteStream {
    return this.json ? process.stderr : this.stdout;
  }

  option(name: string): string | undefined {
    const v = this.args.options.get(name);
    return v?.[v.length - 1];
  }

  all(name: string): string[] {
    return this.args.options.get(name) ?? [];
  }

  required(name: string, what: string): string {
    const v = this.option(name);
    if (v === undefined) throw new UsageError(`--${name} is required (${what})`);
    return v;
  }

  integer(name: string, fallback?: number, min = 0, max = 2 ** 31 - 1): number {
    const text = this.option(name);
    if (text === undefined) {
      if (fallback === undefined) throw new UsageError(`--${name} is required`);
      return fallback;
    }
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} ${text}: must be an integer ${min}..${max}`);
    return n;
  }

  number(name: string, fallback: number, min: number, max: number): number {
    const text = this.option(name);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} ${text}: must be a number ${min}..${max}`);
    return n;
  }

  topology(): TopologyFile {
    this.topologyFile ??= loadTopology(this.option('topology') ?? process.env.JCF_TOPOLOGY ?? 'topology.json');
    return this.topologyFile;
  }

  system(name: string): TopologySystem {
    try {
      return systemOf(this.topology(), name);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }

  async client(name: string): Promise<ControlClient> {
    let c = this.clients.get(name);
    if (!c) {
      c = await ControlClient.connect(this.system(name).control).catch((e: Error) => {
        throw new Error(`${name}: ${e.message}`);
      });
      this.clients.set(name, c);
    }
    return c;
  }

  /** One control operation on a system; a refusal becomes "<system>: <reason>". */
  async call<T = unknown>(name: string, op: string, args: Record<string, unknown> = {}): Promise<T> {
    const c = await this.client(name);
    try {
      return await c.call<T>(op, args);
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`);
    }
  }

  /** Prints the result: JSON with --json, the human text otherwise. */
  print(human: string, json: unknown): void {
    this.stdout.write(this.json ? `${JSON.stringify(json, null, 2)}\n` : `${human}\n`);
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
