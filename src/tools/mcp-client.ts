/**
 * The MCP client: a thin adapter over the official SDK (@modelcontextprotocol/sdk),
 * its Streamable HTTP transport and its CfWorker JSON-schema validator (no eval,
 * so it holds under the kernel's CSP). The adapter adds what the OS needs:
 *  - one fetch for every request that follows no redirect (one could carry the
 *    user's headers elsewhere), sends no cookies or referrer, bounds how long a
 *    request may take and how many bytes an answer may have;
 *  - a session the server forgot (404) is opened again once, shared by every
 *    request that found it gone, and the request repeated; the standalone
 *    stream comes back on the new session;
 *  - every failure is a typed SysError in the user's terms.
 * It is imported only when the user adds a server, so the SDK is not in the boot path.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker';
import { type Errno, SysError } from '../abi/errors';
import { errnoOfStatus, fetchError, parseHttpUrl } from '../net/http';

export const MCP_PROTOCOL_VERSION = '2025-06-18';
/** A long tool list is fine; a server whose cursors never end is not. */
const MAX_PAGES = 100;
/** Bytes one answer may have (an SSE answer counts every event on it). */
const MAX_ANSWER_BYTES = 16 * 2 ** 20;

export interface McpClientOptions {
  /** The MCP endpoint, e.g. `http://localhost:8123/mcp`. */
  url: string;
  /** Sent with every request (e.g. `authorization: Bearer …`). */
  headers?: Record<string, string>;
  /** Per request, reading its answer included. Default 15 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface McpTool {
  name: string;
  description?: string;
  inputSchema: Record<string, unknown>;
}

/** One SDK client and its transport: one session. */
interface Session {
  client: Client;
  transport: StreamableHTTPClientTransport;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export class McpClient {
  private current: Session | null = null;
  /** The session being opened again after the server forgot one; requests wait for it. */
  private reopening: Promise<void> | null = null;
  private closed = false;
  private readonly life = new AbortController();
  /** Called when the server says its tool list changed (or may have, after a new session). */
  onToolsChanged: (() => void) | null = null;

  private constructor(
    private readonly url: string,
    private readonly o: McpClientOptions,
    private readonly timeoutMs: number,
  ) {}

  static async connect(o: McpClientOptions): Promise<McpClient> {
    const url = parseHttpUrl(o.url, 'headers');
    url.hash = '';
    if (!o.fetch && typeof globalThis.fetch !== 'function') throw new SysError('ENOSYS', 'no fetch here');
    const c = new McpClient(url.href, o, o.timeoutMs ?? 15_000);
    try {
      c.current = await c.open();
    } catch (e) {
      const err = c.error(e, 'initialize');
      await c.close();
      throw err;
    }
    return c;
  }

  get serverInfo(): { name?: string; version?: string } {
    const v = this.current?.client.getServerVersion();
    return v ? { name: v.name, version: v.version } : {};
  }

  get protocolVersion(): string {
    return this.current?.transport.protocolVersion ?? MCP_PROTOCOL_VERSION;
  }

  async listTools(): Promise<McpTool[]> {
    const tools: McpTool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const r = await this.request('tools/list', (s) =>
        s.client.listTools(cursor ? { cursor } : {}, { timeout: this.timeoutMs }),
      );
      for (const t of r.tools) {
        tools.push({
          name: t.name,
          ...(typeof t.description === 'string' ? { description: t.description } : {}),
          inputSchema: isRecord(t.inputSchema) ? t.inputSchema : { type: 'object' },
        });
      }
      cursor = r.nextCursor || undefined;
      if (!cursor) break;
    }
    return tools;
  }

  /** `structuredContent` when the tool gives it, else `{ content }`; a tool's own failure is EIO. */
  async callTool(
    name: string,
    args: Record<string, unknown>,
    onProgress?: (p: { progress: number; total?: number; message?: string }) => void,
  ): Promise<unknown> {
    const r = await this.request('tools/call', (s) =>
      s.client.callTool({ name, arguments: args }, undefined, {
        timeout: this.timeoutMs,
        // A tool that reports progress is alive: each report restarts its deadline.
        ...(onProgress ? { onprogress: onProgress, resetTimeoutOnProgress: true } : {}),
      }),
    );
    const content: unknown[] = Array.isArray(r.content) ? r.content : [];
    if (r.isError === true) {
      const text = content
        .map((c) => (isRecord(c) && typeof c.text === 'string' ? c.text : `[${isRecord(c) ? c.type : '?'}]`))
        .join(' ')
        .slice(0, 500);
      throw new SysError('EIO', `${name} failed on ${this.url}: ${text || 'no detail'}`);
    }
    return r.structuredContent !== undefined ? r.structuredContent : { content };
  }

  /** Cancels requests in flight (ECANCELED), ends the session (DELETE) and its stream. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const s = this.current;
    this.current = null;
    if (s) await this.end(s);
    this.life.abort();
  }

  /** Opens a session: the SDK sends `initialize`, then `initialized`, then opens the standalone stream. */
  private async open(): Promise<Session> {
    const client = new Client(
      { name: 'agentos', version: '0.1.0' },
      { capabilities: {}, jsonSchemaValidator: new CfWorkerJsonSchemaValidator() },
    );
    const transport = new StreamableHTTPClientTransport(new URL(this.url), {
      fetch: (input, init) => this.fetch(input, init),
      requestInit: { headers: this.o.headers ?? {} },
      // The standalone stream: reconnect with backoff while the session lives.
      reconnectionOptions: {
        initialReconnectionDelay: 500,
        maxReconnectionDelay: 30_000,
        reconnectionDelayGrowFactor: 2,
        maxRetries: 1000,
      },
    });
    const s: Session = { client, transport };
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => this.onToolsChanged?.());
    // The stream found the session gone: open a new one (requests that find it gone share it).
    client.onerror = (e) => {
      if (e instanceof StreamableHTTPError && e.code === 404 && this.current === s)
        void this.reopen(s).catch(() => {});
    };
    try {
      await client.connect(transport, { timeout: this.timeoutMs });
    } catch (e) {
      void client.close().catch(() => {});
      throw e;
    }
    return s;
  }

  /** Ends a session: DELETE (bounded by the fetch's deadline; 405 means the server expires it itself), then the transport. */
  private async end(s: Session): Promise<void> {
    await s.transport.terminateSession().catch(() => {});
    await s.client.close().catch(() => {});
  }

  /** One re-open shared by every request that found session `stale` gone. */
  private reopen(stale: Session): Promise<void> {
    if (this.current !== stale) return this.reopening ?? Promise.resolve();
    this.reopening ??= (async () => {
      try {
        this.current = await this.open();
        // Only now: requests still on the old session get their own 404 and wait for this one.
        void stale.client.close().catch(() => {});
      } finally {
        this.reopening = null;
      }
      // Changes while the old session was gone went unheard.
      this.onToolsChanged?.();
    })();
    return this.reopening;
  }

  /** One request; a session the server forgot (404) is opened again once and the request repeated. */
  private async request<T>(what: string, run: (s: Session) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.reopening) await this.reopening.catch(() => {});
      const s = this.current;
      if (this.closed || !s) throw new SysError('ECANCELED', `${what} on ${this.url}: client closed`);
      try {
        return await run(s);
      } catch (e) {
        // The server forgot the session (404), or another request found that out and replaced it.
        const expired =
          (e instanceof StreamableHTTPError && e.code === 404) ||
          (!this.closed && (this.current !== s || this.reopening !== null));
        if (!expired || attempt > 0) throw this.error(e, what);
        await this.reopen(s).catch((err: unknown) => {
          throw this.error(err, what);
        });
      }
    }
  }

  /** Every request goes through here: no redirects, no cookies, no referrer, a deadline, a bounded answer. */
  private async fetch(input: string | URL, init?: RequestInit): Promise<Response> {
    const method = (init?.method ?? 'GET').toUpperCase();
    const signals = [this.life.signal];
    if (init?.signal) signals.push(init.signal);
    // The standalone stream stays open for the session; every other request has a deadline.
    if (method !== 'GET') signals.push(AbortSignal.timeout(this.timeoutMs));
    const doFetch = this.o.fetch ?? ((i: string | URL, r?: RequestInit) => globalThis.fetch(i, r));
    let res: Response;
    try {
      res = await doFetch(input, {
        ...init,
        redirect: 'error',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
        signal: AbortSignal.any(signals),
      });
    } catch (e) {
      throw fetchError(e, this.url, method);
    }
    // Statuses that may carry no body are passed on as they are.
    if (!res.body || [101, 204, 205, 304].includes(res.status)) return res;
    return new Response(bounded(res.body, MAX_ANSWER_BYTES, this.url), {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
  }

  /** A typed error in the user's terms, for whatever the SDK or the fetch threw. */
  private error(e: unknown, what: string): SysError {
    if (e instanceof SysError) return e;
    if (this.closed) return new SysError('ECANCELED', `${what} on ${this.url}: client closed`);
    if (e instanceof StreamableHTTPError && e.code !== undefined && e.code > 0) {
      const code = errnoOfStatus(e.code);
      const hint = code === 'EPERM' ? ' (check the credentials in its headers)' : '';
      return new SysError(code === 'ENOENT' ? 'EIO' : code, `${this.url}: HTTP ${e.code} for ${what}${hint}`);
    }
    if (e instanceof McpError) {
      const code: Errno =
        e.code === ErrorCode.InvalidParams
          ? 'EINVAL'
          : e.code === ErrorCode.MethodNotFound
            ? 'ENOSYS'
            : e.code === ErrorCode.RequestTimeout
              ? 'ETIMEDOUT'
              : 'EIO';
      const message =
        code === 'ETIMEDOUT'
          ? `${what} on ${this.url} did not finish within ${this.timeoutMs} ms`
          : `${what} on ${this.url}: ${e.message.slice(0, 500)}`;
      return new SysError(code, message);
    }
    const cause = (e as { cause?: unknown })?.cause;
    if (cause instanceof SysError) return cause;
    if (e instanceof Error && /protocol version/i.test(e.message))
      return new SysError('EPROTO', `${this.url}: ${e.message.slice(0, 300)}`);
    return new SysError(
      'EIO',
      `${what} on ${this.url}: ${e instanceof Error ? e.message.slice(0, 300) : String(e)}`,
    );
  }
}

/** A body that errors (E2BIG) once more than `max` bytes came through. */
function bounded(body: ReadableStream<Uint8Array>, max: number, url: string): ReadableStream<Uint8Array> {
  let seen = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        seen += chunk.byteLength;
        if (seen > max) ctl.error(new SysError('E2BIG', `${url} sent an answer over ${max} bytes`));
        else ctl.enqueue(chunk);
      },
    }),
  );
}
