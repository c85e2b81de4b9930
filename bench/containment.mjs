// The containment benchmarks, driven from Node (they need several pages, another server, or crash
// pages, which the in-page bench cannot survive): what isolation costs (spawn_frame_ratio), whether the
// attacks are blocked with no headers at all (attacks_blocked_no_headers), and whether the kernel
// outlives every memory bomb in every tab (kernel_survives_bombs).
import { BOMBS } from '../e2e/bombs.mjs';
import { serveStatic } from '../e2e/static-server.mjs';

/** Chromium flag for bomb runs: a 1 GiB heap per isolate (the bombs need less of a shared machine). */
export const BOMB_HEAP = '--js-flags=--max-old-space-size=1024';

/** spawn p50 with agents in sandboxed frames ÷ the same in plain workers, each in a fresh profile. */
export async function spawnFrameRatio(browser, origin) {
  const p50 = { frame: [], worker: [] };
  for (const hosting of ['frame', 'worker', 'frame', 'worker']) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${origin}/bench/index.html${hosting === 'worker' ? '?hosting=worker' : ''}`);
    const r = await page.evaluate(() => window.runBench(['spawn']));
    p50[hosting].push(r.spawn_p50_ms.value);
    await context.close();
  }
  const best = (xs) => Math.min(...xs);
  const frame = best(p50.frame);
  const worker = best(p50.worker);
  return {
    spawn_frame_ratio: {
      value: frame / worker,
      unit: 'x',
      baseline: worker,
      note: `spawn p50 with each agent in a sandboxed frame (${frame.toFixed(1)} ms) ÷ in a plain worker (baseline, ms); the better of two fresh profiles each, same run. What isolation costs per spawn (a spare frame is kept ready)`,
    },
  };
}

/** The hostile suite's attacks against a static server that sends no headers at all. */
export async function attacksNoHeaders(browser) {
  const server = await serveStatic('dist');
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.origin}/bench/index.html`);
    const r = await page.evaluate(() => window.runBench(['attacks']));
    await context.close();
    return {
      attacks_blocked_no_headers: {
        value: r.attacks_blocked.value,
        unit: 'fraction',
        goal: '= 1',
        note: `the same attacks as attacks_blocked, the OS served by a plain static server with no headers (e2e/static-server.mjs): ${r.attacks_blocked.note}`,
      },
    };
  } finally {
    await server.close();
  }
}

/** Every bomb in both host tabs (the first included): the kernel and both tabs must answer after each. */
export async function kernelSurvivesBombs(browser, origin, log = console.log) {
  const context = await browser.newContext();
  const first = await context.newPage();
  await first.goto(`${origin}/`);
  await first.waitForFunction(() => !!window.agentos);
  const second = await context.newPage();
  await second.goto(`${origin}/`);
  await second.waitForFunction(() => !!window.agentos);
  const desk = await context.newPage();
  await desk.goto(`${origin}/?host=0`);
  await desk.waitForFunction(() => !!window.agentos);
  // Through CDP: Playwright stops evaluating in a page once any of its frames' processes has crashed.
  const sessions = new Map();
  for (const p of [first, second, desk]) sessions.set(p, await context.newCDPSession(p));
  const evalIn = async (page, expression) => {
    const r = await sessions.get(page).send('Runtime.evaluate', {
      expression,
      awaitPromise: true,
      returnByValue: true,
      timeout: 180_000,
    });
    if (r.exceptionDetails)
      throw new Error(r.exceptionDetails.exception?.description ?? r.exceptionDetails.text);
    return r.result.value;
  };
  const load = (p) =>
    evalIn(p, 'window.agentos.hostedPids().length + 8 * window.agentos.hostedEngines().length');
  const alive = async () =>
    (
      await Promise.all(
        [first, second, desk].map((p) =>
          evalIn(p, 'window.agentos.call("getpid", {}).then(() => true)').catch(() => false),
        ),
      )
    ).every(Boolean);
  const canary = await evalIn(
    desk,
    `window.agentos.spawn('canary', undefined, { source: 'export default async (ctx) => { for (;;) { await ctx.print("."); await new Promise((r) => setTimeout(r, 50)); } }', restart: 'on-host-loss' })`,
  );
  let survived = 0;
  let total = 0;
  const notes = [];
  for (const [name, source] of Object.entries(BOMBS))
    for (const [tabName, target] of [
      ['first', first],
      ['second', second],
    ]) {
      total++;
      const other = target === first ? second : first;
      // The kernel places an agent in the least loaded tab; ties go to the tab that connected first.
      const wins = async () => {
        const [t, o] = [await load(target), await load(other)];
        return target === first ? t <= o : t < o;
      };
      for (let i = 0; i < 20 && !(await wins()); i++)
        await evalIn(
          desk,
          // Filler that opts out of moving: lost with a bomb, it exits rather than joining the suspects.
          `window.agentos.spawn('ballast', undefined, { source: 'export default () => new Promise(() => {})', restart: 'never' })`,
        );
      const before = await evalIn(desk, `window.agentos.output(${canary}).then((o) => o.length)`);
      const exit = await evalIn(
        desk,
        `window.agentos.spawn('bomb', undefined, { source: ${JSON.stringify(source)}, restart: 'on-host-loss' }).then((pid) => window.agentos.wait(pid, 170000))`,
      ).catch((e) => ({ exitReason: `wait failed: ${e.message}` }));
      await new Promise((r) => setTimeout(r, 3000));
      const after = await evalIn(desk, `window.agentos.output(${canary}).then((o) => o.length)`).catch(
        () => -1,
      );
      const ok = (await alive()) && after > before;
      if (ok) survived++;
      else notes.push(`${name} in the ${tabName} tab`);
      log(
        `  bomb ${name} (${tabName} tab): ${ok ? 'kernel, tabs and canary fine' : 'NOT survived'}; ${exit.exitReason}`,
      );
    }
  await context.close();
  return {
    kernel_survives_bombs: {
      value: survived === total ? 1 : 0,
      unit: 'bool',
      goal: '= 1',
      note: `${survived}/${total}: each memory bomb of e2e/bombs.mjs (${Object.keys(BOMBS).join(', ')}) in each of two host tabs (the first included) left the kernel, both tabs, a watching desktop and a canary agent running${notes.length ? `; NOT: ${notes.join(', ')}` : ''}`,
    },
  };
}
