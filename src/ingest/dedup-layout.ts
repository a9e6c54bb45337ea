import { hash } from 'node:crypto';
import type { JobRef } from '../platform/redis/keys.js';

/*
 * How the deduplication window is laid out in Redis (DedupStore owns the keys; this file is the arithmetic).
 * - A messageId is kept as its 128-bit hash (the first 16 bytes of its SHA-256), a field of a small hash
 *   (a bucket) that Redis keeps listpack-encoded: about 30 bytes an id instead of a key of its own.
 * - Time is cut into generations of DEDUP_WINDOW / GENERATIONS_PER_WINDOW. Every bucket key of a
 *   generation expires at once, when the generation's last id has been remembered for DEDUP_WINDOW; a
 *   lookup reads the id's bucket in each generation still alive (GENERATIONS_PER_WINDOW + 1 of them).
 * - A generation's bucket count is fixed by its first write, from what the previous generation took,
 *   so that buckets hold about TARGET_FILL ids whatever the traffic.
 */

/** Generations per window: more cost one more bucket read per check, fewer keep ids longer past the window. */
export const GENERATIONS_PER_WINDOW = 2;

/** Ids a bucket should hold: well under hash-max-listpack-entries (128, the default), past which Redis stores a bucket as a hash table, about three times larger. */
export const TARGET_FILL = 48;

/** Buckets of a generation with no history (the first one, or after a quiet generation). */
export const DEFAULT_BUCKETS = 2048;

export const MIN_BUCKETS = 16;
export const MAX_BUCKETS = 1 << 26;

/** A bucket's marker field, written with every id: the write that creates the bucket adds two fields, and so sets its expiry. */
export const MARKER_FIELD = '';

/** A job reference takes the high bits of an entry's value, the event's index in its job the low 16. */
const INDEX_BITS = 16n;
const SHARD_BITS = 6n;
/** Job ids below 2^41 (two trillion jobs a shard) keep the value within a signed 64-bit integer. */
const MAX_JOB_ID = 1n << 41n;

/**
 * The 128-bit hash of a messageId that the window keeps, as a 16-character binary (latin1) string:
 * Node's one-shot hash to a string costs a third of one to a Buffer, and a group's hashes are packed
 * into one Buffer anyway (`packHashes`).
 */
export function messageHash(messageId: string): string {
  return hash('sha256', messageId, 'binary').slice(0, 16);
}

/** Hashes as one binary argument for a script: 16 bytes each, in order. */
export function packHashes(hashes: readonly string[]): Buffer {
  return Buffer.from(hashes.join(''), 'latin1');
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

/**
 * The bucket of a hash among `buckets`, as its key names it: the hash's first 32 bits (big-endian)
 * modulo the count, in hex (the scripts compute the same: integer formatting, not Lua's float one).
 */
export function bucketName(messageHash: string, buckets: number): string {
  const high = messageHash.charCodeAt(0) * 0x1000000 + (messageHash.charCodeAt(1) << 16);
  return ((high + (messageHash.charCodeAt(2) << 8) + messageHash.charCodeAt(3)) % buckets).toString(16);
}

/** Where an accepted event went: its job and its index there. */
export type EntryRef = JobRef & { index: number };

/**
 * An entry's value, a small integer listpack stores in 9 bytes or fewer: `(jobId * 64 + shard) * 65536 + index`.
 * Undefined when the job id is not BullMQ's own counter (then the entry records only that the id was accepted).
 */
export function encodeEntry(ref: EntryRef): string | undefined {
  if (!/^\d{1,13}$/.test(ref.id) || BigInt(ref.id) >= MAX_JOB_ID) return undefined;
  if (ref.shard >= 1 << Number(SHARD_BITS) || ref.index >= 1 << Number(INDEX_BITS)) return undefined;
  return String((((BigInt(ref.id) << SHARD_BITS) + BigInt(ref.shard)) << INDEX_BITS) + BigInt(ref.index));
}

/** Reads `encodeEntry`'s value back; undefined for 0 (accepted, job unknown) or anything else. */
export function decodeEntry(value: string): EntryRef | undefined {
  if (!/^\d{1,19}$/.test(value) || value === '0') return undefined;
  const n = BigInt(value);
  const job = n >> INDEX_BITS;
  return {
    shard: Number(job & ((1n << SHARD_BITS) - 1n)),
    id: String(job >> SHARD_BITS),
    index: Number(n & ((1n << INDEX_BITS) - 1n)),
  };
}
