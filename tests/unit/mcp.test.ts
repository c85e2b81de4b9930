/** The MCP client against a real Streamable HTTP server on loopback (tests/contract/mcp-server.ts). */
import { afterEach, describe, expect, it } from 'vitest';
import { USER_CAPS } from '../../src/kernel/access-control';
import { addMcpServer, type McpHandle } from '../../src/tools/mcp';
import { McpClient } from '../../src/tools/mcp-client';
import { ToolRegistry } from '../../src/tools/registry';
import { type McpTestServer, type ServedTool, startMcpServer } from '../contract/mcp-server';
import { closedPort } from '../contract/openai-server';

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
let client: McpClient | null = null;
afterEach(async () => {
  await handle?.close();
  handle = null;
  await client?.close();
  client = null;
  await server?.close();
  server = null;
});

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'OK',
    (e: { code?: string }) => e.code ?? String(e),
  );
const count = (s: McpTestServer, rpc: string) => s.hits.filter((h) => h.rpc === rpc).length;
const names = (reg: ToolRegistry, prefix: string) =>
  reg
    .list()
    .map((t) => t.name)
    .filter((n) => n.startsWith(`${prefix}.`))
    .sort();

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
      const calls = count(server, 'tools/call');
      expect(await code(reg.call('calc.add', { a: 'two' }, USER))).toBe('EINVAL');
      expect(count(server, 'tools/call')).toBe(calls);
      // A tool's own failure (isError) is EIO with its text.
      await expect(reg.call('calc.fail', {}, USER)).rejects.toMatchObject({
        code: 'EIO',
        message: expect.stringContaining('disk on fire'),
      });
    });
  }

  it('speaks the protocol: session id and version on every request after initialize, initialized sent', async () => {
    server = await startMcpServer([add]);
    client = await McpClient.connect({ url: server.url });
    expect(client.serverInfo).toEqual({ name: 'test-mcp', version: '1' });
    expect(client.protocolVersion).toBe('2025-06-18');
    expect(await client.callTool('add', { a: 1, b: 2 })).toEqual({ sum: 3 });
    const [init, ...rest] = server.hits;
    expect(init).toMatchObject({ method: 'POST', rpc: 'initialize' });
    expect(init?.session).toBeUndefined();
    expect(init?.accept).toContain('text/event-stream');
    const session = [...server.initialized][0];
    expect(session).toMatch(/^sess-/);
    // The standalone GET stream opens after `initialized`, when the SDK's transport opens it: POSTs in order.
    expect(rest.filter((h) => h.method === 'POST').map((h) => h.rpc)).toEqual([
      'notifications/initialized',
      'tools/call',
    ]);
    for (const h of rest) expect(h).toMatchObject({ session, protocolVersion: '2025-06-18' });
    // A JSON-RPC "invalid params" error is EINVAL with the server's words.
    await expect(client.callTool('nope', {})).rejects.toMatchObject({
      code: 'EINVAL',
      message: expect.stringContaining('unknown tool nope'),
    });
  });

  it("answers a server's ping that arrives in an SSE answer before the result", async () => {
    server = await startMcpServer([add]);
    server.opts.sse = true;
    server.opts.pingClient = true;
    client = await McpClient.connect({ url: server.url });
    expect(await client.callTool('add', { a: 2, b: 2 })).toEqual({ sum: 4 });
    // One ping in each SSE answer (initialize's and the call's), each answered.
    await expect.poll(() => server?.responses.length).toBe(2);
    for (const r of server.responses)
      expect(r).toEqual({ jsonrpc: '2.0', id: expect.stringMatching(/^ping-/), result: {} });
  });

  it('follows pagination and list-changed notifications on the standalone stream', async () => {
    server = await startMcpServer([echo('t1'), echo('t2'), echo('t3')]);
    server.opts.pageSize = 2;
    const reg = new ToolRegistry();
    handle = await addMcpServer(reg, { url: server.url, prefix: 'srv' });
    expect(handle.tools.sort()).toEqual(['srv.t1', 'srv.t2', 'srv.t3']);
    expect(count(server, 'tools/list')).toBe(2);
    await expect.poll(() => server?.streams()).toBe(1);
    // One tool goes, one comes, and the server says so.
    server.tools.splice(0, 1, echo('t4'));
    server.notifyChanged();
    await expect.poll(() => names(reg, 'srv')).toEqual(['srv.t2', 'srv.t3', 'srv.t4']);
    expect(handle.tools.sort()).toEqual(['srv.t2', 'srv.t3', 'srv.t4']);
    expect(await code(reg.call('srv.t1', {}, USER))).toBe('ENOENT');
  });

  it('hears list-changed inside an SSE answer, and works with a server that has no GET stream (405)', async () => {
    server = await startMcpServer([echo('t1')]);
    server.opts.sse = true;
    server.opts.getStream = false;
    const reg = new ToolRegistry();
    handle = await addMcpServer(reg, { url: server.url, prefix: 'srv' });
    server.tools.push(echo('t2'));
    server.notifyChanged('response');
    expect(await reg.call('srv.t1', { x: 1 }, USER)).toEqual({
      content: [{ type: 'text', text: '{"x":1}' }],
    });
    await expect.poll(() => names(reg, 'srv')).toEqual(['srv.t1', 'srv.t2']);
    // 405 means "none": the client does not keep asking.
    await new Promise((r) => setTimeout(r, 700));
    expect(server.hits.filter((h) => h.method === 'GET')).toHaveLength(1);
  });

  it('opens a new session when the server forgets it: once for concurrent calls, and listens on the new one', async () => {
    server = await startMcpServer([echo('t1')]);
    const reg = new ToolRegistry();
    handle = await addMcpServer(reg, { url: server.url, prefix: 'srv' });
    await expect.poll(() => server?.streams()).toBe(1);
    server.forgetSessions();
    const results = await Promise.all([1, 2, 3].map((x) => reg.call('srv.t1', { x }, USER)));
    expect(results[2]).toEqual({ content: [{ type: 'text', text: '{"x":3}' }] });
    expect(count(server, 'initialize')).toBe(2);
    expect(server.initialized.size).toBe(2);
    // The standalone stream comes back on the new session and still carries list changes.
    await expect.poll(() => server?.streams(), { timeout: 3000 }).toBe(1);
    server.tools.push(echo('t2'));
    server.notifyChanged();
    await expect.poll(() => names(reg, 'srv')).toEqual(['srv.t1', 'srv.t2']);
  });

  it('close removes the tools, ends the session it opened and its stream', async () => {
    server = await startMcpServer([add]);
    const reg = new ToolRegistry();
    const h = await addMcpServer(reg, { url: server.url });
    expect(h.prefix).toBe(`mcp-127.0.0.1-${new URL(server.url).port}`);
    expect(h.tools).toEqual([`${h.prefix}.add`]);
    expect(await reg.call(`${h.prefix}.add`, { a: 1, b: 2 }, USER)).toEqual({ sum: 3 });
    await expect.poll(() => server?.streams()).toBe(1);
    await h.close();
    expect(reg.list().some((t) => t.source.startsWith('mcp:'))).toBe(false);
    expect(server.deleted).toEqual([...server.initialized]);
    await expect.poll(() => server?.streams()).toBe(0);
    expect(await code(reg.call(`${h.prefix}.add`, { a: 1, b: 2 }, USER))).toBe('ENOENT');
  });

  it('makes tool names the registry accepts and calls the server by the original name', async () => {
    server = await startMcpServer([echo('get weather!'), echo('9lives')]);
    const reg = new ToolRegistry();
    handle = await addMcpServer(reg, { url: server.url, prefix: '1st server' });
    expect(handle.prefix).toBe('st-server');
    expect(handle.tools.sort()).toEqual(['st-server.9lives', 'st-server.get-weather-']);
    expect(await reg.call('st-server.get-weather-', { q: 1 }, USER)).toEqual({
      content: [{ type: 'text', text: '{"q":1}' }],
    });
  });

  it('typed errors: bad URL, refused credentials, timeout, server down', async () => {
    const reg = new ToolRegistry();
    expect(await code(addMcpServer(reg, { url: 'file:///etc/passwd' }))).toBe('EINVAL');
    expect(await code(addMcpServer(reg, { url: 'not a url' }))).toBe('EINVAL');
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
    expect(await reg.call(name, { a: 1, b: 1 }, USER)).toEqual({ sum: 2 });
    expect(await code(addMcpServer(reg, { url: `http://127.0.0.1:${await closedPort()}/mcp` }))).toBe('EIO');
    // Nothing is left behind by the failed attempts.
    expect(reg.list().map((t) => t.name)).toEqual([name]);
  });
});
