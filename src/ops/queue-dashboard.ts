import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardFastifyAdapter } from '@bull-board/fastify';
import { getQueueToken } from '@nestjs/bullmq';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Queue } from 'bullmq';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../config/config.js';
import { adminTokenFrom } from '../http/admin.guard.js';
import { SecretMatcher } from '../ingest/write-key.auth.js';
import { ENGAGE_QUEUE } from '../engage/engage.queues.js';
import { readableJobData } from '../kable/job-data.js';
import { type DeliverJobData, QUEUES } from '../kable/queues.js';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/**
 * The BullMQ dashboard (bull-board) at /admin/queues, behind ADMIN_TOKEN: `Authorization: Bearer
 * <token>`, or HTTP Basic with the token as password so a browser can open it (any user name).
 * Mounted straight on Fastify in its own scope, so the token check runs on every route of the
 * dashboard (page, static files and its JSON API).
 */
export function mountQueueDashboard(app: NestFastifyApplication, config: AppConfig): void {
  const queues = [QUEUES.delivery, ENGAGE_QUEUE].map((name) => app.get<Queue>(getQueueToken(name), { strict: false }));
  const serverAdapter = new BullBoardFastifyAdapter();
  serverAdapter.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({
    queues: queues.map((queue) => {
      const adapter = new BullMQAdapter(queue);
      // Large delivery jobs hold their events deflated (src/kable/job-data.ts): show them decoded.
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

  // Loaded with the other Fastify plugins when the app starts.
  void app
    .getHttpAdapter()
    .getInstance()
    .register(async (scope) => {
      scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
        if (!token) return refuse(reply, 'the admin API is disabled: set ADMIN_TOKEN to enable it');
        if (!token.matches(adminTokenFrom(request.headers.authorization))) {
          return refuse(
            reply,
            'missing or wrong admin token: send "Authorization: Bearer <ADMIN_TOKEN>", or log in with the token as password',
          );
        }
      });
      await scope.register(serverAdapter.registerPlugin(), { prefix: QUEUE_DASHBOARD_PATH });
    });
}
