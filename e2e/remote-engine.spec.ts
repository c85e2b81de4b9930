/**
 * A remote OpenAI-compatible server as a member of the pool, over real HTTP on
 * loopback: the server is a Node process of this test speaking OpenAI's wire
 * protocol (SSE streaming, usage), the client is the kernel in Chromium.
 */
import { expect, test } from '@playwright/test';
import { DeterministicEngine } from '../src/models/engines/deterministic';
import { startOpenAIServer } from '../tests/contract/openai-server';
import { expectTerminal, openOS, typeCommand } from './os';

test('agents use a remote server through the kernel; faults become typed errors and the kernel stays up', async ({
  page,
  baseURL,
}) => {
  const server = await startOpenAIServer({
    engines: { 'remote-det': new DeterministicEngine({ id: 'remote-det', decodeTokensPerSecond: 500 }) },
    apiKey: 'sk-test',
    cors: new URL(baseURL!).origin,
  });
  try {
    await openOS(page);
    await typeCommand(page, `remote ${server.baseUrl} sk-test`);
    const host = new URL(server.baseUrl).host;
    await expectTerminal(page, `added remote-det@${host}`);
    const r = await page.evaluate(async (model) => {
      const k = window.agentos!;
      const pid = await k.spawn('say hello over http', undefined, { args: { model } });
      const exit = await k.wait(pid, 15_000);
      const ps = await k.ps();
      return { exit, out: await k.output(pid), usage: ps.find((p) => p.pid === pid)!.usage };
    }, `remote-det@${host}`);
    expect(r.exit.exitCode).toBe(0);
    expect(r.out).toBe('hello over http\n');
    expect(r.usage.completion_tokens).toBe(5);
    expect(server.auth).toContain('Bearer sk-test');
    expect([...server.hits.keys()].some((k) => k.startsWith('POST /v1/chat/completions'))).toBe(true);

    // The server refuses further work: a clear error to the agent, the kernel still serving.
    server.faults.unauthorized = true;
    const fail = await page.evaluate(async (model) => {
      const k = window.agentos!;
      const pid = await k.spawn('say again', undefined, { args: { model } });
      return { exit: await k.wait(pid, 15_000), out: await k.output(pid), alive: await k.call('nop') };
    }, `remote-det@${host}`);
    expect(fail.exit.exitCode).toBe(1);
    expect(fail.out).toContain('EPERM');
    expect(fail.alive).toBeNull();

    // An address nobody added is no model at all.
    await typeCommand(page, 'spawn --model remote-det@127.0.0.1:1 say hi');
    await expectTerminal(page, /ENOENT: no model "remote-det@127.0.0.1:1"/);
  } finally {
    await server.close();
  }
});
