/**
 * A ChatEngine over WebLLM's MLCEngine: a model on this device's GPU through
 * WebGPU. It must run where `navigator.gpu` exists (the kernel's worker, or a
 * host tab's worker behind WorkerEngine).
 *
 * The part of @mlc-ai/web-llm used here is typed by the small interfaces below
 * (checked against 0.2.86's declarations), and the package is loaded with
 * `import()` only when a model is: a page that never runs a local model never
 * downloads it, and a build without the package still typechecks. Pass
 * `load: () => import('@mlc-ai/web-llm')` where the bundler should split it
 * into its own chunk; by default the module name is imported as written, which
 * works in Node and with an import map, and fails with ENOSYS elsewhere.
 *
 * WebLLM's own `tools` field works only for its Hermes models (and then
 * forbids a system prompt), so tool calls go through `withPromptedTools`.
 */

import { type Errno, SysError } from '../../abi/errors';
import { type AdapterFacts, estimateVram, type VramEstimate } from '../../abi/vram-estimate';
import {
  type ChatCompletionChunk,
  type ChatEngine,
  type ChatMessage,
  type ChatRequest,
  chunkMaker,
  type FinishReason,
  type ModelInfo,
  type Usage,
} from '../engine';
import type { LoadProgress } from '../pool';
import { loadTokenizer } from '../tokenizer';
import { withPromptedTools } from '../tool-calling';

/** `ModelRecord` of WebLLM's config. */
export interface WebLLMModelRecord {
  model: string;
  model_id: string;
  model_lib: string;
  vram_required_MB?: number;
  low_resource_required?: boolean;
  buffer_size_required_bytes?: number;
  required_features?: string[];
  /** WebLLM's ModelType: 0 (or absent) LLM, 1 embedding, 2 vision-language. */
  model_type?: number;
  overrides?: { context_window_size?: number; [key: string]: unknown };
}

/** `AppConfig` of WebLLM's config. */
export interface WebLLMAppConfig {
  model_list: WebLLMModelRecord[];
  cacheBackend?: string;
}

export interface WebLLMInitProgress {
  progress: number;
  timeElapsed: number;
  text: string;
}

type WebLLMMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string }
  | { role: 'tool'; content: string; tool_call_id: string };

export interface WebLLMRequest {
  messages: WebLLMMessage[];
  stream: true;
  stream_options: { include_usage: boolean };
  max_tokens?: number;
  temperature?: number;
  seed?: number;
  stop?: string[];
  /** WebLLM takes the JSON schema as a string, under `json_object`. */
  response_format?: { type: 'json_object'; schema?: string };
}

export interface WebLLMChunk {
  id: string;
  created: number;
  model: string;
  choices: Array<{
    delta: { content?: string | null; role?: string };
    finish_reason: string | null;
  }>;
  usage?: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    /** WebLLM's own timings: prefill and decode tokens/s, time to first token… */
    extra?: object;
  };
}

/** The speeds WebLLM reports in `usage.extra` (the scheduler routes and preempts by them). */
function usageExtra(x: object | undefined): Usage['extra'] | undefined {
  if (!x) return undefined;
  const out: NonNullable<Usage['extra']> = {};
  for (const k of ['prefill_tokens_per_s', 'decode_tokens_per_s', 'time_to_first_token_s'] as const) {
    const v = (x as Record<string, unknown>)[k];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

/** What this driver calls on an MLCEngine. */
export interface MLCEngineLike {
  chat: { completions: { create(req: WebLLMRequest): Promise<AsyncIterable<WebLLMChunk>> } };
  interruptGenerate(): void;
  unload(): Promise<void>;
}

export interface WebLLMEngineConfig {
  appConfig?: WebLLMAppConfig;
  initProgressCallback?: (r: WebLLMInitProgress) => void;
}

/** An MLCEngine before its model is loaded: `reload` downloads and loads it; `unload` during it aborts the download. */
export interface MLCEngineUnloaded extends MLCEngineLike {
  reload(modelId: string, chatOpts?: { context_window_size?: number }): Promise<void>;
}

/** What this driver uses of the @mlc-ai/web-llm module. */
export interface WebLLMModule {
  CreateMLCEngine(
    modelId: string,
    engineConfig?: WebLLMEngineConfig,
    chatOpts?: { context_window_size?: number },
  ): Promise<MLCEngineLike>;
  /** The engine class itself: a load through it can be cancelled (stand-ins may offer only CreateMLCEngine). */
  MLCEngine?: new (
    engineConfig?: WebLLMEngineConfig,
  ) => MLCEngineUnloaded;
  prebuiltAppConfig: WebLLMAppConfig;
  hasModelInCache(modelId: string, appConfig?: WebLLMAppConfig): Promise<boolean>;
  deleteModelAllInfoInCache(modelId: string, appConfig?: WebLLMAppConfig): Promise<void>;
}

export type WebLLMLoader = () => Promise<unknown>;

/** Held in a variable so bundlers leave the import alone when the package is absent. */
const WEBLLM_MODULE = '@mlc-ai/web-llm';
let defaultModule: Promise<WebLLMModule> | null = null;

/** Loads WebLLM (once, for the default loader); ENOSYS when it cannot be. */
export function loadWebLLM(load?: WebLLMLoader): Promise<WebLLMModule> {
  if (!load && defaultModule) return defaultModule;
  const p = (async () => {
    let mod: unknown;
    try {
      mod = await (load ? load() : import(/* @vite-ignore */ WEBLLM_MODULE));
    } catch (e) {
      throw new SysError(
        'ENOSYS',
        `WebLLM (${WEBLLM_MODULE}) cannot be loaded: ${(e as Error)?.message ?? e}`,
      );
    }
    const m = mod as Partial<WebLLMModule> | null;
    if (typeof m?.CreateMLCEngine !== 'function' || !Array.isArray(m.prebuiltAppConfig?.model_list)) {
      throw new SysError('ENOSYS', `${WEBLLM_MODULE} does not have the expected API`);
    }
    return m as WebLLMModule;
  })();
  if (!load) {
    defaultModule = p;
    // A failed load may succeed later (network back); do not cache the failure.
    p.catch(() => {
      defaultModule = null;
    });
  }
  return p;
}

/** WebLLM throws classes of its own; their names say which errno fits. */
export function webllmError(e: unknown, what: string): SysError {
  if (e instanceof SysError) return e;
  const name = (e as { name?: unknown })?.name;
  const msg = e instanceof Error ? e.message : String(e);
  const n = typeof name === 'string' ? name : '';
  const code: Errno =
    n === 'ModelNotFoundError' || n === 'SpecifiedModelNotFoundError'
      ? 'ENOENT'
      : /^(WebGPUNotAvailable|WebGPUNotFound|ShaderF16Support|FeatureSupport|NonWorkerEnvironment)Error$/.test(
            n,
          )
        ? 'ENOSYS'
        : n === 'DeviceLostError' || n === 'QuotaExceededError' || /out of memory/i.test(msg)
          ? 'ENOSPC'
          : n === 'ContextWindowSizeExceededError'
            ? 'E2BIG'
            : n === 'AbortError'
              ? 'ECANCELED'
              : n !== 'TypeError' &&
                  /(Order|Type|Format|Field|Value|Seed|Role|Count|Content|ToolChoice|Range)Error$/.test(n)
                ? 'EINVAL'
                : 'EIO';
  if (n === 'ModelNotLoadedError')
    return new SysError('EIO', `${what}: the model is no longer on the GPU (its device was lost?): ${msg}`);
  return new SysError(code, `${what}: ${msg}`);
}

/** Errors after which a loaded WebLLM engine serves nothing more: it unloaded itself (a lost device). */
export function isWebLLMFatal(e: unknown): boolean {
  const n = (e as { name?: unknown })?.name;
  return n === 'ModelNotLoadedError' || n === 'DeviceLostError';
}

/**
 * WebLLM's load report as bytes and a phase. Its `progress` is a 0–1 fraction, and its text
 * names the phase: "Fetching param cache[i/n]: 120MB fetched. 25% completed, …" while
 * downloading, "Loading model from cache[i/n]: 120MB loaded. …" while putting the weights
 * on the GPU, then "Loading GPU shader modules[…]". Bytes come from the text (MB), the
 * total from the fraction; where the text has none, the model's size stands in.
 */
export function webllmProgress(model: string, r: WebLLMInitProgress, sizeBytes = 0): LoadProgress {
  const mb = /(\d+)MB (fetched|loaded)/.exec(r.text);
  const phase: LoadProgress['phase'] = /^Fetching|Start to fetch/.test(r.text) ? 'download' : 'gpu';
  const frac = Math.min(1, Math.max(0, Number.isFinite(r.progress) ? r.progress : 0));
  let loaded: number;
  let total: number;
  if (mb) {
    loaded = Number(mb[1]) * 2 ** 20;
    total = frac > 0 ? Math.max(loaded, Math.round(loaded / frac)) : sizeBytes;
  } else {
    total = sizeBytes;
    loaded = Math.round(frac * sizeBytes);
  }
  return { model, loaded, total, text: r.text, phase };
}

/**
 * A download that failed for want of a network, said in words: what failed, why, what to do.
 * (The browser's own text is only "Failed to fetch".) Null for any other failure.
 */
export function offline(e: unknown, model: string, record?: WebLLMModelRecord): SysError | null {
  const msg = String((e as Error)?.message ?? e);
  const nav = globalThis.navigator as { onLine?: boolean } | undefined;
  // No answer at all ("Failed to fetch"), or an answer whose body stopped coming (Cache.add's "network error").
  const refused =
    /Failed to fetch|Load failed|ERR_INTERNET_DISCONNECTED|ERR_NAME_NOT_RESOLVED|fetch failed/i.test(msg);
  const cut =
    !refused && /NetworkError|network error|ERR_CONNECTION|ERR_INCOMPLETE|ERR_EMPTY_RESPONSE/i.test(msg);
  if (nav?.onLine !== false && !refused && !cut) return null;
  const host = record ? new URL(record.model).host : 'its model host';
  const resume =
    'Files that finished downloading are kept (each is saved only once complete), so loading it again resumes';
  const instead =
    'or use a model that needs no download: the built-in story model stories260K, or a local server (Ollama) in Models.';
  if (cut && nav?.onLine !== false)
    return new SysError(
      'EIO',
      `cannot download ${model}: the download from ${host} was cut before it finished (the connection dropped or the server stopped sending). ` +
        `${resume} once ${host} answers again, ${instead}`,
    );
  return new SysError(
    'EIO',
    `cannot download ${model}: no network connection to ${host}` +
      `${nav?.onLine === false ? ' (this browser is offline)' : ''}. ` +
      `Connect to the internet and load it again: files that finished downloading are kept, so it resumes; ${instead}`,
  );
}

/** A load the user cancelled. */
export function cancelled(model: string): SysError {
  return new SysError(
    'ECANCELED',
    `loading ${model} was cancelled; files that finished downloading are kept, so loading it again resumes`,
  );
}

/**
 * Starts an MLCEngine on `model`. With a signal, the load can be cancelled: WebLLM's `unload()`
 * during `reload()` aborts the reload's AbortController, which every download of the load
 * (config, model library, weight shards) is fetched under; Cache.add stores a file only once
 * its whole body arrived, so an aborted file leaves nothing in the cache. The promise rejects
 * with ECANCELED as soon as the signal fires, without waiting for WebLLM: the GPU upload at the
 * end of a load cannot be aborted, so whatever it loads is unloaded when it returns.
 */
async function startEngine(
  mod: WebLLMModule,
  model: string,
  config: WebLLMEngineConfig,
  chatOpts: { context_window_size?: number } | undefined,
  signal: AbortSignal | undefined,
): Promise<MLCEngineLike> {
  if (signal?.aborted) throw cancelled(model);
  let engine: MLCEngineLike | null = null;
  let loading: Promise<unknown>;
  if (mod.MLCEngine) {
    const e = new mod.MLCEngine(config);
    engine = e;
    loading = e.reload(model, chatOpts);
  } else {
    loading = mod.CreateMLCEngine(model, config, chatOpts).then((e) => {
      engine = e;
    });
  }
  if (!signal) {
    await loading;
    return engine as unknown as MLCEngineLike;
  }
  const free = () => {
    const e = engine as MLCEngineLike | null;
    if (e) void e.unload().catch(() => {});
  };
  return new Promise<MLCEngineLike>((resolve, reject) => {
    const onAbort = () => {
      reject(cancelled(model));
      free(); // aborts WebLLM's reload (its fetches) when the engine exists already
    };
    signal.addEventListener('abort', onAbort, { once: true });
    loading.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        // WebLLM's reload returns normally when its AbortError came from unload(): the engine is empty.
        if (signal.aborted) free();
        else resolve(engine as unknown as MLCEngineLike);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) free();
        else reject(e);
      },
    );
  });
}

/** WebLLM's `cleanModelUrl`: a Hugging Face repo URL → the folder its files are fetched from. */
export function modelFilesUrl(record: WebLLMModelRecord): string {
  let url = record.model.endsWith('/') ? record.model : `${record.model}/`;
  if (!/.+\/resolve\/.+\//.test(url)) url += 'resolve/main/';
  return new URL(url).href;
}

/**
 * Whether a model needs WebGPU's shader-f16. WebLLM lists it in
 * `required_features` for only some models, but every `q*f16` build computes in
 * f16, so the quantisation name is checked as well.
 */
export function needsShaderF16(record: WebLLMModelRecord): boolean {
  return !!record.required_features?.includes('shader-f16') || /(^|[-_])q\d+f16(_|$|-)/.test(record.model_id);
}

export interface FitOptions {
  /** GPU memory the model may use. WebGPU does not report VRAM: the caller estimates it. */
  vramBytes: number;
  /** The adapter has the shader-f16 feature. */
  hasF16: boolean;
  /** The adapter's maxStorageBufferBindingSize, when known. */
  maxBufferBytes?: number;
}

/** WebLLM's ModelType.embedding: such a model cannot chat (its engine refuses with IncorrectPipelineLoadedError). */
const EMBEDDING = 1;

/** Whether a record is a chat model (LLM or vision-language), not an embedder. */
export function isChatModel(r: WebLLMModelRecord): boolean {
  return r.model_type !== EMBEDDING;
}

/** The chat models of a list this GPU can run, smallest first. Models without a VRAM figure are left out. */
export function fitModels(list: WebLLMModelRecord[], o: FitOptions): WebLLMModelRecord[] {
  return list
    .filter(
      (r) =>
        isChatModel(r) &&
        r.vram_required_MB !== undefined &&
        r.vram_required_MB * 2 ** 20 <= o.vramBytes &&
        (o.hasF16 || !needsShaderF16(r)) &&
        (o.maxBufferBytes === undefined ||
          r.buffer_size_required_bytes === undefined ||
          r.buffer_size_required_bytes <= o.maxBufferBytes),
    )
    .sort((a, b) => (a.vram_required_MB ?? 0) - (b.vram_required_MB ?? 0));
}

/** WebLLM's prebuilt models (or `appConfig`'s) that fit this GPU. */
export async function listFittingModels(
  o: FitOptions & { appConfig?: WebLLMAppConfig; load?: WebLLMLoader },
): Promise<WebLLMModelRecord[]> {
  const list = o.appConfig?.model_list ?? (await loadWebLLM(o.load)).prebuiltAppConfig.model_list;
  return fitModels(list, o);
}

export interface GpuFacts {
  hasF16: boolean;
  /** limits.maxStorageBufferBindingSize: the largest buffer a shader may bind (checked per model). */
  maxBufferBytes: number;
  vendor?: string;
  /** What the VRAM estimate reads (abi/vram-estimate.ts). */
  adapter: AdapterFacts;
}

/** The bit of WebGPU read here (the project builds without @webgpu/types). */
interface GpuLike {
  requestAdapter(): Promise<{
    features: ReadonlySet<string>;
    limits: { maxStorageBufferBindingSize: number; maxBufferSize?: number };
    info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
    isFallbackAdapter?: boolean;
  } | null>;
}

/** What WebGPU tells about this device, or null without WebGPU. (VRAM is not among it.) */
export async function gpuFacts(): Promise<GpuFacts | null> {
  const gpu = (globalThis.navigator as { gpu?: GpuLike } | undefined)?.gpu;
  if (!gpu) return null;
  const a = await gpu.requestAdapter().catch(() => null);
  if (!a) return null;
  const i = a.info;
  const adapter: AdapterFacts = {};
  if (i?.vendor) adapter.vendor = i.vendor;
  if (i?.architecture) adapter.architecture = i.architecture;
  if (i?.description) adapter.description = i.description;
  if (i?.isFallbackAdapter ?? a.isFallbackAdapter) adapter.isFallbackAdapter = true;
  if (a.limits.maxBufferSize) adapter.maxBufferSize = a.limits.maxBufferSize;
  const facts: GpuFacts = {
    hasF16: a.features.has('shader-f16'),
    maxBufferBytes: a.limits.maxStorageBufferBindingSize,
    adapter,
  };
  if (i?.vendor) facts.vendor = i.vendor;
  return facts;
}

/**
 * GPU memory local models may use, estimated from this context's adapter and deviceMemory
 * (abi/vram-estimate.ts). Without an adapter here (a kernel worker without WebGPU), models load in a
 * host tab whose GPU is unknown: the cautious shared-memory rule.
 */
export async function localVram(): Promise<VramEstimate> {
  const facts = await gpuFacts();
  const mem = (globalThis.navigator as { deviceMemory?: number } | undefined)?.deviceMemory ?? null;
  return estimateVram(facts?.adapter ?? {}, mem);
}

interface CacheOptions {
  appConfig?: WebLLMAppConfig;
  load?: WebLLMLoader;
}

async function configOf(o: CacheOptions): Promise<{ mod: WebLLMModule; appConfig: WebLLMAppConfig }> {
  const mod = await loadWebLLM(o.load);
  return { mod, appConfig: o.appConfig ?? mod.prebuiltAppConfig };
}

export async function isModelCached(modelId: string, o: CacheOptions = {}): Promise<boolean> {
  const { mod, appConfig } = await configOf(o);
  return mod.hasModelInCache(modelId, appConfig).catch(() => false);
}

/** Ids of the config's models whose weights are in the browser's cache. */
export async function listCachedModels(o: CacheOptions = {}): Promise<string[]> {
  const { mod, appConfig } = await configOf(o);
  const out: string[] = [];
  // One at a time: each check opens the cache, and there are ~150 models.
  for (const r of appConfig.model_list) {
    if (await mod.hasModelInCache(r.model_id, appConfig).catch(() => false)) out.push(r.model_id);
  }
  return out;
}

/** Removes a model's weights, config and wasm from the cache. */
export async function deleteCachedModel(modelId: string, o: CacheOptions = {}): Promise<void> {
  const { mod, appConfig } = await configOf(o);
  if (!appConfig.model_list.some((r) => r.model_id === modelId)) {
    throw new SysError('ENOENT', `no WebLLM model "${modelId}"`);
  }
  try {
    await mod.deleteModelAllInfoInCache(modelId, appConfig);
  } catch (e) {
    throw webllmError(e, `deleting ${modelId} from the cache`);
  }
}

/**
 * Bytes of a model's weights in the Cache API (WebLLM's default backend), from
 * the cached responses' Content-Length. WebLLM itself does not say; null when
 * the weights are kept elsewhere (IndexedDB, OPFS) or there is no Cache API.
 */
export async function cachedModelBytes(
  modelId: string,
  o: { appConfig?: WebLLMAppConfig } = {},
): Promise<number | null> {
  const record = o.appConfig?.model_list.find((r) => r.model_id === modelId);
  const backend = o.appConfig?.cacheBackend ?? 'cache';
  if (backend !== 'cache' || typeof caches === 'undefined') return null;
  let url: string;
  if (record) url = modelFilesUrl(record);
  else {
    const mod = await loadWebLLM();
    const r = mod.prebuiltAppConfig.model_list.find((x) => x.model_id === modelId);
    if (!r) throw new SysError('ENOENT', `no WebLLM model "${modelId}"`);
    url = modelFilesUrl(r);
  }
  const cache = await caches.open('webllm/model');
  let total = 0;
  for (const req of await cache.keys()) {
    if (!req.url.startsWith(url)) continue;
    const res = await cache.match(req);
    total += Number(res?.headers.get('content-length') ?? 0) || 0;
  }
  return total;
}

export interface WebLLMEngineOptions {
  /** A model id of the app config (WebLLM's prebuilt list by default). */
  model: string;
  /** The id the model pool lists it under (default: `model`). */
  id?: string;
  appConfig?: WebLLMAppConfig;
  /** Overrides the model's context window (smaller saves VRAM). */
  contextWindow?: number;
  onProgress?: (p: LoadProgress) => void;
  /** The model's tokenizer; by default its tokenizer.json is fetched, else counts are estimates. */
  countTokens?: (text: string) => number;
  /** How to import WebLLM; see the module comment. */
  load?: WebLLMLoader;
  /** Wrap with withPromptedTools so every model takes `tools` (default true). */
  promptedTools?: boolean;
  /** Skip the navigator.gpu check (for a stand-in WebLLM in tests). */
  skipGpuCheck?: boolean;
  /** Cancels the load (the download stops; ECANCELED). */
  signal?: AbortSignal;
}

/** WebLLM wants one leading system message, string contents, and no kernel-internal fields. */
function webllmMessages(messages: ChatMessage[]): WebLLMMessage[] {
  const system = messages.filter((m) => m.role === 'system' && m.content).map((m) => m.content as string);
  const out: WebLLMMessage[] = system.length ? [{ role: 'system', content: system.join('\n\n') }] : [];
  for (const m of messages) {
    if (m.role === 'system') continue;
    if (m.role === 'tool')
      out.push({ role: 'tool', content: m.content ?? '', tool_call_id: m.tool_call_id ?? '' });
    else out.push({ role: m.role, content: m.content ?? '' });
  }
  return out;
}

const JSON_OBJECT = '{"type": "object"}';

export function webllmRequest(req: ChatRequest): WebLLMRequest {
  const r: WebLLMRequest = {
    messages: webllmMessages(req.messages),
    stream: true,
    stream_options: { include_usage: true },
  };
  if (req.max_tokens !== undefined) r.max_tokens = req.max_tokens;
  if (req.temperature !== undefined) r.temperature = req.temperature;
  if (req.seed !== undefined) r.seed = req.seed;
  if (req.stop?.length) r.stop = [...req.stop];
  const f = req.response_format;
  // WebLLM compiles `schema` for every json_object request: without one XGrammar throws, so plain
  // JSON mode asks for its meaning, any JSON object.
  if (f?.type === 'json_object') r.response_format = { type: 'json_object', schema: JSON_OBJECT };
  else if (f?.type === 'json_schema') {
    r.response_format = { type: 'json_object', schema: JSON.stringify(f.json_schema.schema) };
  }
  return r;
}

const FINISH: Record<string, FinishReason> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool_calls',
  abort: 'abort',
};

/** The driver itself; `createWebLLMEngine` is how it is made. */
export class WebLLMEngine implements ChatEngine {
  private seq = 0;
  /** MLCEngine serves one generation at a time, and interruptGenerate stops whichever runs: keep ours in line. */
  private queue: Promise<void> = Promise.resolve();
  private disposed = false;
  /** Set when WebLLM lost the model (a lost GPU device): the pool drops the engine and its budget. */
  private dead: SysError | null = null;

  get alive(): boolean {
    return this.dead === null && !this.disposed;
  }

  /** Maps a WebLLM error, and marks the engine dead when the error means the model is gone. */
  private fail(e: unknown): SysError {
    const err = webllmError(e, this.info.id);
    if (isWebLLMFatal(e)) this.dead = err;
    return err;
  }

  constructor(
    private readonly engine: MLCEngineLike,
    readonly info: ModelInfo,
    private readonly counter: ((text: string) => number) | null,
  ) {}

  countTokens(text: string): number {
    return this.counter ? this.counter(text) : Math.ceil(text.length / 4);
  }

  async *stream(req: ChatRequest, signal?: AbortSignal): AsyncGenerator<ChatCompletionChunk> {
    if (this.disposed) throw new SysError('EIO', `${this.info.id} was unloaded`);
    if (this.dead) throw this.dead;
    const wreq = webllmRequest(req);
    let release!: () => void;
    const turn = this.queue;
    this.queue = new Promise((r) => {
      release = r;
    });
    const id = `webllm-${++this.seq}`;
    const created = Math.floor(Date.now() / 1000);
    const chunk = chunkMaker(id, this.info.id, created);
    let text = '';
    let usage: Usage | undefined;
    let finish: FinishReason | null = null;
    let first = true;
    let iter: AsyncIterator<WebLLMChunk> | null = null;
    let finished = false;
    const interrupt = () => {
      if (iter) this.engine.interruptGenerate();
    };
    try {
      await waitTurn(turn, signal);
      if (!signal?.aborted && !this.disposed) {
        signal?.addEventListener('abort', interrupt, { once: true });
        try {
          iter = (await this.engine.chat.completions.create(wreq))[Symbol.asyncIterator]();
        } catch (e) {
          throw this.fail(e);
        }
        for (;;) {
          let r: IteratorResult<WebLLMChunk>;
          try {
            r = await iter.next();
          } catch (e) {
            throw this.fail(e);
          }
          if (r.done) break;
          const c = r.value;
          if (c.usage) {
            usage = {
              prompt_tokens: c.usage.prompt_tokens,
              completion_tokens: c.usage.completion_tokens,
              total_tokens: c.usage.total_tokens,
            };
            const extra = usageExtra(c.usage.extra);
            if (extra) usage.extra = extra;
          }
          const choice = c.choices[0];
          if (choice?.finish_reason) finish = FINISH[choice.finish_reason] ?? 'stop';
          const s = choice?.delta.content;
          if (s) {
            text += s;
            yield chunk(first ? { role: 'assistant', content: s } : { content: s }, null);
            first = false;
          }
        }
        finished = true;
      }
      if (signal?.aborted && finish === null) finish = 'abort';
      const last = chunk({}, finish ?? (this.disposed ? 'abort' : 'stop'));
      if (usage && finish !== 'abort') last.usage = usage;
      else {
        // WebLLM counts an interrupted generation too; without its figure, estimate.
        const p =
          usage?.prompt_tokens ?? req.messages.reduce((n, m) => n + this.countTokens(m.content ?? ''), 0);
        const n = usage?.completion_tokens ?? this.countTokens(text);
        last.usage = { prompt_tokens: p, completion_tokens: n, total_tokens: p + n };
        if (!usage) last.usage.estimated = true;
      }
      yield last;
    } finally {
      signal?.removeEventListener('abort', interrupt);
      if (iter && !finished) {
        // The consumer left early: stop the GPU and let WebLLM finish its bookkeeping before the next turn.
        this.engine.interruptGenerate();
        await drain(iter);
      }
      release();
    }
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.engine.interruptGenerate();
    try {
      await this.engine.unload();
    } catch (e) {
      throw webllmError(e, `unloading ${this.info.id}`);
    }
  }
}

/** Waits for the previous generation; an abort while waiting stops the wait. */
function waitTurn(turn: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (!signal) return turn;
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    turn.then(done);
  });
}

async function drain(iter: AsyncIterator<unknown>): Promise<void> {
  try {
    // Bounded: after interruptGenerate WebLLM yields at most the final and usage chunks.
    for (let i = 0; i < 10_000; i++) if ((await iter.next()).done) return;
  } catch {
    // The generation is over either way.
  }
}

/** Loads a WebLLM model on this device's GPU. */
export async function createWebLLMEngine(o: WebLLMEngineOptions): Promise<ChatEngine> {
  // Before importing WebLLM (megabytes): without WebGPU here, say so at once.
  if (!o.skipGpuCheck && !(globalThis.navigator as { gpu?: unknown } | undefined)?.gpu) {
    throw new SysError('ENOSYS', 'WebGPU is not available in this context (no navigator.gpu)');
  }
  const mod = await loadWebLLM(o.load);
  const appConfig = o.appConfig ?? mod.prebuiltAppConfig;
  const record = appConfig.model_list.find((r) => r.model_id === o.model);
  if (!record) throw new SysError('ENOENT', `no WebLLM model "${o.model}" in the app config`);
  const id = o.id ?? o.model;
  const counting = o.countTokens
    ? Promise.resolve(o.countTokens)
    : loadTokenizer(modelFilesUrl(record)).catch(() => null);
  const contextWindow = o.contextWindow ?? record.overrides?.context_window_size ?? 4096;
  let engine: MLCEngineLike;
  try {
    engine = await startEngine(
      mod,
      o.model,
      {
        appConfig,
        initProgressCallback: (r) => {
          if (!o.signal?.aborted)
            o.onProgress?.(webllmProgress(id, r, Math.round((record.vram_required_MB ?? 0) * 2 ** 20)));
        },
      },
      o.contextWindow ? { context_window_size: o.contextWindow } : undefined,
      o.signal,
    );
  } catch (e) {
    if (o.signal?.aborted) throw cancelled(o.model);
    throw offline(e, o.model, record) ?? webllmError(e, `loading ${o.model}`);
  }
  const info: ModelInfo = {
    id,
    engine: 'webllm',
    contextWindow,
    // WebLLM's figure includes the KV cache for the model's default context window.
    sizeBytes: Math.round((record.vram_required_MB ?? 0) * 2 ** 20),
    supportsTools: false,
    label: o.model,
    supportsContinuation: false,
    contextCapacity: contextWindow,
    location: 'local',
  };
  const driver = new WebLLMEngine(engine, info, await counting);
  return o.promptedTools === false ? driver : withPromptedTools(driver);
}
