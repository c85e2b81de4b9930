#!/usr/bin/env node
// Where a returning user's boot spends its time: the reload bench's setup (one profile filled with
// 100k memories, 5,000 episodes, 20 processes; every page closed between visits), then returning
// visits and first visits interleaved, each traced: the page's `page:*` marks and the kernel's
// `boot:*` marks (debug.boot_trace), on the page's timeline (ms from navigation start).
//   node bench/reload-trace.mjs [runs]   (BENCH_PORT, BENCH_OUTDIR as for npm run bench; SKIP_BUILD=1)
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../e2e/chromium.mjs';
import { buildBench, serveBench } from './serve.mjs';

const PORT = Number(process.env.BENCH_PORT ?? 4180);
const OUT = process.env.BENCH_OUTDIR ?? 'dist';
const RUNS = Number(process.argv[2] ?? 3);
const RECALL = process.env.RECALL === '1';

if (!process.env.SKIP_BUILD) buildBench(OUT);
await serveBench(OUT, PORT);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Opens the desktop, waits until it is interactive and the kernel has settled, returns every mark. */
async function visit(context, { recall = false, settleMs = 2500 } = {}) {
  const page = await context.newPage();
  if (recall) await page.addInitScript(readFileSync('bench/reload-recall.js', 'utf8'));
  await page.goto(`http://localhost:${PORT}/${recall ? '?bench-recall' : ''}`);
  await page.waitForFunction(() => performance.getEntriesByName('agentos:interactive').length > 0, null, {
    timeout: 120_000,
  });
  // The kernel's longest stall while it starts: sequential `stats` calls from the moment the page is usable.
  const stall = recall
    ? null
    : await page.evaluate(async () => {
        const rtts = [];
        const t0 = performance.now();
        while (performance.now() - t0 < 1500) {
          const a = performance.now();
          await window.agentos.call('stats');
          rtts.push(performance.now() - a);
        }
        rtts.sort((a, b) => a - b);
        return { max: rtts[rtts.length - 1], p50: rtts[rtts.length >> 1], n: rtts.length };
      });
  if (recall)
    await page.waitForFunction(() => window.benchRecall?.done, null, { timeout: 180_000, polling: 100 });
  await sleep(settleMs);
  const got = await page.evaluate(async () => {
    const t = await window.agentos.call('debug.boot_trace');
    const page = performance
      .getEntriesByType('mark')
      .filter((m) => m.name.startsWith('page:') || m.name.startsWith('agentos:'))
      .map((m) => ({ name: m.name, at: m.startTime }));
    const kernel = t.marks.map((m) => ({
      name: `k:${m.name}`,
      at: t.timeOrigin + m.at - performance.timeOrigin,
    }));
    const ps = await window.agentos.ps();
    const states = {};
    for (const p of ps) {
      const k = `${p.state}${p.exitReason ? `: ${p.exitReason.slice(0, 90)}` : ''}`;
      states[k] = (states[k] ?? 0) + 1;
    }
    return {
      marks: [...page, ...kernel].sort((a, b) => a.at - b.at),
      recall: window.benchRecall ?? null,
      states,
    };
  });
  got.stall = stall;
  await page.close();
  return got;
}

/** Collapses per-pid marks into first/last/count. */
function summarise(marks) {
  const groups = new Map();
  for (const m of marks) {
    const key = m.name.replace(/ \d+$/, '');
    const g = groups.get(key) ?? { name: key, first: m.at, last: m.at, n: 0 };
    g.first = Math.min(g.first, m.at);
    g.last = Math.max(g.last, m.at);
    g.n++;
    groups.set(key, g);
  }
  return [...groups.values()].sort((a, b) => a.first - b.first);
}

const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
try {
  const context = await browser.newContext();
  const p1 = await context.newPage();
  await p1.goto(`http://localhost:${PORT}/bench/index.html`);
  p1.setDefaultTimeout(0);
  const pop = await p1.evaluate(() => window.populate());
  console.log(`populated ${pop.memories} memories, ${pop.episodes} episodes, ${pop.procs} processes`);
  await sleep(15_000);
  await p1.close();
  await sleep(2000);
  if (process.env.EXPERIMENT) {
    const px = await context.newPage();
    await px.goto(`http://localhost:${PORT}/bench/index.html`);
    for (let i = 0; i < 3; i++) {
      const r = await px.evaluate(async () => {
        const open = (name) =>
          new Promise((res, rej) => {
            const q = indexedDB.open(name);
            q.onsuccess = () => res(q.result);
            q.onerror = () => rej(q.error);
          });
        const req = (r) =>
          new Promise((res, rej) => {
            r.onsuccess = () => res(r.result);
            r.onerror = () => rej(r.error);
          });
        const out = {};
        let t = performance.now();
        const vdb = await open('agentos-vectors');
        out.open = performance.now() - t;
        t = performance.now();
        const parts = await req(vdb.transaction('chunks').objectStore('chunks').getAll());
        out.list = performance.now() - t;
        t = performance.now();
        const bufs = await Promise.all(parts.map((p) => p.arrayBuffer()));
        out.arrayBuffers = performance.now() - t;
        t = performance.now();
        const total = bufs.reduce((n, b) => n + b.byteLength, 0);
        const all = new Uint8Array(total);
        let at = 0;
        for (const b of bufs) {
          all.set(new Uint8Array(b), at);
          at += b.byteLength;
        }
        out.concat = performance.now() - t;
        t = performance.now();
        const one = await new Blob(parts).arrayBuffer();
        out.blobConcat = performance.now() - t;
        out.bytes = one.byteLength;
        const db = await open('agentos');
        t = performance.now();
        const eps = await req(db.transaction('episodes').objectStore('episodes').getAll());
        out.episodes = performance.now() - t;
        out.nEpisodes = eps.length;
        out.episodeSample = JSON.stringify(eps[eps.length - 1]).slice(0, 300);
        return out;
      });
      console.log('experiment', JSON.stringify(r));
    }
    await px.close();
    await sleep(2000);
  }
  const rows = { returning: [], first: [], recall: [] };
  for (let i = 0; i < RUNS; i++) {
    if (RECALL) {
      const r = await visit(context, { recall: true });
      rows.recall.push(r);
      console.log(`\nrecall visit ${i}: ${JSON.stringify(r.recall)} kernel stall ${JSON.stringify(r.stall)}`);
      for (const g of summarise(r.marks))
        console.log(
          `  ${g.name.padEnd(22)} ${g.first.toFixed(0).padStart(6)}${g.n > 1 ? ` … ${g.last.toFixed(0)} (${g.n})` : ''}`,
        );
      await sleep(2000);
    }
    const r = await visit(context);
    rows.returning.push(r);
    console.log(
      `\nreturning visit ${i}: ${JSON.stringify(r.states)} kernel stall ${JSON.stringify(r.stall)}`,
    );
    for (const g of summarise(r.marks))
      console.log(
        `  ${g.name.padEnd(22)} ${g.first.toFixed(0).padStart(6)}${g.n > 1 ? ` … ${g.last.toFixed(0)} (${g.n})` : ''}`,
      );
    await sleep(2000);
    const fresh = await browser.newContext();
    const f = await visit(fresh, { settleMs: 500 });
    await fresh.close();
    rows.first.push(f);
    console.log(`first visit ${i}:`);
    for (const g of summarise(f.marks))
      console.log(
        `  ${g.name.padEnd(22)} ${g.first.toFixed(0).padStart(6)}${g.n > 1 ? ` … ${g.last.toFixed(0)} (${g.n})` : ''}`,
      );
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const at = (r, name) => r.marks.find((m) => m.name === name)?.at ?? Number.NaN;
  const ret = rows.returning.map((r) => at(r, 'agentos:interactive'));
  const fst = rows.first.map((r) => at(r, 'agentos:interactive'));
  console.log(
    `\ninteractive: returning ${ret.map((x) => x.toFixed(0)).join(', ')} (median ${med(ret).toFixed(0)}); first ${fst.map((x) => x.toFixed(0)).join(', ')} (median ${med(fst).toFixed(0)}); ratio ${(med(ret) / med(fst)).toFixed(2)}`,
  );
  if (RECALL) {
    const rc = rows.recall.map((r) => r.recall?.ms ?? Number.NaN);
    console.log(`recall answered: ${rc.map((x) => x.toFixed(0)).join(', ')} (median ${med(rc).toFixed(0)})`);
  }
  await context.close();
} finally {
  await browser.close();
}
process.exit(0);
