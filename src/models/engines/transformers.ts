/**
 * The transformers.js chat driver: text generation on WASM (or WebGPU) for
 * small models and devices without a good GPU. On CPU it runs in an engine
 * worker of a host tab (engine.worker.ts), never in the kernel: generation
 * blocks its thread between tokens, and a SharedWorker cannot start the
 * Workers multi-threaded WASM needs.
 *
 * transformers.js has no KV reuse across calls and no grammar-constrained
 * output; tools work through the pool's prompted tools (tool-calling.ts).
 */

import { SysError } from '../../abi/errors';
import {
  type ChatCompletionChunk,
  type ChatEngine,
  type ChatRequest,
  chunkMaker,
  type FinishReason,
  type ModelInfo,
} from '../engine';

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
}
interface CausalLM {
  generate(o: Record<string, unknown>): Promise<unknown>;
  forward(inputs: unknown): Promise<unknown>;
  config: { max_position_embeddings?: number; n_positions?: number; n_ctx?: number };
  dispose(): Promise<unknown>;
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
  if (inBrowser) {
    // onnxruntime-web's WASM session runs inside microtasks: without a yield between tokens, the worker
    // would read no message (an abort included) until the whole answer is done.
    const forward = model.forward.bind(model);
    model.forward = async (inputs) => {
      await yieldToEvents();
      return forward(inputs);
    };
  }
  const cfg = model.config;
  const contextWindow =
    cfg.max_position_embeddings ?? cfg.n_positions ?? cfg.n_ctx ?? tokenizer.model_max_length ?? 2048;
  const special = new Set(tokenizer.all_special_ids.map((x) => BigInt(x)));
  const id = o.id ?? o.model;
  const info: ModelInfo = {
    id,
    engine: 'transformers',
    contextWindow,
    sizeBytes: 0,
    supportsTools: true, // through prompted tools
    supportsContinuation: true,
    contextCapacity: contextWindow,
    location: 'local',
    label: `transformers.js (${device})`,
  };
  const countTokens = (text: string) => tokenizer.encode(text, { add_special_tokens: false }).length;
  let seq = 0;
  let busy: Promise<void> = Promise.resolve();

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

    const queue: string[] = [];
    let wake: (() => void) | null = null;
    let finished = false;
    let failure: unknown = null;
    let generated = 0;
    let sawEos = false;
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
        for (const t of value[0] ?? []) {
          if (special.has(t)) sawEos = true;
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
    }
    if (failure) throw SysError.from(failure);
    const finish: FinishReason = signal?.aborted
      ? 'abort'
      : stopped || sawEos
        ? 'stop'
        : generated >= maxNew
          ? 'length'
          : 'stop';
    const completion = stopped ? countTokens(text) : generated;
    yield chunk({}, finish, {
      prompt_tokens: promptTokens,
      completion_tokens: completion,
      total_tokens: promptTokens + completion,
    });
  }

  return {
    info,
    stream,
    countTokens,
    dispose: async () => {
      await model.dispose();
    },
  };
}
