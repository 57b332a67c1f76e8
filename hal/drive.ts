// Drive: the hal's block-device interface (storage device 150 behind connection line 170).
//
// The firmware's disk adapters call these synchronously: a drive operation is the adapter's
// DMA, and only the disk adapter that issued it waits for it. Media errors and failed drives
// are expected conditions and come back as status codes, never exceptions; an address outside
// the drive is a programmer error and throws.

export const DRIVE_BLOCK_BYTES = 512;

/** Status codes returned by Drive.read/write/flush. */
export const DriveStatus = {
  OK: 0,
  /** The addressed blocks could not be read or written (media error). */
  MEDIUM_ERROR: 1,
  /** The whole drive has failed and answers nothing. */
  DRIVE_FAILED: 2,
} as const;
export type DriveStatusCode = (typeof DriveStatus)[keyof typeof DriveStatus];

export interface Drive {
  /** Bytes per block; always DRIVE_BLOCK_BYTES in this model. */
  readonly blockBytes: number;
  readonly blockCount: number;
  /** Human-readable description for status displays ("memory 256 MiB", "file drives/d0.img"). */
  readonly description: string;
  /** Reads `blocks` blocks from `lba` into dst[dstOffset ..]. dstOffset must be 4-byte aligned. */
  read(lba: number, blocks: number, dst: Uint8Array, dstOffset: number): DriveStatusCode;
  /** Writes `blocks` blocks at `lba` from src[srcOffset ..]. srcOffset must be 4-byte aligned. */
  write(lba: number, blocks: number, src: Uint8Array, srcOffset: number): DriveStatusCode;
  /** Makes every completed write durable (fsync for a file drive). */
  flush(): DriveStatusCode;
  /** Releases this processor's handle (a file descriptor). The drive's contents stay. */
  close(): void;
}

/**
 * A drive as configuration describes it: serialisable, so a worker thread can open its own
 * handle. A memory drive carries its SharedArrayBuffer (every processor shares the bytes);
 * a file drive carries its path (every processor opens its own descriptor).
 */
export type DriveDescriptor =
  | {
      kind: 'memory';
      blockCount: number;
      buffer: SharedArrayBuffer;
      faults?: SharedArrayBuffer;
      /** A volatile write cache (DrivePersistence.allocate): writes are durable only once flushed. */
      persistence?: SharedArrayBuffer;
    }
  | { kind: 'file'; blockCount: number; path: string; faults?: SharedArrayBuffer };
