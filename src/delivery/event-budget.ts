/** Thrown to the jobs still waiting for room when the budget is closed (the worker is stopping). */
export class BudgetClosedError extends Error {}

/**
 * Caps the events that the delivery jobs being processed hold in memory at once. BullMQ's
 * concurrency counts jobs (DELIVERY_CONCURRENCY, 2000), and a job holds up to 1000 events: with a
 * large backlog one worker decoded two million events at once and grew past 1.5 GB. Jobs beyond
 * the budget stay active (their locks renewed) and wait their turn, first come first served.
 */
export class EventBudget {
  private used = 0;
  private closed = false;
  private readonly waiting: Array<{ n: number; resolve: (n: number) => void; reject: (error: Error) => void }> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`event budget must be a positive integer, not ${limit}`);
  }

  /**
   * Resolves with the room taken, `n` or the whole budget when `n` is larger (such a job waits
   * until nothing else is held); give that back with `release`.
   */
  acquire(n: number): Promise<number> {
    const take = Math.max(0, Math.min(n, this.limit));
    if (this.closed) return Promise.reject(new BudgetClosedError('the worker is stopping'));
    if (this.waiting.length === 0 && this.used + take <= this.limit) {
      this.used += take;
      return Promise.resolve(take);
    }
    return new Promise((resolve, reject) => this.waiting.push({ n: take, resolve, reject }));
  }

  release(n: number): void {
    this.used -= n;
    for (let next = this.waiting[0]; next !== undefined && this.used + next.n <= this.limit; next = this.waiting[0]) {
      this.waiting.shift();
      this.used += next.n;
      next.resolve(next.n);
    }
  }

  /** Rejects every waiting job and any later `acquire`; held room is still given back. */
  close(): void {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter.reject(new BudgetClosedError('the worker is stopping'));
  }

  get held(): number {
    return this.used;
  }

  get queued(): number {
    return this.waiting.length;
  }
}

/**
 * How many jobs a worker should have active (BullMQ concurrency) when its jobs hold
 * `eventsPerJob` events on average: enough to fill the budget twice (the next jobs are fetched and
 * ready), and no more, within 1 and `max` (DELIVERY_CONCURRENCY). A worker that fetched jobs it
 * cannot start only keeps them from a worker that could: with 1000-event jobs and concurrency
 * 2000, the first of two workers took nearly the whole backlog and the second one idled.
 */
export function activeJobsFor(budget: number, eventsPerJob: number, max: number): number {
  return Math.max(1, Math.min(max, Math.ceil((2 * budget) / Math.max(1, eventsPerJob))));
}

/**
 * The job size that `activeJobsFor` plans with, after a job of `events`: a larger job counts at
 * once (never fetch more large jobs than can start), smaller ones halve the distance each time.
 */
export function recentJobSize(previous: number, events: number): number {
  return Math.max(events, (previous + events) / 2);
}
