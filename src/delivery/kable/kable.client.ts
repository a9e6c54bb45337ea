import { Agent, request } from 'undici';
import type { AppConfig } from '../../platform/config/config.js';
import { classifyStatus, parseRetryAfter, type SendResult } from './kable.errors.js';

const MAX_BODY_CHARS = 2000;

/** Posts batches of events to Kable's `/api/v1/events/create`. One keep-alive connection pool per process. */
export class KableClient {
  private readonly agent: Agent;
  private readonly url: string;
  private readonly headers: Record<string, string>;

  constructor(private readonly config: AppConfig['kable']) {
    this.url = `${config.baseUrl}/api/v1/events/create`;
    this.agent = new Agent({ connections: Math.max(config.maxInFlight, 1) * 2, keepAliveTimeout: 30_000 });
    this.headers = {
      'content-type': 'application/json',
      accept: 'application/json',
      'kable-client-id': config.clientId,
      'kable-client-secret': config.apiKey,
    };
  }

  /** Posts the events, given as their JSON (as the delivery jobs hold them). */
  async send(eventJson: string[]): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const response = await request(this.url, {
        method: 'POST',
        headers: this.headers,
        body: `[${eventJson.join(',')}]`,
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.config.requestTimeoutMs),
      });
      const text = await response.body.text();
      const header = (name: string) => {
        const value = response.headers[name];
        return Array.isArray(value) ? value[0] : value;
      };
      const requestId = header('x-request-id');
      const kind = classifyStatus(response.statusCode);
      if (kind === 'ok') return { kind, status: response.statusCode, requestId, durationMs: elapsed() };
      return {
        kind,
        status: response.statusCode,
        reason: `HTTP ${response.statusCode}`,
        body: text.length > MAX_BODY_CHARS ? `${text.slice(0, MAX_BODY_CHARS)}…` : text,
        requestId,
        retryAfterMs: parseRetryAfter(header('retry-after')),
        durationMs: elapsed(),
      };
    } catch (error) {
      return { kind: 'retryable', reason: describeNetworkError(error, this.config.requestTimeoutMs), durationMs: elapsed() };
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  const err = error as { name?: string; code?: string; cause?: { code?: string }; message?: string };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `timeout after ${timeoutMs} ms`;
  const code = err.code ?? err.cause?.code;
  return code ? `network error ${code}` : `network error: ${err.message ?? 'unknown'}`;
}
