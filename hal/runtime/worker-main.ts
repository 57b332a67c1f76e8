// The body of one processor's worker thread: open this processor's drive handles, attach the
// processor to shared memory through the entry module, and run its loop until power-off.
//
// Idle policy: after IDLE_SPINS consecutive idle iterations the processor sleeps on its doorbell
// (bounded by the processor's idleWaitMs), so an idle controller costs no CPU while a busy one
// never pays a wake-up between back-to-back commands.

import { parentPort, workerData } from 'node:worker_threads';
import { RealClock, type Clock } from '../clock.ts';
import type { Drive } from '../drive.ts';
import { openDrive } from '../drives.ts';
import { LinkEndpoint } from '../link.ts';
import type { RunnableProcessor } from '../processor.ts';
import type { WorkerBoot } from './threaded.ts';

export interface WorkerServices {
  processorId: number;
  shared: unknown;
  drives: ReadonlyMap<number, Drive>;
  links: ReadonlyMap<number, LinkEndpoint>;
  clock: Clock;
  trace: (line: string) => void;
  singleThreaded: boolean;
}

const IDLE_SPINS = 2;

const boot = workerData as WorkerBoot;
const port = parentPort!;
const drives = new Map<number, Drive>();
for (const d of boot.drives) drives.set(d.number, openDrive(d.descriptor));
const clock = new RealClock();
const links = new Map<number, LinkEndpoint>();
for (const l of boot.links) links.set(l.number, new LinkEndpoint(l.buffer, l.side, clock));
const entry = (await import(boot.entryUrl)) as { attachProcessor(services: WorkerServices): RunnableProcessor };
const processor = entry.attachProcessor({
  processorId: boot.processorId,
  shared: boot.shared,
  drives,
  links,
  clock,
  trace: (line) => port.postMessage({ type: 'trace', line }),
  singleThreaded: false,
});
port.postMessage({ type: 'ready' });

try {
  let idle = 0;
  for (;;) {
    const seen = processor.doorbell();
    const work = processor.step();
    if (processor.finished()) break;
    if (work > 0) {
      idle = 0;
    } else if (++idle > IDLE_SPINS) {
      processor.sleep(seen, processor.idleWaitMs());
    }
  }
} finally {
  for (const drive of drives.values()) drive.close();
}
port.postMessage({ type: 'finished' });
