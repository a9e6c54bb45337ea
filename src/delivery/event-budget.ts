/** Thrown to the jobs still waiting for room when the budget is closed (the worker is stopping). */
export class BudgetClosedError extends Error {}

/**
 * Caps the events the active delivery jobs hold in memory at once, since BullMQ's concurrency counts
 * jobs, not events. Jobs beyond the budget stay active (locks renewed) and wait, first come first served.
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
 * How many jobs a worker should have active (BullMQ concurrency) at `eventsPerJob` events a job:
 * enough to fill the budget twice, within 1 and `max` (DELIVERY_CONCURRENCY), and no more, since
 * jobs fetched but not started are only kept from another worker that could start them.
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
