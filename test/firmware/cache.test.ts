// Cache directory 130, driven directly through a Cache view over a freshly formatted system:
// no processor runs. 16 slots of 8 sectors unless a test says otherwise.

import { describe, expect, it } from 'vitest';
import { AssertionError } from '../../firmware/assert.ts';
import { Cache } from '../../firmware/cache.ts';
import {
  CacheControlWord as C, SLOT_BITMAP_WORDS, SLOT_FLAG_FREE, SLOT_FLAG_IN_DIRECTORY, SLOT_HEADER_WORDS, SlotWord as W,
} from '../../firmware/structs/cache-slot.ts';
import { freshSystem, type Harness } from '../support/harness.ts';

function setup(overrides: Parameters<typeof freshSystem>[0] = {}): { h: Harness; c: Cache } {
  const h = freshSystem(overrides);
  return { h, c: new Cache(h.mem) };
}

const word = (h: Harness, s: number, w: number): number => h.mem.slotHeaders[s * SLOT_HEADER_WORDS + w]!;
const ctl = (h: Harness, w: number): number => h.mem.cacheControl[w]!;
const bitmap = (h: Harness, s: number, base: number): number[] =>
  Array.from({ length: SLOT_BITMAP_WORDS }, (_, i) => word(h, s, base + i) >>> 0);

/** The LRU list from head (most recent) to tail, as slot indexes. */
function lruOrder(h: Harness): number[] {
  const out: number[] = [];
  for (let link = ctl(h, C.LRU_HEAD); link !== 0; link = word(h, link - 1, W.LRU_NEXT)) {
    out.push(link - 1);
    if (out.length > 64) throw new Error('LRU cycle');
  }
  return out;
}

/** The free list from its head, as slot indexes. */
function freeList(h: Harness): number[] {
  const out: number[] = [];
  for (let link = ctl(h, C.FREE_HEAD); link !== 0; link = word(h, link - 1, W.LRU_NEXT)) {
    out.push(link - 1);
    if (out.length > 64) throw new Error('free list cycle');
  }
  return out;
}

/** Every (volume, slot number) reachable through the directory, as "v:n@slot". */
function directoryContents(h: Harness): string[] {
  const out: string[] = [];
  for (let b = 0; b < h.mem.directory.length; b++) {
    for (let link = h.mem.directory[b]!; link !== 0; link = word(h, link - 1, W.HASH_NEXT)) {
      out.push(`${word(h, link - 1, W.VOLUME)}:${word(h, link - 1, W.SLOT_NUMBER)}@${link - 1}`);
    }
  }
  return out.sort();
}

/** Caches (volume 1, slot numbers 0..15) in slots 0..15 and unpins them all. */
function fillAll(h: Harness, c: Cache): void {
  const hit = { value: true };
  for (let n = 0; n < 16; n++) {
    expect(c.obtain(1, n, hit)).toBe(n);
    expect(hit.value).toBe(false);
  }
  for (let s = 0; s < 16; s++) c.unpin(s);
}

describe('cache: obtain, lookup, pin', () => {
  it('formats 16 free slots on the free list in order, empty directory and LRU', () => {
    const { h, c } = setup();
    expect(c.slotCount).toBe(16);
    expect(c.sectorsPerSlot).toBe(8);
    expect(freeList(h)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(ctl(h, C.LRU_HEAD)).toBe(0);
    expect(ctl(h, C.LRU_TAIL)).toBe(0);
    expect(ctl(h, C.SLOT_COUNT)).toBe(16);
    expect(ctl(h, C.SECTORS_PER_SLOT)).toBe(8);
    expect(ctl(h, C.BUCKET_COUNT)).toBe(32);
    expect(c.usedSlots()).toBe(0);
    expect(c.dirtySlots()).toBe(0);
    expect(directoryContents(h)).toEqual([]);
    for (let s = 0; s < 16; s++) expect(word(h, s, W.FLAGS)).toBe(SLOT_FLAG_FREE);
  });

  it('obtain on a miss takes the free-list head, pins it once, sets its identity, clears its bitmaps', () => {
    const { h, c } = setup();
    // Dirty the header bitmaps of slot 0 by hand: obtain must clear them.
    for (let i = 0; i < SLOT_BITMAP_WORDS; i++) {
      h.mem.slotHeaders[W.VALID + i] = -1;
      h.mem.slotHeaders[W.DIRTY + i] = -1;
    }
    const hit = { value: true };
    const s = c.obtain(2, 7, hit);
    expect(s).toBe(0);
    expect(hit.value).toBe(false);
    expect(c.pinCount(0)).toBe(1);
    expect(c.volumeOf(0)).toBe(2);
    expect(c.slotNumberOf(0)).toBe(7);
    expect(word(h, 0, W.FLAGS)).toBe(SLOT_FLAG_IN_DIRECTORY);
    expect(bitmap(h, 0, W.VALID)).toEqual([0, 0, 0, 0]);
    expect(bitmap(h, 0, W.DIRTY)).toEqual([0, 0, 0, 0]);
    expect(c.usedSlots()).toBe(1);
    expect(c.dirtySlots()).toBe(0);
    expect(freeList(h)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(lruOrder(h)).toEqual([0]);
    expect(ctl(h, C.LRU_TAIL)).toBe(1);
    expect(h.mem.directory[c.bucketOf(2, 7)]).toBe(1);
    expect(directoryContents(h)).toEqual(['2:7@0']);

    expect(c.obtain(2, 8, hit)).toBe(1);
    expect(hit.value).toBe(false);
    expect(lruOrder(h)).toEqual([1, 0]);
    expect(c.usedSlots()).toBe(2);
  });

  it('lookup misses with -1 and no pin; lookup hits pin again and move the slot to the LRU head', () => {
    const { h, c } = setup();
    expect(c.lookup(1, 3)).toBe(-1);
    const hit = { value: false };
    expect(c.obtain(1, 3, hit)).toBe(0);
    expect(c.obtain(1, 4, hit)).toBe(1);
    expect(lruOrder(h)).toEqual([1, 0]);
    expect(c.lookup(1, 3)).toBe(0);
    expect(c.pinCount(0)).toBe(2);
    expect(c.pinCount(1)).toBe(1);
    expect(lruOrder(h)).toEqual([0, 1]);
    expect(c.lookup(1, 5)).toBe(-1);
    expect(c.lookup(2, 3)).toBe(-1);
    expect(c.usedSlots()).toBe(2);
  });

  it('unpin drops the pin count by one and refuses to go below zero', () => {
    const { c } = setup();
    const hit = { value: false };
    const s = c.obtain(1, 0, hit);
    expect(c.lookup(1, 0)).toBe(s);
    expect(c.pinCount(s)).toBe(2);
    c.unpin(s);
    expect(c.pinCount(s)).toBe(1);
    c.unpin(s);
    expect(c.pinCount(s)).toBe(0);
    expect(() => c.unpin(s)).toThrow(AssertionError);
  });

  it('the same identity obtained twice is the same slot, reported as a hit, pinned twice, counted once', () => {
    const { h, c } = setup();
    const hit = { value: false };
    const first = c.obtain(1, 9, hit);
    expect(hit.value).toBe(false);
    const second = c.obtain(1, 9, hit);
    expect(second).toBe(first);
    expect(hit.value).toBe(true);
    expect(c.pinCount(first)).toBe(2);
    expect(c.usedSlots()).toBe(1);
    expect(directoryContents(h)).toEqual([`1:9@${first}`]);
    expect(freeList(h).length).toBe(15);
  });

  it('identities that collide in one bucket are chained and each is found', () => {
    const { h, c } = setup();
    const bucket = c.bucketOf(1, 0);
    const colliding: Array<[number, number]> = [[1, 0]];
    for (let v = 1; v <= 3 && colliding.length < 3; v++) {
      for (let n = 1; n < 5000 && colliding.length < 3; n++) if (c.bucketOf(v, n) === bucket) colliding.push([v, n]);
    }
    expect(colliding.length).toBe(3);
    const [a, b, x] = colliding as [[number, number], [number, number], [number, number]];
    const hit = { value: false };
    const sa = c.obtain(a[0], a[1], hit);
    const sb = c.obtain(b[0], b[1], hit);
    expect([sa, sb]).toEqual([0, 1]);
    // Newest at the chain head: bucket -> b -> a.
    expect(h.mem.directory[bucket]).toBe(sb + 1);
    expect(word(h, sb, W.HASH_NEXT)).toBe(sa + 1);
    expect(word(h, sa, W.HASH_NEXT)).toBe(0);
    expect(c.lookup(a[0], a[1])).toBe(sa);
    expect(c.lookup(b[0], b[1])).toBe(sb);
    // A third identity of the same bucket that is not cached is a miss.
    expect(c.lookup(x[0], x[1])).toBe(-1);
    // Removing the chain head keeps the other one findable, and vice versa.
    for (const s of [sa, sa, sb, sb]) c.unpin(s);
    expect(c.discard(sb)).toBe(true);
    expect(h.mem.directory[bucket]).toBe(sa + 1);
    expect(c.lookup(a[0], a[1])).toBe(sa);
    expect(c.lookup(b[0], b[1])).toBe(-1);
    c.unpin(sa);
    const sb2 = c.obtain(b[0], b[1], hit);
    expect(sb2).toBe(sb); // the discarded slot went back to the free-list head
    c.unpin(sb2);
    expect(c.discard(sa)).toBe(true); // the chain tail this time
    expect(h.mem.directory[bucket]).toBe(sb2 + 1);
    expect(word(h, sb2, W.HASH_NEXT)).toBe(0);
    expect(c.lookup(b[0], b[1])).toBe(sb2);
    expect(c.lookup(a[0], a[1])).toBe(-1);
  });
});

describe('cache: LRU replacement', () => {
  it('uses the free list first, then evicts exactly the least recently used clean slot', () => {
    const { h, c } = setup();
    fillAll(h, c);
    expect(c.evictions).toBe(0); // 16 obtains, all from the free list
    expect(freeList(h)).toEqual([]);
    expect(c.usedSlots()).toBe(16);
    // Touch slots 0, 1, 2 (identities 1:0..1:2): the LRU tail is now slot 3.
    for (const n of [0, 1, 2]) c.unpin(c.lookup(1, n));
    expect(lruOrder(h).slice(0, 3)).toEqual([2, 1, 0]);
    expect(lruOrder(h).at(-1)).toBe(3);

    const hit = { value: true };
    const s = c.obtain(2, 40, hit);
    expect(s).toBe(3);
    expect(hit.value).toBe(false);
    expect(c.evictions).toBe(1);
    expect(c.lookup(1, 3)).toBe(-1); // the victim's identity vanished
    expect(c.volumeOf(3)).toBe(2);
    expect(c.slotNumberOf(3)).toBe(40);
    expect(c.pinCount(3)).toBe(1);
    expect(c.usedSlots()).toBe(16);
    expect(lruOrder(h)[0]).toBe(3);
    const dir = directoryContents(h);
    expect(dir.length).toBe(16);
    expect(dir).toContain('2:40@3');
    expect(dir).not.toContain('1:3@3');
    c.unpin(3);

    // The next one goes: slot 4 (identity 1:4).
    expect(c.obtain(2, 41, hit)).toBe(4);
    expect(c.lookup(1, 4)).toBe(-1);
    expect(c.evictions).toBe(2);
    c.unpin(4);
  });

  it('a slot on the free list is taken before any clean slot is evicted', () => {
    const { h, c } = setup();
    fillAll(h, c);
    expect(c.discard(9)).toBe(true);
    expect(c.usedSlots()).toBe(15);
    expect(freeList(h)).toEqual([9]);
    const hit = { value: true };
    expect(c.obtain(3, 0, hit)).toBe(9);
    expect(c.evictions).toBe(0);
    expect(c.lookup(1, 0)).toBe(0); // the LRU tail survived
    expect(c.usedSlots()).toBe(16);
  });

  it('never evicts a dirty slot', () => {
    const { h, c } = setup();
    fillAll(h, c);
    c.markDirty(0, 0, 1);
    c.markDirty(1, 7, 1);
    expect(c.obtain(2, 0, { value: false })).toBe(2);
    expect(c.lookup(1, 0)).toBe(0);
    expect(c.lookup(1, 1)).toBe(1);
    expect(c.lookup(1, 2)).toBe(-1);
  });

  it('never evicts a pinned slot', () => {
    const { h, c } = setup();
    fillAll(h, c);
    expect(c.lookup(1, 0)).toBe(0); // pinned again (and now most recent)...
    // ...so make it the tail once more by touching every other slot.
    for (let n = 1; n < 16; n++) c.unpin(c.lookup(1, n));
    expect(lruOrder(h).at(-1)).toBe(0);
    expect(c.pinCount(0)).toBe(1);
    expect(c.obtain(2, 0, { value: false })).toBe(1);
    expect(c.volumeOf(0)).toBe(1);
    expect(c.slotNumberOf(0)).toBe(0);
    expect(c.lookup(1, 1)).toBe(-1);
  });

  it('returns -1 and changes nothing when every slot is dirty or pinned', () => {
    const { h, c } = setup();
    fillAll(h, c);
    for (let s = 0; s < 16; s++) {
      if (s % 2 === 0) c.markDirty(s, 0, 8);
      else expect(c.lookup(1, s)).toBe(s); // pinned
    }
    const headers = Array.from(h.mem.slotHeaders);
    const directory = Array.from(h.mem.directory);
    const control = Array.from(h.mem.cacheControl);
    const hit = { value: true };
    expect(c.obtain(2, 0, hit)).toBe(-1);
    expect(hit.value).toBe(false);
    expect(c.evictions).toBe(0);
    expect(c.usedSlots()).toBe(16);
    expect(c.dirtySlots()).toBe(8);
    expect(Array.from(h.mem.slotHeaders)).toEqual(headers);
    expect(Array.from(h.mem.directory)).toEqual(directory);
    expect(Array.from(h.mem.cacheControl)).toEqual(control);
    expect(c.lookup(2, 0)).toBe(-1);
  });

  it('clearDirty makes a slot evictable again', () => {
    const { h, c } = setup();
    fillAll(h, c);
    for (let s = 0; s < 16; s++) c.markDirty(s, 3, 2);
    expect(c.obtain(2, 0, { value: false })).toBe(-1);
    c.clearDirty(11);
    expect(c.dirtySlots()).toBe(15);
    expect(c.obtain(2, 0, { value: false })).toBe(11);
    expect(c.lookup(1, 11)).toBe(-1);
    expect(c.evictions).toBe(1);
    expect(bitmap(h, 11, W.VALID)).toEqual([0, 0, 0, 0]);
  });
});

describe('cache: dirty accounting, discard', () => {
  it('dirtySlots counts slots with a dirty sector, exactly, through markDirty and clearDirty', () => {
    const { h, c } = setup();
    const hit = { value: false };
    const a = c.obtain(1, 0, hit);
    const b = c.obtain(1, 1, hit);
    expect(c.dirtySlots()).toBe(0);
    c.markDirty(a, 0, 1);
    expect(c.dirtySlots()).toBe(1);
    c.markDirty(a, 5, 3); // same slot again: still one
    expect(c.dirtySlots()).toBe(1);
    expect(bitmap(h, a, W.DIRTY)).toEqual([0b11100001, 0, 0, 0]);
    expect(bitmap(h, a, W.VALID)).toEqual([0b11100001, 0, 0, 0]);
    expect(c.isDirty(a)).toBe(true);
    expect(c.isSectorDirty(a, 5)).toBe(true);
    expect(c.isSectorDirty(a, 4)).toBe(false);
    c.markDirty(b, 2, 1);
    expect(c.dirtySlots()).toBe(2);
    c.clearDirty(a);
    expect(c.dirtySlots()).toBe(1);
    expect(bitmap(h, a, W.DIRTY)).toEqual([0, 0, 0, 0]);
    expect(bitmap(h, a, W.VALID)).toEqual([0b11100001, 0, 0, 0]); // still valid, now clean
    c.clearDirty(a); // already clean: no change
    expect(c.dirtySlots()).toBe(1);
    c.markValid(b, 0, 8); // valid only: not dirty
    expect(c.dirtySlots()).toBe(1);
    c.clearDirty(b);
    expect(c.dirtySlots()).toBe(0);
    expect(h.mem.cacheControl[C.DIRTY_SLOTS]).toBe(0);
  });

  it('discard drops a clean unpinned slot onto the free-list head and refuses pinned or dirty ones', () => {
    const { h, c } = setup();
    const hit = { value: false };
    const a = c.obtain(1, 0, hit);
    const b = c.obtain(1, 1, hit);
    const d = c.obtain(1, 2, hit);
    c.markDirty(d, 0, 1);
    c.unpin(a);
    c.unpin(d);
    const before = Array.from(h.mem.slotHeaders);
    expect(c.discard(b)).toBe(false); // pinned
    expect(c.discard(d)).toBe(false); // dirty
    expect(Array.from(h.mem.slotHeaders)).toEqual(before);
    expect(c.usedSlots()).toBe(3);

    expect(c.discard(a)).toBe(true);
    expect(c.usedSlots()).toBe(2);
    expect(c.lookup(1, 0)).toBe(-1);
    expect(word(h, a, W.FLAGS)).toBe(SLOT_FLAG_FREE);
    expect(word(h, a, W.VOLUME)).toBe(0);
    expect(word(h, a, W.SLOT_NUMBER)).toBe(0);
    expect(word(h, a, W.HASH_NEXT)).toBe(0);
    expect(freeList(h)[0]).toBe(a);
    expect(freeList(h).length).toBe(14);
    expect(lruOrder(h)).toEqual([d, b]);
    // A free slot: nothing to do, reported as done.
    expect(c.discard(a)).toBe(true);
    expect(c.usedSlots()).toBe(2);
    expect(freeList(h).length).toBe(14);
    // The next obtain reuses it.
    expect(c.obtain(4, 4, hit)).toBe(a);
    expect(c.dirtySlots()).toBe(1);
  });
});

describe('cache: sector bitmaps of 128-sector slots', () => {
  it('allValid, markValid, markDirty across the 32-bit word boundaries', () => {
    const h = freshSystem({ slotBytes: 65536, cacheBytes: 65536 * 8 });
    const c = new Cache(h.mem);
    expect(c.sectorsPerSlot).toBe(128);
    expect(c.slotCount).toBe(8);
    const s = c.obtain(1, 0, { value: false });
    c.markValid(s, 30, 4); // sectors 30, 31 | 32, 33
    expect(bitmap(h, s, W.VALID)).toEqual([0xc0000000, 0x3, 0, 0]);
    expect(c.allValid(s, 30, 4)).toBe(true);
    expect(c.allValid(s, 31, 2)).toBe(true);
    expect(c.allValid(s, 29, 2)).toBe(false);
    expect(c.allValid(s, 30, 5)).toBe(false);
    expect(c.allValid(s, 31, 1)).toBe(true);
    expect(c.allValid(s, 32, 1)).toBe(true);
    expect(c.isSectorValid(s, 31)).toBe(true);
    expect(c.isSectorValid(s, 34)).toBe(false);
    expect(bitmap(h, s, W.DIRTY)).toEqual([0, 0, 0, 0]);

    c.markDirty(s, 62, 5); // 62, 63 | 64, 65, 66
    expect(bitmap(h, s, W.DIRTY)).toEqual([0, 0xc0000000, 0x7, 0]);
    expect(bitmap(h, s, W.VALID)).toEqual([0xc0000000, 0xc0000003, 0x7, 0]);
    expect(c.isSectorDirty(s, 63)).toBe(true);
    expect(c.isSectorDirty(s, 64)).toBe(true);
    expect(c.isSectorDirty(s, 67)).toBe(false);
    expect(c.allValid(s, 62, 5)).toBe(true);
    expect(c.allValid(s, 61, 6)).toBe(false);
    expect(c.dirtySlots()).toBe(1);

    c.markDirty(s, 96, 32); // the whole last word
    expect(bitmap(h, s, W.DIRTY)).toEqual([0, 0xc0000000, 0x7, 0xffffffff]);
    expect(c.isSectorDirty(s, 127)).toBe(true);
    expect(c.allValid(s, 96, 32)).toBe(true);
    expect(c.allValid(s, 0, 128)).toBe(false);
    c.markValid(s, 0, 128);
    expect(bitmap(h, s, W.VALID)).toEqual([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]);
    expect(c.allValid(s, 0, 128)).toBe(true);
    expect(c.dirtySlots()).toBe(1);
    c.clearDirty(s);
    expect(bitmap(h, s, W.DIRTY)).toEqual([0, 0, 0, 0]);
    expect(c.dirtySlots()).toBe(0);
  });
});
