import { Agent, request as httpRequest } from 'node:http';
import type { KableEmulator } from '../../tools/kable-emulator.js';
import { basicAuth, track } from './harness.js';
import { waitFor } from './wait.js';

/** How one HTTP request to the service ended: a status, or a network error code. */
export interface SendOutcome {
  status?: number;
  error?: string;
  ms: number;
}

const keepAliveAgent = new Agent({ keepAlive: true, maxSockets: 64 });

/**
 * POSTs JSON to the service. `keepAlive: false` opens a new connection per request, so a
 * request never races the server closing an idle keep-alive connection (used around shutdown).
 */
export function postJson(baseUrl: string, path: string, body: unknown, options: { keepAlive?: boolean; timeoutMs?: number } = {}) {
  const started = performance.now();
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise<SendOutcome>((resolve) => {
    const done = (outcome: Omit<SendOutcome, 'ms'>) => resolve({ ...outcome, ms: Math.round(performance.now() - started) });
    const req = httpRequest(
      `${baseUrl}${path}`,
      {
        method: 'POST',
        agent: options.keepAlive === false ? false : keepAliveAgent,
        headers: { 'content-type': 'application/json', 'content-length': payload.length, authorization: basicAuth() },
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => done({ status: res.statusCode }));
        res.on('error', (error: NodeJS.ErrnoException) => done({ error: error.code ?? error.message }));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('client timeout'), { code: 'CLIENT_TIMEOUT' })));
    req.on('error', (error: NodeJS.ErrnoException) => done({ error: error.code ?? error.message }));
    req.end(payload);
  });
}

export interface Tally {
  /** Track events sent in requests (each messageId once, however often it was sent). */
  sent: number;
  /** Events whose request was answered 200 at least once. */
  accepted: number;
  /** Accepted events that Kable has (by transactionId). */
  delivered: number;
  /** Accepted events Kable does not have. */
  lost: number;
  /**
   * Events Kable counts more than once: a transactionId counted twice, or an event under a
   * transactionId that was never sent (the same event under a new id would be billed twice).
   */
  doubled: number;
  /** Times an accepted event reached Kable again in an accepted request (Kable discarded these). */
  repeatsSent: number;
  /** Events that reached Kable although their request was never answered 200 (the client would retry them). */
  deliveredUnacknowledged: number;
  /** How requests ended: `200`, `503`, `ECONNREFUSED`... → count. */
  outcomes: Record<string, number>;
}

/**
 * Sends track events through the real HTTP API and remembers which ones were answered 200,
 * then checks them against what the Kable emulator recorded.
 */
export class Ledger {
  readonly sent = new Set<string>();
  readonly accepted = new Set<string>();
  readonly outcomes: Record<string, number> = {};
  private counter = 0;

  /** A fresh track message with a unique messageId. */
  message(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    this.counter += 1;
    return track({ messageId: `ev-${process.pid}-${Date.now().toString(36)}-${this.counter}`, ...overrides });
  }

  /** Sends `messages` as one /v1/batch request (or /v1/track for a single message when `single`). */
  async send(baseUrl: string, messages: Record<string, unknown>[], options: { single?: boolean; keepAlive?: boolean } = {}) {
    const ids = messages.map((m) => m.messageId as string);
    for (const id of ids) this.sent.add(id);
    const outcome =
      options.single && messages.length === 1
        ? await postJson(baseUrl, '/v1/track', messages[0], options)
        : await postJson(baseUrl, '/v1/batch', { batch: messages }, options);
    const key = outcome.status !== undefined ? String(outcome.status) : (outcome.error ?? 'error');
    this.outcomes[key] = (this.outcomes[key] ?? 0) + 1;
    if (outcome.status === 200) for (const id of ids) this.accepted.add(id);
    return outcome;
  }

  /** Sends `count` new events in batches of `batchSize`, `parallel` requests at a time. */
  async load(baseUrl: string, count: number, options: { batchSize?: number; parallel?: number; keepAlive?: boolean } = {}) {
    const batchSize = options.batchSize ?? 10;
    const batches: Record<string, unknown>[][] = [];
    for (let i = 0; i < count; i += batchSize) {
      batches.push(Array.from({ length: Math.min(batchSize, count - i) }, () => this.message()));
    }
    const outcomes: SendOutcome[] = [];
    const lanes = Array.from({ length: options.parallel ?? 4 }, async () => {
      for (let batch = batches.shift(); batch; batch = batches.shift()) outcomes.push(await this.send(baseUrl, batch, options));
    });
    await Promise.all(lanes);
    return outcomes;
  }

  tally(kable: KableEmulator): Tally {
    const counted = new Map<string, number>();
    for (const event of kable.events) counted.set(event.transactionId, (counted.get(event.transactionId) ?? 0) + 1);
    let delivered = 0;
    let repeatsSent = 0;
    for (const id of this.accepted) {
      if (counted.has(id)) delivered += 1;
      repeatsSent += Math.max(0, (kable.arrivals.get(id) ?? 0) - 1);
    }
    return {
      sent: this.sent.size,
      accepted: this.accepted.size,
      delivered,
      lost: this.accepted.size - delivered,
      doubled: [...counted.values()].filter((n) => n > 1).length + [...counted.keys()].filter((id) => !this.sent.has(id)).length,
      repeatsSent,
      deliveredUnacknowledged: [...counted.keys()].filter((id) => this.sent.has(id) && !this.accepted.has(id)).length,
      outcomes: { ...this.outcomes },
    };
  }

  /** Waits until every accepted event reached Kable; rejects after `timeoutMs` with how many it still misses. */
  async waitForAccepted(kable: KableEmulator, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      () => ({ accepted: this.accepted.size, missing: [...this.accepted].filter((id) => !kable.arrivals.has(id)).length }),
      ({ missing }) => missing === 0,
      timeoutMs,
    );
  }
}

/** The one line each fault test prints (and RELIABILITY.md quotes). */
export function formatTally(name: string, t: Tally): string {
  return (
    `[${name}] sent ${t.sent}, accepted ${t.accepted}, delivered ${t.delivered}, duplicates counted by Kable ${t.doubled}, lost ${t.lost}` +
    ` (repeats sent to Kable ${t.repeatsSent}, delivered without a 200 ${t.deliveredUnacknowledged}; requests ${JSON.stringify(t.outcomes)})`
  );
}

/** The invariant: every event answered 200 is in Kable, and Kable counts each one once. */
export function expectInvariant(t: Tally): void {
  expect({ lost: t.lost, doubled: t.doubled }).toEqual({ lost: 0, doubled: 0 });
  expect(t.delivered).toBe(t.accepted);
}
