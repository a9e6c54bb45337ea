import { primaries, type RedisClient } from './connection.js';

/** What to do when Redis is full, for log lines and health answers. */
export const REDIS_FULL_ADVICE =
  'give Redis more memory (maxmemory), or shorten DEDUP_WINDOW or lower BACKLOG_LIMIT (README, "Scaling out")';

/** Whether Redis refused a write (or a script, BullMQ's included) because used memory passed `maxmemory` (noeviction). */
export function isOutOfMemory(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('OOM ');
}

export interface RedisMemory {
  /** `used_memory`: what Redis has allocated for data and its own bookkeeping. */
  usedBytes: number;
  /** `maxmemory`; 0 means no limit (Redis then grows until the host runs out). */
  maxBytes: number;
}

/** Reads `used_memory` and `maxmemory` from the text of `INFO memory`. */
export function parseMemoryInfo(info: string): RedisMemory {
  const field = (name: string) => {
    const match = new RegExp(`^${name}:(\\d+)`, 'm').exec(info);
    if (!match) throw new Error(`INFO memory has no ${name}`);
    return Number(match[1]);
  };
  return { usedBytes: field('used_memory'), maxBytes: field('maxmemory') };
}

/**
 * Redis's memory: on a cluster, the fullest master's (each master refuses writes on its own when
 * full), so that used/max says how close the service is to 503s.
 */
export async function readRedisMemory(redis: RedisClient): Promise<RedisMemory> {
  const all = await Promise.all(primaries(redis).map(async (node) => parseMemoryInfo(await node.info('memory'))));
  const fill = (m: RedisMemory) => (m.maxBytes > 0 ? m.usedBytes / m.maxBytes : 0);
  return all.reduce((fullest, m) =>
    fill(m) > fill(fullest) || (fill(m) === fill(fullest) && m.usedBytes > fullest.usedBytes) ? m : fullest,
  );
}
