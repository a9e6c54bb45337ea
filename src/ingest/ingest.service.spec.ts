import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { DeliveryProducer } from '../delivery/delivery.producer.js';
import type { EngageService } from '../engage/engage.service.js';
import { loadConfig } from '../platform/config/config.js';
import { MetricsService } from '../platform/metrics/metrics.service.js';
import type { JobRef } from '../platform/redis/keys.js';
import type { KableEvent } from '../segment/kable-event.js';
import type { Membership } from '../segment/membership.js';
import type { EventTraceStore, IngestNote } from '../trace/event-trace.js';
import type { DedupCheck, DedupRun, DedupStore } from './dedup.store.js';
import { type IngestInput, IngestService, StorageUnavailableError } from './ingest.service.js';

const env = { KABLE_API_KEY: 'sk_test.abc', KABLE_CLIENT_ID: 'kci_1', SEGMENT_WRITE_KEYS: 'wk1' };
const receivedAt = new Date('2026-03-01T12:00:00.000Z');

const track = (messageId: string, extra: Record<string, unknown> = {}) => ({
  type: 'track',
  event: 'API Call',
  userId: 'customer_1',
  messageId,
  timestamp: '2026-03-01T11:59:00Z',
  ...extra,
});
const audienceEntered = (messageId: string) => ({
  type: 'identify',
  userId: 'customer_1',
  messageId,
  traits: { vip: true },
  context: { personas: { computation_class: 'audience', computation_key: 'vip' } },
});

/** The service with in-memory collaborators: a dedup window, a queue of jobs, trace notes, Engage membership. */
function setup(options: { traced?: boolean; env?: Record<string, string> } = {}) {
  const window = new Set<string>();
  const jobs: KableEvent[][] = [];
  const remembered: Array<{ jobId: string | undefined; runs: DedupRun[]; backlogAdded: number }> = [];
  const notes: IngestNote[] = [];
  const memberships: Membership[] = [];
  const redis = { status: 'ready' };
  const producer = {
    nextShard: () => 0,
    enqueueUncounted: jest.fn((events: KableEvent[]): Promise<JobRef | undefined> => {
      if (events.length === 0) return Promise.resolve(undefined);
      jobs.push(events);
      return Promise.resolve({ shard: 0, id: String(jobs.length) });
    }),
  };
  const dedup = {
    check: jest.fn((ids: string[]): Promise<DedupCheck> =>
      Promise.resolve({ seen: ids.map((id) => window.has(id)), now: 0, generation: 0, hashes: new Map(), epochs: new Map() }),
    ),
    remember: jest.fn((_check: DedupCheck, job: JobRef | undefined, runs: DedupRun[], backlogAdded: number): Promise<void> => {
      remembered.push({ jobId: job?.id, runs, backlogAdded });
      for (const run of runs) for (const id of run.messageIds) window.add(id);
      return Promise.resolve();
    }),
  };
  const traces = {
    enabled: options.traced ?? true,
    writeNotes: jest.fn((written: IngestNote[]): Promise<void> => {
      notes.push(...written);
      return Promise.resolve();
    }),
  };
  const engage = {
    record: jest.fn((recorded: Membership[]): Promise<number> => {
      memberships.push(...recorded);
      return Promise.resolve(0);
    }),
  };
  const metrics = new MetricsService();
  const service = new IngestService(
    loadConfig({ ...env, ...options.env }),
    producer as unknown as DeliveryProducer,
    dedup as unknown as DedupStore,
    traces as unknown as EventTraceStore,
    metrics,
    redis as unknown as Redis,
    engage as unknown as EngageService,
  );
  const ingest = (messages: unknown[], input: Partial<IngestInput> = {}) =>
    service.ingest({ messages, endpoint: 'batch', fromBrowser: false, receivedAt, ...input });
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const found = (await metrics.registry.getSingleMetric(name)?.get())?.values.find((v) =>
      Object.entries(labels).every(([key, value]) => v.labels[key] === value),
    );
    return found?.value ?? 0;
  };
  return { service, ingest, window, jobs, remembered, notes, memberships, redis, producer, dedup, traces, engage, metric };
}

beforeAll(() => Logger.overrideLogger(false));

describe('IngestService', () => {
  it('queues the new track events of a request as one job and remembers them with where they are in it', async () => {
    const s = setup();
    const result = await s.ingest([track('a'), track('b')]);
    expect(result).toEqual({ accepted: 2, queued: 2, deduplicated: 0, skipped: 0, rejected: [] });
    expect(s.jobs.map((job) => job.map((e) => e.transactionId))).toEqual([['a', 'b']]);
    expect(s.jobs[0]?.[0]).toEqual({ clientId: 'customer_1', timestamp: '2026-03-01T11:59:00Z', transactionId: 'a', data: {} });
    expect(s.remembered).toEqual([{ jobId: '1', runs: [{ messageIds: ['a', 'b'], start: 0 }], backlogAdded: 2 }]);
    // In the generation the check read, with the hashes it computed.
    expect(s.dedup.remember.mock.calls[0]?.[0]).toBe(await s.dedup.check.mock.results[0]?.value);
  });

  it('deduplicates inside the request and against the window', async () => {
    const s = setup();
    s.window.add('old');
    const result = await s.ingest([track('a'), track('a'), track('old')]);
    expect(result).toMatchObject({ accepted: 3, queued: 1, deduplicated: 2 });
    expect(s.jobs).toEqual([[expect.objectContaining({ transactionId: 'a' })]]);
    expect(await s.metric('segment_messages_deduplicated_total')).toBe(2);
  });

  it('stores concurrent requests as one group: one job, one run each, a shared messageId queued for the first', async () => {
    const s = setup();
    let release: () => void = () => undefined;
    // Hold the first group until the next two requests wait behind it.
    s.producer.enqueueUncounted.mockImplementationOnce(async (events) => {
      await new Promise<void>((resolve) => (release = resolve));
      s.jobs.push(events);
      return { shard: 0, id: '1' };
    });
    const first = s.ingest([track('a')]);
    await new Promise((resolve) => setImmediate(resolve));
    const second = s.ingest([track('b'), track('c')]);
    const third = s.ingest([track('c'), track('d')]);
    release();
    expect(await first).toMatchObject({ queued: 1 });
    expect(await second).toMatchObject({ queued: 2, deduplicated: 0 });
    expect(await third).toMatchObject({ queued: 1, deduplicated: 1 });
    expect(s.jobs.map((job) => job.map((e) => e.transactionId))).toEqual([['a'], ['b', 'c', 'd']]);
    expect(s.remembered[1]).toEqual({
      jobId: '2',
      runs: [
        { messageIds: ['b', 'c'], start: 0 },
        { messageIds: ['d'], start: 2 },
      ],
      backlogAdded: 3,
    });
  });

  it('notes skipped and rejected messages for the trace, and counts them', async () => {
    const s = setup();
    const result = await s.ingest([
      { type: 'page', userId: 'u1', messageId: 'p1' },
      { type: 'track', userId: 'u1', messageId: 'bad-1' },
      track('a'),
    ]);
    expect(result).toEqual({
      accepted: 2,
      queued: 1,
      deduplicated: 0,
      skipped: 1,
      rejected: [{ index: 1, messageId: 'bad-1', code: 'missing_event', error: 'event is required on a track call (a non-empty string)' }],
    });
    expect(s.notes).toEqual([
      ['p1', { stage: 'skipped', at: receivedAt.getTime(), type: 'page', reason: 'not_forwarded' }],
      ['bad-1', { stage: 'rejected', at: receivedAt.getTime(), code: 'missing_event', error: expect.any(String) }],
    ]);
    expect(await s.metric('segment_messages_received_total', { endpoint: 'batch' })).toBe(3);
    expect(await s.metric('segment_messages_accepted_total')).toBe(2);
    expect(await s.metric('segment_messages_rejected_total', { reason: 'missing_event' })).toBe(1);
    expect(await s.metric('segment_messages_skipped_total', { type: 'page', reason: 'not_forwarded' })).toBe(1);
  });

  it('writes no trace notes when traces are off, and does not touch the queue for a request with nothing to store', async () => {
    const s = setup({ traced: false });
    expect(await s.ingest([{ type: 'page', userId: 'u1', messageId: 'p1' }])).toMatchObject({ accepted: 1, skipped: 1, queued: 0 });
    expect(s.traces.writeNotes).not.toHaveBeenCalled();
    expect(s.dedup.check).not.toHaveBeenCalled();
  });

  it('records Engage membership with Engage, and skips it from a browser (its write key is public)', async () => {
    const s = setup();
    expect(await s.ingest([audienceEntered('m1')])).toMatchObject({ accepted: 1, queued: 0, skipped: 0 });
    expect(s.memberships).toEqual([expect.objectContaining({ audience: 'vip', clientId: 'customer_1', member: true })]);
    expect(s.jobs).toEqual([]);

    expect(await s.ingest([audienceEntered('m2')], { fromBrowser: true })).toMatchObject({ accepted: 1, skipped: 1 });
    expect(s.engage.record).toHaveBeenCalledTimes(1);
    expect(await s.metric('segment_messages_skipped_total', { reason: 'membership_from_browser' })).toBe(1);
  });

  it('counts the memberships Engage skipped as skipped', async () => {
    const s = setup();
    s.engage.record.mockResolvedValueOnce(1);
    expect(await s.ingest([audienceEntered('m1'), track('a')])).toMatchObject({ accepted: 2, queued: 1, skipped: 1 });
  });

  it('answers StorageUnavailableError at once when Redis is not connected, but still takes a request with nothing to store', async () => {
    const s = setup();
    s.redis.status = 'reconnecting';
    await expect(s.ingest([track('a')])).rejects.toThrow(new StorageUnavailableError('Redis is reconnecting'));
    await expect(s.ingest([audienceEntered('m1')])).rejects.toThrow(StorageUnavailableError);
    expect(s.dedup.check).not.toHaveBeenCalled();
    expect(s.engage.record).not.toHaveBeenCalled();
    expect(await s.ingest([{ type: 'page', userId: 'u1', messageId: 'p1' }])).toMatchObject({ accepted: 1, skipped: 1 });
    // Received and decided, but not accepted.
    expect(await s.metric('segment_messages_received_total', { endpoint: 'batch' })).toBe(3);
    expect(await s.metric('segment_messages_accepted_total')).toBe(1);
  });

  it('turns a failure to queue or to record membership into StorageUnavailableError', async () => {
    const s = setup();
    s.producer.enqueueUncounted.mockRejectedValueOnce(new Error('OOM command not allowed when used memory > maxmemory'));
    await expect(s.ingest([track('a')])).rejects.toThrow(
      new StorageUnavailableError('OOM command not allowed when used memory > maxmemory'),
    );
    expect(s.remembered).toEqual([]);
    s.engage.record.mockRejectedValueOnce(new Error('Connection is closed.'));
    await expect(s.ingest([audienceEntered('m1')])).rejects.toThrow(new StorageUnavailableError('Connection is closed.'));
    // The next request is stored as usual.
    expect(await s.ingest([track('a')])).toMatchObject({ queued: 1 });
  });

  it('answers StorageUnavailableError when Redis does not answer within the store timeout', async () => {
    jest.useFakeTimers();
    try {
      const s = setup();
      s.dedup.check.mockReturnValueOnce(new Promise(() => undefined));
      const answer = s.ingest([track('a')]);
      const settled = expect(answer).rejects.toThrow(new StorageUnavailableError('Redis did not answer within 3000 ms'));
      await jest.advanceTimersByTimeAsync(3000);
      await settled;
    } finally {
      jest.useRealTimers();
    }
  });

  it('accepts a request whose events were queued but could not be remembered, or whose notes could not be written', async () => {
    const s = setup();
    s.dedup.remember.mockRejectedValueOnce(new Error('Connection is closed.'));
    s.traces.writeNotes.mockRejectedValueOnce(new Error('Connection is closed.'));
    expect(await s.ingest([track('a'), { type: 'page', userId: 'u1', messageId: 'p1' }])).toMatchObject({ accepted: 2, queued: 1 });
    expect(s.jobs).toHaveLength(1);
  });

  it('decides each message of a batch with the fields the batch sets for all, its own winning', async () => {
    const s = setup({ env: { KABLE_CLIENT_ID_FIELD: 'context.groupId' } });
    const shared = { context: { groupId: 'org_shared', ip: '0.0.0.0' } };
    await s.ingest([track('a', { context: { ip: '1.2.3.4' } }), track('b', { context: { groupId: 'org_own' } })], { shared });
    expect(s.jobs[0]?.map((e) => [e.transactionId, e.clientId])).toEqual([
      ['a', 'org_shared'],
      ['b', 'org_own'],
    ]);
  });
});
