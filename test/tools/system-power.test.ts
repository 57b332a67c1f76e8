// The storage system's power and reset faults (tools/system.ts, deterministic runtime): a reset
// processor restarts after its time, or at power-on if the power went off meanwhile, never while
// the power is off and never twice.

import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, type SystemConfig } from '../../firmware/config.ts';
import { StorageSystem } from '../../tools/system.ts';

const BLOCK = 512;

const config: SystemConfig = {
  ...DEFAULT_CONFIG,
  cacheBytes: 8 * 65536,
  drives: [{ number: 0, kind: 'memory', blockCount: 2048 }],
  volumes: [{ number: 1, capacityBlocks: 2048, drive: 0, startBlock: 0 }],
};

async function boot(trace: string[]): Promise<StorageSystem> {
  return StorageSystem.boot(config, { runtime: 'deterministic', seed: 5, persistentDrives: true, trace: (line) => trace.push(line) });
}

const data = (byte: number, blocks: number): Uint8Array => new Uint8Array(blocks * BLOCK).fill(byte);

describe('system power and resets', () => {
  it('a reset processor whose restart time falls while the power is off starts at power-on, once', async () => {
    const trace: string[] = [];
    const system = await boot(trace);
    const clock = system.deterministic!.clock;
    await system.host.writeOk(0, 1, 0, data(0x11, 4));
    system.resetProcessor(0, 5);
    system.powerLoss(20);
    const lostAt = clock.nowMs();
    await system.waitFor(() => clock.nowMs() >= lostAt + 10, 'the reset processor\'s restart time');
    expect(system.allProcessorsUp()).toBe(false);
    expect(trace.filter((l) => l.includes('started'))).toEqual([]);
    await system.waitFor(() => system.allProcessorsUp(), 'power-on');
    expect(trace.filter((l) => l.includes('processor 0: started'))).toEqual(['primary: processor 0: started at power-on']);
    expect(await system.host.readOk(0, 1, 0, 4 * BLOCK)).toEqual(data(0x11, 4));
    expect(await system.powerOff()).toEqual({ undestagedSlots: 0, failures: [] });
    system.dispose();
  });
});
