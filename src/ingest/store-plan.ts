import type { KableEvent } from '../segment/kable-event.js';
import type { DedupRun } from './dedup.store.js';

/** What one group commit stores. */
export interface StorePlan {
  /** The new events of all requests, in request order: one job. */
  events: KableEvent[];
  /** One run per request to remember: its new events' ids, from where they start in the job. */
  runs: DedupRun[];
  /** How many events each request queued. */
  queued: number[];
}

/**
 * Decides what a group of requests stores, given `seen[i]` for each of their events in order (the
 * dedup check): an event is new unless seen or carried by an earlier request of the group.
 */
export function planStore(requests: ReadonlyArray<{ events: readonly KableEvent[] }>, seen: readonly boolean[]): StorePlan {
  const plan: StorePlan = { events: [], runs: [], queued: [] };
  const taken = new Set<string>();
  let next = 0;
  for (const { events } of requests) {
    const run: DedupRun = { messageIds: [], start: plan.events.length };
    for (const event of events) {
      const wasSeen = seen[next++] ?? false;
      if (wasSeen || taken.has(event.transactionId)) continue;
      taken.add(event.transactionId);
      run.messageIds.push(event.transactionId);
      plan.events.push(event);
    }
    plan.runs.push(run);
    plan.queued.push(run.messageIds.length);
  }
  return plan;
}
