/**
 * An engine worker: hosts one model for the kernel, started by a host tab.
 * Thin by design (as WebLLM's worker handler is): load the driver named by the
 * kernel, then turn stream/abort commands into driver calls.
 */

import { SysError } from '../abi/errors';
import type { DisposableEmbedder, TransformersEmbedderOptions } from '../memory/transformers-embedder';
import type { ChatEngine } from '../models/engine';
import type { EngineCommand, EngineReply } from '../models/engines/worker-engine';

/** Drivers this worker can host, each loaded on demand. */
const DRIVERS: Record<
  string,
  (
    options: unknown,
    progress: (p: EngineReply & { t: 'progress' }) => void,
    signal: AbortSignal,
  ) => Promise<ChatEngine>
> = {
  deterministic: async (options) => {
    const { DeterministicEngine } = await import('../models/engines/deterministic');
    return new DeterministicEngine(options as ConstructorParameters<typeof DeterministicEngine>[0]);
  },
  transformers: async (options, progress) => {
    const { createTransformersEngine } = await import('../models/engines/transformers');
    const o = options as import('../models/engines/transformers').TransformersChatOptions;
    return createTransformersEngine({ ...o, onProgress: (p) => progress({ t: 'progress', progress: p }) });
  },
  webllm: async (options, progress, signal) => {
    const { createWebLLMEngine } = await import('../models/engines/webllm');
    const { model, appConfig } = options as {
      model: string;
      appConfig?: import('../models/engines/webllm').WebLLMAppConfig;
    };
    return createWebLLMEngine({
      model,
      ...(appConfig ? { appConfig } : {}),
      load: () => import('@mlc-ai/web-llm'),
      onProgress: (p) => progress({ t: 'progress', progress: p }),
      signal,
    });
  },
};

/** Embedders this worker can host (for long-term memory), each loaded on demand. */
const EMBEDDERS: Record<
  string,
  (options: unknown, progress: (p: EngineReply & { t: 'progress' }) => void) => Promise<DisposableEmbedder>
> = {
  // The offline embedder, off the kernel's thread: same vectors as in the kernel, for very large re-indexes.
  hash: async (options) => {
    const { HashingEmbedder } = await import('../memory/embedder');
    const e = new HashingEmbedder((options as { dim?: number }).dim ?? 384);
    return { id: e.id, dim: e.dim, embed: (texts) => e.embed(texts), dispose: async () => {} };
  },
  transformers: async (options, progress) => {
    const { createTransformersEmbedder } = await import('../memory/transformers-embedder');
    const o = options as TransformersEmbedderOptions;
    return createTransformersEmbedder({
      ...o,
      onProgress: (p) =>
        progress({
          t: 'progress',
          progress: { model: o.model, loaded: p.loaded, total: p.total, text: p.file },
        }),
    });
  },
};

declare const self: DedicatedWorkerGlobalScope;

self.onmessage = (ev: MessageEvent<{ t: 'init'; port: MessagePort }>) => {
  if (ev.data?.t !== 'init' || !(ev.data.port instanceof MessagePort)) return;
  self.onmessage = null;
  serve(ev.data.port);
};

function serve(port: MessagePort): void {
  const send = (m: EngineReply) => port.postMessage(m);
  let engine: ChatEngine | null = null;
  let embedder: DisposableEmbedder | null = null;
  const aborts = new Map<number, AbortController>();
  /** The model load in progress, so `cancel` can stop its download. */
  const loading = new AbortController();
  port.onmessage = async (ev: MessageEvent<EngineCommand>) => {
    const cmd = ev.data;
    if (cmd.t === 'cancel') return loading.abort();
    if (cmd.t === 'load' && cmd.kind.startsWith('embedder:')) {
      try {
        const kind = cmd.kind.slice('embedder:'.length);
        const make = Object.hasOwn(EMBEDDERS, kind) ? EMBEDDERS[kind] : undefined;
        if (!make)
          throw new SysError('ENOENT', `no embedder "${kind}" (have: ${Object.keys(EMBEDDERS).join(', ')})`);
        embedder = await make(cmd.options, send);
        send({ t: 'ready-embedder', id: embedder.id, dim: embedder.dim });
      } catch (e) {
        send({ t: 'failed', error: SysError.from(e).toJSON() });
      }
    } else if (cmd.t === 'embed') {
      try {
        if (!embedder) throw new SysError('EAGAIN', 'no embedder loaded in this worker');
        const vectors = await embedder.embed(cmd.texts);
        port.postMessage(
          { t: 'vectors', id: cmd.id, vectors } satisfies EngineReply,
          vectors.map((v) => v.buffer as ArrayBuffer),
        );
      } catch (e) {
        send({ t: 'error', id: cmd.id, error: SysError.from(e).toJSON() });
      }
    } else if (cmd.t === 'load') {
      try {
        const driver = Object.hasOwn(DRIVERS, cmd.kind) ? DRIVERS[cmd.kind] : undefined;
        if (!driver)
          throw new SysError(
            'ENOENT',
            `no engine driver "${cmd.kind}" (have: ${Object.keys(DRIVERS).join(', ')})`,
          );
        engine = await driver(cmd.options, send, loading.signal);
        send({ t: 'ready', info: engine.info });
      } catch (e) {
        send({ t: 'failed', error: SysError.from(e).toJSON() });
      }
    } else if (cmd.t === 'stream') {
      const ctl = new AbortController();
      aborts.set(cmd.id, ctl);
      try {
        if (!engine) throw new SysError('EAGAIN', 'no model loaded in this worker');
        for await (const chunk of engine.stream(cmd.req, ctl.signal)) send({ t: 'chunk', id: cmd.id, chunk });
        send({ t: 'end', id: cmd.id });
      } catch (e) {
        send({ t: 'error', id: cmd.id, error: SysError.from(e).toJSON() });
      } finally {
        aborts.delete(cmd.id);
      }
    } else if (cmd.t === 'abort') {
      aborts.get(cmd.id)?.abort();
    } else if (cmd.t === 'dispose') {
      await engine?.dispose?.();
      await embedder?.dispose();
      self.close();
    }
  };
}
