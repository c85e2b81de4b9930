/** The MCP client against a real Streamable HTTP server on loopback (tests/contract/mcp-server.ts). */
import { afterEach, describe, expect, it } from 'vitest';
import { USER_CAPS } from '../../src/kernel/access-control';
import { addMcpServer, type McpHandle } from '../../src/kernel/mcp';
import { ToolRegistry } from '../../src/kernel/tools';
import { type McpTestServer, type ServedTool, startMcpServer } from '../contract/mcp-server';

const USER = { pid: 0, caps: USER_CAPS };
const add: ServedTool = {
  name: 'add',
  description: 'add two numbers',
  inputSchema: {
    type: 'object',
    properties: { a: { type: 'number' }, b: { type: 'number' } },
    required: ['a', 'b'],
    additionalProperties: false,
  },
  run: (a) => ({
    content: [{ type: 'text', text: String(Number(a.a) + Number(a.b)) }],
    structuredContent: { sum: Number(a.a) + Number(a.b) },
  }),
};
const fail: ServedTool = {
  name: 'fail',
  description: 'always fails',
  inputSchema: { type: 'object' },
  run: () => ({ content: [{ type: 'text', text: 'disk on fire' }], isError: true }),
};
const echo = (name: string): ServedTool => ({
  name,
  description: `echo ${name}`,
  inputSchema: { type: 'object' },
  run: (a) => ({ content: [{ type: 'text', text: JSON.stringify(a) }] }),
});

let server: McpTestServer | null = null;
let handle: McpHandle | null = null;
afterEach(async () => {
  await handle?.close();
  handle = null;
  await server?.close();
  server = null;
});

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'OK',
    (e: { code?: string }) => e.code ?? String(e),
  );

describe('MCP client (Streamable HTTP)', () => {
  for (const sse of [false, true]) {
    it(`lists and calls tools through the registry (${sse ? 'SSE' : 'JSON'} answers)`, async () => {
      server = await startMcpServer([add, fail]);
      server.opts.sse = sse;
      const reg = new ToolRegistry();
      handle = await addMcpServer(reg, { url: server.url, prefix: 'calc' });
      expect(handle.tools.sort()).toEqual(['calc.add', 'calc.fail']);
      expect(reg.list().find((t) => t.name === 'calc.add')).toMatchObject({
        source: `mcp:${server.url}`,
        description: 'add two numbers',
      });
      expect(await reg.call('calc.add', { a: 2, b: 3 }, USER)).toEqual({ sum: 5 });
      // The registry validates against the server's schema before the server sees anything.
      const calls = server.hits.filter((h) => h.rpc === 'tools/call').length;
      expect(await code(reg.call('calc.add', { a: 'two' }, USER))).toBe('EINVAL');
      expect(server.hits.filter((h) => h.rpc === 'tools/call').length).toBe(calls);
      expect(await code(reg.call('calc.fail', {}, USER))).toBe('EIO');
    });
  }

  it('follows pagination, list-changed notifications, and an expired session', async () => {
    server = await startMcpServer([echo('t1'), echo('t2'), echo('t3')]);
    server.opts.pageSize = 2;
    const reg = new ToolRegistry();
    handle = await addMcpServer(reg, { url: server.url, prefix: 'srv' });
    expect(handle.tools.sort()).toEqual(['srv.t1', 'srv.t2', 'srv.t3']);
    // The server changes its tools and says so on the standalone stream.
    await new Promise((r) => setTimeout(r, 100)); // the GET stream is open
    server.tools.splice(0, 1, echo('t4'));
    server.notifyChanged();
    await expect
      .poll(() =>
        reg
          .list()
          .map((t) => t.name)
          .filter((n) => n.startsWith('srv.'))
          .sort(),
      )
      .toEqual(['srv.t2', 'srv.t3', 'srv.t4']);
    // The server forgets the session: the client opens a new one and the call goes through.
    server.forgetSessions();
    expect(await reg.call('srv.t4', { x: 1 }, USER)).toEqual({
      content: [{ type: 'text', text: '{"x":1}' }],
    });
    expect(server.hits.filter((h) => h.rpc === 'initialize').length).toBe(2);
  });

  it('close removes the tools and ends the session', async () => {
    server = await startMcpServer([add]);
    const reg = new ToolRegistry();
    const h = await addMcpServer(reg, { url: server.url });
    expect(h.prefix).toBe(`mcp-127.0.0.1-${new URL(server.url).port}`);
    await h.close();
    expect(reg.list().some((t) => t.source.startsWith('mcp:'))).toBe(false);
    expect(server.deleted).toHaveLength(1);
  });

  it('typed errors: bad URL, refused credentials, timeout, server down', async () => {
    const reg = new ToolRegistry();
    expect(await code(addMcpServer(reg, { url: 'file:///etc/passwd' }))).toBe('EINVAL');
    server = await startMcpServer([add]);
    server.opts.token = 'sekrit';
    expect(await code(addMcpServer(reg, { url: server.url }))).toBe('EPERM');
    handle = await addMcpServer(reg, {
      url: server.url,
      headers: { authorization: 'Bearer sekrit' },
      timeoutMs: 300,
    });
    server.opts.delayMs = 1000;
    const name = handle.tools[0]!;
    expect(await code(reg.call(name, { a: 1, b: 1 }, USER))).toBe('ETIMEDOUT');
    server.opts.delayMs = 0;
    const url = server.url;
    await server.close();
    server = null;
    expect(await code(addMcpServer(reg, { url }))).toBe('EIO');
  });
});
