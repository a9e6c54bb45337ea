import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { BacklogCounter } from '../delivery/backlog.counter.js';
import { REDIS, RedisKeys } from '../platform/redis/redis.module.js';

/**
 * KEYS: the backlog counter, then the dedup keys. ARGV: the dedup window, the number of runs R, the
 * backlog increment, then R triples (number of dedup keys, the value's prefix, the job index of the
 * first of them) in KEYS order. Each key's value is its run's prefix and its index in the job.
 */
const REMEMBER = `
${BacklogCounter.addInScript('KEYS[1]', 'ARGV[3]')}
local k = 2
for r = 0, tonumber(ARGV[2]) - 1 do
  local count, prefix, start = tonumber(ARGV[4 + 3 * r]), ARGV[5 + 3 * r], tonumber(ARGV[6 + 3 * r])
  for i = 0, count - 1 do redis.call('SET', KEYS[k + i], prefix .. (start + i), 'PX', ARGV[1]) end
  k = k + count
end
return #KEYS`;

/** What the dedup entry of an accepted messageId says: when it was received and where it was queued. */
export interface DedupEntry {
  /** When ingest received it (ms since epoch). */
  receivedAt: number;
  /** The delivery job that carries it and its position among the job's events. */
  job?: { id: string; index: number };
}

/** The requests of one group whose events went into the same job: one run each, its events in order from `start`. */
export interface DedupRun {
  messageIds: string[];
  receivedAt: Date;
  start: number;
}

/**
 * A dedup value, `<receivedAt ms>:<jobId>/<index in the job>`: kept this short because there is one
 * per accepted event for the whole DEDUP_WINDOW. This part is written once per run, REMEMBER adds the index.
 */
function valuePrefix(receivedAt: Date, jobId: string | undefined): string {
  return `${receivedAt.getTime()}:${jobId ?? ''}/`;
}

/** Reads a dedup value back; undefined if it is not one (a key of this prefix written by something else). */
export function parseDedupValue(value: string): DedupEntry | undefined {
  const match = /^(\d+):(.*)\/(\d+)$/.exec(value);
  if (!match) return undefined;
  const [, receivedAt = '', jobId = '', index = ''] = match;
  return jobId === '' ? { receivedAt: Number(receivedAt) } : { receivedAt: Number(receivedAt), job: { id: jobId, index: Number(index) } };
}

/**
 * The one owner of dedup entries: accepted messageIds, kept for the deduplication window (DEDUP_WINDOW).
 * Ingest checks (`seen`), queues, then remembers: a message is never marked as seen without having
 * been queued, and one queued but not remembered is queued again on a retry (Kable discards the copy).
 */
@Injectable()
export class DedupStore {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: RedisKeys,
    private readonly backlog: BacklogCounter,
  ) {}

  private key(messageId: string): string {
    return this.keys.key('dedup', messageId);
  }

  /** For each id, whether it was accepted before inside the window. */
  async seen(messageIds: string[]): Promise<boolean[]> {
    if (messageIds.length === 0) return [];
    const values = await this.redis.mget(messageIds.map((id) => this.key(id)));
    return values.map((value) => value !== null);
  }

  /** The entry of an accepted messageId, if it is inside the window. */
  async lookup(messageId: string): Promise<DedupEntry | undefined> {
    const value = await this.redis.get(this.key(messageId));
    return value === null ? undefined : parseDedupValue(value);
  }

  /**
   * Marks the ids of each run as accepted into `jobId` (all runs of a group share one job), and adds
   * `backlogAdded` events to the backlog counter in the same command.
   */
  async remember(jobId: string | undefined, runs: DedupRun[], backlogAdded = 0): Promise<void> {
    const used = runs.filter((run) => run.messageIds.length > 0);
    if (used.length === 0 && backlogAdded === 0) return;
    // One command per group: ioredis's per-command cost was the largest single cost of batch ingest.
    // The backlog counter (BacklogCounter) is counted in the same command: one round trip less.
    const keys = [this.backlog.key()];
    const args: Array<string | number> = [this.config.dedupWindowMs, used.length, backlogAdded];
    for (const run of used) {
      for (const id of run.messageIds) keys.push(this.key(id));
      args.push(run.messageIds.length, valuePrefix(run.receivedAt, jobId), run.start);
    }
    await this.redis.eval(REMEMBER, keys.length, ...keys, ...args);
  }
}
