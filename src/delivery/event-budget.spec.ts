import { activeJobsFor, BudgetClosedError, EventBudget, recentJobSize } from './event-budget.js';

const settled = async <T>(promise: Promise<T>): Promise<'pending' | T> => {
  let out: 'pending' | T = 'pending';
  void promise.then((value) => (out = value)).catch(() => undefined);
  await new Promise((resolve) => setImmediate(resolve));
  return out;
};

describe('EventBudget', () => {
  it('lets jobs in while their events fit, and the next ones in order as room is given back', async () => {
    const budget = new EventBudget(1000);
    expect(await budget.acquire(600)).toBe(600);
    expect(await budget.acquire(400)).toBe(400);
    const third = budget.acquire(300);
    const fourth = budget.acquire(10); // fits after the third, not before it
    expect(await settled(third)).toBe('pending');
    expect(await settled(fourth)).toBe('pending');
    budget.release(400);
    expect(await settled(third)).toBe(300);
    expect(await settled(fourth)).toBe(10);
    expect(budget.held).toBe(910);
    expect(budget.queued).toBe(0);
  });

  it('lets a job larger than the whole budget in alone, once nothing else is held', async () => {
    const budget = new EventBudget(1000);
    await budget.acquire(1);
    const big = budget.acquire(5000);
    expect(await settled(big)).toBe('pending');
    budget.release(1);
    expect(await settled(big)).toBe(1000);
    expect(budget.held).toBe(1000);
    budget.release(1000);
    expect(budget.held).toBe(0);
  });

  it('when closed, turns away the waiting jobs and any later one; held room is still given back', async () => {
    const budget = new EventBudget(10);
    await budget.acquire(10);
    const waiting = budget.acquire(1);
    budget.close();
    await expect(waiting).rejects.toBeInstanceOf(BudgetClosedError);
    await expect(budget.acquire(1)).rejects.toThrow('the worker is stopping');
    budget.release(10);
    expect(budget.held).toBe(0);
  });

  it('refuses a budget that is not a positive integer', () => {
    expect(() => new EventBudget(0)).toThrow('event budget must be a positive integer, not 0');
  });

  it('keeps as many jobs active as fill the budget twice at the recent job size, within 1 and DELIVERY_CONCURRENCY', () => {
    expect(activeJobsFor(16_000, 1000, 2000)).toBe(32);
    expect(activeJobsFor(16_000, 333, 2000)).toBe(97);
    expect(activeJobsFor(16_000, 1, 2000)).toBe(2000);
    expect(activeJobsFor(16_000, 0, 2000)).toBe(2000);
    expect(activeJobsFor(16_000, 50_000, 2000)).toBe(1);
    expect(activeJobsFor(16_000, 1000, 10)).toBe(10);
  });

  it('plans with a larger job at once, and comes down to smaller jobs by halves', () => {
    expect(recentJobSize(10, 1000)).toBe(1000);
    let size = 1000;
    const path: number[] = [];
    for (let i = 0; i < 4; i += 1) path.push((size = recentJobSize(size, 1)));
    expect(path).toEqual([500.5, 250.75, 125.875, 63.4375]);
    // From 1000-event jobs to single events: all of DELIVERY_CONCURRENCY within 10 jobs.
    for (let i = 0; i < 6; i += 1) size = recentJobSize(size, 1);
    expect(activeJobsFor(16_000, size, 2000)).toBe(2000);
  });
});
