/**
 * Records an agent can cause as fast as it can call (a denied tool, a refused bus channel, a
 * permission it asks for again) are kept at a rate, not one per call: every episode is written
 * to the OS's IndexedDB and kept across sessions, so a loop of denied calls would otherwise fill
 * the disk (and the OS's quota) with the same line. Past the rate, records are counted and the
 * next one kept says how many were left out.
 */
import type { EpisodeKind } from '../memory/episodic';

/** Kinds an agent triggers by itself, cheaply and without end. */
const THROTTLED = new Set<EpisodeKind>(['deny', 'grant', 'net']);

export class LogThrottle {
  private readonly windows = new Map<string, { start: number; n: number; skipped: number }>();

  constructor(readonly perSecond = 20) {}

  /** The text to record, or null to leave this one out (counted into the next kept one). */
  admit(pid: number, kind: EpisodeKind, text: string, now = performance.now()): string | null {
    if (pid <= 0 || !THROTTLED.has(kind)) return text;
    const key = `${pid}:${kind}`;
    let w = this.windows.get(key);
    if (!w || now - w.start >= 1000) {
      const skipped = w?.skipped ?? 0;
      w = { start: now, n: 0, skipped: 0 };
      this.windows.set(key, w);
      if (this.windows.size > 10_000) this.windows.clear(); // bounded: a window matters for a second
      if (skipped) text = `${text} (and ${skipped} more like it left out of the log)`;
    }
    if (++w.n > this.perSecond) {
      w.skipped++;
      return null;
    }
    return text;
  }

  forget(pid: number): void {
    for (const k of this.windows.keys()) if (k.startsWith(`${pid}:`)) this.windows.delete(k);
  }
}
