import { Controller, Get, HttpCode, Post, UseGuards } from '@nestjs/common';
import { AdminGuard } from '../http/admin.guard.js';
import { EngageService } from './engage.service.js';

/** Admin API for Engage audiences (ADMIN_TOKEN as `Authorization: Bearer <token>`). */
@Controller('v1/audiences')
@UseGuards(AdminGuard)
export class EngageController {
  constructor(private readonly engage: EngageService) {}

  /** Each audience: key, member count, pending changes, last sync, next scheduled sync. */
  @Get()
  list() {
    return this.engage.status();
  }

  /** Runs a sync now (on the sync worker) and answers with its report, or `status: "running"` if it takes over a minute. */
  @Post('sync')
  @HttpCode(200)
  async sync() {
    return this.engage.requestSync();
  }
}
