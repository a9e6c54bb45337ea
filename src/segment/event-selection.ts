import { dotPathProblem, isDotPath } from './property-mappings.js';

/** True when a track event of this name becomes a Kable usage event (KABLE_EVENTS). */
export type EventMatcher = (event: string) => boolean;

/**
 * Parses KABLE_EVENTS: event names separated by commas, matched exactly (case-sensitive), where
 * `*` matches any run of characters (`API Call,Storage *`). Spaces around the commas are ignored.
 * Unset: undefined (every track event). A problem is added to `problems` as one line naming the
 * variable, and undefined returned.
 */
export function parseEventSelection(text: string | undefined, problems: string[]): string[] | undefined {
  if (text === undefined) return undefined;
  const patterns = text.split(',').map((pattern) => pattern.trim());
  const empty = patterns.indexOf('');
  if (empty !== -1) {
    problems.push(
      patterns.every((pattern) => pattern === '')
        ? 'KABLE_EVENTS must list at least one event name, such as API Call,Storage * (unset it to bill every track event)'
        : `KABLE_EVENTS has an empty event name at position ${empty + 1}; list names separated by single commas, such as API Call,Storage *`,
    );
    return undefined;
  }
  return patterns;
}

/**
 * Parses KABLE_EVENT_NAME_KEY: the dot path in the Kable event's `data` where the Segment event
 * name is written (`event`, `meta.event`). Unset: undefined (the name is not written).
 */
export function parseEventNameKey(text: string | undefined, problems: string[]): string | undefined {
  if (text === undefined) return undefined;
  const key = text.trim();
  if (!isDotPath(key)) {
    problems.push(`KABLE_EVENT_NAME_KEY ${dotPathProblem(key)}; it is where the event name goes in data, such as event or meta.event`);
    return undefined;
  }
  return key;
}

/** A pattern with `*`, cut at its stars: `Storage *` is the prefix "Storage " and no middles. */
interface Glob {
  prefix: string;
  middles: string[];
  suffix: string;
}

/**
 * Compiles the patterns once, at boot: names without `*` go into a Set, the others become globs
 * matched with startsWith / indexOf / endsWith (linear in the name: a RegExp of several `.*`
 * can backtrack for seconds on a long name, and event names come from clients). Undefined
 * patterns (KABLE_EVENTS unset): undefined, every event is selected.
 */
export function compileEventSelection(patterns: readonly string[] | undefined): EventMatcher | undefined {
  if (patterns === undefined || patterns.includes('*')) return undefined;
  const exact = new Set(patterns.filter((pattern) => !pattern.includes('*')));
  const globs = patterns.filter((pattern) => pattern.includes('*')).map(toGlob);
  if (globs.length === 0) return (event) => exact.has(event);
  return (event) => exact.has(event) || globs.some((glob) => globMatches(glob, event));
}

function toGlob(pattern: string): Glob {
  const parts = pattern.split('*');
  const prefix = parts.shift() ?? '';
  const suffix = parts.pop() ?? '';
  return { prefix, middles: parts.filter((part) => part !== ''), suffix };
}

/** Whether `text` matches: each middle is taken at its leftmost place, which never loses a match. */
function globMatches({ prefix, middles, suffix }: Glob, text: string): boolean {
  const end = text.length - suffix.length;
  if (end < prefix.length || !text.startsWith(prefix) || !text.endsWith(suffix)) return false;
  let at = prefix.length;
  for (const middle of middles) {
    const found = text.indexOf(middle, at);
    if (found === -1 || found + middle.length > end) return false;
    at = found + middle.length;
  }
  return true;
}
