// Dump acquisition 1000 (seed 004 §5.1, Fig. 4): the host-side program that takes a full or a
// differential dump of a mirrored volume through the host port, the dump file it writes (the
// seed's tape), restore from a full dump plus a chain of differentials, and an inspector.
//
//   1010 split the pair (host command MIRROR_SPLIT; the controller runs 4000)
//   1020 receive the update information 240 (UPDATE_INFO; 6000)
//   1030 decide the targets: the marked units (differential) or every unit (full dump)
//   1040 dump read the targets (DUMP_READ; 7000 reads them from the secondary)
//   1050 write them to the dump file
//   1060 until every target is done (extents of adjacent units, read in chunks of the port's
//        largest transfer)
//   1070 resync the pair (MIRROR_RESYNC; 5000)
//
// Dump file (little-endian), self-describing:
//   header, 128 bytes
//     0  u32 magic 'MDMP'         4 u16 version (1)      6 u8 kind (0 full, 1 differential)
//     8  u32 volume               12 u32 capacity_blocks  16 u32 unit_blocks  20 u32 units
//    24  u32 split_sequence (k of the split Tₖ this dump is the image of)
//    28  u32 base_sequence (a differential: the split it follows, k - 1; a full dump: 0)
//    32  u32 record_count         36 u32 system number
//    40  f64 split_ms (the controller's split time, as the host saw the command complete)
//    48  f64 created_ms           56..123 reserved
//   124  u32 CRC-32C of bytes 0..123
//   records, one after another: 16-byte header (u32 first unit, u32 first block, u32 blocks,
//     u32 CRC-32C of the data), then blocks × 512 bytes of data
//   trailer, 16 bytes: u32 magic 'MEND', u32 record_count, u32 data blocks, u32 CRC-32C of bytes 0..11
//
// Restore (not in the seed, §9's guidance): start from a full dump, apply each later
// differential in sequence order; a chain with a missing or misplaced link is refused with a
// message that says which.

import { readFileSync, writeFileSync } from 'node:fs';
import { crc32c } from '../hal/crc32c.ts';
import { HostOp, ScsiStatus } from '../hal/host-port.ts';
import { HostCommandError, type HostClient } from './host-client.ts';

const BLOCK = 512;
export const DUMP_MAGIC = 0x504d444d; // 'MDMP'
export const DUMP_END_MAGIC = 0x444e454d; // 'MEND'
export const DUMP_VERSION = 1;
export const DUMP_HEADER_BYTES = 128;
export const DUMP_RECORD_HEADER_BYTES = 16;
export const DUMP_TRAILER_BYTES = 16;

export type DumpKind = 'full' | 'differential';

export interface DumpHeader {
  kind: DumpKind;
  volume: number;
  capacityBlocks: number;
  unitBlocks: number;
  units: number;
  splitSequence: number;
  baseSequence: number;
  recordCount: number;
  systemNumber: number;
  splitMs: number;
  createdMs: number;
}

export interface DumpRecord {
  unit: number;
  block: number;
  blocks: number;
  data: Uint8Array;
}

export class DumpError extends Error {
  override name = 'DumpError';
}

// ---- encoding ---------------------------------------------------------------------------------

/** Builds a dump file in memory. */
export class DumpWriter {
  private readonly parts: Uint8Array[] = [];
  private records = 0;
  private dataBlocks = 0;

  constructor(private readonly header: Omit<DumpHeader, 'recordCount'>) {}

  add(unit: number, block: number, data: Uint8Array): void {
    if (data.byteLength % BLOCK !== 0 || data.byteLength === 0) throw new DumpError(`a dump record holds whole blocks, got ${data.byteLength} bytes`);
    const head = new Uint8Array(DUMP_RECORD_HEADER_BYTES);
    const v = new DataView(head.buffer);
    v.setUint32(0, unit, true);
    v.setUint32(4, block, true);
    v.setUint32(8, data.byteLength / BLOCK, true);
    v.setUint32(12, crc32c(data, 0, data.byteLength), true);
    this.parts.push(head, data.slice());
    this.records++;
    this.dataBlocks += data.byteLength / BLOCK;
  }

  finish(): Uint8Array {
    const h = this.header;
    const head = new Uint8Array(DUMP_HEADER_BYTES);
    const v = new DataView(head.buffer);
    v.setUint32(0, DUMP_MAGIC, true);
    v.setUint16(4, DUMP_VERSION, true);
    v.setUint8(6, h.kind === 'full' ? 0 : 1);
    v.setUint32(8, h.volume, true);
    v.setUint32(12, h.capacityBlocks, true);
    v.setUint32(16, h.unitBlocks, true);
    v.setUint32(20, h.units, true);
    v.setUint32(24, h.splitSequence, true);
    v.setUint32(28, h.baseSequence, true);
    v.setUint32(32, this.records, true);
    v.setUint32(36, h.systemNumber, true);
    v.setFloat64(40, h.splitMs, true);
    v.setFloat64(48, h.createdMs, true);
    v.setUint32(124, crc32c(head, 0, 124), true);
    const tail = new Uint8Array(DUMP_TRAILER_BYTES);
    const t = new DataView(tail.buffer);
    t.setUint32(0, DUMP_END_MAGIC, true);
    t.setUint32(4, this.records, true);
    t.setUint32(8, this.dataBlocks, true);
    t.setUint32(12, crc32c(tail, 0, 12), true);
    const all = [head, ...this.parts, tail];
    const out = new Uint8Array(all.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const p of all) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  }
}

/** Reads and checks a dump file: header checksum, every record's checksum and bounds, trailer. */
export function decodeDump(bytes: Uint8Array, name = 'dump'): { header: DumpHeader; records: DumpRecord[] } {
  if (bytes.byteLength < DUMP_HEADER_BYTES + DUMP_TRAILER_BYTES) throw new DumpError(`${name}: ${bytes.byteLength} bytes is too short to be a dump file`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0, true) !== DUMP_MAGIC) throw new DumpError(`${name}: not a dump file (no 'MDMP' magic)`);
  if (v.getUint16(4, true) !== DUMP_VERSION) throw new DumpError(`${name}: dump file version ${v.getUint16(4, true)}, this tool reads version ${DUMP_VERSION}`);
  if (v.getUint32(124, true) !== crc32c(bytes, 0, 124)) throw new DumpError(`${name}: the header checksum does not match (damaged header)`);
  const kindCode = v.getUint8(6);
  if (kindCode > 1) throw new DumpError(`${name}: unknown dump kind ${kindCode}`);
  const header: DumpHeader = {
    kind: kindCode === 0 ? 'full' : 'differential',
    volume: v.getUint32(8, true),
    capacityBlocks: v.getUint32(12, true),
    unitBlocks: v.getUint32(16, true),
    units: v.getUint32(20, true),
    splitSequence: v.getUint32(24, true),
    baseSequence: v.getUint32(28, true),
    recordCount: v.getUint32(32, true),
    systemNumber: v.getUint32(36, true),
    splitMs: v.getFloat64(40, true),
    createdMs: v.getFloat64(48, true),
  };
  if (header.unitBlocks === 0 || header.units !== Math.ceil(header.capacityBlocks / header.unitBlocks)) throw new DumpError(`${name}: header says ${header.units} units of ${header.unitBlocks} blocks for ${header.capacityBlocks} blocks`);
  const records: DumpRecord[] = [];
  let at = DUMP_HEADER_BYTES;
  let dataBlocks = 0;
  for (let i = 0; i < header.recordCount; i++) {
    if (at + DUMP_RECORD_HEADER_BYTES > bytes.byteLength) throw new DumpError(`${name}: truncated at record ${i} of ${header.recordCount}`);
    const unit = v.getUint32(at, true);
    const block = v.getUint32(at + 4, true);
    const blocks = v.getUint32(at + 8, true);
    const crc = v.getUint32(at + 12, true);
    at += DUMP_RECORD_HEADER_BYTES;
    if (blocks === 0 || block + blocks > header.capacityBlocks) throw new DumpError(`${name}: record ${i} covers blocks ${block}..${block + blocks - 1}, outside the volume's ${header.capacityBlocks}`);
    if (at + blocks * BLOCK > bytes.byteLength) throw new DumpError(`${name}: truncated in the data of record ${i}`);
    if (crc32c(bytes, at, blocks * BLOCK) !== crc) throw new DumpError(`${name}: record ${i} (blocks ${block}..${block + blocks - 1}) fails its checksum`);
    records.push({ unit, block, blocks, data: bytes.subarray(at, at + blocks * BLOCK) });
    at += blocks * BLOCK;
    dataBlocks += blocks;
  }
  if (at + DUMP_TRAILER_BYTES !== bytes.byteLength) throw new DumpError(`${name}: ${bytes.byteLength - at} bytes after the last record, expected the ${DUMP_TRAILER_BYTES}-byte trailer`);
  if (v.getUint32(at, true) !== DUMP_END_MAGIC || v.getUint32(at + 12, true) !== crc32c(bytes, at, 12)) throw new DumpError(`${name}: the trailer is missing or damaged`);
  if (v.getUint32(at + 4, true) !== header.recordCount || v.getUint32(at + 8, true) !== dataBlocks) throw new DumpError(`${name}: the trailer counts do not match the records`);
  return { header, records };
}

// ---- restore -----------------------------------------------------------------------------

/**
 * The volume image as of the split of the last dump: a full dump, then each differential in
 * sequence order. A later full dump restarts the chain. Throws DumpError naming the broken link.
 */
export function restoreChain(files: ReadonlyArray<Uint8Array | { name: string; bytes: Uint8Array }>): { image: Uint8Array; header: DumpHeader } {
  if (files.length === 0) throw new DumpError('restore needs at least a full dump');
  let image: Uint8Array | null = null;
  let last: DumpHeader | null = null;
  files.forEach((f, i) => {
    const name = f instanceof Uint8Array ? `dump ${i + 1}` : f.name;
    const { header, records } = decodeDump(f instanceof Uint8Array ? f : f.bytes, name);
    if (last === null) {
      if (header.kind !== 'full') throw new DumpError(`${name}: a chain starts with a full dump; this is the differential of split ${header.splitSequence}`);
    } else {
      if (header.volume !== last.volume || header.capacityBlocks !== last.capacityBlocks) {
        throw new DumpError(`${name}: volume ${header.volume} of ${header.capacityBlocks} blocks does not continue a chain of volume ${last.volume} of ${last.capacityBlocks} blocks`);
      }
      if (header.kind === 'differential' && header.baseSequence !== last.splitSequence) {
        throw new DumpError(header.baseSequence > last.splitSequence
          ? `${name}: the differential of split ${header.splitSequence} follows split ${header.baseSequence}, but the chain so far ends at split ${last.splitSequence}: the dump of split ${last.splitSequence + 1} is missing (take a new full dump if it was never taken)`
          : `${name}: the differential of split ${header.splitSequence} is out of order: the chain so far already ends at split ${last.splitSequence}`);
      }
      if (header.kind === 'full' && header.splitSequence <= last.splitSequence) {
        throw new DumpError(`${name}: the full dump of split ${header.splitSequence} is out of order after split ${last.splitSequence}`);
      }
    }
    if (header.kind === 'full') image = new Uint8Array(header.capacityBlocks * BLOCK);
    for (const r of records) image!.set(r.data, r.block * BLOCK);
    last = header;
  });
  return { image: image!, header: last! };
}

/** A dump file described for an operator. */
export function inspectDump(bytes: Uint8Array, name = 'dump'): string {
  const { header: h, records } = decodeDump(bytes, name);
  const blocks = records.reduce((n, r) => n + r.blocks, 0);
  const lines = [
    `${name}: ${h.kind} dump of volume ${h.volume} (system ${h.systemNumber}), image of split ${h.splitSequence}${h.kind === 'differential' ? ` (follows split ${h.baseSequence})` : ''}`,
    `  volume ${h.capacityBlocks} blocks (${(h.capacityBlocks * BLOCK / 1048576).toFixed(2)} MiB), unit ${h.unitBlocks} blocks, ${h.units} units`,
    `  ${records.length} records, ${blocks} blocks of data (${(100 * blocks / Math.max(1, h.capacityBlocks)).toFixed(1)}% of the volume), every checksum good`,
    `  split at ${new Date(h.splitMs).toISOString()}, written at ${new Date(h.createdMs).toISOString()}`,
  ];
  for (const r of records.slice(0, 16)) lines.push(`  unit ${r.unit}: blocks ${r.block}..${r.block + r.blocks - 1}`);
  if (records.length > 16) lines.push(`  ... ${records.length - 16} more records`);
  return lines.join('\n');
}

// ---- acquisition 1000 ----------------------------------------------------------------------

export interface DumpOptions {
  port: number;
  /** The primary (or the secondary: the controller finds the pair either way). */
  volume: number;
  kind: DumpKind;
  /** The dump this differential follows; the acquisition reports a broken chain against it. */
  previous?: DumpHeader;
  systemNumber?: number;
  /** Called after the split (1010) and after each record (1050): tests write during the dump here. */
  during?: (stage: 'split' | 'record', index: number) => void | Promise<void>;
  nowMs?: () => number;
  /** The pair is already split (a dump retried, or continued after a power-off): skip 1010. */
  alreadySplit?: boolean;
}

export interface DumpResult {
  file: Uint8Array;
  header: DumpHeader;
  /** Units dumped (1030's targets) and blocks read. */
  targetUnits: number;
  blocks: number;
  /** Set when `previous` does not end at the split before this one: this differential cannot continue that chain. */
  chainBroken?: string;
  splitMs: number;
  dumpMs: number;
  resyncMs: number;
}

async function must(host: HostClient, port: number, op: number, volume: number, lba: number, bytes: number, what: string, into?: Uint8Array) {
  const r = await host.command(port, op, volume, lba, bytes, undefined, into);
  if (r.status !== ScsiStatus.GOOD) throw new HostCommandError(r, what);
  return r;
}

/** Dump acquisition 1000: split, transfer 240, dump read the targets, resync. */
export async function takeDump(host: HostClient, o: DumpOptions): Promise<DumpResult> {
  const now = o.nowMs ?? (() => Date.now());
  const maxBytes = host.ports.geometry.maxTransferBytes;
  const inquiry = await host.inquiry(o.port, o.volume);
  if (inquiry.status !== ScsiStatus.GOOD) throw new HostCommandError(inquiry, `inquiry of volume ${o.volume}`);
  const capacityBlocks = inquiry.info1;
  const t0 = now();
  // 1010: temporary cancellation (split).
  if (o.alreadySplit !== true) await must(host, o.port, HostOp.MIRROR_SPLIT, o.volume, 0, 0, `split of volume ${o.volume}`);
  const splitMs = now();
  try {
    await o.during?.('split', 0);
    // 1020: the update information (240), in pages; the first page says how many units there
    // are, of what size, and which split this is.
    const probe = new Uint8Array(64);
    const first = await must(host, o.port, HostOp.UPDATE_INFO, o.volume, 0, 64, 'update information transfer', probe);
    const splitSequence = first.info2;
    const units = first.info0;
    const unitBlocks = first.info1;
    const bitmap = new Uint8Array(Math.max(64, Math.ceil(units / 8)));
    bitmap.set(probe);
    for (let at = 64; at < bitmap.byteLength; at += maxBytes) {
      const n = Math.min(maxBytes, bitmap.byteLength - at);
      const page = new Uint8Array(n);
      await must(host, o.port, HostOp.UPDATE_INFO, o.volume, at, n, 'update information transfer', page);
      bitmap.set(page, at);
    }
    // 1030: the targets.
    const marked = (u: number): boolean => o.kind === 'full' || (bitmap[u >> 3]! & (1 << (u & 7))) !== 0;
    const writer = new DumpWriter({
      kind: o.kind, volume: o.volume, capacityBlocks, unitBlocks, units, splitSequence, baseSequence: o.kind === 'full' ? 0 : splitSequence - 1,
      systemNumber: o.systemNumber ?? 0, splitMs, createdMs: now(),
    });
    let targetUnits = 0;
    let blocks = 0;
    let records = 0;
    // 1040–1060: each run of adjacent targets, read from the secondary in chunks.
    for (let u = 0; u < units;) {
      if (!marked(u)) {
        u++;
        continue;
      }
      let end = u;
      while (end < units && marked(end)) end++;
      targetUnits += end - u;
      const fromBlock = u * unitBlocks;
      const toBlock = Math.min(capacityBlocks, end * unitBlocks);
      for (let b = fromBlock; b < toBlock;) {
        const n = Math.min(maxBytes / BLOCK, toBlock - b);
        const data = new Uint8Array(n * BLOCK);
        await must(host, o.port, HostOp.DUMP_READ, o.volume, b, n * BLOCK, `dump read of blocks ${b}..${b + n - 1}`, data);
        writer.add(Math.floor(b / unitBlocks), b, data); // 1050
        blocks += n;
        b += n;
        await o.during?.('record', records++);
      }
      u = end;
    }
    const file = writer.finish();
    const dumpMs = now();
    // 1070: resync.
    await must(host, o.port, HostOp.MIRROR_RESYNC, o.volume, 0, 0, `resync of volume ${o.volume}`);
    const header = decodeDump(file).header;
    const result: DumpResult = { file, header, targetUnits, blocks, splitMs: splitMs - t0, dumpMs: dumpMs - splitMs, resyncMs: now() - dumpMs };
    if (o.kind === 'differential' && o.previous && o.previous.splitSequence !== splitSequence - 1) {
      result.chainBroken = `this differential covers split ${splitSequence - 1} to ${splitSequence}, but the previous dump is of split ${o.previous.splitSequence}: the updates of the splits in between were never dumped; take a full dump`;
    }
    return result;
  } catch (e) {
    // Leave the pair mirrored again whatever went wrong in the middle (a dump can be retried
    // while split, but a host program that gives up must not leave the pair split for ever).
    await host.command(o.port, HostOp.MIRROR_RESYNC, o.volume, 0, 0).catch(() => undefined);
    throw e;
  }
}

/** Writes a restored image onto a volume through the host port. */
export async function writeImage(host: HostClient, port: number, volume: number, image: Uint8Array): Promise<void> {
  const chunk = host.ports.geometry.maxTransferBytes;
  for (let at = 0; at < image.byteLength; at += chunk) await host.writeOk(port, volume, at / BLOCK, image.subarray(at, Math.min(image.byteLength, at + chunk)));
}

// ---- command line -----------------------------------------------------------------------

const USAGE = `usage:
  tsx tools/dump.ts inspect <dump file>...
  tsx tools/dump.ts restore <image out> <full dump> [<differential>...]`;

export function main(argv: string[]): number {
  const [command, ...args] = argv;
  try {
    if (command === 'inspect' && args.length > 0) {
      for (const f of args) console.log(inspectDump(new Uint8Array(readFileSync(f)), f));
      return 0;
    }
    if (command === 'restore' && args.length >= 2) {
      const [out, ...chain] = args as [string, ...string[]];
      const { image, header } = restoreChain(chain.map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(f)) })));
      writeFileSync(out, image);
      console.log(`${out}: volume ${header.volume} as of split ${header.splitSequence} (${image.byteLength} bytes) from ${chain.length} dump files`);
      return 0;
    }
    console.error(USAGE);
    return 2;
  } catch (e) {
    console.error(e instanceof DumpError ? e.message : String(e));
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main(process.argv.slice(2));
