import type { KableEvent } from '../segment/kable-event.js';
import type { Outcome, SendResult } from './kable/kable.errors.js';

export interface BatcherOptions {
  batchSize: number;
  flushIntervalMs: number;
  maxInFlight: number;
  /** Largest request body in bytes (KABLE_MAX_REQUEST_BYTES); no limit when absent. */
  maxRequestBytes?: number;
}

export type Sender<T> = (events: T[]) => Promise<SendResult>;

/** One `submit` call: its outcomes, filled in as Kable answers, and how many are still missing. */
interface Submission {
  outcomes: Outcome[];
  missing: number;
  resolve: (outcomes: Outcome[]) => void;
}

interface Pending<T> {
  event: T;
  /** Its size in the request body, without the comma. */
  bytes: number;
  at: number;
  submission: Submission;
  index: number;
}

/** Why an event too large for any request is not sent (it becomes a dead letter). */
export function oversizeReason(eventBytes: number, maxRequestBytes: number): string {
  return (
    `event is ${eventBytes.toLocaleString('en-US')} bytes of JSON (${(eventBytes + 2).toLocaleString('en-US')} as a request), ` +
    `over KABLE_MAX_REQUEST_BYTES (${maxRequestBytes}): not sent to Kable; raise the setting or shrink the event's properties`
  );
}

/** Taken events are dropped from the buffer's array once there are this many and they are half of it. */
const COMPACT_FROM = 4096;

function answer<T>(pending: Pending<T>, outcome: Outcome): void {
  const submission = pending.submission;
  submission.outcomes[pending.index] = outcome;
  submission.missing -= 1;
  if (submission.missing === 0) submission.resolve(submission.outcomes);
}

/**
 * Gathers the events of many concurrent delivery jobs into Kable requests of up to `batchSize`
 * events and `maxRequestBytes` bytes. A request goes out as soon as a batch is full, or when its
 * oldest event has waited `flushIntervalMs`; at most `maxInFlight` requests run at once. An event
 * too large for a request of its own is answered `final` at once and never sent.
 *
 * A 400 on a batch of several events is split in halves and retried until the bad events are
 * found alone, so one bad event does not sink the good ones beside it.
 */
export class KableBatcher<T = KableEvent> {
  /** Events waiting for a request: `buffer[head]` onwards, oldest first. */
  private buffer: Array<Pending<T>> = [];
  private head = 0;
  /** The sizes of the waiting events, commas included. */
  private pendingBytes = 0;
  private readonly maxBytes: number;
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushAll = false;

  constructor(
    private readonly send: Sender<T>,
    private readonly options: BatcherOptions,
    private readonly onRequest: (result: SendResult, events: number) => void = () => undefined,
  ) {
    this.maxBytes = options.maxRequestBytes ?? Infinity;
  }

  /**
   * Resolves with one outcome per event, in order, once Kable has answered for all of them.
   * `bytes[i]` is the size of `events[i]` in the request body; without it only `batchSize` applies.
   */
  submit(events: T[], bytes?: number[]): Promise<Outcome[]> {
    if (events.length === 0) return Promise.resolve([]);
    const now = Date.now();
    return new Promise<Outcome[]>((resolve) => {
      // One promise per submission, not per event: the worker submits a job's events at once.
      const submission: Submission = { outcomes: new Array<Outcome>(events.length), missing: events.length, resolve };
      events.forEach((event, index) => {
        const size = bytes?.[index] ?? 0;
        const pending = { event, bytes: size, at: now, submission, index };
        if (size + 2 > this.maxBytes) {
          answer(pending, { kind: 'final', reason: oversizeReason(size, this.maxBytes) });
          return;
        }
        this.pendingBytes += size + 1;
        this.buffer.push(pending);
      });
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
    const unsent = this.take(this.pending, Infinity);
    for (const p of unsent) answer(p, { kind: 'retryable', reason });
    this.schedule();
  }

  get pending(): number {
    return this.buffer.length - this.head;
  }

  /**
   * Takes up to the `n` oldest waiting events, as many as fit a body of `maxBytes` (at least one).
   * Moves the head rather than splicing: `splice(0, n)` copies every event still waiting.
   */
  private take(n: number, maxBytes: number): Array<Pending<T>> {
    const first = this.buffer[this.head];
    if (first === undefined) return [];
    // The body `[a,b]` is its events, a comma after each but the last, and the brackets.
    const end = Math.min(this.head + n, this.buffer.length);
    let body = 1 + first.bytes + 1;
    let last = this.head + 1;
    while (last < end) {
      const next = this.buffer[last];
      if (next === undefined || body + next.bytes + 1 > maxBytes) break;
      body += next.bytes + 1;
      last += 1;
    }
    const batch = this.buffer.slice(this.head, last);
    this.head = last;
    this.pendingBytes -= body - 1;
    if (this.head === this.buffer.length) {
      this.buffer = [];
      this.head = 0;
      this.pendingBytes = 0;
    } else if (this.head >= COMPACT_FROM && this.head * 2 >= this.buffer.length) {
      // Drop the taken part once it is at least half the array: each event is copied at most once more.
      this.buffer = this.buffer.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight) {
      const oldest = this.buffer[this.head];
      if (oldest === undefined) break;
      const due =
        this.flushAll ||
        this.pending >= this.options.batchSize ||
        1 + this.pendingBytes > this.maxBytes ||
        Date.now() - oldest.at >= this.options.flushIntervalMs;
      if (!due) break;
      const batch = this.take(this.options.batchSize, this.maxBytes);
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
    const oldest = this.buffer[this.head];
    if (oldest === undefined || this.inFlight >= this.options.maxInFlight) return;
    const wait = Math.max(0, oldest.at + this.options.flushIntervalMs - Date.now());
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
    if (result.kind === 'final' && result.status === 400 && batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      await this.deliver(batch.slice(0, half));
      await this.deliver(batch.slice(half));
      return;
    }
    const outcome = eventOutcome(result);
    for (const p of batch) answer(p, outcome);
  }
}

/** A request's answer as the outcome of each of its events (without the request's duration). */
function eventOutcome(result: SendResult): Outcome {
  if (result.kind === 'ok') return { kind: 'ok', status: result.status, requestId: result.requestId };
  const { kind, status, reason, body, requestId, retryAfterMs } = result;
  return { kind, status, reason, body, requestId, retryAfterMs };
}
