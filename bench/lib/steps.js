// Building blocks shared by the scenarios.
import { bodyFactory, runLoad, seqOf } from './load.js';
import { sleep, startService } from './procs.js';
import { queueDepth, usedMemory } from './redis.js';

export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Polls `check` every `every` ms until it returns true or `timeoutMs` passes; returns whether it did. */
export async function waitFor(check, timeoutMs, every = 200) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return true;
    await sleep(every);
  }
  return check();
}

/** A short unmeasured run so that the JIT and the connection pools are warm. */
export async function warmUp(url, bodies, ctx) {
  await runLoad(url, bodies, { connections: 50, duration: ctx.warmup });
}

/**
 * Puts `events` track events on the delivery queue through an API-only service (no worker: Kable
 * is out of reach), in batches of `perRequest`. Returns the number of events accepted.
 */
export async function prefill(ctx, prefix, events, perRequest = 100, env = {}) {
  const api = await startService({ role: 'api', redisUrl: ctx.redis.url, prefix, kableUrl: ctx.kable.url, name: 'prefill', env });
  const bodies = bodyFactory(perRequest === 1 ? 'track' : 'batch', perRequest);
  const before = await usedMemory(ctx.redis.client);
  const result = await runLoad(api.url, bodies, { connections: 20, amount: Math.ceil(events / perRequest) });
  const after = await usedMemory(ctx.redis.client);
  await api.stop();
  return { accepted: result.events, memoryBefore: before, memoryAfter: after, load: result };
}

/**
 * End to end at a fixed offered load: `rate` events/s in requests of `perRequest` events to the
 * API at `apiUrl` for `duration` s, then waits for Kable to have them all. Lag is Kable's receipt
 * time minus the time the load generator had the 200 for the event's request.
 */
export async function endToEnd(ctx, apiUrl, prefix, { rate, perRequest = 20, duration, drainTimeoutMs = 30_000 }) {
  await ctx.kable.mode(200);
  const bodies = bodyFactory('batch', perRequest);
  await runLoad(apiUrl, bodies, { connections: 50, duration: ctx.warmup, rate: rate / perRequest });
  // Let the warm-up's events reach Kable before counting.
  await waitFor(async () => (await queueDepth(ctx.redis.client, prefix)) === 0, drainTimeoutMs);
  await sleep(1500);
  await ctx.kable.reset(true);
  const answered = [];
  const started = Date.now();
  const load = await runLoad(apiUrl, bodies, {
    connections: 50,
    duration,
    rate: rate / perRequest,
    onAnswer: (seq, status) => {
      if (status === 200) answered[seq] = Date.now();
    },
  });
  const loadEnded = Date.now();
  // Done when the queue is empty (nothing waiting, active or delayed for a retry) and Kable's count
  // has not moved for a second: what is missing then is really missing, not late.
  let lastCount = -1;
  const drained = await waitFor(
    async () => {
      const [{ distinct }, depth] = await Promise.all([ctx.kable.stats(), queueDepth(ctx.redis.client, prefix)]);
      const settled = depth === 0 && distinct === lastCount && distinct >= load.events;
      lastCount = distinct;
      return settled;
    },
    drainTimeoutMs,
    1000,
  );
  const stats = await ctx.kable.stats();
  const receipts = await ctx.kable.receipts();
  const lags = [];
  let first = Infinity;
  let last = 0;
  for (const [transactionId, at] of receipts) {
    const answeredAt = answered[seqOf(transactionId)];
    if (answeredAt !== undefined) lags.push(at - answeredAt);
    first = Math.min(first, at);
    last = Math.max(last, at);
  }
  lags.sort((a, b) => a - b);
  // Answered 200 but never seen by Kable (should stay 0: a 200 means durably queued).
  const received = new Set(receipts.map(([id]) => id));
  let missing = 0;
  answered.forEach((_, seq) => {
    for (let i = 0; i < perRequest; i++) if (!received.has(bodies.idOf(seq, i))) missing += 1;
  });
  await ctx.kable.reset(false);
  return {
    offeredEventsPerSec: rate,
    acceptedEventsPerSec: load.eventsPerSec,
    accepted: load.events,
    delivered: stats.distinct,
    missing,
    duplicates: stats.duplicates,
    drained,
    // Events that reached Kable per second, from the start of the load to the last receipt.
    deliveredEventsPerSec: stats.distinct / ((last - started) / 1000),
    deliveredDuringLoadPerSec: receipts.filter(([, at]) => at <= loadEnded).length / ((loadEnded - started) / 1000),
    eventsPerKableRequest: stats.requests ? stats.eventsReceived / stats.requests : null,
    kableRequests: stats.requests,
    lagMs: { p50: percentile(lags, 50), p99: percentile(lags, 99), max: lags.at(-1) ?? null },
    ingestLatencyMs: load.latency,
    errors: load.errors + load.non2xx,
  };
}

/** Delivery rate of a backlog of `total` events once a worker starts: polls Kable's distinct count. */
export async function measureDrain(ctx, total, timeoutMs) {
  let firstAt;
  let firstCount = 0;
  const start = Date.now();
  const done = await waitFor(
    async () => {
      const { distinct } = await ctx.kable.stats();
      if (firstAt === undefined && distinct > 0) {
        firstAt = Date.now();
        firstCount = distinct;
      }
      return distinct >= total;
    },
    timeoutMs,
    100,
  );
  const end = Date.now();
  const { distinct, duplicates, requests, eventsReceived } = await ctx.kable.stats();
  const seconds = (end - (firstAt ?? start)) / 1000;
  return {
    done,
    delivered: distinct,
    duplicates,
    eventsPerSec: seconds > 0 ? (distinct - firstCount) / seconds : NaN,
    seconds: (end - start) / 1000,
    eventsPerKableRequest: requests ? eventsReceived / requests : null,
  };
}
