import { Body, Controller, Get, HttpCode, Inject, Param, Post, Req, UseGuards } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { AdminGuard } from '../http/admin.guard.js';
import { HttpError } from '../http/http-error.js';
import { type EventTrace, EventTraceStore } from './event-trace.js';
import { type Preview, previewMessage } from './preview.js';

/** Admin tools for operators: trace one event, preview a mapping. */
@Controller('v1')
@UseGuards(AdminGuard)
export class OpsController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly traces: EventTraceStore,
  ) {}

  @Get('events/:messageId')
  async event(@Param('messageId') messageId: string): Promise<EventTrace> {
    const trace = await this.traces.get(messageId);
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
  preview(@Body() body: unknown, @Req() req: FastifyRequest & { rawBody?: Buffer }): Preview {
    return previewMessage(body, this.config.kable, new Date(), req.rawBody?.length);
  }
}
