/**
 * Group commit: with nothing in flight an item is committed at once; what arrives while `maxInFlight`
 * commits run goes out together (up to `maxWeight`) once one finishes. A hung commit holds its slot
 * at most `slotTimeoutMs`. `commit` resolves with one result per item, in order; if it rejects,
 * every caller of the group gets that error. No item is ever in two groups.
 */
export class GroupCommitter<T, R> {
  private pending: Array<{ item: T; resolve: (result: R) => void; reject: (error: unknown) => void }> = [];
  private inFlight = 0;

  constructor(
    private readonly commit: (items: T[]) => Promise<R[]>,
    private readonly options: { maxInFlight: number; maxWeight: number; weight: (item: T) => number; slotTimeoutMs: number },
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    while (this.inFlight < this.options.maxInFlight && this.pending.length > 0) {
      // Items in arrival order up to maxWeight, always at least one.
      let weight = 0;
      let count = 0;
      for (const { item } of this.pending) {
        const next = this.options.weight(item);
        if (count > 0 && weight + next > this.options.maxWeight) break;
        weight += next;
        count += 1;
      }
      this.run(this.pending.splice(0, count));
    }
  }

  private run(group: typeof this.pending): void {
    this.inFlight += 1;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      this.inFlight -= 1;
      this.drain();
    };
    const timer = setTimeout(release, this.options.slotTimeoutMs);
    timer.unref();
    // An async wrapper turns a synchronous throw into a rejection.
    const work = (async () => this.commit(group.map((entry) => entry.item)))();
    work.then(
      (results) => {
        results.forEach((result, i) => group[i]?.resolve(result));
        if (results.length < group.length) {
          const missing = new Error(`commit resolved ${results.length} results for ${group.length} items`);
          for (const entry of group.slice(results.length)) entry.reject(missing);
        }
        release();
      },
      (error: unknown) => {
        for (const entry of group) entry.reject(error);
        release();
      },
    );
  }
}
