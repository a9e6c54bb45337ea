import { MESSAGE_TYPES, type MessageType } from './segment-message.js';

/** The batch endpoint and its aliases: `/v1/import` (analytics-ruby, analytics-java) and `/v1/b` (analytics.js batching). */
export const BATCH_PATHS = ['batch', 'import', 'b'] as const;

/** analytics.js posts single calls to `/v1/t`, `/v1/i`, …: each letter stands for a type. */
export const SINGLE_ALIASES: Readonly<Record<string, MessageType>> = {
  t: 'track',
  i: 'identify',
  p: 'page',
  s: 'screen',
  g: 'group',
  a: 'alias',
};

/** The message type a single-call path segment names (`track` or `t`), or undefined. */
export function singleCallType(segment: string): MessageType | undefined {
  if ((MESSAGE_TYPES as readonly string[]).includes(segment)) return segment as MessageType;
  return Object.hasOwn(SINGLE_ALIASES, segment) ? SINGLE_ALIASES[segment] : undefined;
}

export type IngestRoute = { kind: 'single'; type: MessageType } | { kind: 'batch' | 'webhook' };

/**
 * Which ingest endpoint a request reached, from the route Fastify matched (its pattern and
 * decoded params), so the answer holds however the path was spelled (`/v1/%74rack` is /v1/track).
 */
export function ingestRoute(pattern: string | undefined, params: unknown): IngestRoute | undefined {
  if (pattern === '/v1/webhook') return { kind: 'webhook' };
  if (pattern === '/v1/:type') {
    const segment = (params as { type?: unknown } | undefined)?.type;
    const type = typeof segment === 'string' ? singleCallType(segment) : undefined;
    return type === undefined ? undefined : { kind: 'single', type };
  }
  if (pattern !== undefined && (BATCH_PATHS as readonly string[]).some((path) => pattern === `/v1/${path}`)) return { kind: 'batch' };
  return undefined;
}
