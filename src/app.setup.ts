import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { Logger, PinoLogger } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/config.js';
import { HttpExceptionFilter } from './http/http-exception.filter.js';
import { describeJsonError, MAX_JSON_DEPTH, nestedDeeperThan } from './ingest/json-depth.js';
import { LIMITS } from './ingest/segment-message.js';
import { logRequest, requestId } from './ops/logging.js';
import { setupOpenApi } from './ops/openapi.js';
import { mountQueueDashboard } from './ops/queue-dashboard.js';

const SINGLE_MESSAGE_ROUTE = /^\/v1\/(track|identify|page|screen|group|alias)(\?|$)/;

function httpError(status: number, message: string): Error & { statusCode: number } {
  return Object.assign(new Error(message), { statusCode: status });
}

/**
 * JSON bodies are read as bytes first: the size limit is enforced while reading (500 KB, Segment's
 * batch limit; 32 KB on single-message endpoints) and before parsing, so is the nesting depth
 * (64), and the raw bytes are kept
 * for X-Signature verification. Any content type is read as JSON, as Segment's API does.
 */
export function configureBodyParsing(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: LIMITS.batchBytes }, (req, body, done) => {
    const raw = body as Buffer;
    const limit = SINGLE_MESSAGE_ROUTE.test(req.url) ? LIMITS.messageBytes : LIMITS.batchBytes;
    if (raw.length > limit) {
      done(httpError(413, `body is ${raw.length} bytes; the limit for ${req.url.split('?')[0]} is ${limit} bytes`), undefined);
      return;
    }
    (req as unknown as { rawBody: Buffer }).rawBody = raw;
    if (raw.length === 0) {
      done(null, undefined);
      return;
    }
    if (nestedDeeperThan(raw, MAX_JSON_DEPTH)) {
      done(
        httpError(400, `body nests objects or arrays more than ${MAX_JSON_DEPTH} levels deep; Segment messages need far fewer`),
        undefined,
      );
      return;
    }
    try {
      done(null, JSON.parse(raw.toString('utf8')));
    } catch (error) {
      done(httpError(400, describeJsonError(error)), undefined);
    }
  });
}

/**
 * Builds the app. Logs go through pino (src/ops/logging.ts) to stdout, or to `logStream` (tests);
 * `logger: false` silences them.
 */
export async function createApp(
  config: AppConfig,
  options: { logger?: false; logStream?: DestinationStream } = {},
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: LIMITS.batchBytes, genReqId: requestId });
  const silent = options.logger === false;
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, { stream: options.logStream, silent }), adapter, {
    bodyParser: false,
    bufferLogs: !silent,
    logger: silent ? false : undefined,
  });
  // Nest's own Logger (every `new Logger('X')`) now writes through pino.
  if (!silent) app.useLogger(app.get(Logger));
  const fastify = app.getHttpAdapter().getInstance();
  configureBodyParsing(fastify);
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });
  // One log line per answered request (src/ops/logging.ts), written by the root logger.
  fastify.addHook('onResponse', (request, reply, done) => {
    logRequest(PinoLogger.root, {
      id: String(request.id),
      method: request.method,
      url: request.url,
      statusCode: reply.statusCode,
      elapsedMs: reply.elapsedTime,
    });
    done();
  });
  app.useGlobalFilters(new HttpExceptionFilter());
  mountQueueDashboard(app, config);
  setupOpenApi(app);
  // On SIGTERM/SIGINT: close, then exit 0. Without useProcessExit Nest re-raises the signal after
  // closing, so a clean stop looks like a crash (killed by SIGTERM) to supervisors and CI.
  app.enableShutdownHooks([], { useProcessExit: true });
  return app;
}
