/**
 * The transformers.js chat driver: text generation on WASM (or WebGPU) for
 * small models and devices without a good GPU. On CPU it runs in an engine
 * worker of a host tab (engine.worker.ts), never in the kernel: generation
 * blocks its thread between tokens, and a SharedWorker cannot start the
 * Workers multi-threaded WASM needs.
 *
 * Decoding uses the model's KV cache (each step feeds one token). Output can be
 * constrained to a JSON schema (`response_format`): XGrammar masks the logits at
 * every step (grammar/constrained.ts), so the pool's prompted tools
 * (tool-calling.ts), which ask for such a schema, give valid tool calls on any
 * model. There is no KV reuse across calls.
 */

import { SysError } from '../../abi/errors';
import {
  type ChatCompletionChunk,
  type ChatEngine,
  type ChatRequest,
  chunkMaker,
  type FinishReason,
  type ModelInfo,
  type UsageExtra,
} from '../engine';
import { type Constraint, GrammarCompiler, grammarOf, vocabInfo } from '../grammar/constrained';

export interface TransformersChatOptions {
  /** A folder under `localModelPath` (e.g. 'agentos-tiny'), or a Hugging Face id when remote is allowed. */
  model: string;
  /** The pool's id for it (default: the model name). */
  id?: string;
  /** Default: 'wasm' in a browser, 'cpu' (onnxruntime-node) in Node. */
  device?: 'wasm' | 'webgpu' | 'cpu';
  dtype?: 'fp32' | 'fp16' | 'q8' | 'q4';
  allowRemote?: boolean;
  /** Where local models live: '/models/' on this origin in the browser, a folder in Node. */
  localModelPath?: string;
  /** A model server laid out like the Hugging Face hub (`<host><model>/resolve/main/<file>`), instead of the hub. */
  remoteHost?: string;
  /** Answers with no max_tokens stop here (default 256), as well as at the context window. */
  defaultMaxTokens?: number;
  /**
   * False re-runs the whole sequence at every step instead of using the KV cache: only
   * the benchmark's baseline (real_model_kv_speedup) wants that.
   */
  kvCache?: boolean;
  onProgress?: (p: { model: string; loaded: number; total: number; text?: string }) => void;
}

/** The slice of transformers.js this driver uses, so tests can see what it relies on. */
interface Tokenizer {
  (text: string, o?: { add_special_tokens?: boolean }): { input_ids: { dims: number[] } };
  encode(text: string, o?: { add_special_tokens?: boolean }): number[];
  apply_chat_template(
    messages: Array<{ role: string; content: string }>,
    o: { tokenize: false; add_generation_prompt: true },
  ): string;
  decode(ids: bigint[], o: { skip_special_tokens: boolean }): string;
  all_special_ids: number[];
  model_max_length?: number;
  eos_token_id?: number;
  get_vocab(): Map<string, number>;
  /** transformers.js keeps the parsed tokenizer.json here (read for XGrammar's vocabulary type). */
  _tokenizerJSON?: Parameters<typeof import('../grammar/constrained').vocabInfo>[0];
}
/** What a forward pass takes: token ids ([1, n]) and, when decoding with the cache, past_key_values. */
interface ForwardInputs {
  input_ids: { dims: number[] };
  past_key_values?: unknown;
  [k: string]: unknown;
}
interface CausalLM {
  generate(o: Record<string, unknown>): Promise<unknown>;
  forward(inputs: ForwardInputs): Promise<unknown>;
  config: {
    max_position_embeddings?: number;
    n_positions?: number;
    n_ctx?: number;
    vocab_size?: number;
    eos_token_id?: number | number[];
  };
  dispose(): Promise<unknown>;
}
/** One row of logits, as transformers.js hands them to a logits processor. */
interface Logits {
  data: Float32Array;
}
interface StoppingCriteria {
  interrupt(): void;
}

/** Lets queued messages (an abort) run: a MessageChannel hop, far cheaper than a clamped setTimeout. */
function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      resolve();
    };
    ch.port2.postMessage(null);
  });
}

/** How many characters at the end of `s` could begin one of the stop sequences. */
function heldBack(s: string, stops: string[]): number {
  let keep = 0;
  for (const x of stops)
    for (let n = Math.min(x.length - 1, s.length); n > keep; n--)
      if (s.endsWith(x.slice(0, n))) {
        keep = n;
        break;
      }
  return keep;
}

/** The logits of the last position of a forward pass's output ([1, n, vocab]), for the next token. */
function lastRow(out: unknown): Float32Array | undefined {
  const l = (out as { logits?: { dims: number[]; data: unknown } }).logits;
  if (!l || !(l.data instanceof Float32Array)) return undefined;
  const v = l.dims.at(-1) ?? 0;
  return l.data.subarray(l.data.length - v);
}

/** A missing local model is ENOENT, not a parse error: static hosts may answer any path with index.html. */
async function mustExist(model: string, localModelPath: string): Promise<void> {
  const url = new URL(`${model}/config.json`, new URL(localModelPath, self.location.href)).href;
  const res = await fetch(url).catch((e: unknown) => {
    throw new SysError('EIO', `fetching ${url}: ${(e as Error).message ?? e}`);
  });
  const body = res.ok ? await res.text() : '';
  let config: unknown = null;
  try {
    config = JSON.parse(body);
  } catch {
    /* not JSON: not a model */
  }
  if (!config || typeof config !== 'object')
    throw new SysError('ENOENT', `no model "${model}" under ${localModelPath} (${url}: HTTP ${res.status})`);
}

export async function createTransformersEngine(o: TransformersChatOptions): Promise<ChatEngine> {
  const tf = await import('@huggingface/transformers');
  const g = globalThis as { document?: unknown; WorkerGlobalScope?: unknown };
  const inBrowser = g.WorkerGlobalScope !== undefined || g.document !== undefined;
  const device = o.device ?? (inBrowser ? 'wasm' : 'cpu');
  if (inBrowser) {
    const { configureTransformers } = await import('./transformers-env');
    configureTransformers(tf.env, {
      allowRemote: o.allowRemote ?? false,
      localModelPath: o.localModelPath ?? '/models/',
    });
    if (o.remoteHost) tf.env.remoteHost = o.remoteHost;
  } else {
    tf.env.allowRemoteModels = o.allowRemote ?? false;
    tf.env.allowLocalModels = true;
    if (o.localModelPath) tf.env.localModelPath = o.localModelPath;
  }
  const progress_callback = (p: { status?: string; file?: string; loaded?: number; total?: number }) => {
    if (p.status === 'progress' && p.file)
      o.onProgress?.({ model: o.id ?? o.model, loaded: p.loaded ?? 0, total: p.total ?? 0, text: p.file });
  };
  if (inBrowser && !(o.allowRemote ?? false)) await mustExist(o.model, o.localModelPath ?? '/models/');
  // A remote model is fetched by transformers.js, never from this origin's fallback page.
  if (o.allowRemote) tf.env.allowLocalModels = false;
  let tokenizer: Tokenizer;
  let model: CausalLM;
  try {
    tokenizer = (await tf.AutoTokenizer.from_pretrained(o.model, {
      progress_callback,
    })) as unknown as Tokenizer;
    model = (await tf.AutoModelForCausalLM.from_pretrained(o.model, {
      device,
      dtype: o.dtype ?? 'fp32',
      progress_callback,
    })) as unknown as CausalLM;
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    // A static host answers a missing file with 404, or (single-page fallbacks) with HTML.
    // (Without a local tokenizer_config.json, transformers.js fails reading its tokenizer_class.)
    const missing = /not found|404|Could not locate|'tokenizer_class'/i.test(msg);
    throw new SysError(missing ? 'ENOENT' : 'EIO', `loading ${o.model} with transformers.js: ${msg}`);
  }
  // What the current generation's forward passes did (one generation runs at a time).
  let pass: {
    forwards: number;
    tokens: number;
    constraint: Constraint | null;
    /** Without the KV cache: every id so far, fed whole at each step. */
    all: bigint[] | null;
  } | null = null;
  const forward = model.forward.bind(model);
  model.forward = async (inputs) => {
    // onnxruntime-web's WASM session runs inside microtasks: without a yield between tokens, the worker
    // would read no message (an abort included) until the whole answer is done.
    if (inBrowser) await yieldToEvents();
    const p = pass;
    let feed = inputs;
    if (p?.all) {
      // The no-cache baseline: the whole sequence again, with no past.
      const ids = p.all;
      const n = ids.length;
      feed = {
        input_ids: new tf.Tensor('int64', BigInt64Array.from(ids), [1, n]),
        attention_mask: new tf.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
      } as unknown as ForwardInputs;
    }
    if (p) {
      p.forwards++;
      p.tokens += feed.input_ids.dims.at(-1) ?? 0;
    }
    const out = await forward(feed);
    // The grammar's mask for the next token is computed here, between passes, because XGrammar's
    // call is async and transformers.js's logits processors are not.
    if (p?.constraint) await p.constraint.prepare(lastRow(out));
    return out;
  };
  const cfg = model.config;
  const contextWindow =
    cfg.max_position_embeddings ?? cfg.n_positions ?? cfg.n_ctx ?? tokenizer.model_max_length ?? 2048;
  const special = new Set(tokenizer.all_special_ids.map((x) => BigInt(x)));
  // Only these end an answer; other special tokens (llama2.c's models write <s> between stories) are skipped.
  const eosIds = [tokenizer.eos_token_id, cfg.eos_token_id].flat().filter((x) => typeof x === 'number');
  const eos = new Set(eosIds.map((x) => BigInt(x)));
  const id = o.id ?? o.model;
  const info: ModelInfo = {
    id,
    engine: 'transformers',
    contextWindow,
    sizeBytes: 0,
    // Tools come from the pool's prompted tools (tool-calling.ts), made valid by constrained decoding.
    supportsTools: false,
    supportsContinuation: true,
    contextCapacity: contextWindow,
    location: 'local',
    label: `transformers.js (${device})`,
  };
  const countTokens = (text: string) => tokenizer.encode(text, { add_special_tokens: false }).length;
  let seq = 0;
  let busy: Promise<void> = Promise.resolve();
  let grammars: Promise<GrammarCompiler> | null = null;
  const grammarCompiler = () => {
    // XGrammar's WASM (1 MB) is loaded on the first constrained request only (loadXGrammar).
    grammars ??= GrammarCompiler.create(
      vocabInfo(tokenizer._tokenizerJSON, tokenizer.get_vocab(), cfg.vocab_size ?? 0, [...new Set(eosIds)]),
    );
    grammars.catch(() => {
      grammars = null;
    });
    return grammars;
  };

  async function* stream(req: ChatRequest, signal?: AbortSignal): AsyncGenerator<ChatCompletionChunk> {
    // One generation at a time: the session is not re-entrant, and the kernel's scheduler orders the work.
    const prev = busy;
    let release = () => {};
    busy = new Promise<void>((r) => (release = r));
    await prev;
    try {
      yield* generate(req, signal);
    } finally {
      release();
    }
  }

  async function* generate(req: ChatRequest, signal?: AbortSignal): AsyncGenerator<ChatCompletionChunk> {
    const chunk = chunkMaker(`tfjs-${++seq}`, id);
    const messages = req.messages.map((m) => ({
      role: m.role,
      content: m.content ?? (m.tool_calls?.length ? JSON.stringify(m.tool_calls.map((c) => c.function)) : ''),
    }));
    const cont = req.continuation ?? '';
    const prompt =
      tokenizer.apply_chat_template(messages, { tokenize: false, add_generation_prompt: true }) + cont;
    const inputs = tokenizer(prompt, { add_special_tokens: false }) as unknown as Record<string, unknown> & {
      input_ids: { dims: number[] };
    };
    const promptTokens = inputs.input_ids.dims.at(-1) ?? 0;
    if (promptTokens >= contextWindow)
      throw new SysError(
        'EINVAL',
        `the prompt has ${promptTokens} tokens; ${id} holds ${contextWindow} in all`,
      );
    const room = contextWindow - promptTokens;
    const wanted = req.max_tokens ?? o.defaultMaxTokens ?? 256;
    const maxNew = Math.min(wanted, room);
    const t0 = performance.now();

    const grammar = grammarOf(req);
    let constraint: Constraint | null = null;
    let grammarInit = 0;
    if (grammar) {
      constraint = await (await grammarCompiler()).start(grammar, maxNew);
      grammarInit = (performance.now() - t0) / 1000;
      // A resumed answer: the grammar follows what was already written.
      if (cont) {
        const before = tokenizer.encode(prompt.slice(0, prompt.length - cont.length), {
          add_special_tokens: false,
        });
        const all = tokenizer.encode(prompt, { add_special_tokens: false });
        const same = before.every((t, i) => all[i] === t);
        const tail = same ? all.slice(before.length) : tokenizer.encode(cont, { add_special_tokens: false });
        if (!tail.every((t) => constraint!.accept(t))) {
          constraint.dispose();
          throw new SysError('EINVAL', 'the text to continue does not follow the requested JSON schema');
        }
      }
    }
    const promptIds = Array.from((inputs.input_ids as unknown as { data: BigInt64Array }).data);
    pass = { forwards: 0, tokens: 0, constraint, all: o.kvCache === false ? promptIds : null };
    const current = pass;
    let firstAt = 0;
    let lastAt = 0;

    const queue: string[] = [];
    let wake: (() => void) | null = null;
    let finished = false;
    let failure: unknown = null;
    let generated = 0;
    let sawEos = false;
    let grammarBroken = false;
    let grammarDone = true;
    let closedEarly = false;
    // Token by token (TextStreamer would hold text back until a space): decode what came so far and
    // send the new part, unless it ends inside a multi-byte character.
    const ids: bigint[] = [];
    let printed = 0;
    let isPrompt = true;
    const emit = (final: boolean) => {
      const text = tokenizer.decode(ids, { skip_special_tokens: true });
      if (!final && text.endsWith('\uFFFD')) return;
      if (text.length > printed) queue.push(text.slice(printed));
      printed = text.length;
      wake?.();
    };
    const streamer = {
      put(value: bigint[][]) {
        if (isPrompt) {
          isPrompt = false;
          return;
        }
        const now = performance.now();
        firstAt ||= now;
        lastAt = now;
        for (const t of value[0] ?? []) {
          current.all?.push(t);
          if (constraint && !constraint.accept(Number(t)) && !constraint.terminated) grammarBroken = true;
          if (eos.has(t)) sawEos = true;
          else if (special.has(t))
            generated++; // produced (and paid for), but not text
          else {
            generated++;
            ids.push(t);
          }
        }
        emit(false);
      },
      end() {
        emit(true);
      },
    };
    const stopper = new tf.InterruptableStoppingCriteria() as unknown as StoppingCriteria;
    const onAbort = () => stopper.interrupt();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) stopper.interrupt();
    const sampling = (req.temperature ?? 0) > 0;
    const run = model
      .generate({
        ...inputs,
        max_new_tokens: maxNew,
        do_sample: sampling,
        ...(sampling ? { temperature: req.temperature } : {}),
        streamer,
        stopping_criteria: stopper,
        ...(constraint
          ? {
              logits_processor: [
                (_ids: bigint[][], logits: Logits) => {
                  constraint.apply(logits.data);
                  return logits;
                },
              ],
            }
          : {}),
      })
      .then(
        () => {
          finished = true;
          wake?.();
        },
        (e: unknown) => {
          failure = e;
          finished = true;
          wake?.();
        },
      );

    let first = !cont;
    let text = ''; // sent to the caller
    let held = ''; // could be the start of a stop sequence: held back until it is not
    const stops = req.stop?.filter((x) => x.length > 0) ?? [];
    let stopped = false;
    const send = (piece: string) => {
      text += piece;
      const c = chunk(first ? { role: 'assistant', content: piece } : { content: piece }, null);
      first = false;
      return c;
    };
    try {
      while (!stopped) {
        if (!queue.length && !finished) await new Promise<void>((r) => (wake = r));
        wake = null;
        if (queue.length) {
          held += queue.splice(0).join('');
          // A stop sequence ends the answer where it starts, as OpenAI's API does.
          const at = Math.min(...stops.map((x) => held.indexOf(x)).filter((i) => i >= 0), Infinity);
          if (at !== Infinity) {
            stopped = true;
            stopper.interrupt();
            if (at > 0) yield send(held.slice(0, at));
            held = '';
            break;
          }
          const keep = finished ? 0 : heldBack(held, stops);
          if (held.length > keep) yield send(held.slice(0, held.length - keep));
          held = held.slice(held.length - keep);
        }
        if (finished && !queue.length) break;
      }
      if (held && !stopped) yield send(held);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // The consumer left early or a stop sequence came: stop the model; the next request waits for it.
      stopper.interrupt();
      await run;
      pass = null;
      grammarDone = constraint?.terminated ?? true;
      closedEarly = constraint?.closedEarly ?? false;
      constraint?.dispose();
    }
    if (failure) throw SysError.from(failure);
    if (grammarBroken) throw new SysError('EIO', `${id} wrote a token its grammar refused`);
    const finish: FinishReason = signal?.aborted
      ? 'abort'
      : closedEarly && grammarDone
        ? 'length' // valid JSON, but cut short to fit max_tokens
        : stopped || sawEos
          ? 'stop'
          : generated >= maxNew
            ? 'length'
            : 'stop';
    // The answer ran out of tokens inside its JSON: what was written is not the promised format.
    if (finish === 'length' && !grammarDone)
      throw new SysError(
        'E2BIG',
        `${id} did not finish the requested JSON within ${maxNew} tokens; allow more (max_tokens) or ask for a smaller schema`,
      );
    const completion = stopped ? countTokens(text) : generated;
    const extra: UsageExtra = {
      forward_passes: current.forwards,
      forward_tokens: current.tokens,
    };
    if (firstAt) {
      extra.time_to_first_token_s = (firstAt - t0) / 1000;
      extra.prefill_tokens_per_s = promptTokens / Math.max(1e-6, (firstAt - t0 - grammarInit * 1000) / 1000);
      if (generated > 1)
        extra.decode_tokens_per_s = (generated - 1) / Math.max(1e-6, (lastAt - firstAt) / 1000);
    }
    if (constraint) {
      extra.grammar_init_s = grammarInit;
      extra.grammar_per_token_s = constraint.maskSeconds / Math.max(1, constraint.steps);
    }
    yield chunk({}, finish, {
      prompt_tokens: promptTokens,
      completion_tokens: completion,
      total_tokens: promptTokens + completion,
      extra,
    });
  }

  return {
    info,
    stream,
    countTokens,
    dispose: async () => {
      await model.dispose();
      if (grammars) (await grammars.catch(() => null))?.dispose();
    },
  };
}
