/**
 * Closing every tab and opening the OS again: the process table, grants and
 * logs are back; agents that were running are restartable under their own pid,
 * or restarted at once when their policy says so.
 */
import { expect, test } from '@playwright/test';
import { kernelGone, openOS, program } from './os';

const LONG = program(`
  await ctx.print('started ' + ctx.pid + '\\n');
  await new Promise((r) => setTimeout(r, 600_000));
`);

test('close every tab and reopen: processes, output, grants and logs are back; running agents are restartable', async ({
  context,
}) => {
  test.setTimeout(90_000);
  const a = await context.newPage();
  await openOS(a);
  const before = await a.evaluate(async (src) => {
    const k = window.agentos!;
    const done = await k.spawn('say finished before closing', undefined, {
      args: { model: 'deterministic-fast' },
    });
    await k.wait(done, 10_000);
    // Opted out of moving: it comes back restartable rather than resuming.
    const lost = await k.spawn('long task', { tools: ['time.now'] }, { source: src, restart: 'never' });
    const kept = await k.spawn('long task, restart me', undefined, { source: src, restart: 'on-host-loss' });
    await k.call('grant', { pid: lost, permissions: { tools: ['memory.recall'] } });
    const stats = await k.call<{ uptimeMs: number }>('stats', {});
    return { done, lost, kept, boot: Date.now() - stats.uptimeMs };
  }, LONG);
  await expect.poll(() => a.evaluate((p) => window.agentos!.output(p), before.kept)).toContain('started');
  await expect.poll(() => a.evaluate((p) => window.agentos!.output(p), before.lost)).toContain('started');
  await a.close();
  const b = await context.newPage(); // a blank page keeps the context alive
  await kernelGone(b);

  await openOS(b);
  const after = await b.evaluate(async (pids) => {
    const k = window.agentos!;
    const stats = await k.call<{ uptimeMs: number }>('stats', {});
    const ps = await k.ps();
    const find = (pid: number) => ps.find((p) => p.pid === pid);
    return {
      boot: Date.now() - stats.uptimeMs,
      done: find(pids.done),
      lost: find(pids.lost),
      kept: find(pids.kept),
      doneOut: await k.output(pids.done),
    };
  }, before);
  // A new kernel, not the old one kept alive.
  expect(after.boot).toBeGreaterThan(before.boot);
  expect(after.done).toMatchObject({ state: 'exited', exitCode: 0 });
  expect(after.doneOut).toBe('finished before closing\n');
  expect(after.lost).toMatchObject({ state: 'exited', exitCode: 129, restartable: true });
  expect(after.lost!.capabilities.tools).toEqual(['time.now', 'memory.recall']);
  // The agent whose policy restarts it is running again, under its own pid.
  await expect
    .poll(() =>
      b.evaluate((p) => window.agentos!.ps().then((ps) => ps.find((x) => x.pid === p)?.state), before.kept),
    )
    .toMatch(/running|waiting/);
  await expect
    .poll(() => b.evaluate((p) => window.agentos!.output(p), before.kept))
    .toMatch(/started \d+\n[\s\S]*started \d+\n/);

  // Restart the other one: same pid, its log carries on from the previous session.
  await b.evaluate((p) => window.agentos!.call('restart', { pid: p }), before.lost);
  await expect
    .poll(() =>
      b.evaluate((p) => window.agentos!.ps().then((ps) => ps.find((x) => x.pid === p)?.state), before.lost),
    )
    .toMatch(/running|waiting/);
  const log = await b.evaluate(
    (p) => window.agentos!.call<{ kind: string; text: string }[]>('logs', { pid: p }),
    before.lost,
  );
  const texts = log.map((e) => `${e.kind}: ${e.text}`);
  expect(texts.some((t) => /^spawn: spawned by the user/.test(t))).toBe(true);
  expect(texts.some((t) => /^grant: granted/.test(t))).toBe(true);
  expect(texts.some((t) => /restartable/.test(t))).toBe(true);
  expect(texts.some((t) => /^spawn: restarted by the user/.test(t))).toBe(true);
  // A new spawn gets a new pid, after the old ones.
  const fresh = await b.evaluate(() =>
    window.agentos!.spawn('say new', undefined, { args: { model: 'deterministic-fast' } }),
  );
  expect(fresh).toBeGreaterThan(before.kept);
  await b.evaluate(
    (pids) => Promise.all(pids.map((p) => window.agentos!.kill(p, 'KILL'))),
    [before.lost, before.kept],
  );
});
