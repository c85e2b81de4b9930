/**
 * The walking skeleton in a real browser: the kernel in a SharedWorker shared
 * by tabs, agents in their own workers started by host tabs, and the process
 * lifecycle (spawn, ps, kill, wait, suspend/resume, crashes, lost hosts).
 */
import { expect, test } from '@playwright/test';
import { openOS, program } from './os';

test('two tabs share one kernel: a process spawned in one is listed and controllable in the other', async ({
  context,
}) => {
  const a = await context.newPage();
  const b = await context.newPage();
  await openOS(a);
  await openOS(b);
  expect(await a.evaluate(() => window.agentos!.mode)).toBe('shared');
  const pid = await a.evaluate(() =>
    window.agentos!.spawn('park', undefined, { source: 'export default (ctx) => new Promise(() => {})' }),
  );
  await expect
    .poll(() => b.evaluate((p) => window.agentos!.ps().then((ps) => ps.find((x) => x.pid === p)?.state), pid))
    .toBe('running');
  const tabs = await b.evaluate(() => window.agentos!.call<{ tabs: number }>('stats').then((s) => s.tabs));
  expect(tabs).toBe(2);
  await b.evaluate((p) => window.agentos!.kill(p, 'KILL'), pid);
  const exit = await a.evaluate((p) => window.agentos!.wait(p, 5000), pid);
  expect(exit.exitCode).toBe(137);
});

test('spawn runs an agent in its own worker; wait returns its exit code and output is kept', async ({
  page,
}) => {
  await openOS(page);
  const r = await page.evaluate(async (src) => {
    const k = window.agentos!;
    const pid = await k.spawn('count', undefined, { source: src, args: { n: 3 } });
    const exit = await k.wait(pid, 10_000);
    return { pid, exit, out: await k.output(pid), hosted: k.hostedPids() };
  }, program(
    `for (let i = 0; i < ctx.args.n; i++) await ctx.print('tick ' + i + ' in ' + (typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope ? 'worker' : 'page') + '\\n'); return 7;`,
  ));
  expect(r.exit).toEqual({ pid: r.pid, exitCode: 7, exitReason: 'exit 7' });
  expect(r.out).toBe('tick 0 in worker\ntick 1 in worker\ntick 2 in worker\n');
  // Its worker is gone once it exited.
  expect(r.hosted).not.toContain(r.pid);
});

test('the built-in llm-agent streams the deterministic engine through the kernel', async ({ page }) => {
  await openOS(page);
  const r = await page.evaluate(async () => {
    const k = window.agentos!;
    const outputs: string[] = [];
    const pidBox: { pid: number } = { pid: -1 };
    k.on((e) => {
      if (e.type === 'output' && e.pid === pidBox.pid) outputs.push(e.data);
    });
    pidBox.pid = await k.spawn('say hello from the agent');
    const exit = await k.wait(pidBox.pid, 15_000);
    const ps = await k.ps();
    return { exit, outputs, proc: ps.find((p) => p.pid === pidBox.pid)! };
  });
  expect(r.exit.exitCode).toBe(0);
  expect(r.outputs.join('')).toBe('hello from the agent\n');
  // Token by token, not one block: the output arrived as several events.
  expect(r.outputs.length).toBeGreaterThan(3);
  expect(r.proc.usage.completion_tokens).toBe(7);
  expect(r.proc.usage.prompt_tokens).toBeGreaterThan(0);
});

test('ps reports states; suspend holds an agent’s syscalls until resume', async ({ page }) => {
  await openOS(page);
  const src = program(`
    await ctx.print('before\\n');
    await ctx.syscall('wait', { pid: ctx.args.other, timeoutMs: 60000 }).catch(() => {});
    for (let i = 0; i < 50; i++) { await ctx.print('.'); await new Promise((r) => setTimeout(r, 20)); }
    return 0;`);
  const r = await page.evaluate(async (src) => {
    const k = window.agentos!;
    const park = await k.spawn('park', undefined, { source: 'export default () => new Promise(() => {})' });
    const pid = await k.spawn('dots', { procs: 'all' }, { source: src, args: { other: park } });
    const state = async () => (await k.ps()).find((p) => p.pid === pid)!.state;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // It blocks in wait(): the kernel reports it as waiting.
    for (let i = 0; i < 100 && (await state()) !== 'waiting'; i++) await sleep(20);
    const waiting = await state();
    await k.suspend(pid);
    const suspended = await state();
    await k.kill(park, 'KILL');
    await sleep(400);
    const outWhileSuspended = await k.output(pid);
    await k.resume(pid);
    const exit = await k.wait(pid, 10_000);
    return { waiting, suspended, outWhileSuspended, exit, out: await k.output(pid) };
  }, src);
  expect(r.waiting).toBe('waiting');
  expect(r.suspended).toBe('suspended');
  // While suspended, its write() calls were held by the kernel, not served.
  expect(r.outWhileSuspended).toBe('before\n');
  expect(r.exit.exitCode).toBe(0);
  expect(r.out).toBe(`before\n${'.'.repeat(50)}`);
});

test('kill sends TERM and a cooperative agent exits 143; wait times out with ETIMEDOUT', async ({ page }) => {
  await openOS(page);
  const r = await page.evaluate(async () => {
    const k = window.agentos!;
    const pid = await k.spawn('park', undefined, { source: 'export default () => new Promise(() => {})' });
    let timeout = '';
    await k.wait(pid, 100).catch((e: { code: string }) => (timeout = e.code));
    await new Promise((r) => setTimeout(r, 200));
    await k.kill(pid);
    return { timeout, exit: await k.wait(pid, 5000) };
  });
  expect(r.timeout).toBe('ETIMEDOUT');
  expect(r.exit.exitCode).toBe(143);
});

test('a busy-looping agent does not stall the kernel and is terminated after the grace period', async ({
  page,
}) => {
  await openOS(page);
  const r = await page.evaluate(async () => {
    const k = window.agentos!;
    const looper = await k.spawn('loop', undefined, { source: 'export default () => { for (;;) {} }' });
    await new Promise((r) => setTimeout(r, 300));
    // The kernel still answers, and other agents still run, while one spins.
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) await k.call('nop');
    const nopMs = (performance.now() - t0) / 20;
    const other = await k.spawn('say still alive');
    const otherExit = await k.wait(other, 10_000);
    await k.kill(looper, 'TERM', 500);
    const exit = await k.wait(looper, 5000);
    return { nopMs, otherExit, exit, hosted: k.hostedPids() };
  });
  expect(r.otherExit.exitCode).toBe(0);
  expect(r.exit.exitCode).toBe(137);
  expect(r.exit.exitReason).toContain('did not exit within 500 ms');
  expect(r.hosted).toHaveLength(0);
  expect(r.nopMs).toBeLessThan(1000); // answered at all (no deadlock); speed is the bench's job
});

test('crashing agents exit 1 with the error on stderr, and the kernel stays up', async ({ page }) => {
  await openOS(page);
  const r = await page.evaluate(async () => {
    const k = window.agentos!;
    const run = async (source: string) => {
      const pid = await k.spawn('crash', undefined, { source });
      return { exit: await k.wait(pid, 10_000), out: await k.output(pid) };
    };
    return {
      thrown: await run("export default () => { throw new Error('boom') }"),
      rejected: await run("export default async () => { await null; throw new TypeError('async boom') }"),
      uncaught: await run(
        "export default () => new Promise(() => setTimeout(() => { throw new Error('late boom') }, 10))",
      ),
      syntax: await run('export default ( => {'),
      noDefault: await run('export const x = 1;'),
      badExit: await run('export default (ctx) => ctx.exit(3)'),
      stats: await k.call<{ processes: number }>('stats'),
    };
  });
  expect(r.thrown.exit.exitCode).toBe(1);
  expect(r.thrown.out).toContain('Error: boom');
  expect(r.rejected.exit.exitCode).toBe(1);
  expect(r.rejected.out).toContain('TypeError: async boom');
  expect(r.uncaught.exit.exitCode).toBe(1);
  expect(r.uncaught.exit.exitReason).toContain('late boom');
  expect(r.syntax.exit.exitCode).toBe(1);
  expect(r.syntax.out).toMatch(/SyntaxError|Failed to fetch|import/i);
  expect(r.noDefault.exit.exitCode).toBe(1);
  expect(r.noDefault.out).toContain('EINVAL');
  expect(r.badExit.exit.exitCode).toBe(3);
  expect(r.stats.processes).toBe(0);
});

test('an agent spawns a child with at most its own capabilities, and waits for it', async ({ page }) => {
  await openOS(page);
  const src = program(`
    let escalation = '';
    await ctx.spawn('x', { procs: 'all' }).catch((e) => (escalation = e.code));
    const child = await ctx.spawn('say from the child');
    const exit = await ctx.wait(child, 10000);
    await ctx.print(JSON.stringify({ escalation, exit, me: await ctx.syscall('getpid') }));
    return 0;`);
  const r = await page.evaluate(async (src) => {
    const k = window.agentos!;
    const pid = await k.spawn('parent', { procs: 'children', spawn: true }, { source: src });
    await k.wait(pid, 10_000);
    const ps = await k.call<{ pid: number; ppid: number; program: string }[]>('ps');
    return { pid, out: JSON.parse(await k.output(pid)), child: ps.find((p) => p.ppid === pid)! };
  }, src);
  expect(r.out.escalation).toBe('EPERM');
  expect(r.out.exit.exitCode).toBe(0);
  expect(r.out.me).toEqual({ pid: r.pid, ppid: 0 });
  expect(r.child.program).toBe('llm-agent');
});

test('closing an agent’s host tab moves it to another tab, or ends it (exit 129) when it opted out', async ({
  context,
}) => {
  const a = await context.newPage();
  await openOS(a);
  const park =
    'export default (ctx) => { ctx.print("up in " + ctx.pid + "\\n"); return new Promise(() => {}); }';
  // Spawned while A is the only tab, so A hosts both.
  const [lost, kept] = await a.evaluate(async (src) => {
    const k = window.agentos!;
    // It opts out of moving (the default since issue 15 is to move): it ends with its tab.
    const lost = await k.spawn('lost', undefined, { source: src, restart: 'never' });
    const kept = await k.spawn('kept', undefined, { source: src, restart: 'on-host-loss' });
    return [lost, kept];
  }, park);
  const b = await context.newPage();
  await openOS(b);
  const aTab = await a.evaluate(() => window.agentos!.tabId);
  const bTab = await b.evaluate(() => window.agentos!.tabId);
  await expect
    .poll(() =>
      b.evaluate(() =>
        window.agentos!.ps().then((ps) => ps.filter((p) => p.state === 'running').map((p) => p.hostTab)),
      ),
    )
    .toEqual([aTab, aTab]);
  await a.close();
  const exit = await b.evaluate((p) => window.agentos!.wait(p, 10_000), lost);
  expect(exit.exitCode).toBe(129);
  expect(exit.exitReason).toContain('closed');
  await expect
    .poll(() => b.evaluate((p) => window.agentos!.ps().then((ps) => ps.find((x) => x.pid === p)), kept))
    .toMatchObject({ state: 'running', restarts: 1, hostTab: bTab });
  expect(await b.evaluate(() => window.agentos!.hostedPids())).toEqual([kept]);
});

test('bad syscalls get typed errors and the kernel keeps serving', async ({ page }) => {
  await openOS(page);
  const src = program(`
    const tries = [
      ['no.such.call', {}],
      ['spawn', { task: 42 }],
      ['spawn', { task: 'x', extra: true }],
      ['spawn', JSON.parse('{"task":"x","__proto__":{"polluted":true}}')],
      ['kill', { pid: -1 }],
      ['kill', { pid: 999999 }],
      ['write', { fd: 3, data: 'x' }],
      ['write', { fd: 1, data: 'x'.repeat(2000000) }],
      ['subscribe', {}],
      ['llm.chat', { messages: [{ role: 'wizard', content: 'x' }] }],
      ['llm.chat', { model: 'nope', messages: [] }],
      ['spawn', 'not an object'],
    ];
    const codes = [];
    for (const [name, args] of tries) codes.push(await ctx.syscall(name, args).then(() => 'OK', (e) => e.code));
    await ctx.print(JSON.stringify({ codes, polluted: ({}).polluted ?? null }));
    return 0;`);
  const r = await page.evaluate(async (src) => {
    const k = window.agentos!;
    const pid = await k.spawn('fuzz', undefined, { source: src });
    await k.wait(pid, 10_000);
    return JSON.parse(await k.output(pid));
  }, src);
  expect(r.codes).toEqual([
    'ENOSYS',
    'EINVAL',
    'EINVAL',
    'EINVAL',
    'EINVAL',
    'ESRCH',
    'EINVAL',
    'E2BIG',
    'EPERM',
    'EINVAL',
    'ENOENT',
    'EINVAL',
  ]);
  expect(r.polluted).toBeNull();

  // Raw malformed frames on the tab's own port: answered with EINVAL when they carry an id, else dropped.
  const raw = await page.evaluate(async () => {
    const sys = (window.agentos as unknown as { sys: { port: MessagePort } }).sys;
    const port = sys.port;
    const answers: unknown[] = [];
    const orig = port.onmessage;
    const ch = new MessageChannel();
    port.onmessage = (ev) => {
      if (ev.data?.t === 'ret' && ev.data.id >= 1_000_000) answers.push(ev.data);
      else orig?.call(port, ev);
    };
    const junk: unknown[] = [
      null,
      42,
      'x',
      [],
      { t: 'call' },
      { t: 'call', id: 1_000_001 },
      { t: 'call', id: 1_000_002, name: 7 },
      { t: 'nope', id: 1_000_003 },
      { t: 'call', id: 1_000_004, name: 'nop', args: { x: 1 } },
    ];
    for (const j of junk) port.postMessage(j);
    port.postMessage({ t: 'call', id: 1_000_005, name: 'nop', args: { p: ch.port1 } }, [ch.port1]);
    port.postMessage({ t: 'call', id: 1_000_006, name: 'nop', args: {} });
    await new Promise((r) => setTimeout(r, 300));
    port.onmessage = orig;
    return answers;
  });
  const byId = Object.fromEntries(
    (raw as { id: number; ok: boolean; error?: { code: string } }[]).map((a) => [
      a.id,
      a.ok ? 'OK' : a.error!.code,
    ]),
  );
  expect(byId).toEqual({
    1000001: 'EINVAL',
    1000002: 'EINVAL',
    1000003: 'EINVAL',
    1000004: 'EINVAL',
    1000005: 'EINVAL',
    1000006: 'OK',
  });
  expect(await page.evaluate(() => window.agentos!.call('nop'))).toBeNull();
});

test('a program from another origin: the kernel fetches it for the user (or an agent granted that origin) and runs it sandboxed', async ({
  page,
}) => {
  const { createServer } = await import('node:http');
  const served: string[] = [];
  const server = createServer((req, res) => {
    served.push(req.url ?? '');
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('content-type', 'text/javascript');
    res.end(
      'export default async function main(ctx) { let net = "open"; try { await fetch("/"); } catch (e) { net = e.code; } await ctx.print("remote program ran, network " + net); }',
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
  try {
    await openOS(page);
    const r = await page.evaluate(async (origin) => {
      const k = window.agentos!;
      const pid = await k.spawn('remote', undefined, { program: `${origin}/agent.js` });
      const exit = await k.wait(pid, 10_000);
      // An agent may start it only with the origin in its net capability.
      const src = (net: string[]) =>
        `export default async (ctx) => { try { const c = await ctx.spawn('child', { net: ${JSON.stringify(net)} }, { program: '${origin}/agent.js' }); await ctx.wait(c); await ctx.print('started ' + (await ctx.syscall('output', { pid: c }))); } catch (e) { await ctx.print(e.code); } }`;
      const without = await k.spawn('parent', undefined, { source: src([]) });
      await k.wait(without, 10_000);
      const withNet = await k.spawn('parent', { net: [origin] }, { source: src([origin]) });
      await k.wait(withNet, 10_000);
      return {
        exit,
        out: await k.output(pid),
        without: await k.output(without),
        withNet: await k.output(withNet),
      };
    }, origin);
    expect(r.exit.exitCode).toBe(0);
    expect(r.out).toBe('remote program ran, network EPERM');
    expect(r.without).toBe('EPERM');
    expect(r.withNet).toBe('started remote program ran, network EPERM');
    expect(served).toEqual(['/agent.js', '/agent.js']);
  } finally {
    server.close();
  }
});
