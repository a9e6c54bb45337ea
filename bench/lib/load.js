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

/** 32 pseudo-random bits from a string seed and two numbers (FNV-1a, then a murmur3 finaliser). */
function mix(seed, a, b) {
  let h = seed ^ Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const hex = (n, width) => n.toString(16).padStart(width, '0').slice(-width);

/**
 * Makes request bodies: `next(seq)` returns the body of request number `seq`. Message `i` of
 * request `seq` has the messageId `idOf(seq, i)`, shaped like analytics-node's
 * (`node-next-<ms>-<uuid>`, 60 characters): the uuid's first 20 hex digits are pseudo-random
 * (as incompressible as a real uuid's, for Redis memory and job compression), its last 12 encode
 * seq and i so that `seqOf` can read them back. Built by concatenation: the load generator shares
 * the 2 cores.
 */
export function bodyFactory(kind, eventsPerRequest) {
  const tag = `node-next-${Date.now()}-`;
  const seed = randomBytes(4).readUInt32LE(0);
  const parts = Array.from({ length: eventsPerRequest }, (_, i) => messageParts(i));
  const part = (/** @type {number} */ i) => /** @type {(typeof parts)[number]} */ (parts[i]); // i < eventsPerRequest
  const idOf = (seq, i) => {
    const a = mix(seed, seq, i);
    const b = mix(seed ^ 0x5bd1e995, seq, i);
    const c = mix(seed ^ 0x27d4eb2f, seq, i);
    return `${tag}${hex(a, 8)}-${hex(b, 4)}-4${hex(b >>> 16, 3)}-${hex(c, 4)}-${hex(seq, 8)}${hex(i, 4)}`;
  };
  let seq = 0;
  return {
    tag,
    idOf,
    /** Request numbers continue across runs, so a warm-up never reuses the measured run's messageIds. */
    nextSeq: () => seq++,
    path: kind === 'batch' ? '/v1/batch' : '/v1/track',
    eventsPerRequest,
    next(seq) {
      if (kind !== 'batch') return part(0)[0] + idOf(seq, 0) + part(0)[1];
      let out = '{"batch":[';
      for (let i = 0; i < eventsPerRequest; i++) out += (i ? ',' : '') + part(i)[0] + idOf(seq, i) + part(i)[1];
      return out + `],"sentAt":"${TIMESTAMP}"}`;
    },
  };
}

/** Reads seq back from a messageId made by `idOf`. */
export function seqOf(messageId) {
  return parseInt(messageId.slice(-12, -4), 16);
}

/**
 * @typedef {object} LoadOptions
 * @property {number} [connections]
 * @property {number} [duration] seconds
 * @property {number} [rate] requests/s overall, paced
 * @property {number} [amount] requests (instead of a duration)
 * @property {(seq: number, status: number) => void} [onAnswer] called for each answer
 */

/**
 * Runs autocannon against `url` with bodies from `bodies`.
 * @param {string} url
 * @param {ReturnType<typeof bodyFactory>} bodies
 * @param {LoadOptions} [options]
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
