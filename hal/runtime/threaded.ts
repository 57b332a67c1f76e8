// Threaded runtime: one worker thread per processor, all sharing the system's SharedArrayBuffers.
//
// The main thread starts the workers, waits until each reports ready, and then only listens:
// trace lines and failures come back by postMessage (never data). A processor that throws is
// reported through onFailure with its id and error, and its worker ends; the others go on.
// stopped() resolves when every worker has exited.

import { Worker } from 'node:worker_threads';
import type { DriveDescriptor } from '../drive.ts';
import { startTsWorker } from './worker-start.ts';

export interface WorkerBoot {
  /** Module that exports attachProcessor(services) returning a RunnableProcessor. */
  entryUrl: string;
  processorId: number;
  /** Structured-cloneable data for attachProcessor: configuration and SharedArrayBuffers. */
  shared: unknown;
  drives: Array<{ number: number; descriptor: DriveDescriptor }>;
  links: LinkAttachment[];
}

/** One end of a link: the shared link buffer and which side of it this system is. */
export interface LinkAttachment {
  number: number;
  buffer: SharedArrayBuffer;
  side: 0 | 1;
}

export interface ThreadedOptions {
  entryUrl: URL;
  processorIds: number[];
  shared: unknown;
  drives: Array<{ number: number; descriptor: DriveDescriptor }>;
  links?: LinkAttachment[];
  onTrace?: (processorId: number, line: string) => void;
  onFailure?: (processorId: number, error: Error) => void;
}

type WorkerMessage = { type: 'ready' } | { type: 'trace'; line: string } | { type: 'finished' };

export class ThreadedRuntime {
  private readonly exits: Array<Promise<void>> = [];
  readonly failures: Array<{ processorId: number; error: Error }> = [];

  private constructor(readonly workers: Map<number, Worker>) {}

  static async start(options: ThreadedOptions): Promise<ThreadedRuntime> {
    const workerUrl = new URL('./worker-main.ts', import.meta.url);
    const workers = new Map<number, Worker>();
    const runtime = new ThreadedRuntime(workers);
    const ready: Array<Promise<void>> = [];
    for (const processorId of options.processorIds) {
      const boot: WorkerBoot = { entryUrl: options.entryUrl.href, processorId, shared: options.shared, drives: options.drives, links: options.links ?? [] };
      const worker: Worker = startTsWorker(workerUrl, boot);
      workers.set(processorId, worker);
      let markReady!: () => void;
      let failReady!: (e: Error) => void;
      ready.push(new Promise<void>((resolve, reject) => { markReady = resolve; failReady = reject; }));
      let isReady = false;
      worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') { isReady = true; markReady(); }
        else if (message.type === 'trace') options.onTrace?.(processorId, message.line);
      });
      runtime.exits.push(new Promise<void>((resolve) => {
        worker.on('error', (error: Error) => {
          runtime.failures.push({ processorId, error });
          options.onFailure?.(processorId, error);
          if (!isReady) failReady(error);
        });
        worker.on('exit', (code) => {
          if (code !== 0 && !runtime.failures.some((f) => f.processorId === processorId)) {
            const error = new Error(`processor ${processorId} exited with code ${code}`);
            runtime.failures.push({ processorId, error });
            options.onFailure?.(processorId, error);
          }
          if (!isReady) failReady(new Error(`processor ${processorId} exited before it was ready`));
          resolve();
        });
      }));
    }
    try {
      await Promise.all(ready);
    } catch (error) {
      await runtime.terminate();
      throw error;
    }
    return runtime;
  }

  /** Resolves when every worker has exited (after power-off, or failures). */
  async stopped(): Promise<void> {
    await Promise.all(this.exits);
  }

  async terminate(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.terminate()));
    await this.stopped();
  }
}
