/**
 * Model-pool benchmarks: what the kernel costs a token stream, and what the
 * priority scheduler buys urgent agents (and costs everyone) against fifo.
 */
import { DeterministicEngine } from '../src/models/engines/deterministic';
import type { KernelClient } from '../src/shell/kernel-client';
import type { BenchResults } from './types';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const median = (xs: number[]) => pct(xs, 50);
const say = (n: number) => `say ${Array.from({ length: n }, (_, i) => `w${i}`).join(' ')}`;

export async function streamOverhead(k: KernelClient): Promise<BenchResults> {
  const SPEED = 5000;
  const task = say(1000); // 1999 tokens
  const messages = [{ role: 'user' as const, content: task }];
  await k.call('models.load', {
    id: 'bench-stream',
    engine: 'deterministic',
    options: { decodeTokensPerSecond: SPEED, prefillTokensPerSecond: 1e9 },
  });
  await k.call('models.load', { id: 'bench-stream-max', engine: 'deterministic', options: {} });
  const direct = new DeterministicEngine({ decodeTokensPerSecond: SPEED, prefillTokensPerSecond: 1e9 });
  const rate = async (it: AsyncIterable<unknown>) => {
    const t0 = performance.now();
    let n = 0;
    for await (const _ of it) n++;
    return (n - 1) / ((performance.now() - t0) / 1000);
  };
  const kernel: number[] = [];
  const raw: number[] = [];
  for (let i = 0; i < 5; i++) {
    raw.push(await rate(direct.stream({ messages })));
    kernel.push(await rate(k.chat({ model: 'bench-stream', messages })));
  }
  const unpaced = await rate(k.chat({ model: 'bench-stream-max', messages }));
  return {
    stream_overhead_ratio: {
      value: median(kernel) / median(raw),
      unit: 'x',
      baseline: median(raw),
      goal: '>= 0.98',
      note: `tokens/s received through the kernel (tab ⇄ SharedWorker) ÷ the same deterministic engine called directly in the page (baseline, tok/s), ${SPEED} tok/s, 1999 tokens, median of 5`,
    },
    stream_max_tok_s: {
      value: unpaced,
      unit: 'tok/s',
      note: 'informative: an unpaced engine streamed through the kernel, one message per token',
    },
  };
}

/** Each agent measures its own time to first token and its token count; times are absolute (timeOrigin-based). */
const TTFT_AGENT = `export default async function (ctx) {
  const now = () => performance.timeOrigin + performance.now();
  const t0 = now();
  let first = 0, n = 0;
  const stream = await ctx.llm.chat.completions.create({ model: ctx.args.model, messages: [{ role: 'user', content: ctx.task }], stream: true });
  for await (const c of stream) if (c.choices[0]?.delta.content) { if (!first) first = now(); n++; }
  await ctx.print(JSON.stringify({ t0, first, end: now(), n }));
}`;

interface AgentRun {
  t0: number;
  first: number;
  end: number;
  n: number;
}

async function schedRound(k: KernelClient, policy: string, round: number) {
  const model = `bench-sched-${policy}-${round}`;
  await k.call('sched.policy', { policy });
  await k.call('models.load', {
    id: model,
    engine: 'deterministic',
    options: { decodeTokensPerSecond: 400, prefillTokensPerSecond: 8000 },
  });
  const args = { model };
  const background: number[] = [];
  const urgent: number[] = [];
  // 10 long background generations queue up; 6 short urgent requests arrive while they run.
  for (let i = 0; i < 10; i++)
    background.push(await k.spawn(say(120), undefined, { source: TTFT_AGENT, priority: 10, args }));
  await sleep(300);
  for (let i = 0; i < 6; i++) {
    urgent.push(await k.spawn(say(20), undefined, { source: TTFT_AGENT, priority: -10, args }));
    await sleep(250);
  }
  const all = [...background, ...urgent];
  await Promise.all(all.map((p) => k.wait(p, 120_000)));
  const runs = new Map<number, AgentRun>();
  for (const p of all) runs.set(p, JSON.parse(await k.output(p)) as AgentRun);
  const ttft = urgent.map((p) => runs.get(p)!.first - runs.get(p)!.t0);
  const rs = [...runs.values()];
  const tokens = rs.reduce((n, r) => n + r.n, 0);
  const span = (Math.max(...rs.map((r) => r.end)) - Math.min(...rs.map((r) => r.t0))) / 1000;
  return { ttft, tokPerS: tokens / span };
}

export async function schedulerPolicies(k: KernelClient): Promise<BenchResults> {
  const res: Record<string, { ttft: number[]; tput: number[] }> = {
    fifo: { ttft: [], tput: [] },
    priority: { ttft: [], tput: [] },
  };
  for (let round = 0; round < 2; round++) {
    for (const policy of ['fifo', 'priority'] as const) {
      const r = await schedRound(k, policy, round);
      res[policy]!.ttft.push(...r.ttft);
      res[policy]!.tput.push(r.tokPerS);
    }
  }
  await k.call('sched.policy', { policy: 'priority' });
  const p95 = (xs: number[]) => pct(xs, 95);
  const fifoP95 = p95(res.fifo!.ttft);
  const prioP95 = p95(res.priority!.ttft);
  const fifoT = median(res.fifo!.tput);
  const prioT = median(res.priority!.tput);
  return {
    sched_hi_ttft_p95_ratio: {
      value: prioP95 / fifoP95,
      unit: 'x',
      baseline: fifoP95,
      goal: '<= 0.33',
      note: `p95 time-to-first-token of urgent agents under priority ${prioP95.toFixed(0)} ms ÷ fifo (baseline, ms); 16 agents per round (10 long at nice 10, 6 short at nice -10 arriving while they run), 400 tok/s decode, 2 rounds`,
    },
    sched_throughput_ratio: {
      value: prioT / fifoT,
      unit: 'x',
      baseline: fifoT,
      goal: '>= 0.95',
      note: `total tokens/s under priority ${prioT.toFixed(0)} ÷ fifo (baseline, tok/s); preemption re-prefills the preempted generation at 8000 tok/s`,
    },
  };
}

/**
 * The project's tiny model on transformers.js (WASM, one thread) through the kernel
 * (an engine worker of this tab), beside the same driver called directly in the page.
 */
export async function tinyModel(k: KernelClient): Promise<BenchResults> {
  const req = {
    messages: [{ role: 'user' as const, content: 'Write about the kernel.' }],
    temperature: 0,
    max_tokens: 200,
  };
  const rate = async (it: AsyncIterable<{ usage?: { completion_tokens: number } }>) => {
    const t0 = performance.now();
    let n = 0;
    for await (const c of it) if (c.usage) n = c.usage.completion_tokens;
    return n / ((performance.now() - t0) / 1000);
  };
  const { createTransformersEngine } = await import('../src/models/engines/transformers');
  const direct = await createTransformersEngine({ model: 'agentos-tiny' });
  await rate(direct.stream(req)); // warm up both
  await rate(
    k.chat({ model: 'agentos-tiny', ...req }) as AsyncIterable<{ usage?: { completion_tokens: number } }>,
  );
  const viaKernel: number[] = [];
  const raw: number[] = [];
  for (let i = 0; i < 5; i++) {
    raw.push(await rate(direct.stream(req)));
    viaKernel.push(
      await rate(
        k.chat({ model: 'agentos-tiny', ...req }) as AsyncIterable<{ usage?: { completion_tokens: number } }>,
      ),
    );
  }
  await direct.dispose?.();
  return {
    tiny_model_tok_s: {
      value: median(viaKernel),
      unit: 'tok/s',
      baseline: median(raw),
      note: 'informative: agentos-tiny (1 layer, d=32, no KV cache) on onnxruntime-web WASM, 1 thread, 200 tokens, through the kernel to an engine worker; baseline: the same driver on the page’s thread, median of 5',
    },
  };
}
