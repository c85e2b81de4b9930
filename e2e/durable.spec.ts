/**
 * Agents that outlive their tab (issue 15), in real Chromium: a conversation
 * agent whose host tab is closed or crashed at a random moment moves to the
 * other tab and resumes from exactly its last acknowledged checkpoint; closing
 * every tab and opening the OS again resumes it with its earlier turns in
 * context; racing kills and a kill during a move end it once.
 */
import { type BrowserContext, expect, type Page, test } from '@playwright/test';
import type { KernelEvent } from '../src/abi/protocol';
import { kernelGone, openOS, program } from './os';

/** The issue asks for 20 (about 30 s here); DURABLE_ROUNDS sets another count. */
const ROUNDS = Number(process.env.DURABLE_ROUNDS ?? 20);

interface Seen {
  pid: number;
  state: string;
  hostTab: string | null;
  seq: number;
  migrations: number;
}

declare global {
  interface Window {
    __seen?: Seen[];
  }
}

/** Opens the OS in a new tab that records every process event it is told of. */
async function openTab(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  await openOS(page);
  await page.evaluate(() => {
    window.__seen = [];
    window.agentos!.on((e: KernelEvent) => {
      if (e.type !== 'proc') return;
      window.__seen!.push({
        pid: e.proc.pid,
        state: e.proc.state,
        hostTab: e.proc.hostTab,
        seq: e.proc.checkpoint?.seq ?? 0,
        migrations: e.proc.migrations ?? 0,
      });
    });
  });
  return page;
}

const tabId = (p: Page) => p.evaluate(() => window.agentos!.tabId);
const output = (p: Page, pid: number) => p.evaluate((x) => window.agentos!.output(x), pid);
const send = (p: Page, pid: number, text: string) =>
  p.evaluate(([to, t]) => window.agentos!.call('bus.send', { to, body: { text: t } }), [pid, text] as const);
const proc = (p: Page, pid: number) =>
  p.evaluate((x) => window.agentos!.ps().then((ps) => ps.find((q) => q.pid === x)!), pid);
const logs = (p: Page, pid: number) =>
  p.evaluate(
    (x) => window.agentos!.call<{ kind: string; text: string }[]>('logs', { pid: x, limit: 1000 }),
    pid,
  );

/** Kills a tab: closes it, or crashes its renderer through the DevTools protocol. */
async function kill(page: Page, how: 'close' | 'crash'): Promise<void> {
  if (how === 'close') return page.close();
  const cdp = await page.context().newCDPSession(page);
  const crashed = page.waitForEvent('crash');
  void cdp.send('Page.crash').catch(() => {}); // never answers: the renderer is gone
  await crashed;
  await page.close().catch(() => {});
}

test(`${ROUNDS} rounds: the host tab of an agent in a conversation is killed at a random moment; it resumes in the other tab from exactly its last acknowledged checkpoint`, async ({
  context,
}) => {
  test.setTimeout(60_000 + ROUNDS * 20_000);
  let host = await openTab(context);
  // The built-in agent in chat mode, on the demo-speed engine (tokens stream over ~100 ms, so kills land mid-answer too).
  const pid = await host.evaluate(() =>
    window.agentos!.spawn('say ready', undefined, { args: { chat: true, model: 'deterministic' } }),
  );
  await expect.poll(() => output(host, pid)).toContain('ready');
  let spare = await openTab(context);
  expect((await proc(spare, pid)).hostTab).toBe(await tabId(host));
  const said: string[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const how = r % 2 === 0 ? 'close' : 'crash';
    const spareId = await tabId(spare);
    const text = `say turn ${r} done`;
    said.push(text);
    await send(spare, pid, text);
    // A random moment: before the message is taken, while the answer streams, or after it was saved.
    await new Promise((res) => setTimeout(res, Math.floor(Math.random() * 300)));
    await kill(host, how);
    await expect
      .poll(() => proc(spare, pid).then((p) => `${p.state}@${p.hostTab}#${p.migrations}`), {
        timeout: 20_000,
      })
      .toMatch(new RegExp(`^(running|waiting)@${spareId}#${r + 1}$`));
    // What the kernel acknowledged before the move (every checkpoint it acknowledged was told to this tab)…
    const seen = await spare.evaluate((x) => window.__seen!.filter((s) => s.pid === x), pid);
    const resumedAt = seen.findIndex(
      (s) => s.hostTab === spareId && s.migrations === r + 1 && /running|waiting/.test(s.state),
    );
    expect(resumedAt).toBeGreaterThan(0);
    const acked = Math.max(...seen.slice(0, resumedAt).map((s) => s.seq));
    // …is exactly the checkpoint it resumed from.
    const resumed = (await logs(spare, pid))
      .filter((e) => e.kind === 'migrate' && /^resumed from checkpoint/.test(e.text))
      .at(-1)?.text;
    expect(acked).toBeGreaterThan(0);
    expect(resumed).toMatch(new RegExp(`^resumed from checkpoint ${acked} `));
    // The conversation carries on: the message of this round is answered (before or after the move).
    await expect.poll(() => output(spare, pid), { timeout: 20_000 }).toContain(`turn ${r} done`);
    host = spare;
    spare = await openTab(context);
  }
  // Every earlier turn is still in its context.
  await send(host, pid, 'recap');
  // The whole answer (it streams): up to its end of line.
  await expect.poll(() => output(host, pid), { timeout: 20_000 }).toMatch(/Earlier you said:[^\n]*\n/);
  const recap = (await output(host, pid)).split('\n').find((l) => l.startsWith('Earlier you said:'))!;
  for (const t of ['say ready', ...said]) expect(recap).toContain(t);
  const end = await proc(host, pid);
  expect(end).toMatchObject({ migrations: ROUNDS, restarts: ROUNDS });
  await host.evaluate((x) => window.agentos!.kill(x, 'KILL'), pid);
});

test('close every tab mid-conversation and open the OS again: the agent resumes and answers with its earlier turns in context', async ({
  context,
}) => {
  test.setTimeout(90_000);
  const a = await openTab(context);
  const pid = await a.evaluate(() =>
    window.agentos!.spawn('say hello', undefined, { args: { chat: true, model: 'deterministic' } }),
  );
  await expect.poll(() => output(a, pid)).toContain('hello');
  await send(a, pid, 'say my name is Ada');
  await expect.poll(() => output(a, pid)).toContain('my name is Ada');
  const acked = (await proc(a, pid)).checkpoint!.seq;
  await send(a, pid, 'say the weather is fine'); // mid-conversation: the tab goes while this is handled
  await a.close();
  const b = await context.newPage(); // a blank page keeps the browser context alive
  await kernelGone(b);

  await openOS(b);
  await expect.poll(() => proc(b, pid).then((p) => p.state), { timeout: 20_000 }).toMatch(/running|waiting/);
  const log = (await logs(b, pid)).map((e) => `${e.kind}: ${e.text}`);
  expect(log.some((t) => /^migrate: the OS was opened again: resuming/.test(t))).toBe(true);
  const resumed = log.filter((t) => /^migrate: resumed from checkpoint (\d+)/.test(t)).at(-1)!;
  expect(Number(/checkpoint (\d+)/.exec(resumed)![1])).toBeGreaterThanOrEqual(acked);
  await send(b, pid, 'recap');
  await expect.poll(() => output(b, pid), { timeout: 20_000 }).toMatch(/Earlier you said:[^\n]*\n/);
  const recap = (await output(b, pid)).split('\n').find((l) => l.startsWith('Earlier you said:'))!;
  expect(recap).toContain('say hello');
  expect(recap).toContain('say my name is Ada');
  // Visible, not hidden behind "show exited": the task manager lists it as a live process.
  const ps = await b.evaluate(() => window.agentos!.ps());
  expect(ps.find((p) => p.pid === pid)!.state).not.toBe('exited');
  await b.evaluate((x) => window.agentos!.kill(x, 'KILL'), pid);
});

const PARKED = program(`
  await ctx.checkpoint({ up: true });
  await ctx.print('parked\\n');
  await new Promise(() => {});
`);

async function exitsOf(page: Page, pid: number): Promise<number> {
  return (await logs(page, pid)).filter((e) => e.kind === 'exit').length;
}

test('two tabs racing kill on one pid: one exit, one exit code, no zombie', async ({ context }) => {
  const a = await openTab(context);
  const b = await openTab(context);
  const pid = await a.evaluate((src) => window.agentos!.spawn('parked', undefined, { source: src }), PARKED);
  await expect.poll(() => output(a, pid)).toBe('parked\n');
  const [ra, rb] = await Promise.all([
    a.evaluate((x) => window.agentos!.kill(x, 'TERM').then(() => 'ok'), pid),
    b.evaluate((x) => window.agentos!.kill(x, 'KILL').then(() => 'ok'), pid),
  ]);
  expect([ra, rb]).toEqual(['ok', 'ok']);
  const exit = await b.evaluate((x) => window.agentos!.wait(x, 10_000), pid);
  expect([137, 143]).toContain(exit.exitCode);
  expect(await a.evaluate((x) => window.agentos!.wait(x, 10_000), pid)).toEqual(exit);
  expect(await exitsOf(a, pid)).toBe(1);
  // No worker left behind in either tab.
  await expect
    .poll(async () => [
      ...(await a.evaluate(() => window.agentos!.hostedPids())),
      ...(await b.evaluate(() => window.agentos!.hostedPids())),
    ])
    .not.toContain(pid);
});

test('a kill while the agent moves: one exit, and it never starts again anywhere', async ({ context }) => {
  const a = await openTab(context);
  // A watching tab that never hosts: when A goes, the agent waits for a host, mid-move.
  const watcher = await context.newPage();
  await openOS(watcher, '?host=0');
  const pid = await a.evaluate((src) => window.agentos!.spawn('parked', undefined, { source: src }), PARKED);
  await expect.poll(() => output(a, pid)).toBe('parked\n');
  await a.close();
  await expect.poll(() => proc(watcher, pid).then((p) => p.state)).toMatch(/sleeping|migrating/);
  await watcher.evaluate((x) => window.agentos!.kill(x), pid);
  const exit = await watcher.evaluate((x) => window.agentos!.wait(x, 10_000), pid);
  expect(exit.exitCode).toBe(143);
  // A host appears: a new agent starts there, the killed one does not.
  const c = await openTab(context);
  const probe = await c.evaluate((src) => window.agentos!.spawn('probe', undefined, { source: src }), PARKED);
  await expect.poll(() => output(c, probe)).toBe('parked\n');
  expect(await c.evaluate(() => window.agentos!.hostedPids())).toEqual([probe]);
  expect(await exitsOf(c, pid)).toBe(1);
  expect((await proc(c, pid)).state).toBe('exited');

  // And racing the move itself: the host closes while another tab kills the agent.
  const d = await openTab(context);
  const racer = await c.evaluate((src) => window.agentos!.spawn('racer', undefined, { source: src }), PARKED);
  await expect.poll(() => output(c, racer)).toBe('parked\n');
  const racerHost = (await proc(c, racer)).hostTab;
  const [closing, killer] = racerHost === (await tabId(c)) ? [c, d] : [d, c];
  await Promise.all([closing.close(), killer.evaluate((x) => window.agentos!.kill(x, 'KILL'), racer)]);
  const end = await killer.evaluate((x) => window.agentos!.wait(x, 10_000), racer);
  expect(end.exitCode).toBe(137);
  expect(await exitsOf(killer, racer)).toBe(1);
  await expect.poll(() => killer.evaluate(() => window.agentos!.hostedPids())).not.toContain(racer);
  await killer.evaluate((x) => window.agentos!.kill(x, 'KILL'), probe).catch(() => {});
});

test('beforeunload asks only in the last tab that hosts running agents', async ({ context }) => {
  const a = await openTab(context);
  const b = await openTab(context);
  const pid = await a.evaluate((src) => window.agentos!.spawn('parked', undefined, { source: src }), PARKED);
  await expect.poll(() => output(a, pid)).toBe('parked\n');
  const asked: string[] = [];
  for (const [name, p] of [
    ['a', a],
    ['b', b],
  ] as const)
    p.on('dialog', (d) => {
      asked.push(`${name}:${d.type()}`);
      void d.accept();
    });
  // Chromium shows the question only on a page the user interacted with.
  for (const p of [a, b]) await p.mouse.click(5, 5);
  // Another host is open: closing A moves the agent, so nothing to ask.
  await a.close({ runBeforeUnload: true });
  await expect.poll(() => proc(b, pid).then((p) => p.hostTab)).toBe(await tabId(b));
  expect(asked).toEqual([]);
  // B is now the last host of a running agent: it asks.
  await b.close({ runBeforeUnload: true });
  await expect.poll(() => asked).toEqual(['b:beforeunload']);
});

const FILL_AND_COMPRESS = program(`
  if (!ctx.restored) {
    await ctx.memory.shortTerm.append({ role: 'system', content: 'PINNED rule: always be brief' }, true);
    for (let i = 0; i < 12; i++)
      await ctx.memory.shortTerm.append({ role: 'user', content: 'turn ' + i + ' ' + 'lorem ipsum dolor sit amet '.repeat(5) });
    await ctx.checkpoint({ filled: true });
    await ctx.print('filled\\n');
    await ctx.memory.shortTerm.compress(60); // the demo-speed model writes the summary over a few hundred ms
    await ctx.print('compressed\\n');
  }
  await new Promise(() => {});
`);

test('short-term memory survives reloading the only tab or closing every tab mid-compression: the state before or after, never empty, pinned kept', async ({
  context,
}) => {
  test.setTimeout(180_000);
  let page = await context.newPage();
  await openOS(page);
  const outcomes: string[] = [];
  for (let r = 0; r < 4; r++) {
    const pid = await page.evaluate(
      (src) =>
        window.agentos!.spawn('fill', { models: ['*'] }, { source: src, args: { model: 'deterministic' } }),
      FILL_AND_COMPRESS,
    );
    await expect.poll(() => output(page, pid)).toContain('filled');
    await new Promise((res) => setTimeout(res, Math.floor(Math.random() * 400)));
    if (r % 2 === 0) {
      await page.reload();
      await page.waitForFunction(() => !!window.agentos, null, { timeout: 20_000 });
    } else {
      await page.close();
      page = await context.newPage();
      await kernelGone(page);
      await openOS(page);
    }
    await expect
      .poll(() => proc(page, pid).then((p) => p.state), { timeout: 20_000 })
      .toMatch(/running|waiting/);
    const stm = await page.evaluate(
      (x) =>
        window.agentos!.call<{ entries: { message: { content: string | null }; pinned: boolean }[] }>(
          'memory.stm.list',
          { pid: x },
        ),
      pid,
    );
    const texts = stm.entries.map((e) => e.message.content ?? '');
    expect(stm.entries.filter((e) => e.pinned).map((e) => e.message.content)).toEqual([
      'PINNED rule: always be brief',
    ]);
    const turns = texts.flatMap((t) => (/^turn (\d+) /.exec(t) ? [Number(/^turn (\d+) /.exec(t)![1])] : []));
    const summaries = texts.filter((t) => t.startsWith('Summary of earlier conversation:'));
    if (summaries.length === 0) {
      // Before the compression: every turn.
      expect(turns).toEqual([...Array(12).keys()]);
      outcomes.push('before');
    } else {
      // After it: one summary, and the turns it did not replace — the newest ones, in order.
      expect(summaries).toHaveLength(1);
      expect(turns.length).toBeGreaterThan(0);
      expect(turns).toEqual([...Array(turns.length).keys()].map((i) => 12 - turns.length + i));
      outcomes.push('after');
    }
    await page.evaluate((x) => window.agentos!.kill(x, 'KILL'), pid);
  }
  expect(outcomes).toHaveLength(4);
  test.info().annotations.push({ type: 'outcomes', description: outcomes.join(' ') });
});

test('with "resume on open" off in Settings, agents sleep after the OS reopens until the user resumes them', async ({
  context,
}) => {
  test.setTimeout(90_000);
  const a = await openTab(context);
  await a.evaluate(() => window.agentos!.call('session.settings', { resumeOnOpen: false }));
  const pid = await a.evaluate((src) => window.agentos!.spawn('parked', undefined, { source: src }), PARKED);
  await expect.poll(() => output(a, pid)).toBe('parked\n');
  await a.close();
  const b = await context.newPage();
  await kernelGone(b);
  await openOS(b);
  expect((await proc(b, pid)).state).toBe('sleeping');
  expect(await b.evaluate(() => window.agentos!.hostedPids())).toEqual([]);
  await b.evaluate((x) => window.agentos!.call('restart', { pid: x }), pid);
  await expect.poll(() => proc(b, pid).then((p) => p.state)).toMatch(/running|waiting/);
  await b.evaluate(() => window.agentos!.call('session.settings', { resumeOnOpen: true }));
  await b.evaluate((x) => window.agentos!.kill(x, 'KILL'), pid);
});
