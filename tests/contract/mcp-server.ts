/**
 * A real MCP server speaking the Streamable HTTP transport on loopback, for
 * tests: sessions (400 without one, 404 for one it does not know), JSON or SSE
 * answers, pagination, the standalone GET stream for list-changed
 * notifications (or 405 when it offers none), bearer tokens, slowness on
 * demand, DELETE to end a session. It records what it received so tests can
 * check the client's side of the protocol.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServedTool {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  run(args: Record<string, unknown>): {
    content: { type: 'text'; text: string }[];
    structuredContent?: unknown;
    isError?: boolean;
  };
}

export interface Hit {
  method: string;
  /** The JSON-RPC method, or 'response' for the client's answer to a server request. */
  rpc?: string;
  session?: string;
  protocolVersion?: string;
  accept?: string;
}

export interface McpTestServer {
  url: string;
  /** Served as they are at each `tools/list`: tests change them at will. */
  tools: ServedTool[];
  /** Options a test may change at any time. */
  opts: {
    /** Answer POSTs with an SSE stream (a notification first) instead of JSON. */
    sse: boolean;
    pageSize: number;
    /** When set, requests must carry `Authorization: Bearer <token>`. */
    token: string | null;
    /** Wait this long before answering a request. */
    delayMs: number;
    /** Offer the standalone GET stream (false: 405). */
    getStream: boolean;
    /** Ask the client for a `ping` inside every SSE answer, before the answer. */
    pingClient: boolean;
  };
  hits: Hit[];
  /** Sessions that sent `notifications/initialized`. */
  initialized: Set<string>;
  /** Session ids ended by DELETE. */
  deleted: string[];
  /** The client's answers to our requests (pings). */
  responses: unknown[];
  /** Forgets every session (the next request with one gets 404) and ends their GET streams. */
  forgetSessions(): void;
  /** Tells the client the tool list changed: on open GET streams, or inside the next SSE answer. */
  notifyChanged(via?: 'stream' | 'response'): void;
  /** Open GET streams. */
  streams(): number;
  close(): Promise<void>;
}

const frame = (msg: unknown) => `data: ${JSON.stringify(msg)}\n\n`;
const LIST_CHANGED = { jsonrpc: '2.0', method: 'notifications/tools/list_changed' };

export async function startMcpServer(tools: ServedTool[]): Promise<McpTestServer> {
  const sessions = new Set<string>();
  const streams = new Map<ServerResponse, string>();
  let queued = 0;
  const s: McpTestServer = {
    url: '',
    tools,
    opts: { sse: false, pageSize: 100, token: null, delayMs: 0, getStream: true, pingClient: false },
    hits: [],
    initialized: new Set(),
    deleted: [],
    responses: [],
    forgetSessions: () => {
      sessions.clear();
      for (const r of streams.keys()) r.end();
      streams.clear();
    },
    notifyChanged: (via = 'stream') => {
      if (via === 'response') queued++;
      else for (const r of streams.keys()) r.write(frame(LIST_CHANGED));
    },
    streams: () => streams.size,
    close: () =>
      new Promise<void>((r) => {
        for (const st of streams.keys()) st.end();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(e));
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Browsers (the kernel's worker) call from another origin.
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader(
      'access-control-allow-headers',
      'content-type, accept, authorization, mcp-session-id, mcp-protocol-version',
    );
    res.setHeader('access-control-allow-methods', 'GET, POST, DELETE');
    res.setHeader('access-control-expose-headers', 'mcp-session-id');
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    const sid = req.headers['mcp-session-id'] as string | undefined;
    const hit: Hit = {
      method: req.method ?? '',
      ...(sid ? { session: sid } : {}),
      ...(req.headers['mcp-protocol-version']
        ? { protocolVersion: String(req.headers['mcp-protocol-version']) }
        : {}),
      ...(req.headers.accept ? { accept: req.headers.accept } : {}),
    };
    s.hits.push(hit);
    if (s.opts.token && req.headers.authorization !== `Bearer ${s.opts.token}`) {
      res.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
      return;
    }
    if (req.method === 'DELETE') {
      if (!sid || !sessions.has(sid)) {
        res.writeHead(404).end();
        return;
      }
      sessions.delete(sid);
      s.deleted.push(sid);
      res.writeHead(200).end();
      return;
    }
    if (req.method === 'GET') {
      if (!s.opts.getStream) {
        res.writeHead(405, { allow: 'POST, DELETE' }).end();
        return;
      }
      if (!sid || !sessions.has(sid)) {
        res.writeHead(sid ? 404 : 400).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(': open\n\n');
      streams.set(res, sid);
      res.on('close', () => streams.delete(res));
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405).end();
      return;
    }
    const accept = req.headers.accept ?? '';
    if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
      res.writeHead(406).end('accept both application/json and text/event-stream');
      return;
    }
    let raw = '';
    for await (const chunk of req) raw += chunk;
    let msg: { id?: number | string; method?: string; params?: Record<string, unknown>; result?: unknown };
    try {
      msg = JSON.parse(raw) as typeof msg;
    } catch {
      res.writeHead(400).end('not JSON');
      return;
    }
    hit.rpc = msg.method ?? 'response';
    if (msg.method !== 'initialize') {
      if (!sid) {
        res.writeHead(400).end('missing session');
        return;
      }
      if (!sessions.has(sid)) {
        res.writeHead(404).end('unknown session');
        return;
      }
      // Stricter than the spec (a missing header may mean 2025-03-26), so a client that forgets it fails.
      if (hit.protocolVersion !== '2025-06-18' && hit.protocolVersion !== '2025-03-26') {
        res.writeHead(400).end(`unsupported MCP-Protocol-Version ${hit.protocolVersion}`);
        return;
      }
    }
    if (msg.method === undefined) {
      s.responses.push(msg);
      res.writeHead(202).end();
      return;
    }
    if (msg.id === undefined) {
      if (msg.method === 'notifications/initialized' && sid) s.initialized.add(sid);
      res.writeHead(202).end();
      return;
    }
    if (s.opts.delayMs) await new Promise((r) => setTimeout(r, s.opts.delayMs));
    let result: unknown;
    let error: { code: number; message: string } | undefined;
    const headers: Record<string, string> = {};
    if (msg.method === 'initialize') {
      const id = `sess-${Math.random().toString(36).slice(2)}`;
      sessions.add(id);
      headers['mcp-session-id'] = id;
      result = {
        protocolVersion: '2025-06-18',
        capabilities: { tools: { listChanged: true } },
        serverInfo: { name: 'test-mcp', version: '1' },
      };
    } else if (msg.method === 'tools/list') {
      const start = Number(msg.params?.cursor ?? 0);
      const page = s.tools.slice(start, start + s.opts.pageSize);
      result = {
        tools: page.map(({ name, description, inputSchema }) => ({ name, description, inputSchema })),
        ...(start + s.opts.pageSize < s.tools.length ? { nextCursor: String(start + s.opts.pageSize) } : {}),
      };
    } else if (msg.method === 'tools/call') {
      const t = s.tools.find((x) => x.name === msg.params?.name);
      if (!t) error = { code: -32602, message: `unknown tool ${String(msg.params?.name)}` };
      else result = t.run((msg.params?.arguments ?? {}) as Record<string, unknown>);
    } else error = { code: -32601, message: `no method ${msg.method}` };
    const reply = { jsonrpc: '2.0', id: msg.id, ...(error ? { error } : { result }) };
    if (!s.opts.sse) {
      res.writeHead(200, { ...headers, 'content-type': 'application/json' });
      res.end(JSON.stringify(reply));
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream' });
    // Servers may send notifications and requests before the answer.
    res.write(
      frame({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'working' } }),
    );
    if (s.opts.pingClient) res.write(frame({ jsonrpc: '2.0', id: `ping-${msg.id}`, method: 'ping' }));
    for (; queued > 0; queued--) res.write(frame(LIST_CHANGED));
    res.end(frame(reply));
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  return s;
}
