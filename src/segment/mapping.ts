import type { PropertyMapping } from './property-mappings.js';
import { idProblem, notFiniteError, type RejectCode, type SegmentMessage } from './segment-message.js';
import { deletePath, getPath, setOwn, setPath } from './dot-path.js';
import type { KableEvent } from './kable-event.js';

export interface MappingSettings {
  clientIdField: string;
  propertyMappings: PropertyMapping[];
}

export type SkipReason = 'missing_client_id' | 'invalid_client_id';

/** A track call that cannot be sent as it is: rejected (the sender is told why), like an invalid message. */
export interface MappingRejection {
  ok: false;
  code: Extract<RejectCode, 'invalid_client_id' | 'invalid_number'>;
  error: string;
}

export type MappingResult = { ok: true; event: KableEvent } | { ok: false; reason: SkipReason } | MappingRejection;

/**
 * Reads the Kable clientId from a Segment message at the configured dot path.
 * Numbers become strings; absent, null and empty values are missing; objects, arrays and
 * booleans are invalid. A string that is not well-formed Unicode or a number that is not finite
 * is invalid too, with an `error` saying why: it would reach Kable as another customer's id (or null).
 */
export function readClientId(
  message: object,
  field: string,
): { ok: true; clientId: string } | { ok: false; reason: SkipReason; error?: string } {
  const value = getPath(message, field);
  if (value === undefined || value === null || value === '') return { ok: false, reason: 'missing_client_id' };
  const problem = idProblem(`${field} (the Kable clientId, KABLE_CLIENT_ID_FIELD)`, value);
  if (problem !== undefined) return { ok: false, reason: 'invalid_client_id', error: problem };
  if (typeof value === 'string') return { ok: true, clientId: value };
  if (typeof value === 'number') return { ok: true, clientId: String(value) };
  return { ok: false, reason: 'invalid_client_id' };
}

/**
 * The dot path (relative to `value`) of the first number that is not finite, or undefined. JSON
 * has no Infinity: `1e400` parses to it and JSON.stringify would send null. One walk, and no
 * allocation unless one is found. Bodies are at most 64 levels deep (checked before parsing).
 */
export function nonFinitePath(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : '';
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const inner = nonFinitePath(value[i]);
      if (inner !== undefined) return inner === '' ? String(i) : `${i}.${inner}`;
    }
    return undefined;
  }
  // for…in over a parsed JSON object sees its own keys only (an own "__proto__" included).
  for (const key in value) {
    const inner = nonFinitePath((value as Record<string, unknown>)[key]);
    if (inner !== undefined) return inner === '' ? key : `${key}.${inner}`;
  }
  return undefined;
}

/** RFC 3339 in UTC, without a fractional part when it is zero: `2022-01-09T09:32:01Z`. */
export function toRfc3339(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z');
}

/**
 * When the event happened, as Segment computes it: `timestamp` when set; else, with both
 * `originalTimestamp` and `sentAt` (the message's, or the batch body's `batchSentAt`), the device
 * clock's skew is removed: `receivedAt − (sentAt − originalTimestamp)`; else `originalTimestamp`;
 * else the time the service received the message.
 */
export function eventTimestamp(
  message: Pick<SegmentMessage, 'timestamp' | 'originalTimestamp' | 'sentAt'>,
  receivedAt: Date,
  batchSentAt?: unknown,
): string {
  const timestamp = normalizeTimestamp(message.timestamp);
  if (timestamp !== undefined) return timestamp;
  const original = normalizeTimestamp(message.originalTimestamp);
  if (original === undefined) return toRfc3339(receivedAt);
  const sentAt = normalizeTimestamp(message.sentAt) ?? normalizeTimestamp(batchSentAt);
  if (sentAt === undefined) return original;
  return toRfc3339(new Date(receivedAt.getTime() - (Date.parse(sentAt) - Date.parse(original))));
}

/** A Segment timestamp as RFC 3339 UTC, or undefined when it is not a date. */
function normalizeTimestamp(candidate: unknown): string | undefined {
  if (typeof candidate !== 'string') return undefined;
  const canonical = canonicalUtc(candidate);
  if (canonical !== undefined) return canonical;
  const parsed = new Date(candidate);
  return Number.isNaN(parsed.getTime()) ? undefined : toRfc3339(parsed);
}

const DIGIT_POSITIONS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];

/**
 * The fast path of `toRfc3339(new Date(s))` for what SDKs send: `YYYY-MM-DDTHH:MM:SS(.mmm)?Z`
 * naming a real instant (no February 30th, no hour 24: those `Date` rolls over, so they take the
 * slow path). Returns exactly what the slow path returns, or undefined when it does not apply;
 * a property test checks the two against each other. It exists because Date was a measurable
 * share of batch ingest's CPU (BENCHMARKS.md).
 */
export function canonicalUtc(s: string): string | undefined {
  const n = s.length;
  if (n !== 20 && n !== 24) return undefined;
  if (s[4] !== '-' || s[7] !== '-' || s[10] !== 'T' || s[13] !== ':' || s[16] !== ':' || s[n - 1] !== 'Z') return undefined;
  for (const i of DIGIT_POSITIONS) if (!isDigit(s.charCodeAt(i))) return undefined;
  if (n === 24 && (s[19] !== '.' || !isDigit(s.charCodeAt(20)) || !isDigit(s.charCodeAt(21)) || !isDigit(s.charCodeAt(22)))) {
    return undefined;
  }
  const two = (i: number) => (s.charCodeAt(i) - 48) * 10 + s.charCodeAt(i + 1) - 48;
  const year = two(0) * 100 + two(2);
  const month = two(5);
  const day = two(8);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (two(11) > 23 || two(14) > 59 || two(17) > 59) return undefined;
  return n === 24 && s.endsWith('.000Z') ? `${s.slice(0, 19)}Z` : s;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Applies the property mappings: each moves the value at its source dot path to its target key
 * (a dotted target nests). Unmapped properties pass through; a mapping whose source is absent
 * does nothing. The input is not modified.
 */
export function mapProperties(
  properties: Record<string, unknown> | undefined | null,
  mappings: PropertyMapping[],
): Record<string, unknown> {
  if (mappings.length === 0) return { ...properties };
  // A top-level key renamed to a top-level key keeps its place; the rest is moved.
  const renames = new Map<string, string>();
  const moved: Array<[string, unknown]> = [];
  let data: Record<string, unknown> = { ...properties };
  for (const { from, to } of mappings) {
    const value = getPath(properties, from);
    if (value === undefined) continue;
    if (!from.includes('.') && !to.includes('.')) renames.set(from, to);
    else {
      deletePath(data, from);
      moved.push([to, value]);
    }
  }
  if (renames.size > 0) {
    const renamed: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(data)) {
      const target = renames.get(key);
      if (target === undefined) {
        // setOwn: a property named "__proto__" is data (JSON.parse makes it one), not the prototype.
        if (!Object.hasOwn(renamed, key)) setOwn(renamed, key, value);
      } else setOwn(renamed, target, value);
    }
    data = renamed;
  }
  // Targets are written after every source is removed, so a mapping a→b, b→c moves both values.
  for (const [to, value] of moved) setPath(data, to, value);
  return data;
}

/**
 * Maps a validated Segment track message to the Kable event the seed describes. `batchSentAt` is
 * the `sentAt` of the batch body the message came in, if any (see eventTimestamp).
 */
export function toKableEvent(message: SegmentMessage, settings: MappingSettings, receivedAt: Date, batchSentAt?: unknown): MappingResult {
  const clientId = readClientId(message, settings.clientIdField);
  if (!clientId.ok) {
    return clientId.error === undefined
      ? { ok: false, reason: clientId.reason }
      : { ok: false, code: 'invalid_client_id', error: clientId.error };
  }
  // Everything in `data` comes from `properties`, so one walk of them covers it.
  const badNumber = nonFinitePath(message.properties);
  if (badNumber !== undefined) return { ok: false, code: 'invalid_number', error: notFiniteError(`properties.${badNumber}`) };
  return {
    ok: true,
    event: {
      clientId: clientId.clientId,
      timestamp: eventTimestamp(message, receivedAt, batchSentAt),
      transactionId: message.messageId,
      data: mapProperties(message.properties, settings.propertyMappings),
    },
  };
}
