// Statistics counters: one block of float64 counters per processor.
//
// Each processor writes only its own block, so counters need no atomics and never contend;
// a reader (maintenance port, status display) sums the blocks. float64 counts exactly to 2^53.

export const STAT_COUNTERS_PER_PROCESSOR = 32;
export const STAT_BLOCK_BYTES = STAT_COUNTERS_PER_PROCESSOR * 8;

export const Stat = {
  HOST_READS: 0,
  HOST_WRITES: 1,
  HOST_READ_BYTES: 2,
  HOST_WRITE_BYTES: 3,
  HOST_INQUIRIES: 4,
  HOST_REJECTED: 5,
  READ_SLOT_HITS: 6,
  READ_SLOT_MISSES: 7,
  WRITE_SLOT_HITS: 8,
  WRITE_SLOT_MISSES: 9,
  CACHE_FULL_WAITS: 10,
  SLOT_BUSY_WAITS: 11,
  STAGE_REQUESTS: 12,
  STAGES: 13,
  STAGE_BLOCKS: 14,
  DESTAGES: 15,
  DESTAGE_BLOCKS: 16,
  DRIVE_ERRORS: 17,
  EVICTIONS: 18,
  LOOP_ITERATIONS: 19,
  IDLE_SLEEPS: 20,
  MAILBOX_FULL: 21,
  HOST_LATENCY_MS_SUM: 22,
  BAD_MESSAGES: 23,
  /** Journal read responses that arrived ahead of a batch still missing, and waited in the read window. */
  READS_AHEAD: 24,
  /** Journal read commands that asked again from a named update number (a response was lost). */
  READS_BY_NUMBER: 25,
  /** Drive flushes (one per drive written) a disk adapter made so that the slots it destaged could be let go. */
  DRIVE_FLUSHES: 26,
} as const;
export type StatIndex = (typeof Stat)[keyof typeof Stat];
export const STAT_NAMES: readonly string[] = Object.entries(Stat)
  .sort((a, b) => a[1] - b[1])
  .map(([name]) => name.toLowerCase());
