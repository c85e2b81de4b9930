/**
 * Access control: what each process may do. The kernel consults `holds` for
 * the capability named by every syscall-table entry, on every call; handlers
 * then apply the object-level part (which model, which process).
 * Children get at most what their parent holds: `isSubset` guards spawn.
 */

import type { Capabilities, CapName } from '../abi/capabilities';
import { SysError } from '../abi/errors';
import { parseHttpUrl } from '../net/http';
import { arr, bool, type Check, int, nullable, obj, oneOf, opt, str } from './check';

export type { Capabilities, CapName };

/** What the user at the desktop holds: everything. */
export const USER_CAPS: Readonly<Capabilities> = Object.freeze({
  spawn: true,
  procs: 'all',
  models: ['*'],
  tokenQuota: null,
  modelAdmin: true,
  memoryRead: ['*'],
  memoryWrite: ['*'],
  bus: ['*'],
  tools: ['*'],
  net: ['*'],
  memoryWrites: null,
});

/** What an agent gets when its spawner names no permissions (clamped to the spawner's own). */
export const DEFAULT_AGENT_CAPS: Readonly<Capabilities> = Object.freeze({
  spawn: true,
  procs: 'children',
  models: ['*'],
  tokenQuota: null,
  modelAdmin: false,
  memoryRead: [],
  memoryWrite: [],
  bus: ['family'],
  // The kernel's built-ins touch nothing outside the call; other tools must be granted.
  tools: ['time.now', 'math.evaluate'],
  net: [],
  memoryWrites: 10_000,
});

const PROC_RANK = { self: 0, children: 1, all: 2 } as const;

export const checkPermissions: Check<Partial<Capabilities>> = obj({
  spawn: opt(bool),
  procs: opt(oneOf('self', 'children', 'all')),
  models: opt(arr(str({ min: 1, max: 200 }), { max: 64 })),
  tokenQuota: opt(nullable(int({ min: 0 }))),
  modelAdmin: opt(bool),
  memoryRead: opt(arr(str({ min: 1, max: 200 }), { max: 64 })),
  memoryWrite: opt(arr(str({ min: 1, max: 200 }), { max: 64 })),
  bus: opt(arr(str({ min: 1, max: 200, pattern: /^(\*|family|name:.+|topic:.+)$/ }), { max: 64 })),
  tools: opt(arr(str({ min: 1, max: 64 }), { max: 256 })),
  net: opt(arr(str({ min: 1, max: 300, pattern: /^(\*|https?:\/\/[^/?#\s]+)$/ }), { max: 64 })),
  memoryWrites: opt(nullable(int({ min: 0 }))),
});

export function holds(caps: Capabilities, cap: CapName): boolean {
  switch (cap) {
    case 'spawn':
      return caps.spawn;
    case 'procs':
      return true; // every process may see itself; the handler narrows by scope
    case 'models':
      return caps.models.length > 0;
    case 'modelAdmin':
      return caps.modelAdmin;
    case 'memory':
      return true; // every agent has its private namespace; handlers check shared ones
    case 'bus':
      return true; // its own mailbox is always there; handlers check each channel
    case 'tools':
      return true; // handlers check each tool by name
    case 'net':
      return caps.net.length > 0;
  }
}

/** Whether `bus` grants a channel: '*' grants all, 'topic:*' every topic. */
export function busAllows(caps: Capabilities, channel: string): boolean {
  return (
    caps.bus.includes('*') ||
    caps.bus.includes(channel) ||
    (channel.startsWith('topic:') && caps.bus.includes('topic:*'))
  );
}

/** The private long-term-memory namespace of a process (the user's is 'user'). */
export const privateNamespace = (pid: number): string => (pid === 0 ? 'user' : `agent:${pid}`);

export function mayReadNamespace(caps: Capabilities, pid: number, ns: string): boolean {
  return ns === privateNamespace(pid) || caps.memoryRead.includes('*') || caps.memoryRead.includes(ns);
}

export function mayWriteNamespace(caps: Capabilities, pid: number, ns: string): boolean {
  return ns === privateNamespace(pid) || caps.memoryWrite.includes('*') || caps.memoryWrite.includes(ns);
}

export function mayUseModel(caps: Capabilities, model: string): boolean {
  return caps.models.includes('*') || caps.models.includes(model);
}

/**
 * The capabilities a child gets: what was asked for, filled in from the
 * defaults, and refused with EPERM if any part exceeds the parent's.
 */
export function deriveChild(
  parent: Capabilities,
  requested: Partial<Capabilities> | undefined,
): Capabilities {
  // What is not asked for is inherited, clamped to the parent; what is asked for must fit.
  const inherited = intersect(parent, DEFAULT_AGENT_CAPS);
  const want: Capabilities = { ...inherited, ...(requested ?? {}) };
  const excess = exceeds(want, parent);
  if (excess.length)
    throw new SysError('EPERM', `child would exceed its parent's capabilities: ${excess.join(', ')}`);
  return want;
}

/** Names the parts of `a` that `b` does not cover. */
export function exceeds(a: Capabilities, b: Capabilities): string[] {
  const out: string[] = [];
  if (a.spawn && !b.spawn) out.push('spawn');
  if (a.modelAdmin && !b.modelAdmin) out.push('modelAdmin');
  if (PROC_RANK[a.procs] > PROC_RANK[b.procs]) out.push(`procs:${a.procs}`);
  if (!b.models.includes('*')) {
    for (const m of a.models) if (!b.models.includes(m)) out.push(`model:${m}`);
  }
  if (b.tokenQuota !== null && (a.tokenQuota === null || a.tokenQuota > b.tokenQuota)) out.push('tokenQuota');
  if (b.memoryWrites !== null && (a.memoryWrites === null || a.memoryWrites > b.memoryWrites))
    out.push('memoryWrites');
  for (const [name, mine, theirs] of [
    ['memoryRead', a.memoryRead, b.memoryRead],
    ['memoryWrite', a.memoryWrite, b.memoryWrite],
    ['bus', a.bus, b.bus],
    ['tools', a.tools, b.tools],
    ['net', a.net, b.net],
  ] as const) {
    if (theirs.includes('*')) continue;
    for (const ns of mine) {
      const coveredTopic = name === 'bus' && ns.startsWith('topic:') && theirs.includes('topic:*');
      const coveredTool = name === 'tools' && coversTool(theirs, ns);
      if (!theirs.includes(ns) && !coveredTopic && !coveredTool) out.push(`${name}:${ns}`);
    }
  }
  return out;
}

export const isSubset = (a: Capabilities, b: Capabilities): boolean => exceeds(a, b).length === 0;

export function intersect(a: Capabilities, b: Capabilities): Capabilities {
  const models = meet(a.models, b.models);
  const min = (x: number | null, y: number | null) => (x === null ? y : y === null ? x : Math.min(x, y));
  const quota = min(a.tokenQuota, b.tokenQuota);
  return {
    spawn: a.spawn && b.spawn,
    procs: PROC_RANK[a.procs] <= PROC_RANK[b.procs] ? a.procs : b.procs,
    models,
    tokenQuota: quota,
    modelAdmin: a.modelAdmin && b.modelAdmin,
    memoryRead: meet(a.memoryRead, b.memoryRead),
    memoryWrite: meet(a.memoryWrite, b.memoryWrite),
    bus: meet(a.bus, b.bus),
    tools: [
      ...new Set([
        ...a.tools.filter((t) => coversTool(b.tools, t)),
        ...b.tools.filter((t) => coversTool(a.tools, t)),
      ]),
    ],
    net: meet(a.net, b.net),
    memoryWrites: min(a.memoryWrites, b.memoryWrites),
  };
}

function meet(a: string[], b: string[]): string[] {
  if (a.includes('*')) return [...b];
  if (b.includes('*')) return [...a];
  return a.filter((x) => b.includes(x));
}

/** Whether a list of tool grants covers a tool name: '*', the name, or a prefix such as 'host.*'. */
export const coversTool = (grants: string[], name: string): boolean =>
  grants.includes('*') ||
  grants.includes(name) ||
  grants.some((g) => g.endsWith('.*') && name.startsWith(g.slice(0, -1)) && name.length > g.length - 1);

export const mayUseTool = (caps: Capabilities, name: string): boolean => coversTool(caps.tools, name);

/** No capabilities at all: the base that grants widen. */
export const NO_CAPS: Readonly<Capabilities> = Object.freeze({
  spawn: false,
  procs: 'self',
  models: [],
  tokenQuota: 0,
  modelAdmin: false,
  memoryRead: [],
  memoryWrite: [],
  bus: [],
  tools: [],
  net: [],
  memoryWrites: 0,
});

/** The origin of an http(s) URL, or EINVAL. */
export function originOf(url: string): string {
  return parseHttpUrl(url).origin;
}

export const mayReachOrigin = (caps: Capabilities, origin: string): boolean =>
  caps.net.includes('*') || caps.net.includes(origin);
