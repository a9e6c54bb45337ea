import { type RejectCode, validateMessage } from '../ingest/segment-message.js';
import type { KableEvent } from '../kable/kable-event.js';
import { type MappingSettings, toKableEvent } from '../kable/mapping.js';

export type Preview =
  { wouldSend: KableEvent } | { skipped: { type: string; reason: string } } | { invalid: { code: RejectCode; error: string } };

/**
 * What ingest would do with one Segment message under the given settings, with no side effect:
 * the Kable event it would send, why it would skip it, or why it would reject it. A message
 * without `type` is read as a track call.
 */
export function previewMessage(body: unknown, settings: MappingSettings, now: Date, bytes?: number): Preview {
  const hasType = body !== null && typeof body === 'object' && 'type' in body;
  const result = validateMessage(body, hasType ? undefined : 'track', bytes);
  if (!result.ok) return { invalid: { code: result.code, error: result.error } };
  const { message } = result;
  // Same decisions, same reason names as IngestService.
  if (message.type !== 'track') return { skipped: { type: message.type, reason: 'not_forwarded' } };
  const mapped = toKableEvent(message, settings, now);
  if (!mapped.ok) {
    return 'code' in mapped
      ? { invalid: { code: mapped.code, error: mapped.error } }
      : { skipped: { type: message.type, reason: mapped.reason } };
  }
  return { wouldSend: mapped.event };
}
