// Update information (seed 000 §4.5, Figs. 21–22; seed 002 §4.1): the fixed-size header of a
// journal record, stored in the update-information ring of a journal volume and carried in
// journal read responses. It is checked by its checksums every time it is read back from a
// drive or a link (guide: "every record read from a drive or a link is validated").
//
//  off size field               meaning
//    0    4 magic               UPDATE_INFO_MAGIC
//    4    2 flags               bit 0: initial-copy journal (write data lives in the primary volume)
//    6    2 reserved
//    8    8 receive_ms          float64: time the write command was received (or initial-copy start)
//   16    8 update_number       float64: per-group sequence number
//   24    4 group_number        group A on the primary; rewritten to B when stored on the secondary
//   28    4 target_volume       logical address of the write: primary volume number
//   32    4 target_block        logical address of the write: position in blocks
//   36    4 data_blocks         data size of the write data, in blocks
//   40    4 data_volume         logical volume holding the write data (journal volume, or the primary volume for initial copy)
//   44    4 data_checksum       CRC-32C of the write data (0 for initial-copy journals on the primary)
//   48    8 data_position       float64: byte position of the write data in data_volume
//   56    4 reserved
//   60    4 header_checksum     CRC-32C of bytes 0..59

import { RecordTable, defineStruct } from './struct.ts';

export const UPDATE_INFO_MAGIC = 0x314c4e4a; // "JNL1"
export const UPDATE_INFO_FLAG_INITIAL_COPY = 1;

export const UPDATE_INFO = defineStruct('update-info', 64, [
  { name: 'magic', offset: 0, size: 4, type: 'u32', meaning: 'record magic' },
  { name: 'flags', offset: 4, size: 2, type: 'u16', meaning: 'bit 0 initial copy' },
  { name: 'receive_ms', offset: 8, size: 8, type: 'f64', meaning: 'write command receive time' },
  { name: 'update_number', offset: 16, size: 8, type: 'f64', meaning: 'update number' },
  { name: 'group_number', offset: 24, size: 4, type: 'u32', meaning: 'group number' },
  { name: 'target_volume', offset: 28, size: 4, type: 'u32', meaning: 'written logical volume' },
  { name: 'target_block', offset: 32, size: 4, type: 'u32', meaning: 'written position in blocks' },
  { name: 'data_blocks', offset: 36, size: 4, type: 'u32', meaning: 'write data size in blocks' },
  { name: 'data_volume', offset: 40, size: 4, type: 'u32', meaning: 'volume holding the write data' },
  { name: 'data_checksum', offset: 44, size: 4, type: 'u32', meaning: 'CRC-32C of the write data' },
  { name: 'data_position', offset: 48, size: 8, type: 'f64', meaning: 'byte position of the write data' },
  { name: 'header_checksum', offset: 60, size: 4, type: 'u32', meaning: 'CRC-32C of bytes 0..59' },
]);

export const UPDATE_INFO_BYTES = UPDATE_INFO.size;

/** Update information records in any byte buffer (cache slot, link frame, test buffer). */
export const UpdateInfo = {
  table(buffer: SharedArrayBuffer, byteOffset: number, count: number): RecordTable {
    return new RecordTable(UPDATE_INFO, buffer, byteOffset, count);
  },
  offsets: UPDATE_INFO.offsets,
};
