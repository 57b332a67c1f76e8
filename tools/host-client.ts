// Host client: the host computer's side of a storage system's host ports.
//
// It claims a command slot, copies write data into it, submits, waits for completion and
// copies read data out. How it waits is the runtime's business: in the threaded runtime it
// waits on the slot's state word (without blocking the event loop); in the deterministic
// runtime it steps the simulated system until the command completes. Usable from the main
// thread and from workload worker threads (which build their own HostPorts over the same
// shared buffers).

import { HostOp, ScsiStatus, type CommandResult, type HostPorts } from '../hal/host-port.ts';

export interface HostWaiter {
  /** Resolves true once the slot completed, false on timeout. */
  wait(ports: HostPorts, port: number, slot: number, timeoutMs: number): Promise<boolean>;
}

export const threadedWaiter: HostWaiter = {
  wait: (ports, port, slot, timeoutMs) => ports.waitCompleteAsync(port, slot, timeoutMs),
};

export class HostCommandError extends Error {
  override name = 'HostCommandError';
  constructor(readonly result: CommandResult, what: string) {
    super(`${what}: status ${result.status}, sense key 0x${result.senseKey.toString(16)}, reason ${result.reason} (${result.reasonText})`);
  }
}

export interface ReadResult extends CommandResult {
  data: Uint8Array;
}

export class HostClient {
  private tag = 0;
  constructor(
    readonly ports: HostPorts,
    private readonly waiter: HostWaiter,
    private readonly nowMs: () => number = () => Date.now(),
    readonly timeoutMs = 30_000,
  ) {}

  get portCount(): number {
    return this.ports.geometry.portCount;
  }

  /** Issues one command and returns its result; data (for a write) is copied into the port first. */
  async command(port: number, opcode: number, volume: number, lba: number, byteLength: number, data?: Uint8Array, readInto?: Uint8Array): Promise<CommandResult> {
    const slot = await this.claim(port);
    if (data) {
      if (data.byteLength > this.ports.geometry.maxTransferBytes) {
        this.abandon(port, slot);
        throw new RangeError(`write data of ${data.byteLength} bytes exceeds the port's ${this.ports.geometry.maxTransferBytes}-byte buffer`);
      }
      this.ports.bytes.set(data, this.ports.dataOffset(port, slot));
    }
    this.ports.submit(port, slot, opcode, volume, lba, byteLength, ++this.tag, this.nowMs());
    const done = await this.waiter.wait(this.ports, port, slot, this.timeoutMs);
    if (!done) throw new Error(`host command on port ${port} slot ${slot} did not complete within ${this.timeoutMs} ms`);
    const result = this.ports.result(port, slot);
    if (readInto && result.status === ScsiStatus.GOOD) {
      const from = this.ports.dataOffset(port, slot);
      readInto.set(this.ports.bytes.subarray(from, from + byteLength));
    }
    this.ports.release(port, slot);
    return result;
  }

  write(port: number, volume: number, lba: number, data: Uint8Array): Promise<CommandResult> {
    return this.command(port, HostOp.WRITE, volume, lba, data.byteLength, data);
  }

  async read(port: number, volume: number, lba: number, byteLength: number): Promise<ReadResult> {
    const data = new Uint8Array(Math.min(Math.max(byteLength, 0), this.ports.geometry.maxTransferBytes));
    const result = await this.command(port, HostOp.READ, volume, lba, byteLength, undefined, data);
    return { ...result, data };
  }

  inquiry(port: number, volume: number): Promise<CommandResult> {
    return this.command(port, HostOp.INQUIRY, volume, 0, 0);
  }

  /** A write that must succeed. */
  async writeOk(port: number, volume: number, lba: number, data: Uint8Array): Promise<void> {
    const r = await this.write(port, volume, lba, data);
    if (r.status !== ScsiStatus.GOOD) throw new HostCommandError(r, `write volume ${volume} lba ${lba}`);
  }

  /** A read that must succeed. */
  async readOk(port: number, volume: number, lba: number, byteLength: number): Promise<Uint8Array> {
    const r = await this.read(port, volume, lba, byteLength);
    if (r.status !== ScsiStatus.GOOD) throw new HostCommandError(r, `read volume ${volume} lba ${lba}`);
    return r.data;
  }

  private async claim(port: number): Promise<number> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const slot = this.ports.claim(port);
      if (slot >= 0) return slot;
      if (Date.now() > deadline) throw new Error(`host port ${port}: no free command slot within ${this.timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }

  private abandon(port: number, slot: number): void {
    // Hand the claimed slot back as a completed no-op so it returns to the pool.
    this.ports.complete(port, slot, 0, 0, 0, this.nowMs());
    this.ports.release(port, slot);
  }
}
