/**
 * Where the pool's models come from, besides the deterministic engine:
 *  - remote OpenAI-compatible servers the user adds (requests go only to that base URL);
 *  - WebLLM's prebuilt models that fit this device's GPU, loaded in the kernel's worker when
 *    it has WebGPU, else in an engine worker of a host tab.
 * Each registers catalogue entries; nothing is downloaded until a model is loaded.
 */

import { SysError } from '../abi/errors';
import type { Kernel } from '../kernel/kernel';
import { parseServerAddress } from '../net/http';
import type { ModelSource } from './default-model';
import type { ModelInfo } from './engine';
import { createRemoteEngine, listRemoteModels } from './engines/openai-remote';
import type { WebLLMAppConfig, WebLLMModelRecord } from './engines/webllm';
import { WorkerEngine } from './engines/worker-engine';
import type { LoadProgress } from './pool';

/** WebLLM, as vite should split it: a literal import, so it becomes its own lazily loaded chunk. */
export const loadWebLLMPackage = () => import('@mlc-ai/web-llm');

export interface RemoteServer {
  baseUrl: string;
  models: string[];
}

/** Adds an OpenAI-compatible server: its models join the catalogue as `<model>@<host>`. */
export async function addRemoteServer(k: Kernel, baseUrl: string, apiKey?: string): Promise<RemoteServer> {
  const url = parseServerAddress(baseUrl, 'http://localhost:11434/v1 (Ollama)');
  const base = url.href.replace(/\/+$/, '');
  const listed = await listRemoteModels(base, apiKey, { timeoutMs: 10_000, maxAttempts: 2 });
  if (!listed.length) throw new SysError('ENOENT', `${base} lists no models`);
  for (const m of listed) {
    const id = `${m.id}@${url.host}`;
    const info: ModelInfo = {
      id,
      engine: 'openai-remote',
      contextWindow: m.contextWindow ?? 4096,
      sizeBytes: 0, // it lives on the server, not in this device's memory
      supportsTools: true,
      location: 'remote',
      label: `remote: ${base}`,
    };
    k.pool.register({
      info,
      tags: ['remote', 'large'],
      load: () =>
        createRemoteEngine({
          baseUrl: base,
          model: m.id,
          id,
          ...(apiKey ? { apiKey } : {}),
          ...(m.contextWindow ? { contextWindow: m.contextWindow } : {}),
          verify: false,
        }),
    });
  }
  k.log(0, 'model.load', `added remote server ${base} with ${listed.length} model(s)`);
  k.defaults.noteRemote(
    base,
    listed.map((m) => `${m.id}@${url.host}`),
  );
  return { baseUrl: base, models: listed.map((m) => `${m.id}@${url.host}`) };
}

/**
 * Registers WebLLM's prebuilt models that fit this GPU (once; the package is imported only now).
 * `vramBytes` defaults to the estimate from this device's adapter (abi/vram-estimate.ts).
 */
export async function registerWebLLMModels(k: Kernel, vramBytes?: number): Promise<string[]> {
  const { gpuFacts, listFittingModels, localVram } = await import('./engines/webllm');
  if (vramBytes === undefined) {
    const est = await localVram();
    vramBytes = est.bytes;
    k.log(0, 'model.load', `WebLLM: about ${Math.round(est.bytes / 2 ** 20)} MB of GPU memory (${est.why})`);
  }
  // Without WebGPU in the kernel's worker the models still run, in a host tab's worker: list those
  // that need no shader-f16 (the tab's GPU is unknown here).
  const facts = (await gpuFacts()) ?? { hasF16: false };
  const fits = await listFittingModels({
    vramBytes,
    hasF16: facts.hasF16,
    ...('maxBufferBytes' in facts ? { maxBufferBytes: facts.maxBufferBytes } : {}),
    load: loadWebLLMPackage,
  });
  for (const r of fits) registerWebLLMRecord(k, r);
  return fits.map((r) => r.model_id);
}

/**
 * Registers one WebLLM model record. With `appConfig` it is a model of the user's own (an MLC
 * build on their server), else one of WebLLM's prebuilt list. It loads in the kernel's worker
 * when that has WebGPU (unless `hosted`), else in an engine worker of a host tab.
 */
export function registerWebLLMRecord(
  k: Kernel,
  r: WebLLMModelRecord,
  o: { appConfig?: WebLLMAppConfig; hosted?: boolean } = {},
): ModelInfo {
  const bytes = Math.round((r.vram_required_MB ?? 0) * 2 ** 20);
  const info: ModelInfo = {
    id: r.model_id,
    engine: 'webllm',
    contextWindow: r.overrides?.context_window_size ?? 4096,
    sizeBytes: bytes,
    supportsTools: true, // through withPromptedTools
    supportsContinuation: false,
    location: 'local',
    label: `WebLLM ${r.vram_required_MB ? `${Math.round(r.vram_required_MB)} MB VRAM` : ''}`.trim(),
  };
  const tags = [bytes < 2 * 2 ** 30 ? 'small' : 'large', 'webllm'];
  const appConfig = o.appConfig;
  k.pool.register({
    info,
    tags,
    load: async (onProgress, signal) => {
      const { createWebLLMEngine, modelFilesUrl } = await import('./engines/webllm');
      if (!o.hosted && (globalThis.navigator as { gpu?: unknown } | undefined)?.gpu) {
        return createWebLLMEngine({
          model: r.model_id,
          load: loadWebLLMPackage,
          ...(appConfig ? { appConfig } : {}),
          ...(onProgress ? { onProgress } : {}),
          ...(signal ? { signal } : {}),
        });
      }
      const { loadTokenizer } = await import('./tokenizer');
      // Offline or a host without tokenizer.json: count by estimate rather than fail the load here.
      const count = await loadTokenizer(modelFilesUrl(r)).catch(() => (t: string) => Math.ceil(t.length / 4));
      const engine = await hostEngine(
        k,
        r.model_id,
        'webllm',
        { model: r.model_id, ...(appConfig ? { appConfig } : {}) },
        count,
        onProgress,
        signal,
      );
      engine.onFail = (e) => {
        k.pool.drop(r.model_id, engine);
        k.log(0, 'model.unload', `${r.model_id} failed: ${e.message}`);
      };
      return engine;
    },
  });
  return info;
}

/** Where this origin serves models (public/models), under the app's base path. */
export const LOCAL_MODELS_URL = `${import.meta.env?.BASE_URL ?? '/'}models/`;

export interface TransformersModelOptions {
  /** A folder under /models/ on this origin, or a Hugging Face id when `allowRemote`. */
  model: string;
  device?: 'wasm' | 'webgpu';
  allowRemote?: boolean;
  /** A hub-like model server instead of huggingface.co (e.g. a mirror on the LAN). */
  remoteHost?: string;
  contextWindow?: number;
  sizeBytes?: number;
  label?: string;
}

/**
 * Adds a transformers.js text-generation model to the catalogue. It loads in an
 * engine worker of a host tab (CPU inference must not block the kernel); the
 * kernel counts its tokens with the model's own tokenizer.json.
 */
export function registerTransformersModel(
  k: Kernel,
  id: string,
  o: TransformersModelOptions,
  tags: string[] = ['small', 'transformers'],
): ModelInfo {
  const info: ModelInfo = {
    id,
    engine: 'transformers',
    contextWindow: o.contextWindow ?? 2048,
    sizeBytes: o.sizeBytes ?? 0,
    supportsTools: true, // through withPromptedTools
    supportsContinuation: true,
    contextCapacity: o.contextWindow ?? 2048,
    location: 'local',
    label: o.label ?? `transformers.js (${o.device ?? 'wasm'})`,
  };
  const local = !o.allowRemote || !o.model.includes('/');
  const hub = o.remoteHost ?? 'https://huggingface.co/';
  const filesUrl = local ? `${LOCAL_MODELS_URL}${o.model}/` : `${hub}${o.model}/resolve/main/`;
  registerHostedModel(
    k,
    info,
    tags,
    'transformers',
    {
      model: o.model,
      id,
      device: o.device ?? 'wasm',
      allowRemote: !!o.allowRemote,
      localModelPath: LOCAL_MODELS_URL,
      ...(o.remoteHost ? { remoteHost: o.remoteHost } : {}),
    },
    async () => {
      const { loadTokenizer } = await import('./tokenizer');
      return loadTokenizer(new URL(filesUrl, globalThis.location?.href).href);
    },
  );
  return info;
}

/** Registers a source's models again after a restart: adds the remote server, lists WebLLM's models. */
export async function reRegisterSource(k: Kernel, source: ModelSource): Promise<void> {
  if (source.kind === 'remote') await addRemoteServer(k, source.baseUrl);
  else if (source.kind === 'webllm') await registerWebLLMModels(k);
}

/** The built-in trained model's catalogue id (public/models/stories260K). */
export const STORY_MODEL_ID = 'stories260K';

/**
 * The built-in offline model: llama2.c's stories260K, a real model trained on
 * TinyStories (public/models/stories260K, 1.3 MB). It continues stories in
 * plain English; it is not an assistant, and its label says so.
 */
export function registerStoryModel(k: Kernel): void {
  registerTransformersModel(
    k,
    STORY_MODEL_ID,
    {
      model: 'stories260K',
      contextWindow: 512,
      sizeBytes: 1_300_000,
      label:
        'Tiny story writer (built in, offline): a 260K-parameter model trained on children’s stories. It continues a story; it is not an assistant.',
    },
    // 'completion': with tools offered, it still writes its story unless a tool call is required.
    ['small', 'story', 'completion', 'transformers'],
  );
}

/**
 * The project's own tiny model (scripts/make-tiny-model.mjs): a real ONNX
 * transformer with random weights, 183 kB, for tests that need raw speed. It
 * produces gibberish, so it is hidden from users (models.list {all: true} shows it).
 */
export function registerTinyModel(k: Kernel): void {
  registerTransformersModel(
    k,
    'agentos-tiny',
    {
      model: 'agentos-tiny',
      contextWindow: 512,
      sizeBytes: 200_000,
      label: 'test model (transformers.js, random weights: gibberish)',
    },
    ['small', 'test', 'hidden', 'transformers'],
  );
}

/**
 * Loads a model in an engine worker of a host tab (a SharedWorker cannot start
 * workers itself). If that tab closes, the engine fails and the pool drops it,
 * so the next request loads it again in another tab.
 */
export function hostEngine(
  k: Kernel,
  id: string,
  kind: string,
  options: unknown,
  countTokens: (text: string) => number,
  onProgress?: (p: LoadProgress) => void,
  signal?: AbortSignal,
): Promise<WorkerEngine> {
  return k.tabs.hostWorker(id, `the engine for ${id}`, (port, hold) =>
    WorkerEngine.load(port, kind, options, countTokens, onProgress, hold, signal),
  );
}

/** Registers a model that loads in an engine worker of a host tab. */
export function registerHostedModel(
  k: Kernel,
  info: ModelInfo,
  tags: string[],
  kind: string,
  options: unknown,
  countTokens: () => Promise<(t: string) => number>,
): void {
  k.pool.register({
    info,
    tags,
    load: async (onProgress, signal) => {
      const engine = await hostEngine(k, info.id, kind, options, await countTokens(), onProgress, signal);
      engine.onFail = (e) => {
        k.pool.drop(info.id, engine);
        k.log(0, 'model.unload', `${info.id} failed: ${e.message}`);
      };
      return engine;
    },
  });
}
