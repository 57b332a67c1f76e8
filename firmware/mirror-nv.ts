// Non-volatile mirror control memory (seed 004 【0012】【0014】【0039】, claims 10–11): the pairs'
// state information 250 and, for pairs marked non-volatile, their update information 230/240
// survive a power-off. The model keeps them on an extent of a drive (configuration `mirrorNv`):
// written at power-off after every processor has stopped, read at boot before any starts — the
// battery-backed control memory of a real controller, saved and restored.
//
// Image on the drive:
//   block 0   header: u32 magic 'MNVR', u32 version 1, u32 pairsMax, u32 bitmapBytes,
//             u32 region bytes, u32 CRC-32C of the region bytes, f64 saved_ms, ..., u32 CRC-32C
//             of header bytes 0..507 at 508
//   block 1.. the mirrors region as it was in control memory
//
// On load a pair that was not non-volatile keeps its state but loses its bitmaps: every unit is
// marked in 230 and 240 and BITMAPS_LOST is set, so the next differential dump holds the whole
// volume (a full dump's content) and the chain stays correct. A pair caught synchronising
// (its copy ran on a processor that has stopped) goes back to split (or separated, if it was
// being formed) and is reported so the caller can start its resync (formation) again.

import { crc32c } from '../hal/crc32c.ts';
import type { Drive } from '../hal/drive.ts';
import { BLOCK_BYTES, mirrorGeometryOf } from './config.ts';
import type { ControlMemory } from './layout.ts';
import { MirrorBitmaps, bm } from './mirror.ts';
import { BITMAP_230, BITMAP_240, MirrorFlag, MirrorOp, MirrorResult, MirrorState, MirrorSub, MirrorWord } from './structs/mirror-info.ts';
import { VolumeState } from './structs/volume-info.ts';

const NV_MAGIC = 0x52564e4d; // 'MNVR'
const NV_VERSION = 1;

function regionBytes(mem: ControlMemory): Uint8Array {
  return new Uint8Array(mem.controlBuffer, mem.mirrors.byteOffset, mem.mirrors.stride * mem.mirrors.count);
}

/** Writes the mirrors region to the non-volatile extent; a drive error string, or ''. */
export function saveMirrorState(mem: ControlMemory, drive: Drive, startBlock: number, nowMs: number): string {
  const region = regionBytes(mem);
  const blocks = Math.ceil(region.byteLength / BLOCK_BYTES);
  const image = new Uint8Array((1 + blocks) * BLOCK_BYTES);
  image.set(region, BLOCK_BYTES);
  const v = new DataView(image.buffer);
  const g = mirrorGeometryOf(mem.config);
  v.setUint32(0, NV_MAGIC, true);
  v.setUint32(4, NV_VERSION, true);
  v.setUint32(8, g.pairsMax, true);
  v.setUint32(12, g.bitmapBytes, true);
  v.setUint32(16, region.byteLength, true);
  v.setUint32(20, crc32c(image, BLOCK_BYTES, region.byteLength), true);
  v.setFloat64(24, nowMs, true);
  v.setUint32(508, crc32c(image, 0, 508), true);
  const status = drive.write(startBlock, 1 + blocks, image, 0);
  if (status !== 0) return `the mirror state could not be written (drive status ${status})`;
  const flushed = drive.flush();
  return flushed === 0 ? '' : `the mirror state could not be flushed (drive status ${flushed})`;
}

export interface MirrorLoad {
  /** Why nothing was loaded ('' when loaded). */
  reason: string;
  /** Pairs restored, and those of them whose bitmaps were lost (volatile). */
  pairs: number[];
  bitmapsLost: number[];
  /** Pairs caught synchronising: their resync (or formation) must run again. */
  restart: Array<{ pair: number; op: 'resync' | 'form' }>;
}

/** Reads the non-volatile extent into a freshly formatted control memory. */
export function loadMirrorState(mem: ControlMemory, drive: Drive, startBlock: number, trace: (line: string) => void = () => {}): MirrorLoad {
  const out: MirrorLoad = { reason: '', pairs: [], bitmapsLost: [], restart: [] };
  const region = regionBytes(mem);
  const blocks = Math.ceil(region.byteLength / BLOCK_BYTES);
  const image = new Uint8Array((1 + blocks) * BLOCK_BYTES);
  if (drive.read(startBlock, 1 + blocks, image, 0) !== 0) return { ...out, reason: 'the non-volatile extent could not be read' };
  const v = new DataView(image.buffer);
  if (v.getUint32(0, true) !== NV_MAGIC) return { ...out, reason: 'no saved mirror state (first boot)' };
  const g = mirrorGeometryOf(mem.config);
  if (v.getUint32(508, true) !== crc32c(image, 0, 508)) return { ...out, reason: 'the saved mirror state header is damaged' };
  if (v.getUint32(4, true) !== NV_VERSION || v.getUint32(8, true) !== g.pairsMax || v.getUint32(12, true) !== g.bitmapBytes || v.getUint32(16, true) !== region.byteLength) {
    return { ...out, reason: 'the saved mirror state has another geometry (mirrorPairsMax or mirrorBitmapBytes changed)' };
  }
  if (v.getUint32(20, true) !== crc32c(image, BLOCK_BYTES, region.byteLength)) return { ...out, reason: 'the saved mirror state is damaged (checksum)' };
  region.set(image.subarray(BLOCK_BYTES, BLOCK_BYTES + region.byteLength));
  const { mirrors, volumes } = mem;
  const bitmaps = new MirrorBitmaps(mem);
  for (let m = 1; m < mirrors.count; m++) {
    const state = mirrors.state(m);
    if (state === MirrorState.UNUSED) continue;
    // Nothing that ran on a processor survives: no hold, no write in flight, no operation.
    Atomics.store(mirrors.words, mirrors.word(m, MirrorWord.HOLD), 0);
    Atomics.store(mirrors.words, mirrors.word(m, MirrorWord.WRITES_ACTIVE), 0);
    Atomics.store(mirrors.words, mirrors.word(m, MirrorWord.OPERATION), MirrorOp.NONE);
    const p = mirrors.primaryVolume(m);
    const s = mirrors.secondaryVolume(m);
    const usable = (x: number): boolean => volumes.exists(x) && volumes.number(x) !== 0 && volumes.state(x) === VolumeState.NORMAL && volumes.mirrorNumber(x) === 0;
    if (!usable(p) || !usable(s) || volumes.capacityBlocks(p) !== volumes.capacityBlocks(s) || volumes.capacityBlocks(p) > mirrors.units(m) * mirrors.unitBlocks(m)) {
      trace(`mirror ${m}: dropped at boot: volumes ${p} and ${s} are no longer both defined, normal and of one capacity`);
      mirrors.erase(m);
      continue;
    }
    volumes.setMirrorNumber(p, m);
    volumes.setMirrorNumber(s, m);
    out.pairs.push(m);
    if ((mirrors.flags(m) & MirrorFlag.NONVOLATILE) === 0) {
      bitmaps.setAll(bm(m, BITMAP_230));
      bitmaps.setAll(bm(m, BITMAP_240));
      mirrors.setFlags(m, mirrors.flags(m) | MirrorFlag.BITMAPS_LOST);
      out.bitmapsLost.push(m);
      trace(`mirror ${m}: volatile update information lost at power-off: every unit marked (the next differential dump is a whole volume)`);
    }
    if (state === MirrorState.MIRROR && mirrors.subState(m) === MirrorSub.SYNCHRONISING) {
      const formed = mirrors.splitSequence(m) > 0;
      mirrors.setState(m, formed ? MirrorState.SPLIT : MirrorState.SEPARATED, MirrorSub.NONE);
      mirrors.setLastResult(m, MirrorResult.OK);
      out.restart.push({ pair: m, op: formed ? 'resync' : 'form' });
      trace(`mirror ${m}: was synchronising at power-off: back to ${formed ? 'split' : 'separated'} until its ${formed ? 'resync' : 'formation'} runs again`);
    }
  }
  return out;
}
