import {
  newestRejection,
  parseReceived,
  receivedValue,
  rejectedNoteCode,
  requestIdAt,
  requestRuns,
  sampleRejected,
} from './event-trace.js';

describe('dedup key values (received records)', () => {
  const at = new Date('2026-11-29T16:30:00.123Z');

  it('writes the time and the job id, and reads them back', () => {
    expect(receivedValue(at, '4711')).toBe('1795969800123:4711');
    expect(parseReceived(receivedValue(at, '4711'))).toEqual({ r: at.getTime(), j: '4711' });
    expect(receivedValue(at, undefined)).toBe('1795969800123');
    expect(parseReceived(receivedValue(at, undefined))).toEqual({ r: at.getTime() });
  });

  it('writes and reads the position in the job', () => {
    // REMEMBER (dedup.store.ts) appends "/<index>" to the run's value for each key.
    expect(`${receivedValue(at, '4711')}/0`).toBe('1795969800123:4711/0');
    expect(parseReceived('1795969800123:4711/0')).toEqual({ r: at.getTime(), j: '4711', i: 0 });
    expect(parseReceived('1795969800123:4711/999')).toEqual({ r: at.getTime(), j: '4711', i: 999 });
    expect(parseReceived('1795969800123:custom:id-1/7')).toEqual({ r: at.getTime(), j: 'custom:id-1', i: 7 });
  });

  it('keeps job ids that contain colons or letters whole', () => {
    expect(parseReceived(receivedValue(at, 'custom:id-1'))).toEqual({ r: at.getTime(), j: 'custom:id-1' });
  });

  it('reads what earlier versions wrote: a JSON record, or "1"', () => {
    expect(parseReceived('{"r":1795969800123,"j":"12"}')).toEqual({ r: 1795969800123, j: '12' });
    expect(parseReceived('1')).toEqual({ r: 0 });
    expect(parseReceived('garbage')).toEqual({ r: 0 });
  });
});

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

  it('without an index (a key written before indexes), answers only when one request carried the job', () => {
    expect(requestIdAt([['a', 100]], undefined)).toBe('a');
    expect(
      requestIdAt(
        [
          ['a', 50],
          ['b', 50],
        ],
        undefined,
      ),
    ).toBeUndefined();
  });
});

describe('rejected samples', () => {
  const rejectedNote = (at: number, code = 'missing_event') => JSON.stringify({ stage: 'rejected', at, code, error: 'event is required' });

  it('tells a rejected note from a skipped one', () => {
    expect(rejectedNoteCode(rejectedNote(1))).toBe('missing_event');
    expect(rejectedNoteCode(JSON.stringify({ at: 1, code: 'too_large', error: 'x', stage: 'rejected' }))).toBe('too_large');
    expect(rejectedNoteCode(JSON.stringify({ stage: 'skipped', at: 1, type: 'identify', reason: 'not_forwarded' }))).toBeUndefined();
  });

  it('keeps only the last ones of each reason of a request, in order', () => {
    const notes = Array.from({ length: 2500 }, (_, i) => [`id-${i}`, `r${i}`, i % 2 === 0 ? 'missing_event' : 'too_large'] as const);
    const samples = sampleRejected(notes, 100);
    expect([...samples.keys()]).toEqual(['missing_event', 'too_large']);
    expect(samples.get('missing_event')).toHaveLength(100);
    expect(samples.get('missing_event')![0]).toEqual(['id-2300', 'r2300']);
    expect(samples.get('missing_event')![99]).toEqual(['id-2498', 'r2498']);
    expect(samples.get('too_large')![99]).toEqual(['id-2499', 'r2499']);
    expect(sampleRejected([]).size).toBe(0);
  });

  it('finds the newest rejection of an id across reasons, and ignores one older than the trace window', () => {
    const now = 10_000_000;
    expect(newestRejection([null, rejectedNote(now - 5, 'too_large'), rejectedNote(now - 1)], now, 1000)).toMatchObject({
      code: 'missing_event',
      at: now - 1,
    });
    expect(newestRejection([rejectedNote(now - 1001)], now, 1000)).toBeUndefined();
    expect(newestRejection([null], now, 1000)).toBeUndefined();
  });
});
