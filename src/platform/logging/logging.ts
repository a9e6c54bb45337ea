import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { DynamicModule } from '@nestjs/common';
import { LoggerModule, type Params } from 'nestjs-pino';
import type { DestinationStream, Logger } from 'pino';
import type { AppConfig } from '../config/config.js';

/**
 * Every place a secret could appear in a log object. Request lines (`logRequest` below) already hold
 * no headers and no bodies; these paths are the second line of defence.
 */
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

/**
 * Fastify's request id (`genReqId`, which pino-http then uses): the caller's `X-Request-Id` when
 * it is a sane token, else a new UUID. createApp echoes it in the response's `X-Request-Id`.
 */
export function requestId(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && INCOMING_ID.test(incoming) ? incoming : randomUUID();
}

/**
 * The URL with every query-string value replaced by `[redacted]`, keys kept:
 * `/v1/dead-letters?access_token=[redacted]&limit=[redacted]`. Callers put tokens and write keys
 * there (`?writeKey=`, `?access_token=`); a part with no `=` may itself be a token and is replaced whole.
 */
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
 * Structured logs (pino through nestjs-pino): JSON lines by default, pino-pretty when
 * LOG_FORMAT=pretty or NODE_ENV=development. One line per HTTP request with its request id,
 * method, URL, status and time (`logRequest`, from a Fastify hook); no headers and no bodies
 * (they are costly and may hold secrets). nestjs-pino keeps one pino-http instance per process
 * (the root logger); the first app built decides its options.
 *
 * nestjs-pino's per-request middleware is not mounted: it made two child loggers per request
 * (with redaction) through Nest's middleware layer even when the line was not written, about 30%
 * of the CPU of a single-event ingest request (`node bench/ingest-cpu.js --kind track`: 128 vs
 * 90 us). Application log lines therefore carry their context, not the request id.
 */
export function loggerModule(config: AppConfig, options: { stream?: DestinationStream; silent?: boolean } = {}): DynamicModule {
  const pinoHttp: Params['pinoHttp'] = {
    level: options.silent ? 'silent' : config.logLevel,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    // pino-http would put Node's request/response serializers in front of these; request lines
    // already pass the plain fields (logRequest).
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

/**
 * Writes the line for an answered request: info for 2xx/3xx, warn for 4xx, error for 5xx;
 * `{ req: { id, method, url }, res: { statusCode }, responseTime, msg: "POST /v1/track 200" }`,
 * query-string values redacted (`redactQuery`).
 */
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
