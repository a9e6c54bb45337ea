import type { Membership } from '../segment/membership.js';
import { decideMessage, type DecisionSettings } from '../segment/decision.js';
import type { RejectCode } from '../segment/segment-message.js';
import type { KableEvent } from '../segment/kable-event.js';

export type Preview =
  | { wouldSend: KableEvent; notes?: string[] }
  | { membership: Membership }
  | { skipped: { type: string; reason: string } }
  | { invalid: { code: RejectCode; error: string } };

/** What ingest would do with one message, with no side effect: ingest's own decision (decideMessage); no `type` reads as track. */
export function previewMessage(body: unknown, settings: DecisionSettings, now: Date, bytes?: number): Preview {
  const hasType = body !== null && typeof body === 'object' && 'type' in body;
  const decision = decideMessage(
    body,
    settings,
    { receivedAt: now, defaultType: hasType ? undefined : 'track', fromBrowser: false },
    bytes,
  );
  switch (decision.kind) {
    case 'rejected':
      return { invalid: { code: decision.code, error: decision.error } };
    case 'skipped':
      return { skipped: { type: decision.type, reason: decision.reason } };
    case 'membership':
      return { membership: decision.membership };
    case 'event':
      return decision.notes === undefined ? { wouldSend: decision.event } : { wouldSend: decision.event, notes: decision.notes };
  }
}
