import type { PropertyMapping } from '../config/property-mappings.js';
import type { SegmentMessage } from '../ingest/segment-message.js';
import { deletePath, getPath, setPath } from './dot-path.js';
import type { KableEvent } from './kable-event.js';

export interface MappingSettings {
  clientIdField: string;
  propertyMappings: PropertyMapping[];
}

export type SkipReason = 'missing_client_id' | 'invalid_client_id';

export type MappingResult = { ok: true; event: KableEvent } | { ok: false; reason: SkipReason };

/**
 * Reads the Kable clientId from a Segment message at the configured dot path.
 * Numbers become strings; absent, null and empty values are missing; objects, arrays and
 * booleans are invalid.
 */
export function readClientId(message: object, field: string): { ok: true; clientId: string } | { ok: false; reason: SkipReason } {
  const value = getPath(message, field);
  if (value === undefined || value === null || value === '') return { ok: false, reason: 'missing_client_id' };
  if (typeof value === 'string') return { ok: true, clientId: value };
  if (typeof value === 'number' && Number.isFinite(value)) return { ok: true, clientId: String(value) };
  return { ok: false, reason: 'invalid_client_id' };
}

/** RFC 3339 in UTC, without a fractional part when it is zero: `2022-01-09T09:32:01Z`. */
export function toRfc3339(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z');
}

/** Segment `timestamp`, else `originalTimestamp`, else the time the service received the message. */
export function eventTimestamp(message: Pick<SegmentMessage, 'timestamp' | 'originalTimestamp'>, receivedAt: Date): string {
  for (const candidate of [message.timestamp, message.originalTimestamp]) {
    if (typeof candidate === 'string') {
      const parsed = new Date(candidate);
      if (!Number.isNaN(parsed.getTime())) return toRfc3339(parsed);
    }
  }
  return toRfc3339(receivedAt);
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
        if (!Object.hasOwn(renamed, key)) renamed[key] = value;
      } else renamed[target] = value;
    }
    data = renamed;
  }
  // Targets are written after every source is removed, so a mapping a→b, b→c moves both values.
  for (const [to, value] of moved) setPath(data, to, value);
  return data;
}

/** Maps a validated Segment track message to the Kable event the seed describes. */
export function toKableEvent(message: SegmentMessage, settings: MappingSettings, receivedAt: Date): MappingResult {
  const clientId = readClientId(message, settings.clientIdField);
  if (!clientId.ok) return clientId;
  return {
    ok: true,
    event: {
      clientId: clientId.clientId,
      timestamp: eventTimestamp(message, receivedAt),
      transactionId: message.messageId,
      data: mapProperties(message.properties, settings.propertyMappings),
    },
  };
}
