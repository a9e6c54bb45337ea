/** What the cross-origin check reads of a request (Node's lower-cased headers). */
export interface OriginFacts {
  method: string;
  headers: { 'sec-fetch-site'?: string | string[]; origin?: string | string[]; host?: string | string[] };
}

export const CROSS_ORIGIN_REFUSED =
  'cross-origin request refused: admin endpoints only accept requests from their own origin or from non-browser clients (curl, scripts); open the dashboard at its own address';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
// scheme://host[:port]; `Origin: null` (sandboxed frames, file: pages) has no host and is refused.
const ORIGIN = /^[a-z][a-z\d+.-]*:\/\/([^/?#@\s]+)$/i;

/**
 * True for a browser request sent by a page of another origin (a forged form or fetch riding on
 * the browser's cached Basic credentials). Go's net/http CrossOriginProtection algorithm: safe
 * methods pass; a browser's Sec-Fetch-Site decides when present (`same-origin` and `none`, a
 * typed URL or bookmark, pass); older browsers send only Origin, which must name the Host asked
 * for. No Sec-Fetch-Site and no Origin is not a browser (curl, scripts) and passes.
 */
export function isCrossOriginRequest({ method, headers }: OriginFacts): boolean {
  if (SAFE_METHODS.has(method.toUpperCase())) return false;
  // An empty header counts as absent, as Go's Header.Get makes it.
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== '') return site !== 'same-origin' && site !== 'none';
  const origin = headers.origin;
  if (origin === undefined || origin === '') return false;
  const host = headers.host;
  if (typeof origin !== 'string' || typeof host !== 'string') return true;
  return ORIGIN.exec(origin)?.[1]?.toLowerCase() !== host.toLowerCase();
}
