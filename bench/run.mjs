#!/usr/bin/env node
// npm run bench [-- suite ...]: builds the production bundle with the bench page,
// serves it on loopback, runs the suites in headless Chromium, prints a table and
// writes bench/results.json. Targets are judged as ratios within one run.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../e2e/chromium.mjs';

const PORT = 4180;
const only = process.argv.slice(2);

const build = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn'], {
  stdio: 'inherit',
  env: { ...process.env, AGENTOS_BENCH: '1' },
});
if (build.status !== 0) process.exit(build.status ?? 1);

const server = spawn('npx', ['vite', 'preview', '--port', String(PORT), '--strictPort'], {
  stdio: 'ignore',
  detached: true,
});
const stop = () => {
  try {
    process.kill(-server.pid, 'SIGTERM');
  } catch {}
};
process.on('exit', stop);

async function waitForServer() {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://localhost:${PORT}/bench/index.html`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('preview server did not start');
}

let browser;
try {
  await waitForServer();
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  const page = await browser.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') console.error('[page]', m.text());
  });
  await page.goto(`http://localhost:${PORT}/bench/index.html`);
  page.setDefaultTimeout(0);
  const results = await page.evaluate((o) => window.runBench(o), only);
  const meta = {
    _meta: {
      date: new Date().toISOString(),
      chromium: browser.version(),
      node: process.version,
      suites: only.length ? only : 'all',
    },
  };
  writeFileSync('bench/results.json', `${JSON.stringify({ ...meta, ...results }, null, 2)}\n`);
  const rows = [['key', 'value', 'unit', 'baseline', 'goal', 'note']];
  const fmt = (n) =>
    n === undefined
      ? ''
      : Math.abs(n) >= 100
        ? n.toFixed(0)
        : Math.abs(n) >= 1
          ? n.toFixed(2)
          : n.toPrecision(3);
  for (const [k, r] of Object.entries(results))
    rows.push([k, fmt(r.value), r.unit, fmt(r.baseline), r.goal ?? '', r.note ?? '']);
  const w = rows[0].map((_, i) => Math.max(...rows.slice(0, 6).map((r) => (i === 5 ? 0 : r[i].length))));
  for (const r of rows) console.log(r.map((c, i) => (i === 5 ? c : c.padEnd(w[i]))).join('  '));
  console.log('\nwritten to bench/results.json');
} finally {
  await browser?.close();
  stop();
}
