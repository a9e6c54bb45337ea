import type { KableEvent } from '../segment/kable-event.js';
import { decodeSent, decodeState, diffMembership } from './audience-diff.js';
import type { AudienceStore } from './audience.store.js';

/** Queues Kable events for delivery; resolves once they are durably queued. */
export type Enqueue = (events: KableEvent[]) => Promise<void>;

export interface AudienceSyncResult {
  audience: string;
  /** Users whose membership changed in the window (some changes cancel out). */
  checked: number;
  /** Kable events queued: users whose membership differs from what Kable last received. */
  events: number;
}

export interface SyncReport {
  startedAt: string;
  finishedAt: string;
  events: number;
  audiences: AudienceSyncResult[];
}

export interface AudienceSyncOptions {
  /** Events per delivery job (KABLE_BATCH_SIZE). */
  batchSize: number;
  /** Users read per step (default 4 × batchSize): bounds memory; larger steps mean fewer round trips. */
  stepSize?: number;
}

/**
 * One sync of every audience: close the window (`dirty` → `syncing`), walk `syncing` in HSCAN steps (bounded memory),
 * queue each step's changes, then commit them to `sent`. Queued before committed, so a crash re-queues the same events
 * (same transactionIds, counted once by Kable). A plain class, so scripts can run it.
 */
export class AudienceSync {
  constructor(
    private readonly store: AudienceStore,
    private readonly enqueue: Enqueue,
    private readonly options: AudienceSyncOptions,
  ) {}

  async run(now: () => Date = () => new Date()): Promise<SyncReport> {
    const startedAt = now().toISOString();
    const audiences: AudienceSyncResult[] = [];
    for (const audience of await this.store.audiences()) {
      try {
        const result = await this.syncAudience(audience);
        audiences.push(result);
        await this.store.setLastSync(audience, { at: now().toISOString(), events: result.events, result: 'ok' });
      } catch (error) {
        await this.store
          .setLastSync(audience, { at: now().toISOString(), events: 0, result: 'failed', error: (error as Error).message })
          .catch(() => undefined);
        throw error;
      }
    }
    return { startedAt, finishedAt: now().toISOString(), events: audiences.reduce((n, a) => n + a.events, 0), audiences };
  }

  async syncAudience(audience: string): Promise<AudienceSyncResult> {
    const result: AudienceSyncResult = { audience, checked: 0, events: 0 };
    // First what an interrupted sync left, then the window that ends now.
    await this.drain(audience, result);
    if (await this.store.closeWindow(audience)) await this.drain(audience, result);
    return result;
  }

  private async drain(audience: string, result: AudienceSyncResult): Promise<void> {
    const redis = this.store.client;
    const syncing = this.store.audienceKey(audience, 'syncing');
    const sentKey = this.store.audienceKey(audience, 'sent');
    const { batchSize } = this.options;
    const stepSize = this.options.stepSize ?? batchSize * 4;
    // Users are removed as they are done; HSCAN still returns every user present from start to end.
    // Another pass catches any the cursor skipped while the hash shrank.
    while ((await redis.hlen(syncing)) > 0) {
      let cursor = '0';
      do {
        const [next, flat] = await redis.hscan(syncing, cursor, 'COUNT', stepSize);
        cursor = next;
        const window = new Map<string, string>();
        for (let i = 1; i < flat.length; i += 2) window.set(flat[i - 1] ?? '', flat[i] ?? '');
        if (window.size === 0) continue;
        const users = [...window.keys()];
        const sent = await redis.hmget(sentKey, ...users);
        const diff = diffMembership(
          audience,
          users,
          users.map((u) => decodeState(window.get(u)!)),
          sent.map((s) => decodeSent(s)),
        );
        const jobs: Array<Promise<void>> = [];
        for (let i = 0; i < diff.events.length; i += batchSize) jobs.push(this.enqueue(diff.events.slice(i, i + batchSize)));
        // Every job must be stored before the step is committed; allSettled so none is still pending on a throw.
        const failure = (await Promise.allSettled(jobs)).find((r) => r.status === 'rejected');
        if (failure) throw failure.reason;
        const commit = redis.multi();
        if (diff.sent.length > 0) commit.hset(sentKey, ...diff.sent.flat());
        commit.hdel(syncing, ...users);
        const results = await commit.exec();
        const failed = results?.find(([error]) => error);
        if (!results || failed) throw (failed?.[0] as Error) ?? new Error('the sync step could not be committed (MULTI aborted)');
        result.checked += users.length;
        result.events += diff.events.length;
      } while (cursor !== '0');
    }
  }
}
