/**
 * Group commit: writes that arrive while a transaction is committing wait for it, then share the
 * next one. A durable commit costs about the same for one record as for hundreds (the flush to
 * disk dominates), so many agents writing small batches at once get near the throughput of one
 * big batch. Nothing is delayed when nothing else is in flight, and each write is acknowledged
 * only once the transaction holding it has committed. If a shared transaction fails, each of its
 * writes is tried again alone, so one bad write fails by itself.
 */
export class GroupCommit<W, R> {
  private readonly waiting: { w: W; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private busy = false;

  /**
   * @param commit stores a group of writes in one transaction; resolves (after commit) with
   *   one result per write, in order
   * @param size how much of a group's budget a write takes (e.g. its records)
   * @param budget the most one transaction holds (a single larger write still goes, alone)
   */
  constructor(
    private readonly commit: (group: W[]) => Promise<R[]>,
    private readonly size: (w: W) => number,
    private readonly budget: number,
  ) {}

  submit(w: W): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ w, resolve, reject });
      if (!this.busy) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.busy = true;
    while (this.waiting.length) {
      const group = [this.waiting.shift()!];
      let used = this.size(group[0]!.w);
      while (this.waiting.length && used + this.size(this.waiting[0]!.w) <= this.budget) {
        const next = this.waiting.shift()!;
        used += this.size(next.w);
        group.push(next);
      }
      try {
        const results = await this.commit(group.map((g) => g.w));
        for (const [i, g] of group.entries()) g.resolve(results[i]!);
      } catch (e) {
        if (group.length === 1) group[0]!.reject(e);
        else
          for (const g of group) {
            try {
              g.resolve((await this.commit([g.w]))[0]!);
            } catch (alone) {
              g.reject(alone);
            }
          }
      }
    }
    this.busy = false;
  }
}
