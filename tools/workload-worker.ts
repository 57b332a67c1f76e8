// A host computer in a worker thread: attaches to a storage system's host ports through the
// shared buffers and runs the workload (or a verification pass) from tools/workload.ts.

import { parentPort, workerData } from 'node:worker_threads';
import { Doorbells } from '../hal/doorbell.ts';
import { readRegionTable } from '../hal/shared-memory.ts';
import { attachHostPorts, type SystemShared } from '../firmware/boot.ts';
import { runWorkload, verifyRange, WorkloadModel, type VolumeSpan, type WorkloadOptions } from './workload.ts';

export type WorkerJob =
  | { kind: 'run'; shared: SystemShared; model: SharedArrayBuffer; spans: VolumeSpan[]; options: WorkloadOptions }
  | { kind: 'verify'; shared: SystemShared; model: SharedArrayBuffer; spans: VolumeSpan[]; port: number; chunkBytes: number; ranges: Array<{ span: number; first: number; count: number }> };

const job = workerData as WorkerJob;
const port = parentPort!;
const doorbellRegion = readRegionTable(job.shared.control).regions.find((r) => r.name === 'doorbells');
if (!doorbellRegion) throw new Error('control memory has no doorbell region');
const doorbells = new Doorbells(job.shared.control, doorbellRegion.byteOffset, doorbellRegion.recordCount);
const ports = attachHostPorts(job.shared, doorbells);
const model = new WorkloadModel(job.model, job.spans);

if (job.kind === 'run') {
  const result = runWorkload(ports, model, job.options, (c) => port.postMessage({ type: 'progress', counters: c }));
  port.postMessage({ type: 'done', counters: result });
} else {
  let blocks = 0;
  let mismatch: string | null = null;
  for (const r of job.ranges) {
    const v = verifyRange(ports, job.port, model, r.span, r.first, r.count, job.chunkBytes);
    blocks += v.blocks;
    if (v.mismatch) {
      mismatch = v.mismatch;
      break;
    }
  }
  port.postMessage({ type: 'verified', blocks, mismatch });
}
