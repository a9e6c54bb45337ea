/** One property mapping: move the value at `from` (dot path in `properties`) to `to` (dot path in `data`). */
export interface PropertyMapping {
  from: string;
  to: string;
}

const DOT_PATH = /^[^.\s]+(\.[^.\s]+)*$/;

/** Segments that would let a path reach an object's prototype when it is read or written. */
const RESERVED_SEGMENTS: ReadonlySet<string> = new Set(['__proto__', 'prototype', 'constructor']);

/** The first `__proto__`, `prototype` or `constructor` segment of a dot path, if any. */
export function reservedSegment(text: string): string | undefined {
  return text.split('.').find((segment) => RESERVED_SEGMENTS.has(segment));
}

/** A dot path (`a`, `a.b`) none of whose segments is `__proto__`, `prototype` or `constructor`. */
export function isDotPath(text: string): boolean {
  return DOT_PATH.test(text) && reservedSegment(text) === undefined;
}

/** Why `text` is not a dot path, for an error message that names the setting. */
export function dotPathProblem(text: string): string {
  const reserved = reservedSegment(text);
  if (DOT_PATH.test(text) && reserved !== undefined) {
    return `has the segment "${reserved}", which could reach an object's prototype; rename it (__proto__, prototype and constructor are refused)`;
  }
  return 'is not a dot path like "a" or "a.b"';
}

/**
 * Parses the seed's "Properties Mappings" setting. Two forms are accepted:
 * - a JSON object: `{"segmentX":"kableX","nested.field":"dimension"}`
 * - the text-map form: `segmentX:kableX,nested.field:dimension` (commas or new lines between
 *   pairs, spaces around `:` allowed, as Segment's UI shows `segmentX : kableX`).
 * Throws an Error whose message says what is wrong.
 */
export function parsePropertyMappings(text: string | undefined): PropertyMapping[] {
  const value = (text ?? '').trim();
  if (value === '' || value === '{}') return [];
  const pairs = value.startsWith('{') ? parseJsonForm(value) : parseTextForm(value);
  const seen = new Set<string>();
  for (const { from, to } of pairs) {
    if (!isDotPath(from)) throw new Error(`source "${from}" ${dotPathProblem(from)}`);
    if (!isDotPath(to)) throw new Error(`target "${to}" of "${from}" ${dotPathProblem(to)}`);
    if (seen.has(from)) throw new Error(`source "${from}" is mapped twice`);
    seen.add(from);
  }
  return pairs;
}

function parseJsonForm(value: string): PropertyMapping[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new Error('starts with "{" but is not valid JSON; use {"segmentX":"kableX"} or segmentX:kableX,a.b:c');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error('must be a JSON object of "source": "target" strings');
  }
  return Object.entries(parsed as Record<string, unknown>).map(([from, to]) => {
    if (typeof to !== 'string') throw new Error(`target of "${from}" must be a string, got ${JSON.stringify(to)}`);
    return { from: from.trim(), to: to.trim() };
  });
}

function parseTextForm(value: string): PropertyMapping[] {
  return value
    .split(/[,\n]/)
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const [, from, to] = /^([^:]+):([^:]+)$/.exec(part) ?? [];
      if (from === undefined || to === undefined) {
        throw new Error(`"${part}" is not a "source:target" pair; the setting must be a JSON object or pairs like segmentX:kableX,a.b:c`);
      }
      return { from: from.trim(), to: to.trim() };
    });
}
