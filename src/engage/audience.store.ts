import type { RedisClient } from '../platform/redis/connection.js';
import type { Membership } from '../segment/membership.js';

/** Builds a Redis key under REDIS_PREFIX (RedisKeys.key). */
export type KeyFn = (...parts: string[]) => string;

/** What `record` did: changes written, and the new audiences refused because the cap was reached. */
export interface RecordResult {
  changed: number;
  refused: string[];
}

/** How the last sync of an audience ended (stored as JSON, shown by GET /v1/audiences). */
export interface LastSync {
  /** When it finished, ISO-8601. */
  at: string;
  /** Kable events queued for this audience by that sync. */
  events: number;
  result: 'ok' | 'failed';
  error?: string;
}

/**
 * One request's memberships: per (audience, user) the newest message wins and a repeat changes nothing; a change goes
 * to `members` and `dirty`. A new audience joins only under the cap, checked here so replicas cannot overshoot it.
 * KEYS: audiences, counts, then members and dirty per audience. ARGV: cap, audience count, their keys, then
 * (audience index, user, 1|0, ms) per message, ms kept as strings (Lua prints 1.6e+12). Returns changes, then refused indexes.
 */
const RECORD_SCRIPT = `
local cap = tonumber(ARGV[1])
local audiences = tonumber(ARGV[2])
local refused, out = {}, {0}
for i = 1, audiences do
  local audience = ARGV[2 + i]
  if redis.call('SISMEMBER', KEYS[1], audience) == 0 then
    if redis.call('SCARD', KEYS[1]) < cap then
      redis.call('SADD', KEYS[1], audience)
    else
      refused[i] = true
      out[#out + 1] = i
    end
  end
end
local changed = 0
for j = 3 + audiences, #ARGV, 4 do
  local a = tonumber(ARGV[j])
  local user, value, ms = ARGV[j + 1], ARGV[j + 2], ARGV[j + 3]
  local members, dirty = KEYS[1 + 2 * a], KEYS[2 + 2 * a]
  local apply, wasMember = not refused[a], false
  local current = apply and redis.call('HGET', members, user)
  if current then
    local bar = string.find(current, '|', 1, true)
    local currentValue = string.sub(current, 1, bar - 1)
    wasMember = currentValue == '1'
    if currentValue == value or tonumber(ms) < tonumber(string.sub(current, bar + 1)) then apply = false end
  end
  if apply then
    local state = value .. '|' .. ms
    redis.call('HSET', members, user, state)
    redis.call('HSET', dirty, user, state)
    if value == '1' and not wasMember then redis.call('HINCRBY', KEYS[2], ARGV[2 + a], 1) end
    if value == '0' and wasMember then redis.call('HINCRBY', KEYS[2], ARGV[2 + a], -1) end
    changed = changed + 1
  end
end
out[1] = changed
return out
`;

/** Closes an audience's window (`dirty` → `syncing`), unless an interrupted sync's `syncing` is still to finish. */
const CLOSE_WINDOW_SCRIPT = `
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RENAME', KEYS[1], KEYS[2])
return 1
`;

type Commands = RedisClient & {
  engageRecord(numKeys: number, ...args: Array<string | number>): Promise<number[]>;
  engageCloseWindow(dirty: string, syncing: string): Promise<number>;
};

/**
 * Audience state in Redis: per audience `engage:aud:<key>:` `members`, `dirty` (changed since the last sync), `syncing`
 * (the window a sync works through), `sent` (what Kable last received); `engage:audiences`, `engage:count`, `engage:last-sync`.
 */
export class AudienceStore {
  private readonly redis: Commands;

  constructor(
    redis: RedisClient,
    private readonly key: KeyFn,
  ) {
    this.redis = redis as Commands;
    if (typeof this.redis.engageRecord !== 'function') {
      redis.defineCommand('engageRecord', { lua: RECORD_SCRIPT });
      redis.defineCommand('engageCloseWindow', { lua: CLOSE_WINDOW_SCRIPT, numberOfKeys: 2 });
    }
  }

  get client(): RedisClient {
    return this.redis;
  }

  audienceKey(audience: string, part: 'members' | 'dirty' | 'syncing' | 'sent'): string {
    return this.key('engage', 'aud', audience, part);
  }

  get audiencesKey(): string {
    return this.key('engage', 'audiences');
  }

  get countsKey(): string {
    return this.key('engage', 'count');
  }

  get lastSyncKey(): string {
    return this.key('engage', 'last-sync');
  }

  /** Stores one request's memberships (one Lua call) whose audience exists or fits under `maxAudiences`; resolves with those refused. */
  async record(memberships: Membership[], maxAudiences = Number.MAX_SAFE_INTEGER): Promise<RecordResult> {
    if (memberships.length === 0) return { changed: 0, refused: [] };
    const audiences = [...new Set(memberships.map((m) => m.audience))];
    const index = new Map(audiences.map((a, i) => [a, i + 1]));
    const keys = [this.audiencesKey, this.countsKey];
    for (const audience of audiences) keys.push(this.audienceKey(audience, 'members'), this.audienceKey(audience, 'dirty'));
    const args: Array<string | number> = [maxAudiences, audiences.length, ...audiences];
    for (const m of memberships) args.push(index.get(m.audience)!, m.clientId, m.member ? '1' : '0', String(m.at));
    const [changed = 0, ...refused] = await this.redis.engageRecord(keys.length, ...keys, ...args);
    return { changed, refused: refused.map((i) => audiences[i - 1]).filter((audience) => audience !== undefined) };
  }

  async audiences(): Promise<string[]> {
    return (await this.redis.smembers(this.audiencesKey)).sort();
  }

  /** Closes the audience's current window (see CLOSE_WINDOW_SCRIPT); true if there was one. */
  async closeWindow(audience: string): Promise<boolean> {
    return (await this.redis.engageCloseWindow(this.audienceKey(audience, 'dirty'), this.audienceKey(audience, 'syncing'))) === 1;
  }

  async setLastSync(audience: string, lastSync: LastSync): Promise<void> {
    await this.redis.hset(this.lastSyncKey, audience, JSON.stringify(lastSync));
  }

  /** Per audience: member count, users changed since the last sync (pending), last sync. */
  async status(): Promise<Array<{ audience: string; members: number; pendingChanges: number; lastSync: LastSync | null }>> {
    const audiences = await this.audiences();
    if (audiences.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const audience of audiences) {
      pipeline.hget(this.countsKey, audience);
      pipeline.hlen(this.audienceKey(audience, 'dirty'));
      pipeline.hlen(this.audienceKey(audience, 'syncing'));
      pipeline.hget(this.lastSyncKey, audience);
    }
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0] as Error;
    return audiences.map((audience, i) => {
      const [count, dirty, syncing, last] = results.slice(i * 4, i * 4 + 4).map(([, value]) => value);
      return {
        audience,
        members: Number(count ?? 0),
        pendingChanges: Number(dirty) + Number(syncing),
        lastSync: typeof last === 'string' ? (JSON.parse(last) as LastSync) : null,
      };
    });
  }
}
