import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of this process (prom-client). Served at GET /metrics. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly received = new Counter({
    name: 'segment_messages_received_total',
    help: 'Segment messages received, by endpoint',
    labelNames: ['endpoint'],
    registers: [this.registry],
  });
  readonly accepted = new Counter({
    name: 'segment_messages_accepted_total',
    help: 'Segment messages accepted (valid and durably stored or handled)',
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'segment_messages_rejected_total',
    help: 'Segment messages rejected as invalid, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly skipped = new Counter({
    name: 'segment_messages_skipped_total',
    help: 'Valid Segment messages not forwarded to Kable as usage, by type and reason',
    labelNames: ['type', 'reason'],
    registers: [this.registry],
  });
  readonly deduplicated = new Counter({
    name: 'segment_messages_deduplicated_total',
    help: 'Messages whose messageId was already accepted inside the deduplication window',
    registers: [this.registry],
  });
  readonly requestsRefused = new Counter({
    name: 'ingest_requests_refused_total',
    help: 'Ingest requests answered with an error status, by status',
    labelNames: ['status'],
    registers: [this.registry],
  });
  readonly delivered = new Counter({
    name: 'kable_events_delivered_total',
    help: 'Events Kable accepted',
    registers: [this.registry],
  });
  readonly retried = new Counter({
    name: 'kable_events_retried_total',
    help: 'Events whose delivery failed with a retryable error and will be tried again',
    registers: [this.registry],
  });
  readonly failed = new Counter({
    name: 'kable_events_failed_total',
    help: 'Events kept as dead letters, by HTTP status (or "none" for network errors)',
    labelNames: ['status'],
    registers: [this.registry],
  });
  readonly kableRequestDuration = new Histogram({
    name: 'kable_request_duration_seconds',
    help: 'Duration of POST /api/v1/events/create, by outcome',
    labelNames: ['outcome'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly kableRequestEvents = new Histogram({
    name: 'kable_request_events',
    help: 'Events per Kable request',
    buckets: [1, 5, 10, 50, 100, 250, 500],
    registers: [this.registry],
  });
  readonly lag = new Histogram({
    name: 'kable_delivery_lag_seconds',
    help: 'Time from ingest (job created) to Kable accepting the event',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 60, 300, 3600],
    registers: [this.registry],
  });

  /** Jobs per queue and state, read from Redis on each scrape (see QueueDepthCollector). */
  readonly queueJobs = new Gauge({
    name: 'bullmq_queue_jobs',
    help: 'Jobs in each BullMQ queue by state (waiting, active, delayed, prioritized, failed, completed), read on scrape',
    labelNames: ['queue', 'state'],
    registers: [this.registry],
  });

  readonly redisMemoryUsed = new Gauge({
    name: 'redis_memory_used_bytes',
    help: "Redis's used_memory, read on scrape",
    registers: [this.registry],
  });
  readonly redisMemoryMax = new Gauge({
    name: 'redis_memory_max_bytes',
    help: "Redis's maxmemory (0: no limit), read on scrape; past it Redis refuses writes and ingest answers 503",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
