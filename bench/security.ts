/**
 * Bus and access-control benchmarks, and the hostile suite under load: the
 * attack programs of e2e/attacks.ts run one after another while this page
 * keeps making syscalls; a canary agent is served throughout.
 */
import { ATTACKS, type AttackReport, CANARY } from '../e2e/attacks';
import { busAllows, holds, mayUseTool, USER_CAPS } from '../src/kernel/access-control';
import type { KernelClient } from '../src/shell/kernel-client';
import type { BenchResults } from './types';

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? 0;
};
const N = 20_000;

const BATCH = 256;
/** Messages kept in flight in single mode (both sides pipeline, neither waits per message). */
const IN_FLIGHT = 64;

const RECEIVER = `export default async function (ctx) {
  let n = 0, calls = 0;
  while (n < ctx.args.n) { const ms = await ctx.bus.recvMany({ max: 1024 }); n += ms.length; calls++; }
  await ctx.print(JSON.stringify({ end: performance.timeOrigin + performance.now(), n, calls }));
}`;
/**
 * mode 'batched': send_many of ${BATCH} at a time. mode 'single': one bus.send syscall per message,
 * ${IN_FLIGHT} in flight (waiting for room when the mailbox is full, never failing).
 */
const SENDER = `export default async function (ctx) {
  const child = await ctx.spawn('receiver', undefined, { source: ctx.args.receiver, args: { n: ctx.args.n } });
  await new Promise((r) => setTimeout(r, 300)); // let it boot
  const msgs = Array.from({ length: ctx.args.n }, (_, i) => ({ i }));
  // A no-op syscall's round trip here, for scale: a sender that awaits each call is bound by it.
  const rtts = [];
  for (let i = 0; i < 200; i++) { const t = performance.now(); await ctx.syscall('getpid'); rtts.push(performance.now() - t); }
  const rtt = rtts.sort((a, b) => a - b)[100];
  const t0 = performance.timeOrigin + performance.now();
  let eagain = 0, calls = 0, sendMs = 0;
  if (ctx.args.mode === 'batched') {
    for (let i = 0; i < msgs.length; ) {
      calls++;
      const ts = performance.now();
      try { i += await ctx.bus.sendMany(child, msgs.slice(i, i + ${BATCH})); sendMs += performance.now() - ts; }
      catch (e) { if (e.code !== 'EAGAIN') throw e; eagain++; await new Promise((r) => setTimeout(r, 0)); }
    }
  } else {
    let next = 0;
    const lane = async () => { while (next < msgs.length) await ctx.bus.send(child, msgs[next++], { wait: true }); };
    await Promise.all(Array.from({ length: ${IN_FLIGHT} }, lane));
  }
  await ctx.wait(child);
  const { end, n, calls: recvCalls } = JSON.parse(await ctx.syscall('output', { pid: child }));
  let lat = [];
  if (ctx.args.mode === 'batched') {
    // Request/reply latency, one at a time.
    const echo = await ctx.spawn('echo', undefined, { source: 'export default async (ctx) => { for (;;) { const m = await ctx.bus.recv(); if (m.body === "stop") return; await ctx.bus.reply(m.correlation, m.body); } }' });
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 500; i++) { const t = performance.now(); await ctx.bus.request(echo, i); lat.push(performance.now() - t); }
    await ctx.bus.send(echo, 'stop');
  }
  await ctx.print(JSON.stringify({ rate: n / ((end - t0) / 1000), lat, eagain, calls, recvCalls, sendMs, totalMs: end - t0, rtt }));
}`;

/**
 * The baseline: small messages between two plain workers over a raw MessagePort, either one
 * message per postMessage (all posted without waiting: the port pipelines) or arrays of `batch`.
 */
async function rawPortRate(n: number, batch: number): Promise<number> {
  const src = (body: string) =>
    new Worker(URL.createObjectURL(new Blob([body], { type: 'text/javascript' })));
  const a = src(
    `onmessage = (e) => { const p = e.data.port; const n = e.data.n, b = e.data.batch; const msgs = Array.from({ length: n }, (_, i) => ({ i })); const t0 = performance.timeOrigin + performance.now(); if (b === 1) for (let i = 0; i < n; i++) p.postMessage(msgs[i]); else for (let i = 0; i < n; i += b) p.postMessage(msgs.slice(i, i + b)); postMessage(t0); };`,
  );
  const b = src(
    `onmessage = (e) => { const p = e.data.port; let k = 0; p.onmessage = (m) => { k += Array.isArray(m.data) ? m.data.length : 1; if (k === e.data.n) postMessage(performance.timeOrigin + performance.now()); }; postMessage('ready'); };`,
  );
  const ch = new MessageChannel();
  const ready = new Promise((r) => (b.onmessage = r));
  b.postMessage({ port: ch.port2, n }, [ch.port2]);
  await ready;
  const end = new Promise<number>((r) => (b.onmessage = (e) => r(e.data as number)));
  const start = new Promise<number>((r) => (a.onmessage = (e) => r(e.data as number)));
  a.postMessage({ port: ch.port1, n, batch }, [ch.port1]);
  const rate = n / (((await end) - (await start)) / 1000);
  a.terminate();
  b.terminate();
  return rate;
}

async function busRate(k: KernelClient, mode: 'batched' | 'single') {
  const pid = await k.spawn(
    'bus bench',
    // The sender pipelines past the default call rate (limits.callsPerSec): the figure is the bus's, not the limiter's.
    { bus: ['family'], limits: { callsPerSec: null } },
    { source: SENDER, args: { n: N, receiver: RECEIVER, mode } },
  );
  const exit = await k.wait(pid, 120_000);
  if (exit.exitCode !== 0) throw new Error(`bus bench failed: ${await k.output(pid)}`);
  return JSON.parse(await k.output(pid)) as {
    rate: number;
    lat: number[];
    eagain: number;
    calls: number;
    sendMs: number;
    totalMs: number;
    rtt: number;
    recvCalls: number;
  };
}

export async function busBench(k: KernelClient): Promise<BenchResults> {
  const batched: number[] = [];
  const single: number[] = [];
  const rawBatched: number[] = [];
  const rawSingle: number[] = [];
  let lat: number[] = [];
  /** Per run: send_many calls, how many were EAGAIN (mailbox full), the receiver's recv_many calls. */
  const shape: { batched: string[]; single: string[] } = { batched: [], single: [] };
  // ?bus=batched or ?bus=single on the bench page runs one mode only (for profiling one path).
  const only = new URLSearchParams(location.search).get('bus');
  // Interleaved, so load on the machine hits both sides of each ratio alike.
  for (let r = 0; r < 3; r++) {
    if (only === 'single') break;
    rawBatched.push(await rawPortRate(N, BATCH));
    const b = await busRate(k, 'batched');
    batched.push(b.rate);
    shape.batched.push(
      `${b.calls} send_many (${b.eagain} EAGAIN; ${b.sendMs.toFixed(0)} of ${b.totalMs.toFixed(0)} ms awaiting accepted ones, ${((1000 * b.sendMs) / (b.calls - b.eagain)).toFixed(0)} µs each; a no-op syscall's round trip p50 ${(1000 * b.rtt).toFixed(0)} µs), ${b.recvCalls} recv_many`,
    );
    lat = lat.concat(b.lat);
  }
  for (let r = 0; r < 3; r++) {
    if (only === 'batched') break;
    rawSingle.push(await rawPortRate(N, 1));
    const s = await busRate(k, 'single');
    single.push(s.rate);
    shape.single.push(
      `${s.recvCalls} recv_many; a no-op syscall's round trip p50 ${(1000 * s.rtt).toFixed(0)} µs`,
    );
  }
  const rate = pct(batched, 50);
  const raw = pct(rawBatched, 50);
  const rateS = pct(single, 50);
  const rawS = pct(rawSingle, 50);
  // The cost of the checks the kernel makes on a call (capability, tool, channel), against an empty loop.
  const caps = { ...USER_CAPS, tools: ['time.now', 'math.evaluate'], bus: ['family', 'topic:news'] };
  const M = 2_000_000;
  let sink = 0;
  let t = performance.now();
  for (let i = 0; i < M; i++) sink += i & 1;
  const empty = (performance.now() - t) / M;
  t = performance.now();
  for (let i = 0; i < M; i++)
    if (holds(caps, 'tools') && mayUseTool(caps, i & 1 ? 'time.now' : 'x') && busAllows(caps, 'topic:news'))
      sink++;
  const check = (performance.now() - t) / M;
  return {
    bus_batched_ratio: {
      value: rate / raw,
      unit: 'x',
      baseline: raw,
      goal: '>= 0.5',
      note: `small messages/s agent→agent through the kernel, send_many of ${BATCH} / recv_many (${N} messages: ${Math.round(rate)}/s) ÷ a raw MessagePort between two workers posting arrays of the same ${BATCH} (baseline, msg/s), median of 3, interleaved. The SDK packs each batch's bodies as one JSON text, the kernel checks it once per batch and forwards it unparsed, the receiver's SDK rebuilds the envelopes. Not like for like in one way: send_many answers how many the mailbox took (back-pressure), so the sender waits one round trip per batch, while the raw sender posts all ${Math.round(N / BATCH)} batches without waiting into an unbounded queue. Runs: ${shape.batched.join('; ')}`,
    },
    bus_single_ratio: {
      value: rateS / rawS,
      unit: 'x',
      baseline: rawS,
      goal: '>= 0.5',
      note: `one bus.send syscall per message, ${IN_FLIGHT} in flight (receiver drains with recv_many) (${N} messages: ${Math.round(rateS)}/s) ÷ a raw MessagePort posting one message per postMessage without waiting (baseline, msg/s), median of 3, interleaved. Each send is its own syscall (own id, checks, limits, answer), but the SDK sends the calls a program makes in one turn of its event loop as one port message, and the kernel answers those it answers at once in one (frame-batch.ts). Runs: ${shape.single.join('; ')}`,
    },
    bus_latency_p50_ms: {
      value: pct(lat, 50),
      unit: 'ms',
      note: 'informative: bus.request → reply round trip between two agents, p50 of 1500',
    },
    acl_check_ns: {
      value: Math.max(0, (check - empty) * 1e6) + (sink < 0 ? 1 : 0),
      unit: 'ns',
      baseline: empty * 1e6,
      note: 'informative: capability + tool + bus-channel check, minus an empty loop (baseline, ns/iteration)',
    },
  };
}

export async function attackBench(k: KernelClient, log: (s: string) => void): Promise<BenchResults> {
  const canary = await k.spawn(
    'canary',
    { bus: ['family', 'name:canary'], models: ['deterministic-fast'] },
    { source: CANARY },
  );
  await new Promise((r) => setTimeout(r, 500));
  const lat: number[] = [];
  let stop = false;
  const sampler = (async () => {
    while (!stop) {
      const t = performance.now();
      await k.call('getpid', {});
      lat.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  // Baseline: the same sampling with only the canary running.
  await new Promise((r) => setTimeout(r, 3000));
  const quiet = [...lat];
  lat.length = 0;
  let blocked = 0;
  const failed: string[] = [];
  // Another origin, as in the e2e suite (nothing listens there: what matters is that nothing tries).
  const exfil = `http://127.0.0.1:9`;
  for (const a of ATTACKS) {
    const pid = await k.spawn('attack', a.permissions, {
      source: a.source.replaceAll('EXFIL', exfil),
      args: { canary },
    });
    const exit = await k.wait(pid, a.waitMs ?? 20_000);
    const out = (await k.output(pid)).trim().split('\n').at(-1) ?? '';
    let report: AttackReport | null = null;
    try {
      report = JSON.parse(out) as AttackReport;
    } catch {
      /* no report */
    }
    const bad =
      (report?.leaks.length ? 'leak' : null) ??
      a.check?.({ exitCode: exit.exitCode, reason: exit.exitReason ?? null, report }) ??
      null;
    if (bad) failed.push(`${a.name}: ${bad}`);
    else blocked++;
    log(`  attack ${a.name}: ${bad ?? 'blocked'}`);
  }
  stop = true;
  await sampler;
  const canaryAlive = (await k.ps()).find((p) => p.pid === canary)?.state;
  await k.kill(canary, 'KILL');
  return {
    attacks_blocked: {
      value: blocked / ATTACKS.length,
      unit: 'fraction',
      goal: '= 1',
      note: `${blocked}/${ATTACKS.length} attack programs of e2e/attacks.ts blocked${failed.length ? ` — NOT blocked: ${failed.join('; ')}` : ''}; canary ${canaryAlive}. The memory bomb runs only in e2e (it takes down its host tab, here the bench page)`,
    },
    syscall_p99_under_attack_ms: {
      value: pct(lat, 99),
      unit: 'ms',
      baseline: pct(quiet, 99),
      goal: '<= 10',
      note: `the page's getpid round trip, p99 of ${lat.length} samples while the attacks ran one after another (baseline: p99 with only the canary running)`,
    },
  };
}

/**
 * A hostile flood: the agent takes the raw port from under the SDK (which would keep all but
 * `callsInFlight` calls waiting on its side) and pipelines `n` no-op frames without awaiting,
 * after a pause so that its start-up is not counted as the flood. Reports what came back.
 */
const RAW_FLOODER = `export default async function (ctx) {
  let port = null;
  const post = MessagePort.prototype.postMessage;
  MessagePort.prototype.postMessage = function (...a) { port = this; return post.apply(this, a); };
  await ctx.syscall('getpid');
  MessagePort.prototype.postMessage = post;
  if (!port) { await ctx.print('{"noPort":1}'); return 1; }
  await new Promise((r) => setTimeout(r, ctx.args.pauseMs));
  const codes = {};
  const sdk = port.onmessage;
  port.onmessage = (ev) => {
    const f = ev.data;
    if (f && f.t === 'ret' && f.id >= 1e9) { const c = f.ok ? 'ok' : f.error.code; codes[c] = (codes[c] || 0) + 1; }
    else sdk(ev);
  };
  for (let i = 0; i < ctx.args.n; i++) port.postMessage({ t: 'call', id: 1e9 + i, name: 'nop', args: {} });
  await new Promise((r) => setTimeout(r, 2000));
  await ctx.print(JSON.stringify(codes));
}`;

/** The same through the SDK: `n` calls without awaiting any; the SDK sends `callsInFlight` at a time, paced below `callsPerSec`. */
const SDK_FLOODER = `export default async function (ctx) {
  await new Promise((r) => setTimeout(r, ctx.args.pauseMs));
  const calls = [];
  for (let i = 0; i < ctx.args.n; i++) calls.push(ctx.syscall('nop').then(() => 'ok', (e) => e.code));
  const codes = {};
  for (const c of await Promise.all(calls)) codes[c] = (codes[c] || 0) + 1;
  await ctx.print(JSON.stringify(codes));
}`;

/**
 * The user's getpid while one agent pipelines 100,000 frames. A raw flood (the SDK bypassed):
 * the kernel refuses frames past the agent's calls in flight (EAGAIN) and ends it when it
 * pipelines far past them; the SDK's own path: the calls go out `callsInFlight` at a time and
 * all succeed. Either way the user must not wait behind it. Samples count from the moment the
 * flooder is running (its spawn is not the flood) until it ends; rounds are pooled.
 */
export async function floodBench(k: KernelClient, log: (s: string) => void): Promise<BenchResults> {
  const lat: number[] = [];
  let stop = false;
  let record = false;
  const sampler = (async () => {
    while (!stop) {
      const t = performance.now();
      await k.call('getpid', {});
      if (record) lat.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  const round = async (source: string) => {
    const pid = await k.spawn('flood', undefined, { source, args: { n: 100_000, pauseMs: 300 } });
    for (let i = 0; i < 500; i++) {
      const s = (await k.ps()).find((p) => p.pid === pid)?.state;
      if (s === 'running' || s === 'waiting' || s === 'exited') break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const from = lat.length;
    record = true;
    const t0 = performance.now();
    const exit = await k.wait(pid, 120_000);
    record = false;
    const out = (await k.output(pid)).trim();
    const mine = lat.slice(from);
    const recs = (await k.call('logs', { pid, kind: 'quota' })) as {
      text: string;
      time?: number;
      t?: number;
    }[];
    for (const r of recs) log(`    ${JSON.stringify(r).slice(0, 300)}`);
    log(
      `  flooder ${pid}: exit ${exit.exitCode} ${exit.exitReason ?? ''} ${out} in ${(performance.now() - t0).toFixed(0)} ms; getpid max ${Math.max(...mine).toFixed(1)} ms of ${mine.length}`,
    );
    return { exit, out };
  };
  await new Promise((r) => setTimeout(r, 1000));
  record = true;
  await new Promise((r) => setTimeout(r, 1000));
  record = false;
  const quiet = lat.splice(0);
  const raw = [];
  for (let i = 0; i < 3; i++) raw.push(await round(RAW_FLOODER));
  const rawLat = lat.splice(0);
  const sdk = await round(SDK_FLOODER);
  const sdkLat = lat.splice(0);
  stop = true;
  await sampler;
  const stopped = raw.filter((r) => r.exit.exitCode === 137).length;
  return {
    syscall_p99_under_flood_ms: {
      value: pct(rawLat, 99),
      unit: 'ms',
      baseline: pct(quiet, 99),
      goal: '<= 10',
      note: `the page's getpid round trip, p99 of ${rawLat.length} samples (max ${Math.max(...rawLat).toFixed(1)}) over 3 agents that each took the raw port from the SDK and pipelined 100,000 no-op frames without awaiting (baseline: p99 before); ${stopped}/3 stopped as floods (${raw[0]?.exit.exitReason ?? ''}; killed before it could print what came back)`,
    },
    syscall_p99_under_sdk_flood_ms: {
      value: pct(sdkLat, 99),
      unit: 'ms',
      baseline: pct(quiet, 99),
      goal: '<= 10',
      note: `the same while an agent made 100,000 ctx.syscall('nop') calls without awaiting: the SDK sends at most callsInFlight (256) at a time, paced below callsPerSec; exit ${sdk.exit.exitCode}, answers ${sdk.out.slice(0, 80)}, p99 of ${sdkLat.length} samples (max ${Math.max(...sdkLat).toFixed(1)})`,
    },
  };
}
