// Helpers for the operator-tool tests: free loopback ports, a two-site topology in a temp
// directory, `serve` child processes, and the CLI run as a user runs it (a process, its exit
// status, its stdout and stderr).

import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'tools/cli.ts');

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/** Two systems with one file drive each: data volumes 1 and 2 (2 MiB), journal volume 3 (8 MiB). */
export async function twoSiteTopology(dir: string, o: { groups?: boolean } = {}): Promise<string> {
  const linkPort = await freePort();
  const system = (name: string, number: number): unknown => ({
    number,
    channelAdapters: 2,
    diskAdapters: 1,
    cacheMiB: 4,
    control: join(dir, `${name}.sock`),
    drives: [{ number: 0, kind: 'file', path: `${name}-0.img`, sizeMiB: 12 }],
    volumes: [{ number: 1, drive: 0, sizeMiB: 2 }, { number: 2, drive: 0, sizeMiB: 2 }, { number: 3, drive: 0, sizeMiB: 8 }],
    ...(o.groups ? { groups: [number === 1 ? { group: 1, role: 'primary', journalVolume: 3 } : { group: 1, role: 'secondary', partner: 'tokyo', journalVolume: 3 }] } : {}),
  });
  const path = join(dir, 'topology.json');
  writeFileSync(path, JSON.stringify({ systems: { tokyo: system('tokyo', 1), osaka: system('osaka', 2) }, links: [{ between: ['tokyo', 'osaka'], tcp: `127.0.0.1:${linkPort}` }] }, null, 2));
  return path;
}

export interface Served {
  name: string;
  child: ChildProcess;
  stdout: () => string;
  exited: Promise<number | null>;
}

const children = new Set<ChildProcess>();

/** `cli serve`; resolves once the process says it is ready. */
export async function serve(topology: string, name: string): Promise<Served> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '-t', topology, '-s', name], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => {
    children.delete(child);
    done(code);
  }));
  await new Promise<void>((ready, fail) => {
    const timer = setInterval(() => {
      if (out.includes(' ready;')) {
        clearInterval(timer);
        ready();
      }
    }, 20);
    void exited.then((code) => {
      clearInterval(timer);
      fail(new Error(`serve ${name} exited with ${code} before it was ready:\n${out}\n${err}`));
    });
  });
  return { name, child, stdout: () => out, exited };
}

/** SIGTERM and the exit status of a clean shutdown. */
export async function stop(s: Served): Promise<number | null> {
  s.child.kill('SIGTERM');
  return s.exited;
}

/** Kills every serve process still running (afterEach). */
export function killAll(): void {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One CLI process; CLI_TIMING=1 logs how long each took (the e2e test's time is mostly these). */
export function cli(topology: string | null, ...args: string[]): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...(topology ? ['-t', topology] : []), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const t0 = Date.now();
  return new Promise((done) => child.on('exit', (code) => {
    if (process.env.CLI_TIMING) console.log(`${Date.now() - t0} ms: ${args.join(' ')} -> ${code}`);
    done({ code, stdout, stderr });
  }));
}

/** The CLI with --json, which must succeed; its parsed output. */
export async function cliJson<T = Record<string, unknown>>(topology: string, ...args: string[]): Promise<T> {
  const r = await cli(topology, ...args, '--json');
  if (r.code !== 0) throw new Error(`cli ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
