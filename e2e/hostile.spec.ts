/**
 * The hostile-agent suite: each attack program (e2e/attacks.ts) runs as an
 * agent in a real Chromium, and must be blocked, while a well-behaved agent
 * (the canary) keeps being served and a desktop tab keeps making syscalls.
 * An http server on another origin counts every request an attacker gets out.
 */

import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type BrowserContext, expect, type Page, test } from '@playwright/test';
import { fuzzFrames } from '../tests/contract/fuzz-frames';
import { ATTACKS, type AttackReport, CANARY } from './attacks';
import { evaluateInKernel } from './kernel-realm';
import { openOS } from './os';

test.describe.configure({ mode: 'serial' });

let context: BrowserContext;
let host: Page;
let desk: Page;
let canary = 0;
let exfil: Server;
let exfilOrigin = '';
const hits: string[] = [];
const results: Record<string, { blocked: boolean; p99Ms: number; detail: string | null }> = {};

test.beforeAll(async ({ browser }) => {
  exfil = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('content-type', 'text/javascript');
    res.end('export default async () => {}; self.pwned = 1;');
  });
  exfil.on('upgrade', (req, socket) => {
    hits.push(`UPGRADE ${req.url}`);
    socket.destroy();
  });
  await new Promise<void>((r) => exfil.listen(0, '127.0.0.1', r));
  exfilOrigin = `http://127.0.0.1:${(exfil.address() as AddressInfo).port}`;
  context = await browser.newContext();
  host = await context.newPage();
  await openOS(host);
  // The desktop the user watches from hosts no agents, so what an agent does to its host cannot reach it.
  desk = await context.newPage();
  await openOS(desk, '?host=0');
  canary = await desk.evaluate(
    (src) =>
      window.agentos!.spawn(
        'canary',
        { bus: ['family', 'name:canary'], models: ['deterministic-fast'] },
        { source: src, restart: 'on-host-loss' },
      ),
    CANARY,
  );
  await expect
    .poll(() => desk.evaluate((p) => window.agentos!.output(p).then((o) => o.length), canary))
    .toBeGreaterThan(3);
  // Every agent may call the canary's echo tool; its secret tool is granted to nobody.
});

test.afterAll(async () => {
  writeFileSync('test-results/hostile.json', `${JSON.stringify({ hits, results }, null, 2)}\n`);
  await context?.close();
  exfil?.close();
});

/** Whether the kernel's realm has been polluted: keys on Object.prototype, or inherited by a fresh object. */
function kernelPollution(): Promise<{ kernelRealm: boolean; polluted: string[] }> {
  return evaluateInKernel(
    desk,
    `({
      kernelRealm: typeof SharedWorkerGlobalScope === 'function' && self instanceof SharedWorkerGlobalScope,
      polluted: [
        ...Object.getOwnPropertyNames(Object.prototype).filter((k) => !${JSON.stringify(OBJECT_PROTO_KEYS)}.includes(k)),
        ...['polluted', 'x'].filter((k) => k in {}),
      ],
    })`,
  );
}

/** Object.prototype's own keys in a clean realm. */
const OBJECT_PROTO_KEYS = [
  'constructor',
  '__defineGetter__',
  '__defineSetter__',
  'hasOwnProperty',
  '__lookupGetter__',
  '__lookupSetter__',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toString',
  'valueOf',
  '__proto__',
  'toLocaleString',
];

/** Samples the desktop's syscall latency until stopped; returns the 99th percentile (ms). */
async function sampleLatency(page: Page): Promise<() => Promise<number>> {
  await page.evaluate(() => {
    const s = { stop: false, lat: [] as number[] };
    (window as unknown as { __lat: typeof s }).__lat = s;
    void (async () => {
      while (!s.stop) {
        const t = performance.now();
        await window.agentos!.call('getpid', {});
        s.lat.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
  });
  return () =>
    page.evaluate(() => {
      const s = (window as unknown as { __lat: { stop: boolean; lat: number[] } }).__lat;
      s.stop = true;
      const xs = [...s.lat].sort((a, b) => a - b);
      return xs[Math.min(xs.length - 1, Math.ceil(xs.length * 0.99) - 1)] ?? 0;
    });
}

for (const attack of ATTACKS) {
  test(`blocked: ${attack.name}`, async () => {
    test.setTimeout((attack.waitMs ?? 20_000) + 30_000);
    const hitsBefore = hits.length;
    const canaryBefore = await desk.evaluate((p) => window.agentos!.output(p).then((o) => o.length), canary);
    const stop = await sampleLatency(desk);
    const source = attack.source.replaceAll('EXFIL', exfilOrigin);
    const run = await desk.evaluate(
      async ({ source, permissions, canary, waitMs }) => {
        const k = window.agentos!;
        const pid = await k.spawn('attack', permissions, { source, args: { canary } });
        const exit = await k.wait(pid, waitMs);
        return { exit, out: await k.output(pid) };
      },
      { source, permissions: attack.permissions, canary, waitMs: attack.waitMs ?? 20_000 },
    );
    const p99 = await stop();
    const line = run.out.trim().split('\n').at(-1) ?? '';
    let report: AttackReport | null = null;
    try {
      report = JSON.parse(line) as AttackReport;
    } catch {
      /* the busy loop prints nothing */
    }
    const detail =
      (report?.leaks.length ? `leaked: ${report.leaks.join('; ')}` : null) ??
      attack.check?.({ exitCode: run.exit.exitCode, reason: run.exit.exitReason ?? null, report }) ??
      (hits.length > hitsBefore
        ? `the exfiltration server was reached: ${hits.slice(hitsBefore).join(', ')}`
        : null);
    results[attack.name] = { blocked: detail === null, p99Ms: p99, detail };
    expect(detail, `${attack.name}: ${run.out.slice(0, 2000)}`).toBeNull();
    // The well-behaved agent kept being served, and the kernel answers.
    await expect
      .poll(() => desk.evaluate((p) => window.agentos!.output(p).then((o) => o.length), canary))
      .toBeGreaterThan(canaryBefore);
    expect(
      await desk.evaluate(
        (p) => window.agentos!.ps().then((ps) => ps.find((x) => x.pid === p)?.state),
        canary,
      ),
    ).toMatch(/running|waiting/);
  });
}

test('fuzz: 10,000 random and malformed frames on a port, and 2,000 random syscalls from a sandboxed agent; each answered with a typed error, the kernel serving throughout', async () => {
  test.setTimeout(60_000);
  const canaryBefore = await desk.evaluate((p) => window.agentos!.output(p).then((o) => o.length), canary);
  // The same generator as the unit fuzz test (tests/contract/fuzz-frames.ts), here on a tab's port.
  const names = [
    'spawn',
    'kill',
    'wait',
    'ps',
    'nop',
    'exit',
    'boot',
    'bus.send',
    'bus.publish',
    'tools.call',
    'tools.register',
    'memory.remember',
    'memory.recall',
    'context.allocate',
    'models.load',
    'sched.policy',
    'renice',
    'grant',
    'revoke',
    'embed.allow',
    'permission.answer',
    'tools.result',
    '__proto__',
    'constructor',
    'toString',
    'x'.repeat(5000),
    '',
  ];
  const { json, withId } = fuzzFrames({ seed: 4242, count: 10_000, idBase: 5_000_000, names });
  const raw = await desk.evaluate(
    async ({ json, withId }) => {
      const port = (window.agentos as unknown as { sys: { port: MessagePort } }).sys.port;
      const answers = new Map<number, { ok: boolean; error?: { code: string } }>();
      const orig = port.onmessage;
      port.onmessage = (ev) => {
        if (ev.data?.t === 'ret' && ev.data.id >= 5_000_000) answers.set(ev.data.id, ev.data);
        else orig?.call(port, ev);
      };
      for (const frame of JSON.parse(json) as unknown[]) port.postMessage(frame);
      const t0 = performance.now();
      while (answers.size < withId * 0.85 && performance.now() - t0 < 10_000)
        await new Promise((r) => setTimeout(r, 50));
      port.onmessage = orig;
      const codes = new Set<string>();
      for (const a of answers.values()) if (!a.ok) codes.add(a.error!.code);
      return {
        withId,
        answered: answers.size,
        codes: [...codes],
      };
    },
    { json, withId },
  );
  expect(raw.answered).toBeGreaterThan(raw.withId * 0.85);
  for (const c of raw.codes)
    expect(['EINVAL', 'ENOSYS', 'ESRCH', 'EPERM', 'E2BIG', 'ENOENT', 'ETIMEDOUT', 'EAGAIN']).toContain(c);
  // The frames went to the kernel: its realm (the SharedWorker), not this page's, is where pollution would show.
  expect(await kernelPollution()).toEqual({ kernelRealm: true, polluted: [] });

  // From inside the sandbox: random syscalls through the SDK, many in flight at once.
  const FUZZER = `export default async function main(ctx) {
    let seed = 99;
    const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
    const names = ['spawn', 'ps', 'nop', 'getpid', 'write', 'bus.send', 'bus.publish', 'bus.subscribe', 'tools.call', 'tools.search', 'memory.remember', 'memory.recall', 'memory.forget', 'context.allocate', 'models.load', 'sched.policy', 'renice', 'grant', 'restart', 'embed.allow', 'tools.result', 'llm.chat', 'no.such', '__proto__'];
    const val = () => { const r = rnd(); return r < 0.2 ? null : r < 0.4 ? { pid: 1, task: 7, name: 'x'.repeat(300) } : r < 0.6 ? JSON.parse('{"__proto__":{"x":1}}') : r < 0.8 ? [1, 'a', { b: null }] : { messages: [{ role: 'wizard' }] }; };
    const codes = {}; let ok = 0, n = 0;
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 200 }, async () => {
        const name = names[Math.floor(rnd() * names.length)];
        try { await ctx.syscall(name, val()); ok++; } catch (e) { codes[e.code ?? e.name] = (codes[e.code ?? e.name] ?? 0) + 1; }
        n++;
      }));
    }
    await ctx.print(JSON.stringify({ n, ok, codes }));
  }`;
  const agent = await desk.evaluate(async (src) => {
    const k = window.agentos!;
    const pid = await k.spawn('fuzzer', undefined, { source: src });
    const exit = await k.wait(pid, 30_000);
    return {
      exit,
      out: JSON.parse(await k.output(pid)) as { n: number; ok: number; codes: Record<string, number> },
    };
  }, FUZZER);
  expect(agent.exit.exitCode).toBe(0);
  expect(agent.out.n).toBe(2000);
  for (const c of Object.keys(agent.out.codes))
    expect(['EINVAL', 'ENOSYS', 'ESRCH', 'EPERM', 'E2BIG', 'ENOENT', 'EAGAIN', 'EDQUOT']).toContain(c);
  expect(await kernelPollution()).toEqual({ kernelRealm: true, polluted: [] });
  // The kernel still serves the desktop and the canary.
  expect(await desk.evaluate(() => window.agentos!.call('nop', {}))).toBeNull();
  await expect
    .poll(() => desk.evaluate((p) => window.agentos!.output(p).then((o) => o.length), canary))
    .toBeGreaterThan(canaryBefore);
});

test('blocked: a memory bomb takes down only the worker’s own tab; the kernel, the desktop and the canary carry on', async () => {
  test.setTimeout(120_000);
  // A second host tab, with no agents yet: the bomb is placed there (least loaded), the canary stays where it is.
  const victim = await context.newPage();
  await openOS(victim);
  const canaryTab = await desk.evaluate(
    (p) => window.agentos!.ps().then((ps) => ps.find((x) => x.pid === p)!.hostTab),
    canary,
  );
  const canaryBefore = await desk.evaluate((p) => window.agentos!.output(p).then((o) => o.length), canary);
  const pid = await desk.evaluate(() =>
    window.agentos!.spawn('bomb', undefined, {
      source:
        'export default async function main() { const a = []; for (let n = 0; ; n++) a.push(new Array(4e6).fill(n + 0.5)); }',
    }),
  );
  const bombTab = await desk.evaluate(
    (p) => window.agentos!.ps().then((ps) => ps.find((x) => x.pid === p)!.hostTab),
    pid,
  );
  expect(bombTab).not.toBe(canaryTab);
  const exit = await desk.evaluate((p) => window.agentos!.wait(p, 90_000), pid);
  // Two protections race, and either one winning is the attack blocked: Chromium ends the whole
  // renderer when a worker's heap overflows (the host tab is gone: 129), or the kernel's heartbeat
  // finds the allocating loop unresponsive first and kills it (137). Which wins depends on the machine.
  if (exit.exitCode === 129) {
    expect(exit.exitReason).toMatch(/host tab/);
  } else {
    expect(exit.exitCode, `unexpected exit: ${exit.exitReason}`).toBe(137);
    expect(exit.exitReason).toMatch(/heartbeat/);
  }
  await expect
    .poll(() => desk.evaluate((p) => window.agentos!.output(p).then((o) => o.length), canary))
    .toBeGreaterThan(canaryBefore);
  results['memory bomb'] = { blocked: true, p99Ms: 0, detail: null };
});

test('nothing reached the exfiltration server during the suite', () => {
  expect(hits).toEqual([]);
});
