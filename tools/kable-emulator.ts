import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One usage event as Kable's `POST /api/v1/events/create` takes it: the emulator's own copy of Kable's contract. */
export interface KableEvent {
  clientId: string;
  timestamp: string;
  transactionId: string;
  data: Record<string, unknown>;
}

/** What the emulator answers to one request. */
export interface EmulatorResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Wait this long before answering (to act slow). */
  delayMs?: number;
  /** Drop the connection without answering (a network error). */
  destroy?: boolean;
}

export interface RecordedRequest {
  at: number;
  headers: IncomingHttpHeaders;
  events: KableEvent[];
  status: number;
  requestId: string;
}

export type Responder = (events: KableEvent[], request: { headers: IncomingHttpHeaders; index: number }) => EmulatorResponse | undefined;

/**
 * A local stand-in for Kable's `POST /api/v1/events/create`: records every request and, like
 * Kable, counts each transactionId once among accepted events. Used by the tests, the demo and
 * the benchmarks. By default it answers 200 "Events successfully recorded" with an X-REQUEST-ID
 * and 401 when credentials are configured and the request does not carry them.
 */
export class KableEmulator {
  readonly requests: RecordedRequest[] = [];
  /** Accepted events, one per transactionId (the first one), in arrival order. */
  readonly events: KableEvent[] = [];
  /** How many times each transactionId arrived in accepted requests (> 1 means Kable discarded repeats). */
  readonly arrivals = new Map<string, number>();
  private responder?: Responder;
  private server?: Server;
  private listeners: Array<() => void> = [];

  /** Requests answered since the last reset, whether kept in `requests` or not. */
  private received = 0;

  /**
   * `retain: false` keeps neither `requests` nor `events`, only the counts in `arrivals`: the
   * benchmarks send millions of events, and keeping them only to drop them later made this
   * emulator's garbage collection cost more than the service it measures.
   */
  constructor(
    private readonly options: { clientId?: string; apiKey?: string; onEvent?: (event: KableEvent) => void; retain?: boolean } = {},
  ) {}

  /** Decides the answer to each request; return undefined to answer normally. */
  respondWith(responder: Responder | undefined): void {
    this.responder = responder;
  }

  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        void this.handle(req.method ?? '', req.url ?? '', req.headers, Buffer.concat(chunks).toString('utf8')).then((answer) => {
          if (answer.destroy) {
            req.socket.destroy();
            return;
          }
          res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
          res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {}));
        });
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(port, host, resolve));
    return this.url;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo;
    return `http://127.0.0.1:${address.port}`;
  }

  /** Distinct transactionIds accepted. */
  get count(): number {
    return this.arrivals.size;
  }

  /** Resolves once at least `n` distinct events were accepted, or rejects after `timeoutMs`. */
  waitForEvents(n: number, timeoutMs = 15_000): Promise<void> {
    if (this.count >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== check);
        reject(new Error(`Kable emulator: expected ${n} events, got ${this.count} after ${timeoutMs} ms`));
      }, timeoutMs);
      const check = () => {
        if (this.count >= n) {
          clearTimeout(timer);
          this.listeners = this.listeners.filter((l) => l !== check);
          resolve();
        }
      };
      this.listeners.push(check);
    });
  }

  reset(): void {
    this.requests.length = 0;
    this.events.length = 0;
    this.arrivals.clear();
    this.received = 0;
    this.responder = undefined;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  private async handle(method: string, url: string, headers: IncomingHttpHeaders, text: string): Promise<EmulatorResponse> {
    const requestId = randomUUID();
    const retain = this.options.retain ?? true;
    const index = this.received++;
    const answer = (response: EmulatorResponse, events: KableEvent[]): EmulatorResponse => {
      if (retain) this.requests.push({ at: Date.now(), headers, events, status: response.status, requestId });
      return { ...response, headers: { 'x-request-id': requestId, ...response.headers } };
    };
    if (method !== 'POST' || url.split('?')[0] !== '/api/v1/events/create') {
      return answer({ status: 404, body: { message: 'Not found' } }, []);
    }
    let events: KableEvent[];
    try {
      const parsed = JSON.parse(text) as unknown;
      events = (Array.isArray(parsed) ? parsed : [parsed]) as KableEvent[];
    } catch {
      return answer({ status: 400, body: { message: 'Invalid JSON' } }, []);
    }
    const scripted = this.responder?.(events, { headers, index });
    if (scripted?.delayMs) await new Promise((resolve) => setTimeout(resolve, scripted.delayMs));
    if (scripted?.destroy) return answer(scripted, events);
    if (scripted && scripted.status !== 200) return answer(scripted, events);
    const { clientId, apiKey } = this.options;
    if ((clientId && headers['kable-client-id'] !== clientId) || (apiKey && headers['kable-client-secret'] !== apiKey)) {
      return answer({ status: 401, body: { message: 'Unauthorized' } }, events);
    }
    const invalid = events.find((e) => !e || typeof e.clientId !== 'string' || typeof e.timestamp !== 'string');
    if (invalid) return answer({ status: 400, body: { message: 'clientId and timestamp are required' } }, events);
    for (const event of events) {
      const seen = this.arrivals.get(event.transactionId) ?? 0;
      this.arrivals.set(event.transactionId, seen + 1);
      if (seen === 0) {
        if (retain) this.events.push(event);
        this.options.onEvent?.(event);
      }
    }
    for (const listener of [...this.listeners]) listener();
    return answer(scripted ?? { status: 200, body: 'Events successfully recorded' }, events);
  }
}
