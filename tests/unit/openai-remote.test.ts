/**
 * The remote driver against tests/contract/openai-server.ts over real HTTP on
 * loopback: SSE parsing, error mapping, retries with backoff, timeouts, aborts,
 * and the security rules (only the base URL, no redirects).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ChatCompletionChunk, type ChatRequest, collect } from '../../src/models/engine';
import { DeterministicEngine } from '../../src/models/engines/deterministic';
import {
  createRemoteEngine,
  estimateTokens,
  listRemoteModels,
  type RemoteEngineOptions,
  SseParser,
} from '../../src/models/engines/openai-remote';
import { closedPort, type OpenAIServer, startOpenAIServer } from '../contract/openai-server';

let server: OpenAIServer;
beforeAll(async () => {
  server = await startOpenAIServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

const hello: ChatRequest = { messages: [{ role: 'user', content: 'say hello remote world' }] };
const long: ChatRequest = { messages: [{ role: 'user', content: `say ${'word '.repeat(400)}` }] };

/**
 * Fast backoff; deadlines roomy enough for a loaded 2-core CI machine. The deadline tests set
 * their own short ones against a server that stalls far longer, and assert only that the client
 * gave up long before the server would have answered.
 */
const SHORT = { timeoutMs: 300, idleTimeoutMs: 300 };
const STALL_MS = 8000;
const engine = (o: Partial<RemoteEngineOptions> = {}) =>
  createRemoteEngine({
    baseUrl: server.baseUrl,
    model: 'det',
    timeoutMs: 5000,
    idleTimeoutMs: 5000,
    backoffMs: 10,
    maxBackoffMs: 50,
    ...o,
  });

/** Resolves with what was streamed and how it ended (an errno, or the finish reason). */
async function run(it: AsyncIterable<ChatCompletionChunk>) {
  const chunks: ChatCompletionChunk[] = [];
  let code: string | null = null;
  try {
    for await (const c of it) {
      chunks.push(c);
      if (chunks.length > 10_000) throw new Error('unbounded');
    }
  } catch (e) {
    code = (e as { code?: string }).code ?? String(e);
  }
  return {
    code,
    text: chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''),
    finish: chunks.at(-1)?.choices[0]?.finish_reason ?? null,
    usage: chunks.at(-1)?.usage,
    chunks,
  };
}

const errno = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e as { code?: string }).code ?? String(e),
  );

describe('SSE parsing', () => {
  const feed = (parts: string[]) => {
    const p = new SseParser();
    return [...parts.flatMap((x) => p.push(x)), ...p.end()];
  };

  it('handles LF, CRLF and CR line ends, comments, and multi-line data', () => {
    const stream =
      ': hello\n\ndata: a\n\ndata: b\r\n\r\ndata: c1\rdata: c2\r\revent: x\nid: 7\nretry: 1\ndata:d\n\n';
    expect(feed([stream])).toEqual(['a', 'b', 'c1\nc2', 'd']);
  });

  it('reassembles events split at every possible byte, CRLF halves included', () => {
    const stream = 'data: {"x":1}\r\n\r\n: ping\r\ndata: [DONE]\r\n\r\n';
    expect(feed(stream.split(''))).toEqual(['{"x":1}', '[DONE]']);
    for (let i = 1; i < stream.length; i++) {
      expect(feed([stream.slice(0, i), stream.slice(i)])).toEqual(['{"x":1}', '[DONE]']);
    }
  });

  it('completes a last event that lacks its blank line, and refuses an endless one', () => {
    expect(feed(['data: last'])).toEqual(['last']);
    const p = new SseParser();
    expect(() => {
      for (let i = 0; i < 100; i++) p.push(`data: ${'x'.repeat(100_000)}\n`);
    }).toThrow(/EIO/);
  });
});

describe('remote driver over loopback HTTP', () => {
  it('streams, sends an OpenAI request, and reports the server usage', async () => {
    // The file's first request (a cold start on a loaded machine): no deadline is under test here.
    const e = await engine({ apiKey: 'sk-test', timeoutMs: 10_000, idleTimeoutMs: 10_000 });
    const r = await run(e.stream({ ...hello, max_tokens: 50, continuation: 'internal' }));
    expect(r.code).toBeNull();
    expect(r.text).toBe('hello remote world');
    expect(r.finish).toBe('stop');
    expect(r.usage).toEqual({ prompt_tokens: 8, completion_tokens: 5, total_tokens: 13 });
    expect(r.chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    const body = server.bodies[0]!;
    expect(body).toMatchObject({
      model: 'det',
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 50,
    });
    expect(body).not.toHaveProperty('continuation');
    expect(server.auth.every((a) => a === 'Bearer sk-test')).toBe(true);
    expect(e.info).toMatchObject({ id: 'det', engine: 'openai-remote', location: 'remote', sizeBytes: 0 });
    expect(e.info.contextWindow).toBe(4096); // from /models' context_length
  });

  it('passes tools, tool_choice and response_format through to the server as given', async () => {
    const e = await engine();
    const tools = [
      { type: 'function' as const, function: { name: 'get_time', parameters: { type: 'object' } } },
    ];
    const response_format = {
      type: 'json_schema' as const,
      json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 'string' } } } },
    };
    const n = server.bodies.length;
    await run(e.stream({ ...hello, tools, tool_choice: 'required', response_format }));
    expect(server.bodies[n]).toMatchObject({ tools, tool_choice: 'required', response_format });
  });

  it('lists models', async () => {
    expect(await listRemoteModels(server.baseUrl)).toEqual([
      { id: 'det', ownedBy: 'agentos-tests', contextWindow: 4096 },
    ]);
    expect(await listRemoteModels(`${server.baseUrl}/`)).toHaveLength(1);
  });

  it('assembles tool calls', async () => {
    const e = await engine();
    const r = await collect(
      e.stream({
        messages: [{ role: 'user', content: 'use get_time zone=UTC' }],
        tools: [{ type: 'function', function: { name: 'get_time' } }],
      }),
    );
    expect(r.choices[0]!.finish_reason).toBe('tool_calls');
    expect(r.choices[0]!.message.tool_calls).toEqual([
      {
        id: expect.stringMatching(/^call_/),
        type: 'function',
        function: { name: 'get_time', arguments: '{"zone":"UTC"}' },
      },
    ]);
  });

  it('puts OpenAI-style tool-call fragments back together', async () => {
    const events = [
      {
        choices: [
          {
            index: 0,
            delta: {
              role: 'assistant',
              tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'f', arguments: '' } }],
            },
            finish_reason: null,
          },
        ],
      },
      {
        choices: [
          {
            index: 0,
            delta: { tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] },
            finish_reason: null,
          },
        ],
      },
      {
        choices: [
          {
            index: 0,
            delta: {
              tool_calls: [
                { index: 0, function: { arguments: '1}' } },
                { index: 1, id: 'c2', function: { name: 'g', arguments: '{}' } },
              ],
            },
            finish_reason: null,
          },
        ],
      },
      { choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
      { choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } },
    ];
    const sse = `${events.map((x) => `data: ${JSON.stringify(x)}\n\n`).join('')}data: [DONE]\n\n`;
    const fake: typeof fetch = async () =>
      new Response(sse, { headers: { 'content-type': 'text/event-stream' } });
    const e = await createRemoteEngine({
      baseUrl: 'http://127.0.0.1:9/v1',
      model: 'm',
      verify: false,
      fetch: fake,
    });
    const r = await collect(e.stream(hello));
    expect(
      r.choices[0]!.message.tool_calls!.map((c) => [c.id, c.function.name, c.function.arguments]),
    ).toEqual([
      ['c1', 'f', '{"a":1}'],
      ['c2', 'g', '{}'],
    ]);
    expect(r.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
  });

  it('marks usage as estimated when the server sends none', async () => {
    server.faults.noUsage = true;
    const e = await engine();
    const r = await run(e.stream(hello));
    expect(r.text).toBe('hello remote world');
    expect(r.usage).toMatchObject({ completion_tokens: estimateTokens(r.text), estimated: true });
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + r.usage!.completion_tokens);
  });

  it('accepts a server that ignores stream: true and answers one JSON completion', async () => {
    server.faults.ignoreStream = true;
    const e = await engine();
    const r = await run(e.stream(hello));
    expect(r).toMatchObject({ code: null, text: 'hello remote world', finish: 'stop' });
    expect(r.usage).toEqual({ prompt_tokens: 8, completion_tokens: 5, total_tokens: 13 });
  });

  it('connection refused → EIO, at load and at request', async () => {
    const base = `http://127.0.0.1:${await closedPort()}/v1`;
    expect(await errno(createRemoteEngine({ baseUrl: base, model: 'det' }))).toBe('EIO');
    const e = await createRemoteEngine({ baseUrl: base, model: 'det', verify: false });
    const r = await run(e.stream(hello));
    expect(r.code).toBe('EIO');
  });

  it('a server that drops connections → EIO', async () => {
    server.faults.refuse = true;
    expect(await errno(engine())).toBe('EIO');
  });

  it('DNS failure → EIO, saying why', async () => {
    const fake: typeof fetch = async () => {
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('getaddrinfo'), { code: 'ENOTFOUND' }),
      });
    };
    const err = await createRemoteEngine({
      baseUrl: 'http://nowhere.invalid/v1',
      model: 'm',
      fetch: fake,
    }).catch((e: unknown) => e as Error & { code: string });
    expect(err).toMatchObject({ code: 'EIO', message: expect.stringContaining('ENOTFOUND') });
  });

  it('401 → EPERM (and the right key works)', async () => {
    const locked = await startOpenAIServer({ apiKey: 'right' });
    try {
      expect(
        await errno(createRemoteEngine({ baseUrl: locked.baseUrl, model: 'det', apiKey: 'wrong' })),
      ).toBe('EPERM');
      expect(await errno(createRemoteEngine({ baseUrl: locked.baseUrl, model: 'det' }))).toBe('EPERM');
      const e = await createRemoteEngine({ baseUrl: locked.baseUrl, model: 'det', apiKey: 'right' });
      expect((await run(e.stream(hello))).text).toBe('hello remote world');
    } finally {
      await locked.close();
    }
    server.faults.unauthorized = true;
    const e = await engine({ verify: false });
    expect((await run(e.stream(hello))).code).toBe('EPERM');
  });

  it('unknown model → ENOENT, from /models at load or from the chat endpoint', async () => {
    expect(await errno(engine({ model: 'gpt-nope' }))).toBe('ENOENT');
    const e = await engine({ model: 'gpt-nope', verify: false });
    expect((await run(e.stream(hello))).code).toBe('ENOENT');
    // A server without /models is still usable: the model is checked on use.
    server.faults.noModelsEndpoint = true;
    expect((await run((await engine()).stream(hello))).text).toBe('hello remote world');
  });

  it('other HTTP errors map to EINVAL, E2BIG and EIO', async () => {
    const e = await engine({ verify: false });
    server.faults.failNext = [400, 413, 500];
    expect((await run(e.stream(hello))).code).toBe('EINVAL');
    expect((await run(e.stream(hello))).code).toBe('E2BIG');
    expect((await run(e.stream(hello))).code).toBe('EIO');
  });

  it('429 then OK: retries with exponential backoff and succeeds', async () => {
    const e = await engine({ verify: false, backoffMs: 20, maxBackoffMs: 1000 });
    server.faults.failNext = [429, 503];
    const t0 = performance.now();
    const r = await run(e.stream(hello));
    const took = performance.now() - t0;
    expect(r.code).toBeNull();
    expect(r.text).toBe('hello remote world');
    expect(server.hits.get('POST /v1/chat/completions')).toBe(3);
    expect(took).toBeGreaterThanOrEqual(20 + 40 - 5); // 20 ms, then 40 ms
  });

  it('429/503 beyond the attempts → EAGAIN after exactly maxAttempts requests', async () => {
    const e = await engine({ verify: false, maxAttempts: 3 });
    server.faults.failNext = Array(10).fill(503);
    expect((await run(e.stream(hello))).code).toBe('EAGAIN');
    expect(server.hits.get('POST /v1/chat/completions')).toBe(3);
  });

  it('honours Retry-After, capped by maxBackoffMs', async () => {
    const e = await engine({ verify: false, backoffMs: 1, maxBackoffMs: 60 });
    server.faults.failNext = [429];
    server.faults.retryAfter = 30; // seconds: the cap wins
    const t0 = performance.now();
    expect((await run(e.stream(hello))).code).toBeNull();
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(55);
    expect(took).toBeLessThan(15_000); // far below the 30 s the server asked for
  });

  it('no headers in time → ETIMEDOUT', async () => {
    const e = await engine({ verify: false, ...SHORT });
    server.faults.stallBeforeHeadersMs = STALL_MS;
    const t0 = performance.now();
    expect((await run(e.stream(hello))).code).toBe('ETIMEDOUT');
    expect(performance.now() - t0).toBeLessThan(STALL_MS / 2);
  });

  it('headers but no first event in time → ETIMEDOUT', async () => {
    const e = await engine({ verify: false, ...SHORT });
    server.faults.stallBeforeFirstEventMs = STALL_MS;
    const t0 = performance.now();
    expect((await run(e.stream(hello))).code).toBe('ETIMEDOUT');
    expect(performance.now() - t0).toBeLessThan(STALL_MS / 2);
  });

  it('a stream that goes silent → ETIMEDOUT after what it had sent', async () => {
    const e = await engine({ verify: false, ...SHORT });
    server.faults.stallAfterEvents = 3;
    server.faults.stallMidStreamMs = STALL_MS;
    const t0 = performance.now();
    const r = await run(e.stream(hello));
    expect(r.code).toBe('ETIMEDOUT');
    expect(r.text).toBe('hello remote');
    expect(performance.now() - t0).toBeLessThan(STALL_MS / 2);
  });

  it('a slow consumer is not a silent server', async () => {
    const e = await engine({ verify: false, idleTimeoutMs: 50 });
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of e.stream(hello)) {
      chunks.push(c);
      await new Promise((r) => setTimeout(r, 80));
    }
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('a connection cut mid-stream → EIO after what it had sent', async () => {
    const e = await engine({ verify: false });
    server.faults.cutAfterEvents = 2;
    const r = await run(e.stream(long));
    expect(r.code).toBe('EIO');
    expect(r.text).toBe('word ');
  });

  it('abort while waiting for the server ends at once with finish_reason abort', async () => {
    const e = await engine({ verify: false, timeoutMs: 5000 });
    server.faults.stallBeforeHeadersMs = STALL_MS;
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(), 30);
    const t0 = performance.now();
    const r = await run(e.stream(hello, ctrl.signal));
    expect(r).toMatchObject({ code: null, finish: 'abort', text: '' });
    expect(r.usage).toMatchObject({ completion_tokens: 0, estimated: true });
    expect(performance.now() - t0).toBeLessThan(STALL_MS / 2);
  });

  it('abort during a retry backoff ends at once', async () => {
    const e = await engine({ verify: false, backoffMs: STALL_MS, maxBackoffMs: STALL_MS });
    server.faults.failNext = [429];
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(), 30);
    const t0 = performance.now();
    // Its own words: the previous test's stalled request may reach the server late, after the reset.
    const mine = { messages: [{ role: 'user' as const, content: 'say retry only once' }] };
    expect((await run(e.stream(mine, ctrl.signal))).finish).toBe('abort');
    expect(performance.now() - t0).toBeLessThan(STALL_MS / 2);
    const sent = server.bodies.filter((b) => JSON.stringify(b).includes('retry only once'));
    expect(sent).toHaveLength(1);
  });

  it('a consumer that stops reading closes the request on the server', async () => {
    const slow = await startOpenAIServer({
      engines: { det: new DeterministicEngine({ decodeTokensPerSecond: 200 }) },
    });
    try {
      const e = await createRemoteEngine({ baseUrl: slow.baseUrl, model: 'det' });
      for await (const c of e.stream(long)) if (c.choices[0]?.delta.content) break;
      for (let i = 0; i < 100 && slow.clientAborts === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(slow.clientAborts).toBe(1);
    } finally {
      await slow.close();
    }
  });

  it('dispose fails in-flight requests with EIO', async () => {
    const e = await engine({ verify: false, timeoutMs: 5000 });
    server.faults.stallBeforeHeadersMs = 3000;
    setTimeout(() => void e.dispose(), 30);
    expect((await run(e.stream(hello))).code).toBe('EIO');
  });

  it('refuses bad base URLs and never follows a redirect', async () => {
    expect(await errno(createRemoteEngine({ baseUrl: 'not a url', model: 'm' }))).toBe('EINVAL');
    expect(await errno(createRemoteEngine({ baseUrl: 'file:///etc/v1', model: 'm' }))).toBe('EINVAL');
    expect(await errno(createRemoteEngine({ baseUrl: 'http://u:p@127.0.0.1/v1', model: 'm' }))).toBe(
      'EINVAL',
    );
    // A server that redirects to another one: the other must never see the request (nor the key).
    const redirector = createServer((_req, res) => {
      res.writeHead(307, { location: `${server.baseUrl}/chat/completions` });
      res.end();
    });
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
    try {
      const port = (redirector.address() as AddressInfo).port;
      const e = await createRemoteEngine({
        baseUrl: `http://127.0.0.1:${port}/v1`,
        model: 'det',
        verify: false,
        apiKey: 'k',
      });
      expect((await run(e.stream(hello))).code).toBe('EIO');
      expect(server.hits.size).toBe(0);
    } finally {
      await new Promise<void>((r) => redirector.close(() => r()));
    }
  });
});
