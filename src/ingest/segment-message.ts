import { createHash } from 'node:crypto';

export const MESSAGE_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** A Segment Spec message after validation. Unknown fields are kept as they came. */
export interface SegmentMessage {
  type: MessageType;
  messageId: string;
  userId?: string | number;
  anonymousId?: string | number;
  event?: string;
  properties?: Record<string, unknown>;
  traits?: Record<string, unknown>;
  context?: Record<string, unknown>;
  timestamp?: string;
  originalTimestamp?: string;
  sentAt?: string;
  receivedAt?: string;
  [key: string]: unknown;
}

/** Segment's limits. */
export const LIMITS = {
  messageBytes: 32 * 1024,
  batchBytes: 500 * 1024,
  batchMessages: 2500,
  messageIdLength: 100,
} as const;

/** A stable, low-cardinality name for each kind of invalid message (metrics label, response `code`). */
export type RejectCode =
  | 'not_an_object'
  | 'too_large'
  | 'invalid_type'
  | 'invalid_message_id'
  | 'missing_identity'
  | 'invalid_timestamp'
  | 'invalid_field'
  | 'missing_event';

export type ValidationResult = { ok: true; message: SegmentMessage } | { ok: false; code: RejectCode; error: string };

const TIMESTAMP_FIELDS = ['timestamp', 'originalTimestamp', 'sentAt', 'receivedAt'] as const;
const OBJECT_FIELDS = ['properties', 'traits', 'context', 'integrations'] as const;
// ISO-8601 date-time with a time zone (what Segment's libraries send), e.g. 2022-01-09T09:32:01.123Z.
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isIdentity(value: unknown): boolean {
  return (typeof value === 'string' && value !== '') || (typeof value === 'number' && Number.isFinite(value));
}

/**
 * A messageId for a message that came without one, derived from its content so that a retry of
 * the same message (same content) gets the same id and is deduplicated.
 */
export function derivedMessageId(raw: Record<string, unknown>): string {
  const { sentAt: _sentAt, writeKey: _writeKey, ...content } = raw;
  return `derived-${createHash('sha256').update(JSON.stringify(content)).digest('hex').slice(0, 40)}`;
}

/**
 * Checks one Segment message. `defaultType` is the type implied by the endpoint (`/v1/track`), if
 * any; `bytes` is the message's encoded size when the caller knows it may exceed the limit.
 */
export function validateMessage(raw: unknown, defaultType?: MessageType, bytes?: number): ValidationResult {
  if (!isPlainObject(raw)) return { ok: false, code: 'not_an_object', error: 'message must be a JSON object' };
  if (bytes !== undefined && bytes > LIMITS.messageBytes) {
    return { ok: false, code: 'too_large', error: `message is ${bytes} bytes; the limit is ${LIMITS.messageBytes} bytes (32 KB)` };
  }
  const type = raw.type ?? defaultType;
  if (typeof type !== 'string' || !(MESSAGE_TYPES as readonly string[]).includes(type)) {
    return { ok: false, code: 'invalid_type', error: `type must be one of ${MESSAGE_TYPES.join(', ')}` };
  }
  if (defaultType !== undefined && type !== defaultType) {
    return { ok: false, code: 'invalid_type', error: `type "${type}" was sent to /v1/${defaultType}; use /v1/${type} or /v1/batch` };
  }
  let messageId = raw.messageId;
  if (messageId === undefined || messageId === null) {
    messageId = derivedMessageId(raw);
  } else if (typeof messageId !== 'string' || messageId === '') {
    return { ok: false, code: 'invalid_message_id', error: 'messageId must be a non-empty string' };
  } else if (messageId.length > LIMITS.messageIdLength) {
    return {
      ok: false,
      code: 'invalid_message_id',
      error: `messageId is ${messageId.length} characters; the limit is ${LIMITS.messageIdLength}`,
    };
  }
  if (!isIdentity(raw.userId) && !isIdentity(raw.anonymousId)) {
    return { ok: false, code: 'missing_identity', error: 'userId or anonymousId is required (a non-empty string)' };
  }
  for (const field of TIMESTAMP_FIELDS) {
    const value = raw[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' || !ISO_TIMESTAMP.test(value) || Number.isNaN(Date.parse(value))) {
      return { ok: false, code: 'invalid_timestamp', error: `${field} must be an ISO-8601 date-time such as 2022-01-09T09:32:01Z` };
    }
  }
  for (const field of OBJECT_FIELDS) {
    const value = raw[field];
    if (value !== undefined && value !== null && !isPlainObject(value))
      return { ok: false, code: 'invalid_field', error: `${field} must be an object` };
  }
  if (type === 'track' && (typeof raw.event !== 'string' || raw.event.trim() === '')) {
    return { ok: false, code: 'missing_event', error: 'event is required on a track call (a non-empty string)' };
  }
  return { ok: true, message: { ...raw, type: type as MessageType, messageId } as SegmentMessage };
}
