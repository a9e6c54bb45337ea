/**
 * Group commit: requests that arrive while earlier writes are under way are written together, in
 * one round of Redis commands, and each caller is answered once that write has settled.
 *
 * With nothing in flight, a submitted item is committed at once (no added latency when the load is
 * light); under load, what arrives while `maxInFlight` commits are running waits for the first of
 * them to finish and then goes out as one group of at most `maxWeight` (by `weight`). A commit
 * that hangs holds its slot for at most `slotTimeoutMs`, so one stuck write cannot stop the ones
 * after it (its own callers keep waiting for it, or for their own timeout).
 *
 * `commit` gets the group's items in arrival order and resolves with one result per item; if it
 * rejects, every caller in the group gets that error. No item is ever in two groups.
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
      // Take items in arrival order up to maxWeight (always at least one).
      let weight = this.options.weight(this.pending[0].item);
      let count = 1;
      while (count < this.pending.length) {
        const next = this.options.weight(this.pending[count].item);
        if (weight + next > this.options.maxWeight) break;
        weight += next;
        count += 1;
      }
      const group = this.pending.splice(0, count);
      this.run(group);
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
        group.forEach((entry, i) => entry.resolve(results[i]));
        release();
      },
      (error: unknown) => {
        for (const entry of group) entry.reject(error);
        release();
      },
    );
  }
}
