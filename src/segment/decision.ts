import { classifyMembership, type Membership } from './membership.js';
import { getPath, setPath } from './dot-path.js';
import { compileEventSelection, type EventMatcher } from './event-selection.js';
import type { KableEvent } from './kable-event.js';
import { type MappingSettings, toKableEvent } from './mapping.js';
import { type MessageType, type RejectCode, validateMessage } from './segment-message.js';

/** The settings a decision needs, compiled once (`decisionSettings`). */
export interface DecisionSettings extends MappingSettings {
  /** KABLE_EVENTS compiled; undefined: every track event is selected. */
  selectEvent?: EventMatcher;
  /** KABLE_EVENT_NAME_KEY: where the event name goes in `data`; undefined: not written. */
  eventNameKey?: string;
}

/** What a decision knows about the request a message came in. */
export interface DecisionContext {
  receivedAt: Date;
  /** The type implied by the endpoint (`/v1/track` → track). */
  defaultType?: MessageType;
  /** The `sentAt` of a `/v1/batch` body (see eventTimestamp). */
  batchSentAt?: unknown;
  /** The request came from a browser: its write key is public, so it may not write audience membership. */
  fromBrowser: boolean;
}

/** What happens to one Segment message: the one place ingest and the preview learn it from. */
export type Decision =
  /** Invalid, or not sendable as it is: the sender is told why. */
  | { kind: 'rejected'; code: RejectCode; error: string }
  /** Valid and accepted, but not forwarded (counted in segment_messages_skipped_total). */
  | { kind: 'skipped'; messageId: string; type: MessageType; reason: string }
  /** Engage audience membership: stored for the next audience sync, never a usage event. */
  | { kind: 'membership'; messageId: string; membership: Membership }
  /** A Kable usage event. `notes` say what the preview should point out (a property overwritten). */
  | { kind: 'event'; event: KableEvent; notes?: string[] };

/** Compiles the settings for decideMessage. Call once (at boot), not per message. */
export function decisionSettings(kable: MappingSettings & { events?: string[]; eventNameKey?: string }): DecisionSettings {
  return {
    clientIdField: kable.clientIdField,
    propertyMappings: kable.propertyMappings,
    selectEvent: compileEventSelection(kable.events),
    eventNameKey: kable.eventNameKey,
  };
}

/**
 * Decides, with no side effect, what becomes of one Segment message: rejected (with the code and
 * the reason), skipped (with the reason), Engage audience membership, or the Kable event. `bytes`
 * is the message's encoded size when it may be over 32 KB.
 */
export function decideMessage(raw: unknown, settings: DecisionSettings, ctx: DecisionContext, bytes?: number): Decision {
  const valid = validateMessage(raw, ctx.defaultType, bytes);
  if (!valid.ok) return { kind: 'rejected', code: valid.code, error: valid.error };
  const { message } = valid;
  const { messageId, type } = message;

  // Engage audience membership is state synced on a schedule (src/engage), whatever KABLE_EVENTS says.
  const engage = classifyMembership(message, settings.clientIdField, ctx.receivedAt);
  if (engage.kind === 'membership') {
    // A browser's write key is public: anyone could write membership with it.
    if (ctx.fromBrowser) return { kind: 'skipped', messageId, type, reason: 'membership_from_browser' };
    return { kind: 'membership', messageId, membership: engage.membership };
  }
  if (engage.kind === 'skip') return { kind: 'skipped', messageId, type, reason: engage.reason };

  if (type !== 'track') return { kind: 'skipped', messageId, type, reason: 'not_forwarded' };
  // validateMessage made sure a track call has an event name.
  if (settings.selectEvent !== undefined && !settings.selectEvent(message.event!)) {
    return { kind: 'skipped', messageId, type, reason: 'event_not_selected' };
  }

  const mapped = toKableEvent(message, settings, ctx.receivedAt, ctx.batchSentAt);
  if (!mapped.ok) {
    return 'code' in mapped
      ? { kind: 'rejected', code: mapped.code, error: mapped.error }
      : { kind: 'skipped', messageId, type, reason: mapped.reason };
  }
  if (settings.eventNameKey === undefined) return { kind: 'event', event: mapped.event };
  const notes = writeEventName(mapped.event.data, settings.eventNameKey, message.event!);
  return notes === undefined ? { kind: 'event', event: mapped.event } : { kind: 'event', event: mapped.event, notes };
}

/**
 * Writes the event name at `key` in `data` (a copy the mapping made), after the property mappings:
 * the name wins over a property already there, and the note says which one it replaced.
 */
function writeEventName(data: Record<string, unknown>, key: string, name: string): string[] | undefined {
  const replaced = occupiedAt(data, key);
  setPath(data, key, name);
  if (replaced === undefined) return undefined;
  return [
    `KABLE_EVENT_NAME_KEY: the event name replaced the value at data.${replaced} (from the properties or a mapping); rename that property or map it elsewhere to keep it`,
  ];
}

/** The path in `data` whose value writing at `key` would replace (the key itself, or a non-object on the way), if any. */
function occupiedAt(data: Record<string, unknown>, key: string): string | undefined {
  if (getPath(data, key) !== undefined) return key;
  const keys = key.split('.');
  for (let n = 1; n < keys.length; n++) {
    const prefix = keys.slice(0, n).join('.');
    const value = getPath(data, prefix);
    if (value === undefined) return undefined;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return prefix;
  }
  return undefined;
}
