/**
 * MCP servers as tool sources. `addMcpServer` puts a server's tools in the
 * registry as `<prefix>.<tool>` and keeps them in step with the server's
 * `notifications/tools/list_changed`. The client itself (mcp-client.ts, on
 * the official SDK) is loaded only when a server is added.
 */

import { SysError } from '../abi/errors';
import { parseHttpUrl } from '../net/http';
import type { McpClientOptions, McpTool } from './mcp-client';
import type { ToolRegistry } from './registry';

export interface McpServerOptions extends McpClientOptions {
  /** Tool names get this prefix (default: from the host, e.g. mcp-localhost-8123). */
  prefix?: string;
}

export interface McpHandle {
  url: string;
  prefix: string;
  /** The registry names of the server's tools, kept current. */
  tools: string[];
  /** Removes the tools and ends the session. */
  close(): Promise<void>;
}

/** The server's URL as the key it is known by (no fragment), or EINVAL. */
function serverUrl(url: string): URL {
  const u = parseHttpUrl(url, 'headers');
  u.hash = '';
  return u;
}

/** Registry names start with a letter and hold [\w.-], 64 characters at most. */
const namePart = (s: string) => s.replace(/[^\w.-]+/g, '-');
const toPrefix = (s: string) =>
  namePart(s)
    .replace(/^[^a-zA-Z]+/, '')
    .slice(0, 40) || 'mcp';

/** Connects, registers the server's tools as `<prefix>.<name>`, and follows its list changes. */
export async function addMcpServer(registry: ToolRegistry, o: McpServerOptions): Promise<McpHandle> {
  const url = serverUrl(o.url);
  const { McpClient } = await import('./mcp-client');
  const client = await McpClient.connect(o);
  const prefix = toPrefix(o.prefix ?? `mcp-${url.hostname}${url.port ? `-${url.port}` : ''}`);
  const source = `mcp:${url.href}`;
  let closed = false;
  const handle: McpHandle = {
    url: url.href,
    prefix,
    tools: [],
    close: async () => {
      if (closed) return;
      closed = true;
      client.onToolsChanged = null;
      registry.removeSource(source);
      handle.tools = [];
      await client.close();
    },
  };
  const apply = (tools: McpTool[]) => {
    const names = new Set<string>();
    for (const t of tools) {
      const name = `${prefix}.${namePart(t.name)}`.slice(0, 64);
      try {
        if (names.has(name)) throw new Error(`its name is ${name} too`);
        registry.register(
          { name, description: t.description || t.name, inputSchema: t.inputSchema },
          source,
          (args) => client.callTool(t.name, args),
        );
        names.add(name);
      } catch (e) {
        console.warn(`[mcp] ${url.href}: skipping tool ${t.name}:`, (e as Error).message);
      }
    }
    for (const old of handle.tools) if (!names.has(old)) registry.remove(old, source);
    handle.tools = [...names];
  };
  // One listing at a time; a change announced during one gets one more after it, so the newest list wins.
  let syncing: Promise<void> | null = null;
  let again = false;
  const sync = (): Promise<void> => {
    if (syncing) {
      again = true;
      return syncing;
    }
    syncing = (async () => {
      try {
        do {
          again = false;
          const tools = await client.listTools();
          if (!closed) apply(tools);
        } while (again && !closed);
      } finally {
        syncing = null;
      }
    })();
    return syncing;
  };
  client.onToolsChanged = () => void sync().catch((e: unknown) => console.warn('[mcp] re-listing tools:', e));
  try {
    await sync();
  } catch (e) {
    await handle.close();
    throw e;
  }
  return handle;
}

/** The MCP servers the user added, by URL. */
export class McpServers {
  private readonly servers = new Map<string, McpHandle>();

  constructor(
    private readonly registry: ToolRegistry,
    private readonly log: (kind: 'grant' | 'revoke', text: string) => void,
  ) {}

  async add(o: McpServerOptions): Promise<{ url: string; prefix: string; tools: string[] }> {
    const key = serverUrl(o.url).href;
    if (this.servers.has(key)) throw new SysError('EAGAIN', `${key} is already added`);
    const h = await addMcpServer(this.registry, o);
    this.servers.set(key, h);
    this.log('grant', `added MCP server ${key}: ${h.tools.length} tool(s) as ${h.prefix}.*`);
    return { url: h.url, prefix: h.prefix, tools: h.tools };
  }

  async remove(url: string): Promise<void> {
    const key = serverUrl(url).href;
    const h = this.servers.get(key);
    if (!h) throw new SysError('ENOENT', `no MCP server ${key}`);
    this.servers.delete(key);
    await h.close();
    this.log('revoke', `removed MCP server ${key}`);
  }

  list(): { url: string; prefix: string; tools: string[] }[] {
    return [...this.servers.values()].map((h) => ({ url: h.url, prefix: h.prefix, tools: h.tools }));
  }
}
