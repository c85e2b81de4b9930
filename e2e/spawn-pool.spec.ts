/**
 * The host tab's pool of ready agent slots (src/shell/spare-pool.ts) in a real
 * browser: teams of agents spawned at once all run their program and exit
 * cleanly, the pool grows with that demand and shrinks back when idle, a drained
 * pool really starts the next agent from nothing, and a crash of the frame
 * process that holds the spares leaves the tab able to spawn.
 */
import { expect, test } from '@playwright/test';
import { openOS } from './os';

/** Each agent's first line prints its pid's marker; then it exits with a code of its own. */
const TEAM_MEMBER = `export default async function (ctx) {
  await ctx.print('first line of ' + ctx.args.i);
  return 40 + (ctx.args.i % 10);
}`;

for (const size of [8, 32]) {
  test(`a burst of ${size} spawns issued at once: every agent runs its first line and exits with its own code`, async ({
    page,
  }) => {
    test.setTimeout(120_000);
    await openOS(page);
    const r = await page.evaluate(
      async ({ size, src }) => {
        const k = window.agentos!;
        const pids = await Promise.all(
          Array.from({ length: size }, (_, i) =>
            // A team spawned from the page at once is allowed as many as it asks for (the user has no limits).
            k.spawn(`member ${i}`, undefined, { source: src, args: { i } }),
          ),
        );
        const exits = await Promise.all(pids.map((p) => k.wait(p, 90_000)));
        const outs = await Promise.all(pids.map((p) => k.output(p)));
        return { pids, exits, outs, hosted: k.hostedPids() };
      },
      { size, src: TEAM_MEMBER },
    );
    expect(new Set(r.pids).size).toBe(size);
    for (let i = 0; i < size; i++) {
      expect(r.outs[i]).toBe(`first line of ${i}`);
      expect(r.exits[i]).toEqual({
        pid: r.pids[i],
        exitCode: 40 + (i % 10),
        exitReason: `exit ${40 + (i % 10)}`,
      });
    }
    // Every agent's frame is gone with its exit.
    expect(r.hosted.filter((p) => r.pids.includes(p))).toEqual([]);
  });
}

test('the pool grows to a burst’s size, then shrinks back to one spare when that demand ages out', async ({
  page,
}) => {
  test.setTimeout(120_000);
  await openOS(page);
  // A short memory, so the test need not wait the default 30 s; the sizing rule is the same.
  await page.evaluate(() => window.agentos!.agentSlots.configure({ memoryMs: 4000 }));
  await expect.poll(() => page.evaluate(() => window.agentos!.agentSlots.spares)).toBe(1);
  await page.evaluate(async (src) => {
    const k = window.agentos!;
    const pids = await Promise.all(
      Array.from({ length: 6 }, (_, i) => k.spawn(`member ${i}`, undefined, { source: src, args: { i } })),
    );
    await Promise.all(pids.map((p) => k.wait(p, 60_000)));
  }, TEAM_MEMBER);
  // Six asked for at once: six kept ready for the next team...
  await expect.poll(() => page.evaluate(() => window.agentos!.agentSlots.spares)).toBe(6);
  // ...and they are real frames, each with a started worker waiting.
  await expect
    .poll(() => page.evaluate(() => document.querySelectorAll('[data-agent-frames] iframe').length))
    .toBe(6);
  // Idle past the pool's memory: back to one.
  await expect
    .poll(() => page.evaluate(() => window.agentos!.agentSlots.spares), { timeout: 20_000 })
    .toBe(1);
  await expect
    .poll(() => page.evaluate(() => document.querySelectorAll('[data-agent-frames] iframe').length))
    .toBe(1);
});

test('a drained pool starts the next agent in a new frame and worker, made after the spawn', async ({
  page,
}) => {
  await openOS(page);
  await expect.poll(() => page.evaluate(() => window.agentos!.agentSlots.spares)).toBe(1);
  const r = await page.evaluate(async () => {
    const k = window.agentos!;
    k.agentSlots.drain();
    const framesAfterDrain = document.querySelectorAll('[data-agent-frames] iframe').length;
    const t0 = performance.timeOrigin + performance.now();
    const pid = await k.spawn('cold', undefined, {
      source: 'export default async (ctx) => { await ctx.print(String(performance.timeOrigin)); }',
    });
    await k.wait(pid, 30_000);
    return { framesAfterDrain, created: Number(await k.output(pid)), t0 };
  });
  expect(r.framesAfterDrain).toBe(0);
  // The agent's worker came into being after the spawn was issued: nothing was started for it ahead.
  expect(r.created).toBeGreaterThan(r.t0);
});

test('the frame process holding the spares crashes: the running agent is dealt with, spares are replaced, new spawns run', async ({
  context,
}) => {
  test.setTimeout(120_000);
  const host = await context.newPage();
  await openOS(host);
  // The user watches from a tab that hosts no agents: every agent and spare is in `host`.
  const desk = await context.newPage();
  await openOS(desk, '?host=0');
  // Playwright stops evaluating in a page once any of its frames' processes dies (the page runs on): a CDP
  // session made before the crash still reaches it.
  const hostCdp = await context.newCDPSession(host);
  const inHost = async <T>(expression: string): Promise<T> => {
    const r = await hostCdp.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
    if (r.exceptionDetails)
      throw new Error(r.exceptionDetails.exception?.description ?? r.exceptionDetails.text);
    return r.result.value as T;
  };
  const team = (prefix: string) =>
    desk.evaluate(
      async ({ src, prefix }) => {
        const k = window.agentos!;
        const pids = await Promise.all(
          Array.from({ length: 4 }, (_, i) =>
            k.spawn(`${prefix} ${i}`, undefined, { source: src, args: { i } }),
          ),
        );
        const exits = await Promise.all(pids.map((p) => k.wait(p, 60_000)));
        return {
          exits: exits.map((e) => e.exitCode),
          reasons: exits.map((e) => e.exitReason),
          outs: await Promise.all(pids.map((p) => k.output(p))),
        };
      },
      { src: TEAM_MEMBER, prefix },
    );
  // A team of four makes the host keep four spares.
  expect((await team('member')).exits).toEqual([40, 41, 42, 43]);
  await expect.poll(() => inHost<number>('window.agentos.agentSlots.spares')).toBe(4);
  const victim = await desk.evaluate(() =>
    window.agentos!.spawn('victim', undefined, {
      source:
        'export default async (ctx) => { for (;;) { await ctx.syscall("getpid", {}); await new Promise((r) => setTimeout(r, 50)); } }',
      restart: 'never',
    }),
  );
  await expect
    .poll(() =>
      desk.evaluate((p) => window.agentos!.ps().then((ps) => ps.find((x) => x.pid === p)?.state), victim),
    )
    .toMatch(/running|waiting/);
  expect(await inHost<number[]>('window.agentos.hostedPids()')).toEqual([victim]);
  // Refilled after the victim's take: four, or five if the victim's spawn counted in the team's burst.
  await expect.poll(() => inHost<number>('window.agentos.agentSlots.spares')).toBeGreaterThanOrEqual(4);
  const spares = await inHost<number>('window.agentos.agentSlots.spares');
  // All of this tab's agent frames (the victim's and the spares) share one process: crash it through one.
  const frame = host.frames().find((f) => f.url() === 'about:srcdoc');
  expect(frame).toBeTruthy();
  const frameCdp = await context.newCDPSession(frame!);
  await frameCdp.send('Page.crash').catch(() => {}); // no answer: its process is gone
  const exit = await desk.evaluate((p) => window.agentos!.wait(p, 60_000), victim);
  // It was the only agent in the crashed process (spares are no agents): it is the one blamed.
  expect(exit.exitReason).toMatch(/sandbox process/);
  // The dead spares were dropped and replaced by frames in a new process...
  await expect.poll(() => inHost<number>('window.agentos.agentSlots.spares')).toBe(spares);
  // ...and a new team, hosted by the same tab, runs its programs.
  const after = await team('after');
  expect(after.exits, after.reasons.join('; ')).toEqual([40, 41, 42, 43]);
  expect(after.outs).toEqual(['first line of 0', 'first line of 1', 'first line of 2', 'first line of 3']);
});
