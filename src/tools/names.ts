/**
 * Who may serve a tool under which name. A name belongs to its source by its
 * form, never to whoever registers it first:
 *   host.*            a page (the desktop, or a site embedding the OS); each page's are its own,
 *                     and only agents that page's user spawned see them
 *   <prefix>.*        the MCP server the user added under that prefix (claimed when it is added;
 *                     agents' tools already there are evicted, not the server's refused)
 *   time.*, math.*, memory.*, http.*, …   the kernel
 *   anything else     agents (one agent per name)
 * Registration that would shadow another source's name is refused with EPERM.
 */
import { SysError } from '../abi/errors';

/** First name segments that belong to the kernel (its tools, and names reserved for the OS). */
export const KERNEL_SEGMENTS: ReadonlySet<string> = new Set([
  'time',
  'math',
  'memory',
  'http',
  'kernel',
  'os',
  'agentos',
  'mcp',
  'tools',
  'sys',
]);

export const HOST_SEGMENT = 'host';

export type SourceKind = 'kernel' | 'page' | 'mcp' | 'agent';

export function sourceKind(source: string): SourceKind {
  if (source === 'kernel') return 'kernel';
  if (source.startsWith('tab:')) return 'page';
  if (source.startsWith('mcp:')) return 'mcp';
  return 'agent';
}

/** A name's first segment ('acme' of 'acme.lookup'; the whole name if it has no dot). */
export const segmentOf = (name: string): string => {
  const i = name.indexOf('.');
  return (i < 0 ? name : name.slice(0, i)).toLowerCase();
};

/**
 * Why `source` may not register `name` (null: it may). `prefixes` maps each MCP
 * server's claimed prefix (lower case) to its source.
 */
export function shadowing(
  name: string,
  source: string,
  prefixes: ReadonlyMap<string, string>,
): string | null {
  const kind = sourceKind(source);
  const seg = segmentOf(name);
  const claimed = prefixOf(name, prefixes);
  const server = claimed === null ? undefined : prefixes.get(claimed);
  if (kind === 'kernel') return null;
  if (kind === 'page')
    return seg === HOST_SEGMENT && name.length > 5
      ? null
      : `a page's tools are named host.<name>, not "${name}"`;
  if (seg === HOST_SEGMENT) return `"host.*" names belong to pages`;
  if (server !== undefined && server !== source)
    return `"${claimed}.*" names belong to the MCP server ${server.slice(4)}`;
  if (KERNEL_SEGMENTS.has(seg)) return `"${seg}.*" names belong to the kernel`;
  if (kind === 'mcp' && server !== source) return `an MCP server's tools are named <its prefix>.<name>`;
  return null;
}

/** The longest claimed prefix `name` is under (prefixes may hold dots: mcp-127.0.0.1-8123), or null. */
export function prefixOf(name: string, prefixes: ReadonlyMap<string, string>): string | null {
  const lower = name.toLowerCase();
  let best: string | null = null;
  for (const p of prefixes.keys())
    if (lower.startsWith(`${p}.`) && (best === null || p.length > best.length)) best = p;
  return best;
}

/** Whether an MCP server may claim `prefix` (null) or why not. */
export function prefixProblem(
  prefix: string,
  source: string,
  prefixes: ReadonlyMap<string, string>,
): string | null {
  const seg = prefix.toLowerCase();
  if (seg === HOST_SEGMENT || KERNEL_SEGMENTS.has(seg)) return `the prefix "${prefix}" is reserved`;
  const owner = prefixes.get(seg);
  if (owner !== undefined && owner !== source) return `the prefix "${prefix}" belongs to ${owner.slice(4)}`;
  return null;
}

export const refuseName = (why: string): SysError => new SysError('EPERM', `tool name refused: ${why}`);

/** Whether a caller in page scope `scope` sees a tool of `source` (host tools: only its own page's). */
export const visibleIn = (source: string, scope: string | null): boolean =>
  sourceKind(source) !== 'page' || source === `tab:${scope}`;
