import { Injectable, Logger } from '@nestjs/common';
import type { DeadLetterSelection } from '../delivery/dead-letter.filter.js';
import { DeadLetterStore, SCAN_CHUNK, type StoredDeadLetter } from '../delivery/dead-letter.store.js';
import { DeliveryProducer } from '../delivery/delivery.producer.js';

export interface BulkResult {
  /** How many dead letters were handled (replayed: queued again; discarded: deleted). */
  count: number;
  /** Requested transactionIds that are not dead letters (never were, or replayed, discarded or expired). */
  notFound?: string[];
  /** The call stopped at its per-call bound: call again for the rest. */
  more: boolean;
}

/** Most dead letters one replay or discard call handles; the rest is left for the next call. */
export const MAX_PER_CALL = 20_000;

/**
 * Replay and discard of dead letters. Replay puts the events, unchanged (same transactionId), back
 * on the normal delivery path and only then removes them from the store, so a crash in between
 * replays an event twice (Kable discards the repeat) but never loses one.
 */
@Injectable()
export class DeadLetterService {
  private readonly logger = new Logger('DeadLetters');

  constructor(
    private readonly store: DeadLetterStore,
    private readonly producer: DeliveryProducer,
  ) {}

  replay(selection: DeadLetterSelection): Promise<BulkResult> {
    return this.run(selection, 'replay', async (entries) => {
      await this.producer.enqueue(
        entries.map((e) => e.letter.event),
        'replay',
      );
      await this.store.removeIfUnchanged(entries);
      return entries.length;
    });
  }

  discard(selection: DeadLetterSelection): Promise<BulkResult> {
    return this.run(selection, 'discard', async (entries) => (await this.store.removeIfUnchanged(entries)).length);
  }

  private async run(
    selection: DeadLetterSelection,
    action: 'replay' | 'discard',
    handle: (entries: StoredDeadLetter[]) => Promise<number>,
  ): Promise<BulkResult> {
    let count = 0;
    let result: BulkResult;
    if (selection.kind === 'ids') {
      const stored = await this.store.getStored(selection.transactionIds);
      const found = stored.filter((s): s is StoredDeadLetter => s !== undefined);
      for (let i = 0; i < found.length; i += SCAN_CHUNK) count += await handle(found.slice(i, i + SCAN_CHUNK));
      result = { count, notFound: selection.transactionIds.filter((_, i) => stored[i] === undefined), more: false };
    } else {
      const { more } = await this.store.forEachChunk(
        selection.filter,
        async (entries) => {
          count += await handle(entries);
          // Entries handled in this chunk leave the index (replay removes them after queueing).
          return entries.map((e) => e.letter.event.transactionId);
        },
        MAX_PER_CALL,
      );
      result = { count, more };
    }
    if (count > 0) this.logger.log(`${action}: ${count} dead letter(s)${result.more ? ', more remain' : ''}`);
    return result;
  }
}
