// Encoding and validating update information (the journal record header of update-info.ts) in
// any Int32Array-backed buffer: a cache slot, a link frame, a staging buffer. A record read back
// from a drive or a link is trusted only if validateUpdateInfo accepts it.

import { crc32c } from '../../hal/crc32c.ts';
import { UPDATE_INFO, UPDATE_INFO_FLAG_INITIAL_COPY, UPDATE_INFO_MAGIC } from './update-info.ts';

const O = UPDATE_INFO.offsets;

export interface UpdateInfoFields {
  flags: number;
  receiveMs: number;
  updateNumber: number;
  groupNumber: number;
  targetVolume: number;
  targetBlock: number;
  dataBlocks: number;
  dataVolume: number;
  dataChecksum: number;
  dataPosition: number;
}

/** Writes a complete record at byte `at` of `view`, checksum last. */
export function encodeUpdateInfo(view: DataView, bytes: Uint8Array, at: number, f: UpdateInfoFields): void {
  view.setUint32(at + O.magic, UPDATE_INFO_MAGIC, true);
  view.setUint16(at + O.flags, f.flags, true);
  view.setUint16(at + 6, 0, true);
  view.setFloat64(at + O.receive_ms, f.receiveMs, true);
  view.setFloat64(at + O.update_number, f.updateNumber, true);
  view.setUint32(at + O.group_number, f.groupNumber, true);
  view.setUint32(at + O.target_volume, f.targetVolume, true);
  view.setUint32(at + O.target_block, f.targetBlock, true);
  view.setUint32(at + O.data_blocks, f.dataBlocks, true);
  view.setUint32(at + O.data_volume, f.dataVolume, true);
  view.setUint32(at + O.data_checksum, f.dataChecksum, true);
  view.setFloat64(at + O.data_position, f.dataPosition, true);
  view.setUint32(at + 56, 0, true);
  sealUpdateInfo(view, bytes, at);
}

/** Recomputes the header checksum after a field was rewritten (journal store, S1840). */
export function sealUpdateInfo(view: DataView, bytes: Uint8Array, at: number): void {
  view.setUint32(at + O.header_checksum, crc32c(bytes, at, O.header_checksum), true);
}

export function decodeUpdateInfo(view: DataView, at: number, out: UpdateInfoFields): void {
  out.flags = view.getUint16(at + O.flags, true);
  out.receiveMs = view.getFloat64(at + O.receive_ms, true);
  out.updateNumber = view.getFloat64(at + O.update_number, true);
  out.groupNumber = view.getUint32(at + O.group_number, true);
  out.targetVolume = view.getUint32(at + O.target_volume, true);
  out.targetBlock = view.getUint32(at + O.target_block, true);
  out.dataBlocks = view.getUint32(at + O.data_blocks, true);
  out.dataVolume = view.getUint32(at + O.data_volume, true);
  out.dataChecksum = view.getUint32(at + O.data_checksum, true);
  out.dataPosition = view.getFloat64(at + O.data_position, true);
}

export function emptyUpdateInfo(): UpdateInfoFields {
  return { flags: 0, receiveMs: 0, updateNumber: 0, groupNumber: 0, targetVolume: 0, targetBlock: 0, dataBlocks: 0, dataVolume: 0, dataChecksum: 0, dataPosition: 0 };
}

/** Why a record is not a valid update information, or null if it is. */
export function validateUpdateInfo(view: DataView, bytes: Uint8Array, at: number, maxDataBlocks: number): string | null {
  if (view.getUint32(at + O.magic, true) !== UPDATE_INFO_MAGIC) return 'bad magic';
  if (view.getUint32(at + O.header_checksum, true) !== crc32c(bytes, at, O.header_checksum)) return 'header checksum mismatch';
  const n = view.getFloat64(at + O.update_number, true);
  if (!(Number.isInteger(n) && n >= 1)) return `update number ${n} is not a positive integer`;
  const blocks = view.getUint32(at + O.data_blocks, true);
  if (blocks === 0 || blocks > maxDataBlocks) return `data size ${blocks} blocks out of range 1..${maxDataBlocks}`;
  if ((view.getUint16(at + O.flags, true) & ~UPDATE_INFO_FLAG_INITIAL_COPY) !== 0) return 'unknown flags';
  return null;
}

export function isInitialCopy(f: UpdateInfoFields): boolean {
  return (f.flags & UPDATE_INFO_FLAG_INITIAL_COPY) !== 0;
}
