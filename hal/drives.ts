// openDrive: turns a DriveDescriptor from configuration into this processor's own Drive handle.
// Each thread calls it for itself: memory drives share the descriptor's buffer, file drives get
// a fresh descriptor, and a descriptor carrying a fault block is wrapped so tests can inject faults.
// A memory descriptor's persistence block (a volatile write cache) goes to the MemoryDrive itself,
// under any fault wrapper, so a write a fault refuses never marks a block unflushed.

import type { Drive, DriveDescriptor } from './drive.ts';
import { FaultyDrive } from './faulty-drive.ts';
import { FileDrive } from './file-drive.ts';
import { MemoryDrive } from './memory-drive.ts';

export function openDrive(desc: DriveDescriptor): Drive {
  let drive: Drive;
  switch (desc.kind) {
    case 'memory':
      drive = new MemoryDrive(desc.buffer, desc.blockCount, desc.persistence);
      break;
    case 'file':
      // Descriptors cross thread boundaries as plain data; a file drive's cache is the OS's.
      if ((desc as { persistence?: unknown }).persistence !== undefined) {
        throw new Error(`openDrive: ${desc.path}: a persistence block is only modelled for memory drives`);
      }
      drive = FileDrive.open(desc.path, desc.blockCount);
      break;
    default: {
      // Descriptors cross thread boundaries as plain data, so the type alone does not guarantee this.
      const unknown: never = desc;
      throw new Error(`openDrive: unknown drive kind ${JSON.stringify((unknown as { kind?: unknown }).kind)}`);
    }
  }
  return desc.faults === undefined ? drive : new FaultyDrive(drive, desc.faults);
}
