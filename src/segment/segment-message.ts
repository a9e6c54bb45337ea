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
  | 'invalid_identity'
  | 'invalid_client_id'
  | 'invalid_number'
  | 'invalid_timestamp'
  | 'invalid_field'
  | 'missing_event';

export type ValidationResult = { ok: true; message: SegmentMessage } | { ok: false; code: RejectCode; error: string };

const TIMESTAMP_FIELDS = ['timestamp', 'originalTimestamp', 'sentAt', 'receivedAt'] as const;
const OBJECT_FIELDS = ['properties', 'traits', 'context', 'integrations'] as const;
// ISO-8601 date-time with a time zone (what Segment's libraries send), e.g. 2022-01-09T09:32:01.123Z.
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * False when a string holds a lone UTF-16 surrogate. UTF-8 (Redis keys, Kable's side) cannot encode
 * one and writes U+FFFD instead, so `a\ud800` and `a\udbff` would become one id.
 */
export function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/** Why a string or number cannot be an id: names the field. Undefined when it can (or is no string or number). */
export function idProblem(field: string, value: unknown): string | undefined {
  if (typeof value === 'string') {
    return isWellFormed(value)
      ? undefined
      : `${field} is not well-formed Unicode: it holds a lone UTF-16 surrogate, which UTF-8 cannot encode`;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return notFiniteError(field);
  return undefined;
}

/** The reason given for a number JSON cannot carry (`1e400` parses to Infinity, which JSON.stringify writes as null). */
export function notFiniteError(field: string): string {
  return `${field} is not a finite number (a JSON number such as 1e400 overflows to Infinity): Kable cannot receive it`;
}

function isIdentity(value: unknown): boolean {
  return (typeof value === 'string' && value !== '') || (typeof value === 'number' && Number.isFinite(value));
}

/**
 * An upper bound of the UTF-8 size of `JSON.stringify(value)`, without building the string: each
 * string counts 6 bytes per UTF-16 unit (the `\uXXXX` worst case), each number 25 (the longest
 * JSON a double gives, e.g. `-0.0000012919601491912461`). Used to skip
 * the exact measurement of messages that cannot be over the 32 KB limit. Bodies are at most 64
 * levels deep (checked before parsing), so the recursion is bounded.
 */
export function jsonBytesUpperBound(value: unknown): number {
  if (typeof value === 'string') return value.length * 6 + 2;
  if (typeof value === 'number') return 25;
  if (typeof value === 'boolean' || value === null) return 5;
  if (Array.isArray(value)) {
    let total = 2;
    for (const item of value) total += jsonBytesUpperBound(item) + 1;
    return total;
  }
  if (typeof value === 'object') {
    let total = 2;
    // for…in over a parsed JSON object sees its own keys only, and allocates nothing.
    for (const key in value) total += key.length * 6 + 4 + jsonBytesUpperBound((value as Record<string, unknown>)[key]);
    return total;
  }
  return 4; // undefined and functions are left out by JSON.stringify (or become null in arrays)
}

/** The exact encoded size of a message, measured only when it could be over the 32 KB limit. */
export function messageBytesIfLarge(message: unknown): number | undefined {
  if (jsonBytesUpperBound(message) <= LIMITS.messageBytes) return undefined;
  return Buffer.byteLength(JSON.stringify(message) ?? '');
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
  } else if (!isWellFormed(messageId)) {
    return {
      ok: false,
      code: 'invalid_message_id',
      error: `${idProblem('messageId', messageId)}; two different ids would be deduplicated as one`,
    };
  }
  const identityProblem = idProblem('userId', raw.userId) ?? idProblem('anonymousId', raw.anonymousId);
  if (identityProblem !== undefined) return { ok: false, code: 'invalid_identity', error: identityProblem };
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
    if (value !== undefined && value !== null && !isPlainObject(value)) {
      return { ok: false, code: 'invalid_field', error: `${field} must be an object` };
    }
  }
  if (type === 'track' && (typeof raw.event !== 'string' || raw.event.trim() === '')) {
    return { ok: false, code: 'missing_event', error: 'event is required on a track call (a non-empty string)' };
  }
  // Most messages already carry both fields: no copy then.
  const message = raw.type === type && raw.messageId === messageId ? raw : { ...raw, type, messageId };
  return { ok: true, message: message as SegmentMessage };
}
