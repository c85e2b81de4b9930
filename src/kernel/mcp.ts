/**
 * MCP servers as tool sources: a client for the Model Context Protocol's
 * Streamable HTTP transport (revisions 2025-03-26 and 2025-06-18). JSON-RPC is
 * POSTed to one endpoint; an answer comes as JSON or as an SSE stream that may
 * carry notifications first; `initialize` opens a session whose id goes on
 * every later request; the server may push on a standalone GET stream.
 * `addMcpServer` puts a server's tools in the registry as `<prefix>.<tool>`
 * and keeps them in step with the server's `notifications/tools/list_changed`.
 *
 * Security, as for remote models: no redirects are followed (they could carry
 * the user's headers elsewhere), no cookies are sent, and nothing a server
 * says makes the client fetch another URL.
 */
import { SseParser } from './engines/openai-remote';
import { type Errno, SysError } from './errors';
import type { ToolRegistry } from './tools';

export const MCP_PROTOCOL_VERSION = '2025-06-18';
const SUPPORTED = ['2025-06-18', '2025-03-26'];
/** A long tool list is fine; a server whose cursors never end is not. */
const MAX_PAGES = 100;
/** Longest pause before the standalone stream is opened again after it dropped. */
const MAX_LISTEN_BACKOFF_MS = 30_000;

export interface McpServerOptions {
  /** The MCP endpoint, e.g. `http://localhost:8123/mcp`. */
  url: string;
  /** Sent with every request (e.g. `authorization: Bearer …`). */
  headers?: Record<string, string>;
  /** Per request, reading its answer included. Default 15 s. */
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

export interface McpHandle {
  url: string;
  prefix: string;
  /** The registry names of the server's tools, kept current. */
  tools: string[];
  /** Agents' tools that were under its prefix and were removed when it was added. */
  evicted: string[];
  /** Removes the tools and ends the session. */
  close(): Promise<void>;
}

interface JsonRpcMessage {
  jsonrpc: '2.0';
  id?: number | string | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

type Exchange = { result: unknown; session: string | null } | { expired: string };

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Lets a connection go without reading what is left of a body we do not need. */
const drain = (res: Response) => void res.body?.cancel().catch(() => {});

/** A request's signal: its deadline or the client closing, whichever comes first, and which it was. */
function deadline(ms: number, life: AbortSignal) {
  const ctl = new AbortController();
  const d = { signal: ctl.signal, why: null as 'timeout' | 'closed' | null, release: () => {} };
  const stop = (why: 'timeout' | 'closed') => {
    d.why ??= why;
    ctl.abort();
  };
  const timer = setTimeout(() => stop('timeout'), ms);
  const onClose = () => stop('closed');
  if (life.aborted) onClose();
  else life.addEventListener('abort', onClose, { once: true });
  d.release = () => {
    clearTimeout(timer);
    life.removeEventListener('abort', onClose);
  };
  return d;
}

async function httpError(res: Response, url: string, what: string): Promise<SysError> {
  const body = (await res.text().catch(() => '')).slice(0, 2000);
  let detail = body.slice(0, 300);
  try {
    const j: unknown = JSON.parse(body);
    if (isRecord(j) && isRecord(j.error) && typeof j.error.message === 'string') detail = j.error.message;
  } catch {
    // Not JSON: keep the text.
  }
  const s = res.status;
  const code: Errno =
    s === 401 || s === 403
      ? 'EPERM'
      : s === 408 || s === 504
        ? 'ETIMEDOUT'
        : s === 429 || s === 503
          ? 'EAGAIN'
          : s === 413
            ? 'E2BIG'
            : 'EIO';
  const hint = code === 'EPERM' ? ' (check the credentials in its headers)' : '';
  return new SysError(
    code,
    `${url}: HTTP ${s} for ${what}${detail ? `: ${detail.slice(0, 300)}` : ''}${hint}`,
  );
}

export class McpClient {
  private seq = 0;
  private session: string | null = null;
  private version = MCP_PROTOCOL_VERSION;
  private info: { name?: string; version?: string } = {};
  /** The re-initialize under way after the server forgot the session; requests wait for it. */
  private reopening: Promise<void> | null = null;
  private listener: AbortController | null = null;
  /** The server answered GET with 405: it has no standalone stream. */
  private noStream = false;
  private readonly life = new AbortController();
  /** Called when the server says its tool list changed (or may have, after a reconnect). */
  onToolsChanged: (() => void) | null = null;

  private constructor(
    private readonly url: string,
    private readonly o: McpServerOptions,
    private readonly timeoutMs: number,
    private readonly doFetch: typeof fetch,
  ) {}

  static async connect(o: McpServerOptions): Promise<McpClient> {
    const url = parseUrl(o.url);
    if (!o.fetch && typeof globalThis.fetch !== 'function') throw new SysError('ENOSYS', 'no fetch here');
    // Bound to globalThis: a browser's fetch throws "Illegal invocation" when called as a method.
    const f = o.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const c = new McpClient(url, o, o.timeoutMs ?? 15_000, f);
    try {
      await c.initialize();
    } catch (e) {
      await c.close();
      throw e;
    }
    return c;
  }

  get serverInfo(): { name?: string; version?: string } {
    return this.info;
  }

  get protocolVersion(): string {
    return this.version;
  }

  async listTools(): Promise<McpTool[]> {
    const tools: McpTool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const r = await this.rpc('tools/list', cursor ? { cursor } : {});
      const list: unknown[] = isRecord(r) && Array.isArray(r.tools) ? r.tools : [];
      for (const t of list) {
        if (!isRecord(t) || typeof t.name !== 'string') continue;
        tools.push({
          name: t.name,
          ...(typeof t.description === 'string' ? { description: t.description } : {}),
          inputSchema: isRecord(t.inputSchema) ? t.inputSchema : { type: 'object' },
        });
      }
      cursor = isRecord(r) && typeof r.nextCursor === 'string' && r.nextCursor ? r.nextCursor : undefined;
      if (!cursor) break;
    }
    return tools;
  }

  /** `structuredContent` when the tool gives it, else `{ content }`; a tool's own failure is EIO. */
  async callTool(name: string, args: Record<string, unknown>): Promise<unknown> {
    const r = await this.rpc('tools/call', { name, arguments: args });
    const res = isRecord(r) ? r : {};
    const content: unknown[] = Array.isArray(res.content) ? res.content : [];
    if (res.isError === true) {
      const text = content
        .map((c) => (isRecord(c) && typeof c.text === 'string' ? c.text : `[${isRecord(c) ? c.type : '?'}]`))
        .join(' ')
        .slice(0, 500);
      throw new SysError('EIO', `${name} failed on ${this.url}: ${text || 'no detail'}`);
    }
    return res.structuredContent !== undefined ? res.structuredContent : { content };
  }

  /** Opens the standalone stream the server pushes notifications on, and reopens it when it drops. */
  listen(): void {
    if (this.listener || this.noStream || this.life.signal.aborted) return;
    const ctl = new AbortController();
    this.listener = ctl;
    void this.listenLoop(ctl);
  }

  /** Stops listening, cancels requests in flight (ECANCELED) and ends the session (DELETE). */
  async close(): Promise<void> {
    if (this.life.signal.aborted) return;
    this.life.abort();
    this.listener?.abort();
    this.listener = null;
    const session = this.session;
    this.session = null;
    if (!session) return;
    try {
      const res = await this.send('DELETE', undefined, AbortSignal.timeout(this.timeoutMs), session);
      drain(res); // 405: the server does not let clients end sessions; it will expire it itself
    } catch {
      // Unreachable or slow: the session expires on the server's side.
    }
  }

  /** Opens a session: `initialize`, then the `initialized` notification. */
  private async initialize(): Promise<void> {
    const r = await this.exchange(
      'initialize',
      {
        protocolVersion: MCP_PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: 'agentos', version: '0.1.0' },
      },
      true,
    );
    if ('expired' in r) throw new SysError('EIO', `${this.url} refused to open a session`);
    const init = isRecord(r.result) ? r.result : {};
    const v = typeof init.protocolVersion === 'string' ? init.protocolVersion : MCP_PROTOCOL_VERSION;
    this.session = r.session;
    if (!SUPPORTED.includes(v))
      throw new SysError('EPROTO', `${this.url} speaks MCP ${v}; this client ${SUPPORTED.join(', ')}`);
    this.version = v;
    this.info = isRecord(init.serverInfo) ? (init.serverInfo as { name?: string; version?: string }) : {};
    await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
  }

  /** One re-initialize shared by every request that found session `stale` gone. */
  private reopen(stale: string): Promise<void> {
    if (this.session !== stale) return this.reopening ?? Promise.resolve();
    this.reopening ??= (async () => {
      try {
        await this.initialize();
      } finally {
        this.reopening = null;
      }
      // The old stream belonged to the old session, and changes in the gap went unheard.
      if (this.listener) {
        this.listener.abort();
        this.listener = null;
        this.listen();
      }
      this.onToolsChanged?.();
    })();
    return this.reopening;
  }

  /** One request; a session the server forgot (404) is opened again once and the request repeated. */
  private async rpc(method: string, params: unknown): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      if (this.life.signal.aborted) throw new SysError('ECANCELED', `${this.url}: client closed`);
      if (this.reopening) await this.reopening;
      const r = await this.exchange(method, params, false);
      if (!('expired' in r)) return r.result;
      if (attempt > 0) throw new SysError('EIO', `${this.url} does not know the session it just opened`);
      await this.reopen(r.expired);
    }
  }

  private async exchange(method: string, params: unknown, fresh: boolean): Promise<Exchange> {
    const id = ++this.seq;
    const d = deadline(this.timeoutMs, this.life.signal);
    const session = fresh ? null : this.session;
    try {
      const res = await this.send('POST', { jsonrpc: '2.0', id, method, params }, d.signal, session, fresh);
      if (res.status === 404 && session) {
        drain(res);
        return { expired: session };
      }
      if (!res.ok) throw await httpError(res, this.url, method);
      const type = res.headers.get('content-type') ?? '';
      let answer: JsonRpcMessage | null = null;
      if (type.includes('text/event-stream')) answer = res.body ? await this.readStream(res.body, id) : null;
      else if (type.includes('application/json')) {
        const body: unknown = await res.json();
        // 2025-03-26 allows a batch: the answer may come with notifications.
        for (const m of (Array.isArray(body) ? body : [body]) as unknown[])
          if (this.handle(m, id)) answer = m as JsonRpcMessage;
      } else {
        drain(res);
        throw new SysError('EPROTO', `${this.url} answered ${method} with ${type || 'no content type'}`);
      }
      if (!answer) throw new SysError('EIO', `${this.url} ended the stream without answering ${method}`);
      if (answer.error) {
        const c = answer.error.code;
        const code: Errno = c === -32602 ? 'EINVAL' : c === -32601 ? 'ENOSYS' : 'EIO';
        throw new SysError(code, `${method} on ${this.url}: ${String(answer.error.message).slice(0, 500)}`);
      }
      return { result: answer.result, session: res.headers.get('mcp-session-id') };
    } catch (e) {
      if (d.why === 'timeout')
        throw new SysError(
          'ETIMEDOUT',
          `${method} on ${this.url} did not finish within ${this.timeoutMs} ms`,
        );
      if (d.why === 'closed') throw new SysError('ECANCELED', `${method} on ${this.url}: client closed`);
      if (e instanceof SysError) throw e;
      if (e instanceof SyntaxError)
        throw new SysError('EPROTO', `${this.url} answered ${method} with bad JSON`);
      // Node says why in `cause` (ECONNREFUSED, ENOTFOUND…); a browser only says "Failed to fetch".
      const cause = (e as { cause?: { code?: unknown; message?: unknown } })?.cause;
      const detail =
        (typeof cause?.code === 'string' && cause.code) ||
        (typeof cause?.message === 'string' && cause.message) ||
        (e instanceof Error ? e.message : String(e));
      throw new SysError(
        'EIO',
        `cannot reach ${this.url}: ${detail} (server down, wrong address, a redirect, or CORS)`,
      );
    } finally {
      d.release();
    }
  }

  /** A message that expects no answer (a notification, or our reply to a server's request). */
  private async post(msg: JsonRpcMessage): Promise<void> {
    const d = deadline(this.timeoutMs, this.life.signal);
    try {
      const res = await this.send('POST', msg, d.signal, this.session);
      if (!res.ok) throw await httpError(res, this.url, msg.method ?? 'a reply');
      drain(res);
    } catch (e) {
      throw d.why === 'timeout'
        ? new SysError('ETIMEDOUT', `${this.url} did not take ${msg.method ?? 'a reply'} in time`)
        : SysError.from(e);
    } finally {
      d.release();
    }
  }

  /** Every request goes through here: the protocol's headers, no redirects, no cookies, EPERM on 401/403. */
  private async send(
    method: 'GET' | 'POST' | 'DELETE',
    body: JsonRpcMessage | undefined,
    signal: AbortSignal,
    session: string | null,
    fresh = false,
  ): Promise<Response> {
    const h = new Headers(this.o.headers);
    h.set('accept', method === 'GET' ? 'text/event-stream' : 'application/json, text/event-stream');
    if (body) h.set('content-type', 'application/json');
    if (session) h.set('mcp-session-id', session);
    if (!fresh) h.set('mcp-protocol-version', this.version);
    const res = await this.doFetch(this.url, {
      method,
      headers: h,
      body: body ? JSON.stringify(body) : undefined,
      signal,
      redirect: 'error',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
    if (res.status === 401 || res.status === 403)
      throw await httpError(res, this.url, body?.method ?? method);
    return res;
  }

  private async listenLoop(ctl: AbortController): Promise<void> {
    let backoff = 500;
    let reopened = false;
    while (!ctl.signal.aborted) {
      const session = this.session;
      try {
        const res = await this.send('GET', undefined, ctl.signal, session);
        const type = res.headers.get('content-type') ?? '';
        if (res.status === 405) {
          this.noStream = true;
          drain(res);
          break;
        }
        if (res.status === 404 && session) {
          drain(res);
          await this.reopen(session); // aborts this loop and starts one for the new session
          continue;
        }
        if (res.ok && res.body && type.includes('text/event-stream')) {
          backoff = 500;
          if (reopened) this.onToolsChanged?.(); // what changed while the stream was down went unheard
          reopened = true;
          await this.readStream(res.body, null);
        } else {
          drain(res);
          if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) break;
        }
      } catch (e) {
        if (SysError.is(e, 'EPERM')) break;
      }
      if (ctl.signal.aborted) break;
      await new Promise<void>((r) => {
        const t = setTimeout(r, backoff);
        ctl.signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            r();
          },
          { once: true },
        );
      });
      backoff = Math.min(backoff * 2, MAX_LISTEN_BACKOFF_MS);
    }
    if (this.listener === ctl) this.listener = null;
  }

  /** Reads an SSE stream, acting on what the server sends; returns the answer to `id` (null at the end). */
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
          let msg: unknown;
          try {
            msg = JSON.parse(data);
          } catch {
            continue; // not JSON-RPC (a keep-alive, say): the transport says to ignore it
          }
          if (this.handle(msg, id)) return msg as JsonRpcMessage;
        }
        if (done) return null;
      }
    } finally {
      void reader.cancel().catch(() => {});
    }
  }

  /** Acts on notifications and server requests; true when `msg` is the answer to request `id`. */
  private handle(msg: unknown, id: number | null): boolean {
    if (!isRecord(msg)) return false;
    if (typeof msg.method === 'string') {
      const rid = msg.id;
      if (typeof rid === 'string' || typeof rid === 'number') {
        // We declared no capabilities, so only `ping` is ours to answer; the rest get "method not found".
        const reply: JsonRpcMessage =
          msg.method === 'ping'
            ? { jsonrpc: '2.0', id: rid, result: {} }
            : {
                jsonrpc: '2.0',
                id: rid,
                error: { code: -32601, message: `agentos does not do ${msg.method}` },
              };
        void this.post(reply).catch(() => {});
      } else if (msg.method === 'notifications/tools/list_changed') this.onToolsChanged?.();
      return false;
    }
    return id !== null && msg.id === id && ('result' in msg || 'error' in msg);
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
  if (u.username || u.password) throw new SysError('EINVAL', 'put credentials in headers, not in the URL');
  u.hash = '';
  return u.href;
}

/** Registry names start with a letter and hold [\w.-], 64 characters at most. */
const namePart = (s: string) => s.replace(/[^\w.-]+/g, '-');
const toPrefix = (s: string) =>
  namePart(s)
    .replace(/^[^a-zA-Z]+/, '')
    .slice(0, 40) || 'mcp';

/** Connects, registers the server's tools as `<prefix>.<name>`, and follows its list changes. */
export async function addMcpServer(registry: ToolRegistry, o: McpServerOptions): Promise<McpHandle> {
  const client = await McpClient.connect(o);
  const url = new URL(parseUrl(o.url));
  const prefix = toPrefix(o.prefix ?? `mcp-${url.hostname}${url.port ? `-${url.port}` : ''}`);
  const source = `mcp:${url.href}`;
  // The prefix is the server's alone from now on (tool-names.ts): agents' tools under it go.
  let evicted: string[];
  try {
    evicted = registry.claimPrefix(prefix, source);
  } catch (e) {
    await client.close().catch(() => {});
    throw e;
  }
  let closed = false;
  const handle: McpHandle = {
    url: url.href,
    prefix,
    tools: [],
    evicted,
    close: async () => {
      if (closed) return;
      closed = true;
      client.onToolsChanged = null;
      registry.removeSource(source);
      registry.releasePrefix(prefix, source);
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
    const key = parseUrl(o.url);
    if (this.servers.has(key)) throw new SysError('EAGAIN', `${key} is already added`);
    const h = await addMcpServer(this.registry, o);
    this.servers.set(key, h);
    this.log('grant', `added MCP server ${key}: ${h.tools.length} tool(s) as ${h.prefix}.*`);
    if (h.evicted.length)
      this.log(
        'revoke',
        `agents' tools under ${h.prefix}.* removed (the prefix is the server's): ${h.evicted.join(', ')}`,
      );
    return { url: h.url, prefix: h.prefix, tools: h.tools };
  }

  async remove(url: string): Promise<void> {
    const key = parseUrl(url);
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
