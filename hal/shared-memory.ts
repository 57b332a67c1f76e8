// Shared memory: the region table that heads every shared-memory image.
//
// Control memory (the seeds' shared memory 140) is one SharedArrayBuffer laid out once at boot.
// Its first bytes are a header and a table of regions, so a tool that knows nothing of the
// firmware can still find and size every region of a dump. The firmware decides which regions
// exist (firmware/layout.ts); this module only writes and reads the table.
//
// Header (little-endian):
//   off size field
//     0    4 magic          SHM_MAGIC (bytes 'J','C','R','F')
//     4    4 version        SHM_VERSION
//     8    4 region_count
//    12    4 total_bytes    size of the whole image
//    16    4 system_number  the storage system this image belongs to
//    20   12 reserved
//    32  32*n region entries
// Region entry:
//     0    4 id             firmware-defined region id
//     4    4 byte_offset    from the start of the image; 64-byte aligned
//     8    4 byte_count
//    12    4 record_bytes   0 for regions that are not tables of records
//    16    4 record_count
//    20   12 name           ASCII, NUL-padded

export const SHM_MAGIC = 0x4652434a; // "JCRF" read as little-endian bytes 'J','C','R','F'
export const SHM_VERSION = 1;
export const SHM_HEADER_BYTES = 32;
export const SHM_REGION_ENTRY_BYTES = 32;
export const SHM_REGION_NAME_BYTES = 12;
export const SHM_ALIGN_BYTES = 64;

export interface RegionSpec {
  id: number;
  name: string;
  byteCount: number;
  recordBytes: number;
  recordCount: number;
}

export interface Region extends RegionSpec {
  byteOffset: number;
}

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** Places regions one after another, each on a cache line, after the header and table. */
export function planRegions(specs: readonly RegionSpec[]): { regions: Region[]; totalBytes: number } {
  let offset = alignUp(SHM_HEADER_BYTES + SHM_REGION_ENTRY_BYTES * specs.length, SHM_ALIGN_BYTES);
  const regions: Region[] = [];
  for (const spec of specs) {
    if (spec.name.length > SHM_REGION_NAME_BYTES) throw new Error(`region name '${spec.name}' is longer than ${SHM_REGION_NAME_BYTES} characters`);
    if (spec.recordBytes > 0 && spec.recordBytes * spec.recordCount > spec.byteCount) {
      throw new Error(`region '${spec.name}': ${spec.recordCount} records of ${spec.recordBytes} bytes exceed ${spec.byteCount} bytes`);
    }
    regions.push({ ...spec, byteOffset: offset });
    offset = alignUp(offset + spec.byteCount, SHM_ALIGN_BYTES);
  }
  return { regions, totalBytes: offset };
}

export function writeRegionTable(buffer: SharedArrayBuffer, systemNumber: number, regions: readonly Region[], totalBytes: number): void {
  const view = new DataView(buffer);
  view.setUint32(0, SHM_MAGIC, true);
  view.setUint32(4, SHM_VERSION, true);
  view.setUint32(8, regions.length, true);
  view.setUint32(12, totalBytes, true);
  view.setUint32(16, systemNumber, true);
  regions.forEach((region, index) => {
    const at = SHM_HEADER_BYTES + index * SHM_REGION_ENTRY_BYTES;
    view.setUint32(at + 0, region.id, true);
    view.setUint32(at + 4, region.byteOffset, true);
    view.setUint32(at + 8, region.byteCount, true);
    view.setUint32(at + 12, region.recordBytes, true);
    view.setUint32(at + 16, region.recordCount, true);
    for (let i = 0; i < SHM_REGION_NAME_BYTES; i++) {
      view.setUint8(at + 20 + i, i < region.name.length ? region.name.charCodeAt(i) & 0x7f : 0);
    }
  });
}

/** Decodes the header and region table; throws with a reason when the image is not ours. */
export function readRegionTable(buffer: SharedArrayBuffer | ArrayBuffer): { systemNumber: number; totalBytes: number; regions: Region[] } {
  const view = new DataView(buffer);
  if (buffer.byteLength < SHM_HEADER_BYTES) throw new Error(`shared-memory image of ${buffer.byteLength} bytes is shorter than its header`);
  const magic = view.getUint32(0, true);
  if (magic !== SHM_MAGIC) throw new Error(`shared-memory image has magic 0x${magic.toString(16)}, expected 0x${SHM_MAGIC.toString(16)}`);
  const version = view.getUint32(4, true);
  if (version !== SHM_VERSION) throw new Error(`shared-memory image version ${version} is not ${SHM_VERSION}`);
  const count = view.getUint32(8, true);
  const totalBytes = view.getUint32(12, true);
  if (totalBytes > buffer.byteLength) throw new Error(`shared-memory header claims ${totalBytes} bytes, image has ${buffer.byteLength}`);
  if (SHM_HEADER_BYTES + count * SHM_REGION_ENTRY_BYTES > totalBytes) {
    throw new Error(`shared-memory header claims ${count} regions, more than its ${totalBytes} bytes can describe`);
  }
  const regions: Region[] = [];
  for (let index = 0; index < count; index++) {
    const at = SHM_HEADER_BYTES + index * SHM_REGION_ENTRY_BYTES;
    let name = '';
    for (let i = 0; i < SHM_REGION_NAME_BYTES; i++) {
      const c = view.getUint8(at + 20 + i);
      if (c === 0) break;
      name += String.fromCharCode(c);
    }
    regions.push({
      id: view.getUint32(at, true),
      byteOffset: view.getUint32(at + 4, true),
      byteCount: view.getUint32(at + 8, true),
      recordBytes: view.getUint32(at + 12, true),
      recordCount: view.getUint32(at + 16, true),
      name,
    });
    const r = regions[regions.length - 1]!;
    if (r.byteOffset + r.byteCount > totalBytes) throw new Error(`region '${name}' (${r.byteOffset}+${r.byteCount}) lies past the image's ${totalBytes} bytes`);
  }
  return { systemNumber: view.getUint32(16, true), totalBytes, regions };
}
