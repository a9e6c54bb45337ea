import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig } from '../platform/config/config.js';
import { RedisKeys } from '../platform/redis/redis.module.js';
import {
  eventRecord,
  EventTraceStore,
  type JobTraceRecord,
  newestRejection,
  type RejectedRecord,
  REJECTED_SAMPLE_SIZE,
  requestIdAt,
  requestRuns,
  sampleRejected,
} from './event-trace.js';

describe('job trace runs (which Kable request carried which event of a job)', () => {
  it('run-length encodes request ids in event order, an unknown id as null', () => {
    expect(requestRuns(['a', 'a', 'b', undefined, undefined, 'a'])).toEqual([
      ['a', 2],
      ['b', 1],
      [null, 2],
      ['a', 1],
    ]);
    expect(requestRuns([])).toEqual([]);
  });

  it('finds the request of each index, and of none past the end', () => {
    const ids = ['a', 'a', 'b', undefined, 'c'];
    const runs = requestRuns(ids);
    ids.forEach((id, i) => expect(requestIdAt(runs, i)).toBe(id));
    expect(requestIdAt(runs, 5)).toBeUndefined();
  });
});

describe('the record of an event', () => {
  const job: JobTraceRecord = {
    at: 2000,
    attempts: 1,
    runs: [
      ['req-a', 2],
      ['req-b', 1],
    ],
  };
  const inJob = { shard: 2, id: '7', index: 2 };

  it('is the job record when the job was delivered whole, naming the request of the event', () => {
    expect(eventRecord(undefined, job, inJob)).toEqual({
      stage: 'delivered',
      at: 2000,
      jobId: '2.7',
      attempts: 1,
      kableRequestId: 'req-b',
    });
  });

  it('is the newer of the job record and the event record (a stalled job run again)', () => {
    const retrying = { stage: 'retrying', at: 3000, jobId: '7', attempts: 2, reason: 'HTTP 503' } as const;
    expect(eventRecord(retrying, job, inJob)).toBe(retrying);
    expect(eventRecord({ ...retrying, at: 1000 }, job, inJob)).toMatchObject({ stage: 'delivered', at: 2000 });
  });

  it('never lets a skipped later copy hide the delivery', () => {
    const skipped = { stage: 'skipped', at: 9000, type: 'identify', reason: 'not_forwarded' } as const;
    expect(eventRecord(skipped, job, inJob)).toMatchObject({ stage: 'delivered', at: 2000 });
    expect(eventRecord(skipped, undefined, inJob)).toBe(skipped);
    expect(eventRecord(undefined, undefined, undefined)).toBeUndefined();
  });
});

describe('rejected samples', () => {
  const rejected = (at: number, code = 'missing_event'): RejectedRecord => ({ stage: 'rejected', at, code, error: 'event is required' });

  it('keeps only the last ones of each reason of a request, in order', () => {
    const notes = Array.from({ length: 2500 }, (_, i) => [`id-${i}`, rejected(i, i % 2 === 0 ? 'missing_event' : 'too_large')] as const);
    const samples = sampleRejected(notes, 100);
    expect([...samples.keys()]).toEqual(['missing_event', 'too_large']);
    const even = samples.get('missing_event') ?? [];
    expect(even).toHaveLength(100);
    expect(even[0]).toEqual(['id-2300', JSON.stringify(rejected(2300))]);
    expect(even[99]).toEqual(['id-2498', JSON.stringify(rejected(2498))]);
    expect(samples.get('too_large')?.[99]).toEqual(['id-2499', JSON.stringify(rejected(2499, 'too_large'))]);
    expect(sampleRejected([]).size).toBe(0);
  });

  it('finds the newest rejection of an id across reasons, and ignores one older than the trace window', () => {
    const now = 10_000_000;
    const raw = (at: number, code?: string) => JSON.stringify(rejected(at, code));
    expect(newestRejection([null, raw(now - 5, 'too_large'), raw(now - 1)], now, 1000)).toMatchObject({
      code: 'missing_event',
      at: now - 1,
    });
    expect(newestRejection([raw(now - 1001)], now, 1000)).toBeUndefined();
    expect(newestRejection([null], now, 1000)).toBeUndefined();
  });
});

describe('EventTraceStore (Redis at 127.0.0.1:6379)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const base = { KABLE_API_KEY: 'sk_test.abc', KABLE_CLIENT_ID: 'kci_1', SEGMENT_WRITE_KEYS: 'wk1', REDIS_PREFIX: prefix };
  const config = loadConfig({ ...base, EVENT_TRACE_WINDOW: '1h' });
  const keys = new RedisKeys(config);
  let redis: Redis;
  let traces: EventTraceStore;

  beforeAll(() => {
    redis = new Redis('redis://127.0.0.1:6379');
    traces = new EventTraceStore(redis, config, keys);
  });
  afterAll(async () => {
    const written = await redis.keys(`${prefix}:*`);
    if (written.length > 0) await redis.del(...written);
    redis.disconnect();
  });

  const skipped = (at: number) => ({ stage: 'skipped', at, type: 'page', reason: 'not_forwarded' }) as const;
  const rejected = (at: number, code = 'missing_event'): RejectedRecord => ({ stage: 'rejected', at, code, error: 'event is required' });

  it('writes a skipped note as the trace of its message, never over a record that exists', async () => {
    const delivered = { stage: 'delivered', at: 5, attempts: 1 } as const;
    await traces.write([['n-delivered', delivered]]);
    await traces.writeNotes([
      ['n-skipped', skipped(1)],
      ['n-delivered', skipped(9)],
    ]);
    expect(await traces.record('n-skipped')).toEqual(skipped(1));
    expect(await traces.record('n-delivered')).toEqual(delivered);
    expect(await redis.pttl(keys.key('trace', 'n-skipped'))).toBeGreaterThan(3_590_000);
  });

  it('keeps the latest rejections of each reason, and leaves out ids that cannot name a key', async () => {
    const now = Date.now();
    const notes = Array.from({ length: REJECTED_SAMPLE_SIZE + 5 }, (_, i) => [`r-${i}`, rejected(now + i)] as [string, RejectedRecord]);
    await traces.writeNotes([
      ...notes,
      ['r-0', rejected(now, 'too_large')],
      ['lone-\ud800', rejected(now)],
      ['x'.repeat(101), rejected(now)],
    ]);
    expect(await traces.rejection('r-0')).toMatchObject({ code: 'too_large' });
    expect(await traces.rejection('r-4')).toBeUndefined();
    expect(await traces.rejection('r-5')).toMatchObject({ code: 'missing_event', at: now + 5 });
    expect(await redis.hlen(keys.key('rejected', 'missing_event', 'records'))).toBe(REJECTED_SAMPLE_SIZE);
    expect(await redis.llen(keys.key('rejected', 'missing_event', 'order'))).toBe(REJECTED_SAMPLE_SIZE);
    expect(await redis.hexists(keys.key('rejected', 'missing_event', 'records'), 'lone-\ud800')).toBe(0);
    expect(await traces.rejection('x'.repeat(101))).toBeUndefined();
  });

  it('reads an event of a job delivered whole from the job record', async () => {
    await traces.writeJob({ shard: 0, id: '77' }, { at: 10, attempts: 1, runs: [['req-1', 3]] });
    expect(await traces.record('j-event', { shard: 0, id: '77', index: 2 })).toEqual({
      stage: 'delivered',
      at: 10,
      jobId: '0.77',
      attempts: 1,
      kableRequestId: 'req-1',
    });
  });

  it('writes nothing with EVENT_TRACE_WINDOW=0', async () => {
    const off = new EventTraceStore(redis, loadConfig({ ...base, REDIS_PREFIX: `${prefix}-off`, EVENT_TRACE_WINDOW: '0' }), keys);
    expect(off.enabled).toBe(false);
    await off.writeNotes([['off-1', skipped(1)]]);
    await off.write([['off-2', { stage: 'delivered', at: 1, attempts: 1 }]]);
    expect(await traces.record('off-1')).toBeUndefined();
    expect(await traces.record('off-2')).toBeUndefined();
  });
});
