/**
 * A small OpenAI-compatible server for tests: real HTTP on 127.0.0.1 (an
 * ephemeral port), `/v1/chat/completions` (streaming with SSE and usage, or
 * not) and `/v1/models`, answered by DeterministicEngines. `faults` switches
 * make it misbehave the ways real servers do, so the remote driver's error
 * mapping, retries and timeouts can be tested against the real network stack.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type ChatEngine, type ChatRequest, collect } from '../../src/models/engine';
import { DeterministicEngine } from '../../src/models/engines/deterministic';

export interface Faults {
  /** Destroy every connection as soon as it is accepted. */
  refuse: boolean;
  /** Answer every request 401. */
  unauthorized: boolean;
  /** Status codes for the next chat requests, consumed one per request (e.g. [429, 429] then OK). */
  failNext: number[];
  /** Retry-After (seconds) sent with a failNext status. */
  retryAfter?: number;
  /** Wait this long before sending the response headers. */
  stallBeforeHeadersMs: number;
  /** Send headers, then wait this long before the first event. */
  stallBeforeFirstEventMs: number;
  /** After `stallAfterEvents` events, wait this long. */
  stallMidStreamMs: number;
  stallAfterEvents: number;
  /** Destroy the socket after this many events (-1: never). */
  cutAfterEvents: number;
  /** Send no usage chunk even when asked. */
  noUsage: boolean;
  /** Line endings of the SSE framing. */
  crlf: boolean;
  /** Interleave `: keep-alive` comments and split every event across two writes. */
  chop: boolean;
  /** Answer `stream: true` with a plain JSON completion, as a server that ignores streaming does. */
  ignoreStream: boolean;
  /** No /v1/models endpoint (404). */
  noModelsEndpoint: boolean;
}

export const NO_FAULTS: Faults = {
  refuse: false,
  unauthorized: false,
  failNext: [],
  stallBeforeHeadersMs: 0,
  stallBeforeFirstEventMs: 0,
  stallMidStreamMs: 0,
  stallAfterEvents: 0,
  cutAfterEvents: -1,
  noUsage: false,
  crlf: false,
  chop: false,
  ignoreStream: false,
  noModelsEndpoint: false,
};

export interface OpenAIServer {
  /** The API root, `http://127.0.0.1:PORT/v1`. */
  baseUrl: string;
  port: number;
  faults: Faults;
  /** Requests received, by path ("POST /v1/chat/completions"…). */
  hits: Map<string, number>;
  /** Bodies of the chat requests, in order. */
  bodies: Record<string, unknown>[];
  /** Authorization headers received. */
  auth: Array<string | undefined>;
  /** Generations that ended because the client went away. */
  clientAborts: number;
  reset(): void;
  close(): Promise<void>;
}

export interface ServerOptions {
  /** Models by name (default: `det`, as fast as the reader takes them). */
  engines?: Record<string, ChatEngine>;
  /** When set, requests must carry `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Answer browsers from other origins (CORS), as Ollama does with OLLAMA_ORIGINS. */
  cors?: string;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      s += d;
    });
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export async function startOpenAIServer(opts: ServerOptions = {}): Promise<OpenAIServer> {
  const engines: Record<string, ChatEngine> = opts.engines ?? { det: new DeterministicEngine({ id: 'det' }) };
  const sockets = new Set<Socket>();
  const closing = new AbortController();
  const state: OpenAIServer = {
    baseUrl: '',
    port: 0,
    faults: { ...NO_FAULTS, failNext: [] },
    hits: new Map(),
    bodies: [],
    auth: [],
    clientAborts: 0,
    reset() {
      state.faults = { ...NO_FAULTS, failNext: [] };
      state.hits.clear();
      state.bodies.length = 0;
      state.auth.length = 0;
      state.clientAborts = 0;
    },
    close: () => Promise.resolve(),
  };

  const server: Server = createServer((req, res) => {
    if (opts.cors) {
      res.setHeader('access-control-allow-origin', opts.cors);
      res.setHeader('access-control-allow-headers', 'authorization, content-type');
      res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
      if (req.method === 'OPTIONS') {
        res.writeHead(204).end();
        return;
      }
    }
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) json(res, 500, { error: { message: String(e) } });
      else res.destroy();
    });
  });
  server.on('connection', (s: Socket) => {
    if (state.faults.refuse) {
      s.destroy();
      return;
    }
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const f = state.faults;
    // Kept-alive connections skip the 'connection' event: refuse here too.
    if (f.refuse) {
      req.socket.destroy();
      return;
    }
    const key = `${req.method} ${req.url}`;
    state.hits.set(key, (state.hits.get(key) ?? 0) + 1);
    state.auth.push(req.headers.authorization);
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    const stop = AbortSignal.any([gone.signal, closing.signal]);

    if (f.unauthorized || (opts.apiKey && req.headers.authorization !== `Bearer ${opts.apiKey}`)) {
      return json(res, 401, {
        error: { message: 'Incorrect API key provided', type: 'invalid_request_error' },
      });
    }
    if (req.method === 'GET' && req.url === '/v1/models') {
      if (f.noModelsEndpoint) return json(res, 404, { error: { message: 'not found' } });
      return json(res, 200, {
        object: 'list',
        data: Object.entries(engines).map(([id, e]) => ({
          id,
          object: 'model',
          created: 0,
          owned_by: 'agentos-tests',
          context_length: e.info.contextWindow,
        })),
      });
    }
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      return json(res, 404, { error: { message: `no route ${key}` } });
    }
    const raw = await readBody(req);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return json(res, 400, { error: { message: 'body is not JSON' } });
    }
    state.bodies.push(body);
    const status = f.failNext.shift();
    if (status !== undefined) {
      const headers: Record<string, string> =
        f.retryAfter !== undefined ? { 'retry-after': String(f.retryAfter) } : {};
      return json(res, status, { error: { message: `injected ${status}` } }, headers);
    }
    const name = typeof body.model === 'string' ? body.model : '';
    const engine = engines[name];
    if (!engine) {
      return json(res, 404, {
        error: {
          message: `The model '${name}' does not exist`,
          type: 'invalid_request_error',
          code: 'model_not_found',
        },
      });
    }
    await sleep(f.stallBeforeHeadersMs, stop);
    if (stop.aborted) return;
    const creq = body as unknown as ChatRequest;
    if (body.stream !== true || f.ignoreStream) {
      const done = await collect(engine.stream(creq, stop));
      return json(res, 200, { ...done, model: name });
    }

    const nl = f.crlf ? '\r\n' : '\n';
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    let events = 0;
    const send = async (data: string): Promise<boolean> => {
      if (stop.aborted) return false;
      if (events === 0) await sleep(f.stallBeforeFirstEventMs, stop);
      if (f.stallMidStreamMs && events === f.stallAfterEvents && events > 0)
        await sleep(f.stallMidStreamMs, stop);
      if (stop.aborted) return false;
      if (events === f.cutAfterEvents) {
        // Let what was written reach the client first: the cut must come mid-answer, not before it.
        await new Promise((r) => setTimeout(r, 20));
        res.socket?.destroy();
        return false;
      }
      const frame = `data: ${data}${nl}${nl}`;
      if (f.chop) {
        // Split mid-event (and mid-CRLF when there is one) to exercise the client's reassembly.
        const cut = Math.max(1, frame.length - (f.crlf ? 3 : 2));
        res.write(`: keep-alive${nl}`);
        res.write(frame.slice(0, cut));
        await new Promise((r) => setImmediate(r));
        res.write(frame.slice(cut));
      } else res.write(frame);
      events++;
      return true;
    };
    const includeUsage =
      !f.noUsage &&
      typeof body.stream_options === 'object' &&
      (body.stream_options as { include_usage?: unknown })?.include_usage === true;
    for await (const c of engine.stream(creq, stop)) {
      // As OpenAI does: usage comes alone in a last chunk with no choices, after the finish chunk.
      const { usage, ...rest } = c;
      if (!(await send(JSON.stringify({ ...rest, model: name })))) break;
      if (
        usage &&
        includeUsage &&
        !(await send(JSON.stringify({ ...rest, model: name, choices: [], usage })))
      )
        break;
    }
    if (stop.aborted) {
      state.clientAborts++;
      return;
    }
    if (!res.destroyed && (await send('[DONE]'))) res.end();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  state.port = port;
  state.baseUrl = `http://127.0.0.1:${port}/v1`;
  state.close = () =>
    new Promise<void>((resolve) => {
      closing.abort();
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}

/** A loopback port nothing listens on (bound, then released), for "connection refused". */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
