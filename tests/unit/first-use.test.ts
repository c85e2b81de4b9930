/**
 * What a newcomer trips over, through the real kernel: the built-in agent's tool loop (a failed
 * tool call is not exit 0; a long task is not an error about a "query"), grants to exited
 * processes, the newest memories listed without a search, and server addresses read the way
 * people type them.
 */
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { SysError } from '../../src/abi/errors';
import { parseServerAddress } from '../../src/net/http';
import llmAgent from '../../src/workers/programs/llm-agent';
import { boot, type Harness } from './harness';

let h: Harness | null = null;
afterEach(() => {
  h?.close();
  h = null;
});

async function agent(task: string) {
  h ??= await boot({ 'llm-agent': llmAgent });
  const { pid } = await h.user.call<{ pid: number }>('spawn', {
    task,
    options: { args: { model: 'deterministic-fast' } },
  });
  const exit = await h.user.call<{ exitCode: number }>('wait', { pid, timeoutMs: 20_000 });
  const logs = await h.user.call<{ kind: string; text: string }[]>('logs', { pid, limit: 200 });
  return { pid, exit, out: await h.user.call<string>('output', { pid }), logs };
}

describe('the built-in agent', () => {
  it('reads the words after a tool’s name as its one argument: math.evaluate (2+3)*4 is 20, exit 0', async () => {
    const r = await agent('compute math.evaluate (2+3)*4');
    expect(r.out).toContain('{"value":20}');
    expect(r.exit.exitCode).toBe(0);
  });

  it('exits 1 with the tool’s error on stderr when a tool call failed and nothing fixed it', async () => {
    const r = await agent('compute math.evaluate expression=2+');
    expect(r.exit.exitCode).toBe(1);
    expect(r.out).toMatch(/tool math\.evaluate failed: E\w+/);
  });

  it('a task longer than a search query still runs (no E2BIG about a "query" the user never gave)', async () => {
    const r = await agent(`say ${'a long task '.repeat(1500)}`.slice(0, 16_893));
    expect(r.out).not.toMatch(/E2BIG|query/);
    expect(r.exit.exitCode).toBe(0);
  });
});

describe('the kernel, as the desktop uses it', () => {
  it('refuses to grant to a process that has exited', async () => {
    h = await boot({ quick: () => 0 });
    const { pid } = await h.user.call<{ pid: number }>('spawn', { task: 't', options: { program: 'quick' } });
    await h.user.call('wait', { pid, timeoutMs: 10_000 });
    await expect(h.user.call('grant', { pid, permissions: { tools: ['http.fetch'] } })).rejects.toMatchObject(
      { code: 'ESRCH', message: expect.stringContaining(`process ${pid} has exited`) },
    );
  });

  it('memory.list gives the newest memories first, without a query', async () => {
    h = await boot({});
    for (const text of ['first', 'second', 'third'])
      await h.user.call('memory.remember', { items: [{ text, namespace: 'user' }] });
    const list = await h.user.call<{ text: string }[]>('memory.list', { namespaces: ['*'], limit: 2 });
    expect(list.map((m) => m.text)).toEqual(['third', 'second']);
  });
});

describe('server addresses', () => {
  const msg = (text: string) => {
    try {
      parseServerAddress(text, 'http://localhost:11434/v1');
      return 'ok';
    } catch (e) {
      expect(e).toBeInstanceOf(SysError);
      return (e as SysError).message;
    }
  };
  it('say what is wrong in the user’s terms, and what would work', () => {
    expect(msg('localhost:11434')).toBe(
      'EINVAL: "localhost:11434" does not start with http:// or https:// — did you mean http://localhost:11434?',
    );
    expect(msg('not a url')).toMatch(
      /"not a url" is not a web address \(it has spaces\); e\.g\. http:\/\/localhost/,
    );
    expect(msg('ftp://files.example')).toMatch(
      /uses ftp:\/\/, but only http:\/\/ and https:\/\/ servers work here/,
    );
    expect(msg('http://127.0.0.1:11434/v1')).toBe('ok');
  });

  it('are read the same way by `mcp add` and by adding a remote model server, through the kernel', async () => {
    h = await boot({});
    await expect(h.user.call('tools.mcp_add', { url: 'localhost:8123/mcp' })).rejects.toMatchObject({
      code: 'EINVAL',
      message: expect.stringContaining('did you mean http://localhost:8123/mcp?'),
    });
    await expect(h.user.call('models.add_remote', { baseUrl: 'ftp://models.example' })).rejects.toMatchObject(
      {
        code: 'EINVAL',
        message: expect.stringMatching(/uses ftp:\/\/, .* e\.g\. http:\/\/localhost:11434\/v1 \(Ollama\)/),
      },
    );
    await expect(h.user.call('tools.mcp_add', { url: '' })).rejects.toMatchObject({
      code: 'EINVAL',
      message: expect.stringContaining("give the server's address"),
    });
  });
});
