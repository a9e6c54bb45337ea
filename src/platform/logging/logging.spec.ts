import { pino } from 'pino';
import { logRequest, REDACTED_PATHS, redactQuery } from './logging.js';

describe('log redaction', () => {
  it('censors secrets wherever the known paths put them', () => {
    const lines: string[] = [];
    const logger = pino({ redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, { write: (line: string) => void lines.push(line) });
    logger.info({
      req: { headers: { authorization: 'Basic d2tfc2VjcmV0Og==', 'x-signature': 'sig-secret', 'kable-client-secret': 'sk_secret' } },
      headers: { 'kable-client-secret': 'sk_secret2' },
      config: { apiKey: 'sk_secret3', adminToken: 'admin-secret', writeKeys: ['wk_secret'], sharedSecret: 'shh-secret' },
      writeKey: 'wk_secret2',
    });
    const line = lines[0] ?? '';
    expect(line).not.toMatch(/sk_secret|admin-secret|wk_secret|shh-secret|sig-secret|d2tf/);
    expect(JSON.parse(line)).toMatchObject({
      req: { headers: { authorization: '[redacted]', 'x-signature': '[redacted]', 'kable-client-secret': '[redacted]' } },
      config: { apiKey: '[redacted]', adminToken: '[redacted]', writeKeys: '[redacted]', sharedSecret: '[redacted]' },
      writeKey: '[redacted]',
    });
  });
});

describe('request lines', () => {
  function capture(level = 'info') {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    return { logger, lines };
  }
  const answered = (statusCode: number, url = '/v1/track') => ({ id: 'req-1', method: 'POST', url, statusCode, elapsedMs: 3.6 });

  it('writes one line per answer: info for success, warn for 4xx, error for 5xx', () => {
    const { logger, lines } = capture();
    for (const status of [200, 401, 503]) logRequest(logger, answered(status));
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [30, 'POST /v1/track 200'],
      [40, 'POST /v1/track 401'],
      [50, 'POST /v1/track 503'],
    ]);
    expect(lines[0]).toMatchObject({ req: { id: 'req-1', method: 'POST', url: '/v1/track' }, res: { statusCode: 200 }, responseTime: 4 });
  });

  it('skips health probes, metrics scrapes and levels that are off', () => {
    const { logger, lines } = capture('warn');
    logRequest(logger, answered(200, '/health/ready'));
    logRequest(logger, answered(200, '/metrics'));
    logRequest(logger, answered(200));
    logRequest(logger, answered(429));
    logRequest(undefined, answered(500));
    expect(lines.map((l) => l.msg)).toEqual(['POST /v1/track 429']);
  });
});

describe('redactQuery', () => {
  it.each([
    ['/v1/dead-letters?access_token=tok_secret&writeKey=wk_secret', '/v1/dead-letters?access_token=[redacted]&writeKey=[redacted]'],
    ['/v1/dead-letters?status=401&limit=10', '/v1/dead-letters?status=[redacted]&limit=[redacted]'],
    ['/v1/x?a=b=c&&empty=', '/v1/x?a=[redacted]&&empty=[redacted]'],
    ['/v1/x?wk_bare_secret', '/v1/x?[redacted]'],
    ['/v1/track', '/v1/track'],
    ['/v1/track?', '/v1/track?'],
  ])('%s → %s', (url, logged) => {
    expect(redactQuery(url)).toBe(logged);
  });

  it('is applied to the request line, in the URL field and in the message', () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({}, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    logRequest(logger, { id: 'req-2', method: 'GET', url: '/v1/dead-letters?access_token=tok_secret', statusCode: 401, elapsedMs: 1 });
    expect(lines[0]).toMatchObject({
      msg: 'GET /v1/dead-letters?access_token=[redacted] 401',
      req: { url: '/v1/dead-letters?access_token=[redacted]' },
    });
    expect(JSON.stringify(lines)).not.toContain('tok_secret');
  });
});
