import type { SegmentMessage } from './segment-message.js';
import { getPath } from './dot-path.js';
import { eventTimestamp, readClientId } from './mapping.js';

/** One audience membership as Engage reported it: `member` is the trait's true/false. */
export interface Membership {
  audience: string;
  /** The message's type (the `type` label of segment_messages_skipped_total if it is skipped). */
  type: 'identify' | 'track';
  /** The Kable clientId of the user (read at KABLE_CLIENT_ID_FIELD, like track events). */
  clientId: string;
  member: boolean;
  /** Time of the message that reported it (ms since epoch); the Kable event carries it. */
  at: number;
}

/** Why an Engage message is not audience membership (metrics label and `skipped` count). */
export type EngageSkipReason =
  'engage_computed_trait' | 'engage_missing_audience_key' | 'engage_not_boolean' | 'engage_missing_client_id' | 'engage_invalid_client_id';

export type Classification =
  | { kind: 'membership'; membership: Membership }
  | { kind: 'skip'; reason: EngageSkipReason }
  /** Not from Engage: the message keeps the ordinary path (track → usage event). */
  | { kind: 'other' };

export const AUDIENCE_EVENTS = ['Audience Entered', 'Audience Exited'] as const;
const MEMBERSHIP_CLASSES = ['audience', 'journey_step'];

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Decides whether a validated Segment message is Engage audience membership.
 *
 * A message is Engage's when it carries `context.personas`: an identify, or a track named
 * `Audience Entered` / `Audience Exited`. It is membership when the computation class is
 * `audience` or `journey_step`, the audience key is set, and the trait (identify) or property
 * (track) named by the key is a real boolean. Other Engage messages (computed traits, a
 * non-boolean value, no key, no client id) are skipped with a reason. An identify or track
 * without `context.personas` is not Engage's (`other`).
 */
export function classifyMembership(message: SegmentMessage, clientIdField: string, receivedAt: Date): Classification {
  const personas = getPath(message, 'context.personas');
  const isAudienceTrack = message.type === 'track' && (AUDIENCE_EVENTS as readonly string[]).includes(message.event ?? '');
  if (!isObject(personas) || (message.type !== 'identify' && !isAudienceTrack)) return { kind: 'other' };

  const computationClass = personas.computation_class;
  if (typeof computationClass !== 'string' || !MEMBERSHIP_CLASSES.includes(computationClass)) {
    return { kind: 'skip', reason: 'engage_computed_trait' };
  }
  const key = message.type === 'identify' ? personas.computation_key : message.properties?.audience_key;
  if (typeof key !== 'string' || key === '') return { kind: 'skip', reason: 'engage_missing_audience_key' };
  const values = message.type === 'identify' ? message.traits : message.properties;
  const value = values !== undefined && Object.hasOwn(values, key) ? values[key] : undefined;
  if (typeof value !== 'boolean') return { kind: 'skip', reason: 'engage_not_boolean' };

  const clientId = readClientId(message, clientIdField);
  if (!clientId.ok) return { kind: 'skip', reason: `engage_${clientId.reason}` };
  return {
    kind: 'membership',
    membership: {
      audience: key,
      type: message.type === 'identify' ? 'identify' : 'track',
      clientId: clientId.clientId,
      member: value,
      at: Date.parse(eventTimestamp(message, receivedAt)),
    },
  };
}

/** How many of the memberships belong to one of `audiences`, by message type (for the skipped counter). */
export function countInAudiences(memberships: Membership[], audiences: readonly string[]): Map<Membership['type'], number> {
  const wanted = new Set(audiences);
  const counts = new Map<Membership['type'], number>();
  for (const m of memberships) if (wanted.has(m.audience)) counts.set(m.type, (counts.get(m.type) ?? 0) + 1);
  return counts;
}
