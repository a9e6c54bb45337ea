import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { REDIS, RedisKeys } from '../redis/redis.module.js';
import type { KableEvent } from './kable-event.js';

/** An event Kable did not take and that will not be retried by itself. */
export interface DeadLetter {
  event: KableEvent;
  /** Short reason: `HTTP 401`, `gave up after 4h: HTTP 503`. */
  reason: string;
  status?: number;
  /** Kable's answer body, cut to 2,000 characters. */
  body?: string;
  /** Kable's X-REQUEST-ID, what Kable support asks for. */
  requestId?: string;
  attempts: number;
  /** When the event was first queued (ms since epoch). */
  queuedAt: number;
  failedAt: number;
  jobId?: string;
}

export const DEAD_LETTER_RETENTION_MS = 7 * 86_400_000;

/**
 * Dead letters in Redis: one JSON value per event, keyed by transactionId (a replayed event that
 * fails again replaces its old entry), and a sorted set by failure time to list them.
 */
@Injectable()
export class DeadLetterStore {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  private get index(): string {
    return this.keys.key('dead', 'index');
  }

  private entryKey(transactionId: string): string {
    return this.keys.key('dead', 'event', transactionId);
  }

  async add(letters: DeadLetter[], retentionMs = DEAD_LETTER_RETENTION_MS): Promise<void> {
    if (letters.length === 0) return;
    const multi = this.redis.multi();
    for (const letter of letters) {
      multi.set(this.entryKey(letter.event.transactionId), JSON.stringify(letter), 'PX', retentionMs);
      multi.zadd(this.index, letter.failedAt, letter.event.transactionId);
    }
    multi.zremrangebyscore(this.index, '-inf', Date.now() - retentionMs);
    await multi.exec();
  }

  async count(): Promise<number> {
    return this.redis.zcard(this.index);
  }

  /** Newest first. */
  async list(offset = 0, limit = 100): Promise<DeadLetter[]> {
    const ids = await this.redis.zrevrange(this.index, offset, offset + limit - 1);
    return this.getMany(ids);
  }

  async get(transactionId: string): Promise<DeadLetter | undefined> {
    const [letter] = await this.getMany([transactionId]);
    return letter;
  }

  async getMany(ids: string[]): Promise<DeadLetter[]> {
    if (ids.length === 0) return [];
    const values = await this.redis.mget(ids.map((id) => this.entryKey(id)));
    return values.filter((value): value is string => value !== null).map((value) => JSON.parse(value) as DeadLetter);
  }

  async remove(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.redis
      .multi()
      .del(...ids.map((id) => this.entryKey(id)))
      .zrem(this.index, ...ids)
      .exec();
  }
}
