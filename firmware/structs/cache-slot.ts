// Cache slot headers and the cache directory (cache memory 130 and its directory in shared memory 140).
//
// Cache data is a SharedArrayBuffer of `slotCount` slots of `slotBytes` each. Every slot has a
// header here; the directory is a hash table of buckets, each the head of a chain of slots
// whose (volume, slot_number) hashes to it. Slots are read and written through an Int32Array
// over this region because pin counts need Atomics; the table below is the layout all the same,
// and layout tests check it.
//
// Slot header (64 bytes, int32 words):
//  off size field          meaning
//    0    4 volume         logical volume cached in this slot; 0 = free
//    4    4 slot_number    which slot of that volume: volume block / sectors per slot
//    8    4 pin_count      tasks using the slot right now (Atomics); a pinned slot is never evicted
//   12    4 hash_next      next slot in the bucket chain, as index + 1; 0 ends the chain
//   16    4 lru_prev       LRU list neighbour towards the head (most recent), index + 1; also free-list link
//   20    4 lru_next       LRU list neighbour towards the tail (least recent), index + 1
//   24    4 flags          SLOT_FLAG_*
//   28    4 reserved
//   32   16 valid          bit per sector: the cache holds this sector's current data
//   48   16 dirty          bit per sector: newer than the drive, must be destaged
//
// Cache control (64 bytes, int32 words, protected by the cache list lock):
//    0 free_head   first free slot (index + 1)
//    1 lru_head    most recently used slot (index + 1)
//    2 lru_tail    least recently used slot (index + 1)
//    3 dirty_slots slots with at least one dirty sector (Atomics; maintained under slot locks)
//    4 used_slots  slots holding a volume slot
//    5 slot_count
//    6 sectors_per_slot
//    7 bucket_count

import { defineStruct } from './struct.ts';

export const SLOT_SECTORS_MAX = 128; // 64 KiB slots of 512-byte sectors: 4 bitmap words
export const SLOT_BITMAP_WORDS = SLOT_SECTORS_MAX / 32;

export const SLOT_FLAG_IN_DIRECTORY = 1;
export const SLOT_FLAG_FREE = 2;
/**
 * Destaged, but its drive has not flushed since: the data is on the drive's volatile write cache
 * only, so the slot may not be evicted or discarded (a power loss could still lose the write).
 * Set and cleared by the slot's disk adapter with atomic bit operations.
 */
export const SLOT_FLAG_UNFLUSHED = 4;

export const CACHE_SLOT_HEADER = defineStruct('cache-slot-header', 64, [
  { name: 'volume', offset: 0, size: 4, type: 'i32', meaning: 'cached volume, 0 = free' },
  { name: 'slot_number', offset: 4, size: 4, type: 'u32', meaning: 'slot of the volume' },
  { name: 'pin_count', offset: 8, size: 4, type: 'i32', meaning: 'tasks using the slot' },
  { name: 'hash_next', offset: 12, size: 4, type: 'i32', meaning: 'bucket chain link, index + 1' },
  { name: 'lru_prev', offset: 16, size: 4, type: 'i32', meaning: 'LRU link towards head, index + 1' },
  { name: 'lru_next', offset: 20, size: 4, type: 'i32', meaning: 'LRU link towards tail, index + 1' },
  { name: 'flags', offset: 24, size: 4, type: 'u32', meaning: 'in directory, free' },
  { name: 'valid', offset: 32, size: 16, type: 'ascii', meaning: 'valid sector bitmap (u32[4])' },
  { name: 'dirty', offset: 48, size: 16, type: 'ascii', meaning: 'dirty sector bitmap (u32[4])' },
]);

/** Word indexes inside a slot header (header base word = slot * SLOT_HEADER_WORDS). */
export const SlotWord = {
  VOLUME: CACHE_SLOT_HEADER.offsets.volume >> 2,
  SLOT_NUMBER: CACHE_SLOT_HEADER.offsets.slot_number >> 2,
  PIN_COUNT: CACHE_SLOT_HEADER.offsets.pin_count >> 2,
  HASH_NEXT: CACHE_SLOT_HEADER.offsets.hash_next >> 2,
  LRU_PREV: CACHE_SLOT_HEADER.offsets.lru_prev >> 2,
  LRU_NEXT: CACHE_SLOT_HEADER.offsets.lru_next >> 2,
  FLAGS: CACHE_SLOT_HEADER.offsets.flags >> 2,
  VALID: CACHE_SLOT_HEADER.offsets.valid >> 2,
  DIRTY: CACHE_SLOT_HEADER.offsets.dirty >> 2,
} as const;
export const SLOT_HEADER_WORDS = CACHE_SLOT_HEADER.size >> 2;

export const CACHE_CONTROL_BYTES = 64;
export const CacheControlWord = {
  FREE_HEAD: 0,
  LRU_HEAD: 1,
  LRU_TAIL: 2,
  DIRTY_SLOTS: 3,
  USED_SLOTS: 4,
  SLOT_COUNT: 5,
  SECTORS_PER_SLOT: 6,
  BUCKET_COUNT: 7,
} as const;

/** Directory buckets: one int32 per bucket, the chain head as slot index + 1. */
export const DIRECTORY_BUCKET_BYTES = 4;
