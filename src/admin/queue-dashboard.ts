import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardFastifyAdapter } from '@bull-board/fastify';
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { adminTokenFrom } from '../platform/http/admin.guard.js';
import { CROSS_ORIGIN_REFUSED, isCrossOriginRequest } from '../platform/http/cross-origin.js';
import { SecretMatcher } from '../platform/http/secret-matcher.js';
import { ENGAGE_QUEUE } from '../engage/engage.queues.js';
import { readableJobData } from '../delivery/job-data.js';
import { DeliveryQueues } from '../delivery/delivery-queues.js';
import type { DeliverJobData } from '../delivery/queues.js';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/** Routes refused: a job added or edited there would reach Kable, billed, past validation and deduplication. */
const REFUSED_ROUTES: Record<string, string> = {
  [`POST ${QUEUE_DASHBOARD_PATH}/api/queues/:queueName/add`]:
    'the dashboard cannot add jobs: a job added here would reach Kable without validation or deduplication; send events to the ingest API (/v1/track, /v1/batch) instead',
  [`PATCH ${QUEUE_DASHBOARD_PATH}/api/queues/:queueName/:jobId/update-data`]:
    "the dashboard cannot edit a job's data: it would reach Kable without validation; retry or remove the job, or send a corrected event to the ingest API",
};

/**
 * bull-board at /admin/queues behind ADMIN_TOKEN (Bearer, or Basic with the token as password for browsers), in its
 * own Fastify scope so every route (page, static files, JSON API) checks cross-origin, token and REFUSED_ROUTES; never framed.
 */
function mountQueueDashboard(fastify: FastifyInstance, delivery: readonly Queue[], engage: Queue, adminToken: string | undefined): void {
  const serverAdapter = new BullBoardFastifyAdapter();
  serverAdapter.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({
    queues: [
      ...delivery.map((queue, shard) => {
        // Each shard's queue has the same name: with several, each is shown as `<shard>.kable-delivery` (job refs read `<shard>.<id>`).
        const adapter = new BullMQAdapter(queue, delivery.length > 1 ? { prefix: `${shard}.` } : {});
        // Large delivery jobs hold their events deflated (src/delivery/job-data.ts): show them decoded.
        adapter.setFormatter('data', (data: DeliverJobData) => readableJobData(data));
        return adapter;
      }),
      new BullMQAdapter(engage),
    ],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'kable-destination' } },
  });

  const token = adminToken ? new SecretMatcher([adminToken]) : undefined;
  const refuse = (reply: FastifyReply, message: string) =>
    reply
      .code(401)
      .header('www-authenticate', 'Basic realm="kable-destination admin"')
      .send({ statusCode: 401, error: 'Unauthorized', message });
  const forbid = (reply: FastifyReply, message: string) => reply.code(403).send({ statusCode: 403, error: 'Forbidden', message });

  // Loaded with the other Fastify plugins when the app starts.
  void fastify.register(async (scope) => {
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

/** Mounts the dashboard where AdminModule runs (the API role), over the queues AdminModule imports. */
@Injectable()
export class QueueDashboard implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly delivery: DeliveryQueues,
    @InjectQueue(ENGAGE_QUEUE) private readonly engage: Queue,
  ) {}

  onModuleInit(): void {
    mountQueueDashboard(
      this.adapterHost.httpAdapter.getInstance<FastifyInstance>(),
      this.delivery.queues,
      this.engage,
      this.config.adminToken,
    );
  }
}
