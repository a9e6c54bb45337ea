// Load generation with autocannon: Segment bodies in analytics-node's shape, each message with a
// unique messageId (the service deduplicates by messageId).
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { WRITE_KEY } from './procs.js';

const AUTH = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;
const TIMESTAMP = '2026-01-09T09:32:01.123Z';

/** One track message as @segment/analytics-node sends it, split around its messageId. */
function messageParts(i) {
  const message = {
    type: 'track',
    event: 'API Call',
    userId: `customer_${i % 50}`,
    properties: { endpoint: '/v1/things', method: 'POST', objectCount: (i % 7) + 1, durationMs: 12.5 },
    timestamp: TIMESTAMP,
    messageId: '@@ID@@',
    context: { library: { name: '@segment/analytics-node', version: '3.1.0' } },
    integrations: {},
    _metadata: { nodeVersion: process.version, jsRuntime: 'node' },
  };
  return JSON.stringify(message).split('@@ID@@');
}

/**
 * Makes request bodies: `next(seq)` returns the body of request number `seq`, whose messages have
 * the messageIds `${tag}-${seq}-${i}`. Built by concatenation: the load generator shares the 2 cores.
 */
export function bodyFactory(kind, eventsPerRequest) {
  const tag = `bench${randomBytes(4).toString('hex')}`;
  const parts = Array.from({ length: eventsPerRequest }, (_, i) => messageParts(i));
  let seq = 0;
  return {
    tag,
    /** Request numbers continue across runs, so a warm-up never reuses the measured run's messageIds. */
    nextSeq: () => seq++,
    path: kind === 'batch' ? '/v1/batch' : '/v1/track',
    eventsPerRequest,
    next(seq) {
      const id = `${tag}-${seq}-`;
      if (kind !== 'batch') return parts[0][0] + id + '0' + parts[0][1];
      let out = '{"batch":[';
      for (let i = 0; i < eventsPerRequest; i++) out += (i ? ',' : '') + parts[i][0] + id + i + parts[i][1];
      return out + `],"sentAt":"${TIMESTAMP}"}`;
    },
  };
}

/** Parses `${tag}-${seq}-${i}` back to seq. */
export function seqOf(messageId) {
  const end = messageId.lastIndexOf('-');
  return Number(messageId.slice(messageId.lastIndexOf('-', end - 1) + 1, end));
}

/**
 * Runs autocannon against `url` with bodies from `bodies`. Options: connections, duration (s),
 * rate (requests/s overall, paced), amount (requests), onAnswer(seq, status) for each answer.
 */
export async function runLoad(url, bodies, { connections = 50, duration = 10, rate, amount, onAnswer } = {}) {
  const result = await autocannon({
    url,
    connections,
    duration,
    amount,
    overallRate: rate,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: bodies.path,
        headers: { 'content-type': 'application/json', authorization: AUTH },
        setupRequest(req, context) {
          context.seq = bodies.nextSeq();
          req.body = bodies.next(context.seq);
          return req;
        },
        onResponse(status, _body, context) {
          onAnswer?.(context.seq, status);
        },
      },
    ],
  });
  const ok = result['2xx'];
  return {
    requestsPerSec: ok / result.duration,
    eventsPerSec: (ok * bodies.eventsPerRequest) / result.duration,
    ok,
    events: ok * bodies.eventsPerRequest,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    latency: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max, mean: result.latency.average },
    duration: result.duration,
  };
}
