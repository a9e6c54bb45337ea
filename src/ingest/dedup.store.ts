import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { BacklogCounter } from '../delivery/backlog.counter.js';
import { REDIS, type RedisClient, RedisKeys } from '../platform/redis/redis.module.js';
import type { JobRef } from '../platform/redis/keys.js';

/**
 * KEYS: the shard's backlog counter, then the dedup keys. ARGV: the dedup window, the backlog
 * increment, then one value per dedup key.
 */
const REMEMBER = `
${BacklogCounter.addInScript('KEYS[1]', 'ARGV[2]')}
for i = 2, #KEYS do redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ARGV[1]) end
return #KEYS`;

/** What the dedup entry of an accepted messageId says: when it was received and where it was queued. */
export interface DedupEntry {
  /** When ingest received it (ms since epoch). */
  receivedAt: number;
  /** The delivery job that carries it and its position among the job's events. */
  job?: JobRef & { index: number };
}

/** The requests of one group whose events went into the same job: one run each, its events in order from `start`. */
export interface DedupRun {
  messageIds: string[];
  receivedAt: Date;
  start: number;
}

/**
 * A dedup value, `<receivedAt ms>:<shard>.<jobId>/<index in the job>`: kept this short because
 * there is one per accepted event for the whole DEDUP_WINDOW.
 */
function dedupValue(receivedAt: Date, job: JobRef | undefined, index: number): string {
  return job ? `${receivedAt.getTime()}:${job.shard}.${job.id}/${index}` : `${receivedAt.getTime()}:/${index}`;
}

/** Reads a dedup value back; undefined if it is not one (a key of this prefix written by something else). */
export function parseDedupValue(value: string): DedupEntry | undefined {
  const match = /^(\d+):(?:(\d+)\.)?(.*)\/(\d+)$/.exec(value);
  if (!match) return undefined;
  const [, receivedAt = '', shard = '0', jobId = '', index = ''] = match;
  return jobId === ''
    ? { receivedAt: Number(receivedAt) }
    : { receivedAt: Number(receivedAt), job: { shard: Number(shard), id: jobId, index: Number(index) } };
}

/**
 * The one owner of dedup entries: accepted messageIds, kept for the deduplication window (DEDUP_WINDOW),
 * each in its shard (RedisKeys.shardOf). Ingest checks (`seen`), queues, then remembers: a message
 * is never marked as seen without having been queued, and one queued but not remembered is queued
 * again on a retry (Kable discards the copy).
 */
@Injectable()
export class DedupStore {
  constructor(
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: RedisKeys,
    private readonly backlog: BacklogCounter,
  ) {}

  private key(shard: number, messageId: string): string {
    return this.keys.shardKey(shard, 'dedup', messageId);
  }

  /** For each id, whether it was accepted before inside the window. One MGET per shard. */
  async seen(messageIds: string[]): Promise<boolean[]> {
    const out = new Array<boolean>(messageIds.length).fill(false);
    await Promise.all(
      [...byShard(messageIds, (id) => this.keys.shardOf(id))].map(async ([shard, at]) => {
        const values = await this.redis.mget(at.map((i) => this.key(shard, messageIds[i] ?? '')));
        values.forEach((value, j) => {
          const i = at[j];
          if (i !== undefined) out[i] = value !== null;
        });
      }),
    );
    return out;
  }

  /** The entry of an accepted messageId, if it is inside the window. */
  async lookup(messageId: string): Promise<DedupEntry | undefined> {
    const value = await this.redis.get(this.key(this.keys.shardOf(messageId), messageId));
    return value === null ? undefined : parseDedupValue(value);
  }

  /**
   * Marks the ids of each run as accepted into `job` (all runs of a group share one job), and adds
   * `backlogAdded` events to the job's shard's backlog counter in the same command as that shard's ids.
   */
  async remember(job: JobRef | undefined, runs: DedupRun[], backlogAdded = 0): Promise<void> {
    const shards = new Map<number, { keys: string[]; values: string[] }>();
    const of = (shard: number) => {
      let entry = shards.get(shard);
      if (!entry) shards.set(shard, (entry = { keys: [this.backlog.key(shard)], values: [] }));
      return entry;
    };
    if (job && backlogAdded > 0) of(job.shard);
    for (const run of runs) {
      run.messageIds.forEach((id, i) => {
        const shard = this.keys.shardOf(id);
        const entry = of(shard);
        entry.keys.push(this.key(shard, id));
        entry.values.push(dedupValue(run.receivedAt, job, run.start + i));
      });
    }
    // One command per shard: ioredis's per-command cost was the largest single cost of batch ingest.
    // The backlog counter (BacklogCounter) is counted in the same command as its shard's ids.
    await Promise.all(
      [...shards].map(([shard, { keys, values }]) =>
        this.redis.eval(REMEMBER, keys.length, ...keys, this.config.dedupWindowMs, job?.shard === shard ? backlogAdded : 0, ...values),
      ),
    );
  }
}

/** Indexes of `ids` grouped by their shard. */
function byShard(ids: string[], shardOf: (id: string) => number): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  ids.forEach((id, i) => {
    const shard = shardOf(id);
    const group = groups.get(shard);
    if (group) group.push(i);
    else groups.set(shard, [i]);
  });
  return groups;
}
