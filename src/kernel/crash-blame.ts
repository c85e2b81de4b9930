/**
 * Who brought a sandbox process down. Chromium gives all of a tab's sandboxed
 * agent frames one renderer process (sandboxed frames are isolated from the
 * page per site, not per frame), so when an agent exhausts that process's
 * memory, every agent in the tab is lost with it, and the page learns only
 * which frames stopped answering. The kernel tells the culprit by elimination:
 *
 * - a crash that took one agent: that agent did it;
 * - a crash that took several: they are all suspects. Those restarted go to
 *   different host tabs where there are enough (placement asks `spread`), so
 *   the culprit's next crash takes it alone, or with fewer suspects;
 * - a later crash that takes exactly one suspect: that suspect did it;
 * - an agent lost in MAX_STRIKES crashes as a suspect is not restarted again
 *   (where there is one host tab, suspects cannot be told apart: this bounds
 *   the loop).
 *
 * With `--enable-features=IsolateSandboxedIframes:grouping/per-document`
 * (a browser the deployment controls), every frame has its own process and
 * each crash takes exactly its culprit.
 */

export const MAX_STRIKES = 3;

export interface Verdict {
  /** The agent that caused it, when it can be told; it is not restarted. */
  culprit: number | null;
  /** Everyone else lost: restarted as their policy says. */
  innocent: number[];
  /** Agents lost too often to restart again (only when no culprit could be told). */
  outOfStrikes: number[];
}

export class CrashBlame {
  private readonly strikes = new Map<number, number>();

  /** One crash: the pids that were lost together. */
  crashed(lost: readonly number[]): Verdict {
    const uniq = [...new Set(lost)];
    const suspects = uniq.filter((p) => this.strikes.has(p));
    const candidates = suspects.length ? suspects : uniq;
    if (candidates.length === 1) {
      const culprit = candidates[0]!;
      // Resolved: nobody is suspected any more.
      this.strikes.clear();
      return { culprit, innocent: uniq.filter((p) => p !== culprit), outOfStrikes: [] };
    }
    // Suspects not in this crash were innocent of it: only the candidates stay suspected.
    const kept = new Map<number, number>();
    for (const p of candidates) kept.set(p, (this.strikes.get(p) ?? 0) + 1);
    this.strikes.clear();
    for (const [p, n] of kept) this.strikes.set(p, n);
    const outOfStrikes = candidates.filter((p) => (this.strikes.get(p) ?? 0) >= MAX_STRIKES);
    return {
      culprit: null,
      innocent: uniq.filter((p) => !outOfStrikes.includes(p)),
      outOfStrikes,
    };
  }

  isSuspect(pid: number): boolean {
    return this.strikes.has(pid);
  }

  /** A process that exited is no longer a suspect; one suspect left alone has nothing against it. */
  forget(pid: number): void {
    if (!this.strikes.delete(pid)) return;
    if (this.strikes.size === 1) this.strikes.clear();
  }
}
