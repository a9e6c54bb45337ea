import { Body, Controller, Headers, HttpCode, Inject, Logger, Param, Post, Req } from '@nestjs/common';
import { ApiBasicAuth, ApiBody, ApiOkResponse, ApiOperation, ApiParam, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { HttpError } from '../platform/http/http-error.js';
import { MetricsService } from '../platform/metrics/metrics.service.js';
import { isReplicasBehind } from '../delivery/delivery.producer.js';
import { isOutOfMemory, REDIS_FULL_ADVICE } from '../platform/redis/redis-memory.js';
import { BacklogGate } from './backlog.gate.js';
import { ApiErrors, AUTH, INGEST_RESULT_EXAMPLE, TRACK_EXAMPLE } from '../platform/openapi/openapi.js';
import { type IngestResult, IngestService, StorageUnavailableError } from './ingest.service.js';
import { BATCH_PATHS, SINGLE_ALIASES, singleCallType } from '../segment/tracking-api.js';
import { LIMITS, MESSAGE_TYPES, type MessageType, messageBytesIfLarge } from '../segment/segment-message.js';
import { SecretMatcher } from '../platform/http/secret-matcher.js';
import { webhookSignature, writeKeyFromBasic } from './write-key.auth.js';

/** Seconds a sender is asked to wait when the backlog is over the limit. */
const BACKLOG_RETRY_AFTER_S = 30;
/** At most one log line per this many ms about requests answered 503 because Redis could not store them. */
const STORAGE_ERROR_LOG_INTERVAL_MS = 10_000;

type RawRequest = FastifyRequest & { rawBody?: Buffer };

const UNAUTHORIZED =
  'missing or unknown write key: send it as the HTTP Basic user name with an empty password, or as "writeKey" in the body';

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Segment's HTTP Tracking API (what the SDKs speak) and the Webhooks destination format.
 * 200 means every accepted message is durably in Redis.
 */
const INGEST_ERRORS = ApiErrors({
  401: UNAUTHORIZED,
  413: 'body is 600000 bytes; the limit for /v1/batch is 512000 bytes',
  415: 'Content-Encoding "br" is not supported: send the body as it is, or with gzip or deflate',
  503: 'the messages could not be stored (Redis is unavailable); nothing was accepted, retry later',
});
const INGEST_OK = ApiOkResponse({
  description: 'Every accepted message is durably queued (or deduplicated, or skipped as not usage). `rejected` lists invalid messages.',
  example: INGEST_RESULT_EXAMPLE,
});

@ApiTags('ingest')
@Controller('v1')
export class IngestController {
  private readonly logger = new Logger('Ingest');
  private readonly writeKeys: SecretMatcher;
  private lastStorageErrorLog = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ingest: IngestService,
    private readonly metrics: MetricsService,
    private readonly backlog: BacklogGate,
  ) {
    this.writeKeys = new SecretMatcher(config.segment.writeKeys);
  }

  @Post([...BATCH_PATHS])
  @HttpCode(200)
  @ApiOperation({
    summary: 'Segment Tracking API batch: up to 2,500 messages of any type, 500 KB',
    description: '`/v1/import` (analytics-ruby, analytics-java) and `/v1/b` (analytics.js batching) are the same endpoint.',
  })
  @ApiBasicAuth(AUTH.writeKey)
  @ApiBody({
    schema: { type: 'object', required: ['batch'], properties: { batch: { type: 'array', items: { type: 'object' } } } },
    examples: {
      batch: { value: { batch: [TRACK_EXAMPLE, { type: 'identify', userId: 'yourcompanyuser_1234567890', traits: { plan: 'pro' } }] } },
    },
  })
  @INGEST_OK
  @INGEST_ERRORS
  @ApiErrors({ 400: 'no message in the request is valid' })
  async batch(@Body() body: unknown, @Headers('authorization') authorization: string | undefined, @Req() req: RawRequest) {
    this.authenticate(authorization, body);
    if (!isObject(body) || !Array.isArray(body.batch)) {
      throw this.refuse(400, 'body must be a JSON object with a "batch" array of Segment messages');
    }
    const { batch, context, integrations, sentAt } = body;
    if (batch.length > LIMITS.batchMessages) {
      throw this.refuse(400, `batch has ${batch.length} messages; the limit is ${LIMITS.batchMessages}`);
    }
    return this.run({ messages: batch, endpoint: 'batch', shared: { context, integrations }, batchSentAt: sentAt }, req, true);
  }

  @Post('webhook')
  @HttpCode(200)
  @ApiOperation({ summary: "Segment's Webhooks destination: one message, or an array of messages (Actions webhook batching)" })
  @ApiBasicAuth(AUTH.writeKey)
  @ApiSecurity(AUTH.signature)
  @ApiBody({
    schema: { oneOf: [{ type: 'object' }, { type: 'array', items: { type: 'object' } }] },
    examples: { track: { value: TRACK_EXAMPLE } },
  })
  @INGEST_OK
  @INGEST_ERRORS
  @ApiErrors({ 400: 'no message in the request is valid' })
  async webhook(
    @Body() body: unknown,
    @Headers('authorization') authorization: string | undefined,
    @Headers('x-signature') signature: string | undefined,
    @Headers('x-segment-signature') segmentSignature: string | undefined,
    @Req() req: RawRequest,
  ) {
    const secret = this.config.segment.sharedSecret;
    if (secret !== undefined) {
      const refusal = webhookSignature(secret, req.rawBody ?? Buffer.alloc(0), body, {
        segmentSignature,
        signature,
        acceptFirstItem: this.config.segment.firstItemSignature === 'accept',
      });
      if (refusal !== undefined) throw this.refuse(401, refusal);
    } else {
      this.authenticate(authorization, body);
    }
    const messages = Array.isArray(body) ? body : [body];
    if (messages.length > LIMITS.batchMessages) {
      throw this.refuse(400, `body has ${messages.length} messages; the limit is ${LIMITS.batchMessages}`);
    }
    return this.run({ messages, endpoint: 'webhook' }, req, true);
  }

  @Post(':type')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Segment Tracking API single call: /v1/track, /v1/identify, /v1/page, /v1/screen, /v1/group, /v1/alias (32 KB)',
    description:
      'Only track calls become Kable events; the other types are accepted and counted as skipped. ' +
      'analytics.js posts to `/v1/t`, `/v1/i`, `/v1/p`, `/v1/s`, `/v1/g` and `/v1/a`: the same endpoints.',
  })
  @ApiParam({ name: 'type', enum: [...MESSAGE_TYPES, ...Object.keys(SINGLE_ALIASES)] })
  @ApiBasicAuth(AUTH.writeKey)
  @ApiBody({ schema: { type: 'object' }, examples: { track: { value: TRACK_EXAMPLE } } })
  @INGEST_OK
  @INGEST_ERRORS
  @ApiErrors({ 400: 'event is required on a track call (a non-empty string)', 404: 'no endpoint /v1/foo' })
  async single(
    @Param('type') type: string,
    @Body() body: unknown,
    @Headers('authorization') authorization: string | undefined,
    @Req() req: RawRequest,
  ) {
    const messageType = singleCallType(type);
    if (messageType === undefined) {
      throw new HttpError(404, `no endpoint /v1/${type.slice(0, 100)}`);
    }
    this.authenticate(authorization, body);
    const result = await this.run({ messages: [body], endpoint: messageType, defaultType: messageType }, req, false);
    const [rejection] = result.rejected;
    if (rejection !== undefined) throw this.refuse(400, rejection.error, { code: rejection.code });
    return result;
  }

  private async run(
    input: { messages: unknown[]; endpoint: string; defaultType?: MessageType; shared?: Record<string, unknown>; batchSentAt?: unknown },
    req: RawRequest,
    isBatch: boolean,
  ): Promise<IngestResult & { success: true }> {
    const backlog = this.backlog.overLimit();
    if (backlog !== undefined) {
      throw this.refuse(
        503,
        `${backlog} events are waiting for Kable, over the limit of ${this.config.backlogLimit} (BACKLOG_LIMIT): nothing was accepted, retry later`,
        {},
        { 'retry-after': String(BACKLOG_RETRY_AFTER_S) },
      );
    }
    // Only measure messages one by one when the body as a whole could hold one over 32 KB, and
    // then exactly only those whose cheap upper bound is over it.
    const sizes = isBatch && (req.rawBody?.length ?? 0) > LIMITS.messageBytes ? input.messages.map(messageBytesIfLarge) : undefined;
    let result: IngestResult;
    try {
      result = await this.ingest.ingest({ ...input, sizes, fromBrowser: req.headers.origin !== undefined, receivedAt: new Date() });
    } catch (error) {
      if (error instanceof StorageUnavailableError) {
        const full = isOutOfMemory(error);
        this.logStorageError(error, full);
        // Queued on the primary but not confirmed by its replicas: a retry is discarded by Kable (same transactionIds).
        const message = isReplicasBehind(error)
          ? `the messages could not be confirmed as stored (Redis's replicas did not acknowledge them in time, REDIS_MIN_REPLICAS_ACK); retry later: a repeat of the same messageId is not billed twice`
          : `the messages could not be stored (${full ? 'Redis is out of memory: it reached its maxmemory' : 'Redis is unavailable'}); nothing was accepted, retry later`;
        throw this.refuse(503, message, {}, { 'retry-after': '5' });
      }
      throw error;
    }
    if (isBatch && result.rejected.length > 0 && result.accepted === 0) {
      throw this.refuse(400, 'no message in the request is valid', { rejected: result.rejected });
    }
    return { success: true, ...result };
  }

  /** Says why ingest answers 503, once per STORAGE_ERROR_LOG_INTERVAL_MS (the request log lines only say 503). */
  private logStorageError(error: Error, full: boolean): void {
    const now = Date.now();
    if (now - this.lastStorageErrorLog < STORAGE_ERROR_LOG_INTERVAL_MS) return;
    this.lastStorageErrorLog = now;
    this.logger.error(
      full
        ? `Redis is out of memory (maxmemory): it refuses writes, so ingest answers 503 and accepts nothing until it has room; ${REDIS_FULL_ADVICE}`
        : `ingest answers 503, the messages could not be stored: ${error.message}`,
    );
  }

  private authenticate(authorization: string | undefined, body: unknown): void {
    const key = writeKeyFromBasic(authorization) ?? (isObject(body) && typeof body.writeKey === 'string' ? body.writeKey : undefined);
    if (!this.writeKeys.matches(key)) throw this.refuse(401, UNAUTHORIZED);
  }

  private refuse(status: number, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): HttpError {
    this.metrics.requestsRefused.inc({ status: String(status) });
    return new HttpError(status, message, extra, headers);
  }
}
