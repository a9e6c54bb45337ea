import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardFastifyAdapter } from '@bull-board/fastify';
import { getQueueToken } from '@nestjs/bullmq';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Queue } from 'bullmq';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../platform/config/config.js';
import { adminTokenFrom } from '../platform/http/admin.guard.js';
import { CROSS_ORIGIN_REFUSED, isCrossOriginRequest } from '../platform/http/cross-origin.js';
import { SecretMatcher } from '../platform/http/secret-matcher.js';
import { ENGAGE_QUEUE } from '../engage/engage.queues.js';
import { readableJobData } from '../delivery/job-data.js';
import { type DeliverJobData, QUEUES } from '../delivery/queues.js';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/**
 * bull-board routes the dashboard refuses. A job added (or duplicated) there, or a job whose data
 * is edited there, goes to Kable as it is, past validation, mapping and deduplication: an event
 * that is billed. Events enter through ingest; failed jobs are retried, and removed, unchanged.
 */
const REFUSED_ROUTES: Record<string, string> = {
  [`POST ${QUEUE_DASHBOARD_PATH}/api/queues/:queueName/add`]:
    'the dashboard cannot add jobs: a job added here would reach Kable without validation or deduplication; send events to the ingest API (/v1/track, /v1/batch) instead',
  [`PATCH ${QUEUE_DASHBOARD_PATH}/api/queues/:queueName/:jobId/update-data`]:
    "the dashboard cannot edit a job's data: it would reach Kable without validation; retry or remove the job, or send a corrected event to the ingest API",
};

/**
 * The BullMQ dashboard (bull-board) at /admin/queues, behind ADMIN_TOKEN: `Authorization: Bearer
 * <token>`, or HTTP Basic with the token as password so a browser can open it (any user name).
 * Mounted straight on Fastify in its own scope, so the checks run on every route of the dashboard
 * (page, static files and its JSON API): cross-origin browser requests are refused (403, like the
 * admin API), then the token, then the routes that would create events (REFUSED_ROUTES). Its
 * pages may not be framed by another site (clickjacking).
 */
export function mountQueueDashboard(app: NestFastifyApplication, config: AppConfig): void {
  const queues = [QUEUES.delivery, ENGAGE_QUEUE].map((name) => app.get<Queue>(getQueueToken(name), { strict: false }));
  const serverAdapter = new BullBoardFastifyAdapter();
  serverAdapter.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({
    queues: queues.map((queue) => {
      const adapter = new BullMQAdapter(queue);
      // Large delivery jobs hold their events deflated (src/delivery/job-data.ts): show them decoded.
      if (queue.name === QUEUES.delivery) adapter.setFormatter('data', (data: DeliverJobData) => readableJobData(data));
      return adapter;
    }),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'kable-destination' } },
  });

  const token = config.adminToken ? new SecretMatcher([config.adminToken]) : undefined;
  const refuse = (reply: FastifyReply, message: string) =>
    reply
      .code(401)
      .header('www-authenticate', 'Basic realm="kable-destination admin"')
      .send({ statusCode: 401, error: 'Unauthorized', message });
  const forbid = (reply: FastifyReply, message: string) => reply.code(403).send({ statusCode: 403, error: 'Forbidden', message });

  // Loaded with the other Fastify plugins when the app starts.
  void app
    .getHttpAdapter()
    .getInstance()
    .register(async (scope) => {
      scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
        void reply.header('x-frame-options', 'DENY').header('content-security-policy', "frame-ancestors 'none'");
        if (isCrossOriginRequest(request)) return forbid(reply, CROSS_ORIGIN_REFUSED);
        if (!token) return refuse(reply, 'the admin API is disabled: set ADMIN_TOKEN to enable it');
        if (!token.matches(adminTokenFrom(request.headers.authorization))) {
          return refuse(
            reply,
            'missing or wrong admin token: send "Authorization: Bearer <ADMIN_TOKEN>", or log in with the token as password',
          );
        }
        const refused = REFUSED_ROUTES[`${request.method} ${request.routeOptions.url}`];
        if (refused) return forbid(reply, refused);
      });
      await scope.register(serverAdapter.registerPlugin(), { prefix: QUEUE_DASHBOARD_PATH });
    });
}
