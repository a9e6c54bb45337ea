import type { KableEvent } from './kable-event.js';
import type { SendResult } from './kable.errors.js';

/** What happened to one event. */
export type EventOutcome =
  | { kind: 'delivered'; requestId?: string }
  | { kind: 'final' | 'retryable'; status?: number; reason: string; body?: string; requestId?: string; retryAfterMs?: number };

export interface BatcherOptions {
  batchSize: number;
  flushIntervalMs: number;
  maxInFlight: number;
}

export type Sender = (events: KableEvent[]) => Promise<SendResult>;

interface Pending {
  event: KableEvent;
  at: number;
  resolve: (outcome: EventOutcome) => void;
}

/**
 * Gathers the events of many concurrent delivery jobs into Kable requests of up to `batchSize`
 * events. A request goes out as soon as a batch is full, or when its oldest event has waited
 * `flushIntervalMs`; at most `maxInFlight` requests run at once.
 *
 * A 400 on a batch of several events is split in halves and retried until the bad events are
 * found alone, so one bad event does not sink the good ones beside it.
 */
export class KableBatcher {
  private buffer: Pending[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushAll = false;

  constructor(
    private readonly send: Sender,
    private readonly options: BatcherOptions,
    private readonly onRequest: (result: SendResult, events: number) => void = () => undefined,
  ) {}

  /** Resolves with one outcome per event, in order, once Kable has answered for all of them. */
  submit(events: KableEvent[]): Promise<EventOutcome[]> {
    const now = Date.now();
    const promises = events.map((event) => new Promise<EventOutcome>((resolve) => this.buffer.push({ event, at: now, resolve })));
    this.pump();
    return Promise.all(promises);
  }

  /** Sends everything buffered now, without waiting for the flush interval (used at shutdown). */
  flush(): void {
    this.flushAll = true;
    this.pump();
  }

  /**
   * Answers every event not sent yet as retryable, so that its job is handed back to the queue
   * (retried later, here or by another worker). Used at shutdown when Kable is too slow to drain.
   */
  abandon(reason: string): void {
    const unsent = this.buffer.splice(0);
    for (const p of unsent) p.resolve({ kind: 'retryable', reason });
    this.schedule();
  }

  get pending(): number {
    return this.buffer.length;
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.buffer.length > 0) {
      const due =
        this.flushAll || this.buffer.length >= this.options.batchSize || Date.now() - this.buffer[0].at >= this.options.flushIntervalMs;
      if (!due) break;
      const batch = this.buffer.splice(0, this.options.batchSize);
      this.inFlight += 1;
      void this.deliver(batch).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
    if (this.buffer.length === 0) this.flushAll = false;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.buffer.length === 0 || this.inFlight >= this.options.maxInFlight) return;
    const wait = Math.max(0, this.buffer[0].at + this.options.flushIntervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, wait);
  }

  private async deliver(batch: Pending[]): Promise<void> {
    let result: SendResult;
    try {
      result = await this.send(batch.map((p) => p.event));
    } catch (error) {
      result = { kind: 'retryable', reason: `unexpected error: ${(error as Error).message}`, durationMs: 0 };
    }
    this.onRequest(result, batch.length);
    if (result.kind === 'ok') {
      for (const p of batch) p.resolve({ kind: 'delivered', requestId: result.requestId });
      return;
    }
    if (result.kind === 'final' && result.status === 400 && batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      await this.deliver(batch.slice(0, half));
      await this.deliver(batch.slice(half));
      return;
    }
    const { kind, status, reason, body, requestId, retryAfterMs } = result;
    for (const p of batch) p.resolve({ kind, status, reason, body, requestId, retryAfterMs });
  }
}
