/**
 * The trained model (stories260K) on transformers.js, WASM, one thread: through the
 * kernel (an engine worker of this tab) beside the same driver called in the page, its
 * time to first token on a 200-token prompt, what its KV cache buys, and constrained
 * decoding's validity and cost. Each ratio is measured in this run.
 */
import { type Schema, Validator } from '@cfworker/json-schema';
import type { ChatCompletionChunk, ChatEngine, ChatRequest, ToolSpec, Usage } from '../src/models/engine';
import type { KernelClient } from '../src/shell/kernel-client';
import type { DriverCommand } from './driver-worker';
import type { BenchResults } from './types';

const MODEL = 'stories260K';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Run {
  tokens: number;
  /** Decode speed seen by the caller: tokens after the first ÷ time from the first to the last. */
  decode: number;
  ttftMs: number;
  usage: Usage | null;
}

async function timed(it: AsyncIterable<ChatCompletionChunk>): Promise<Run> {
  const t0 = performance.now();
  let first = 0;
  let last = 0;
  let n = 0;
  let usage: Usage | null = null;
  for await (const c of it) {
    if (c.usage) usage = c.usage;
    if (!c.choices[0]?.delta.content) continue;
    n++;
    last = performance.now();
    first ||= last;
  }
  const tokens = usage?.completion_tokens ?? n;
  return {
    tokens,
    decode: (tokens - 1) / Math.max(1e-6, (last - first) / 1000),
    ttftMs: first - t0,
    usage,
  };
}

/** The last chunk (with usage) of a kernel stream; k.chat returns usage as its result, chunks as values. */
async function* viaKernel(k: KernelClient, req: ChatRequest): AsyncGenerator<ChatCompletionChunk> {
  const it = k.chat({ model: MODEL, ...req });
  for (;;) {
    const n = await it.next();
    if (n.done) {
      if (n.value)
        yield {
          id: '',
          object: 'chat.completion.chunk',
          created: 0,
          model: MODEL,
          choices: [],
          usage: n.value,
        };
      return;
    }
    yield n.value;
  }
}

/** The driver in a dedicated worker of this page, as a ChatEngine-like stream. */
async function workerDriver(kvCache: boolean): Promise<Pick<ChatEngine, 'stream'> & { close(): void }> {
  const w = new Worker(new URL('./driver-worker.ts', import.meta.url), { type: 'module' });
  await new Promise<void>((resolve, reject) => {
    w.onmessage = (ev) => (ev.data.t === 'ready' ? resolve() : reject(new Error(ev.data.error)));
    w.postMessage({ t: 'load', model: MODEL, kvCache } satisfies DriverCommand);
  });
  let seq = 0;
  return {
    close: () => w.terminate(),
    async *stream(req) {
      const id = ++seq;
      const queue: ChatCompletionChunk[] = [];
      let done = false;
      let error: string | null = null;
      let wake = () => {};
      w.onmessage = (ev) => {
        const m = ev.data as { t: string; id?: number; chunk?: ChatCompletionChunk; error?: string };
        if (m.t === 'chunk' && m.id === id) queue.push(m.chunk!);
        else if (m.t === 'end' && m.id === id) done = true;
        else if (m.t === 'error') error = m.error ?? 'failed';
        wake();
      };
      w.postMessage({ t: 'stream', id, req } satisfies DriverCommand);
      for (;;) {
        while (queue.length) yield queue.shift()!;
        if (error) throw new Error(error);
        if (done) return;
        await new Promise<void>((r) => (wake = r));
      }
    },
  };
}

export async function realModel(k: KernelClient): Promise<BenchResults> {
  const { createTransformersEngine } = await import('../src/models/engines/transformers');
  // Only its tokenizer is used here (to size the prompt).
  const counter: ChatEngine = await createTransformersEngine({ model: MODEL });
  const direct = await workerDriver(true);
  const noCache = await workerDriver(false);
  const story = {
    messages: [{ role: 'user' as const, content: 'Once upon a time' }],
    temperature: 0,
    max_tokens: 200,
  };

  // Decode through the kernel ÷ the same driver in the page.
  await timed(direct.stream(story));
  await timed(viaKernel(k, story));
  const kernel: number[] = [];
  const page: number[] = [];
  // Interleaved pairs, so a busy moment of the machine hits both sides alike.
  for (let i = 0; i < 7; i++) {
    page.push((await timed(direct.stream(story))).decode);
    kernel.push((await timed(viaKernel(k, story))).decode);
  }

  // Time to first token for a 200-token prompt (the model's own tokenizer counts it, <s> included).
  const words = 'Tom and Lily went to the park. They saw a big dog and a little cat. ';
  let text = words.repeat(20);
  while (counter.countTokens(text) + 1 > 200) text = text.slice(0, -1);
  const promptTokens = counter.countTokens(text) + 1;
  const long = { messages: [{ role: 'user' as const, content: text }], temperature: 0, max_tokens: 8 };
  await timed(viaKernel(k, long));
  const ttft: number[] = [];
  for (let i = 0; i < 5; i++) ttft.push((await timed(viaKernel(k, long))).ttftMs);

  // KV cache ÷ none, 300 generated tokens, the same driver in the page.
  const three = { ...story, max_tokens: 300 };
  const withKv: number[] = [];
  const without: number[] = [];
  for (let i = 0; i < 3; i++) {
    withKv.push((await timed(direct.stream(three))).decode);
    without.push((await timed(noCache.stream(three))).decode);
  }

  // Constrained decoding through the kernel: 100 tool calls, each checked against its tool's schema.
  const tool: ToolSpec = {
    type: 'function',
    function: {
      name: 'pet.adopt',
      description: 'adopt a pet',
      parameters: {
        type: 'object',
        properties: {
          kind: { type: 'string', enum: ['cat', 'dog', 'bird'] },
          age: { type: 'integer' },
          name: { type: 'string' },
        },
        required: ['kind', 'age', 'name'],
        additionalProperties: false,
      },
    },
  };
  const validate = new Validator(tool.function.parameters as Schema);
  const tasks = ['Lily wanted a pet.', 'Once upon a time', 'Tom saw a dog.', 'What is 2 + 3?'];
  let valid = 0;
  const attempts = 100;
  for (let i = 0; i < attempts; i++) {
    let args: string[] = [];
    let finish: string | null = null;
    try {
      for await (const c of viaKernel(k, {
        messages: [{ role: 'user', content: tasks[i % tasks.length]! }],
        tools: [tool],
        tool_choice: 'required',
        temperature: i % 2 ? 0.8 : 0,
        max_tokens: 96,
      })) {
        const ch = c.choices[0];
        if (ch?.delta.tool_calls) args = args.concat(ch.delta.tool_calls.map((t) => t.function.arguments));
        finish = ch?.finish_reason ?? finish;
      }
      if (finish === 'tool_calls' && args.length && args.every((a) => validate.validate(JSON.parse(a)).valid))
        valid++;
    } catch {
      /* counted as invalid */
    }
  }

  // Constrained ÷ free decode speed on the same driver (a worker of the page), 7 interleaved pairs: tokens
  // after the first ÷ the time they took, as the caller sees them (grammar work included).
  const schema = { type: 'object', properties: { story: { type: 'string' } }, required: ['story'] };
  const constrained: number[] = [];
  const free: number[] = [];
  for (let i = 0; i < 7; i++) {
    const c = await timed(
      direct.stream({ ...story, response_format: { type: 'json_schema', json_schema: { schema } } }),
    );
    const f = await timed(direct.stream(story));
    constrained.push(c.decode);
    free.push(f.decode);
  }
  await counter.dispose?.();
  direct.close();
  noCache.close();

  return {
    real_model_decode_tok_s: {
      value: median(kernel),
      unit: 'tok/s',
      note: 'stories260K (trained, 5 layers, d=64) on onnxruntime-web WASM, 1 thread, greedy, 200 tokens, through the kernel to an engine worker of the tab; median of 7',
    },
    real_model_kernel_ratio: {
      value: median(kernel) / median(page),
      unit: 'x',
      baseline: median(page),
      goal: '>= 0.95',
      note: 'decode tok/s through the kernel ÷ the same driver in a dedicated worker of the page, no kernel between (baseline, tok/s); 7 interleaved pairs, medians',
    },
    real_model_ttft_ms: {
      value: median(ttft),
      unit: 'ms',
      note: `time to the first token through the kernel for a ${promptTokens}-token prompt, median of 5`,
    },
    real_model_kv_speedup: {
      value: median(withKv) / median(without),
      unit: 'x',
      baseline: median(without),
      goal: '> 1',
      note: 'decode tok/s with the KV cache ÷ re-running the whole sequence every step (baseline, tok/s), 300 generated tokens, the driver in a worker of the page, median of 3',
    },
    constrained_valid_rate: {
      value: valid / attempts,
      unit: 'ratio',
      goal: '= 1',
      note: `schema-valid tool calls ÷ ${attempts} attempts on stories260K (tool_choice required, greedy and sampled, max_tokens 96), through the kernel, the prompted tools and XGrammar`,
    },
    constrained_overhead_ratio: {
      value: median(constrained) / median(free),
      unit: 'x',
      baseline: median(free),
      goal: '>= 0.8',
      note: 'decode tok/s under a JSON schema ({story: string}, 200 tokens) ÷ without (baseline, tok/s), stories260K, the driver in a worker of the page, 7 interleaved pairs, medians',
    },
  };
}
