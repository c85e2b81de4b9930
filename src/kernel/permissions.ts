/**
 * Changing what a live process may do: the user grants and revokes, and an
 * agent may ask the user for more (allow once / always / deny). Revocation
 * takes effect at once: the capability object every check reads is changed in
 * place, descendants are clamped to their new ancestor, and calls in flight that
 * depend on what was taken (a generation on a revoked model, a call to a revoked
 * tool) end with EPERM.
 */
import { type Capabilities, exceeds, intersect } from './access-control';
import { SysError } from './errors';
import type { Process } from './process';

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

export type Answer = 'once' | 'always' | 'deny';

export interface PermissionAsk {
  id: number;
  pid: number;
  program: string;
  task: string;
  permissions: Partial<Capabilities>;
  reason: string;
}
