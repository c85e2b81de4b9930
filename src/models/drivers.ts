/**
 * Where the pool's models come from, besides the deterministic engine:
 *  - remote OpenAI-compatible servers the user adds (requests go only to that base URL);
 *  - WebLLM's prebuilt models that fit this device's GPU, loaded in the kernel's worker when
 *    it has WebGPU, else in an engine worker of a host tab.
 * Each registers catalogue entries; nothing is downloaded until a model is loaded.
 */

import { SysError } from '../abi/errors';
import type { Kernel } from '../kernel/kernel';
import { parseHttpUrl } from '../net/http';
import type { ModelInfo } from './engine';
import { createRemoteEngine, listRemoteModels } from './engines/openai-remote';
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
  const url = parseHttpUrl(baseUrl);
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
  return { baseUrl: base, models: listed.map((m) => `${m.id}@${url.host}`) };
}

/** Registers WebLLM's prebuilt models that fit this GPU (once; the package is imported only now). */
export async function registerWebLLMModels(k: Kernel, vramBytes: number): Promise<string[]> {
  const { gpuFacts, listFittingModels } = await import('./engines/webllm');
  const facts = await gpuFacts();
  if (!facts) return [];
  const fits = await listFittingModels({
    vramBytes,
    hasF16: facts.hasF16,
    maxBufferBytes: facts.maxBufferBytes,
    load: loadWebLLMPackage,
  });
  for (const r of fits) {
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
    k.pool.register({
      info,
      tags,
      load: async (onProgress) => {
        const { createWebLLMEngine, modelFilesUrl } = await import('./engines/webllm');
        if ((globalThis.navigator as { gpu?: unknown } | undefined)?.gpu) {
          return createWebLLMEngine({
            model: r.model_id,
            load: loadWebLLMPackage,
            ...(onProgress ? { onProgress } : {}),
          });
        }
        const { loadTokenizer } = await import('./tokenizer');
        return hostEngine(
          k,
          r.model_id,
          'webllm',
          { model: r.model_id },
          await loadTokenizer(modelFilesUrl(r)),
          onProgress,
        );
      },
    });
  }
  return fits.map((r) => r.model_id);
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

/**
 * The project's own tiny model (scripts/make-tiny-model.mjs): a real ONNX
 * transformer with random weights, 183 kB, so the transformers.js path runs
 * everywhere, offline. It produces gibberish, and says so.
 */
export function registerTinyModel(k: Kernel): void {
  registerTransformersModel(
    k,
    'agentos-tiny',
    {
      model: 'agentos-tiny',
      contextWindow: 512,
      sizeBytes: 200_000,
      label: 'tiny demo model (transformers.js, random weights: gibberish)',
    },
    ['small', 'test', 'transformers'],
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
): Promise<WorkerEngine> {
  return k.tabs.hostWorker(id, `the engine for ${id}`, (port) =>
    WorkerEngine.load(port, kind, options, countTokens, onProgress),
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
    load: async (onProgress) => {
      const engine = await hostEngine(k, info.id, kind, options, await countTokens(), onProgress);
      engine.onFail = (e) => {
        k.pool.drop(info.id, engine);
        k.log(0, 'model.unload', `${info.id} failed: ${e.message}`);
      };
      return engine;
    },
  });
}
