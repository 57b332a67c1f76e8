// The processor entry module of a benchmarked system (BootOptions.entry): each worker loads this
// instead of firmware/boot.ts. It attaches the firmware's processor exactly as boot.ts does and,
// for a channel adapter, wraps it so that a HostLoad (bench/host-load.ts) pumps the adapter's
// host port before every loop iteration — host commands generated inside the adapter's thread,
// the way a host port delivers them. Disk adapters run unwrapped.

import { attachProcessor as attachFirmware, attachHostPorts, type AttachServices, type SystemShared } from '../firmware/boot.ts';
import { readRegionTable } from '../hal/shared-memory.ts';
import { Doorbells } from '../hal/doorbell.ts';
import type { Processor } from '../firmware/platform.ts';
import { HostLoad, type LoadSpec } from './host-load.ts';

export function attachProcessor(services: AttachServices): Processor {
  const processor = attachFirmware(services);
  const shared = services.shared as SystemShared & { entryData?: LoadSpec };
  if (processor.kind !== 'channel-adapter' || !shared.entryData) return processor;
  const region = readRegionTable(shared.control).regions.find((r) => r.name === 'doorbells');
  if (!region) throw new Error('control memory has no doorbell region');
  const ports = attachHostPorts(shared, new Doorbells(shared.control, region.byteOffset, region.recordCount));
  const load = new HostLoad(ports, services.processorId, shared.entryData);
  const clock = services.clock;
  const inner = processor;
  const wrapped: Processor = {
    kind: inner.kind,
    processorId: inner.processorId,
    step: () => load.pump(clock.nowMs()) + inner.step(),
    idleWaitMs: () => (load.pending > 0 ? Math.min(1, inner.idleWaitMs()) : inner.idleWaitMs()),
    finished: () => inner.finished(),
    doorbell: () => inner.doorbell(),
    sleep: (seen, timeoutMs) => inner.sleep(seen, timeoutMs),
  };
  return wrapped;
}
