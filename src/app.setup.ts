import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger, PinoLogger } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { AppModule } from './app.module.js';
import type { AppConfig } from './platform/config/config.js';
import { HttpExceptionFilter } from './platform/http/http-exception.filter.js';
import { registerCors } from './platform/http/cors.js';
import { configureBodyParsing } from './platform/http/request-body.js';
import { LIMITS } from './segment/segment-message.js';
import { logRequest, requestId } from './platform/logging/logging.js';
import { setupOpenApi } from './platform/openapi/openapi.js';

/** Builds the app for `config.role` (AppModule); logs go through pino to stdout, to `logStream` (tests) or nowhere. */
export async function createApp(
  config: AppConfig,
  options: { logger?: false; logStream?: DestinationStream } = {},
): Promise<NestFastifyApplication> {
  const { http } = config;
  const adapter = new FastifyAdapter({
    bodyLimit: LIMITS.batchBytes,
    genReqId: requestId,
    // analytics-java posts to /v1/import/ (its DEFAULT_PATH ends in a slash).
    routerOptions: { ignoreTrailingSlash: true },
    // Slow or stalled clients are cut off (SECURITY.md): headers, then the whole request, then idle keep-alive.
    requestTimeout: http.requestTimeoutMs,
    keepAliveTimeout: http.keepAliveTimeoutMs,
    // Node checks both timeouts every connectionsCheckingInterval (30 s by default): check every second.
    http: { headersTimeout: http.headersTimeoutMs, connectionsCheckingInterval: 1000 },
  });
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
  registerCors(fastify, config.http.corsOrigins);
  app.getHttpServer().maxConnections = http.maxConnections;
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });
  // One log line per answered request (src/platform/logging/logging.ts), written by the root logger.
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
  setupOpenApi(app);
  // Exit 0 after a clean close: without useProcessExit Nest re-raises the signal, which looks like a crash.
  app.enableShutdownHooks([], { useProcessExit: true });
  return app;
}
