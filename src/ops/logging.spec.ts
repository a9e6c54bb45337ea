import { pino } from 'pino';
import { REDACTED_PATHS } from './logging.js';

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
    const [line] = lines;
    expect(line).not.toMatch(/sk_secret|admin-secret|wk_secret|shh-secret|sig-secret|d2tf/);
    expect(JSON.parse(line)).toMatchObject({
      req: { headers: { authorization: '[redacted]', 'x-signature': '[redacted]', 'kable-client-secret': '[redacted]' } },
      config: { apiKey: '[redacted]', adminToken: '[redacted]', writeKeys: '[redacted]', sharedSecret: '[redacted]' },
      writeKey: '[redacted]',
    });
  });
});
