import { createHash } from 'node:crypto';
import {
  bucketName,
  bucketsFor,
  decodeEntry,
  DEFAULT_BUCKETS,
  encodeEntry,
  generationExpiresAt,
  generationMs,
  generationOf,
  liveGenerations,
  MAX_BUCKETS,
  messageHash,
  MIN_BUCKETS,
  packHashes,
  TARGET_FILL,
} from './dedup-layout.js';

const DAY = 86_400_000;

describe('dedup layout', () => {
  it('keeps the first 16 bytes of the SHA-256 of the messageId (its UTF-8)', () => {
    const id = 'node-next-1767951121120-9b2f1c3e-…-ü';
    const expected = createHash('sha256').update(id, 'utf8').digest().subarray(0, 16);
    expect(packHashes([messageHash(id)])).toEqual(expected);
    expect(packHashes([messageHash('a'), messageHash('b')])).toHaveLength(32);
  });

  it('names the bucket of a hash by its first 32 bits modulo the count, in hex', () => {
    const hash = String.fromCharCode(0xff, 0x00, 0x01, 0x02) + 'x'.repeat(12);
    expect(bucketName(hash, 2 ** 32)).toBe('ff000102');
    expect(bucketName(hash, 1000)).toBe(((0xff000102 % 1000) >>> 0).toString(16));
  });

  it('cuts time into generations of half the window, and reads the three that can hold an id still in it', () => {
    expect(generationMs(DAY)).toBe(DAY / 2);
    expect(generationOf(DAY * 10 + DAY / 2 - 1, DAY)).toBe(20);
    expect(generationOf(DAY * 10 + DAY / 2, DAY)).toBe(21);
    expect(liveGenerations(21)).toEqual([21, 20, 19]);
    // An id remembered at the very end of generation 20 stays for a whole window (and a minute for a commit in flight).
    expect(generationExpiresAt(20, DAY)).toBe(21 * (DAY / 2) + DAY + 60_000);
  });

  it('sizes a generation for its predecessor’s traffic, with a quarter more room', () => {
    const span = generationMs(DAY);
    expect(bucketsFor(1_000_000, span, DAY)).toBe(Math.ceil((1_000_000 * 1.25) / TARGET_FILL));
    // Half a generation's ids in half of it: the same rate.
    expect(bucketsFor(500_000, span / 2, DAY)).toBe(bucketsFor(1_000_000, span, DAY));
    // A deployment started late in the previous generation: projected, but at most 16 times what it saw.
    expect(bucketsFor(1000, 1000, DAY)).toBe(Math.ceil((1000 * 16 * 1.25) / TARGET_FILL));
    expect(bucketsFor(0, span, DAY)).toBe(DEFAULT_BUCKETS);
    expect(bucketsFor(5, NaN, DAY)).toBe(DEFAULT_BUCKETS);
    expect(bucketsFor(1, span, DAY)).toBe(MIN_BUCKETS);
    expect(bucketsFor(1e15, span, DAY)).toBe(MAX_BUCKETS);
  });

  it('encodes where an event went as one integer and reads it back', () => {
    for (const ref of [
      { shard: 0, id: '1', index: 0 },
      { shard: 63, id: '2199023255551', index: 65_535 },
      { shard: 11, id: '4711', index: 999 },
    ]) {
      const value = encodeEntry(ref) ?? '';
      expect(value).toMatch(/^\d+$/);
      expect(BigInt(value) < 2n ** 63n).toBe(true);
      expect(decodeEntry(value)).toEqual(ref);
    }
    expect(encodeEntry({ shard: 0, id: '42', index: 7 })).toBe(String((42 * 64 + 0) * 65536 + 7));
  });

  it('encodes nothing it could not read back, and reads back nothing it did not write', () => {
    expect(encodeEntry({ shard: 0, id: 'custom-id', index: 0 })).toBeUndefined();
    expect(encodeEntry({ shard: 0, id: '2199023255552', index: 0 })).toBeUndefined();
    expect(encodeEntry({ shard: 64, id: '1', index: 0 })).toBeUndefined();
    expect(encodeEntry({ shard: 0, id: '1', index: 65_536 })).toBeUndefined();
    expect(decodeEntry('0')).toBeUndefined();
    expect(decodeEntry('1795969800123:4711/0')).toBeUndefined();
    expect(decodeEntry('')).toBeUndefined();
  });
});
