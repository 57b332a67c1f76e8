import { describe, expect, test } from 'vitest';
import { CRC32C_CHECK_VALUE, CRC32C_POLYNOMIAL_REFLECTED, crc32c } from '../../hal/crc32c.ts';

/** Bit-at-a-time reference: the definition, with nothing clever in it. */
function reference(bytes: Uint8Array, offset: number, length: number, seed = 0): number {
  let crc = ~seed >>> 0;
  for (let i = offset; i < offset + length; i++) {
    crc ^= bytes[i]!;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ CRC32C_POLYNOMIAL_REFLECTED : crc >>> 1;
  }
  return ~crc >>> 0;
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** Deterministic pseudo-random bytes (xorshift32). */
function noise(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('crc32c known vectors', () => {
  test('"123456789" -> 0xE3069283 (the catalogue check value)', () => {
    expect(crc32c(ascii('123456789'), 0, 9)).toBe(0xe3069283);
    expect(CRC32C_CHECK_VALUE).toBe(0xe3069283);
  });

  test('32 zero bytes -> 0x8A9136AA', () => {
    expect(crc32c(new Uint8Array(32), 0, 32)).toBe(0x8a9136aa);
  });

  test('32 bytes of 0xFF -> 0x62A8AB43', () => {
    expect(crc32c(new Uint8Array(32).fill(0xff), 0, 32)).toBe(0x62a8ab43);
  });

  test('incrementing 0..31 -> 0x46DD794E', () => {
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i), 0, 32)).toBe(0x46dd794e);
  });

  test('decrementing 31..0 -> 0x113FDB5C (RFC 3720 B.4)', () => {
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i), 0, 32)).toBe(0x113fdb5c);
  });

  test('empty range -> 0, and an empty range passes the seed through', () => {
    expect(crc32c(new Uint8Array(0), 0, 0)).toBe(0);
    expect(crc32c(new Uint8Array(4), 4, 0, 0xdeadbeef)).toBe(0xdeadbeef);
  });

  test('results are unsigned 32-bit integers', () => {
    for (let seed = 1; seed < 50; seed++) {
      const value = crc32c(noise(37, seed), 0, 37);
      expect(Number.isInteger(value)).toBe(true);
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThanOrEqual(0xffffffff);
    }
  });
});

describe('crc32c against the bitwise reference', () => {
  test('every length 0..300 at every offset 0..7 (byte, sliced and word paths, all alignments)', () => {
    const data = noise(320, 12345);
    for (let offset = 0; offset < 8; offset++) {
      for (let length = 0; length + offset <= 308 && length <= 300; length++) {
        expect(crc32c(data, offset, length)).toBe(reference(data, offset, length));
      }
    }
  });

  test('long ranges (64 KiB) in ordinary, shared and Node buffers, at odd view offsets', () => {
    const data = noise(65536 + 13, 777);
    const expected = reference(data, 5, 65536);
    expect(crc32c(data, 5, 65536)).toBe(expected);

    const shared = new Uint8Array(new SharedArrayBuffer(data.length));
    shared.set(data);
    expect(crc32c(shared, 5, 65536)).toBe(expected);

    // A view that starts at an odd byte of its buffer.
    const backing = new Uint8Array(data.length + 3);
    backing.set(data, 3);
    const view = backing.subarray(3);
    expect(crc32c(view, 5, 65536)).toBe(expected);

    const nodeBuffer = Buffer.from(data);
    expect(crc32c(nodeBuffer, 5, 65536)).toBe(expected);
  });

  test('a view whose buffer length is not a multiple of 4 (last word partial)', () => {
    const data = noise(1027, 99);
    for (let offset = 0; offset < 4; offset++) {
      expect(crc32c(data, offset, data.length - offset)).toBe(reference(data, offset, data.length - offset));
    }
  });
});

describe('crc32c chaining', () => {
  test('crc32c(b, 0, n) === crc32c(b, k, n - k, crc32c(b, 0, k)) for every split point', () => {
    const data = noise(600, 4242);
    const whole = crc32c(data, 0, data.length);
    for (let k = 0; k <= data.length; k++) {
      expect(crc32c(data, k, data.length - k, crc32c(data, 0, k))).toBe(whole);
    }
  });

  test('three pieces, starting mid-buffer', () => {
    const data = noise(5000, 7);
    const whole = crc32c(data, 11, 4000);
    const a = crc32c(data, 11, 1500);
    const b = crc32c(data, 1511, 1, a);
    expect(crc32c(data, 1512, 2499, b)).toBe(whole);
  });
});

describe('crc32c argument checks', () => {
  test('a range outside the array is a RangeError', () => {
    const data = new Uint8Array(16);
    expect(() => crc32c(data, 0, 17)).toThrow(RangeError);
    expect(() => crc32c(data, 10, 7)).toThrow(RangeError);
    expect(() => crc32c(data, -1, 4)).toThrow(RangeError);
    expect(() => crc32c(data, 0, -4)).toThrow(RangeError);
    expect(() => crc32c(data, 1.5, 4)).toThrow(RangeError);
    expect(() => crc32c(data, 16, 0)).not.toThrow();
  });
});
