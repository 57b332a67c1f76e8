// Link: the hardware between two storage systems (the seeds' connection path 200).
//
// A link carries framed binary messages between two storage systems: journal read commands and
// their responses, configuration forwarding, synchronous remote-copy writes. Each end of a link
// is owned by exactly one processor of its storage system, so each direction is a
// single-producer single-consumer byte ring. Processors never block: sendStaging() and
// receive() are try-operations whose "no" answers (ring full, link down, nothing deliverable)
// are ordinary return values.
//
// The same LinkBuffer is used by every transport:
//   - in-process, both systems in one Node process: each side's processor (worker threads, or
//     one thread in the deterministic runtime on virtual time) attaches a LinkEndpoint to the
//     same SharedArrayBuffer, side 0 and side 1;
//   - over TCP (hal/link-tcp.ts), each storage system its own process: each process has its own
//     LinkBuffer whose side 0 is the firmware, and a TcpLinkBridge on the main thread plays side 1
//     and carries frames through a socket. The firmware cannot tell the difference.
//
// ---- LinkBuffer layout (one SharedArrayBuffer; R = ring bytes, a power of two) ----------------
//
//   offset       type     field
//   -----------  -------  -----------------------------------------------------------------------
//   control line (written by allocate(), cut(), restore(), setDelay(); read by both endpoints)
//     +0         int32    buffer magic LINK_BUFFER_MAGIC ('J','L','B','F')
//     +4         int32    R, the byte size of each ring
//     +8         int32    link state: LINK_UP = 1, LINK_DOWN = 0
//    +12         int32    delay in microseconds (one-way, applied at delivery)
//    +16         int32    cut generation (incremented by every cut())
//    +20         int32    drop-until position of ring A->B (its head at the last cut)
//    +24         int32    drop-until position of ring B->A
//    +28         -        reserved
//    +32         int32 x3 injected faults on ring A->B (received by side 1): frames to drop, to
//                         duplicate, to deliver after the frame behind them (simulator, tests)
//    +44         int32 x3 the same for ring B->A (received by side 0)
//    +56         int32    frames on ring A->B to corrupt in flight (a payload bit flipped before the
//                         receiver's checksum test)
//    +60         int32    the same for ring B->A
//   ring A->B (side 0 sends, side 1 receives): producer line, written by the producer only
//    +64         int32    head (byte position just past the last published frame)
//    +68         int32    next sequence number
//    +72         float64  framesSent
//    +80         float64  bytesSent            (payload bytes)
//    +88         float64  sendRejectedDown
//    +96         float64  sendRejectedFull
//   +104 .. +127 -        reserved
//   ring A->B: consumer line, written by the consumer only
//   +128         int32    tail (byte position just past the last consumed frame)
//   +132         int32    cut generation the consumer has applied
//   +136         float64  framesReceived
//   +144         float64  bytesReceived        (payload bytes)
//   +152         float64  badFrames
//   +160         float64  framesDroppedByCut
//   +168         float64  bytesDiscarded       (dropped by a cut or drained to resynchronise)
//   +176         float64  resyncs
//   +184         float64  framesFaulted        (dropped, duplicated or reordered by an injected fault)
//   ring B->A (side 1 sends, side 0 receives): the same two lines
//   +192         producer line (fields as at +64)
//   +256         consumer line (fields as at +128)
//   +320         ring A->B data, R bytes
//   +320 + R     ring B->A data, R bytes
//
// Counters are float64 (exact to 2^53, no 2^32 wrap) and each has one writer (the producer's
// or the consumer's processor), so they need no atomics; a reader on another thread sees
// statistics that may lag by a frame.
//
// ---- Frame format (on the ring and, byte for byte, on a TCP socket) ---------------------------
//
//   offset  type     field
//   ------  -------  -----------------------------------------------------------------------------
//     +0    uint32   magic LINK_FRAME_MAGIC = 0x52464C4A (the bytes 'J','L','F','R')
//     +4    uint16   type (1 .. LINK_FRAME_TYPE_MAX; 0 is never valid; 0xFFFF is reserved for
//                    transports, e.g. the TCP bridge's hello)
//     +6    uint16   flags (the firmware's own)
//     +8    uint32   payload_length (bytes following the header)
//    +12    uint32   sequence (per direction, incremented by the sender)
//    +16    float64  send_time_us (sender clock, microseconds; used for the delay)
//    +24    uint32   header_checksum  = crc32c(header bytes 0 .. 23)
//    +28    uint32   payload_checksum = crc32c(payload)
//    +32    payload
// All little-endian. In a ring, every frame starts on a 32-byte boundary of the ring's byte
// positions (so a header never wraps and can be read with aligned typed-array loads); the
// 0..31 bytes of padding after a payload belong to the frame and are never interpreted. The
// payload may wrap from the end of the ring to its start.
//
// ---- Memory ordering (SPSC) --------------------------------------------------------------------
//
// Positions are byte counts that only grow, kept as int32 and compared by wrapped difference
// ((a - b) | 0), which is exact because R <= 2^30. The producer writes the header and payload
// bytes with plain stores and then publishes them with Atomics.store(head); the consumer reads
// head with Atomics.load, reads only bytes below it, and releases them with Atomics.store(tail)
// after it has copied the payload out; the producer reads tail with Atomics.load before reusing
// space. Atomics operations are sequentially consistent and synchronise-with each other, so a
// consumer that observes a head value observes every byte written before that store, and a
// producer that observes a tail value never overwrites bytes the consumer is still reading.
// Head and tail sit on separate 64-byte lines, together with the counters their owner writes.
//
// ---- Cut, restore, delay -----------------------------------------------------------------------
//
// cut() sets the state DOWN (every later send is rejected and counted in sendRejectedDown) and
// drops the frames in flight: it records each ring's head as that ring's drop-until position and
// then increments the cut generation. A consumer compares the generation on every receive (one
// Atomics.load); when it has changed, it moves its tail up to the drop-until position, dropping
// exactly the frames that were published before the cut (counted in framesDroppedByCut and
// bytesDiscarded), even if the link has been restored since. Frames sent after restore() are
// therefore never lost to an earlier cut. A send that races with cut() on another thread (it
// passed the UP check just before the cut) may still be delivered, as if it had completed just
// before the cut. The generation is read before head so a drop-until position is never ahead of
// the head the consumer works with.
//
// The delay applies at delivery: a frame is delivered once send_time_us + delay_us <= now_us of
// the receiver's clock (the delay in force at that moment). With delay 0 the clock is not read at
// all. Frames are delivered in order, so a frame still held back holds back the frames behind
// it, like a real wire.
//
// ---- Bad input ---------------------------------------------------------------------------------
//
// The receiver never throws on ring contents. A frame whose header is intact (magic and header
// checksum good, its padded length inside the published bytes) but whose type, length or
// payload is bad is consumed, counted in badFrames and reported as LINK_BAD_FRAME with rxError.
// If the header itself is corrupt, its length cannot be trusted, so the receiver resynchronises
// by draining everything published so far (tail := head; counted in badFrames, resyncs and
// bytesDiscarded) and reports LINK_BAD_FRAME. Because frames start on 32-byte boundaries and the
// producer re-aligns its head before every frame, the ring is usable again at once even if a
// hostile producer left head unaligned.
//
// Nothing on the send or receive path allocates, except a copy of more than
// LINK_COPY_LOOP_MAX_BYTES, which uses TypedArray.set on one subarray view per ring segment
// (an int32 loop is as fast as set() up to ~4 KiB and avoids the view; measured).
//
// Measured on the development machine (Node 20.20, x64, one thread, RealClock, warm):
//   empty poll (receive() returning 0)            ~18 ns
//   send + receive of a 0-byte / 16-byte frame    ~230 / ~260 ns  (of which ~65 ns is reading
//                                                   the clock for send_time_us, ~40 ns the two
//                                                   header checksums)
//   send + receive of 256 B / 4 KiB / 32 KiB      ~0.75 / ~6.9 / ~37 us (the payload is
//                                                   checksummed on both sides at ~2 GB/s)
//
// This module is imported by the firmware core and must import nothing from node:* or npm.

import type { Clock } from './clock.ts';
import { crc32c } from './crc32c.ts';

// ---- constants ---------------------------------------------------------------------------------

/** The bytes 'J','L','B','F' read as a little-endian uint32: marks a formatted LinkBuffer. */
export const LINK_BUFFER_MAGIC = 0x46424c4a;
/** The bytes 'J','L','F','R' read as a little-endian uint32: first word of every frame. */
export const LINK_FRAME_MAGIC = 0x52464c4a;

export const LINK_UP = 1;
export const LINK_DOWN = 0;

/** receive() result for a frame that failed validation (see rxError). */
export const LINK_BAD_FRAME = -1;

/** Largest frame type the firmware may send; LINK_FRAME_TYPE_RESERVED belongs to transports. */
export const LINK_FRAME_TYPE_MAX = 0xfffe;
export const LINK_FRAME_TYPE_RESERVED = 0xffff;
export const LINK_FRAME_FLAGS_MAX = 0xffff;

/** Frame header layout; see the table in the header comment. */
export const LINK_FRAME_HEADER_BYTES = 32;
export const LINK_FRAME_MAGIC_OFFSET = 0;
export const LINK_FRAME_TYPE_OFFSET = 4;
export const LINK_FRAME_FLAGS_OFFSET = 6;
export const LINK_FRAME_PAYLOAD_LENGTH_OFFSET = 8;
export const LINK_FRAME_SEQUENCE_OFFSET = 12;
export const LINK_FRAME_SEND_TIME_OFFSET = 16;
export const LINK_FRAME_HEADER_CHECKSUM_OFFSET = 24;
export const LINK_FRAME_PAYLOAD_CHECKSUM_OFFSET = 28;
/** The header checksum covers header bytes [0, LINK_FRAME_HEADER_CHECKED_BYTES). */
export const LINK_FRAME_HEADER_CHECKED_BYTES = 24;
/** Frames start on multiples of this in a ring's byte positions. */
export const LINK_FRAME_ALIGN_BYTES = 32;

/**
 * Largest payload any endpoint accepts (1 MiB). An endpoint's own maximum (its `payloadMax`
 * option) defaults to this, capped so that a whole frame fits in half a ring:
 * payloadMax <= ringBytes / 2 - LINK_FRAME_HEADER_BYTES.
 */
export const LINK_FRAME_PAYLOAD_MAX = 1 << 20;

export const LINK_RING_MIN_BYTES = 256;
export const LINK_RING_MAX_BYTES = 1 << 30;

/** Control block layout; see the table in the header comment. */
export const LINK_BUFFER_MAGIC_OFFSET_BYTES = 0;
export const LINK_RING_BYTES_OFFSET_BYTES = 4;
export const LINK_STATE_OFFSET_BYTES = 8;
export const LINK_DELAY_US_OFFSET_BYTES = 12;
export const LINK_CUT_GENERATION_OFFSET_BYTES = 16;
/** Drop-until position of ring r (0 = A->B, 1 = B->A) is at this + 4 * r. */
export const LINK_DROP_UNTIL_OFFSET_BYTES = 20;
/** Injected faults per receiving ring: three int32 (drop, duplicate, reorder), ring A->B first. */
export const LINK_FAULTS_OFFSET_BYTES = 32;
/** Producer line of ring r at this + r * LINK_RING_LINES_STRIDE_BYTES. */
export const LINK_PRODUCER_LINE_OFFSET_BYTES = 64;
/** Consumer line of ring r at this + r * LINK_RING_LINES_STRIDE_BYTES. */
export const LINK_CONSUMER_LINE_OFFSET_BYTES = 128;
export const LINK_RING_LINES_STRIDE_BYTES = 128;
/** Ring r's data starts at LINK_CONTROL_BYTES + r * R. */
export const LINK_CONTROL_BYTES = 320;

/** Offsets inside a producer line. */
export const LINK_HEAD_OFFSET = 0;
export const LINK_NEXT_SEQUENCE_OFFSET = 4;
export const LINK_FRAMES_SENT_OFFSET = 8;
export const LINK_BYTES_SENT_OFFSET = 16;
export const LINK_SEND_REJECTED_DOWN_OFFSET = 24;
export const LINK_SEND_REJECTED_FULL_OFFSET = 32;
/** Offsets inside a consumer line. */
export const LINK_TAIL_OFFSET = 0;
export const LINK_CUT_SEEN_OFFSET = 4;
export const LINK_FRAMES_RECEIVED_OFFSET = 8;
export const LINK_BYTES_RECEIVED_OFFSET = 16;
export const LINK_BAD_FRAMES_OFFSET = 24;
export const LINK_FRAMES_DROPPED_BY_CUT_OFFSET = 32;
export const LINK_BYTES_DISCARDED_OFFSET = 40;
export const LINK_RESYNCS_OFFSET = 48;
export const LINK_FRAMES_FAULTED_OFFSET = 56;

/** Copies up to this many bytes go through an int32 loop (no allocation); longer ones use set(). */
export const LINK_COPY_LOOP_MAX_BYTES = 8192;

const LINE_BYTES = 64;
const ALIGN_MASK = ~(LINK_FRAME_ALIGN_BYTES - 1);

// The layout tables above, checked once at load.
if (
  new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1 ||
  LINK_FRAME_HEADER_BYTES !== LINK_FRAME_ALIGN_BYTES ||
  LINK_FRAME_TYPE_OFFSET !== LINK_FRAME_MAGIC_OFFSET + 4 ||
  LINK_FRAME_FLAGS_OFFSET !== LINK_FRAME_TYPE_OFFSET + 2 ||
  LINK_FRAME_PAYLOAD_LENGTH_OFFSET !== 8 ||
  LINK_FRAME_SEQUENCE_OFFSET !== 12 ||
  LINK_FRAME_SEND_TIME_OFFSET % 8 !== 0 ||
  LINK_FRAME_HEADER_CHECKED_BYTES !== LINK_FRAME_HEADER_CHECKSUM_OFFSET ||
  LINK_FRAME_PAYLOAD_CHECKSUM_OFFSET + 4 !== LINK_FRAME_HEADER_BYTES ||
  LINK_DROP_UNTIL_OFFSET_BYTES + 8 > LINE_BYTES ||
  LINK_PRODUCER_LINE_OFFSET_BYTES % LINE_BYTES !== 0 ||
  LINK_CONSUMER_LINE_OFFSET_BYTES !== LINK_PRODUCER_LINE_OFFSET_BYTES + LINE_BYTES ||
  LINK_SEND_REJECTED_FULL_OFFSET + 8 > LINE_BYTES ||
  LINK_FRAMES_FAULTED_OFFSET + 8 > LINE_BYTES ||
  LINK_FAULTS_OFFSET_BYTES + 32 > LINE_BYTES ||
  LINK_CONTROL_BYTES !== LINK_PRODUCER_LINE_OFFSET_BYTES + 2 * LINK_RING_LINES_STRIDE_BYTES ||
  LINK_CONTROL_BYTES % LINK_FRAME_ALIGN_BYTES !== 0 ||
  LINK_RING_MIN_BYTES / 2 - LINK_FRAME_HEADER_BYTES < 64 ||
  LINK_COPY_LOOP_MAX_BYTES % 4 !== 0
) {
  throw new Error('Link: layout constants are inconsistent (or this platform is big-endian)');
}

// ---- LinkBuffer ----------------------------------------------------------------------------------

export interface LinkDirectionStats {
  framesSent: number;
  bytesSent: number;
  sendRejectedDown: number;
  sendRejectedFull: number;
  framesReceived: number;
  bytesReceived: number;
  badFrames: number;
  framesDroppedByCut: number;
  bytesDiscarded: number;
  resyncs: number;
  framesFaulted: number;
}

export interface LinkStats {
  up: boolean;
  delayMs: number;
  cuts: number;
  /** Ring A->B: side 0 sends, side 1 receives. */
  aToB: LinkDirectionStats;
  /** Ring B->A: side 1 sends, side 0 receives. */
  bToA: LinkDirectionStats;
}

export interface LinkEndpointStats extends LinkStats {
  side: 0 | 1;
  /** The direction this endpoint sends on (the same object as aToB or bToA). */
  tx: LinkDirectionStats;
  /** The direction this endpoint receives on. */
  rx: LinkDirectionStats;
}

export class LinkBuffer {
  /** Bytes a LinkBuffer with two rings of `ringBytes` each occupies. */
  static bytesFor(ringBytes: number): number {
    assertRingBytes(ringBytes);
    return LINK_CONTROL_BYTES + 2 * ringBytes;
  }

  /** A new, formatted LinkBuffer: both rings empty, counters zero, state UP, no delay. */
  static allocate(ringBytes: number): SharedArrayBuffer {
    const buffer = new SharedArrayBuffer(LinkBuffer.bytesFor(ringBytes));
    const words = new Int32Array(buffer, 0, LINK_CONTROL_BYTES / 4);
    words[LINK_RING_BYTES_OFFSET_BYTES / 4] = ringBytes;
    Atomics.store(words, LINK_STATE_OFFSET_BYTES / 4, LINK_UP);
    Atomics.store(words, LINK_BUFFER_MAGIC_OFFSET_BYTES / 4, LINK_BUFFER_MAGIC);
    return buffer;
  }

  /** Ring size of a formatted LinkBuffer; throws if `buffer` is not one. */
  static ringBytesOf(buffer: SharedArrayBuffer): number {
    if (buffer.byteLength < LINK_CONTROL_BYTES + 2 * LINK_RING_MIN_BYTES) {
      throw new RangeError(`LinkBuffer: a ${buffer.byteLength}-byte buffer is too small to be a link buffer`);
    }
    const words = new Int32Array(buffer, 0, LINK_CONTROL_BYTES / 4);
    const magic = Atomics.load(words, LINK_BUFFER_MAGIC_OFFSET_BYTES / 4) >>> 0;
    if (magic !== LINK_BUFFER_MAGIC) {
      throw new Error(`LinkBuffer: magic 0x${magic.toString(16)} is not 0x${LINK_BUFFER_MAGIC.toString(16)} (not allocated by LinkBuffer.allocate)`);
    }
    const ringBytes = words[LINK_RING_BYTES_OFFSET_BYTES / 4]!;
    if (!isValidRingBytes(ringBytes) || LINK_CONTROL_BYTES + 2 * ringBytes !== buffer.byteLength) {
      throw new Error(`LinkBuffer: ring size ${ringBytes} does not match a ${buffer.byteLength}-byte buffer`);
    }
    return ringBytes;
  }

  /** The link's state and both directions' counters, for tools and tests (allocates). */
  static stats(buffer: SharedArrayBuffer): LinkStats {
    LinkBuffer.ringBytesOf(buffer);
    const words = new Int32Array(buffer, 0, LINK_CONTROL_BYTES / 4);
    const floats = new Float64Array(buffer, 0, LINK_CONTROL_BYTES / 8);
    return {
      up: Atomics.load(words, LINK_STATE_OFFSET_BYTES / 4) === LINK_UP,
      delayMs: Atomics.load(words, LINK_DELAY_US_OFFSET_BYTES / 4) / 1000,
      cuts: Atomics.load(words, LINK_CUT_GENERATION_OFFSET_BYTES / 4) >>> 0,
      aToB: directionStats(floats, 0),
      bToA: directionStats(floats, 1),
    };
  }
}

function directionStats(floats: Float64Array, ring: number): LinkDirectionStats {
  const p = (LINK_PRODUCER_LINE_OFFSET_BYTES + ring * LINK_RING_LINES_STRIDE_BYTES) / 8;
  const c = (LINK_CONSUMER_LINE_OFFSET_BYTES + ring * LINK_RING_LINES_STRIDE_BYTES) / 8;
  return {
    framesSent: floats[p + LINK_FRAMES_SENT_OFFSET / 8]!,
    bytesSent: floats[p + LINK_BYTES_SENT_OFFSET / 8]!,
    sendRejectedDown: floats[p + LINK_SEND_REJECTED_DOWN_OFFSET / 8]!,
    sendRejectedFull: floats[p + LINK_SEND_REJECTED_FULL_OFFSET / 8]!,
    framesReceived: floats[c + LINK_FRAMES_RECEIVED_OFFSET / 8]!,
    bytesReceived: floats[c + LINK_BYTES_RECEIVED_OFFSET / 8]!,
    badFrames: floats[c + LINK_BAD_FRAMES_OFFSET / 8]!,
    framesDroppedByCut: floats[c + LINK_FRAMES_DROPPED_BY_CUT_OFFSET / 8]!,
    bytesDiscarded: floats[c + LINK_BYTES_DISCARDED_OFFSET / 8]!,
    resyncs: floats[c + LINK_RESYNCS_OFFSET / 8]!,
    framesFaulted: floats[c + LINK_FRAMES_FAULTED_OFFSET / 8]!,
  };
}

// ---- LinkEndpoint --------------------------------------------------------------------------------

export interface LinkEndpointOptions {
  /**
   * Largest payload this endpoint sends or accepts (default: LINK_FRAME_PAYLOAD_MAX capped at
   * ringBytes / 2 - LINK_FRAME_HEADER_BYTES). Both ends of a link should use the same value:
   * a received frame longer than the receiver's maximum is a bad frame.
   */
  payloadMax?: number;
}

const STATE_INT32 = LINK_STATE_OFFSET_BYTES / 4;
const DELAY_INT32 = LINK_DELAY_US_OFFSET_BYTES / 4;
const CUT_GENERATION_INT32 = LINK_CUT_GENERATION_OFFSET_BYTES / 4;
const FAULT_DROP = 1;
const FAULT_DUPLICATE = 2;
const FAULT_REORDER = 3;

export class LinkEndpoint {
  readonly side: 0 | 1;
  readonly ringBytes: number;
  /** Largest payload this endpoint sends or accepts; staging buffers hold at least this much. */
  readonly payloadMax: number;
  /**
   * Outgoing payload: fill [0, payloadLength) and call sendStaging(). Private to the owner.
   * Backed by its own SharedArrayBuffer, so firmware can fill it from shared cache memory with
   * stagingWords.set(...) at memcpy speed.
   */
  readonly staging: Uint8Array;
  /** The same bytes as staging, as int32 words. */
  readonly stagingWords: Int32Array;
  /** Payload of the frame the last successful receive() returned: [0, rxPayloadLength). */
  readonly rxStaging: Uint8Array;
  /** The same bytes as rxStaging, as int32 words. */
  readonly rxStagingWords: Int32Array;

  private readonly clock: Clock;
  private readonly buffer: SharedArrayBuffer;
  private readonly bytes: Uint8Array;
  private readonly words: Int32Array;
  private readonly floats: Float64Array;
  private readonly mask: number;

  // Send ring (this endpoint is its producer): int32 / float64 indexes and data byte offset.
  private readonly txHead: number;
  private readonly txNextSequence: number;
  private readonly txFramesSent: number;
  private readonly txBytesSent: number;
  private readonly txRejectedDown: number;
  private readonly txRejectedFull: number;
  private readonly txTail: number;
  private readonly txData: number;

  // Receive ring (this endpoint is its consumer).
  private readonly rxHead: number;
  private readonly rxTailIndex: number;
  private readonly rxCutSeenIndex: number;
  private readonly rxFramesReceived: number;
  private readonly rxBytesReceived: number;
  private readonly rxBadFrames: number;
  private readonly rxDroppedByCut: number;
  private readonly rxBytesDiscarded: number;
  private readonly rxResyncs: number;
  private readonly rxData: number;
  private readonly rxDropUntil: number;
  private readonly rxFaults: number;
  private readonly rxFaulted: number;
  private readonly rxCorrupt: number;
  /** A frame held back by an injected reorder fault, delivered after the one behind it. */
  private held: Uint8Array | null = null;
  private heldReady = false;
  private heldType = 0;
  private heldLength = 0;
  private heldFlags = 0;
  private heldSequence = 0;
  private heldSendTimeUs = 0;
  private heldChecksum = 0;
  /** Our own tail (we are its only writer), cached so an empty poll reads no extra word. */
  private rxTail: number;
  private rxCutSeen: number;

  // The frame reserved by beginFrame() and not yet committed.
  private pendingActive = false;
  private pendingType = 0;
  private pendingFlags = 0;
  private pendingLength = 0;
  private pendingStart = 0;
  private pendingEnd = 0;
  private corruptNext = false;

  // What the last receive() found.
  private lastPayloadLength = 0;
  private lastFlags = 0;
  private lastSequence = 0;
  private lastSendTimeUs = 0;
  private lastPayloadChecksum = 0;
  private lastError = '';

  constructor(buffer: SharedArrayBuffer, side: 0 | 1, clock: Clock, options: LinkEndpointOptions = {}) {
    if (side !== 0 && side !== 1) throw new RangeError(`LinkEndpoint: side ${String(side)} must be 0 or 1`);
    const ringBytes = LinkBuffer.ringBytesOf(buffer);
    const cap = Math.min(LINK_FRAME_PAYLOAD_MAX, ringBytes / 2 - LINK_FRAME_HEADER_BYTES);
    const payloadMax = options.payloadMax ?? cap;
    if (!Number.isInteger(payloadMax) || payloadMax < 0 || payloadMax > cap) {
      throw new RangeError(`LinkEndpoint: payloadMax ${payloadMax} must be an integer in [0, ${cap}] for ${ringBytes}-byte rings`);
    }
    this.side = side;
    this.ringBytes = ringBytes;
    this.payloadMax = payloadMax;
    this.mask = ringBytes - 1;
    this.clock = clock;
    this.buffer = buffer;
    this.bytes = new Uint8Array(buffer);
    this.words = new Int32Array(buffer);
    this.floats = new Float64Array(buffer);

    // Staging buffers: rounded up to 8 bytes so word copies may run past the payload's end.
    const stagingBytes = (payloadMax + 7) & ~7;
    const tx = new SharedArrayBuffer(Math.max(8, stagingBytes));
    const rx = new SharedArrayBuffer(Math.max(8, stagingBytes));
    this.staging = new Uint8Array(tx);
    this.stagingWords = new Int32Array(tx);
    this.rxStaging = new Uint8Array(rx);
    this.rxStagingWords = new Int32Array(rx);

    const txRing = side; // side 0 sends on ring 0 (A->B), side 1 on ring 1 (B->A)
    const rxRing = 1 - side;
    const txProducer = LINK_PRODUCER_LINE_OFFSET_BYTES + txRing * LINK_RING_LINES_STRIDE_BYTES;
    const txConsumer = LINK_CONSUMER_LINE_OFFSET_BYTES + txRing * LINK_RING_LINES_STRIDE_BYTES;
    const rxProducer = LINK_PRODUCER_LINE_OFFSET_BYTES + rxRing * LINK_RING_LINES_STRIDE_BYTES;
    const rxConsumer = LINK_CONSUMER_LINE_OFFSET_BYTES + rxRing * LINK_RING_LINES_STRIDE_BYTES;
    this.txHead = (txProducer + LINK_HEAD_OFFSET) / 4;
    this.txNextSequence = (txProducer + LINK_NEXT_SEQUENCE_OFFSET) / 4;
    this.txFramesSent = (txProducer + LINK_FRAMES_SENT_OFFSET) / 8;
    this.txBytesSent = (txProducer + LINK_BYTES_SENT_OFFSET) / 8;
    this.txRejectedDown = (txProducer + LINK_SEND_REJECTED_DOWN_OFFSET) / 8;
    this.txRejectedFull = (txProducer + LINK_SEND_REJECTED_FULL_OFFSET) / 8;
    this.txTail = (txConsumer + LINK_TAIL_OFFSET) / 4;
    this.txData = LINK_CONTROL_BYTES + txRing * ringBytes;

    this.rxHead = (rxProducer + LINK_HEAD_OFFSET) / 4;
    this.rxTailIndex = (rxConsumer + LINK_TAIL_OFFSET) / 4;
    this.rxCutSeenIndex = (rxConsumer + LINK_CUT_SEEN_OFFSET) / 4;
    this.rxFramesReceived = (rxConsumer + LINK_FRAMES_RECEIVED_OFFSET) / 8;
    this.rxBytesReceived = (rxConsumer + LINK_BYTES_RECEIVED_OFFSET) / 8;
    this.rxBadFrames = (rxConsumer + LINK_BAD_FRAMES_OFFSET) / 8;
    this.rxDroppedByCut = (rxConsumer + LINK_FRAMES_DROPPED_BY_CUT_OFFSET) / 8;
    this.rxBytesDiscarded = (rxConsumer + LINK_BYTES_DISCARDED_OFFSET) / 8;
    this.rxResyncs = (rxConsumer + LINK_RESYNCS_OFFSET) / 8;
    this.rxData = LINK_CONTROL_BYTES + rxRing * ringBytes;
    this.rxDropUntil = LINK_DROP_UNTIL_OFFSET_BYTES / 4 + rxRing;
    this.rxFaults = LINK_FAULTS_OFFSET_BYTES / 4 + rxRing * 3;
    this.rxFaulted = (rxConsumer + LINK_FRAMES_FAULTED_OFFSET) / 8;
    this.rxCorrupt = LINK_FAULTS_OFFSET_BYTES / 4 + 6 + rxRing;

    // Attach to the ring where a previous owner of this side left it.
    this.rxTail = Atomics.load(this.words, this.rxTailIndex);
    this.rxCutSeen = Atomics.load(this.words, this.rxCutSeenIndex);
  }

  // ---- sending ---------------------------------------------------------------------------------

  /**
   * Reserves ring space for a frame of `payloadLength` bytes. False when the link is DOWN
   * (counted in sendRejectedDown) or the ring lacks space (counted in sendRejectedFull). After
   * true, fill staging[0, payloadLength) if not done already and call commitFrame() (or
   * abortFrame()); the reservation stays valid because only this endpoint writes the ring.
   * Throws RangeError on arguments no frame can carry (a programming error).
   */
  beginFrame(type: number, flags: number, payloadLength: number): boolean {
    if ((type >>> 0) !== type || type === 0 || type > LINK_FRAME_TYPE_MAX) {
      throw new RangeError(`LinkEndpoint: frame type ${type} must be an integer in [1, ${LINK_FRAME_TYPE_MAX}]`);
    }
    if ((flags >>> 0) !== flags || flags > LINK_FRAME_FLAGS_MAX) {
      throw new RangeError(`LinkEndpoint: frame flags ${flags} must be an integer in [0, ${LINK_FRAME_FLAGS_MAX}]`);
    }
    if ((payloadLength >>> 0) !== payloadLength || payloadLength > this.payloadMax) {
      throw new RangeError(`LinkEndpoint: payload length ${payloadLength} must be an integer in [0, ${this.payloadMax}]`);
    }
    if (this.pendingActive) {
      throw new Error('LinkEndpoint: beginFrame while a frame is pending; call commitFrame() or abortFrame() first');
    }
    const words = this.words;
    if (Atomics.load(words, STATE_INT32) !== LINK_UP) {
      this.floats[this.txRejectedDown]! += 1;
      return false;
    }
    const head = Atomics.load(words, this.txHead);
    const tail = Atomics.load(words, this.txTail);
    const start = ((head + (LINK_FRAME_ALIGN_BYTES - 1)) & ALIGN_MASK) | 0;
    const end = (start + ((LINK_FRAME_HEADER_BYTES + payloadLength + (LINK_FRAME_ALIGN_BYTES - 1)) & ALIGN_MASK)) | 0;
    const used = (end - tail) | 0;
    if (used > this.ringBytes || used < 0) {
      this.floats[this.txRejectedFull]! += 1;
      return false;
    }
    this.pendingActive = true;
    this.pendingType = type;
    this.pendingFlags = flags;
    this.pendingLength = payloadLength;
    this.pendingStart = start;
    this.pendingEnd = end;
    return true;
  }

  /**
   * Writes the reserved frame (header + staging[0, payloadLength)) into the ring and publishes
   * it. `sequence` overrides the sender's own sequence counter (for transports forwarding a
   * frame from elsewhere); normally omit it.
   */
  commitFrame(sequence?: number): void {
    if (!this.pendingActive) throw new Error('LinkEndpoint: commitFrame without a successful beginFrame');
    this.pendingActive = false;
    const words = this.words;
    const bytes = this.bytes;
    const length = this.pendingLength;
    let seq: number;
    if (sequence === undefined) {
      seq = words[this.txNextSequence]!;
      words[this.txNextSequence] = (seq + 1) | 0;
    } else {
      seq = sequence | 0;
    }
    const at = this.txData + (this.pendingStart & this.mask);
    const w = at >> 2;
    words[w] = LINK_FRAME_MAGIC;
    words[w + 1] = this.pendingType | (this.pendingFlags << 16);
    words[w + 2] = length;
    words[w + 3] = seq;
    this.floats[(at + LINK_FRAME_SEND_TIME_OFFSET) >> 3] = this.clock.nowMs() * 1000;
    const payloadChecksum = crc32c(this.staging, 0, length);
    words[w + 7] = payloadChecksum;
    words[w + 6] = crc32c(bytes, at, LINK_FRAME_HEADER_CHECKED_BYTES);

    // Payload, in at most two segments (it may wrap to the start of the ring).
    const payloadIndex = (this.pendingStart + LINK_FRAME_HEADER_BYTES) & this.mask;
    const first = Math.min(length, this.ringBytes - payloadIndex);
    copyWords(bytes, words, this.txData + payloadIndex, this.staging, this.stagingWords, 0, first);
    if (first < length) copyWords(bytes, words, this.txData, this.staging, this.stagingWords, first, length - first);

    if (this.corruptNext) {
      // Fault injection: damage the frame after its checksums were computed.
      this.corruptNext = false;
      const victim = length > 0 ? this.txData + payloadIndex : at + LINK_FRAME_PAYLOAD_CHECKSUM_OFFSET;
      bytes[victim] = bytes[victim]! ^ 0xff;
    }

    Atomics.store(words, this.txHead, this.pendingEnd);
    this.floats[this.txFramesSent]! += 1;
    this.floats[this.txBytesSent]! += length;
  }

  /**
   * True when the link is UP and a frame of `payloadLength` bytes would fit in the send ring
   * right now. Counts nothing (unlike beginFrame), for a sender that retries the same frame.
   */
  canSend(payloadLength: number): boolean {
    if (Atomics.load(this.words, STATE_INT32) !== LINK_UP || !(payloadLength <= this.payloadMax)) return false;
    const head = Atomics.load(this.words, this.txHead);
    const tail = Atomics.load(this.words, this.txTail);
    const start = ((head + (LINK_FRAME_ALIGN_BYTES - 1)) & ALIGN_MASK) | 0;
    const end = (start + ((LINK_FRAME_HEADER_BYTES + payloadLength + (LINK_FRAME_ALIGN_BYTES - 1)) & ALIGN_MASK)) | 0;
    const used = (end - tail) | 0;
    return used >= 0 && used <= this.ringBytes;
  }

  /** Gives up the reservation of beginFrame(); nothing was written. */
  abortFrame(): void {
    this.pendingActive = false;
  }

  /**
   * Sends staging[0, payloadLength) as one frame: beginFrame + commitFrame. False (and counted)
   * when the link is DOWN or the ring is full; nothing is sent then.
   */
  sendStaging(type: number, flags: number, payloadLength: number, sequence?: number): boolean {
    if (!this.beginFrame(type, flags, payloadLength)) return false;
    this.commitFrame(sequence);
    return true;
  }

  /** Fault injection: the next committed frame gets one payload byte flipped after checksumming
   * (for an empty payload, a byte of its payload checksum), so its receiver must reject it. */
  corruptNextFrame(): void {
    this.corruptNext = true;
  }

  // ---- receiving -------------------------------------------------------------------------------

  /**
   * Delivers the oldest frame if it is complete and due: its payload is copied to
   * rxStaging[0, rxPayloadLength) and its type (> 0) returned. 0 when nothing is deliverable,
   * LINK_BAD_FRAME (-1) when a frame failed validation (consumed and counted; see rxError).
   * Never throws on ring contents. An empty ring costs two Atomics loads.
   */
  receive(): number {
    const words = this.words;
    const generation = Atomics.load(words, CUT_GENERATION_INT32);
    if (generation !== this.rxCutSeen) this.applyCut(generation);
    if (this.heldReady) return this.deliverHeld();
    const head = Atomics.load(words, this.rxHead);
    let tail = this.rxTail;
    if (head === tail) return 0;

    const published = (head - tail) | 0;
    if (published < 0 || published > this.ringBytes) {
      return this.resync(head, `ring positions are inconsistent (head ${head}, tail ${tail}): discarded to resynchronise`);
    }
    if ((head & (LINK_FRAME_ALIGN_BYTES - 1)) !== 0) {
      return this.resync(head, `published data ends mid-frame (head ${head} is not ${LINK_FRAME_ALIGN_BYTES}-byte aligned): discarded ${published} bytes to resynchronise`);
    }
    const start = ((tail + (LINK_FRAME_ALIGN_BYTES - 1)) & ALIGN_MASK) | 0;
    const available = (head - start) | 0;
    if (available === 0) {
      // Only alignment padding left (after an earlier drain to an unaligned head).
      this.rxTail = start;
      Atomics.store(words, this.rxTailIndex, start);
      return 0;
    }
    if (available < LINK_FRAME_HEADER_BYTES) {
      return this.resync(head, `only ${available} bytes published after the last frame: discarded to resynchronise`);
    }

    const at = this.rxData + (start & this.mask);
    const w = at >> 2;
    const magic = words[w]! >>> 0;
    if (magic !== LINK_FRAME_MAGIC) {
      return this.resync(head, `bad frame magic 0x${magic.toString(16)}: discarded ${published} bytes to resynchronise`);
    }
    const headerChecksum = crc32c(this.bytes, at, LINK_FRAME_HEADER_CHECKED_BYTES);
    if (headerChecksum !== words[w + 6]! >>> 0) {
      return this.resync(head, `header checksum mismatch: discarded ${published} bytes to resynchronise`);
    }
    const length = words[w + 2]! >>> 0;
    if (length > this.ringBytes - LINK_FRAME_HEADER_BYTES) {
      return this.resync(head, `payload length ${length} cannot fit in a ${this.ringBytes}-byte ring: discarded to resynchronise`);
    }
    const frameBytes = (LINK_FRAME_HEADER_BYTES + length + (LINK_FRAME_ALIGN_BYTES - 1)) & ALIGN_MASK;
    if (frameBytes > available) {
      return this.resync(head, `frame of ${frameBytes} bytes runs past the ${available} bytes published: discarded to resynchronise`);
    }

    // The header is trustworthy from here on: a bad frame is consumed, not drained.
    const sendTimeUs = this.floats[(at + LINK_FRAME_SEND_TIME_OFFSET) >> 3]!;
    if (!Number.isFinite(sendTimeUs)) {
      return this.consumeBad(start, frameBytes, `send time ${sendTimeUs} is not a finite number`);
    }
    const delayUs = Atomics.load(words, DELAY_INT32);
    if (delayUs > 0 && sendTimeUs + delayUs > this.clock.nowMs() * 1000) return 0;

    const typeAndFlags = words[w + 1]!;
    const type = typeAndFlags & 0xffff;
    if (type === 0 || type === LINK_FRAME_TYPE_RESERVED) {
      return this.consumeBad(start, frameBytes, `frame type ${type} is reserved`);
    }
    if (length > this.payloadMax) {
      return this.consumeBad(start, frameBytes, `payload length ${length} exceeds this endpoint's maximum ${this.payloadMax}`);
    }
    const payloadIndex = (start + LINK_FRAME_HEADER_BYTES) & this.mask;
    const first = Math.min(length, this.ringBytes - payloadIndex);
    copyWords(this.rxStaging, this.rxStagingWords, 0, this.bytes, words, this.rxData + payloadIndex, first);
    if (first < length) copyWords(this.rxStaging, this.rxStagingWords, first, this.bytes, words, this.rxData, length - first);
    const payloadChecksum = words[w + 7]! >>> 0;
    const corrupt = this.rxCorrupt;
    if (Atomics.load(words, corrupt) > 0 && Atomics.sub(words, corrupt, 1) > 0) {
      // Injected: a bit flipped on the wire (in the header's checksum for an empty payload).
      this.floats[this.rxFaulted]! += 1;
      if (length > 0) this.rxStaging[(sendTimeUs >>> 0) % length]! ^= 0x10;
      else return this.consumeBad(start, frameBytes, 'payload checksum mismatch');
    }
    if (crc32c(this.rxStaging, 0, length) !== payloadChecksum) {
      return this.consumeBad(start, frameBytes, 'payload checksum mismatch');
    }
    const f = this.rxFaults;
    if (Atomics.load(words, f) > 0 || Atomics.load(words, f + 1) > 0 || Atomics.load(words, f + 2) > 0) {
      const fault = this.injectedFault(f, ((head - ((start + frameBytes) | 0)) | 0) > 0);
      if (fault !== 0) {
        this.floats[this.rxFaulted]! += 1;
        if (fault === FAULT_DUPLICATE) return this.deliver(type, typeAndFlags, words[w + 3]! >>> 0, sendTimeUs, payloadChecksum, length); // tail stays: it comes again
        tail = (start + frameBytes) | 0;
        this.rxTail = tail;
        Atomics.store(words, this.rxTailIndex, tail);
        if (fault === FAULT_DROP) return this.receive(); // lost: the next frame, if any
        // FAULT_REORDER: keep this frame aside, deliver the one behind it first.
        this.hold(type, typeAndFlags >>> 16, words[w + 3]! >>> 0, sendTimeUs, payloadChecksum, length);
        const next = this.receive();
        this.heldReady = true;
        return next;
      }
    }
    this.lastPayloadLength = length;
    this.lastFlags = typeAndFlags >>> 16;
    this.lastSequence = words[w + 3]! >>> 0;
    this.lastSendTimeUs = sendTimeUs;
    this.lastPayloadChecksum = payloadChecksum;
    tail = (start + frameBytes) | 0;
    this.rxTail = tail;
    Atomics.store(words, this.rxTailIndex, tail);
    this.floats[this.rxFramesReceived]! += 1;
    this.floats[this.rxBytesReceived]! += length;
    return type;
  }

  /**
   * Fault injection (simulator, tests): the next `drop` frames received on the chosen direction(s)
   * are lost, the next `duplicate` are delivered twice, and the next `reorder` are delivered after
   * the frame behind them (when one is already there), and the next `corrupt` get a bit flipped
   * in flight (their checksum test fails: a bad frame). `toSide` = the receiving side (0 or 1);
   * omitted, both directions. Counted in framesFaulted. Any endpoint (or the control handle) may call it.
   */
  injectFaults(o: { drop?: number; duplicate?: number; reorder?: number; corrupt?: number }, toSide?: 0 | 1): void {
    for (const side of toSide === undefined ? [0, 1] : [toSide]) {
      const f = LINK_FAULTS_OFFSET_BYTES / 4 + (1 - side) * 3;
      if (o.corrupt) Atomics.add(this.words, LINK_FAULTS_OFFSET_BYTES / 4 + 6 + (1 - side), o.corrupt);
      if (o.drop) Atomics.add(this.words, f, o.drop);
      if (o.duplicate) Atomics.add(this.words, f + 1, o.duplicate);
      if (o.reorder) Atomics.add(this.words, f + 2, o.reorder);
    }
  }

  /** Payload bytes of the frame the last successful receive() returned. */
  get rxPayloadLength(): number {
    return this.lastPayloadLength;
  }
  /** Flags of the frame the last successful receive() returned. */
  get rxFlags(): number {
    return this.lastFlags;
  }
  /** Sender's sequence number (uint32) of the frame the last successful receive() returned. */
  get rxSequence(): number {
    return this.lastSequence;
  }
  /** Sender's clock (µs) when the frame the last successful receive() returned was sent. */
  get rxSendTimeUs(): number {
    return this.lastSendTimeUs;
  }
  /** Payload checksum (verified) of the frame the last successful receive() returned. */
  get rxPayloadChecksum(): number {
    return this.lastPayloadChecksum;
  }
  /** Why the last LINK_BAD_FRAME was returned ('' before any). */
  get rxError(): string {
    return this.lastError;
  }

  /**
   * When the oldest frame in the receive ring becomes deliverable, in ms of this endpoint's
   * clock: Infinity if the ring is empty, a time <= now if receive() would return it (or report
   * it bad) now. For runtimes that sleep until the next event (the deterministic runtime's
   * idleWaitMs). Consumes nothing; like receive(), only this endpoint's owner may call it.
   */
  nextDeliveryMs(): number {
    const words = this.words;
    const generation = Atomics.load(words, CUT_GENERATION_INT32);
    const head = Atomics.load(words, this.rxHead);
    if (generation !== this.rxCutSeen) this.applyCut(generation);
    const start = ((this.rxTail + (LINK_FRAME_ALIGN_BYTES - 1)) & ALIGN_MASK) | 0;
    const available = (head - start) | 0;
    if (this.heldReady) return this.clock.nowMs();
    if (head === this.rxTail || available === 0) return Infinity;
    const now = this.clock.nowMs();
    const delayUs = Atomics.load(words, DELAY_INT32);
    if (delayUs <= 0 || available < LINK_FRAME_HEADER_BYTES || available > this.ringBytes) return now;
    const sendTimeUs = this.floats[(this.rxData + (start & this.mask) + LINK_FRAME_SEND_TIME_OFFSET) >> 3]!;
    if (!Number.isFinite(sendTimeUs)) return now;
    return (sendTimeUs + delayUs) / 1000;
  }

  // ---- link state ------------------------------------------------------------------------------

  /** Takes the link DOWN: later sends are rejected and frames in flight are dropped. */
  cut(): void {
    const words = this.words;
    Atomics.store(words, STATE_INT32, LINK_DOWN);
    const aToB = LINK_PRODUCER_LINE_OFFSET_BYTES / 4 + LINK_HEAD_OFFSET / 4;
    const bToA = (LINK_PRODUCER_LINE_OFFSET_BYTES + LINK_RING_LINES_STRIDE_BYTES) / 4 + LINK_HEAD_OFFSET / 4;
    Atomics.store(words, LINK_DROP_UNTIL_OFFSET_BYTES / 4, Atomics.load(words, aToB));
    Atomics.store(words, LINK_DROP_UNTIL_OFFSET_BYTES / 4 + 1, Atomics.load(words, bToA));
    Atomics.add(words, CUT_GENERATION_INT32, 1);
  }

  /** Brings the link UP again (frames dropped by the cut stay dropped). */
  restore(): void {
    Atomics.store(this.words, STATE_INT32, LINK_UP);
  }

  isUp(): boolean {
    return Atomics.load(this.words, STATE_INT32) === LINK_UP;
  }

  /** One-way delay applied at delivery, in ms (stored as whole microseconds, at most ~35 min). */
  setDelay(ms: number): void {
    if (!(ms >= 0) || ms * 1000 > 0x7fffffff) {
      throw new RangeError(`LinkEndpoint: delay ${ms} ms must be in [0, ${0x7fffffff / 1000}]`);
    }
    Atomics.store(this.words, DELAY_INT32, Math.round(ms * 1000));
  }

  delayMs(): number {
    return Atomics.load(this.words, DELAY_INT32) / 1000;
  }

  /** The link's state and counters, from this endpoint's point of view (allocates). */
  stats(): LinkEndpointStats {
    const all = LinkBuffer.stats(this.buffer);
    return { ...all, side: this.side, tx: this.side === 0 ? all.aToB : all.bToA, rx: this.side === 0 ? all.bToA : all.aToB };
  }

  // ---- internals -------------------------------------------------------------------------------

  /** Which injected fault (if any) the frame just validated suffers; consumes one unit of it. */
  private injectedFault(f: number, another: boolean): number {
    const words = this.words;
    if (Atomics.load(words, f) > 0 && Atomics.sub(words, f, 1) > 0) return FAULT_DROP;
    if (Atomics.load(words, f + 1) > 0 && Atomics.sub(words, f + 1, 1) > 0) return FAULT_DUPLICATE;
    // A reorder needs a frame behind this one (and none already held).
    if (another && !this.heldReady && Atomics.load(words, f + 2) > 0 && Atomics.sub(words, f + 2, 1) > 0) return FAULT_REORDER;
    return 0;
  }

  /** The last-frame fields for a frame whose payload is in rxStaging; the tail is left where it is. */
  private deliver(type: number, typeAndFlags: number, sequence: number, sendTimeUs: number, checksum: number, length: number): number {
    this.lastPayloadLength = length;
    this.lastFlags = typeAndFlags >>> 16;
    this.lastSequence = sequence;
    this.lastSendTimeUs = sendTimeUs;
    this.lastPayloadChecksum = checksum;
    this.floats[this.rxFramesReceived]! += 1;
    this.floats[this.rxBytesReceived]! += length;
    return type;
  }

  private hold(type: number, flags: number, sequence: number, sendTimeUs: number, checksum: number, length: number): void {
    if (!this.held) this.held = new Uint8Array(this.rxStaging.byteLength);
    this.held.set(this.rxStaging.subarray(0, length));
    this.heldType = type;
    this.heldFlags = flags;
    this.heldSequence = sequence;
    this.heldSendTimeUs = sendTimeUs;
    this.heldChecksum = checksum;
    this.heldLength = length;
  }

  private deliverHeld(): number {
    this.heldReady = false;
    this.rxStaging.set(this.held!.subarray(0, this.heldLength));
    return this.deliver(this.heldType, this.heldFlags << 16, this.heldSequence, this.heldSendTimeUs, this.heldChecksum, this.heldLength);
  }

  /** A cut happened since we last looked: drop what was published before it. */
  private applyCut(generation: number): void {
    const words = this.words;
    this.heldReady = false; // a frame held back by a reorder fault was in flight: lost too
    this.rxCutSeen = generation;
    words[this.rxCutSeenIndex] = generation;
    const dropUntil = Atomics.load(words, this.rxDropUntil);
    const tail = this.rxTail;
    const ahead = (dropUntil - tail) | 0;
    if (ahead <= 0 || ahead > this.ringBytes) return;
    // Count the frames being dropped by walking their headers (trusted only while they look sane).
    let frames = 0;
    let position = ((tail + (LINK_FRAME_ALIGN_BYTES - 1)) & ALIGN_MASK) | 0;
    while (((dropUntil - position) | 0) >= LINK_FRAME_HEADER_BYTES) {
      const w = (this.rxData + (position & this.mask)) >> 2;
      const length = words[w + 2]! >>> 0;
      if (words[w]! >>> 0 !== LINK_FRAME_MAGIC || length > this.ringBytes) break;
      frames++;
      position = (position + ((LINK_FRAME_HEADER_BYTES + length + (LINK_FRAME_ALIGN_BYTES - 1)) & ALIGN_MASK)) | 0;
    }
    this.floats[this.rxDroppedByCut]! += frames;
    this.floats[this.rxBytesDiscarded]! += ahead;
    this.rxTail = dropUntil;
    Atomics.store(words, this.rxTailIndex, dropUntil);
  }

  /** Corrupt header or positions: drain everything published and report. */
  private resync(head: number, reason: string): number {
    const discarded = (head - this.rxTail) | 0;
    this.floats[this.rxBytesDiscarded]! += discarded > 0 ? discarded : 0;
    this.floats[this.rxResyncs]! += 1;
    this.floats[this.rxBadFrames]! += 1;
    this.rxTail = head;
    Atomics.store(this.words, this.rxTailIndex, head);
    this.lastError = reason;
    return LINK_BAD_FRAME;
  }

  /** A frame with a trustworthy header but bad contents: consume it and report. */
  private consumeBad(start: number, frameBytes: number, reason: string): number {
    const tail = (start + frameBytes) | 0;
    this.rxTail = tail;
    Atomics.store(this.words, this.rxTailIndex, tail);
    this.floats[this.rxBadFrames]! += 1;
    this.lastError = reason;
    return LINK_BAD_FRAME;
  }
}

/**
 * Copies n bytes between two word-aligned offsets of two buffers. Short copies go word by word
 * (no allocation; may copy up to 3 bytes past n, which both callers allow: ring frames are
 * padded to 32 bytes and staging buffers to 8); long ones use TypedArray.set.
 */
function copyWords(
  dst: Uint8Array,
  dstWords: Int32Array,
  dstOffset: number,
  src: Uint8Array,
  srcWords: Int32Array,
  srcOffset: number,
  n: number,
): void {
  if (n <= LINK_COPY_LOOP_MAX_BYTES) {
    const count = (n + 3) >> 2;
    const d = dstOffset >> 2;
    const s = srcOffset >> 2;
    for (let i = 0; i < count; i++) dstWords[d + i] = srcWords[s + i]!;
  } else {
    dst.set(src.subarray(srcOffset, srcOffset + n), dstOffset);
  }
}

// ---- frame headers outside a ring (transports, tests, tools) ------------------------------------

export interface LinkFrameHeader {
  magic: number;
  type: number;
  flags: number;
  payloadLength: number;
  sequence: number;
  sendTimeUs: number;
  headerChecksum: number;
  payloadChecksum: number;
}

const scratchFloat = new Float64Array(1);
const scratchBytes = new Uint8Array(scratchFloat.buffer);

/** Writes a complete frame header (computing its header checksum) at target[offset, +32). */
export function writeLinkFrameHeader(
  target: Uint8Array,
  offset: number,
  type: number,
  flags: number,
  payloadLength: number,
  sequence: number,
  sendTimeUs: number,
  payloadChecksum: number,
): void {
  if ((offset >>> 0) !== offset || offset + LINK_FRAME_HEADER_BYTES > target.length) {
    throw new RangeError(`writeLinkFrameHeader: no room for a header at ${offset} of ${target.length} bytes`);
  }
  putU32(target, offset + LINK_FRAME_MAGIC_OFFSET, LINK_FRAME_MAGIC);
  putU32(target, offset + LINK_FRAME_TYPE_OFFSET, (type & 0xffff) | ((flags & 0xffff) << 16));
  putU32(target, offset + LINK_FRAME_PAYLOAD_LENGTH_OFFSET, payloadLength);
  putU32(target, offset + LINK_FRAME_SEQUENCE_OFFSET, sequence);
  scratchFloat[0] = sendTimeUs;
  for (let i = 0; i < 8; i++) target[offset + LINK_FRAME_SEND_TIME_OFFSET + i] = scratchBytes[i]!;
  putU32(target, offset + LINK_FRAME_PAYLOAD_CHECKSUM_OFFSET, payloadChecksum);
  putU32(target, offset + LINK_FRAME_HEADER_CHECKSUM_OFFSET, crc32c(target, offset, LINK_FRAME_HEADER_CHECKED_BYTES));
}

/**
 * Decodes the header at source[offset, +32) into `out` and checks what can be checked without
 * the payload: returns null when the magic and header checksum are good, else the reason.
 */
export function readLinkFrameHeader(source: Uint8Array, offset: number, out: LinkFrameHeader): string | null {
  if ((offset >>> 0) !== offset || offset + LINK_FRAME_HEADER_BYTES > source.length) {
    return `no complete header at ${offset} of ${source.length} bytes`;
  }
  out.magic = getU32(source, offset + LINK_FRAME_MAGIC_OFFSET);
  const typeAndFlags = getU32(source, offset + LINK_FRAME_TYPE_OFFSET);
  out.type = typeAndFlags & 0xffff;
  out.flags = typeAndFlags >>> 16;
  out.payloadLength = getU32(source, offset + LINK_FRAME_PAYLOAD_LENGTH_OFFSET);
  out.sequence = getU32(source, offset + LINK_FRAME_SEQUENCE_OFFSET);
  for (let i = 0; i < 8; i++) scratchBytes[i] = source[offset + LINK_FRAME_SEND_TIME_OFFSET + i]!;
  out.sendTimeUs = scratchFloat[0]!;
  out.headerChecksum = getU32(source, offset + LINK_FRAME_HEADER_CHECKSUM_OFFSET);
  out.payloadChecksum = getU32(source, offset + LINK_FRAME_PAYLOAD_CHECKSUM_OFFSET);
  if (out.magic !== LINK_FRAME_MAGIC) {
    return `bad frame magic 0x${out.magic.toString(16)} (expected 0x${LINK_FRAME_MAGIC.toString(16)})`;
  }
  if (crc32c(source, offset, LINK_FRAME_HEADER_CHECKED_BYTES) !== out.headerChecksum) return 'header checksum mismatch';
  return null;
}

/** An all-zero LinkFrameHeader to pass to readLinkFrameHeader. */
export function emptyLinkFrameHeader(): LinkFrameHeader {
  return { magic: 0, type: 0, flags: 0, payloadLength: 0, sequence: 0, sendTimeUs: 0, headerChecksum: 0, payloadChecksum: 0 };
}

function putU32(target: Uint8Array, at: number, value: number): void {
  target[at] = value & 0xff;
  target[at + 1] = (value >>> 8) & 0xff;
  target[at + 2] = (value >>> 16) & 0xff;
  target[at + 3] = (value >>> 24) & 0xff;
}

function getU32(source: Uint8Array, at: number): number {
  return (source[at]! | (source[at + 1]! << 8) | (source[at + 2]! << 16) | (source[at + 3]! << 24)) >>> 0;
}

function isValidRingBytes(ringBytes: number): boolean {
  return (
    Number.isInteger(ringBytes) &&
    ringBytes >= LINK_RING_MIN_BYTES &&
    ringBytes <= LINK_RING_MAX_BYTES &&
    (ringBytes & (ringBytes - 1)) === 0
  );
}

function assertRingBytes(ringBytes: number): void {
  if (!isValidRingBytes(ringBytes)) {
    throw new RangeError(`LinkBuffer: ring size ${ringBytes} must be a power of two in [${LINK_RING_MIN_BYTES}, 2^30]`);
  }
}
