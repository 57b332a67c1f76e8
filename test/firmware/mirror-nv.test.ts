// Non-volatile mirror control memory (firmware/mirror-nv.ts, seed 004 claims 10–11, behaviour
// 24): the mirrors region saved to a drive extent and loaded into a freshly formatted system.

import { describe, expect, it } from 'vitest';
import { MemoryDrive } from '../../hal/memory-drive.ts';
import { loadMirrorState, saveMirrorState } from '../../firmware/mirror-nv.ts';
import { pattern } from '../support/harness.ts';
import { formed, mirrorSystem, must } from '../support/mirror.ts';

const NV = { drive: 1, startBlock: 3072 };

function nvDrive(): MemoryDrive {
  return new MemoryDrive(MemoryDrive.allocate(64), 64);
}

describe('saving and loading the mirror state', () => {
  it('24: a non-volatile pair comes back with its state and bitmaps; a volatile one with every unit marked', () => {
    const a = mirrorSystem({ mirrorNv: NV });
    must(a.maintenance.mirror.createPair(1, { primary: 1, secondary: 2, nonVolatile: true }));
    must(a.maintenance.mirror.form(1));
    for (let i = 0; i < 100; i++) a.round();
    must(a.maintenance.mirror.createPair(2, { primary: 3, secondary: 4 }));
    must(a.maintenance.mirror.form(2));
    for (let i = 0; i < 200; i++) a.round();
    a.write(0, 1, 200, pattern(512, 1));
    a.write(0, 3, 200, pattern(512, 2));
    must(a.maintenance.mirror.split(1));
    for (let i = 0; i < 20; i++) a.round();
    a.write(0, 1, 900, pattern(512, 3));
    const drive = nvDrive();
    expect(saveMirrorState(a.mem, drive, 0, 1)).toBe('');

    const b = mirrorSystem({ mirrorNv: NV });
    const trace: string[] = [];
    const load = loadMirrorState(b.mem, drive, 0, (l) => trace.push(l));
    expect(load).toEqual({ reason: '', pairs: [1, 2], bitmapsLost: [2], restart: [] });
    const one = must(b.maintenance.mirror.status(1));
    expect([one.state, one.splitSequence, one.updated230, one.updated240, one.bitmapsLost]).toEqual(['split', 1, 1, 1, false]);
    expect(must(b.maintenance.mirror.bitmap(1, '230'))).toEqual([7]);
    expect(must(b.maintenance.mirror.bitmap(1, '240'))).toEqual([1]);
    const two = must(b.maintenance.mirror.status(2));
    expect([two.state, two.subState, two.updated230, two.updated240, two.bitmapsLost]).toEqual(['mirror', 'synchronised', 8, 8, true]);
    expect(b.mem.volumes.mirrorNumber(1)).toBe(1);
    expect(b.mem.volumes.mirrorNumber(4)).toBe(2);
    expect(trace).toEqual(['mirror 2: volatile update information lost at power-off: every unit marked (the next differential dump is a whole volume)']);
  });

  it('a synchronisation cut by the power-off goes back to split and is restarted', () => {
    const a = mirrorSystem({ mirrorNv: NV });
    formed(a, 'E1', 'sector');
    must(a.maintenance.mirror.split(1));
    for (let i = 0; i < 20; i++) a.round();
    for (let b = 0; b < 1024; b += 8) a.write(0, 1, b, pattern(512, b));
    must(a.maintenance.mirror.resync(1));
    a.ca[0]!.step();
    expect(must(a.maintenance.mirror.status(1)).subState).toBe('synchronising');
    const drive = nvDrive();
    saveMirrorState(a.mem, drive, 0, 1);
    const b = mirrorSystem({ mirrorNv: NV });
    expect(loadMirrorState(b.mem, drive, 0).restart).toEqual([{ pair: 1, op: 'resync' }]);
    expect(must(b.maintenance.mirror.status(1))).toMatchObject({ state: 'split', operation: 'none', hold: false, writesActive: 0 });
    must(b.maintenance.mirror.resync(1));
  });

  it('nothing saved, a damaged image, or another geometry: nothing is loaded, with the reason', () => {
    const a = mirrorSystem({ mirrorNv: NV });
    formed(a);
    const drive = nvDrive();
    expect(loadMirrorState(a.mem, drive, 0)).toMatchObject({ reason: 'no saved mirror state (first boot)', pairs: [] });
    saveMirrorState(a.mem, drive, 0, 1);
    const other = mirrorSystem({ mirrorNv: NV, mirrorPairsMax: 2 });
    expect(loadMirrorState(other.mem, drive, 0).reason).toBe('the saved mirror state has another geometry (mirrorPairsMax or mirrorBitmapBytes changed)');
    const bytes = new Uint8Array(512);
    drive.read(3, 1, bytes, 0);
    bytes[7]! ^= 0xff;
    drive.write(3, 1, bytes, 0);
    const b = mirrorSystem({ mirrorNv: NV });
    expect(loadMirrorState(b.mem, drive, 0).reason).toBe('the saved mirror state is damaged (checksum)');
    expect(b.maintenance.mirror.stateTable().data).toEqual([]);
  });

  it('the configuration checks the non-volatile extent', () => {
    expect(() => mirrorSystem({ mirrorNv: { drive: 1, startBlock: 4090 } })).toThrow(/mirrorNv: blocks 4090\.\.\d+ do not fit on drive 1 of 4096 blocks/);
    expect(() => mirrorSystem({ mirrorNv: { drive: 0, startBlock: 0 } })).toThrow('mirrorNv: blocks overlap volume 1 on drive 0');
    expect(() => mirrorSystem({ mirrorNv: { drive: 7, startBlock: 0 } })).toThrow('mirrorNv.drive: drive 7 is not defined');
  });
});
