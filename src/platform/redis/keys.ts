import { Inject, Injectable } from '@nestjs/common';
import calculateSlot from 'cluster-key-slot';
import type { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';

/** Redis Cluster's hash slots. */
export const CLUSTER_SLOTS = 16_384;

/**
 * The hash tag of each shard: shard i's tag hashes into the i-th of `shards` equal ranges of the
 * cluster's slots, so that with the usual even slot layout the shards spread over the masters.
 * Found by trying suffixes; the same prefix and count always give the same tags.
 */
export function shardTags(prefix: string, shards: number): string[] {
  if (shards === 1) return [prefix];
  return Array.from({ length: shards }, (_, i) => {
    const low = Math.floor((i * CLUSTER_SLOTS) / shards);
    const high = Math.floor(((i + 1) * CLUSTER_SLOTS) / shards);
    for (let n = 0; ; n += 1) {
      const tag = `${prefix}-${i}${n === 0 ? '' : `-${n}`}`;
      const slot = calculateSlot(tag);
      if (slot >= low && slot < high) return tag;
    }
  });
}

/** FNV-1a over the id's UTF-16 code units: cheap, stable, and spreads ids evenly over shards. */
export function shardOf(id: string, shards: number): number {
  if (shards === 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i += 1) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % shards;
}

/** Where a delivery job is: its shard's queue and its id there (BullMQ counts ids per queue). */
export interface JobRef {
  shard: number;
  id: string;
}

/** How a job is named to users and in trace records: `<shard>.<id>`. */
export function formatJobRef(ref: JobRef): string {
  return `${ref.shard}.${ref.id}`;
}

/** Reads `formatJobRef`'s text back; undefined if it is not one. */
export function parseJobRef(text: string): JobRef | undefined {
  const match = /^(\d{1,2})\.(.+)$/.exec(text);
  return match ? { shard: Number(match[1]), id: match[2] ?? '' } : undefined;
}

/**
 * The one place that names Redis keys. Every key starts with REDIS_PREFIX, then a hash tag: the
 * keys one command or script touches together share a tag, so each command stays in one slot of a
 * Redis Cluster. Shards (REDIS_SHARDS) each have their own tag: the delivery queue of the shard,
 * its backlog counter, and the dedup and trace records of the message ids that hash to it. Every
 * other record (Engage, dead letters, rejected samples, the Engage queue) lives under shard 0's tag.
 */
@Injectable()
export class RedisKeys {
  readonly prefix: string;
  readonly shards: number;
  private readonly tags: string[];

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.prefix = config.redis.prefix;
    this.shards = config.redis.shards;
    this.tags = shardTags(this.prefix, this.shards);
  }

  /** A key of shard 0, for records that are not sharded. */
  key(...parts: string[]): string {
    return this.shardKey(0, ...parts);
  }

  /** A key in shard `shard`'s slot. */
  shardKey(shard: number, ...parts: string[]): string {
    return [this.bullPrefix(shard), ...parts].join(':');
  }

  /** BullMQ's prefix for shard `shard`'s queues: BullMQ then names its keys `<prefix>:<queue>:…`. */
  bullPrefix(shard: number): string {
    const tag = this.tags[shard];
    if (tag === undefined) throw new Error(`no shard ${shard} of ${this.shards}`);
    return `${this.prefix}:{${tag}}`;
  }

  /** The shard whose slot keeps this message id's dedup and trace records. */
  shardOf(messageId: string): number {
    return shardOf(messageId, this.shards);
  }

  /** `items` grouped by the shard of their message id, in order within each shard: one command per shard. */
  byShard<T>(items: Iterable<T>, idOf: (item: T) => string): Map<number, T[]> {
    const groups = new Map<number, T[]>();
    for (const item of items) {
      const shard = this.shardOf(idOf(item));
      const group = groups.get(shard);
      if (group) group.push(item);
      else groups.set(shard, [item]);
    }
    return groups;
  }

  /** Shard numbers, 0 to REDIS_SHARDS - 1. */
  all(): number[] {
    return Array.from({ length: this.shards }, (_, i) => i);
  }
}
