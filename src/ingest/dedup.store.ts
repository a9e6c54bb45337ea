import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { BacklogCounter } from '../delivery/backlog.counter.js';
import { REDIS, type RedisClient, RedisKeys } from '../platform/redis/redis.module.js';
import type { JobRef } from '../platform/redis/keys.js';
import {
  bucketsFor,
  encodeEntry,
  decodeEntry,
  type EntryRef,
  generationExpiresAt,
  generationMs,
  generationOf,
  liveGenerations,
  MARKER_FIELD,
  messageHash,
  packHashes,
} from './dedup-layout.js';

/*
 * The scripts name an id's bucket as dedup-layout.ts's bucketName does: the hash's first 32 bits modulo
 * the generation's bucket count, in hex. A generation's meta hash (`dd:<g>`) holds `b` (its buckets, fixed by
 * the first write), `s` (when it was first written) and `n` (ids written); its buckets are `dd:<g>:<hex>`.
 * Every key a script touches is in one shard's slot: the meta keys it is given and the buckets beside them.
 */

const BUCKET_OF = `local function bucket(h, buckets)
  local a, b, c, d = string.byte(h, 1, 4)
  return string.format('%x', (((a * 256 + b) * 256 + c) * 256 + d) % buckets)
end`;

/**
 * KEYS: the meta keys of the live generations, newest first. ARGV: their bucket key prefixes, then the
 * ids' hashes (16 bytes each). Answers a string, per id 1 if a generation has it, else 0; then, when the
 * newest generation has no meta yet, its predecessor's `n` and `s` (to size it).
 */
const CHECK = `${BUCKET_OF}
local gens, newest = {}, false
for i = 1, #KEYS do
  local buckets = redis.call('HGET', KEYS[i], 'b')
  if buckets then
    gens[#gens + 1] = { ARGV[i], tonumber(buckets) }
    newest = newest or i == 1
  end
end
local hashes = ARGV[#KEYS + 1]
local out = {}
for i = 1, #hashes / 16 do
  local h = string.sub(hashes, i * 16 - 15, i * 16)
  local seen = '0'
  for j = 1, #gens do
    if redis.call('HEXISTS', gens[j][1] .. bucket(h, gens[j][2]), h) == 1 then
      seen = '1'
      break
    end
  end
  out[i] = seen
end
if newest then return { table.concat(out) } end
local previous = redis.call('HMGET', KEYS[2], 'n', 's')
return { table.concat(out), previous[1] or false, previous[2] or false }`;

/**
 * KEYS: the newest generation's meta key, the shard's backlog counter. ARGV: the generation's bucket
 * key prefix, when its keys expire, the time of this write and a bucket count (both kept if this
 * write creates the generation), the backlog increment, the hashes, then one entry value per id. A
 * bucket's marker field, written with every id, tells the write that creates the bucket (two fields
 * added) to set its expiry.
 */
const REMEMBER = `${BUCKET_OF}
local meta = KEYS[1]
local prefix, expires, hashes = ARGV[1], ARGV[2], ARGV[6]
${BacklogCounter.addInScript('KEYS[2]', 'ARGV[5]')}
local count = #hashes / 16
if count == 0 then return 0 end
local buckets
if redis.call('HSETNX', meta, 'b', ARGV[4]) == 1 then
  redis.call('HSET', meta, 's', ARGV[3])
  redis.call('PEXPIREAT', meta, expires)
  buckets = tonumber(ARGV[4])
else
  buckets = tonumber(redis.call('HGET', meta, 'b'))
end
for i = 1, count do
  local h = string.sub(hashes, i * 16 - 15, i * 16)
  local key = prefix .. bucket(h, buckets)
  if redis.call('HSET', key, '${MARKER_FIELD}', '0', h, ARGV[6 + i]) == 2 then redis.call('PEXPIREAT', key, expires) end
end
redis.call('HINCRBY', meta, 'n', count)
return count`;

/**
 * KEYS: the meta keys of the live generations, newest first. ARGV: their bucket key prefixes, then the
 * id's hash. The entry's value and the position of its generation among KEYS, or nil.
 */
const LOOKUP = `${BUCKET_OF}
local h = ARGV[#KEYS + 1]
for i = 1, #KEYS do
  local buckets = redis.call('HGET', KEYS[i], 'b')
  if buckets then
    local value = redis.call('HGET', ARGV[i] .. bucket(h, tonumber(buckets)), h)
    if value then return { value, i } end
  end
end
return false`;

/** What the window says of an accepted messageId. */
export interface DedupEntry {
  /** Where it was queued (when the job is one BullMQ numbered, as ingest's are). */
  job?: EntryRef;
  /** When the window forgets it (ms since epoch): at least DEDUP_WINDOW after it was accepted. */
  expiresAt: number;
}

/** The requests of one group whose events went into the same job: one run each, its events in order from `start`. */
export interface DedupRun {
  messageIds: string[];
  start: number;
}

/** What `check` found, for `remember` to write beside it: the generation it read and each id's hash. */
export interface DedupCheck {
  /** For each id asked about, in order: whether it was accepted before inside the window. */
  seen: boolean[];
  /** When it checked (ms since epoch), and so the generation the ids are remembered in. */
  now: number;
  generation: number;
  hashes: Map<string, string>;
  /** Per shard whose newest generation has no meta yet: the bucket count a first write gives it. */
  buckets: Map<number, number>;
}

/** The states, and with no newest generation yet, its predecessor's `n` and `s`. */
type CheckReply = [seen: string, previousIds?: string | null, previousStart?: string | null];

/**
 * The one owner of the deduplication window (DEDUP_WINDOW): the 128-bit hashes of accepted messageIds in
 * generation buckets (dedup-layout.ts), each id in its shard (RedisKeys.shardOf). Ingest checks, queues,
 * then remembers: a message is never marked as seen without having been queued, and one queued but not
 * remembered is queued again on a retry (Kable discards the copy).
 */
@Injectable()
export class DedupStore {
  constructor(
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: RedisKeys,
    private readonly backlog: BacklogCounter,
  ) {}

  private meta(shard: number, g: number): string {
    return this.keys.shardKey(shard, 'dd', String(g));
  }

  private bucketPrefix(shard: number, g: number): string {
    return `${this.meta(shard, g)}:`;
  }

  /** KEYS and ARGV prefixes of CHECK and LOOKUP: the live generations of a shard, newest first. */
  private generations(shard: number, g: number): { metas: string[]; prefixes: string[] } {
    const gens = liveGenerations(g);
    return { metas: gens.map((x) => this.meta(shard, x)), prefixes: gens.map((x) => this.bucketPrefix(shard, x)) };
  }

  /** For each id, whether it was accepted before inside the window. One script per shard. */
  async check(messageIds: string[], now = Date.now()): Promise<DedupCheck> {
    const windowMs = this.config.dedupWindowMs;
    const generation = generationOf(now, windowMs);
    const seen = new Array<boolean>(messageIds.length).fill(false);
    const result: DedupCheck = { seen, now, generation, hashes: new Map(), buckets: new Map() };
    await Promise.all(
      [...this.keys.byShard(messageIds.keys(), (i) => messageIds[i] ?? '')].map(async ([shard, at]) => {
        const hashes = at.map((i) => messageHash(messageIds[i] ?? ''));
        const { metas, prefixes } = this.generations(shard, generation);
        const reply = (await this.redis.eval(CHECK, metas.length, ...metas, ...prefixes, packHashes(hashes))) as CheckReply;
        const [found, previousIds, previousStart] = reply;
        at.forEach((i, j) => {
          seen[i] = found[j] === '1';
          result.hashes.set(messageIds[i] ?? '', hashes[j] ?? '');
        });
        if (reply.length > 1) {
          // No newest generation yet: sized from the previous one's ids since its first write.
          const elapsed = generation * generationMs(windowMs) - Number(previousStart ?? NaN);
          result.buckets.set(shard, bucketsFor(Number(previousIds ?? 0), elapsed, windowMs));
        }
      }),
    );
    return result;
  }

  /** The entry of an accepted messageId, if it is inside the window. */
  async lookup(messageId: string, now = Date.now()): Promise<DedupEntry | undefined> {
    const shard = this.keys.shardOf(messageId);
    const generation = generationOf(now, this.config.dedupWindowMs);
    const { metas, prefixes } = this.generations(shard, generation);
    const hash = packHashes([messageHash(messageId)]);
    const found = (await this.redis.eval(LOOKUP, metas.length, ...metas, ...prefixes, hash)) as [value: string, at: number] | null;
    if (found === null) return undefined;
    const [value, at] = found;
    const expiresAt = generationExpiresAt(generation - at + 1, this.config.dedupWindowMs);
    const job = decodeEntry(value);
    return job ? { job, expiresAt } : { expiresAt };
  }

  /**
   * Marks the ids of each run as accepted into `job` (all runs of a group share one job), in the
   * generation `check` read, and adds `backlogAdded` events to the job's shard's backlog counter in
   * the same command as that shard's ids.
   */
  async remember(check: DedupCheck, job: JobRef | undefined, runs: DedupRun[], backlogAdded = 0): Promise<void> {
    const entries = runs.flatMap((run) => run.messageIds.map((id, i) => ({ id, index: run.start + i })));
    const shards = this.keys.byShard(entries, (entry) => entry.id);
    // The job's shard counts the backlog even when none of its ids hash there.
    if (job && backlogAdded > 0 && !shards.has(job.shard)) shards.set(job.shard, []);
    const { generation } = check;
    const windowMs = this.config.dedupWindowMs;
    // One command per shard: ioredis's per-command cost was the largest single cost of batch ingest.
    await Promise.all(
      [...shards].map(([shard, group]) =>
        this.redis.eval(
          REMEMBER,
          2,
          this.meta(shard, generation),
          this.backlog.key(shard),
          this.bucketPrefix(shard, generation),
          generationExpiresAt(generation, windowMs),
          check.now,
          check.buckets.get(shard) ?? bucketsFor(0, 0, windowMs),
          job?.shard === shard ? backlogAdded : 0,
          packHashes(group.map(({ id }) => check.hashes.get(id) ?? messageHash(id))),
          ...group.map(({ index }) => (job && encodeEntry({ ...job, index })) ?? '0'),
        ),
      ),
    );
  }
}
