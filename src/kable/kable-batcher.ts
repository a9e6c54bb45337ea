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

export type Sender<T> = (events: T[]) => Promise<SendResult>;

/** One `submit` call: its outcomes, filled in as Kable answers, and how many are still missing. */
interface Submission {
  outcomes: EventOutcome[];
  missing: number;
  resolve: (outcomes: EventOutcome[]) => void;
}

interface Pending<T> {
  event: T;
  at: number;
  submission: Submission;
  index: number;
}

/** Taken events are dropped from the buffer's array once there are this many and they are half of it. */
const COMPACT_FROM = 4096;

function answer<T>(pending: Pending<T>, outcome: EventOutcome): void {
  const submission = pending.submission;
  submission.outcomes[pending.index] = outcome;
  submission.missing -= 1;
  if (submission.missing === 0) submission.resolve(submission.outcomes);
}

/**
 * Gathers the events of many concurrent delivery jobs into Kable requests of up to `batchSize`
 * events. A request goes out as soon as a batch is full, or when its oldest event has waited
 * `flushIntervalMs`; at most `maxInFlight` requests run at once.
 *
 * A 400 on a batch of several events is split in halves and retried until the bad events are
 * found alone, so one bad event does not sink the good ones beside it.
 */
export class KableBatcher<T = KableEvent> {
  /** Events waiting for a request: `buffer[head]` onwards, oldest first. */
  private buffer: Array<Pending<T>> = [];
  private head = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushAll = false;

  constructor(
    private readonly send: Sender<T>,
    private readonly options: BatcherOptions,
    private readonly onRequest: (result: SendResult, events: number) => void = () => undefined,
  ) {}

  /** Resolves with one outcome per event, in order, once Kable has answered for all of them. */
  submit(events: T[]): Promise<EventOutcome[]> {
    if (events.length === 0) return Promise.resolve([]);
    const now = Date.now();
    return new Promise<EventOutcome[]>((resolve) => {
      // One promise per submission, not per event: the worker submits a job's events at once.
      const submission: Submission = { outcomes: new Array<EventOutcome>(events.length), missing: events.length, resolve };
      events.forEach((event, index) => this.buffer.push({ event, at: now, submission, index }));
      this.pump();
    });
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
    const unsent = this.take(this.pending);
    for (const p of unsent) answer(p, { kind: 'retryable', reason });
    this.schedule();
  }

  get pending(): number {
    return this.buffer.length - this.head;
  }

  /**
   * Takes the `n` oldest waiting events. Moves the head instead of splicing the array: a worker
   * running thousands of large jobs buffers millions of events, and `splice(0, n)` copied all the
   * rest each time (a 3,000,000-event drain spent 38% of its CPU there; BENCHMARKS.md).
   */
  private take(n: number): Array<Pending<T>> {
    const batch = this.buffer.slice(this.head, this.head + n);
    this.head += batch.length;
    if (this.head === this.buffer.length) {
      this.buffer = [];
      this.head = 0;
    } else if (this.head >= COMPACT_FROM && this.head * 2 >= this.buffer.length) {
      // Drop the taken part once it is at least half the array: each event is copied at most once more.
      this.buffer = this.buffer.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.pending > 0) {
      const due =
        this.flushAll || this.pending >= this.options.batchSize || Date.now() - this.buffer[this.head].at >= this.options.flushIntervalMs;
      if (!due) break;
      const batch = this.take(this.options.batchSize);
      this.inFlight += 1;
      void this.deliver(batch).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
    if (this.pending === 0) this.flushAll = false;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending === 0 || this.inFlight >= this.options.maxInFlight) return;
    const wait = Math.max(0, this.buffer[this.head].at + this.options.flushIntervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, wait);
  }

  private async deliver(batch: Array<Pending<T>>): Promise<void> {
    let result: SendResult;
    try {
      result = await this.send(batch.map((p) => p.event));
    } catch (error) {
      result = { kind: 'retryable', reason: `unexpected error: ${(error as Error).message}`, durationMs: 0 };
    }
    this.onRequest(result, batch.length);
    if (result.kind === 'ok') {
      const delivered: EventOutcome = { kind: 'delivered', requestId: result.requestId };
      for (const p of batch) answer(p, delivered);
      return;
    }
    if (result.kind === 'final' && result.status === 400 && batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      await this.deliver(batch.slice(0, half));
      await this.deliver(batch.slice(half));
      return;
    }
    const { kind, status, reason, body, requestId, retryAfterMs } = result;
    for (const p of batch) answer(p, { kind, status, reason, body, requestId, retryAfterMs });
  }
}
