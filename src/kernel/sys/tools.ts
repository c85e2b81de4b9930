/** Tool syscalls: calls held by the caller's tool grant (even against what a model or a tool result asks for). */
import { SysError } from '../../abi/errors';
import { type ToolDef, type ToolInfo, toSpec } from '../../tools/registry';
import { mayUseTool } from '../access-control';
import type { Caller, CallIO } from '../dispatch';
import { pageKey } from '../embedders';
import type { Kernel } from '../kernel';
import { guardCall } from '../permissions';

/** Tools one agent may serve at once (each holds a compiled schema in the kernel). */
const AGENT_TOOLS_MAX = 64;

/** How long an agent serving a tool has to answer a call. */
const AGENT_TOOL_TIMEOUT_MS = 30_000;

/** The tools the caller may call, with their JSON Schemas and who serves them. */
export function list(k: Kernel, c: Caller): ToolInfo[] {
  return k.tools.list((name) => mayUseTool(c.caps, name), c);
}

export async function search(k: Kernel, c: Caller, query: string, n: number) {
  const found = await k.tools.search(query, n, (name) => mayUseTool(c.caps, name), c);
  return found.map((t) => ({ ...toSpec(t), score: t.score }));
}

export async function call(k: Kernel, c: Caller, a: { name: string; args?: unknown }, io: CallIO) {
  // The ACL holds whatever a model or a tool result asked for.
  if (!mayUseTool(c.caps, a.name)) {
    k.log(c.pid, 'deny', `tool ${a.name} denied`);
    throw new SysError('EPERM', `tool "${a.name}" is not granted`);
  }
  // Revoking the tool while the call runs ends it with EPERM.
  const guard = guardCall(
    c.kind === 'agent' ? c.proc : null,
    io.signal,
    () => mayUseTool(c.caps, a.name),
    `tool ${a.name}`,
  );
  const revoked = new Promise<never>((_, reject) =>
    guard.signal.addEventListener(
      'abort',
      () => reject(new SysError('EPERM', `tool ${a.name} was revoked`)),
      {
        once: true,
      },
    ),
  );
  revoked.catch(() => {});
  const args = a.args ?? {};
  try {
    const result = await Promise.race([k.tools.call(a.name, args, c), revoked]);
    k.emit({ type: 'tool', pid: c.pid, name: a.name, args, ok: true, result });
    return result;
  } catch (e) {
    k.emit({ type: 'tool', pid: c.pid, name: a.name, args, ok: false, result: SysError.from(e).message });
    throw e;
  } finally {
    guard.release();
  }
}

/**
 * Serves a tool to others. A page (the desktop, or a site embedding the OS) gets calls as
 * host.tool commands; an agent as bus requests on the 'tools' topic, its reply being the result.
 */
export function register(k: Kernel, c: Caller, def: ToolDef): ToolInfo {
  if (c.kind === 'user') {
    const source = `tab:${c.tab.id}`;
    if (!k.tools.serves(def.name, source))
      k.pages.checkTool(pageKey(c.tab), k.tools.countOf(source), k.embedders.pageLimits(c.tab));
    return k.tabs.registerTool(c.tab, def);
  }
  const pid = c.pid;
  const source = `agent:${pid}`;
  if (!k.tools.serves(def.name, source) && k.tools.countOf(source) >= AGENT_TOOLS_MAX)
    k.limiter.refuse(
      c,
      'tools',
      'EAGAIN',
      `this agent already serves ${AGENT_TOOLS_MAX} tools, the most one may; remove some first`,
    );
  return k.tools.register(def, `agent:${pid}`, async (args) => {
    const e = await k.bus.request(0, pid, { tool: def.name, args }, AGENT_TOOL_TIMEOUT_MS, 'tools');
    const body = e.body as { ok?: boolean; value?: unknown; error?: string };
    if (body?.ok === false)
      throw new SysError('EIO', `${def.name} failed: ${String(body.error).slice(0, 500)}`);
    return body?.value;
  });
}

/** Removes a tool (agents: only their own). */
export function remove(k: Kernel, c: Caller, name: string): null {
  // The user removes any tool by name; a page of another site only its own, an agent only its own.
  const ok =
    c.kind === 'user'
      ? c.tab.embed
        ? k.tools.remove(name, `tab:${c.tab.id}`)
        : k.tools.remove(name)
      : k.tools.remove(name, `agent:${c.pid}`);
  if (!ok) throw new SysError('ENOENT', `no tool "${name}" of yours`);
  return null;
}
