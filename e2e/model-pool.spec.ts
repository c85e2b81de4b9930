/** The model pool, context budgets and the scheduler, through the real kernel in Chromium. */
import { expect, test } from '@playwright/test';
import { expectTerminal, openOS, program, typeCommand } from './os';

const say = (n: number, tag: string) => `say ${Array.from({ length: n }, (_, i) => `${tag}${i}`).join(' ')}`;

test('priority policy: an urgent agent preempts a long generation; fifo makes it wait', async ({ page }) => {
  await openOS(page);
  const run = (policy: string) =>
    page.evaluate(
      async ({ policy, long, short }) => {
        const k = window.agentos!;
        await k.call('sched.policy', { policy });
        await k.call('models.load', {
          id: `slow-${policy}`,
          engine: 'deterministic',
          options: { decodeTokensPerSecond: 150, prefillTokensPerSecond: 100000 },
        });
        const args = { model: `slow-${policy}` };
        const done: Record<number, number> = {};
        k.on((e) => {
          if (e.type === 'proc' && e.proc.state === 'exited') done[e.proc.pid] = performance.now();
        });
        const lo = await k.spawn(long, undefined, { priority: 10, args });
        // The urgent agent comes once the long answer is streaming (not after a fixed delay: a slow
        // spawn on a loaded machine must not turn this into a test of who started first).
        while (!(await k.output(lo))) await new Promise((r) => setTimeout(r, 20));
        const hi = await k.spawn(short, undefined, { priority: -10, args });
        await Promise.all([k.wait(lo, 20_000), k.wait(hi, 20_000)]);
        const s = await k.call<{ models: { model: string; preemptions: number }[] }>('sched.policy');
        return {
          hiFirst: done[hi]! < done[lo]!,
          preemptions: s.models.find((m) => m.model === `slow-${policy}`)!.preemptions,
          loOut: await k.output(lo),
        };
      },
      { policy, long: say(400, 'w'), short: say(3, 'u') },
    );
  const pr = await run('priority');
  expect(pr.hiFirst).toBe(true);
  expect(pr.preemptions).toBeGreaterThanOrEqual(1);
  // The preempted agent's answer is whole.
  expect(pr.loOut.trim()).toBe(say(400, 'w').slice(4));
  const ff = await run('fifo');
  expect(ff.hiFirst).toBe(false);
  expect(ff.preemptions).toBe(0);
});

test('allocate_context: evict suspends a less urgent agent, which gets its reservation back before it resumes', async ({
  page,
}) => {
  await openOS(page);
  const holder = program(`
    const g = await ctx.syscall('context.allocate', { tokens: 3000 });
    await ctx.print('granted ' + g.tokens + '\\n');
    await new Promise((r) => setTimeout(r, 1500));
    const mine = await ctx.syscall('context.list');
    await ctx.print('holding ' + mine.reservations.map((r) => r.tokens).join(',') + '\\n');
    return 0;`);
  const urgent = program(`
    const g = await ctx.syscall('context.allocate', { tokens: 2000, policy: 'evict' });
    await ctx.print('granted ' + g.tokens + ' by ' + g.policy + '\\n');
    await new Promise((r) => setTimeout(r, 300));
    return 0;`);
  const r = await page.evaluate(
    async ({ holder, urgent }) => {
      const k = window.agentos!;
      await k.call('models.load', {
        id: 'ctx-model',
        engine: 'deterministic',
        options: { contextWindow: 4096, contextCapacity: 4096 },
      });
      const args = { model: 'ctx-model' };
      const lo = await k.spawn('holder', undefined, { source: holder, priority: 5, args });
      for (let i = 0; i < 100 && !(await k.output(lo)).includes('granted'); i++)
        await new Promise((r) => setTimeout(r, 20));
      const hi = await k.spawn('urgent', undefined, { source: urgent, priority: -5, args });
      let loState = '';
      for (let i = 0; i < 100; i++) {
        loState = (await k.ps()).find((p) => p.pid === lo)!.state;
        if (loState === 'suspended') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await k.wait(hi, 10_000);
      await k.resume(lo);
      const loExit = await k.wait(lo, 10_000);
      const logs = await k.call<{ pid: number; kind: string }[]>('logs', {});
      return {
        loState,
        loExit,
        loOut: await k.output(lo),
        hiOut: await k.output(hi),
        kinds: logs.map((l) => `${l.pid}:${l.kind}`),
        lo,
        hi,
      };
    },
    { holder, urgent },
  );
  expect(r.loState).toBe('suspended');
  expect(r.hiOut).toBe('granted 2000 by evict\n');
  expect(r.loExit.exitCode).toBe(0);
  // It held its 3000 tokens again by the time it ran on.
  expect(r.loOut).toBe('granted 3000\nholding 3000\n');
  expect(r.kinds).toContain(`${r.lo}:context.evict`);
  expect(r.kinds).toContain(`${r.hi}:context.grant`);
  expect(r.kinds.filter((k) => k === `${r.lo}:context.grant`)).toHaveLength(2);
});

test('allocate_context with compress: the agent’s short-term memory is summarised to fit, and the replaced turns are in the log', async ({
  page,
}) => {
  await openOS(page);
  const chatty = program(`
    await ctx.syscall('memory.stm.append', { message: { role: 'system', content: 'Keep this rule.' }, pinned: true });
    for (let i = 0; i < 40; i++) await ctx.syscall('memory.stm.append', { message: { role: i % 2 ? 'assistant' : 'user', content: 'turn ' + i + ' ' + 'lorem ipsum dolor sit amet '.repeat(4) } });
    const before = (await ctx.syscall('memory.stm.list')).tokens;
    const g = await ctx.syscall('context.allocate', { tokens: before, policy: 'compress' });
    const after = await ctx.syscall('memory.stm.list');
    await ctx.print(JSON.stringify({ before, granted: g.tokens, saved: g.saved, after: after.tokens, first: after.entries[0].message.content, second: after.entries[1].message.content.slice(0, 33) }));
    return 0;`);
  const r = await page.evaluate(async (src) => {
    const k = window.agentos!;
    await k.call('models.load', {
      id: 'small-ctx',
      engine: 'deterministic',
      options: { contextWindow: 4096, contextCapacity: 1500 },
    });
    const pid = await k.spawn('chatty', undefined, { source: src, args: { model: 'small-ctx' } });
    const exit = await k.wait(pid, 20_000);
    const logs = await k.call<{ kind: string; data?: { replaced?: unknown[] } }[]>('logs', { pid });
    return { exit, out: await k.output(pid), logs };
  }, chatty);
  expect(r.exit.exitCode).toBe(0);
  const out = JSON.parse(r.out);
  expect(out.before).toBeGreaterThan(1500);
  expect(out.after).toBeLessThanOrEqual(1500);
  expect(out.granted).toBe(out.before - out.saved);
  expect(out.first).toBe('Keep this rule.');
  expect(out.second).toBe('Summary of earlier conversation: ');
  const compress = r.logs.find((l) => l.kind === 'memory.compress')!;
  expect(compress.data!.replaced!.length).toBeGreaterThanOrEqual(5);
  expect(r.logs.map((l) => l.kind)).toContain('context.compress');
});

test('terminal: models, load, unload, sched, logs; token use in ps', async ({ page }) => {
  await openOS(page);
  await typeCommand(page, 'models');
  await expectTerminal(page, /deterministic-fast\s+deterministic\s+no/);
  await typeCommand(page, 'load deterministic-fast');
  await expectTerminal(page, 'loaded deterministic-fast (context 4096)');
  await typeCommand(page, 'load gpt-nope');
  await expectTerminal(page, /ENOENT: no model "gpt-nope"; available: deterministic, deterministic-fast/);
  await typeCommand(page, 'spawn --model deterministic-fast say four little words here');
  await expectTerminal(page, '[1] exited with code 0');
  await typeCommand(page, 'ps -a');
  await expect(page.locator('aos-terminal .line.out').last()).toContainText(
    /1\s+0\s+exited\(0\)\s+0\s+\d+\+7\s+llm-agent/,
  );
  await typeCommand(page, 'sched round-robin');
  await expectTerminal(page, 'policy: round-robin');
  await typeCommand(page, 'sched wrong');
  await expectTerminal(page, /EINVAL: policy: expected one of fifo, round-robin, priority/);
  await typeCommand(page, 'unload deterministic-fast');
  await expectTerminal(page, 'unloaded deterministic-fast');
  await typeCommand(page, 'logs 1');
  await expectTerminal(page, /model\.call\s+deterministic-fast: \d+ prompt \+ 7 completion tokens/);
});
