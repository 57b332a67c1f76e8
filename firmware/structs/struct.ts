// Struct layouts: the datasheet of every fixed-layout record in shared memory.
//
// A layout is a table of (field, offset, size, type, meaning). defineStruct checks it the way a
// firmware header asserts sizeof/offsetof: every field inside the record, naturally aligned,
// no two fields overlapping. Accessors in each struct module use the offsets directly through
// a DataView (little-endian); decodeRecord is the slow, generic reader for inspectors.

import { assert } from '../assert.ts';

export type FieldType = 'u8' | 'u16' | 'u32' | 'i32' | 'f64' | 'ascii' | 'u16[]';

export interface Field {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly type: FieldType;
  readonly meaning: string;
}

export interface StructLayout<K extends string = string> {
  readonly name: string;
  readonly size: number;
  readonly fields: readonly Field[];
  readonly offsets: Readonly<Record<K, number>>;
}

const NATURAL_SIZE: Record<FieldType, number> = { u8: 1, u16: 2, u32: 4, i32: 4, f64: 8, ascii: 1, 'u16[]': 2 };

export function defineStruct<K extends string>(
  name: string,
  size: number,
  fields: ReadonlyArray<{ name: K; offset: number; size: number; type: FieldType; meaning: string }>,
): StructLayout<K> {
  const offsets = {} as Record<K, number>;
  let end = 0;
  for (const field of fields) {
    const natural = NATURAL_SIZE[field.type];
    assert(field.offset % natural === 0, `${name}.${field.name}: offset ${field.offset} is not ${natural}-byte aligned`);
    assert(field.type === 'ascii' || field.type === 'u16[]' || field.size === natural, `${name}.${field.name}: size ${field.size} does not match ${field.type}`);
    assert(field.size > 0 && field.size % natural === 0, `${name}.${field.name}: size ${field.size} is not a whole number of ${field.type} elements`);
    assert(!(field.name in offsets), `${name}.${field.name}: field defined twice`);
    assert(field.offset >= end, `${name}.${field.name}: overlaps the previous field or is out of order`);
    assert(field.offset + field.size <= size, `${name}.${field.name}: ends past the record size ${size}`);
    end = field.offset + field.size;
    offsets[field.name] = field.offset;
  }
  assert(size % 8 === 0, `${name}: record size ${size} is not a multiple of 8`);
  return Object.freeze({ name, size, fields: Object.freeze(fields.map((f) => Object.freeze({ ...f }))), offsets: Object.freeze(offsets) });
}

export type DecodedValue = number | string | number[];

/** Generic, slow decoding of one record for inspectors and the maintenance port. */
export function decodeRecord(layout: StructLayout, view: DataView, base: number): Record<string, DecodedValue> {
  const out: Record<string, DecodedValue> = {};
  for (const f of layout.fields) {
    const at = base + f.offset;
    switch (f.type) {
      case 'u8': out[f.name] = view.getUint8(at); break;
      case 'u16': out[f.name] = view.getUint16(at, true); break;
      case 'u32': out[f.name] = view.getUint32(at, true); break;
      case 'i32': out[f.name] = view.getInt32(at, true); break;
      case 'f64': out[f.name] = view.getFloat64(at, true); break;
      case 'ascii': out[f.name] = readAscii(view, at, f.size); break;
      case 'u16[]': {
        const values: number[] = [];
        for (let i = 0; i < f.size / 2; i++) values.push(view.getUint16(at + i * 2, true));
        out[f.name] = values;
        break;
      }
    }
  }
  return out;
}

export function readAscii(view: DataView, at: number, size: number): string {
  let s = '';
  for (let i = 0; i < size; i++) {
    const c = view.getUint8(at + i);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

export function writeAscii(view: DataView, at: number, size: number, text: string): void {
  for (let i = 0; i < size; i++) view.setUint8(at + i, i < text.length ? text.charCodeAt(i) & 0x7f : 0);
}

/** A table of `count` records of one layout, starting at `byteOffset` of a buffer. */
export class RecordTable {
  readonly view: DataView;
  constructor(
    readonly layout: StructLayout,
    buffer: SharedArrayBuffer,
    readonly byteOffset: number,
    readonly count: number,
  ) {
    this.view = new DataView(buffer, byteOffset, layout.size * count);
  }
  /** Byte offset of record `index` within this table's view. */
  at(index: number): number {
    assert(index >= 0 && index < this.count && Number.isInteger(index), `${this.layout.name}: record ${index} out of range 0..${this.count - 1}`);
    return index * this.layout.size;
  }
  decode(index: number): Record<string, DecodedValue> {
    return decodeRecord(this.layout, this.view, this.at(index));
  }
  clear(index: number): void {
    const base = this.at(index);
    for (let i = 0; i < this.layout.size; i += 4) this.view.setUint32(base + i, 0, true);
  }
}
