/** Engines that run in a Worker of a host tab (how transformers.js on CPU and WebLLM without kernel WebGPU run). */
import { expect, test } from '@playwright/test';
import { openOS } from './os';

test('a hosted engine streams to agents; when its tab closes mid-answer, the agent gets EHOSTDOWN (not retried: it had streamed) and the model reloads in another tab', async ({
  context,
}) => {
  const a = await context.newPage();
  await openOS(a);
  await a.evaluate(() =>
    window.agentos!.call('models.load', {
      id: 'hosted',
      engine: 'deterministic',
      options: { hosted: true, decodeTokensPerSecond: 30 },
    }),
  );
  expect(await a.evaluate(() => window.agentos!.hostedEngines().length)).toBe(1);
  const quick = await a.evaluate(async () => {
    const k = window.agentos!;
    const pid = await k.spawn('say hosted hello', undefined, { args: { model: 'hosted' } });
    return { exit: await k.wait(pid, 10_000), out: await k.output(pid) };
  });
  expect(quick.exit.exitCode).toBe(0);
  expect(quick.out).toBe('hosted hello\n');

  const b = await context.newPage();
  await openOS(b);
  const bTab = await b.evaluate(() => window.agentos!.tabId);
  // A long, slow answer; its agent is placed on B (A carries the engine).
  const pid = await b.evaluate(() =>
    window.agentos!.spawn(`say ${'word '.repeat(200)}`, undefined, { args: { model: 'hosted' } }),
  );
  await expect
    .poll(() => b.evaluate((p) => window.agentos!.output(p).then((o) => o.length), pid))
    .toBeGreaterThan(10);
  expect(
    await b.evaluate((p) => window.agentos!.ps().then((ps) => ps.find((x) => x.pid === p)!.hostTab), pid),
  ).toBe(bTab);
  await a.close();
  const exit = await b.evaluate((p) => window.agentos!.wait(p, 10_000), pid);
  expect(exit.exitCode).toBe(1);
  expect(await b.evaluate((p) => window.agentos!.output(p), pid)).toMatch(
    /EHOSTDOWN: hosted is gone: its host tab .* closed/,
  );
  // The kernel is up, and the model loads again, now in B.
  const again = await b.evaluate(async () => {
    const k = window.agentos!;
    const pid = await k.spawn('say back again', undefined, { args: { model: 'hosted' } });
    return { exit: await k.wait(pid, 10_000), out: await k.output(pid), engines: k.hostedEngines().length };
  });
  expect(again).toEqual({ exit: expect.objectContaining({ exitCode: 0 }), out: 'back again\n', engines: 1 });
});
