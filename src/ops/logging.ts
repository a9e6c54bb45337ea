import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type DynamicModule, RequestMethod } from '@nestjs/common';
import { LoggerModule, type Params } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import type { AppConfig } from '../config/config.js';

/**
 * Every place a secret could appear in a log object. The request serializer below already keeps
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

// Health probes and scrapes arrive every few seconds and say nothing; they are not logged.
const QUIET = /^\/(health\/|metrics(\?|$))/;

/**
 * Structured logs (pino through nestjs-pino): JSON lines by default, pino-pretty when
 * LOG_FORMAT=pretty or NODE_ENV=development. One line per HTTP request with its request id,
 * method, URL, status and time; no headers and no bodies (they are costly and may hold secrets).
 * nestjs-pino keeps one pino-http instance per process: the first app built decides its options.
 */
export function loggerModule(config: AppConfig, options: { stream?: DestinationStream; silent?: boolean } = {}): DynamicModule {
  const pinoHttp: Params['pinoHttp'] = {
    level: options.silent ? 'silent' : config.logLevel,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    autoLogging: { ignore: (req) => QUIET.test(req.url ?? '') },
    quietReqLogger: true,
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    customSuccessMessage: (req, res) => `${req.method} ${req.url} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${req.url} ${res.statusCode}`,
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    ...(config.logFormat === 'pretty' && !options.stream
      ? { transport: { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
      : {}),
  };
  return LoggerModule.forRoot({
    pinoHttp: options.stream ? [pinoHttp, options.stream] : pinoHttp,
    // nestjs-pino's default route pattern ('{/*splat}') matches nothing with this Fastify adapter.
    forRoutes: [{ path: '*path', method: RequestMethod.ALL }],
  });
}
