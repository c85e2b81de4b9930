/**
 * Pages of other sites embedding the OS (embed.html in their iframe). Such a tab is not the
 * user: it says hello with `embed`, binds once to the origin of the page it speaks for
 * (`embed.bind`), and from then on the kernel — not the embedding frame — clamps what it does
 * to what that origin is allowed (the user's settings, then the deployment's embed-policy.json):
 * the agents it spawns are derived from the origin's ceiling like children from a parent (a
 * standing "always" of the user never widens them), it sees, signals and messages only the agents
 * its origin started, hears only their events, and may call only what embedding needs. An
 * unbound or refused embed tab can only ask whether an origin is allowed, and never hosts agents.
 */

import type { Capabilities } from '../abi/capabilities';
import { SysError } from '../abi/errors';
import type { CallFrame, KernelEvent } from '../abi/protocol';
import { checkPermissions, DEFAULT_AGENT_CAPS, NO_CAPS } from './access-control';
import { DESKTOP_PAGE_LIMITS, embedPageLimits, type PageLimits } from './page-limits';
import type { Process, ProcessTable } from './process';
import type { Tab } from './tabs';

/** What an embedded OS may call at all; everything else is the user's (EPERM). */
const EMBED_CALLS = new Set([
  'nop',
  'getpid',
  'subscribe',
  'embed.bind',
  'embed.policy',
  'spawn',
  'ps',
  'bus.send',
  'wait',
  'kill',
  'tools.register',
  'tools.result',
  'tools.remove',
]);
/** Those it may call before it is bound to an allowed origin. */
const UNBOUND_CALLS = new Set(['nop', 'getpid', 'subscribe', 'embed.bind', 'embed.policy']);

/** The most an embedding origin's agents may get: what the owner allowed, nothing else. */
export function originCeiling(policy: Partial<Capabilities>): Capabilities {
  return {
    ...NO_CAPS,
    tokenQuota: null,
    memoryWrites: DEFAULT_AGENT_CAPS.memoryWrites,
    procs: 'children',
    ...policy,
  };
}

/** What the embed tab itself holds as a caller: enough to reach the calls above, no more. */
const EMBED_CALLER_CAPS: Readonly<Capabilities> = Object.freeze({
  ...NO_CAPS,
  spawn: true,
  procs: 'children',
  bus: ['family'],
});

/** The page a tab speaks for: an embedding origin (all its frames and reloads), or the desktop tab itself. */
export const pageKey = (tab: Tab): string =>
  tab.embed ? (tab.embed.origin ? `origin:${tab.embed.origin}` : `embed:${tab.id}`) : `desktop:${tab.id}`;

export interface EmbeddersDeps {
  /** The user's allowlist (settings: embed.allow), which wins over the file. */
  settings: Map<string, Partial<Capabilities>>;
  /** Reads the deployment's embed-policy.json (null where there is none: tests, Node). */
  loadFile: (() => Promise<unknown>) | null;
  procs: ProcessTable;
  log(kind: 'grant' | 'deny', text: string): void;
}

export class Embedders {
  private file = new Map<string, Partial<Capabilities>>();
  private loaded: Promise<void> | null = null;

  constructor(private readonly d: EmbeddersDeps) {}

  /** The deployment's list, read once per kernel. */
  private load(): Promise<void> {
    this.loaded ??= (async () => {
      if (!this.d.loadFile) return;
      try {
        this.file = parsePolicyFile(await this.d.loadFile(), (why) => this.d.log('deny', why));
      } catch (e) {
        this.d.log('deny', `embed-policy.json not read: ${(e as Error).message ?? e}`);
      }
    })();
    return this.loaded;
  }

  /** What an origin's agents may get at most, or null if it may not embed. */
  policyNow(origin: string): Partial<Capabilities> | null {
    return this.d.settings.get(origin) ?? this.file.get(origin) ?? null;
  }

  async policy(origin: string): Promise<Partial<Capabilities> | null> {
    await this.load();
    return this.policyNow(origin);
  }

  /** The tab speaks for `origin` from now on; only an allowed origin, and only one per tab. */
  async bind(tab: Tab, origin: string): Promise<{ origin: string; permissions: Partial<Capabilities> }> {
    if (!tab.embed) throw new SysError('EINVAL', 'embed.bind is for an embedded OS (embed.html)');
    if (tab.embed.origin !== null && tab.embed.origin !== origin)
      throw new SysError('EPERM', `this embedded OS already speaks for ${tab.embed.origin}`);
    const permissions = await this.policy(origin);
    if (!permissions) {
      this.d.log('deny', `embedding refused for ${origin}`);
      throw new SysError('EPERM', `${origin} may not embed this AgentOS (its owner can allow it)`);
    }
    if (tab.embed.origin === null) this.d.log('grant', `embedded by ${origin} (tab ${tab.id.slice(0, 8)})`);
    tab.embed.origin = origin;
    return { origin, permissions };
  }

  /** The capabilities a tab's calls are authorised with. */
  callerCaps(tab: Tab, user: Capabilities): Capabilities {
    return tab.embed ? EMBED_CALLER_CAPS : user;
  }

  /** The most an agent this tab spawns may get: the user's all, an embedder only its origin's ceiling. */
  spawnCeiling(tab: Tab, user: Capabilities): Capabilities {
    if (!tab.embed) return user;
    const policy = tab.embed.origin ? this.policyNow(tab.embed.origin) : null;
    if (!policy) throw new SysError('EPERM', 'this page may not embed this AgentOS (no longer allowed)');
    return originCeiling(policy);
  }

  /** The page limits of a tab (an embedder's from its origin's ceiling). */
  pageLimits(tab: Tab): PageLimits {
    if (!tab.embed) return DESKTOP_PAGE_LIMITS;
    const policy = tab.embed.origin ? this.policyNow(tab.embed.origin) : null;
    return policy ? embedPageLimits(originCeiling(policy)) : { ...DESKTOP_PAGE_LIMITS, procs: 0, tools: 0 };
  }

  /** Whether a process belongs to the page this tab speaks for. */
  owns(tab: Tab, p: Process): boolean {
    return !tab.embed || p.spawnPage === pageKey(tab);
  }

  /**
   * Refuses (EPERM) a call an embedded OS may not make: one outside the embedding set, any but
   * the handshake before it is bound (or after its origin was removed), and a message or signal to
   * a process its origin did not start. Null when the call may go on to dispatch.
   */
  refuse(tab: Tab, frame: CallFrame): SysError | null {
    const e = tab.embed;
    if (!e) return null;
    if (!EMBED_CALLS.has(frame.name))
      return new SysError('EPERM', `${frame.name.slice(0, 64)} is not available to an embedding page`);
    if (UNBOUND_CALLS.has(frame.name)) return null;
    if (!e.origin || !this.policyNow(e.origin))
      return new SysError('EPERM', 'this page may not embed this AgentOS (say hello from an allowed origin)');
    if (frame.name === 'bus.send') {
      const to = (frame.args as { to?: unknown } | null)?.to;
      const p = typeof to === 'number' ? this.d.procs.find(to) : undefined;
      if (!p || !this.owns(tab, p))
        return new SysError('EPERM', `process ${String(to).slice(0, 40)} was not started by this page`);
    }
    return null;
  }

  /** Whether an embed tab hears an event: only about its own agents (and the tab count). */
  hears(tab: Tab, event: KernelEvent): boolean {
    if (!tab.embed) return true;
    if (event.type === 'tabs') return true;
    const pid = event.type === 'proc' ? event.proc.pid : event.type === 'output' ? event.pid : undefined;
    if (pid === undefined) return false;
    const p = this.d.procs.find(pid);
    return !!p && this.owns(tab, p);
  }
}

/** The deployment's list: `{ "origins": { "https://site.example": { ...permissions } } }`; bad entries are skipped. */
export function parsePolicyFile(
  json: unknown,
  warn: (why: string) => void,
): Map<string, Partial<Capabilities>> {
  const out = new Map<string, Partial<Capabilities>>();
  const origins = (json as { origins?: unknown } | null)?.origins;
  if (!origins || typeof origins !== 'object') return out;
  for (const [origin, perms] of Object.entries(origins as Record<string, unknown>)) {
    try {
      if (new URL(origin).origin !== origin) throw new Error('not an origin');
      out.set(origin, checkPermissions(perms, `origins["${origin}"]`));
    } catch (e) {
      warn(`embed-policy.json: ignoring ${origin.slice(0, 100)}: ${(e as Error).message}`);
    }
  }
  return out;
}
