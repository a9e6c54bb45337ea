import { backoffDelay, classifyStatus, parseRetryAfter } from './kable.errors.js';

describe('classifyStatus', () => {
  it.each([
    [200, 'ok'],
    [201, 'ok'],
    [400, 'final'],
    [401, 'final'],
    [403, 'final'],
    [404, 'final'],
    [413, 'final'],
    [422, 'final'],
    [408, 'retryable'],
    [423, 'retryable'],
    [429, 'retryable'],
    [500, 'retryable'],
    [501, 'final'],
    [502, 'retryable'],
    [503, 'retryable'],
    [504, 'retryable'],
  ])('%d → %s', (status, expected) => expect(classifyStatus(status)).toBe(expected));
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('0.5')).toBe(500);
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(parseRetryAfter('Mon, 01 Jan 2024 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Sun, 31 Dec 2023 00:00:00 GMT', now)).toBe(0);
  });
  it('ignores absent or unreadable values', () => {
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  it('grows exponentially with jitter between half and the full step, capped', () => {
    expect(backoffDelay(1, 300_000, undefined, () => 0)).toBe(500);
    expect(backoffDelay(1, 300_000, undefined, () => 1)).toBe(1000);
    expect(backoffDelay(4, 300_000, undefined, () => 1)).toBe(8000);
    expect(backoffDelay(30, 300_000, undefined, () => 1)).toBe(300_000);
    expect(backoffDelay(30, 300_000, undefined, () => 0)).toBe(150_000);
  });
  it('never waits less than Retry-After', () => {
    expect(backoffDelay(1, 300_000, 20_000, () => 0)).toBe(20_000);
  });
});
