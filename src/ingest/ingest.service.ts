import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { DeliveryProducer } from '../delivery/delivery.producer.js';
import type { KableEvent } from '../segment/kable-event.js';
import type { Redis } from 'ioredis';
import { MetricsService } from '../platform/metrics/metrics.service.js';
import { REDIS } from '../platform/redis/redis.module.js';
import { withTimeout } from '../platform/redis/with-timeout.js';
import { EngageService } from '../engage/engage.service.js';
import type { Membership } from '../segment/membership.js';
import { receivedValue } from '../trace/event-trace.js';
import { DedupStore } from './dedup.store.js';
import { GroupCommitter } from './group-commit.js';
import { decideMessage, type DecisionContext, type DecisionSettings, decisionSettings } from '../segment/decision.js';
import { isPlainObject, isWellFormed, type MessageType, type RejectCode } from '../segment/segment-message.js';

export interface Rejection {
  index: number;
  messageId?: string;
  code: RejectCode;
  error: string;
}

export interface IngestResult {
  /** Valid messages: queued for Kable, deduplicated, skipped (not usage), or Engage audience membership (stored for the next audience sync). */
  accepted: number;
  /** Track events queued for Kable by this request. */
  queued: number;
  deduplicated: number;
  skipped: number;
  rejected: Rejection[];
}

export interface IngestInput {
  messages: unknown[];
  endpoint: string;
  /** The type implied by the endpoint (`/v1/track` → track). */
  defaultType?: MessageType;
  /** Encoded size of each message, when some may exceed 32 KB. */
  sizes?: Array<number | undefined>;
  /** Fields a `/v1/batch` body sets for all its messages (`context`, `integrations`). */
  shared?: Record<string, unknown>;
  /** The `sentAt` of a `/v1/batch` body: the device clock at sending, for messages without their own. */
  batchSentAt?: unknown;
  /** The request came from a browser (it had an `Origin` header): its write key is public. */
  fromBrowser: boolean;
  receivedAt: Date;
}

/** Thrown when the accepted messages could not be stored durably: the request must be answered 503. */
export class StorageUnavailableError extends Error {}

/** Validates, maps, deduplicates and durably queues Segment messages. */
@Injectable()
export class IngestService {
  private readonly logger = new Logger('Ingest');
  private readonly committer: GroupCommitter<StoreRequest, number>;
  /** The settings each message is decided by, compiled once (KABLE_EVENTS). */
  private readonly settings: DecisionSettings;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly producer: DeliveryProducer,
    private readonly dedup: DedupStore,
    private readonly metrics: MetricsService,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly engage: EngageService,
  ) {
    this.settings = decisionSettings(config.kable);
    this.committer = new GroupCommitter((requests) => this.store(requests), {
      maxInFlight: GROUP_IN_FLIGHT,
      maxWeight: GROUP_MAX_EVENTS,
      weight: (request) => request.candidates.length,
      slotTimeoutMs: STORE_TIMEOUT_MS,
    });
  }

  async ingest(input: IngestInput): Promise<IngestResult> {
    const { messages, receivedAt } = input;
    this.metrics.received.inc({ endpoint: input.endpoint }, messages.length);
    const rejected: Rejection[] = [];
    const candidates: KableEvent[] = [];
    const memberships: Membership[] = [];
    const inRequest = new Set<string>();
    let skipped = 0;
    let deduplicated = 0;
    // Trace records of skipped and rejected messages (GET /v1/events/:messageId).
    const notes: Array<[string, string]> = [];
    const now = receivedAt.getTime();
    const traced = this.config.eventTraceWindowMs > 0;

    // Fields a /v1/batch body sets for all its messages; analytics-node sets none.
    const shared = input.shared && Object.values(input.shared).some(isPlainObject) ? input.shared : undefined;

    const reject = (index: number, raw: unknown, code: RejectCode, error: string) => {
      const messageId = (raw as { messageId?: unknown } | null)?.messageId;
      rejected.push({ index, messageId: typeof messageId === 'string' ? messageId.slice(0, 100) : undefined, code, error });
      this.metrics.rejected.inc({ reason: code });
      // An id that is not well-formed Unicode would share its Redis key with another id.
      if (traced && typeof messageId === 'string' && messageId !== '' && messageId.length <= 100 && isWellFormed(messageId)) {
        notes.push([messageId, JSON.stringify({ stage: 'rejected', at: now, code, error })]);
      }
    };
    const ctx: DecisionContext = {
      receivedAt,
      defaultType: input.defaultType,
      batchSentAt: input.batchSentAt,
      fromBrowser: input.fromBrowser,
    };

    messages.forEach((raw, index) => {
      const decision = decideMessage(shared ? withShared(raw, shared) : raw, this.settings, ctx, input.sizes?.[index]);
      switch (decision.kind) {
        case 'rejected':
          return reject(index, raw, decision.code, decision.error);
        case 'skipped': {
          const { messageId, type, reason } = decision;
          skipped += 1;
          this.metrics.skipped.inc({ type, reason });
          if (traced) notes.push([messageId, JSON.stringify({ stage: 'skipped', at: now, type, reason })]);
          return;
        }
        case 'membership':
          return void memberships.push(decision.membership);
        case 'event': {
          const { transactionId } = decision.event;
          if (inRequest.has(transactionId)) {
            deduplicated += 1;
            return;
          }
          inRequest.add(transactionId);
          candidates.push(decision.event);
        }
      }
    });

    // Fail fast when Redis is not connected (BullMQ's add would wait for it), and never wait
    // longer than STORE_TIMEOUT_MS: the client is answered 503 and retries. If a timed-out add
    // completes after all, the retry is queued again with the same transactionId (Kable discards it).
    if ((memberships.length > 0 || candidates.length > 0) && this.redis.status !== 'ready') {
      throw new StorageUnavailableError(`Redis is ${this.redis.status}`);
    }
    if (memberships.length > 0) {
      try {
        skipped += await this.engage.record(memberships);
      } catch (error) {
        throw new StorageUnavailableError((error as Error).message);
      }
    }

    let queued = 0;
    if (candidates.length > 0 || notes.length > 0) {
      const fresh = await withTimeout(
        this.committer.submit({ candidates, notes, receivedAt }),
        STORE_TIMEOUT_MS,
        () => new StorageUnavailableError(`Redis did not answer within ${STORE_TIMEOUT_MS} ms`),
      ).catch((error: Error) => {
        throw error instanceof StorageUnavailableError ? error : new StorageUnavailableError(error.message);
      });
      deduplicated += candidates.length - fresh;
      queued = fresh;
    }
    if (deduplicated > 0) this.metrics.deduplicated.inc(deduplicated);
    const accepted = messages.length - rejected.length;
    this.metrics.accepted.inc(accepted);
    return { accepted, queued, deduplicated, skipped, rejected };
  }

  /**
   * Stores the requests of one group (GroupCommitter): checks the window for all their events,
   * queues what is new as one job, then remembers it (with the trace records and the backlog
   * count) in one command. Resolves with the number each request queued. A messageId that two
   * requests of the group carry is queued once, for the first of them.
   */
  private async store(requests: StoreRequest[]): Promise<number[]> {
    const seen = await this.dedup.seen(requests.flatMap((r) => r.candidates.map((e) => e.transactionId)));
    const taken = new Set<string>();
    let index = 0;
    const freshByRequest = requests.map((request) =>
      request.candidates.filter((event) => {
        const isNew = !seen[index++] && !taken.has(event.transactionId);
        if (isNew) taken.add(event.transactionId);
        return isNew;
      }),
    );
    const fresh = freshByRequest.flat();
    const jobId = await this.producer.enqueue(fresh, 'ingest', false);
    let start = 0; // where each request's events begin in the job
    await this.dedup
      .remember(
        freshByRequest.map((events, i) => {
          const run = { messageIds: events.map((e) => e.transactionId), value: receivedValue(requests[i].receivedAt, jobId), start };
          start += events.length;
          return run;
        }),
        requests.flatMap((r) => r.notes),
        fresh.length,
      )
      .catch((error: Error) => {
        // Queued but not remembered: a retry would be queued again with the same transactionId,
        // which Kable discards. Not worth failing the request for. The backlog counter, counted
        // in the same command, reads low until the queue is next empty (BacklogCounter).
        this.logger.warn(`could not record messageIds for deduplication: ${error.message}`);
      });
    return freshByRequest.map((events) => events.length);
  }
}

interface StoreRequest {
  candidates: KableEvent[];
  notes: Array<[string, string]>;
  receivedAt: Date;
}

/**
 * Group commit (GroupCommitter): one store at a time per process; requests arriving meanwhile are
 * stored together, up to GROUP_MAX_EVENTS events per job. One at a time also means two requests
 * of this process carrying the same messageId can no longer both pass the dedup check (each
 * group checks after the previous one has remembered its ids); only replicas can still race.
 */
const GROUP_IN_FLIGHT = 1;
const GROUP_MAX_EVENTS = 1000;

const STORE_TIMEOUT_MS = 3000;

function withShared(raw: unknown, shared: Record<string, unknown>): unknown {
  if (!isPlainObject(raw)) return raw;
  const out: Record<string, unknown> = { ...raw };
  for (const [key, value] of Object.entries(shared)) {
    if (!isPlainObject(value)) continue;
    const own = raw[key];
    out[key] = isPlainObject(own) ? { ...value, ...own } : (own ?? value);
  }
  return out;
}
