import { hash } from 'node:crypto';
import type { JobRef } from '../platform/redis/keys.js';

/*
 * How the deduplication window is laid out in Redis (DedupStore owns the keys; this file is the arithmetic).
 * - A messageId is kept as a 20-byte record in a string (a bucket): 12 bytes of its 128-bit hash (the
 *   first 16 bytes of its SHA-256; the other 4 choose the bucket) and 8 for where it was queued. A check
 *   reads every bucket it needs with one MGET and looks in them here, and a write is one APPEND: no
 *   per-id script work, which was most of Redis's CPU per event with hash buckets.
 * - Time is cut into generations of DEDUP_WINDOW / GENERATIONS_PER_WINDOW. Every bucket key of a
 *   generation expires at once, when the generation's last id has been remembered for DEDUP_WINDOW; a
 *   lookup reads the id's bucket in each generation still alive (GENERATIONS_PER_WINDOW + 1 of them).
 * - A generation's bucket count is fixed by its first write, from what the previous generation took,
 *   so that buckets hold about TARGET_FILL ids whatever the traffic. A string bucket has no size limit,
 *   and a check reads it whole: when a generation's buckets hold EPOCH_FULL ids on average (traffic
 *   grew, or a first generation had no history), its next ids go to a new epoch of EPOCH_GROWTH times
 *   the buckets, and checks read the id's bucket in every epoch.
 */

/** Generations per window: more cost one more bucket read per check, fewer keep ids longer past the window. */
export const GENERATIONS_PER_WINDOW = 2;

/** Ids a bucket should hold: fewer cost a key's overhead per fewer ids, more cost bytes read per check. */
export const TARGET_FILL = 48;

/** Buckets of a generation with no history (the first one, or after a quiet generation). */
export const DEFAULT_BUCKETS = 2048;

export const MIN_BUCKETS = 16;
export const MAX_BUCKETS = 1 << 26;

/** Ids per bucket, on average, past which a generation starts a new epoch. */
export const EPOCH_FULL = 2 * TARGET_FILL;
export const EPOCH_GROWTH = 4;

/** A generation as its meta hash describes it. */
export interface GenerationMeta {
  /** Bucket counts of its epochs, oldest first; the last one is written to. */
  epochs: number[];
  /** Ids written, all epochs together. */
  ids: number;
  /** When it was first written (ms since epoch). */
  start: number;
}

/**
 * Reads a generation's meta hash (`b<e>` the buckets and `n<e>` the ids of epoch e, `e` the newest,
 * `s` the first write); undefined when it has not been written.
 */
export function parseGenerationMeta(fields: Record<string, string>): GenerationMeta | undefined {
  const newest = Number(fields.e ?? 0);
  const epochs: number[] = [];
  let ids = 0;
  for (let e = 0; e <= newest; e++) {
    const buckets = Number(fields[`b${e}`]);
    if (!(buckets > 0)) return undefined;
    epochs.push(buckets);
    ids += Number(fields[`n${e}`] ?? 0);
  }
  return { epochs, ids, start: Number(fields.s) };
}

/** A record: the hash's bytes 4 to 15 (bytes 0 to 3 chose the bucket), then the entry (`packRecords`), big-endian. */
export const KEPT_HASH_BYTES = 12;
export const RECORD_BYTES = KEPT_HASH_BYTES + 8;

/** An entry: `jobId * 64 + shard` in 6 bytes, then the event's index in its job in 2. */
const SHARDS = 64;
const MAX_INDEX = 65_536;
/** Job ids below 2^41 (two trillion jobs a shard) keep `jobId * 64 + shard` within 6 bytes. */
const MAX_JOB_ID = 2 ** 41;

/**
 * The 128-bit hash of a messageId that the window keeps, as a 16-character binary (latin1) string:
 * Node's one-shot hash to a string costs a third of one to a Buffer, and a group's records are packed
 * into one Buffer anyway (`packRecords`).
 */
export function messageHash(messageId: string): string {
  return hash('sha256', messageId, 'binary').slice(0, 16);
}

/**
 * The records of `hashes`, in order, as one Buffer: each the hash's kept bytes, then its entry, the event
 * at `indices[i]` of `job` (`encodeJob`, then the index).
 */
export function packRecords(hashes: readonly string[], job: JobRef | undefined, indices: readonly number[]): Buffer {
  const out = Buffer.alloc(hashes.length * RECORD_BYTES);
  const jobPart = job ? encodeJob(job) : 0;
  hashes.forEach((hash, i) => {
    const at = i * RECORD_BYTES;
    out.write(hash.slice(16 - KEPT_HASH_BYTES), at, KEPT_HASH_BYTES, 'latin1');
    const index = indices[i] ?? MAX_INDEX;
    // Left 0 (accepted, job unknown) when the job or index cannot be written back.
    if (jobPart > 0 && index < MAX_INDEX) {
      out.writeUIntBE(jobPart, at + KEPT_HASH_BYTES, 6);
      out.writeUInt16BE(index, at + KEPT_HASH_BYTES + 6);
    }
  });
  return out;
}

/** The bytes of a hash that a record keeps, to look for in buckets. */
export function keptBytes(hash: string): Buffer {
  return Buffer.from(hash.slice(16 - KEPT_HASH_BYTES), 'latin1');
}

/** Where the record of `kept` (`keptBytes`) starts in a bucket, or -1 if the bucket does not hold it. */
export function findRecord(bucket: Buffer, kept: Buffer): number {
  // Matches that straddle two records are not the hash's own: look on.
  for (let at = bucket.indexOf(kept); at >= 0; at = bucket.indexOf(kept, at + 1)) {
    if (at % RECORD_BYTES === 0 && at + RECORD_BYTES <= bucket.length) return at;
  }
  return -1;
}

/** The entry of the record at `at` of a bucket: where the event went, or undefined if unknown. */
export function entryAt(bucket: Buffer, at: number): EntryRef | undefined {
  const jobPart = bucket.readUIntBE(at + KEPT_HASH_BYTES, 6);
  if (jobPart === 0) return undefined;
  return { shard: jobPart % SHARDS, id: String(Math.floor(jobPart / SHARDS)), index: bucket.readUInt16BE(at + KEPT_HASH_BYTES + 6) };
}

export function generationMs(windowMs: number): number {
  return Math.ceil(windowMs / GENERATIONS_PER_WINDOW);
}

export function generationOf(now: number, windowMs: number): number {
  return Math.floor(now / generationMs(windowMs));
}

/** When the keys of generation `g` expire: once its last id has been kept for the window, plus a minute for a commit in flight. */
export function generationExpiresAt(g: number, windowMs: number): number {
  return (g + 1) * generationMs(windowMs) + windowMs + 60_000;
}

/** The generations a lookup at generation `g` reads, newest first. */
export function liveGenerations(g: number): number[] {
  return Array.from({ length: GENERATIONS_PER_WINDOW + 1 }, (_, i) => g - i);
}

/**
 * The buckets of a new generation from the ids its predecessor took in `elapsedMs` of its time (projected
 * to a whole generation, the first minutes of a deployment counting at most 16 times), with room for a
 * quarter more traffic before buckets pass TARGET_FILL.
 */
export function bucketsFor(previousIds: number, elapsedMs: number, windowMs: number): number {
  if (!(previousIds > 0 && elapsedMs > 0)) return DEFAULT_BUCKETS;
  const span = generationMs(windowMs);
  const projected = (previousIds * span) / Math.min(span, Math.max(elapsedMs, span / 16));
  return Math.min(MAX_BUCKETS, Math.max(MIN_BUCKETS, Math.ceil((projected * 1.25) / TARGET_FILL)));
}

/** The bucket of a hash among `buckets`, as its key names it: the hash's first 32 bits (big-endian) modulo the count, in hex. */
export function bucketName(messageHash: string, buckets: number): string {
  const high = messageHash.charCodeAt(0) * 0x1000000 + (messageHash.charCodeAt(1) << 16);
  return ((high + (messageHash.charCodeAt(2) << 8) + messageHash.charCodeAt(3)) % buckets).toString(16);
}

/** Where an accepted event went: its job and its index there. */
export type EntryRef = JobRef & { index: number };

/** A job as an entry holds it, `jobId * 64 + shard`; 0 when the job id is not BullMQ's own counter, or out of range. */
export function encodeJob(job: JobRef): number {
  if (!/^\d{1,13}$/.test(job.id) || Number(job.id) >= MAX_JOB_ID || job.shard >= SHARDS) return 0;
  return Number(job.id) * SHARDS + job.shard;
}
