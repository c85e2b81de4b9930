/**
 * A real MCP server speaking the Streamable HTTP transport on loopback, for
 * tests: sessions, JSON or SSE answers, pagination, the standalone GET stream
 * for list-changed notifications, bearer tokens, slowness on demand.
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

export interface McpTestServer {
  url: string;
  tools: ServedTool[];
  /** Options a test may change at any time. */
  opts: { sse: boolean; pageSize: number; token: string | null; delayMs: number };
  hits: { method: string; rpc?: string }[];
  /** Forgets every session (the next request with one gets 404). */
  forgetSessions(): void;
  /** Tells every open GET stream that the tool list changed. */
  notifyChanged(): void;
  deleted: string[];
  close(): Promise<void>;
}

export async function startMcpServer(tools: ServedTool[]): Promise<McpTestServer> {
  const sessions = new Set<string>();
  const streams = new Set<ServerResponse>();
  const s: McpTestServer = {
    url: '',
    tools,
    opts: { sse: false, pageSize: 100, token: null, delayMs: 0 },
    hits: [],
    deleted: [],
    forgetSessions: () => sessions.clear(),
    notifyChanged: () => {
      for (const r of streams)
        r.write(
          `data: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' })}\n\n`,
        );
    },
    close: () =>
      new Promise<void>((r) => {
        for (const st of streams) st.end();
        server.closeAllConnections?.();
        server.close(() => r());
      }),
  };
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    // Browsers (the kernel's worker) call from another origin.
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader(
      'access-control-allow-headers',
      'content-type, accept, authorization, mcp-session-id, mcp-protocol-version',
    );
    res.setHeader('access-control-allow-methods', 'GET, POST, DELETE');
    res.setHeader('access-control-expose-headers', 'mcp-session-id');
    if (req.method === 'OPTIONS') {
      res.statusCode = 204;
      return res.end();
    }
    s.hits.push({ method: req.method ?? '' });
    if (s.opts.token && req.headers.authorization !== `Bearer ${s.opts.token}`) {
      res.statusCode = 401;
      return res.end();
    }
    const sid = req.headers['mcp-session-id'] as string | undefined;
    if (req.method === 'DELETE') {
      if (sid) {
        sessions.delete(sid);
        s.deleted.push(sid);
      }
      res.statusCode = 200;
      return res.end();
    }
    if (req.method === 'GET') {
      if (!sid || !sessions.has(sid)) {
        res.statusCode = 404;
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
      streams.add(res);
      req.on('close', () => streams.delete(res));
      return;
    }
    let body = '';
    for await (const chunk of req) body += chunk;
    const msg = JSON.parse(body) as { id?: number; method: string; params?: Record<string, unknown> };
    s.hits[s.hits.length - 1]!.rpc = msg.method;
    if (msg.method !== 'initialize') {
      if (!sid) {
        res.statusCode = 400;
        return res.end('missing session');
      }
      if (!sessions.has(sid)) {
        res.statusCode = 404;
        return res.end('unknown session');
      }
    }
    if (msg.id === undefined) {
      res.statusCode = 202;
      return res.end();
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
    if (s.opts.sse) {
      res.writeHead(200, { ...headers, 'content-type': 'text/event-stream' });
      // A notification first, as servers may send before the answer.
      res.write(
        `data: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'working' } })}\n\n`,
      );
      res.end(`data: ${JSON.stringify(reply)}\n\n`);
    } else {
      res.writeHead(200, { ...headers, 'content-type': 'application/json' });
      res.end(JSON.stringify(reply));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  return s;
}
