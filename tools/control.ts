// Control socket: how operator commands reach a running storage system process.
//
// Newline-delimited JSON over a Unix domain socket or a localhost TCP port. One request a line,
// one response a line, in order, on any number of connections:
//   request   {"id": 7, "op": "groupStatus", "args": {"group": 1}}
//   response  {"id": 7, "ok": true, "data": {...}}
//             {"id": 7, "ok": false, "error": "group 1 is unused"}
// A line that is not a JSON object with a string "op" is answered {"id": null, "ok": false,
// "error": "malformed request: ..."} and the connection carries on; a line longer than
// CONTROL_LINE_BYTES_MAX closes the connection (its end cannot be found safely).

import net from 'node:net';
import { rmSync } from 'node:fs';
import type { Address } from './topology-file.ts';
import { formatAddress } from './topology-file.ts';

export const CONTROL_LINE_BYTES_MAX = 4 * 1024 * 1024;
export const CONTROL_CONNECTIONS_MAX = 32;

export type ControlHandler = (op: string, args: Record<string, unknown>) => Promise<unknown>;

/** An operator command's refusal: the message is what the operator reads. */
export class CommandError extends Error {
  override name = 'CommandError';
}

export interface ControlResponse {
  id: unknown;
  ok: boolean;
  data?: unknown;
  error?: string;
}

export class ControlServer {
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly server: net.Server, readonly address: Address) {}

  static async listen(address: Address, handler: ControlHandler): Promise<ControlServer> {
    if (address.kind === 'unix') {
      // A socket file left by a killed process is removed; one that answers belongs to a live system.
      const live = await new Promise<boolean>((resolve) => {
        const probe = net.connect(address.path);
        probe.once('connect', () => (probe.destroy(), resolve(true)));
        probe.once('error', () => resolve(false));
      });
      if (live) throw new Error(`control socket ${address.path} is in use: is this system already running?`);
      rmSync(address.path, { force: true });
    }
    const server = net.createServer();
    const control = new ControlServer(server, address);
    server.maxConnections = CONTROL_CONNECTIONS_MAX;
    server.on('connection', (socket) => control.serve(socket, handler));
    return new Promise((resolve, reject) => {
      server.once('error', (e) => reject(new Error(`control socket ${formatAddress(address)}: ${e.message}`)));
      const done = (): void => resolve(control);
      if (address.kind === 'tcp') server.listen(address.port, address.host, done);
      else server.listen(address.path, done);
    });
  }

  private serve(socket: net.Socket, handler: ControlHandler): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    let pending = '';
    // Requests on one connection are answered in order: each waits for the one before.
    let chain: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      if (pending.length > CONTROL_LINE_BYTES_MAX && !pending.includes('\n')) {
        socket.end(`${JSON.stringify({ id: null, ok: false, error: `request line longer than ${CONTROL_LINE_BYTES_MAX} bytes` })}\n`);
        pending = '';
        return;
      }
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (line.length === 0) continue;
        chain = chain.then(async () => {
          const response = await answer(line, handler);
          if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
        });
      }
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.address.kind === 'unix') rmSync(this.address.path, { force: true });
  }
}

async function answer(line: string, handler: ControlHandler): Promise<ControlResponse> {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch (e) {
    return { id: null, ok: false, error: `malformed request: not JSON (${(e as Error).message})` };
  }
  if (typeof request !== 'object' || request === null || Array.isArray(request)) return { id: null, ok: false, error: 'malformed request: expected a JSON object {"id", "op", "args"}' };
  const r = request as { id?: unknown; op?: unknown; args?: unknown };
  const id = r.id ?? null;
  if (typeof r.op !== 'string') return { id, ok: false, error: 'malformed request: "op" must be a string' };
  if (r.args !== undefined && (typeof r.args !== 'object' || r.args === null || Array.isArray(r.args))) return { id, ok: false, error: 'malformed request: "args" must be an object' };
  try {
    const data = await handler(r.op, (r.args ?? {}) as Record<string, unknown>);
    return { id, ok: true, data };
  } catch (e) {
    return { id, ok: false, error: e instanceof CommandError ? e.message : `${(e as Error).message}` };
  }
}

/** One connection to a control socket; requests may be issued concurrently. */
export class ControlClient {
  private nextId = 1;
  private pending = '';
  private readonly waiting = new Map<number, { resolve: (r: ControlResponse) => void; reject: (e: Error) => void }>();
  private closedError: Error | null = null;

  private constructor(private readonly socket: net.Socket, readonly address: Address) {
    socket.on('data', (chunk: Buffer) => {
      this.pending += chunk.toString('utf8');
      let nl: number;
      while ((nl = this.pending.indexOf('\n')) >= 0) {
        const line = this.pending.slice(0, nl);
        this.pending = this.pending.slice(nl + 1);
        let response: ControlResponse;
        try {
          response = JSON.parse(line) as ControlResponse;
        } catch {
          continue;
        }
        const w = this.waiting.get(response.id as number);
        if (w) {
          this.waiting.delete(response.id as number);
          w.resolve(response);
        }
      }
    });
    const fail = (e: Error): void => {
      this.closedError = e;
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    };
    socket.on('error', (e) => fail(new Error(`control socket ${formatAddress(address)}: ${e.message}`)));
    socket.on('close', () => fail(new Error(`control socket ${formatAddress(address)}: connection closed`)));
  }

  static connect(address: Address, timeoutMs = 3000): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const socket = address.kind === 'tcp' ? net.connect(address.port, address.host) : net.connect(address.path);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`system unreachable: no answer from control socket ${formatAddress(address)} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new ControlClient(socket, address));
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`system unreachable: cannot connect to control socket ${formatAddress(address)} (${(e as NodeJS.ErrnoException).code ?? e.message}); is it running?`));
      });
    });
  }

  /** Sends one request; resolves with data, rejects with the system's refusal. */
  async call<T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const response = await this.raw(op, args);
    if (!response.ok) throw new CommandError(response.error ?? 'refused');
    return response.data as T;
  }

  raw(op: string, args: Record<string, unknown> = {}): Promise<ControlResponse> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.socket.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  close(): void {
    this.socket.removeAllListeners('close');
    this.socket.end();
    this.socket.destroy();
  }
}
