import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AppConfig } from '../platform/config/config.js';
import { APP_CONFIG } from '../platform/config/config.module.js';
import { BacklogCounter } from '../delivery/backlog.counter.js';

/** How old the backlog figure the ingest path acts on may be. */
export const BACKLOG_REFRESH_MS = 250;

/**
 * Backpressure for ingest: past BACKLOG_LIMIT queued events, requests are refused (503 with
 * Retry-After, which Segment and its SDKs retry) instead of filling Redis until it runs out of
 * memory. The hot path costs no Redis call: it reads a figure refreshed in the background at
 * most every 250 ms, so the backlog may pass the limit by what arrives in that time.
 */
@Injectable()
export class BacklogGate {
  private readonly logger = new Logger('Backpressure');
  private backlog = 0;
  private refreshedAt = 0;
  private refreshing?: Promise<void>;
  private wasOver = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly counter: BacklogCounter,
  ) {}

  /** The backlog when it is at or past the limit (the request must be refused), else undefined. */
  overLimit(): number | undefined {
    if (Date.now() - this.refreshedAt >= BACKLOG_REFRESH_MS) this.refresh();
    return this.backlog >= this.config.backlogLimit ? this.backlog : undefined;
  }

  private refresh(): void {
    if (this.refreshing) return;
    this.refreshing = this.counter
      .read()
      .then((backlog) => {
        this.backlog = backlog;
        const over = backlog >= this.config.backlogLimit;
        if (over !== this.wasOver) {
          if (over) {
            this.logger.warn(`backlog of ${backlog} events reached BACKLOG_LIMIT (${this.config.backlogLimit}): ingest answers 503`);
          } else this.logger.log(`backlog of ${backlog} events is under BACKLOG_LIMIT again: ingest accepts messages`);
        }
        this.wasOver = over;
      })
      // Redis is down: ingest answers 503 by itself; keep the last figure.
      .catch(() => undefined)
      .finally(() => {
        this.refreshedAt = Date.now();
        this.refreshing = undefined;
      });
  }
}
