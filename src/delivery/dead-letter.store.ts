import { Inject, Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { MetricsService } from '../platform/metrics/metrics.service.js';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { REDIS, type RedisClient, RedisKeys } from '../platform/redis/redis.module.js';
import { type DeadLetterFilter, matchesFilter } from './dead-letter.filter.js';
import type { KableEvent } from '../segment/kable-event.js';

/** An event Kable did not take and that will not be retried by itself. */
export interface DeadLetter {
  event: KableEvent;
  /** Short reason: `HTTP 401`, `gave up after the retry horizon (240 min): HTTP 503`. */
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

/** A dead letter as read from Redis, with its stored text (to remove it only if it has not changed since). */
export interface StoredDeadLetter {
  letter: DeadLetter;
  raw: string;
}

/** Entries read from the index per Redis round trip. */
export const SCAN_CHUNK = 500;

// Deletes each entry only if it still holds the value that was read: an event replayed and
// dead-lettered again meanwhile keeps its new entry. KEYS: index, entries; ARGV: values, ids.
const REMOVE_IF_UNCHANGED = `
local n = #KEYS - 1
local removed = {}
for i = 1, n do
  if redis.call('GET', KEYS[i + 1]) == ARGV[i] then
    redis.call('DEL', KEYS[i + 1])
    redis.call('ZREM', KEYS[1], ARGV[n + i])
    removed[#removed + 1] = ARGV[n + i]
  end
end
return removed`;

/**
 * Dead letters in Redis: one JSON value per event, keyed by transactionId (a replayed event that
 * fails again replaces its old entry), and a sorted set by failure time to list them. Entries
 * expire after DEAD_LETTER_RETENTION.
 */
@Injectable()
export class DeadLetterStore {
  constructor(
    @Inject(REDIS) private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    metrics: MetricsService,
  ) {
    const count = () => this.count();
    new Gauge({
      name: 'kable_dead_letters',
      help: 'Dead letters stored (events Kable did not take), kept for DEAD_LETTER_RETENTION',
      registers: [metrics.registry],
      async collect() {
        this.set(await count().catch(() => NaN));
      },
    });
  }

  private get index(): string {
    return this.keys.key('dead', 'index');
  }

  private entryKey(transactionId: string): string {
    return this.keys.key('dead', 'event', transactionId);
  }

  async add(letters: DeadLetter[], retentionMs = this.config.deadLetterRetentionMs): Promise<void> {
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
    return (await this.getStored(ids)).filter((s): s is StoredDeadLetter => s !== undefined).map((s) => s.letter);
  }

  /** One entry per id, undefined where there is none (discarded, replayed or expired). */
  async getStored(ids: string[]): Promise<(StoredDeadLetter | undefined)[]> {
    if (ids.length === 0) return [];
    const values = await this.redis.mget(ids.map((id) => this.entryKey(id)));
    return values.map((raw) => (raw === null ? undefined : { raw, letter: JSON.parse(raw) as DeadLetter }));
  }

  async remove(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.redis
      .multi()
      .del(...ids.map((id) => this.entryKey(id)))
      .zrem(this.index, ...ids)
      .exec();
  }

  /** Removes entries that still hold what was read; returns the transactionIds removed. */
  async removeIfUnchanged(entries: StoredDeadLetter[]): Promise<string[]> {
    if (entries.length === 0) return [];
    const ids = entries.map((e) => e.letter.event.transactionId);
    const keys = [this.index, ...ids.map((id) => this.entryKey(id))];
    return (await this.redis.eval(REMOVE_IF_UNCHANGED, keys.length, ...keys, ...entries.map((e) => e.raw), ...ids)) as string[];
  }

  /**
   * Lists dead letters matching a filter, newest first. `cursor` is where the previous page
   * stopped (an opaque position in the index); at most `maxScanned` index entries are read per
   * call, so a selective filter over a large store answers quickly with a `next` cursor.
   */
  async search(
    filter: DeadLetterFilter,
    options: { cursor?: number; limit: number; maxScanned?: number },
  ): Promise<{ deadLetters: DeadLetter[]; next?: number }> {
    const max = filter.until ?? '+inf';
    const min = filter.since ?? '-inf';
    const found: DeadLetter[] = [];
    let position = options.cursor ?? 0;
    const stopAt = position + (options.maxScanned ?? 20_000);
    while (found.length < options.limit && position < stopAt) {
      const ids = await this.redis.zrevrangebyscore(this.index, max, min, 'LIMIT', position, SCAN_CHUNK);
      if (ids.length === 0) return { deadLetters: found };
      const stored = await this.getStored(ids);
      for (let i = 0; i < ids.length; i++) {
        position += 1;
        const letter = stored[i]?.letter;
        if (letter && matchesFilter(letter, filter)) {
          found.push(letter);
          if (found.length === options.limit) break;
        }
      }
    }
    const more = await this.redis.zrevrangebyscore(this.index, max, min, 'LIMIT', position, 1);
    return { deadLetters: found, next: more.length > 0 ? position : undefined };
  }

  /**
   * Visits the dead letters a filter selects, oldest first, SCAN_CHUNK at a time, until
   * `maxSelected` were handed to `visit` (bounded work per call; `more: true` says to call again,
   * and may be reported when what is left does not match).
   * `visit` returns the transactionIds it removed from the store (replayed or discarded); the scan
   * position accounts for them. Only entries that failed before the call started are visited, so
   * an event that is replayed and fails again is not picked up twice by one call.
   */
  async forEachChunk(
    filter: DeadLetterFilter,
    visit: (entries: StoredDeadLetter[]) => Promise<string[]>,
    maxSelected = 20_000,
  ): Promise<{ more: boolean }> {
    const min = filter.since ?? '-inf';
    const max = Math.min(filter.until ?? Number.POSITIVE_INFINITY, Date.now());
    let position = 0;
    let selectedCount = 0;
    while (selectedCount < maxSelected) {
      const ids = await this.redis.zrangebyscore(this.index, min, max, 'LIMIT', position, SCAN_CHUNK);
      if (ids.length === 0) return { more: false };
      const stored = await this.getStored(ids);
      const expired = ids.filter((_, i) => stored[i] === undefined);
      if (expired.length > 0) await this.redis.zrem(this.index, ...expired);
      const matching = stored.filter((s): s is StoredDeadLetter => s !== undefined && matchesFilter(s.letter, filter));
      const selected = matching.slice(0, maxSelected - selectedCount);
      const removed = selected.length > 0 ? await visit(selected) : [];
      selectedCount += selected.length;
      if (selected.length < matching.length) return { more: true };
      position += ids.length - expired.length - removed.length;
    }
    // Stopped at the bound: more only if the index goes on (what is left may not all match).
    const rest = await this.redis.zrangebyscore(this.index, min, max, 'LIMIT', position, 1);
    return { more: rest.length > 0 };
  }
}
