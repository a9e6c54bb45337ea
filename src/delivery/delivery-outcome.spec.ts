import { TRACE_ANSWER_CHARS } from '../trace/event-trace.js';
import { type JobFacts, planDelivery, type PlanSettings } from './delivery-outcome.js';
import type { Outcome } from './kable/kable.errors.js';

const HOUR = 3_600_000;
const NOW = Date.parse('2026-03-01T12:00:00Z');
const settings: PlanSettings = { retryHorizonMs: 4 * HOUR, traces: true, jobRecords: true };
const job: JobFacts = { id: '7', queuedAt: NOW - 60_000, attemptsMade: 0, source: 'ingest' };

const ok = (requestId = 'r1'): Outcome => ({ kind: 'ok', status: 200, requestId });
const unavailable: Outcome = { kind: 'retryable', status: 503, reason: 'HTTP 503', body: 'busy', requestId: 'r2', retryAfterMs: 5000 };
const unauthorized: Outcome = { kind: 'final', status: 401, reason: 'HTTP 401', body: '{"message":"no"}', requestId: 'r3' };
const timeout: Outcome = { kind: 'retryable', reason: 'timeout after 10000 ms' };

describe('planDelivery', () => {
  it('completes a job Kable took whole, recorded as one job record with its requests in order', () => {
    const plan = planDelivery([ok('a'), ok('a'), ok('b')], job, NOW, settings);
    expect(plan).toEqual({
      delivered: 3,
      retry: [],
      deadLetters: [],
      rewrite: false,
      trace: {
        kind: 'job',
        jobId: '7',
        record: {
          at: NOW,
          queuedAt: job.queuedAt,
          attempts: 1,
          runs: [
            ['a', 2],
            ['b', 1],
          ],
        },
      },
      end: { kind: 'complete' },
    });
  });

  it.each<[string, Partial<JobFacts>, Partial<PlanSettings>]>([
    ['a later attempt', { attemptsMade: 2 }, {}],
    ['a job rewritten by a 429', { retried: true }, {}],
    ['an engage job', { source: 'engage' }, {}],
    ['a job without an id', { id: undefined }, {}],
    ['traces kept longer than dedup keys', {}, { jobRecords: false }],
  ])('records one trace per event for %s', (_, facts, overrides) => {
    const attempts = (facts.attemptsMade ?? 0) + 1;
    const plan = planDelivery([ok('a'), ok('b')], { ...job, ...facts }, NOW, { ...settings, ...overrides });
    expect(plan.delivered).toBe(2);
    expect(plan.end).toEqual({ kind: 'complete' });
    const jobId = 'id' in facts ? facts.id : job.id;
    expect(plan.trace).toEqual({
      kind: 'events',
      records: [
        [0, { stage: 'delivered', at: NOW, jobId, queuedAt: job.queuedAt, attempts, kableRequestId: 'a' }],
        [1, { stage: 'delivered', at: NOW, jobId, queuedAt: job.queuedAt, attempts, kableRequestId: 'b' }],
      ],
    });
  });

  it('records no trace when traces are off', () => {
    const off = { ...settings, traces: false, jobRecords: false };
    expect(planDelivery([ok(), ok()], job, NOW, off).trace).toEqual({ kind: 'none' });
    expect(planDelivery([ok(), unavailable, unauthorized], job, NOW, off).trace).toEqual({ kind: 'none' });
  });

  it('retries only the retryable events, rewriting the job to hold them, with the first failure as the reason', () => {
    const plan = planDelivery([ok(), timeout, ok(), unavailable], job, NOW, settings);
    expect(plan.delivered).toBe(2);
    expect(plan.retry).toEqual([1, 3]);
    expect(plan.rewrite).toBe(true);
    expect(plan.deadLetters).toEqual([]);
    expect(plan.end).toEqual({ kind: 'retry', message: 'timeout after 10000 ms', retryAfterMs: undefined, pauseQueueMs: undefined });
    expect(plan.trace.kind === 'events' && plan.trace.records.map(([i, r]) => [i, r.stage])).toEqual([
      [0, 'delivered'],
      [1, 'retrying'],
      [2, 'delivered'],
      [3, 'retrying'],
    ]);
  });

  it('retries a job whose events all failed for now without rewriting it, passing Retry-After on', () => {
    const plan = planDelivery([unavailable, unavailable], job, NOW, settings);
    expect(plan.retry).toEqual([0, 1]);
    expect(plan.rewrite).toBe(false);
    expect(plan.end).toEqual({ kind: 'retry', message: 'HTTP 503: busy', retryAfterMs: 5000, pauseQueueMs: undefined });
    expect(plan.trace).toEqual({
      kind: 'events',
      records: [0, 1].map((i) => [
        i,
        {
          stage: 'retrying',
          at: NOW,
          jobId: '7',
          queuedAt: job.queuedAt,
          attempts: 1,
          status: 503,
          reason: 'HTTP 503',
          answer: 'busy',
          kableRequestId: 'r2',
        },
      ]),
    });
  });

  it('pauses the queue for a 429 with Retry-After, and only then', () => {
    const limited: Outcome = { kind: 'retryable', status: 429, reason: 'HTTP 429', retryAfterMs: 2000 };
    expect(planDelivery([limited], job, NOW, settings).end).toEqual({
      kind: 'retry',
      message: 'HTTP 429',
      retryAfterMs: 2000,
      pauseQueueMs: 2000,
    });
    const { retryAfterMs: _, ...withoutRetryAfter } = limited;
    expect(planDelivery([withoutRetryAfter], job, NOW, settings).end).toMatchObject({ kind: 'retry', pauseQueueMs: undefined });
  });

  it('keeps final failures as dead letters and completes the job for the events Kable took', () => {
    const plan = planDelivery([ok(), unauthorized], { ...job, attemptsMade: 3 }, NOW, settings);
    expect(plan.delivered).toBe(1);
    expect(plan.retry).toEqual([]);
    expect(plan.deadLetters).toEqual([
      {
        index: 1,
        letter: {
          reason: 'HTTP 401',
          status: 401,
          body: '{"message":"no"}',
          requestId: 'r3',
          attempts: 4,
          queuedAt: job.queuedAt,
          failedAt: NOW,
          jobId: '7',
        },
      },
    ]);
    expect(plan.end).toEqual({ kind: 'complete' });
    expect(plan.trace.kind === 'events' && plan.trace.records[1]).toEqual([
      1,
      {
        stage: 'failed',
        at: NOW,
        jobId: '7',
        queuedAt: job.queuedAt,
        attempts: 4,
        status: 401,
        reason: 'HTTP 401',
        answer: '{"message":"no"}',
        kableRequestId: 'r3',
      },
    ]);
  });

  it('fails the job when every event failed for good', () => {
    const oversize: Outcome = { kind: 'final', reason: 'event is too large' };
    const plan = planDelivery([unauthorized, oversize], job, NOW, settings);
    expect(plan.delivered).toBe(0);
    expect(plan.deadLetters.map((d) => [d.index, d.letter.reason])).toEqual([
      [0, 'HTTP 401'],
      [1, 'event is too large'],
    ]);
    expect(plan.end).toEqual({ kind: 'fail', message: 'HTTP 401: {"message":"no"}' });
  });

  it('gives up on retryable events once the retry horizon has passed', () => {
    const old = { ...job, queuedAt: NOW - 4 * HOUR };
    const plan = planDelivery([ok(), unavailable, unauthorized], old, NOW, settings);
    expect(plan.retry).toEqual([]);
    expect(plan.deadLetters.map((d) => [d.index, d.letter.reason])).toEqual([
      [1, 'gave up after the retry horizon (240 min): HTTP 503'],
      [2, 'HTTP 401'],
    ]);
    expect(plan.end).toEqual({ kind: 'complete' });
    expect(plan.trace.kind === 'events' && plan.trace.records[1]?.[1]).toMatchObject({
      stage: 'failed',
      reason: 'gave up after the retry horizon (240 min): HTTP 503',
    });
    // Just inside the horizon it is still retried.
    expect(planDelivery([unavailable], { ...job, queuedAt: NOW - 4 * HOUR + 1 }, NOW, settings).retry).toEqual([0]);
  });

  it('retries, keeps dead letters and counts deliveries of one mixed job at once', () => {
    const plan = planDelivery([unauthorized, ok(), unavailable, ok(), timeout], job, NOW, settings);
    expect(plan.delivered).toBe(2);
    expect(plan.retry).toEqual([2, 4]);
    expect(plan.deadLetters.map((d) => d.index)).toEqual([0]);
    expect(plan.rewrite).toBe(true);
    expect(plan.end).toEqual({ kind: 'retry', message: 'HTTP 503: busy', retryAfterMs: 5000, pauseQueueMs: undefined });
    expect(plan.trace.kind === 'events' && plan.trace.records.map(([, r]) => r.stage)).toEqual([
      'failed',
      'delivered',
      'retrying',
      'delivered',
      'retrying',
    ]);
  });

  it("cuts Kable's answer in trace records, not in dead letters", () => {
    const long: Outcome = { kind: 'final', status: 400, reason: 'HTTP 400', body: 'x'.repeat(TRACE_ANSWER_CHARS + 10) };
    const plan = planDelivery([long], job, NOW, settings);
    expect(plan.deadLetters[0]?.letter.body).toHaveLength(TRACE_ANSWER_CHARS + 10);
    expect(plan.trace.kind === 'events' && plan.trace.records[0]?.[1]).toMatchObject({ answer: 'x'.repeat(TRACE_ANSWER_CHARS) });
  });
});
