import { parseDuration } from '../platform/config/duration.js';
import type { DeadLetter } from './dead-letter.store.js';

/** Which dead letters an admin call is about. Every field narrows the selection; an empty filter selects all. */
export interface DeadLetterFilter {
  /** Kable's HTTP status, one of these (`status=401,403`); `0` selects failures without a status (network errors). */
  statuses?: number[];
  /** Case-insensitive text found in the reason or in Kable's answer (`reason=Unauthorized`). */
  text?: string;
  /** The event's Kable clientId, exactly. */
  clientId?: string;
  /** Failed at or after this time (ms since epoch). */
  since?: number;
  /** Failed at or before this time (ms since epoch). */
  until?: number;
}

/** What replay and discard act on: named events, or every event a filter selects (`{ "all": true }` is the empty filter). */
export type DeadLetterSelection = { kind: 'ids'; transactionIds: string[] } | { kind: 'filter'; filter: DeadLetterFilter };

export type Parsed<T> = { ok: true; value: T } | { ok: false; problems: string[] };

export const MAX_IDS_PER_CALL = 1000;
const FILTER_FIELDS = ['status', 'reason', 'clientId', 'since', 'until'] as const;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** A time as an ISO-8601 date-time (`2026-11-29T10:00:00Z`) or as a duration ago (`90m`, `2h`, `7d`). */
export function parseTime(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (ISO_TIME.test(text)) {
    const at = Date.parse(text);
    return Number.isNaN(at) ? undefined : at;
  }
  if (!/^(\d+(ms|s|m|h|d))+$/.test(text)) return undefined;
  const ago = parseDuration(text);
  return ago === undefined ? undefined : now - ago;
}

/**
 * Reads a filter from a query string or a JSON body: `status`, `reason`, `clientId`, `since`,
 * `until`. Values may be strings (query) or JSON values (body). Messages name the field.
 */
export function parseFilter(input: Record<string, unknown>, now = Date.now()): Parsed<DeadLetterFilter> {
  const problems: string[] = [];
  const filter: DeadLetterFilter = {};
  const { status, reason, clientId, since, until } = input;

  if (status !== undefined) {
    const parts = typeof status === 'number' ? [status] : typeof status === 'string' ? status.split(',').map((s) => s.trim()) : [];
    const statuses = parts.map((p) => (typeof p === 'number' ? p : p === 'none' ? 0 : /^\d{3}$/.test(p) ? Number(p) : NaN));
    if (parts.length === 0 || statuses.some((s) => !Number.isInteger(s) || (s !== 0 && (s < 100 || s > 599)))) {
      problems.push('status must be an HTTP status such as 401, a comma-separated list such as 401,403, or "none" (network errors)');
    } else filter.statuses = statuses;
  }
  if (reason !== undefined) {
    if (typeof reason !== 'string' || reason.trim() === '' || reason.length > 200) {
      problems.push('reason must be a non-empty text of at most 200 characters, found in the reason or in Kable’s answer');
    } else filter.text = reason.trim().toLowerCase();
  }
  if (clientId !== undefined) {
    if (typeof clientId !== 'string' || clientId === '' || clientId.length > 500) problems.push('clientId must be a non-empty string');
    else filter.clientId = clientId;
  }
  for (const [name, value] of [
    ['since', since],
    ['until', until],
  ] as const) {
    if (value === undefined) continue;
    const at = parseTime(value, now);
    if (at === undefined) problems.push(`${name} must be an ISO-8601 date-time such as 2026-11-29T10:00:00Z, or a duration ago such as 2h`);
    else filter[name] = at;
  }
  if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) {
    problems.push('since must not be after until');
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: filter };
}

/**
 * Reads the body of replay and discard: `{ "transactionIds": [...] }`, a filter
 * (`{ "status": 401, "since": "2h" }`), or `{ "all": true }`. An empty body is refused, so that
 * "everything" is always asked for explicitly.
 */
export function parseSelection(body: unknown, now = Date.now()): Parsed<DeadLetterSelection> {
  const usage = 'send { "transactionIds": [...] }, a filter such as { "status": 401, "since": "2h" }, or { "all": true }';
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, problems: [`body must be a JSON object: ${usage}`] };
  }
  const input = body as Record<string, unknown>;
  const unknown = Object.keys(input).filter(
    (k) => k !== 'transactionIds' && k !== 'all' && !(FILTER_FIELDS as readonly string[]).includes(k),
  );
  if (unknown.length > 0) return { ok: false, problems: [`unknown field(s) ${unknown.slice(0, 5).join(', ')}: ${usage}`] };
  const hasFilter = FILTER_FIELDS.some((f) => input[f] !== undefined);
  const kinds = [input.transactionIds !== undefined, input.all !== undefined, hasFilter].filter(Boolean).length;
  if (kinds !== 1) return { ok: false, problems: [`say exactly one of transactionIds, a filter or all: ${usage}`] };

  if (input.transactionIds !== undefined) {
    const ids = input.transactionIds;
    if (!Array.isArray(ids) || ids.length === 0 || ids.some((id) => typeof id !== 'string' || id === '' || id.length > 100)) {
      return { ok: false, problems: ['transactionIds must be a non-empty array of transactionIds (strings of at most 100 characters)'] };
    }
    if (ids.length > MAX_IDS_PER_CALL) {
      return { ok: false, problems: [`transactionIds has ${ids.length} entries; the limit is ${MAX_IDS_PER_CALL} per call`] };
    }
    return { ok: true, value: { kind: 'ids', transactionIds: [...new Set(ids as string[])] } };
  }
  if (input.all !== undefined) {
    if (input.all !== true) return { ok: false, problems: ['all must be true'] };
    return { ok: true, value: { kind: 'filter', filter: {} } };
  }
  const filter = parseFilter(input, now);
  return filter.ok ? { ok: true, value: { kind: 'filter', filter: filter.value } } : filter;
}

/** Whether a dead letter is selected by the filter (the time range is also applied by the store, on its index). */
export function matchesFilter(letter: DeadLetter, filter: DeadLetterFilter): boolean {
  if (filter.statuses && !filter.statuses.includes(letter.status ?? 0)) return false;
  if (filter.clientId !== undefined && letter.event.clientId !== filter.clientId) return false;
  if (filter.since !== undefined && letter.failedAt < filter.since) return false;
  if (filter.until !== undefined && letter.failedAt > filter.until) return false;
  if (filter.text !== undefined) {
    const haystack = `${letter.reason}\n${letter.body ?? ''}`.toLowerCase();
    if (!haystack.includes(filter.text)) return false;
  }
  return true;
}
