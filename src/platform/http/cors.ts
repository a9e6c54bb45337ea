import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BATCH_PATHS, ingestRoute } from '../../segment/tracking-api.js';

/** Headers a browser may send to the ingest endpoints (analytics.js sends the first two). */
const ALLOWED_HEADERS = 'Authorization, Content-Type, Content-Encoding, X-Request-Id';
/** How long a browser may cache a preflight answer, in seconds (Chromium caps it at 2 hours). */
const MAX_AGE_S = 7200;

/** Whether a browser page at `origin` may call the ingest endpoints, given CORS_ORIGINS. */
export function originAllowed(allowed: readonly string[], origin: string): boolean {
  return allowed.includes('*') || allowed.includes(origin.toLowerCase());
}

function refuse(reply: FastifyReply, origin: string, allowed: readonly string[]): FastifyReply {
  const why =
    allowed.length === 0
      ? 'browser requests are off: set CORS_ORIGINS to the origins of your pages (a write key in a web page is public; see SECURITY.md)'
      : `origin ${origin.slice(0, 200)} is not in CORS_ORIGINS`;
  return reply.code(403).send({ statusCode: 403, error: 'Forbidden', message: `cross-origin request refused: ${why}` });
}

/**
 * CORS for the Tracking API endpoints only (never the webhook, admin or health endpoints). A
 * browser request (one with an `Origin` header) from an origin not in CORS_ORIGINS is refused
 * with 403, POSTs included: a text/plain POST needs no preflight, so withholding the CORS headers
 * alone would still let it be stored.
 */
export function registerCors(fastify: FastifyInstance, allowed: readonly string[]): void {
  const isTrackingApi = (request: FastifyRequest) => {
    const route = ingestRoute(request.routeOptions.url, request.params);
    return route !== undefined && route.kind !== 'webhook';
  };
  fastify.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin === undefined || !isTrackingApi(request)) return;
    if (!originAllowed(allowed, origin)) return refuse(reply, origin, allowed);
    void reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    if (request.method === 'OPTIONS') {
      return reply
        .code(204)
        .header('access-control-allow-methods', 'POST')
        .header('access-control-allow-headers', ALLOWED_HEADERS)
        .header('access-control-max-age', String(MAX_AGE_S))
        .send();
    }
    void reply.header('access-control-expose-headers', 'X-Request-Id, Retry-After');
  });
  // Preflights: answered by the hook above; these routes only make them reach it (404 otherwise).
  const noBrowser = async (_request: FastifyRequest, reply: FastifyReply) =>
    reply.code(403).send({ statusCode: 403, error: 'Forbidden', message: 'a preflight needs an Origin header' });
  for (const path of [...BATCH_PATHS, ':type']) fastify.options(`/v1/${path}`, noBrowser);
}
