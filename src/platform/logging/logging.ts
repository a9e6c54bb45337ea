import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { DynamicModule } from '@nestjs/common';
import { LoggerModule, type Params } from 'nestjs-pino';
import type { DestinationStream, Logger } from 'pino';
import type { AppConfig } from '../config/config.js';

/** Where a secret could appear in a log object: a second line of defence, request lines hold no headers or bodies. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-signature"]',
  'req.headers["kable-client-secret"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-signature"]',
  'headers["kable-client-secret"]',
  '*.apiKey',
  '*.adminToken',
  '*.writeKey',
  '*.writeKeys',
  '*.sharedSecret',
  'apiKey',
  'adminToken',
  'writeKey',
  'sharedSecret',
];

const INCOMING_ID = /^[\w.:/@+=-]{1,128}$/;

/** Fastify's request id (`genReqId`): the caller's `X-Request-Id` when it is a sane token, else a new UUID. */
export function requestId(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && INCOMING_ID.test(incoming) ? incoming : randomUUID();
}

/** The URL with every query value (and any part without `=`) replaced by `[redacted]`: callers put tokens there (`?writeKey=`). */
export function redactQuery(url: string): string {
  const q = url.indexOf('?');
  if (q === -1 || q === url.length - 1) return url;
  const parts = url
    .slice(q + 1)
    .split('&')
    .map((part) => {
      if (part === '') return part;
      const eq = part.indexOf('=');
      return eq === -1 ? '[redacted]' : `${part.slice(0, eq)}=[redacted]`;
    });
  return `${url.slice(0, q)}?${parts.join('&')}`;
}

// Health probes and scrapes arrive every few seconds and say nothing; they are not logged.
const QUIET = /^\/(health\/|metrics(\?|$))/;

/**
 * Structured logs (pino through nestjs-pino); the first app built in a process sets the root logger's options.
 * nestjs-pino's per-request middleware is not mounted (a large share of ingest's CPU, BENCHMARKS.md): request lines come
 * from `logRequest`, and application lines carry no request id.
 */
export function loggerModule(config: AppConfig, options: { stream?: DestinationStream; silent?: boolean } = {}): DynamicModule {
  const pinoHttp: Params['pinoHttp'] = {
    level: options.silent ? 'silent' : config.logLevel,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    // Request lines already pass plain fields (logRequest): no Node serializers in front.
    wrapSerializers: false,
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: redactQuery(req.url) }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    ...(config.logFormat === 'pretty' && !options.stream
      ? { transport: { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
      : {}),
  };
  return LoggerModule.forRoot({
    pinoHttp: options.stream ? [pinoHttp, options.stream] : pinoHttp,
    // The middleware is mounted on no route (see above); the module still builds the root logger.
    forRoutes: [],
  });
}

/** The fields of a request line that createApp's onResponse hook needs. */
export interface AnsweredRequest {
  id: string;
  method: string;
  url: string;
  statusCode: number;
  elapsedMs: number;
}

/** One line per answered request (info, warn for 4xx, error for 5xx), without headers, bodies or query values. */
export function logRequest(logger: Logger | undefined, r: AnsweredRequest): void {
  if (!logger || QUIET.test(r.url)) return;
  const level = r.statusCode >= 500 ? 'error' : r.statusCode >= 400 ? 'warn' : 'info';
  if (!logger.isLevelEnabled(level)) return;
  const url = redactQuery(r.url);
  logger[level](
    { req: { id: r.id, method: r.method, url }, res: { statusCode: r.statusCode }, responseTime: Math.round(r.elapsedMs) },
    `${r.method} ${url} ${r.statusCode}`,
  );
}
