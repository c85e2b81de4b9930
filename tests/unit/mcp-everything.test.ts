/**
 * The MCP client against a real third-party server: @modelcontextprotocol/server-everything,
 * the MCP project's reference server, in its Streamable HTTP mode on loopback.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
// The server's own factory (the package has no exports map): the same server its CLI runs.
import { createServer as createEverything } from '@modelcontextprotocol/server-everything/dist/server/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USER_CAPS } from '../../src/kernel/access-control';
import { addMcpServer } from '../../src/tools/mcp';
import { McpClient } from '../../src/tools/mcp-client';
import { ToolRegistry } from '../../src/tools/registry';
import { closedPort } from '../contract/openai-server';

const USER = { pid: 0, caps: USER_CAPS };

describe('MCP against server-everything (its Streamable HTTP mode, a separate process)', () => {
  let proc: ChildProcess;
  let url = '';

  beforeAll(async () => {
    const port = await closedPort();
    proc = spawn(
      process.execPath,
      ['node_modules/@modelcontextprotocol/server-everything/dist/index.js', 'streamableHttp'],
      { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    await new Promise<void>((resolve, reject) => {
      let err = '';
      proc.stderr!.on('data', (d) => {
        err += String(d);
        if (/listening on port/.test(err)) resolve();
      });
      proc.on('exit', (code) => reject(new Error(`server-everything exited ${code}: ${err}`)));
    });
    url = `http://127.0.0.1:${port}/mcp`;
  }, 30_000);
  afterAll(() => {
    proc?.kill();
  });

  it('lists its tools into the registry and calls one by the registry name', async () => {
    const reg = new ToolRegistry();
    const h = await addMcpServer(reg, { url, prefix: 'everything' });
    try {
      expect(h.tools).toEqual(expect.arrayContaining(['everything.echo', 'everything.get-sum']));
      // Its schemas come through: the registry refuses what the server's schema refuses.
      await expect(reg.call('everything.get-sum', { a: 'two', b: 3 }, USER)).rejects.toMatchObject({
        code: 'EINVAL',
      });
      expect(await reg.call('everything.echo', { message: 'hello' }, USER)).toEqual({
        content: [{ type: 'text', text: 'Echo: hello' }],
      });
      expect(await reg.call('everything.get-sum', { a: 2, b: 3 }, USER)).toEqual({
        content: [{ type: 'text', text: expect.stringContaining('5') }],
      });
    } finally {
      await h.close();
    }
    expect(reg.list().some((t) => t.name.startsWith('everything.'))).toBe(false);
  });

  it('reports progress notifications during a long-running call', async () => {
    const client = await McpClient.connect({ url });
    try {
      const seen: number[] = [];
      const r = await client.callTool('trigger-long-running-operation', { duration: 0.3, steps: 3 }, (p) => {
        seen.push(p.progress);
        expect(p.total).toBe(3);
      });
      expect(seen).toEqual([1, 2, 3]);
      expect(JSON.stringify(r)).toContain('Long running operation completed');
    } finally {
      await client.close();
    }
  });

  it("a tool's error result is EIO with the server's words", async () => {
    const client = await McpClient.connect({ url });
    try {
      await expect(
        client.callTool('get-resource-reference', { resourceType: 'nope', resourceId: 1 }),
      ).rejects.toMatchObject({ code: 'EIO', message: expect.stringMatching(/resourceType|Invalid/) });
      // And a call of a tool it does not have is a typed error too.
      await expect(client.callTool('no-such-tool', {})).rejects.toMatchObject({
        code: expect.stringMatching(/^(EINVAL|EIO)$/),
      });
    } finally {
      await client.close();
    }
  });
});

describe('MCP against server-everything (its server, hosted here on loopback)', () => {
  // Its CLI gives no way to change its tools after start; hosted in-process behind the SDK's
  // Streamable HTTP server transport, the same server adds a tool and says so (list_changed).
  let http: Server;
  let url = '';
  let everything: ReturnType<typeof createEverything> | null = null;
  let transport: StreamableHTTPServerTransport | null = null;

  beforeAll(async () => {
    http = createHttpServer(async (req, res) => {
      if (!transport) {
        everything = createEverything();
        transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => crypto.randomUUID() });
        await everything.server.connect(transport);
      }
      await transport.handleRequest(req, res);
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  });
  afterAll(async () => {
    everything?.cleanup();
    await transport?.close();
    http?.closeAllConnections();
    http?.close();
  });

  it('a tool added on the server reaches the registry through notifications/tools/list_changed', async () => {
    const reg = new ToolRegistry();
    const h = await addMcpServer(reg, { url, prefix: 'ev' });
    try {
      expect(h.tools).not.toContain('ev.late-tool');
      everything!.server.registerTool(
        'late-tool',
        { description: 'added after the client connected', inputSchema: {} },
        async () => ({ content: [{ type: 'text', text: 'late' }] }),
      );
      // The notification goes on the client's standalone stream; until that stream is open it
      // has nowhere to go, so the server says it again until the client has heard it.
      await expect
        .poll(() => {
          everything!.server.sendToolListChanged();
          return h.tools.includes('ev.late-tool');
        })
        .toBe(true);
      expect(await reg.call('ev.late-tool', {}, USER)).toEqual({ content: [{ type: 'text', text: 'late' }] });
    } finally {
      await h.close();
    }
  });
});
