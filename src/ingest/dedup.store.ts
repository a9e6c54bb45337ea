import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { BacklogCounter } from '../delivery/backlog.counter.js';
import { REDIS, type RedisClient, RedisKeys } from '../platform/redis/redis.module.js';
import type { JobRef } from '../platform/redis/keys.js';
import {
  bucketName,
  bucketsFor,
  entryAt,
  EPOCH_FULL,
  EPOCH_GROWTH,
  type EntryRef,
  findRecord,
  generationExpiresAt,
  generationMs,
  generationOf,
  keptBytes,
  liveGenerations,
  MAX_BUCKETS,
  messageHash,
  packRecords,
  parseGenerationMeta,
  RECORD_BYTES,
} from './dedup-layout.js';

/*
 * A generation's meta hash (`seen:<g>`) holds `b<e>` and `n<e>` (each epoch's buckets and ids written),
 * `e` (the newest epoch) and `s` (the first write); epoch e's buckets are strings `seen:<g>:<e>:<hex>`
 * (dedup-layout.ts). Every key of an id is in its shard's slot, so one MGET or one script per shard
 * touches one slot.
 */

/**
 * KEYS: the generation's meta key, the shard's backlog counter, then each id's bucket. ARGV: the
 * epoch and bucket count the keys were named with (epoch 0 and a count for a generation not yet
 * written), when the generation's keys expire, the time of this write, the backlog increment, then
 * the ids' records (RECORD_BYTES each, in the order of the buckets). When the epoch given is not the
 * newest, or its count differs, writes nothing. Answers the newest epoch and its count.
 */
const REMEMBER = `
local meta, epoch, buckets, expires, records = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[6]
if #KEYS > 2 then
  if redis.call('HSETNX', meta, 'b0', buckets) == 1 then
    redis.call('HSET', meta, 's', ARGV[4])
    redis.call('PEXPIREAT', meta, expires)
  end
  local newest = redis.call('HGET', meta, 'e') or '0'
  local count = redis.call('HGET', meta, 'b' .. newest)
  if newest ~= epoch or count ~= buckets then return { newest, count } end
end
${BacklogCounter.addInScript('KEYS[2]', 'ARGV[5]')}
for i = 3, #KEYS do
  if redis.call('APPEND', KEYS[i], string.sub(records, (i - 3) * ${RECORD_BYTES} + 1, (i - 2) * ${RECORD_BYTES})) == ${RECORD_BYTES} then
    redis.call('PEXPIREAT', KEYS[i], expires)
  end
end
if #KEYS > 2 then
  local n = tonumber(buckets)
  if redis.call('HINCRBY', meta, 'n' .. epoch, #KEYS - 2) > n * ${EPOCH_FULL} and n < ${MAX_BUCKETS} then
    local next = tostring(tonumber(epoch) + 1)
    redis.call('HSET', meta, 'e', next, 'b' .. next, string.format('%d', math.min(n * ${EPOCH_GROWTH}, ${MAX_BUCKETS})))
  end
end
return { epoch, buckets }`;

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

/** The epoch of the newest generation that a write goes to, and its bucket count. */
export interface DedupEpoch {
  epoch: number;
  buckets: number;
}

/** What `check` found, for `remember` to write beside it: the generation it read and each id's hash. */
export interface DedupCheck {
  /** For each id asked about, in order: whether it was accepted before inside the window. */
  seen: boolean[];
  /** When it checked (ms since epoch), and so the generation the ids are remembered in. */
  now: number;
  generation: number;
  hashes: Map<string, string>;
  /** Per shard: the newest generation's newest epoch, or for one not written yet, epoch 0 with the count a first write gives it. */
  epochs: Map<number, DedupEpoch>;
}

/** A shard's buckets to read: one per epoch of each live generation, newest first. */
interface Readable {
  g: number;
  epoch: number;
  buckets: number;
}

/**
 * The one owner of the deduplication window (DEDUP_WINDOW): records of accepted messageIds in
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
    return this.keys.shardKey(shard, 'seen', String(g));
  }

  /** Names the buckets of an epoch: the generation's meta key, the epoch, the bucket's name. */
  private bucketKeys(shard: number, { g, epoch, buckets }: Readable): (hash: string) => string {
    const prefix = `${this.meta(shard, g)}:${epoch}:`;
    return (hash) => prefix + bucketName(hash, buckets);
  }

  /**
   * A shard's live generations at generation `g` (their metas, one HGETALL each: epochs can be added at
   * any time), and where a write to the newest goes.
   */
  private async live(shard: number, g: number): Promise<{ readable: Readable[]; newest: DedupEpoch }> {
    const gens = liveGenerations(g);
    const metas = await Promise.all(gens.map(async (x) => parseGenerationMeta(await this.redis.hgetall(this.meta(shard, x)))));
    const readable = gens.flatMap((x, i) => (metas[i]?.epochs ?? []).map((buckets, epoch) => ({ g: x, epoch, buckets })).reverse());
    const current = metas[0];
    if (current) return { readable, newest: { epoch: current.epochs.length - 1, buckets: current.epochs.at(-1) ?? 0 } };
    // Not written yet: sized from the previous generation's ids since its first write.
    const previous = metas[1];
    const windowMs = this.config.dedupWindowMs;
    const buckets = bucketsFor(previous?.ids ?? 0, g * generationMs(windowMs) - (previous?.start ?? NaN), windowMs);
    return { readable, newest: { epoch: 0, buckets } };
  }

  /**
   * Reads the buckets of `hashes` in every epoch of `readable`, in one MGET: per hash, one bucket per
   * epoch (null if none). A bucket that several hashes share is asked for once: the reply's bytes are
   * most of what a check costs Redis.
   */
  private async read(shard: number, readable: Readable[], hashes: string[]): Promise<Array<Array<Buffer | null>>> {
    if (readable.length === 0) return hashes.map(() => []);
    const namers = readable.map((r) => this.bucketKeys(shard, r));
    const names = hashes.map((hash) => namers.map((name) => name(hash)));
    const unique = [...new Set(names.flat())];
    const got = await this.redis.mgetBuffer(...unique);
    const byName = new Map(unique.map((name, k) => [name, got[k] ?? null]));
    return names.map((row) => row.map((name) => byName.get(name) ?? null));
  }

  /** For each id, whether it was accepted before inside the window. Per shard, its metas, then one MGET. */
  async check(messageIds: string[], now = Date.now()): Promise<DedupCheck> {
    const generation = generationOf(now, this.config.dedupWindowMs);
    const seen = new Array<boolean>(messageIds.length).fill(false);
    const result: DedupCheck = { seen, now, generation, hashes: new Map(), epochs: new Map() };
    await Promise.all(
      [...this.keys.byShard(messageIds.keys(), (i) => messageIds[i] ?? '')].map(async ([shard, at]) => {
        const hashes = at.map((i) => messageHash(messageIds[i] ?? ''));
        at.forEach((i, j) => result.hashes.set(messageIds[i] ?? '', hashes[j] ?? ''));
        const { readable, newest } = await this.live(shard, generation);
        result.epochs.set(shard, newest);
        const buckets = await this.read(shard, readable, hashes);
        at.forEach((i, j) => {
          const kept = keptBytes(hashes[j] ?? '');
          seen[i] = (buckets[j] ?? []).some((bucket) => bucket !== null && findRecord(bucket, kept) >= 0);
        });
      }),
    );
    return result;
  }

  /** The entry of an accepted messageId, if it is inside the window. */
  async lookup(messageId: string, now = Date.now()): Promise<DedupEntry | undefined> {
    const shard = this.keys.shardOf(messageId);
    const { readable } = await this.live(shard, generationOf(now, this.config.dedupWindowMs));
    const hash = messageHash(messageId);
    const kept = keptBytes(hash);
    const [buckets = []] = await this.read(shard, readable, [hash]);
    for (const [k, bucket] of buckets.entries()) {
      const at = bucket ? findRecord(bucket, kept) : -1;
      const g = readable[k]?.g;
      if (!bucket || at < 0 || g === undefined) continue;
      const expiresAt = generationExpiresAt(g, this.config.dedupWindowMs);
      const job = entryAt(bucket, at);
      return job ? { job, expiresAt } : { expiresAt };
    }
    return undefined;
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
      [...shards].map(async ([shard, group]) => {
        const hashes = group.map(({ id }) => check.hashes.get(id) ?? messageHash(id));
        const records = packRecords(
          hashes,
          job,
          group.map(({ index }) => index),
        );
        const write = async ({ epoch, buckets }: DedupEpoch): Promise<DedupEpoch> => {
          const name = this.bucketKeys(shard, { g: generation, epoch, buckets });
          const [newest, count] = (await this.redis.eval(
            REMEMBER,
            2 + hashes.length,
            this.meta(shard, generation),
            this.backlog.key(shard),
            ...hashes.map(name),
            epoch,
            buckets,
            generationExpiresAt(generation, windowMs),
            check.now,
            job?.shard === shard ? backlogAdded : 0,
            records,
          )) as [string, string];
          return { epoch: Number(newest), buckets: Number(count) };
        };
        let target = check.epochs.get(shard) ?? { epoch: 0, buckets: bucketsFor(0, 0, windowMs) };
        // Another writer started the generation or a new epoch since the check: write where it says.
        for (let tries = 0; ; tries++) {
          const newest = await write(target);
          if (newest.epoch === target.epoch && newest.buckets === target.buckets) return;
          if (tries === 3) throw new Error(`the deduplication window of shard ${shard} kept moving to new epochs`);
          target = newest;
        }
      }),
    );
  }
}
