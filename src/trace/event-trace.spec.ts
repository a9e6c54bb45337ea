import {
  eventRecord,
  type JobTraceRecord,
  newestRejection,
  type RejectedRecord,
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
  const inJob = { id: '7', index: 2 };

  it('is the job record when the job was delivered whole, naming the request of the event', () => {
    expect(eventRecord(undefined, job, inJob)).toEqual({ stage: 'delivered', at: 2000, jobId: '7', attempts: 1, kableRequestId: 'req-b' });
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
