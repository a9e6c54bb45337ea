import { Body, Controller, Get, HttpCode, Inject, Param, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { AdminGuard } from '../platform/http/admin.guard.js';
import { HttpError } from '../platform/http/http-error.js';
import { decisionSettings } from '../segment/decision.js';
import { ApiErrors, AUTH, KABLE_EVENT_EXAMPLE, TRACK_EXAMPLE, ADMIN_ERRORS } from '../platform/openapi/openapi.js';
import { type EventTrace, EventLookup } from './event-lookup.js';
import { type Preview, previewMessage } from './preview.js';

/** Admin tools for operators: trace one event, preview a mapping. */
@ApiTags('admin')
@ApiBearerAuth(AUTH.admin)
@ADMIN_ERRORS
@Controller('v1')
@UseGuards(AdminGuard)
export class OpsController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly lookup: EventLookup,
  ) {}

  @Get('events/:messageId')
  @ApiOperation({
    summary: 'Where is my event? What happened to one messageId inside the deduplication window',
    description:
      'status: queued (accepted, waiting for Kable), delivered (with the Kable request X-REQUEST-ID), retrying or failed (attempts, last status and answer), skipped (why), rejected (why).',
  })
  @ApiOkResponse({
    examples: {
      delivered: {
        summary: 'delivered',
        value: {
          messageId: '022bb90c-bbac-11e4-8dfc-aa07a5b093db',
          status: 'delivered',
          received: { at: '2026-01-09T09:32:01.120Z', accepted: true, jobId: '4711' },
          delivered: { at: '2026-01-09T09:32:02.310Z', attempts: 1, kableRequestId: '7d1c1e52-6a0e-4d7b-9d0b-8f0e2b0c9d11' },
        },
      },
      failed: {
        summary: 'failed',
        value: {
          messageId: 'msg-2',
          status: 'failed',
          received: { at: '2026-01-09T09:32:01.120Z', accepted: true, jobId: '4712' },
          failure: {
            at: '2026-01-09T09:32:02.010Z',
            attempts: 1,
            status: 401,
            reason: 'HTTP 401',
            answer: '{"message":"Unauthorized"}',
            kableRequestId: 'b3…',
          },
          job: { id: '4712', state: 'failed', attemptsMade: 1 },
        },
      },
      skipped: {
        summary: 'skipped',
        value: {
          messageId: 'msg-3',
          status: 'skipped',
          skipped: { at: '2026-01-09T09:32:01.120Z', type: 'identify', reason: 'not_forwarded' },
        },
      },
    },
  })
  @ApiErrors({ 404: 'no record of messageId "msg-9" in the deduplication window (DEDUP_WINDOW): …' })
  async event(@Param('messageId') messageId: string): Promise<EventTrace> {
    const trace = await this.lookup.find(messageId);
    if (!trace) {
      throw new HttpError(
        404,
        `no record of messageId "${messageId.slice(0, 100)}" in the deduplication window (DEDUP_WINDOW): it was not received, was received longer ago, or was rejected without a messageId`,
      );
    }
    return trace;
  }

  @Post('preview')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Preview a mapping: the Kable event a Segment message would become under the current settings, with no side effect',
    description:
      'Nothing is stored or sent. Ingest makes the same decision: the Kable event (wouldSend, with notes when KABLE_EVENT_NAME_KEY replaced a property), Engage audience membership (membership), a skip with its reason (skipped: event_not_selected, not_forwarded, missing_client_id, …) or a rejection (invalid). A message without `type` is read as a track call.',
  })
  @ApiBody({ schema: { type: 'object' }, examples: { track: { value: TRACK_EXAMPLE } } })
  @ApiOkResponse({
    examples: {
      wouldSend: { summary: 'would send', value: { wouldSend: KABLE_EVENT_EXAMPLE } },
      membership: {
        summary: 'Engage audience membership (stored for the next audience sync)',
        value: {
          membership: { audience: 'order_completed_last_30days', type: 'identify', clientId: 'u123', member: true, at: 1641720721000 },
        },
      },
      skipped: { summary: 'would skip', value: { skipped: { type: 'track', reason: 'event_not_selected' } } },
      invalid: {
        summary: 'invalid',
        value: { invalid: { code: 'missing_event', error: 'event is required on a track call (a non-empty string)' } },
      },
    },
  })
  preview(@Body() body: unknown, @Req() req: FastifyRequest & { rawBody?: Buffer }): Preview {
    // Compiled per call: the preview is an admin's tool, not the hot path.
    return previewMessage(body, decisionSettings(this.config.kable), new Date(), req.rawBody?.length);
  }
}
