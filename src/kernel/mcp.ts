/**
 * MCP servers as tool sources: a client for the Model Context Protocol's
 * Streamable HTTP transport (JSON-RPC over POST; answers as JSON or as an SSE
 * stream; a session id after `initialize`; `tools/list` with pagination,
 * `tools/call`, and `notifications/tools/list_changed` on any stream or on the
 * standalone GET stream). `addMcpServer` puts a server's tools in the registry
 * as `<prefix>.<tool>` and keeps them in step with the server.
 */
import { SseParser } from './engines/openai-remote';
import { SysError } from './errors';
import type { ToolRegistry } from './tools';

export const MCP_PROTOCOL_VERSION = '2025-06-18';
const SUPPORTED = ['2025-06-18', '2025-03-26'];

export interface McpServerOptions {
  url: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** Tool names get this prefix (default: from the host, e.g. mcp-localhost-8123). */
  prefix?: string;
}

export interface McpTool {
  name: string;
  description?: string;
  inputSchema: Record<string, unknown>;
}

interface JsonRpcMessage {
  jsonrpc: '2.0';
  id?: number | string | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export class McpClient {
  private seq = 0;
  private session: string | null = null;
  private version = MCP_PROTOCOL_VERSION;
  private listening: AbortController | null = null;
  serverInfo: { name?: string; version?: string } = {};
  /** Called when the server says its tool list changed. */
  onToolsChanged: (() => void) | null = null;

  private constructor(
    private readonly o: Required<Pick<McpServerOptions, 'url' | 'timeoutMs'>> & McpServerOptions,
  ) {}

  static async connect(o: McpServerOptions): Promise<McpClient> {
    const u = parseUrl(o.url);
    const c = new McpClient({ ...o, url: u, timeoutMs: o.timeoutMs ?? 15_000 });
    await c.initialize();
    return c;
  }

  get protocolVersion(): string {
    return this.version;
  }

  private async initialize(): Promise<void> {
    this.session = null;
    const r = (await this.rpc(
      'initialize',
      {
        protocolVersion: MCP_PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: 'agentos', version: '0.1.0' },
      },
      false,
    )) as { protocolVersion?: string; serverInfo?: { name?: string; version?: string } };
    if (r.protocolVersion && !SUPPORTED.includes(r.protocolVersion))
      throw new SysError(
        'EPROTO',
        `${this.o.url} speaks MCP ${r.protocolVersion}; this client ${SUPPORTED.join(', ')}`,
      );
    this.version = r.protocolVersion ?? MCP_PROTOCOL_VERSION;
    this.serverInfo = r.serverInfo ?? {};
    await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
  }

  async listTools(): Promise<McpTool[]> {
    const tools: McpTool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const r = (await this.rpc('tools/list', cursor ? { cursor } : {})) as {
        tools?: McpTool[];
        nextCursor?: string;
      };
      tools.push(...(r.tools ?? []));
      if (!r.nextCursor) break;
      cursor = r.nextCursor;
    }
    return tools;
  }

  async callTool(name: string, args: Record<string, unknown>): Promise<unknown> {
    const r = (await this.rpc('tools/call', { name, arguments: args })) as {
      content?: { type: string; text?: string }[];
      structuredContent?: unknown;
      isError?: boolean;
    };
    if (r.isError) {
      const text = (r.content ?? [])
        .map((c) => c.text ?? '')
        .join(' ')
        .slice(0, 500);
      throw new SysError('EIO', `${name} failed on the MCP server: ${text || 'no detail'}`);
    }
    return r.structuredContent ?? { content: r.content ?? [] };
  }

  /** The standalone stream the server may push notifications on (a 405 means it offers none). */
  listen(): void {
    if (this.listening) return;
    const ctl = new AbortController();
    this.listening = ctl;
    void (async () => {
      try {
        const res = await this.fetch(this.o.url, {
          method: 'GET',
          headers: this.headers('text/event-stream'),
          signal: ctl.signal,
        });
        if (!res.ok || !res.body) return;
        await this.readStream(res.body, null);
      } catch {
        /* the stream ended or was closed: list changes then arrive on POST streams only */
      } finally {
        if (this.listening === ctl) this.listening = null;
      }
    })();
  }

  async close(): Promise<void> {
    this.listening?.abort();
    this.listening = null;
    if (!this.session) return;
    await this.fetch(this.o.url, { method: 'DELETE', headers: this.headers() }).catch(() => {});
    this.session = null;
  }

  private headers(accept = 'application/json, text/event-stream'): Record<string, string> {
    return {
      ...(this.o.headers ?? {}),
      accept,
      'content-type': 'application/json',
      ...(this.session ? { 'mcp-session-id': this.session } : {}),
      ...(this.session ? { 'mcp-protocol-version': this.version } : {}),
    };
  }

  private fetch(url: string, init: RequestInit): Promise<Response> {
    return (this.o.fetch ?? fetch)(url, { ...init, credentials: 'omit' });
  }

  private async post(msg: JsonRpcMessage, signal?: AbortSignal): Promise<Response> {
    const res = await this.fetch(this.o.url, {
      method: 'POST',
      headers: this.headers(),
      body: JSON.stringify(msg),
      signal: signal ?? AbortSignal.timeout(this.o.timeoutMs),
    }).catch((e: unknown) => {
      const name = (e as Error)?.name;
      if (name === 'TimeoutError' || name === 'AbortError')
        throw new SysError('ETIMEDOUT', `${this.o.url} did not answer within ${this.o.timeoutMs} ms`);
      throw new SysError('EIO', `${this.o.url} is unreachable: ${(e as Error).message ?? e}`);
    });
    if (res.status === 401 || res.status === 403)
      throw new SysError(
        'EPERM',
        `${this.o.url} refused the request (HTTP ${res.status}); check its credentials`,
      );
    return res;
  }

  /** One request and its answer; a session the server forgot is opened again, once. */
  private async rpc(method: string, params: unknown, retry = true): Promise<unknown> {
    const id = ++this.seq;
    const signal = AbortSignal.timeout(this.o.timeoutMs);
    const res = await this.post({ jsonrpc: '2.0', id, method, params }, signal);
    if (res.status === 404 && this.session && retry) {
      await this.initialize();
      return this.rpc(method, params, false);
    }
    if (!res.ok) throw new SysError('EIO', `${this.o.url}: HTTP ${res.status} for ${method}`);
    if (method === 'initialize') this.session = res.headers.get('mcp-session-id');
    const type = res.headers.get('content-type') ?? '';
    let answer: JsonRpcMessage | null = null;
    try {
      if (type.includes('text/event-stream') && res.body) answer = await this.readStream(res.body, id);
      else {
        answer = (await res.json()) as JsonRpcMessage;
        this.handle(answer, id);
      }
    } catch (e) {
      if ((e as Error)?.name === 'TimeoutError' || (e as Error)?.name === 'AbortError')
        throw new SysError(
          'ETIMEDOUT',
          `${method} on ${this.o.url} did not finish within ${this.o.timeoutMs} ms`,
        );
      throw SysError.from(e);
    }
    if (!answer) throw new SysError('EIO', `${this.o.url} ended the stream without answering ${method}`);
    if (answer.error)
      throw new SysError(
        answer.error.code === -32602 ? 'EINVAL' : answer.error.code === -32601 ? 'ENOSYS' : 'EIO',
        `${method} on ${this.o.url}: ${answer.error.message}`,
      );
    return answer.result;
  }

  /** Reads an SSE stream: notifications are handled; returns the answer to `id` (or null at the end). */
  private async readStream(
    body: ReadableStream<Uint8Array>,
    id: number | null,
  ): Promise<JsonRpcMessage | null> {
    const parser = new SseParser();
    const reader = body.getReader();
    const dec = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        const events = done ? parser.end() : parser.push(dec.decode(value, { stream: true }));
        for (const data of events) {
          let msg: JsonRpcMessage;
          try {
            msg = JSON.parse(data) as JsonRpcMessage;
          } catch {
            continue; // not JSON-RPC: ignore, as the transport says to
          }
          if (this.handle(msg, id)) return msg;
        }
        if (done) return null;
      }
    } finally {
      if (id !== null) void reader.cancel().catch(() => {});
    }
  }

  /** Notifications act; returns true when `msg` answers request `id`. */
  private handle(msg: JsonRpcMessage, id: number | null): boolean {
    if (msg.method === 'notifications/tools/list_changed') this.onToolsChanged?.();
    return id !== null && msg.id === id && (msg.result !== undefined || msg.error !== undefined);
  }
}

function parseUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SysError('EINVAL', `not a URL: ${url.slice(0, 200)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new SysError('EINVAL', `only http(s) MCP servers, not ${u.protocol}`);
  return u.href;
}

const sanitize = (s: string) =>
  s
    .replace(/[^\w.-]+/g, '-')
    .replace(/^[^a-zA-Z]+/, '')
    .slice(0, 40) || 'mcp';

export interface McpHandle {
  url: string;
  prefix: string;
  tools: string[];
  close(): Promise<void>;
}

/** Connects, registers the server's tools as `<prefix>.<name>`, and follows its list changes. */
export async function addMcpServer(registry: ToolRegistry, o: McpServerOptions): Promise<McpHandle> {
  const client = await McpClient.connect(o);
  const url = new URL(o.url);
  const prefix = sanitize(o.prefix ?? `mcp-${url.hostname}${url.port ? `-${url.port}` : ''}`);
  const source = `mcp:${url.href}`;
  const handle: McpHandle = {
    url: url.href,
    prefix,
    tools: [],
    close: async () => {
      registry.removeSource(source);
      handle.tools = [];
      await client.close();
    },
  };
  const sync = async () => {
    const tools = await client.listTools();
    const names = new Set<string>();
    for (const t of tools) {
      const name = `${prefix}.${sanitize(t.name)}`.slice(0, 64);
      names.add(name);
      registry.remove(name, source);
      try {
        registry.register(
          { name, description: t.description ?? t.name, inputSchema: t.inputSchema ?? { type: 'object' } },
          source,
          (args) => client.callTool(t.name, args),
        );
      } catch (e) {
        console.warn(`[mcp] skipping tool ${t.name}:`, (e as Error).message);
        names.delete(name);
      }
    }
    for (const old of handle.tools) if (!names.has(old)) registry.remove(old, source);
    handle.tools = [...names];
  };
  await sync();
  client.onToolsChanged = () => void sync().catch((e: unknown) => console.warn('[mcp] re-listing tools:', e));
  client.listen();
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
    const key = new URL(o.url).href;
    if (this.servers.has(key)) throw new SysError('EAGAIN', `${key} is already added`);
    const h = await addMcpServer(this.registry, o);
    this.servers.set(key, h);
    this.log('grant', `added MCP server ${key}: ${h.tools.length} tool(s) as ${h.prefix}.*`);
    return { url: h.url, prefix: h.prefix, tools: h.tools };
  }

  async remove(url: string): Promise<void> {
    const key = new URL(url).href;
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
