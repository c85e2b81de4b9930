/**
 * Limits on what an agent consumes, names, and the user's records, attacked in a
 * real Chromium (issue 13, sections 3–5). Each attack is an agent program; the
 * assertions are on what the kernel did (typed errors, exits, audit records),
 * never on how fast it did it — the latency figures live in `npm run bench`.
 */
import { type BrowserContext, expect, type Page, test } from '@playwright/test';
import { openOS } from './os';

test.describe.configure({ mode: 'serial' });

let context: BrowserContext;
let host: Page;
let desk: Page;

test.beforeAll(async ({ browser }) => {
  context = await browser.newContext();
  host = await context.newPage();
  await openOS(host);
  // The desktop the user works from hosts no agents.
  desk = await context.newPage();
  await openOS(desk, '?host=0');
});

test.afterAll(async () => {
  await context?.close();
});

/** Runs an agent program from the desktop to its exit; its output parsed as JSON when it printed some. */
async function run(
  source: string,
  permissions?: Record<string, unknown>,
  waitMs = 60_000,
): Promise<{ pid: number; exitCode: number; reason: string | null; out: Record<string, unknown> | null }> {
  return desk.evaluate(
    async ({ source, permissions, waitMs }) => {
      const k = window.agentos!;
      const pid = await k.spawn('attack', permissions as never, { source });
      const exit = await k.wait(pid, waitMs);
      const text = (await k.output(pid)).trim().split('\n').at(-1) ?? '';
      let out: Record<string, unknown> | null = null;
      try {
        out = JSON.parse(text);
      } catch {
        /* printed nothing (killed) */
      }
      return { pid, exitCode: exit.exitCode, reason: exit.exitReason, out };
    },
    { source, permissions: permissions ?? null, waitMs },
  );
}

/** The kernel's audit records about `pid` (kind 'quota'), as the user reads them. */
const audit = (pid: number) =>
  desk.evaluate(
    (p) =>
      window.agentos!.call<{ kind: string; text: string }[]>('logs', { pid: p, kind: 'quota', limit: 1000 }),
    pid,
  );

const errCatch = `const code = async (p) => { try { await p; return 'ok'; } catch (e) { return e.code || String(e); } };`;

test('a 1,000,000-frame flood: the flooder gets EAGAIN and is stopped, the user’s getpid is answered throughout', async () => {
  test.setTimeout(180_000);
  // The attacker takes the SDK's port (by patching MessagePort.prototype.postMessage) and posts raw frames, unawaited.
  const FLOOD = `export default async function main(ctx) {
    let port = null;
    const orig = MessagePort.prototype.postMessage;
    MessagePort.prototype.postMessage = function (...a) { port = this; return orig.apply(this, a); };
    await ctx.syscall('getpid');
    MessagePort.prototype.postMessage = orig;
    const codes = {};
    const prev = port.onmessage;
    port.onmessage = (ev) => {
      const f = ev.data;
      if (f && f.t === 'ret' && f.id >= 1e9) { const c = f.ok ? 'ok' : f.error.code; codes[c] = (codes[c] || 0) + 1; }
      else prev.call(port, ev);
    };
    for (let i = 0; i < 1_000_000; i++) port.postMessage({ t: 'call', id: 1e9 + i, name: 'nop', args: {} });
    await new Promise((r) => setTimeout(r, 3000));
    await ctx.print(JSON.stringify({ codes }));
  }`;
  const result = await desk.evaluate(async (src) => {
    const k = window.agentos!;
    const pid = await k.spawn('flood', undefined, { source: src });
    // The user's calls, one after another, for as long as the flood lasts: each must be answered.
    let answered = 0;
    let wrong = 0;
    let done = false;
    const exitP = k.wait(pid, 150_000).finally(() => {
      done = true;
    });
    const lat: number[] = [];
    while (!done) {
      const t = performance.now();
      const r = await k.call<{ pid: number }>('getpid', {});
      lat.push(performance.now() - t);
      if (r.pid === 0) answered++;
      else wrong++;
    }
    const exit = await exitP;
    lat.sort((a, b) => a - b);
    const p99 = lat[Math.ceil(lat.length * 0.99) - 1];
    return { pid, answered, wrong, exit, p99, out: await k.output(pid) };
  }, FLOOD);
  console.log(
    `flood: ${result.answered} getpid answered, p99 ${result.p99?.toFixed(1)} ms; flooder ${result.exit.exitCode} ${result.exit.exitReason}`,
  );
  expect(result.wrong).toBe(0);
  expect(result.answered).toBeGreaterThan(0);
  // Stopped as a flood (137), or it survived and was told EAGAIN for what was past its limits.
  if (result.exit.exitCode === 137) expect(result.exit.exitReason).toMatch(/flood/);
  else {
    const codes = (JSON.parse(result.out.trim()) as { codes: Record<string, number> }).codes;
    expect(codes.EAGAIN ?? 0).toBeGreaterThan(0);
  }
  const records = await audit(result.pid);
  expect(records.some((r) => /flood|calls per second|in flight/.test(r.text))).toBe(true);
  // And the kernel still serves.
  expect(await desk.evaluate(() => window.agentos!.call('getpid', {}))).toEqual({ pid: 0, ppid: 0 });
});
