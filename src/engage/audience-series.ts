/** One audience's counts as the Engage gauges report them. */
export interface AudienceCount {
  audience: string;
  members: number;
  pendingChanges: number;
}

/** The label of the series that sums every audience without one of its own. */
export const OTHER_AUDIENCES = '(other)';

/** Audiences with a series of their own in engage_audience_members and engage_pending_changes. */
export const AUDIENCE_SERIES_LIMIT = 50;

/** Bounds /metrics against made-up audiences: the `limit` largest (ties by key) keep a series, the rest sum into `(other)`. */
export function audienceSeries(counts: readonly AudienceCount[], limit = AUDIENCE_SERIES_LIMIT): AudienceCount[] {
  const ranked = counts
    .filter((c) => c.audience !== OTHER_AUDIENCES)
    .sort((a, b) => b.members - a.members || (a.audience < b.audience ? -1 : a.audience > b.audience ? 1 : 0));
  const own = ranked.slice(0, limit);
  const kept = new Set(own.map((c) => c.audience));
  const rest = counts.filter((c) => !kept.has(c.audience));
  if (rest.length === 0) return own;
  const other = rest.reduce<AudienceCount>(
    (sum, c) => ({ audience: OTHER_AUDIENCES, members: sum.members + c.members, pendingChanges: sum.pendingChanges + c.pendingChanges }),
    { audience: OTHER_AUDIENCES, members: 0, pendingChanges: 0 },
  );
  return [...own, other];
}

/** Calls within `maxAgeMs` of the last (or concurrent with it) share its answer, so scrapers and gauges read Redis once. */
export function sharedRead<T>(read: () => Promise<T>, maxAgeMs: number, now: () => number = Date.now): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    const t = now();
    if (!last || t - last.at >= maxAgeMs) {
      const value = read();
      last = { at: t, value };
      // A failed read is not kept: the next call tries again.
      value.catch(() => {
        if (last?.value === value) last = undefined;
      });
    }
    return last.value;
  };
}
