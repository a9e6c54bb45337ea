import { createHash } from 'node:crypto';
import {
  bucketName,
  bucketsFor,
  DEFAULT_BUCKETS,
  encodeJob,
  entryAt,
  findRecord,
  keptBytes,
  generationExpiresAt,
  generationMs,
  generationOf,
  liveGenerations,
  MAX_BUCKETS,
  messageHash,
  MIN_BUCKETS,
  packRecords,
  RECORD_BYTES,
  TARGET_FILL,
} from './dedup-layout.js';

const DAY = 86_400_000;

describe('dedup layout', () => {
  it('keeps the first 16 bytes of the SHA-256 of the messageId (its UTF-8)', () => {
    const id = 'node-next-1767951121120-9b2f1c3e-…-ü';
    const expected = createHash('sha256').update(id, 'utf8').digest().subarray(0, 16);
    expect(Buffer.from(messageHash(id), 'latin1')).toEqual(expected);
  });

  it('packs a record as the hash’s bytes 4 to 15, the job in 6 bytes and the index in 2, and finds it again', () => {
    const [a, b, c] = ['a', 'b', 'c'].map(messageHash) as [string, string, string];
    const records = packRecords([a, b], { shard: 3, id: '42' }, [7, 65_535]);
    expect(records).toHaveLength(2 * RECORD_BYTES);
    expect(records.subarray(0, 12)).toEqual(Buffer.from(a, 'latin1').subarray(4, 16));
    expect(records.subarray(12, 20)).toEqual(Buffer.from([0, 0, 0, 0, 0x0a, 0x83, 0, 7])); // 42 * 64 + 3 = 0x0a83
    expect(findRecord(records, keptBytes(a))).toBe(0);
    expect(findRecord(records, keptBytes(b))).toBe(RECORD_BYTES);
    expect(findRecord(records, keptBytes(c))).toBe(-1);
    expect(findRecord(Buffer.alloc(0), keptBytes(a))).toBe(-1);
    expect(entryAt(records, 0)).toEqual({ shard: 3, id: '42', index: 7 });
    expect(entryAt(records, RECORD_BYTES)).toEqual({ shard: 3, id: '42', index: 65_535 });
  });

  it('finds a hash only where a record starts, not where its bytes happen to straddle two records', () => {
    const kept = keptBytes(messageHash('straddled'));
    // The kept bytes at offset 10: across the first record's entry and the second record's hash.
    const bucket = Buffer.alloc(3 * RECORD_BYTES);
    kept.copy(bucket, 10);
    expect(findRecord(bucket, kept)).toBe(-1);
    // And found in the third record, after that false start.
    kept.copy(bucket, 2 * RECORD_BYTES);
    expect(findRecord(bucket, kept)).toBe(2 * RECORD_BYTES);
    // A record cut short (a bucket never holds one, but a reader must not run past the end).
    expect(findRecord(bucket.subarray(0, 2 * RECORD_BYTES + 12), kept)).toBe(-1);
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

  it('encodes where an event went and reads it back', () => {
    for (const [job, index] of [
      [{ shard: 0, id: '1' }, 0],
      [{ shard: 63, id: '2199023255551' }, 65_535],
      [{ shard: 11, id: '4711' }, 999],
    ] as const) {
      expect(encodeJob(job)).toBe(Number(job.id) * 64 + job.shard);
      expect(entryAt(packRecords([messageHash('x')], job, [index]), 0)).toEqual({ ...job, index });
    }
  });

  it('writes an unknown job (all zeros) for what it could not read back', () => {
    const h = messageHash('x');
    for (const [job, index] of [
      [{ shard: 0, id: 'custom-id' }, 0],
      [{ shard: 0, id: '2199023255552' }, 0],
      [{ shard: 64, id: '1' }, 0],
      [{ shard: 0, id: '1' }, 65_536],
      [undefined, 0],
    ] as const) {
      const record = packRecords([h], job, [index]);
      expect(record.subarray(12)).toEqual(Buffer.alloc(8));
      expect(entryAt(record, 0)).toBeUndefined();
      expect(findRecord(record, keptBytes(h))).toBe(0);
    }
  });
});
