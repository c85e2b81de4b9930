#!/usr/bin/env node
// The kernel's busy fraction and task lengths from a Chromium trace of the busy phase
// (BUSY_TRACE=file BUSY_TRACE_CATEGORIES=-*,toplevel npm run bench -- busy, or AB_TRACE with
// ab-busy.mjs): node bench/trace-tasks.mjs trace.json [thread name, default "SharedWorker thread"].
// Per thread of that name that ran more than a few tasks: tasks per second; the share of wall time
// inside a task (wall) and the share of it on a CPU (cpu: the thread's own CPU time, so what is
// left of wall is time the thread was runnable or preempted inside a task); task lengths in CPU
// and wall time.
import { readFileSync } from 'node:fs';

const [file, want = 'SharedWorker thread'] = process.argv.slice(2);
const raw = JSON.parse(readFileSync(file, 'utf8'));
const ev = Array.isArray(raw) ? raw : raw.traceEvents;
const names = new Map();
let t0 = Number.POSITIVE_INFINITY;
let t1 = 0;
for (const e of ev) {
  if (e.ph === 'M' && e.name === 'thread_name') names.set(`${e.pid}:${e.tid}`, e.args.name);
  else if (e.ph === 'X' && typeof e.ts === 'number' && e.ts > 0) {
    t0 = Math.min(t0, e.ts);
    t1 = Math.max(t1, e.ts);
  }
}
const span = (t1 - t0) / 1000;
const byThread = new Map();
for (const e of ev) {
  if (e.ph !== 'X' || (e.name !== 'ThreadControllerImpl::RunTask' && e.name !== 'RunTask')) continue;
  const k = `${e.pid}:${e.tid}`;
  if (!names.get(k)?.includes(want)) continue;
  if (!byThread.has(k)) byThread.set(k, []);
  byThread.get(k).push(e);
}
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;
for (const [k, tasks] of byThread) {
  if (tasks.length < 100) continue;
  tasks.sort((a, b) => a.ts - b.ts);
  const top = [];
  let end = -1;
  for (const e of tasks) {
    if (e.ts < end) continue; // nested in the one before
    top.push(e);
    end = e.ts + (e.dur ?? 0);
  }
  const wall = top.map((e) => (e.dur ?? 0) / 1000).sort((a, b) => a - b);
  const cpu = top.map((e) => (e.tdur ?? 0) / 1000).sort((a, b) => a - b);
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const f = (xs) =>
    `p50 ${pct(xs, 50).toFixed(3)} p90 ${pct(xs, 90).toFixed(3)} p99 ${pct(xs, 99).toFixed(2)} p99.9 ${pct(xs, 99.9).toFixed(2)} max ${xs.at(-1).toFixed(1)} ms`;
  console.log(
    `${names.get(k)} ${k}: ${(top.length / (span / 1000)).toFixed(0)} tasks/s over ${(span / 1000).toFixed(1)} s; in a task ${((100 * sum(wall)) / span).toFixed(1)}% of wall time, on a CPU ${((100 * sum(cpu)) / span).toFixed(1)}%`,
  );
  console.log(
    `  task CPU time:  ${f(cpu)}; over 1 ms: ${cpu.filter((x) => x > 1).length}, over 5 ms: ${cpu.filter((x) => x > 5).length}`,
  );
  console.log(
    `  task wall time: ${f(wall)}; over 5 ms: ${wall.filter((x) => x > 5).length}, over 16 ms: ${wall.filter((x) => x > 16).length}`,
  );
}
