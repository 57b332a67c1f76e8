// FileDrive: a drive backed by an ordinary file, so the array's contents survive a reboot of the
// model. Every processor thread opens its own descriptor on the same path; the kernel's page
// cache is what makes one processor's write visible to another's read.
//
// Calls are synchronous on purpose: a drive operation models the disk adapter's DMA, and only
// the adapter that issued it waits (see drive.ts).

import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { DRIVE_BLOCK_BYTES, DriveStatus } from './drive.ts';
import type { Drive, DriveStatusCode } from './drive.ts';
import { assertBlockCount, assertTransfer } from './memory-drive.ts';

/** An error that came from the OS (it carries an errno code), as opposed to a bug in our code. */
function isOsError(error: unknown): boolean {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string';
}

export class FileDrive implements Drive {
  readonly blockBytes = DRIVE_BLOCK_BYTES;
  readonly blockCount: number;
  readonly description: string;
  readonly path: string;
  /** -1 once closed, so a use after close is caught as a bug rather than hitting a reused fd. */
  private fd: number;

  /**
   * Opens this processor's handle on the drive file. The first open creates the file (and its
   * directory) and sizes it sparsely, so never-written blocks read as zeros; later opens reuse
   * it. A file of another size means the configuration changed under existing data, which is
   * refused at boot rather than silently truncating or misaddressing the drive.
   */
  static open(path: string, blockCount: number): FileDrive {
    assertBlockCount(blockCount);
    const expectedBytes = blockCount * DRIVE_BLOCK_BYTES;
    mkdirSync(dirname(path), { recursive: true });
    // O_CREAT without O_EXCL: processors opening a new drive concurrently all get the same file.
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    try {
      const actualBytes = fstatSync(fd).size;
      // An empty file is one that a concurrent first open created and has not sized yet (or that
      // we just created); sizing it twice to the same length is harmless.
      if (actualBytes === 0) {
        ftruncateSync(fd, expectedBytes);
      } else if (actualBytes !== expectedBytes) {
        throw new Error(
          `drive file ${path} holds ${actualBytes} bytes but the configuration asks for ` +
            `${blockCount} blocks (${expectedBytes} bytes); refusing to resize a drive that has data`,
        );
      }
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    return new FileDrive(path, blockCount, fd);
  }

  private constructor(path: string, blockCount: number, fd: number) {
    this.path = path;
    this.blockCount = blockCount;
    this.fd = fd;
    this.description = `file ${path}`;
  }

  read(lba: number, blocks: number, dst: Uint8Array, dstOffset: number): DriveStatusCode {
    assertTransfer(this, lba, blocks, dst, dstOffset, 'dst');
    const fd = this.openFd();
    const byteCount = blocks * DRIVE_BLOCK_BYTES;
    const filePosition = lba * DRIVE_BLOCK_BYTES;
    try {
      let done = 0;
      while (done < byteCount) {
        const got = readSync(fd, dst, dstOffset + done, byteCount - done, filePosition + done);
        // End of file inside the drive means someone shrank the file under us: the blocks are
        // gone, which the firmware must see as a media error, not as zeros.
        if (got === 0) return DriveStatus.MEDIUM_ERROR;
        done += got;
      }
    } catch (error) {
      if (isOsError(error)) return DriveStatus.MEDIUM_ERROR;
      throw error;
    }
    return DriveStatus.OK;
  }

  write(lba: number, blocks: number, src: Uint8Array, srcOffset: number): DriveStatusCode {
    assertTransfer(this, lba, blocks, src, srcOffset, 'src');
    const fd = this.openFd();
    const byteCount = blocks * DRIVE_BLOCK_BYTES;
    const filePosition = lba * DRIVE_BLOCK_BYTES;
    try {
      let done = 0;
      while (done < byteCount) {
        const put = writeSync(fd, src, srcOffset + done, byteCount - done, filePosition + done);
        // A write that makes no progress would otherwise spin forever.
        if (put === 0) return DriveStatus.MEDIUM_ERROR;
        done += put;
      }
    } catch (error) {
      if (isOsError(error)) return DriveStatus.MEDIUM_ERROR;
      throw error;
    }
    return DriveStatus.OK;
  }

  flush(): DriveStatusCode {
    const fd = this.openFd();
    try {
      fsyncSync(fd);
    } catch (error) {
      // A failed fsync means completed writes may not be on the medium.
      if (isOsError(error)) return DriveStatus.MEDIUM_ERROR;
      throw error;
    }
    return DriveStatus.OK;
  }

  /** Closes this processor's descriptor; other processors' handles and the file stay. */
  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    closeSync(fd);
  }

  private openFd(): number {
    if (this.fd < 0) throw new Error(`${this.description}: used after close`);
    return this.fd;
  }
}
