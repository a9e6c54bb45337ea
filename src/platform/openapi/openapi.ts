import { applyDecorators } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ApiResponse, DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { STATUS_CODES } from 'node:http';
import { CROSS_ORIGIN_REFUSED } from '../http/cross-origin.js';

/** Security scheme names used by the controllers' decorators. */
export const AUTH = { writeKey: 'writeKey', signature: 'signature', admin: 'admin' } as const;

/** A Segment track call as the SDKs send it (the seed's example). */
export const TRACK_EXAMPLE = {
  type: 'track',
  event: 'your_event_type',
  userId: 'yourcompanyuser_1234567890',
  messageId: '022bb90c-bbac-11e4-8dfc-aa07a5b093db',
  timestamp: '2022-01-09T09:32:01Z',
  properties: { messageId: 'msg_ABC123XYZ456', objectCount: 12, bankAccountBalance: 399.99 },
};

export const KABLE_EVENT_EXAMPLE = {
  clientId: 'yourcompanyuser_1234567890',
  timestamp: '2022-01-09T09:32:01Z',
  transactionId: '022bb90c-bbac-11e4-8dfc-aa07a5b093db',
  data: { messageId: 'msg_ABC123XYZ456', objectCount: 12, bankAccountBalance: 399.99 },
};

export const INGEST_RESULT_EXAMPLE = { success: true, accepted: 1, queued: 1, deduplicated: 0, skipped: 0, rejected: [] };

const ERROR_SCHEMA = {
  type: 'object',
  required: ['statusCode', 'error', 'message'],
  properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' } },
};

/** Documents error answers in the service's one shape `{statusCode, error, message}`. */
export function ApiErrors(errors: Record<number, string>): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...Object.entries(errors).map(([status, message]) =>
      ApiResponse({
        status: Number(status),
        description: message,
        schema: ERROR_SCHEMA,
        example: { statusCode: Number(status), error: STATUS_CODES[Number(status)], message },
      }),
    ),
  );
}

/** The answers every admin endpoint can give before its own: no or a wrong token, a cross-site browser request. */
export const ADMIN_ERRORS = ApiErrors({
  401: 'missing or wrong admin token: send "Authorization: Bearer <ADMIN_TOKEN>"',
  403: CROSS_ORIGIN_REFUSED,
});

/** OpenAPI document at /docs-json, Swagger UI at /docs. Built on first request. */
export function setupOpenApi(app: NestFastifyApplication): void {
  const config = new DocumentBuilder()
    .setTitle('kable-destination')
    .setDescription(
      [
        'Takes Segment messages (the HTTP Tracking API and the Webhooks destination format), maps `track` calls to Kable usage events and delivers them to Kable through a durable queue.',
        '',
        'Auth: ingest endpoints take a Segment write key (HTTP Basic user name, empty password, or `writeKey` in the body); `/v1/webhook` takes `X-Signature` instead when SEGMENT_SHARED_SECRET is set. Admin endpoints take `Authorization: Bearer <ADMIN_TOKEN>` (or HTTP Basic with the token as password). Health and metrics are open.',
        '',
        'Errors are JSON `{statusCode, error, message}`. The queue dashboard (bull-board) is at `/admin/queues` (admin token).',
      ].join('\n'),
    )
    .setVersion('1')
    .addBasicAuth({ type: 'http', scheme: 'basic', description: 'Segment write key as the user name, empty password' }, AUTH.writeKey)
    .addApiKey(
      {
        type: 'apiKey',
        in: 'header',
        name: 'X-Segment-Signature',
        description: 'Hex HMAC-SHA1 of the body as sent, keyed by SEGMENT_SHARED_SECRET (X-Signature is read too)',
      },
      AUTH.signature,
    )
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' }, AUTH.admin)
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, config), { jsonDocumentUrl: 'docs-json' });
}
