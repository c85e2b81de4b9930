#!/usr/bin/env node
// A/B of the busy suite on two prebuilt bundles (AGENTOS_BENCH=1 vite build --outDir X), alternated
// in one session so both sides meet the same machine load: node bench/ab-busy.mjs DIR_A DIR_B [rounds].
// Each round serves A then B (or B then A, alternating) on BENCH_PORT, a fresh browser each.
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../e2e/chromium.mjs';
import { busyBench } from './busy.mjs';
import { serveBench } from './serve.mjs';

const [A, B, roundsArg] = process.argv.slice(2);
const rounds = Number(roundsArg ?? 3);
const PORT = Number(process.env.BENCH_PORT ?? 4213);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function one(dir) {
  const stop = await serveBench(dir, PORT, '/');
  try {
    // AB_TRACE=dir: a trace of each busy phase (toplevel tasks of every thread), for the kernel's busy fraction.
    if (process.env.AB_TRACE) {
      process.env.BUSY_TRACE = `${process.env.AB_TRACE}/${dir.replace(/\W/g, '_')}-${Date.now()}.json`;
      process.env.BUSY_TRACE_CATEGORIES = '-*,toplevel';
    }
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    try {
      const r = await busyBench(browser, `http://localhost:${PORT}`, (m) => console.error(m.slice(0, 400)));
      return Object.fromEntries(
        Object.entries(r).map(([k, v]) => [k, { value: v.value, baseline: v.baseline, note: v.note }]),
      );
    } finally {
      await browser.close();
    }
  } finally {
    stop();
    await sleep(500);
  }
}

const out = { [A]: [], [B]: [] };
for (let i = 0; i < rounds; i++) {
  for (const dir of i % 2 ? [B, A] : [A, B]) {
    const r = await one(dir);
    out[dir].push(r);
    const s = r.user_syscall_p99_ratio_200;
    const busyMs = /busy ([\d.]+) ms/.exec(s.note)?.[1];
    const rate = /\((\d+) tok\/s in all/.exec(s.note)?.[1];
    const alive = /(\d+) agents alive/.exec(s.note)?.[1];
    console.log(
      `round ${i} ${dir} (${alive} agents, ${rate} tok/s): syscall ratio ${s.value.toFixed(2)} (busy ${busyMs} ms / idle ${s.baseline.toFixed(2)} ms); frame ${r.desktop_frame_p95_ratio_200.value.toFixed(2)}; input ${r.input_latency_p95_ratio_200.value.toFixed(2)}`,
    );
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const dir of [A, B]) {
  const rs = out[dir];
  const f = (k) => rs.map((r) => r[k].value);
  console.log(
    `${dir}: median syscall ${med(f('user_syscall_p99_ratio_200')).toFixed(2)} [${f(
      'user_syscall_p99_ratio_200',
    )
      .map((x) => x.toFixed(1))
      .join(
        ', ',
      )}], frame ${med(f('desktop_frame_p95_ratio_200')).toFixed(2)}, input ${med(f('input_latency_p95_ratio_200')).toFixed(2)}`,
  );
}
