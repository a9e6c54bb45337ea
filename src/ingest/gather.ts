import type { Decision } from '../segment/decision.js';
import type { KableEvent } from '../segment/kable-event.js';
import type { Membership } from '../segment/membership.js';
import { LIMITS, type MessageType, type RejectCode } from '../segment/segment-message.js';
import type { IngestNote } from '../trace/event-trace.js';

export interface Rejection {
  index: number;
  messageId?: string;
  code: RejectCode;
  error: string;
}

/** What the decisions of one request come to, before anything is stored. */
export interface Gathered {
  /** The events to store, in order, each messageId once. */
  events: KableEvent[];
  memberships: Membership[];
  rejected: Rejection[];
  skipped: Array<{ type: MessageType; reason: string }>;
  /** Events whose messageId an earlier message of the same request carried. */
  repeated: number;
  /** Trace notes of the skipped and rejected messages; none when `traced` is false. */
  notes: IngestNote[];
}

/** Sorts the decisions of one request's `messages` (in the same order) into what ingest stores and reports. */
export function gather(messages: readonly unknown[], decisions: readonly Decision[], receivedAt: Date, traced: boolean): Gathered {
  const out: Gathered = { events: [], memberships: [], rejected: [], skipped: [], repeated: 0, notes: [] };
  const inRequest = new Set<string>();
  const at = receivedAt.getTime();
  decisions.forEach((decision, index) => {
    switch (decision.kind) {
      case 'rejected': {
        const { code, error } = decision;
        const messageId = (messages[index] as { messageId?: unknown } | null | undefined)?.messageId;
        const id = typeof messageId === 'string' ? messageId : undefined;
        out.rejected.push({ index, messageId: id?.slice(0, LIMITS.messageIdLength), code, error });
        if (traced && id !== undefined) out.notes.push([id, { stage: 'rejected', at, code, error }]);
        return;
      }
      case 'skipped': {
        const { messageId, type, reason } = decision;
        out.skipped.push({ type, reason });
        if (traced) out.notes.push([messageId, { stage: 'skipped', at, type, reason }]);
        return;
      }
      case 'membership':
        out.memberships.push(decision.membership);
        return;
      case 'event': {
        const { event } = decision;
        if (inRequest.has(event.transactionId)) {
          out.repeated += 1;
          return;
        }
        inRequest.add(event.transactionId);
        out.events.push(event);
      }
    }
  });
  return out;
}
