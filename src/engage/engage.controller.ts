import { Controller, Get, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminGuard } from '../platform/http/admin.guard.js';
import { HttpError } from '../platform/http/http-error.js';
import { ApiErrors, AUTH, ADMIN_ERRORS } from '../platform/openapi/openapi.js';
import { AudienceSyncFailedError, EngageService } from './engage.service.js';

const AUDIENCE = 'order_completed_last_30days';
const NEXT_SYNC = '2026-11-01T12:30:00.000Z';

/** What a sync did (`SyncReport` in audience-sync.ts). */
const REPORT_EXAMPLE = {
  startedAt: '2026-11-01T10:00:05.120Z',
  finishedAt: '2026-11-01T10:00:05.310Z',
  events: 3,
  audiences: [{ audience: AUDIENCE, checked: 4, events: 3 }],
};

/** Admin API for Engage audiences (ADMIN_TOKEN as `Authorization: Bearer <token>`). */
@ApiTags('admin')
@ApiBearerAuth(AUTH.admin)
@ADMIN_ERRORS
@Controller('v1/audiences')
@UseGuards(AdminGuard)
export class EngageController {
  constructor(private readonly engage: EngageService) {}

  /** Each audience: key, member count, pending changes, last sync, next scheduled sync. */
  @Get()
  @ApiOperation({
    summary: 'Engage audiences: members, changes waiting for the next sync, last sync and next scheduled sync',
    description:
      'Membership comes from Segment Engage (Personas) audience identify and track calls. Every ENGAGE_SYNC_INTERVAL (`syncInterval`) the changes are sent to Kable as events. `pendingChanges` counts users whose membership changed since the last sync (some changes cancel out); `lastSync` is null before the first one; `nextSync` is null until the scheduler exists.',
  })
  @ApiOkResponse({
    examples: {
      synced: {
        summary: 'after a sync',
        value: {
          syncInterval: '2h30m',
          nextSync: NEXT_SYNC,
          audiences: [
            {
              key: AUDIENCE,
              members: 3,
              pendingChanges: 0,
              lastSync: { at: '2026-11-01T10:00:05.310Z', events: 3, result: 'ok' },
              nextSync: NEXT_SYNC,
            },
          ],
        },
      },
      neverSynced: {
        summary: 'before the first sync',
        value: {
          syncInterval: '2h30m',
          nextSync: NEXT_SYNC,
          audiences: [{ key: AUDIENCE, members: 3, pendingChanges: 4, lastSync: null, nextSync: NEXT_SYNC }],
        },
      },
      failed: {
        summary: 'last sync failed',
        value: {
          syncInterval: '2h30m',
          nextSync: NEXT_SYNC,
          audiences: [
            {
              key: AUDIENCE,
              members: 3,
              pendingChanges: 4,
              lastSync: { at: '2026-11-01T10:00:05.310Z', events: 0, result: 'failed', error: 'Connection is closed.' },
              nextSync: NEXT_SYNC,
            },
          ],
        },
      },
    },
  })
  list() {
    return this.engage.status();
  }

  /** Runs a sync now (on the sync worker) and answers with its report, or `status: "running"` if it takes over a minute. */
  @Post('sync')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Sync every audience to Kable now, and wait up to a minute for the report',
    description:
      'The sync runs on the sync worker, after any sync already running (one at a time across replicas). If it takes over a minute the answer is `status: "running"` with its jobId; the report then shows in GET /v1/audiences. Changes are sent with stable transactionIds, so a sync that is retried never counts one twice.',
  })
  @ApiOkResponse({
    examples: {
      completed: { summary: 'completed', value: { status: 'completed', jobId: '12', report: REPORT_EXAMPLE } },
      running: { summary: 'still running after a minute', value: { status: 'running', jobId: '13' } },
    },
  })
  @ApiErrors({
    500: 'the audience sync failed after its retries: Connection is closed.; what it did not finish resumes on the next sync',
  })
  async sync() {
    try {
      return await this.engage.requestSync();
    } catch (error) {
      if (error instanceof AudienceSyncFailedError) throw new HttpError(500, error.message, { jobId: error.jobId });
      throw error;
    }
  }
}
