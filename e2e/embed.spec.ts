/**
 * A site on another origin embeds the OS: handshake, spawn, a host-side tool the
 * agent calls, the answer streamed back; a site not on the owner's list gets a
 * refusal and nothing else; messages with a missing or forged correlation id
 * are rejected without side effects. The OS is a copy of the production build
 * whose embed-policy.json allows the first host page only.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { expect, type Page, test } from '@playwright/test';
import { serveCopyOfDist } from './os';

// Chromium here blocks third-party storage (IndexedDB, Web Locks, SharedWorker) in embedded frames, as
// browsers with third-party cookies blocked do: the embedded OS then runs its own kernel in a dedicated
// worker, with no memory that outlives the page. Where the browser partitions instead, it gets its own
// SharedWorker kernel and IndexedDB per top-level site.

let os: Awaited<ReturnType<typeof serveCopyOfDist>>;
const hosts: Server[] = [];

/** A host page on its own origin: an iframe with the OS, and the embedding client imported from the OS. */
async function hostPage(osOrigin: string): Promise<string> {
  const html = `<!doctype html><html><body>
<p id="text">The quick brown fox jumps over the lazy dog.</p>
<iframe id="os" src="${osOrigin}/embed.html" style="width:600px;height:60px"></iframe>
<script type="module">
  import { connect } from '${osOrigin}/embed/client.js';
  window.embed = { connect: () => connect(document.getElementById('os')) };
  window.embedReady = true;
</script></body></html>`;
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(html);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hosts.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let allowedHost = '';
let otherHost = '';

test.beforeAll(async () => {
  // Two host pages; the OS owner's list names only the first.
  const placeholder = 'http://127.0.0.1:1';
  os = await serveCopyOfDist((dir) => {
    const f = join(dir, 'embed-policy.json');
    const policy = JSON.parse(readFileSync(f, 'utf8'));
    policy.origins = {
      [placeholder]: {
        tools: ['host.*', 'time.now'],
        models: ['deterministic-fast', 'deterministic'],
        spawn: false,
      },
    };
    writeFileSync(f, JSON.stringify(policy));
  });
  allowedHost = await hostPage(os.origin);
  otherHost = await hostPage(os.origin);
  const f = join(os.dir, 'embed-policy.json');
  writeFileSync(f, readFileSync(f, 'utf8').replace(placeholder, allowedHost));
});

test.afterAll(() => {
  os?.close();
  for (const h of hosts) h.close();
});

async function openHost(page: Page, origin: string): Promise<void> {
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => (window as unknown as { embedReady?: boolean }).embedReady === true);
}

test('a host page embeds the OS, spawns an agent that calls the host’s tool, and streams the answer', async ({
  page,
}) => {
  test.setTimeout(60_000);
  await openHost(page, allowedHost);
  const r = await page.evaluate(async () => {
    type OS = {
      version: number;
      permissions: Record<string, unknown>;
      registerTool(d: unknown, h: (a: unknown, pid: number) => unknown): Promise<string>;
      spawn(
        task: string,
        o?: unknown,
      ): Promise<{ pid: number; output(): AsyncIterable<string>; wait(): Promise<{ exitCode: number }> }>;
    };
    const os = (await (window as unknown as { embed: { connect(): Promise<OS> } }).embed.connect()) as OS;
    const calls: { args: unknown; pid: number }[] = [];
    const name = await os.registerTool(
      {
        name: 'selection',
        description: 'the text the reader selected on the host page',
        inputSchema: { type: 'object', properties: {}, additionalProperties: false },
      },
      (args, pid) => {
        calls.push({ args, pid });
        return { text: document.getElementById('text')!.textContent };
      },
    );
    const agent = await os.spawn(`use ${name} and tell me what it says`, {
      // The paced test model (40 tokens/s): output reaches the tabs at most every 16 ms while it
      // streams, so a model that answers faster than that arrives as one piece.
      permissions: { tools: [name], models: ['deterministic'] },
      options: { args: { model: 'deterministic' } },
    });
    const pieces: string[] = [];
    for await (const t of agent.output()) pieces.push(t);
    const exit = await agent.wait();
    let escalation = '';
    try {
      await os.spawn('x', { permissions: { tools: ['http.fetch'] } });
    } catch (e) {
      escalation = String((e as Error).message);
    }
    return { version: os.version, permissions: os.permissions, name, calls, pieces, exit, escalation };
  });
  expect(r.version).toBe(1);
  expect(r.permissions).toMatchObject({ tools: ['host.*', 'time.now'] });
  expect(r.name).toBe('host.selection');
  expect(r.calls).toHaveLength(1);
  expect(r.pieces.length).toBeGreaterThan(1); // streamed, not one blob
  expect(r.pieces.join('')).toContain('The quick brown fox jumps over the lazy dog.');
  expect(r.exit.exitCode).toBe(0);
  // The page cannot give its agents more than the owner allowed its origin.
  expect(r.escalation).toMatch(/^EPERM: .*tools:http\.fetch/);
});

test('a page whose origin is not allowed gets a refusal and nothing else', async ({ page }) => {
  await openHost(page, otherHost);
  const r = await page.evaluate(async () => {
    const seen: unknown[] = [];
    addEventListener('message', (e) => seen.push(e.data));
    let error = '';
    try {
      await (window as unknown as { embed: { connect(): Promise<unknown> } }).embed.connect();
    } catch (e) {
      error = String((e as Error).message);
    }
    // Try to act anyway, with a raw message.
    const frame = (document.getElementById('os') as HTMLIFrameElement).contentWindow!;
    frame.postMessage({ agentos: 1, id: 'x1', type: 'spawn', task: 'say pwned' }, '*');
    await new Promise((r) => setTimeout(r, 500));
    return { error, seen };
  });
  expect(r.error).toMatch(/^EPERM: http:\/\/127\.0\.0\.1:\d+ may not embed this AgentOS/);
  // Only refusals came back.
  expect(r.seen.length).toBeGreaterThan(0);
  expect(r.seen.every((m) => (m as { type?: string }).type === 'refused')).toBe(true);
});

test('messages with a missing, reused or forged correlation id are rejected without side effects', async ({
  page,
}) => {
  await openHost(page, allowedHost);
  const r = await page.evaluate(async () => {
    await (window as unknown as { embed: { connect(): Promise<unknown> } }).embed.connect();
    const frame = (document.getElementById('os') as HTMLIFrameElement).contentWindow!;
    const origin = new URL((document.getElementById('os') as HTMLIFrameElement).src).origin;
    const replies: { type: string; id: unknown; ok?: boolean; error?: { code: string }; value?: unknown }[] =
      [];
    addEventListener('message', (e) => {
      if (e.origin === origin && (e.data as { agentos?: number }).agentos === 1) replies.push(e.data);
    });
    const post = (m: unknown) => frame.postMessage(m, origin);
    post({ agentos: 1, type: 'spawn', task: 'say no id' }); // missing
    post({ agentos: 1, id: '', type: 'spawn', task: 'say empty id' }); // empty
    post({ agentos: 1, id: 'tr-1', type: 'tool.result', callId: 'forged-call', ok: true, value: 'injected' }); // forged
    post({
      agentos: 1,
      id: 'sp-1',
      type: 'spawn',
      task: 'say once',
      options: { args: { model: 'deterministic-fast' } },
    });
    post({ agentos: 1, id: 'sp-1', type: 'spawn', task: 'say twice' }); // reused
    await new Promise((r) => setTimeout(r, 1500));
    return replies;
  });
  const byId = (id: unknown) => r.filter((m) => m.id === id);
  const missing = byId(null);
  expect(missing).toHaveLength(2);
  expect(missing.every((m) => m.ok === false && m.error?.code === 'EINVAL')).toBe(true);
  expect(byId('tr-1')).toEqual([
    expect.objectContaining({ ok: false, error: expect.objectContaining({ code: 'EINVAL' }) }),
  ]);
  const sp = byId('sp-1');
  expect(sp).toHaveLength(2);
  expect(sp.filter((m) => m.ok === true)).toHaveLength(1); // only the first spawn ran
  expect(sp.filter((m) => m.ok === false && m.error?.code === 'EINVAL')).toHaveLength(1);
  // Exactly one agent exists in the embedded OS: the one with a fresh id.
  const spawned = sp.find((m) => m.ok)!.value as { pid: number };
  expect(spawned.pid).toBeGreaterThan(0);
});

test('without third-party storage the embedded OS runs its own kernel: agents work, memory says it is unavailable', async ({
  page,
}) => {
  await openHost(page, allowedHost);
  const r = await page.evaluate(async () => {
    type OS = {
      spawn(
        task: string,
        o?: unknown,
      ): Promise<{ output(): AsyncIterable<string>; wait(): Promise<{ exitCode: number }> }>;
    };
    const os = (await (window as unknown as { embed: { connect(): Promise<OS> } }).embed.connect()) as OS;
    const agent = await os.spawn('say still here', { options: { args: { model: 'deterministic-fast' } } });
    let out = '';
    for await (const t of agent.output()) out += t;
    const mem = await os.spawn('remember', {
      options: {
        source:
          'export default async (ctx) => { try { await ctx.memory.remember("x"); await ctx.print("stored"); } catch (e) { await ctx.print(e.code); } }',
      },
    });
    let memOut = '';
    for await (const t of mem.output()) memOut += t;
    return { out, exit: await agent.wait(), memOut };
  });
  expect(r.out).toBe('still here\n');
  expect(r.exit.exitCode).toBe(0);
  expect(r.memOut).toMatch(/^E[A-Z]+$/);
});

test('the example host page (npm run example:embed) takes a free port when 5180 is busy, says so, and shows what its agent did with the page’s tool', async ({
  page,
}) => {
  test.setTimeout(90_000);
  const { spawn } = await import('node:child_process');
  // Hold 5180, so the example must say it is busy and pick another port (and still be allowed to embed).
  const squatter = createServer((_q, res) => res.end('someone else'));
  const held = await new Promise<boolean>((r) => {
    squatter.once('error', () => r(false)); // already taken by something else: just as busy
    squatter.listen(5180, 'localhost', () => r(true));
  });
  // The example serves the OS itself (the production build the test server made), as `npm run example:embed` does.
  const child = spawn('node', ['examples/embed-host/serve.mjs'], {
    env: { ...process.env, OS_PORT: '0' },
    stdio: 'pipe',
  });
  let log = '';
  child.stdout.on('data', (d) => {
    log += String(d);
  });
  try {
    await expect
      .poll(() => /host page: (http:\/\/localhost:\d+)\//.exec(log)?.[1] ?? null, { timeout: 30_000 })
      .not.toBeNull();
    const hostUrl = /host page: (http:\/\/localhost:\d+)\//.exec(log)![1]!;
    expect(hostUrl).not.toBe('http://localhost:5180');
    expect(log).toContain('port 5180 is busy');
    await page.goto(`${hostUrl}/`);
    const go = page.getByRole('button', { name: 'Ask an agent about the selection' });
    await expect(go).toBeEnabled({ timeout: 30_000 });
    // The frame says it is connected, not still waiting.
    await expect(page.frameLocator('#os').getByRole('status')).toHaveText(`AgentOS: connected to ${hostUrl}`);
    await page.evaluate(() => {
      const p = document.querySelector('p')!;
      getSelection()!.selectAllChildren(p);
    });
    await go.click();
    const out = page.locator('#out');
    await expect(out).toContainText('(the agent exited with code 0)', { timeout: 30_000 });
    // It used the tool, worked on the text (counted it), and answered from it.
    await expect(out).toContainText(/got \d+ words; the longest is "\S+"/);
    await expect(out).toContainText('In short: Select some of this text, then press the button.');
    await expect(page.getByRole('list', { name: 'tool calls served' })).toContainText(
      /agent \d+ called host\.selection/,
    );
  } finally {
    child.kill();
    if (held) squatter.close();
  }
});

test('the owner removes a site in settings: its very next message is refused (the origin is checked on every message)', async ({
  page,
  context,
}) => {
  // A host on the same site as the OS (another port of localhost): the embedded OS shares the
  // owner's kernel, so the owner's settings apply to it at once.
  const sameSiteOs = os.origin; // http://localhost:<port>
  const html = `<!doctype html><html><body><iframe id="os" src="${sameSiteOs}/embed.html"></iframe>
<script type="module">import { connect } from '${sameSiteOs}/embed/client.js'; window.embed = { connect: () => connect(document.getElementById('os')) }; window.embedReady = true;</script></body></html>`;
  const server = createServer((_q, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(html);
  });
  await new Promise<void>((r) => server.listen(0, 'localhost', r));
  hosts.push(server);
  const hostOrigin = `http://localhost:${(server.address() as AddressInfo).port}`;
  const owner = await context.newPage();
  await owner.goto(`${sameSiteOs}/`);
  await owner.waitForFunction(() => !!window.agentos);
  await owner.evaluate(
    (o) => window.agentos!.call('embed.allow', { origin: o, permissions: { tools: ['time.now'] } }),
    hostOrigin,
  );
  await openHost(page, hostOrigin);
  const first = await page.evaluate(async () => {
    type OS = { spawn(t: string, o?: unknown): Promise<{ pid: number }> };
    const os = (await (window as unknown as { embed: { connect(): Promise<OS> } }).embed.connect()) as OS;
    (window as unknown as { os: OS }).os = os;
    return (await os.spawn('say allowed', { options: { args: { model: 'deterministic-fast' } } })).pid;
  });
  expect(first).toBeGreaterThan(0);
  await owner.evaluate((o) => window.agentos!.call('embed.disallow', { origin: o }), hostOrigin);
  const second = await page.evaluate(async () => {
    const os = (window as unknown as { os: { spawn(t: string): Promise<{ pid: number }> } }).os;
    try {
      await os.spawn('say not any more');
      return 'spawned';
    } catch (e) {
      return String((e as Error).message);
    }
  });
  expect(second).toMatch(/^EPERM: .* may not embed this AgentOS/);
  // Nothing was started by the refused message.
  const tasks = await owner.evaluate(() => window.agentos!.ps().then((ps) => ps.map((p) => p.task)));
  expect(tasks).toContain('say allowed');
  expect(tasks).not.toContain('say not any more');
});
