/**
 * Limits on what a page consumes: the desktop's tab and, tighter, a site embedding the OS
 * (embedders.ts). Agents have theirs in their capabilities (limiter.ts); a page is not an
 * agent, but a page of another site is no more trusted than one, and even the user's own
 * desktop must not be able to exhaust the kernel by a bug. Per page (an embedding origin
 * counts as one page across all its frames and reloads; a desktop tab as itself): processes
 * alive that it started (their descendants included), spawns per second, host tools served,
 * and calls in flight on the tab's port. Each refusal is a typed error and an audit record
 * in the kernel's own log (pid 0, throttled like the agents').
 */

import type { Capabilities } from '../abi/capabilities';
import { SysError } from '../abi/errors';
import { type AuditThrottle, effective, limitsOf, TokenBucket } from './limits';
import type { Process, ProcessTable } from './process';
import type { Tab } from './tabs';

export interface PageLimits {
  /** Processes alive at once that the page started, with every descendant. */
  procs: number;
  /** Spawns per second by the page and its agents (a bucket holding two seconds' worth). */
  spawnsPerSec: number;
  /** Host tools the page serves at once. */
  tools: number;
  /** Calls not yet answered on the tab's port; frames past it are EAGAIN. */
  callsInFlight: number;
}

/** The user's own desktop: generous, but finite (a runaway script in a tab cannot take the kernel). */
export const DESKTOP_PAGE_LIMITS: Readonly<PageLimits> = Object.freeze({
  procs: 1000,
  spawnsPerSec: 200,
  tools: 256,
  callsInFlight: 10_000,
});

/** Host tools one embedding page may serve. */
export const EMBED_TOOLS_MAX = 32;

/** An embedding origin's page limits: its agents' limits (the origin's ceiling) applied to the whole page. */
export function embedPageLimits(ceiling: Capabilities): PageLimits {
  const l = limitsOf(ceiling);
  return {
    procs: effective(l, 'procs'),
    spawnsPerSec: effective(l, 'spawnsPerSec'),
    tools: EMBED_TOOLS_MAX,
    callsInFlight: effective(l, 'callsInFlight'),
  };
}

interface PageState {
  limits: PageLimits;
  bucket: TokenBucket;
}

export interface PageLimiterDeps {
  procs: ProcessTable;
  audit: AuditThrottle;
}

export class PageLimiter {
  private readonly pages = new Map<string, PageState>();
  /** Calls in flight per tab port (keyed by the tab's id). */
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly d: PageLimiterDeps) {}

  private state(key: string, limits: PageLimits, now: number): PageState {
    let s = this.pages.get(key);
    if (!s || s.limits.spawnsPerSec !== limits.spawnsPerSec) {
      s = { limits, bucket: new TokenBucket(limits.spawnsPerSec, 2 * limits.spawnsPerSec, now) };
      this.pages.set(key, s);
      if (this.pages.size > 10_000) this.pages.clear(); // bounded; only rates are lost
    }
    s.limits = limits;
    return s;
  }

  private refuse(key: string, limit: string, code: SysError['code'], text: string): never {
    this.d.audit.record(0, `${limit}@${key}`, `refused ${key}: ${text}`);
    throw new SysError(code, text);
  }

  /**
   * Before a spawn in a page's tree (by the page, or by an agent it started): processes alive
   * in the tree and the spawn rate. `limits` are the page's when the page spawns; an agent's
   * spawn uses what its page last had (or none known: no page limit beyond the agent's own).
   */
  checkSpawn(key: string, limits?: PageLimits, now = performance.now()): void {
    const known = limits ?? this.pages.get(key)?.limits;
    if (!known) return;
    const s = this.state(key, known, now);
    let n = 0;
    for (const p of this.d.procs.all()) if (p.alive && p.spawnPage === key) n++;
    if (n + 1 > known.procs)
      this.refuse(
        key,
        'procs',
        'EAGAIN',
        `this page's agents already number ${n}, its limit (${known.procs} processes alive); end some first`,
      );
    if (!s.bucket.take(1, now))
      this.refuse(
        key,
        'spawnsPerSec',
        'EAGAIN',
        `this page spawns faster than ${known.spawnsPerSec} per second; try again shortly`,
      );
  }

  /** A host tool more for a page that serves `serving` now. */
  checkTool(key: string, serving: number, limits: PageLimits): void {
    if (serving + 1 > limits.tools)
      this.refuse(
        key,
        'tools',
        'EAGAIN',
        `this page already serves ${serving} host tools, its limit (${limits.tools}); remove some first`,
      );
  }

  /** A call frame from a tab: refused (EAGAIN) past its calls in flight, else counted until answered. */
  admitCall(tabId: string, key: string, limits: PageLimits): SysError | null {
    const n = this.inFlight.get(tabId) ?? 0;
    if (n >= limits.callsInFlight) {
      const text = `${limits.callsInFlight} calls already in flight from this page: await some first`;
      this.d.audit.record(0, `callsInFlight@${key}`, `refused ${key}: ${text}`);
      return new SysError('EAGAIN', text);
    }
    this.inFlight.set(tabId, n + 1);
    return null;
  }

  callDone(tabId: string): void {
    const n = this.inFlight.get(tabId) ?? 0;
    if (n <= 1) this.inFlight.delete(tabId);
    else this.inFlight.set(tabId, n - 1);
  }

  tabGone(tabId: string): void {
    this.inFlight.delete(tabId);
  }
}

/** What the lifecycle asks about pages when one (or an agent of its tree) spawns. */
export interface PagePolicy {
  /** The page a tab speaks for (embedders.ts pageKey). */
  key(tab: Tab): string;
  /** The most an agent the tab spawns may get (EPERM if the page may no longer embed). */
  ceiling(tab: Tab): Capabilities;
  /** Refuses (EAGAIN, audited) a spawn past the page's limits; `tab` when the page itself spawns. */
  checkSpawn(key: string, tab: Tab | null): void;
  /** Whether the tab may see and signal a process (an embedder only its own). */
  owns(tab: Tab, p: Process): boolean;
  /** Whether a standing "always" of the user may widen what this tab spawns (only the user's own desktop). */
  trusted(tab: Tab): boolean;
}
