/**
 * Who brought a sandbox process down. Chromium gives all of a tab's sandboxed
 * agent frames one renderer process (sandboxed frames are isolated from the
 * page per site, not per frame), so when an agent exhausts that process's
 * memory, every agent in the tab is lost with it, and the page learns only
 * which frames stopped answering. The kernel tells the culprit by elimination:
 *
 * - a crash that took one agent: that agent did it;
 * - a crash that took several: they are all suspects. They start again one
 *   per host tab (so one per sandbox process): a suspect waits while every
 *   host tab runs one (lifecycle.ts `placeSuspect`), so the culprit's next
 *   crash takes it as the only suspect, and an innocent is never lost
 *   together with it as a suspect;
 * - a later crash that takes exactly one suspect: that suspect did it;
 * - a suspect that has run SUSPECT_CLEAR_MS without its process crashing is
 *   cleared (it frees its tab for the next suspect): a bomb goes off sooner;
 * - an agent lost in MAX_STRIKES crashes as a suspect, or in MAX_AMBIGUOUS
 *   crashes without a culprit over its life (a bomb slower than the clearing),
 *   is not restarted again: this bounds the loop.
 *
 * Restarting every suspect at once, with fewer tabs than suspects, put several
 * in one process again: each of the culprit's crashes struck the innocents
 * beside it, and with two tabs an innocent reached MAX_STRIKES.
 *
 * With `--enable-features=IsolateSandboxedIframes:grouping/per-document`
 * (a browser the deployment controls), every frame has its own process and
 * each crash takes exactly its culprit.
 */

export const MAX_STRIKES = 3;
/** How long a restarted suspect runs without its process crashing before it is cleared. */
export const SUSPECT_CLEAR_MS = 20_000;
/**
 * Crashes without a culprit an agent may be lost in over its life. Clearing suspects by time
 * would let a bomb slower than SUSPECT_CLEAR_MS loop for ever; this bounds it (with one host
 * tab, where everyone is always lost together, the innocents beside it too: they cannot be told apart).
 */
export const MAX_AMBIGUOUS = 5;

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
  /** Suspects started again, and when: cleared once they have run SUSPECT_CLEAR_MS. */
  private readonly running = new Map<number, number>();
  /** Crashes without a culprit each agent was lost in (not cleared by time). */
  private readonly ambiguous = new Map<number, number>();

  constructor(private readonly clearAfterMs = SUSPECT_CLEAR_MS) {}

  /** A suspect started again (alone among suspects in its tab): its clock runs. */
  started(pid: number, now = Date.now()): void {
    if (this.strikes.has(pid)) this.running.set(pid, now);
  }

  /**
   * Clears the suspects that ran long enough without a crash; the ms until the next would be
   * cleared (null: none running). A suspect left last is not cleared for being left: it is the
   * likeliest culprit, and starts alone.
   */
  sweep(now = Date.now()): number | null {
    let next: number | null = null;
    for (const [pid, since] of this.running) {
      const left = since + this.clearAfterMs - now;
      if (left <= 0) {
        this.running.delete(pid);
        this.strikes.delete(pid);
      } else next = next === null ? left : Math.min(next, left);
    }
    return next;
  }

  /** One crash: the pids that were lost together. */
  crashed(lost: readonly number[]): Verdict {
    const uniq = [...new Set(lost)];
    for (const p of uniq) this.running.delete(p);
    const suspects = uniq.filter((p) => this.strikes.has(p));
    const candidates = suspects.length ? suspects : uniq;
    if (candidates.length === 1) {
      const culprit = candidates[0]!;
      // Resolved: nobody is suspected any more.
      this.strikes.clear();
      this.running.clear();
      this.ambiguous.clear();
      return { culprit, innocent: uniq.filter((p) => p !== culprit), outOfStrikes: [] };
    }
    // Suspects not in this crash were innocent of it: only the candidates stay suspected.
    const kept = new Map<number, number>();
    for (const p of candidates) kept.set(p, (this.strikes.get(p) ?? 0) + 1);
    this.strikes.clear();
    for (const [p, n] of kept) this.strikes.set(p, n);
    for (const p of this.running.keys()) if (!kept.has(p)) this.running.delete(p);
    for (const p of uniq) this.ambiguous.set(p, (this.ambiguous.get(p) ?? 0) + 1);
    const outOfStrikes = candidates.filter(
      (p) => (this.strikes.get(p) ?? 0) >= MAX_STRIKES || (this.ambiguous.get(p) ?? 0) >= MAX_AMBIGUOUS,
    );
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
    this.running.delete(pid);
    this.ambiguous.delete(pid);
    if (!this.strikes.delete(pid)) return;
    if (this.strikes.size === 1) {
      this.strikes.clear();
      this.running.clear();
    }
  }
}
