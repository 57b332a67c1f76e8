// Volume information 400 (seed 000 §4.1, seed 002 §5.1): one record per logical volume number.
// Record 0 is reserved: volume number 0 means "none" everywhere, as in the seeds' tables.
//
//  off size field               meaning
//    0    4 number              logical volume number (equals the record index once defined)
//    4    1 state               VolumeState: 未使用 unused, 正常 normal, 正 primary, 副 secondary, 異常 abnormal
//    5    1 flags               bit 0: journal volume (registered by S920)
//    6    2 reserved
//    8    8 format              ASCII format type, e.g. OPEN3
//   16    4 capacity_blocks     capacity in 512-byte blocks
//   20    4 pair_number         pair info 500 record; valid only for 正 and 副, 0 otherwise
//   24    4 drive_number        physical address: storage device; NO_DRIVE = no storage (seed 000 embodiment 3)
//   28    4 drive_start_block   physical address: position from the start of that device
//   32    4 group_number        the group a journal volume is registered to, 0 otherwise
//   36    4 generation          bumped by every define and delete; a command records it at start and
//                               stops if it changed, so a redefined volume never receives an old command's data
//   40    4 mirror_number       local mirror pair (seed 004, mirror-info.ts) the volume belongs to, 0 = none
//   44   20 reserved

import { RecordTable, defineStruct, readAscii, writeAscii } from './struct.ts';

export const VolumeState = { UNUSED: 0, NORMAL: 1, PRIMARY: 2, SECONDARY: 3, ABNORMAL: 4 } as const;
export type VolumeStateCode = (typeof VolumeState)[keyof typeof VolumeState];
export const VOLUME_STATE_NAME = ['unused', 'normal', 'primary', 'secondary', 'abnormal'] as const;

export const VOLUME_FLAG_JOURNAL = 1;
export const NO_DRIVE = 0xffffffff;

export const VOLUME_INFO = defineStruct('volume-info-400', 64, [
  { name: 'number', offset: 0, size: 4, type: 'u32', meaning: 'logical volume number' },
  { name: 'state', offset: 4, size: 1, type: 'u8', meaning: 'volume state' },
  { name: 'flags', offset: 5, size: 1, type: 'u8', meaning: 'bit 0 journal volume' },
  { name: 'format', offset: 8, size: 8, type: 'ascii', meaning: 'format type' },
  { name: 'capacity_blocks', offset: 16, size: 4, type: 'u32', meaning: 'capacity in blocks' },
  { name: 'pair_number', offset: 20, size: 4, type: 'u32', meaning: 'pair info 500 record or 0' },
  { name: 'drive_number', offset: 24, size: 4, type: 'u32', meaning: 'storage device number' },
  { name: 'drive_start_block', offset: 28, size: 4, type: 'u32', meaning: 'position on the device' },
  { name: 'group_number', offset: 32, size: 4, type: 'u32', meaning: 'group of a journal volume' },
  { name: 'generation', offset: 36, size: 4, type: 'u32', meaning: 'definition generation' },
  { name: 'mirror_number', offset: 40, size: 4, type: 'u32', meaning: 'local mirror pair or 0' },
]);

const O = VOLUME_INFO.offsets;

export class VolumeTable extends RecordTable {
  constructor(buffer: SharedArrayBuffer, byteOffset: number, count: number) {
    super(VOLUME_INFO, buffer, byteOffset, count);
  }
  /** True for a number that has a record (1..count-1); says nothing about its state. */
  exists(volume: number): boolean {
    return Number.isInteger(volume) && volume >= 1 && volume < this.count;
  }
  number(v: number): number { return this.view.getUint32(this.at(v) + O.number, true); }
  state(v: number): VolumeStateCode { return this.view.getUint8(this.at(v) + O.state) as VolumeStateCode; }
  setState(v: number, state: VolumeStateCode): void { this.view.setUint8(this.at(v) + O.state, state); }
  flags(v: number): number { return this.view.getUint8(this.at(v) + O.flags); }
  setFlags(v: number, flags: number): void { this.view.setUint8(this.at(v) + O.flags, flags); }
  format(v: number): string { return readAscii(this.view, this.at(v) + O.format, 8); }
  capacityBlocks(v: number): number { return this.view.getUint32(this.at(v) + O.capacity_blocks, true); }
  pairNumber(v: number): number { return this.view.getUint32(this.at(v) + O.pair_number, true); }
  setPairNumber(v: number, pair: number): void { this.view.setUint32(this.at(v) + O.pair_number, pair, true); }
  driveNumber(v: number): number { return this.view.getUint32(this.at(v) + O.drive_number, true); }
  driveStartBlock(v: number): number { return this.view.getUint32(this.at(v) + O.drive_start_block, true); }
  groupNumber(v: number): number { return this.view.getUint32(this.at(v) + O.group_number, true); }
  setGroupNumber(v: number, group: number): void { this.view.setUint32(this.at(v) + O.group_number, group, true); }

  mirrorNumber(v: number): number { return this.view.getUint32(this.at(v) + O.mirror_number, true); }
  setMirrorNumber(v: number, mirror: number): void { this.view.setUint32(this.at(v) + O.mirror_number, mirror, true); }

  generation(v: number): number { return this.view.getUint32(this.at(v) + O.generation, true); }
  /** Marks a change of definition (define, delete): commands started before it stop. */
  bumpGeneration(v: number): void {
    const base = this.at(v);
    this.view.setUint32(base + O.generation, (this.view.getUint32(base + O.generation, true) + 1) >>> 0, true);
  }

  /** Writes a whole definition; used by boot and by the maintenance port's define command. */
  define(v: number, format: string, capacityBlocks: number, driveNumber: number, driveStartBlock: number, state: VolumeStateCode): void {
    const generation = this.generation(v);
    this.clear(v);
    const base = this.at(v);
    this.view.setUint32(base + O.generation, (generation + 1) >>> 0, true);
    this.view.setUint32(base + O.number, v, true);
    writeAscii(this.view, base + O.format, 8, format);
    this.view.setUint32(base + O.capacity_blocks, capacityBlocks, true);
    this.view.setUint32(base + O.drive_number, driveNumber, true);
    this.view.setUint32(base + O.drive_start_block, driveStartBlock, true);
    this.view.setUint8(base + O.state, state);
  }
}
