/**
 * The kernel's own tools, through the real kernel: http.fetch over real HTTP on
 * loopback, only to granted origins; memory tools acting with exactly the caller's rights.
 */
import 'fake-indexeddb/auto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentContext } from '../../src/workers/sdk';
import { boot, type Harness } from './harness';

let server: Server;
let origin = '';
const seen: { url: string; cookie?: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', ...(req.headers.cookie ? { cookie: req.headers.cookie } : {}) });
    if (req.url === '/redirect') {
      res.writeHead(302, { location: 'http://example.invalid/elsewhere' });
      return res.end();
    }
    if (req.url === '/big') {
      res.setHeader('content-type', 'text/plain');
      return res.end('y'.repeat(300_000));
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, method: req.method }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server.close());

async function run(h: Harness, program: string, permissions: Record<string, unknown>) {
  const { pid } = await h.user.call<{ pid: number }>('spawn', {
    task: 't',
    permissions,
    options: { program },
  });
  const exit = await h.user.call<{ exitCode: number }>('wait', { pid, timeoutMs: 10_000 });
  return { exit, out: await h.user.call<string>('output', { pid }) };
}

const attempt = async (ctx: AgentContext, name: string, args: Record<string, unknown>) => {
  try {
    return { ok: await ctx.tools.call(name, args) };
  } catch (e) {
    return { err: (e as { code: string }).code };
  }
};

describe('kernel tools', () => {
  let h: Harness;
  afterAll(() => h?.close());

  it('http.fetch reaches only the granted origins, without cookies or redirects, and caps the body', async () => {
    h = await boot({
      fetcher: async (ctx) => {
        const out = {
          granted: await attempt(ctx, 'http.fetch', { url: `${origin}/hello?x=1` }),
          post: await attempt(ctx, 'http.fetch', { url: `${origin}/p`, method: 'POST', body: 'hi' }),
          otherPort: await attempt(ctx, 'http.fetch', { url: 'http://127.0.0.1:9/' }),
          otherScheme: await attempt(ctx, 'http.fetch', { url: 'file:///etc/passwd' }),
          redirect: await attempt(ctx, 'http.fetch', { url: `${origin}/redirect` }),
          big: await attempt(ctx, 'http.fetch', { url: `${origin}/big` }).then((r) => {
            const ok = r.ok as { truncated: boolean; text: string } | undefined;
            return ok ? { ok: { truncated: ok.truncated, length: ok.text.length } } : r;
          }),
          badArgs: await attempt(ctx, 'http.fetch', { url: `${origin}/`, evil: true }),
        };
        await ctx.print(JSON.stringify(out));
      },
    });
    const before = seen.length;
    const { out } = await run(h, 'fetcher', { tools: ['http.fetch'], net: [origin] });
    const r = JSON.parse(out);
    expect(r.granted.ok).toMatchObject({
      status: 200,
      text: JSON.stringify({ path: '/hello?x=1', method: 'GET' }),
    });
    expect(JSON.parse(r.post.ok.text).method).toBe('POST');
    expect(r.otherPort).toEqual({ err: 'EPERM' });
    expect(r.otherScheme).toEqual({ err: 'EINVAL' });
    expect(r.redirect.ok).toMatchObject({ status: 302, location: 'http://example.invalid/elsewhere' });
    expect(r.big.ok.truncated).toBe(true);
    expect(r.big.ok.length).toBe(128 * 1024);
    expect(r.badArgs).toEqual({ err: 'EINVAL' });
    // Exactly the granted requests reached the server (the redirect was not followed), with no cookies.
    expect(seen.slice(before).map((s) => s.url)).toEqual(['/hello?x=1', '/p', '/redirect', '/big']);
    expect(seen.some((s) => s.cookie)).toBe(false);

    // Without the net grant, or without the tool grant, nothing leaves.
    const n = seen.length;
    const noNet = JSON.parse((await run(h, 'fetcher', { tools: ['http.fetch'] })).out);
    expect(noNet.granted).toEqual({ err: 'EPERM' });
    const noTool = JSON.parse((await run(h, 'fetcher', { net: [origin] })).out);
    expect(noTool.granted).toEqual({ err: 'EPERM' });
    expect(seen.length).toBe(n);
    const log = await h.user.call<{ kind: string; text: string }[]>('logs', { kind: 'deny' });
    expect(log.some((e) => /http.fetch of http:\/\/127.0.0.1:\d+ denied/.test(e.text))).toBe(true);
  }, 30_000);

  it('memory tools act with the caller’s own namespaces', async () => {
    h.close();
    h = await boot({
      writer: async (ctx) => {
        const out = {
          mine: await attempt(ctx, 'memory.remember', { text: 'the launch code is in the blue folder' }),
          shared: await attempt(ctx, 'memory.remember', { text: 'x', namespace: 'team' }),
          recall: await attempt(ctx, 'memory.recall', { query: 'where is the launch code', k: 3 }),
        };
        await ctx.print(JSON.stringify(out));
      },
      reader: async (ctx) => {
        await ctx.print(JSON.stringify(await attempt(ctx, 'memory.recall', { query: 'launch code' })));
      },
    });
    const tools = ['memory.remember', 'memory.recall'];
    const w = JSON.parse((await run(h, 'writer', { tools })).out);
    expect(typeof w.mine.ok.id).toBe('number');
    expect(w.shared).toEqual({ err: 'EPERM' });
    expect(w.recall.ok[0].text).toBe('the launch code is in the blue folder');
    // Another agent with the same tools sees only its own (empty) namespace.
    const r = JSON.parse((await run(h, 'reader', { tools })).out);
    expect(r.ok).toEqual([]);
  }, 30_000);
});
