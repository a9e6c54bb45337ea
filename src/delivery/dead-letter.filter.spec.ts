import { matchesFilter, parseFilter, parseSelection, parseTime } from './dead-letter.filter.js';
import type { DeadLetter } from './dead-letter.store.js';

const NOW = Date.parse('2026-11-29T12:00:00Z');

const letter = (overrides: Partial<DeadLetter> = {}): DeadLetter => ({
  event: { clientId: 'cust_1', timestamp: '2026-11-29T10:00:00Z', transactionId: 'm1', data: {} },
  reason: 'HTTP 401',
  status: 401,
  body: '{"message":"Unauthorized"}',
  requestId: 'r1',
  attempts: 1,
  queuedAt: NOW - 60_000,
  failedAt: NOW - 30_000,
  ...overrides,
});

describe('parseTime', () => {
  it('reads ISO date-times and durations ago, nothing else', () => {
    expect(parseTime('2026-11-29T10:00:00Z', NOW)).toBe(Date.parse('2026-11-29T10:00:00Z'));
    expect(parseTime('2026-11-29T10:00:00.500+01:00', NOW)).toBe(Date.parse('2026-11-29T09:00:00.500Z'));
    expect(parseTime('2h', NOW)).toBe(NOW - 7_200_000);
    expect(parseTime('1h30m', NOW)).toBe(NOW - 5_400_000);
    for (const bad of ['3600', 'yesterday', '2026-11-29', '', undefined, 5]) expect(parseTime(bad, NOW)).toBeUndefined();
  });
});

describe('parseFilter', () => {
  it('reads query strings and JSON values', () => {
    expect(
      parseFilter({ status: '401,403', reason: ' Unauthorized ', clientId: 'c', since: '1h', until: '2026-11-29T12:00:00Z' }, NOW),
    ).toEqual({
      ok: true,
      value: { statuses: [401, 403], text: 'unauthorized', clientId: 'c', since: NOW - 3_600_000, until: NOW },
    });
    expect(parseFilter({ status: 500 }, NOW)).toEqual({ ok: true, value: { statuses: [500] } });
    expect(parseFilter({ status: 'none' }, NOW)).toEqual({ ok: true, value: { statuses: [0] } });
    expect(parseFilter({}, NOW)).toEqual({ ok: true, value: {} });
  });

  it('names every wrong field', () => {
    const result = parseFilter({ status: '4011', reason: '', clientId: 7, since: 'soon', until: '1d' }, NOW);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems.map((p) => p.split(' ')[0])).toEqual(['status', 'reason', 'clientId', 'since']);
    expect(parseFilter({ since: '1h', until: '2h' }, NOW)).toEqual({ ok: false, problems: ['since must not be after until'] });
    expect(parseFilter({ status: ['401'] }, NOW).ok).toBe(false);
  });
});

describe('parseSelection', () => {
  it('takes ids (deduplicated), a filter, or all: true', () => {
    expect(parseSelection({ transactionIds: ['a', 'b', 'a'] }, NOW)).toEqual({
      ok: true,
      value: { kind: 'ids', transactionIds: ['a', 'b'] },
    });
    expect(parseSelection({ all: true }, NOW)).toEqual({ ok: true, value: { kind: 'filter', filter: {} } });
    expect(parseSelection({ status: 401, since: '1h' }, NOW)).toEqual({
      ok: true,
      value: { kind: 'filter', filter: { statuses: [401], since: NOW - 3_600_000 } },
    });
  });

  it('refuses empty, mixed, unknown and oversized selections', () => {
    for (const body of [
      {},
      null,
      [],
      'all',
      { all: true, status: 401 },
      { transactionIds: ['a'], all: true },
      { all: 'yes' },
      { foo: 1 },
    ]) {
      expect(parseSelection(body, NOW).ok).toBe(false);
    }
    expect(parseSelection({ transactionIds: Array.from({ length: 1001 }, (_, i) => `id${i}`) }, NOW)).toEqual({
      ok: false,
      problems: ['transactionIds has 1001 entries; the limit is 1000 per call'],
    });
    expect(parseSelection({ transactionIds: ['x'.repeat(101)] }, NOW).ok).toBe(false);
  });
});

describe('matchesFilter', () => {
  it('applies every field', () => {
    expect(matchesFilter(letter(), {})).toBe(true);
    expect(matchesFilter(letter(), { statuses: [401] })).toBe(true);
    expect(matchesFilter(letter(), { statuses: [403] })).toBe(false);
    expect(matchesFilter(letter({ status: undefined, reason: 'gave up: timeout' }), { statuses: [0] })).toBe(true);
    expect(matchesFilter(letter(), { text: 'unauthorized' })).toBe(true);
    expect(matchesFilter(letter(), { text: 'http 401' })).toBe(true);
    expect(matchesFilter(letter(), { text: 'forbidden' })).toBe(false);
    expect(matchesFilter(letter(), { clientId: 'cust_1' })).toBe(true);
    expect(matchesFilter(letter(), { clientId: 'cust_2' })).toBe(false);
    expect(matchesFilter(letter(), { since: NOW - 30_000, until: NOW - 30_000 })).toBe(true);
    expect(matchesFilter(letter(), { since: NOW - 29_999 })).toBe(false);
    expect(matchesFilter(letter(), { until: NOW - 30_001 })).toBe(false);
  });
});
