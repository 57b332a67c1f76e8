// Frame builders for tests that play the other storage system over a link, byte for byte:
// journal read commands (JNLRD) and their responses, laid out as firmware/link-protocol.ts
// says, with update information built by the firmware's own codec and write data checksummed
// with CRC-32C. Every builder writes exactly the bytes of the layout; the decoders read them
// back field by field, so a test asserts on the wire format, not on firmware objects.

import { crc32c } from '../../hal/crc32c.ts';
import type { LinkEndpoint } from '../../hal/link.ts';
import { BLOCK_BYTES } from '../../firmware/config.ts';
import {
  Frame, JNLRD_BYTES, JnlrdOff, RESPONSE_HEADER_BYTES, RespOff, ResponseKind, WIRE_UPDATE_INFO_BYTES,
} from '../../firmware/link-protocol.ts';
import {
  decodeUpdateInfo, emptyUpdateInfo, encodeUpdateInfo, validateUpdateInfo, type UpdateInfoFields,
} from '../../firmware/structs/update-info-codec.ts';

export { Frame, ResponseKind };

// ---- journal read command --------------------------------------------------------------------

export interface JnlrdFields {
  group: number;
  requester: number;
  requestId: number;
  retry: number;
  maxJournals: number;
  maxBytes: number;
  releaseMode: number;
  releaseNumber: number;
  fromNumber: number;
}

/** The 40-byte JNLRD payload (reserved bytes zero). */
export function encodeJnlrd(f: Partial<JnlrdFields> = {}): Uint8Array {
  const out = new Uint8Array(JNLRD_BYTES);
  const v = new DataView(out.buffer);
  v.setUint32(JnlrdOff.GROUP, f.group ?? 1, true);
  v.setUint32(JnlrdOff.REQUESTER, f.requester ?? 2, true);
  v.setUint32(JnlrdOff.REQUEST_ID, f.requestId ?? 1, true);
  v.setUint8(JnlrdOff.RETRY, f.retry ?? 0);
  v.setUint32(JnlrdOff.MAX_JOURNALS, f.maxJournals ?? 0, true);
  v.setUint32(JnlrdOff.MAX_BYTES, f.maxBytes ?? 0, true);
  v.setUint8(JnlrdOff.RELEASE_MODE, f.releaseMode ?? 0);
  v.setFloat64(JnlrdOff.RELEASE_NUMBER, f.releaseNumber ?? 0, true);
  v.setFloat64(JnlrdOff.FROM_NUMBER, f.fromNumber ?? 0, true);
  return out;
}

export interface DecodedJnlrd extends JnlrdFields {
  length: number;
  /** Bytes 14..15, which must be zero. */
  reserved: number[];
}

export function decodeJnlrd(p: Uint8Array): DecodedJnlrd {
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  return {
    length: p.byteLength,
    group: v.getUint32(JnlrdOff.GROUP, true),
    requester: v.getUint32(JnlrdOff.REQUESTER, true),
    requestId: v.getUint32(JnlrdOff.REQUEST_ID, true),
    retry: v.getUint8(JnlrdOff.RETRY),
    maxJournals: v.getUint32(JnlrdOff.MAX_JOURNALS, true),
    maxBytes: v.getUint32(JnlrdOff.MAX_BYTES, true),
    releaseMode: v.getUint8(JnlrdOff.RELEASE_MODE),
    releaseNumber: v.getFloat64(JnlrdOff.RELEASE_NUMBER, true),
    fromNumber: v.getFloat64(JnlrdOff.FROM_NUMBER, true),
    reserved: [...p.subarray(14, 16)],
  };
}

// ---- journals on the wire --------------------------------------------------------------------

export interface WireJournal {
  info: UpdateInfoFields;
  data: Uint8Array;
}

/**
 * A journal as a primary sends it: update information (host-write defaults: group 1, data in
 * journal volume 3) with the CRC-32C of `data` as its data checksum and data_blocks from its length.
 */
export function wireJournal(fields: Partial<UpdateInfoFields> & { updateNumber: number }, data: Uint8Array): WireJournal {
  const info: UpdateInfoFields = {
    ...emptyUpdateInfo(),
    receiveMs: 1_000_000 + fields.updateNumber,
    groupNumber: 1,
    targetVolume: 11,
    targetBlock: 0,
    dataVolume: 3,
    dataPosition: 0,
    ...fields,
    dataBlocks: fields.dataBlocks ?? data.byteLength / BLOCK_BYTES,
    dataChecksum: fields.dataChecksum ?? crc32c(data, 0, data.byteLength),
  };
  return { info, data };
}

/** The 64 wire bytes of an update information. */
export function encodeWireInfo(info: UpdateInfoFields): Uint8Array {
  const out = new Uint8Array(WIRE_UPDATE_INFO_BYTES);
  encodeUpdateInfo(new DataView(out.buffer), out, 0, info);
  return out;
}

// ---- journal read response -------------------------------------------------------------------

export interface ResponseFields {
  requestId: number;
  kind: number;
  groupState: number;
  flags: number;
  count: number;
  refusal: number;
  primaryUsage: number;
  nextNumber: number;
}

export interface DecodedJournal extends WireJournal {
  /** The 64 update-information bytes as received. */
  raw: Uint8Array;
  /** validateUpdateInfo's verdict on them (null = valid). */
  problem: string | null;
  /** crc32c(data) === info.dataChecksum */
  checksumOk: boolean;
}

export interface DecodedResponse extends ResponseFields {
  length: number;
  reservedByte: number;
  journals: DecodedJournal[];
  /** Bytes after the last journal (should be 0). */
  trailing: number;
  /** The payload from offset 32 on: the journals exactly as sent. */
  body: Uint8Array;
}

/** A response payload; count defaults to the number of journals, `truncate` cuts bytes off the end. */
export function encodeResponse(r: Partial<ResponseFields> & { journals?: WireJournal[]; truncate?: number; trailing?: number } = {}): Uint8Array {
  const journals = r.journals ?? [];
  let length = RESPONSE_HEADER_BYTES;
  for (const j of journals) length += WIRE_UPDATE_INFO_BYTES + j.data.byteLength;
  length += r.trailing ?? 0;
  const out = new Uint8Array(length);
  const v = new DataView(out.buffer);
  v.setUint32(RespOff.REQUEST_ID, r.requestId ?? 1, true);
  v.setUint8(RespOff.KIND, r.kind ?? (journals.length > 0 ? ResponseKind.JOURNALS : ResponseKind.NO_JOURNAL));
  v.setUint8(RespOff.GROUP_STATE, r.groupState ?? 1);
  v.setUint8(RespOff.FLAGS, r.flags ?? 0);
  v.setUint32(RespOff.COUNT, r.count ?? journals.length, true);
  v.setUint32(RespOff.REFUSAL, r.refusal ?? 0, true);
  v.setFloat64(RespOff.PRIMARY_USAGE, r.primaryUsage ?? 0, true);
  v.setFloat64(RespOff.NEXT_NUMBER, r.nextNumber ?? 0, true);
  let at = RESPONSE_HEADER_BYTES;
  for (const j of journals) {
    encodeUpdateInfo(v, out, at, j.info);
    out.set(j.data, at + WIRE_UPDATE_INFO_BYTES);
    at += WIRE_UPDATE_INFO_BYTES + j.data.byteLength;
  }
  return r.truncate ? out.slice(0, out.byteLength - r.truncate) : out;
}

/** Decodes a response payload; journals are walked by their data_blocks (maxBlocks for validation). */
export function decodeResponse(p: Uint8Array, maxBlocks = 1 << 16): DecodedResponse {
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const out: DecodedResponse = {
    length: p.byteLength,
    requestId: v.getUint32(RespOff.REQUEST_ID, true),
    kind: v.getUint8(RespOff.KIND),
    groupState: v.getUint8(RespOff.GROUP_STATE),
    flags: v.getUint8(RespOff.FLAGS),
    reservedByte: v.getUint8(7),
    count: v.getUint32(RespOff.COUNT, true),
    refusal: v.getUint32(RespOff.REFUSAL, true),
    primaryUsage: v.getFloat64(RespOff.PRIMARY_USAGE, true),
    nextNumber: v.getFloat64(RespOff.NEXT_NUMBER, true),
    journals: [],
    trailing: 0,
    body: p.slice(RESPONSE_HEADER_BYTES),
  };
  let at = RESPONSE_HEADER_BYTES;
  for (let k = 0; k < out.count && at + WIRE_UPDATE_INFO_BYTES <= p.byteLength; k++) {
    const raw = p.slice(at, at + WIRE_UPDATE_INFO_BYTES);
    const problem = validateUpdateInfo(v, p, at, maxBlocks);
    const info = emptyUpdateInfo();
    decodeUpdateInfo(v, at, info);
    const dataBytes = info.dataBlocks * BLOCK_BYTES;
    const data = p.slice(at + WIRE_UPDATE_INFO_BYTES, Math.min(p.byteLength, at + WIRE_UPDATE_INFO_BYTES + dataBytes));
    out.journals.push({ info, data, raw, problem, checksumOk: data.byteLength === dataBytes && crc32c(data, 0, data.byteLength) === info.dataChecksum });
    at += WIRE_UPDATE_INFO_BYTES + dataBytes;
  }
  out.trailing = Math.max(0, p.byteLength - at);
  return out;
}

// ---- link helpers -----------------------------------------------------------------------------

/** Sends `payload` as one frame from a test-owned endpoint; throws if the link refuses it. */
export function sendFrame(ep: LinkEndpoint, type: number, payload: Uint8Array, flags = 0): void {
  ep.staging.set(payload, 0);
  if (!ep.sendStaging(type, flags, payload.byteLength)) throw new Error(`link refused a frame of type ${type} (${payload.byteLength} bytes)`);
}

export interface ReceivedFrame {
  type: number;
  payload: Uint8Array;
}

/** The next frame delivered to a test-owned endpoint (payload copied), or null. Bad frames throw. */
export function takeFrame(ep: LinkEndpoint): ReceivedFrame | null {
  const type = ep.receive();
  if (type === 0) return null;
  if (type < 0) throw new Error(`bad frame on the test's end of the link: ${ep.rxError}`);
  return { type, payload: ep.rxStaging.slice(0, ep.rxPayloadLength) };
}
