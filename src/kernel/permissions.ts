/**
 * Changing what a live process may do: the user grants and revokes, and an
 * agent may ask the user for more (allow once / always / deny). Revocation
 * takes effect at once: the capability object every check reads is changed in
 * place, descendants are clamped to their new ancestor, and calls in flight that
 * depend on what was taken (a generation on a revoked model, a call to a revoked
 * tool) end with EPERM.
 */

import { SysError } from '../abi/errors';
import type { Answer, KernelEvent, PermissionAsk } from '../abi/protocol';
import { type Capabilities, exceeds, intersect, NO_CAPS } from './access-control';
import { joinLimits, lowerLimits } from './limits';
import type { Process } from './process';
import { plainWording } from './wording';

/** Adds `more` to `caps` (lists unioned, flags set, quotas raised to the larger). */
export function widen(caps: Capabilities, more: Partial<Capabilities>): Capabilities {
  const union = (a: string[], b: string[] | undefined) => (b ? [...new Set([...a, ...b])] : a);
  const max = (a: number | null, b: number | null | undefined) =>
    b === undefined ? a : a === null || b === null ? null : Math.max(a, b);
  const rank = { self: 0, children: 1, all: 2 } as const;
  return {
    spawn: caps.spawn || !!more.spawn,
    procs: more.procs && rank[more.procs] > rank[caps.procs] ? more.procs : caps.procs,
    models: union(caps.models, more.models),
    tokenQuota: max(caps.tokenQuota, more.tokenQuota),
    modelAdmin: caps.modelAdmin || !!more.modelAdmin,
    memoryRead: union(caps.memoryRead, more.memoryRead),
    memoryWrite: union(caps.memoryWrite, more.memoryWrite),
    bus: union(caps.bus, more.bus),
    tools: union(caps.tools, more.tools),
    net: union(caps.net, more.net),
    memoryWrites: max(caps.memoryWrites, more.memoryWrites),
    ...(more.limits
      ? { limits: joinLimits(caps.limits, more.limits) }
      : caps.limits
        ? { limits: caps.limits }
        : {}),
    audit: !!caps.audit || !!more.audit,
  };
}

/** Takes `less` away from `caps` (listed items removed, flags named cleared, quotas lowered to it). */
export function narrow(caps: Capabilities, less: Partial<Capabilities>): Capabilities {
  const minus = (a: string[], b: string[] | undefined) =>
    !b ? a : b.includes('*') ? [] : a.filter((x) => !b.includes(x));
  const min = (a: number | null, b: number | null | undefined) =>
    b === undefined || b === null ? a : a === null ? b : Math.min(a, b);
  return {
    spawn: less.spawn ? false : caps.spawn,
    procs: less.procs ? 'self' : caps.procs,
    models: minus(caps.models, less.models),
    tokenQuota: min(caps.tokenQuota, less.tokenQuota),
    modelAdmin: less.modelAdmin ? false : caps.modelAdmin,
    memoryRead: minus(caps.memoryRead, less.memoryRead),
    memoryWrite: minus(caps.memoryWrite, less.memoryWrite),
    bus: minus(caps.bus, less.bus),
    tools: minus(caps.tools, less.tools),
    net: minus(caps.net, less.net),
    memoryWrites: min(caps.memoryWrites, less.memoryWrites),
    ...(less.limits
      ? { limits: lowerLimits(caps.limits, less.limits) }
      : caps.limits
        ? { limits: caps.limits }
        : {}),
    audit: less.audit ? false : !!caps.audit,
  };
}

/** Replaces a live process's capabilities in place (every caller object holds this one). */
export function setCapabilities(p: Process, caps: Capabilities): void {
  Object.assign(p.info.capabilities, caps);
  for (const check of p.guards) check();
}

/** Clamps every descendant to what its parent now holds: no child keeps more than its parent. */
export function clampDescendants(p: Process, find: (pid: number) => Process | undefined): void {
  for (const pid of p.children) {
    const child = find(pid);
    if (!child?.alive) continue;
    if (exceeds(child.info.capabilities, p.info.capabilities).length) {
      setCapabilities(child, intersect(child.info.capabilities, p.info.capabilities));
    }
    clampDescendants(child, find);
  }
}

/**
 * Ends a call in flight when `stillAllowed` stops holding (a revoke). Returns the
 * signal to run the call with and a `done` that throws EPERM if it was revoked.
 */
export function guardCall(
  p: Process | null,
  outer: AbortSignal,
  stillAllowed: () => boolean,
  what: string,
): { signal: AbortSignal; done: () => void; release: () => void } {
  if (!p) return { signal: outer, done: () => {}, release: () => {} };
  const ctl = new AbortController();
  let revoked = false;
  const onOuter = () => ctl.abort();
  outer.addEventListener('abort', onOuter, { once: true });
  const check = () => {
    if (!revoked && !stillAllowed()) {
      revoked = true;
      ctl.abort();
    }
  };
  p.guards.add(check);
  const release = () => {
    p.guards.delete(check);
    outer.removeEventListener('abort', onOuter);
  };
  return {
    signal: ctl.signal,
    release,
    done: () => {
      release();
      if (revoked) throw new SysError('EPERM', `${what} was revoked`);
    },
  };
}

/** Agents' requests for more, waiting for the user's answer; "always" answers become standing grants. */
export class PermissionRequests {
  /** By program: what the user allowed "always", applied when the user starts that program again. */
  readonly standing = new Map<string, Partial<Capabilities>>();
  private readonly waiting = new Map<
    number,
    { ask: PermissionAsk; resolve: (a: Answer) => void; settled: Promise<Answer> }
  >();
  private seq = 0;

  constructor(
    private readonly hooks: {
      log(pid: number, kind: 'grant' | 'deny', text: string): void;
      broadcast(e: KernelEvent): void;
      grant(p: Process, more: Partial<Capabilities>): Capabilities;
      /** The standing grants changed (they are saved with the kernel's state). */
      changed(): void;
    },
  ) {}

  /** Resolves with the user's answer; 'deny' when no one answers in time, or the agent goes away. */
  async request(
    p: Process,
    permissions: Partial<Capabilities>,
    reason: string,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<{ answer: Answer; capabilities: Capabilities }> {
    // One request per agent at a time: a repeat joins the one waiting, anything else waits its turn.
    const mine = [...this.waiting.values()].find((w) => w.ask.pid === p.pid);
    if (mine) {
      if (
        JSON.stringify(mine.ask.permissions) === JSON.stringify(permissions) &&
        mine.ask.reason === reason
      ) {
        mine.ask.repeats = (mine.ask.repeats ?? 0) + 1;
        // The same card, with the count (at 1, 2, 4, 8… so repeats cannot flood the tabs).
        const r = mine.ask.repeats;
        if ((r & (r - 1)) === 0) this.hooks.broadcast({ type: 'ask', ask: mine.ask });
        const answer = await mine.settled;
        return { answer, capabilities: p.info.capabilities };
      }
      this.hooks.log(p.pid, 'deny', `a second permission request while #${mine.ask.id} waits: refused`);
      throw new SysError(
        'EAGAIN',
        `permission request #${mine.ask.id} is still waiting for the user; one at a time`,
      );
    }
    const id = ++this.seq;
    const ask: PermissionAsk = {
      id,
      pid: p.pid,
      program: p.info.program,
      task: plainWording(p.info.task.slice(0, 500)),
      permissions,
      reason,
    };
    this.hooks.log(p.pid, 'grant', `asks the user for ${JSON.stringify(permissions)}: ${reason}`);
    let finish: (a: Answer) => void = () => {};
    const settled = new Promise<Answer>((resolve) => {
      const timer = setTimeout(() => finish('deny'), timeoutMs);
      finish = (a: Answer) => {
        clearTimeout(timer);
        if (!this.waiting.delete(id)) return;
        this.hooks.broadcast({ type: 'ask.done', id, answer: a });
        resolve(a);
      };
    });
    this.waiting.set(id, { ask, resolve: finish, settled });
    signal.addEventListener('abort', () => finish('deny'), { once: true });
    p.onExit(() => finish('deny'));
    this.hooks.broadcast({ type: 'ask', ask });
    const answer = await settled;
    if (answer === 'deny') {
      this.hooks.log(p.pid, 'deny', `the user denied ${JSON.stringify(permissions)}`);
    } else {
      if (answer === 'always') {
        const rule = this.standing.get(p.info.program) ?? {};
        this.standing.set(p.info.program, widen(widen({ ...NO_CAPS }, rule), permissions));
        this.hooks.changed();
      }
      this.hooks.grant(p, permissions);
    }
    return { answer, capabilities: p.info.capabilities };
  }

  answer(id: number, answer: Answer): void {
    const a = this.waiting.get(id);
    if (!a) throw new SysError('ENOENT', `no pending permission request ${id}`);
    a.resolve(answer);
  }

  pending(): PermissionAsk[] {
    return [...this.waiting.values()].map((a) => a.ask);
  }
}

export type { Answer, PermissionAsk };
