/** Deepest nesting of objects and arrays a request body may have. Segment messages need a handful. */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/**
 * Whether JSON text nests objects/arrays deeper than `max`, read from the raw bytes before
 * parsing (one pass, no allocation). Brackets inside strings do not count. Deeply nested values
 * parse fine but make every recursive step after (JSON.stringify, mapping, the queue) throw
 * RangeError, so they are refused up front.
 */
export function nestedDeeperThan(bytes: Uint8Array, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === BACKSLASH) i += 1;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) inString = true;
    else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      depth += 1;
      if (depth > max) return true;
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) depth -= 1;
  }
  return false;
}

/**
 * A JSON.parse error without the excerpt of the input V8 puts in some messages (the body may hold
 * a write key or another secret): what went wrong and where, e.g. "Unexpected end of JSON input".
 */
export function describeJsonError(error: unknown): string {
  const message = ((error as Error)?.message ?? '').replace(/,\s*(\.\.\.)?".*$/s, '');
  return message === '' || message.includes('"') || message.length > 120 ? 'body is not valid JSON' : `body is not valid JSON: ${message}`;
}
