/**
 * A ChatEngine whose model runs in another worker (a Worker of a host tab):
 * CPU inference there never blocks the kernel, and WebLLM can run there when the
 * kernel's worker has no WebGPU. The kernel keeps only this proxy and the
 * model's tokenizer, so token counts stay real and synchronous.
 */

import { type Errno, SysError, type SysErrorShape } from '../../abi/errors';
import type { ChatCompletionChunk, ChatEngine, ChatRequest, ModelInfo } from '../engine';
import type { LoadProgress } from '../pool';

/** Kernel → engine worker. */
export type EngineCommand =
  | { t: 'load'; kind: string; options: unknown }
  /** Stops the load in progress (its download); the worker answers `failed` with ECANCELED. */
  | { t: 'cancel' }
  | { t: 'stream'; id: number; req: ChatRequest }
  | { t: 'abort'; id: number }
  | { t: 'embed'; id: number; texts: string[] }
  | { t: 'dispose' };

/** Engine worker → kernel. */
export type EngineReply =
  | { t: 'progress'; progress: LoadProgress }
  | { t: 'ready'; info: ModelInfo }
  | { t: 'ready-embedder'; id: string; dim: number }
  | { t: 'vectors'; id: number; vectors: Float32Array[] }
  | { t: 'failed'; error: SysErrorShape }
  | { t: 'chunk'; id: number; chunk: ChatCompletionChunk }
  | { t: 'end'; id: number }
  | { t: 'error'; id: number; error: SysErrorShape };

interface Stream {
  push(c: ChatCompletionChunk): void;
  end(): void;
  fail(e: SysError): void;
}

export class WorkerEngine implements ChatEngine {
  info!: ModelInfo;
  private nextId = 1;
  private readonly streams = new Map<number, Stream>();
  private dead: SysError | null = null;
  /** Rejects a load still in progress (its worker or tab went away mid-download). */
  private loading: ((e: SysError) => void) | null = null;
  /** Called once when the engine is unloaded or fails, so its host can stop the worker. */
  onDispose: (() => void) | null = null;
  /** Called once when the engine fails (the pool drops it). */
  onFail: ((e: SysError) => void) | null = null;

  private constructor(
    private readonly port: MessagePort,
    readonly countTokens: (text: string) => number,
  ) {}

  /** Sends `load` to a fresh engine worker's port and resolves once the model is ready. */
  static load(
    port: MessagePort,
    kind: string,
    options: unknown,
    countTokens: (text: string) => number,
    onProgress?: (p: LoadProgress) => void,
    /** Gets the engine before it is ready, so its host can fail it (and the load) if it goes away. */
    onStart?: (e: WorkerEngine) => void,
    /** Cancels the load: the worker is told to stop its download, and the load fails with ECANCELED at once. */
    signal?: AbortSignal,
  ): Promise<WorkerEngine> {
    const engine = new WorkerEngine(port, countTokens);
    return new Promise<WorkerEngine>((resolve, reject) => {
      const onAbort = () => {
        port.postMessage({ t: 'cancel' } satisfies EngineCommand);
        engine.fail('its load was cancelled', 'ECANCELED');
      };
      engine.loading = (e) => {
        signal?.removeEventListener('abort', onAbort);
        reject(e);
      };
      port.onmessage = (ev: MessageEvent<EngineReply>) => {
        const m = ev.data;
        if (m.t === 'progress') onProgress?.(m.progress);
        else if (m.t === 'ready') {
          signal?.removeEventListener('abort', onAbort);
          engine.loading = null;
          engine.info = m.info;
          port.onmessage = (e: MessageEvent<EngineReply>) => engine.receive(e.data);
          resolve(engine);
        } else if (m.t === 'failed') {
          signal?.removeEventListener('abort', onAbort);
          engine.loading = null;
          reject(SysError.from(m.error));
        }
      };
      onStart?.(engine);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      port.postMessage({ t: 'load', kind, options } satisfies EngineCommand);
    });
  }

  private receive(m: EngineReply): void {
    if (m.t === 'chunk') this.streams.get(m.id)?.push(m.chunk);
    else if (m.t === 'end') this.streams.get(m.id)?.end();
    else if (m.t === 'error') this.streams.get(m.id)?.fail(SysError.from(m.error));
  }

  /** The worker is gone (its tab closed, or it crashed): every stream fails, and so does every later one. */
  fail(why: string, code: Errno = 'EIO'): void {
    if (this.dead) return;
    this.dead = new SysError(code, `${this.info?.id ?? 'engine'} is gone: ${why}`);
    if (this.loading) {
      this.loading(new SysError(code, `loading stopped: ${why}`));
      this.loading = null;
    }
    for (const s of this.streams.values()) s.fail(this.dead);
    this.streams.clear();
    this.onFail?.(this.dead);
    this.onDispose?.();
  }

  get alive(): boolean {
    return this.dead === null;
  }

  async *stream(req: ChatRequest, signal?: AbortSignal): AsyncGenerator<ChatCompletionChunk> {
    if (this.dead) throw this.dead;
    const id = this.nextId++;
    const queue: ChatCompletionChunk[] = [];
    let done = false;
    let error: SysError | null = null;
    let wake: (() => void) | null = null;
    this.streams.set(id, {
      push: (c) => {
        queue.push(c);
        wake?.();
      },
      end: () => {
        done = true;
        wake?.();
      },
      fail: (e) => {
        error = e;
        wake?.();
      },
    });
    const abort = () => this.port.postMessage({ t: 'abort', id } satisfies EngineCommand);
    signal?.addEventListener('abort', abort, { once: true });
    this.port.postMessage({ t: 'stream', id, req } satisfies EngineCommand);
    try {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        if (error) throw error;
        if (done) return;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = null;
      }
    } finally {
      signal?.removeEventListener('abort', abort);
      this.streams.delete(id);
    }
  }

  async dispose(): Promise<void> {
    if (this.dead) return;
    this.port.postMessage({ t: 'dispose' } satisfies EngineCommand);
    this.dead = new SysError('EIO', `${this.info.id} was unloaded`);
    for (const s of this.streams.values()) s.fail(this.dead);
    this.streams.clear();
    this.onDispose?.();
    this.port.close();
  }
}

/** An embedder whose model runs in an engine worker of a host tab (transformers.js). */
export class WorkerEmbedder {
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { resolve(v: Float32Array[]): void; reject(e: SysError): void }
  >();
  private dead: SysError | null = null;
  onDispose: (() => void) | null = null;

  private constructor(
    private readonly port: MessagePort,
    readonly id: string,
    readonly dim: number,
  ) {}

  static load(
    port: MessagePort,
    kind: string,
    options: unknown,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<WorkerEmbedder> {
    return new Promise((resolve, reject) => {
      port.onmessage = (ev: MessageEvent<EngineReply>) => {
        const m = ev.data;
        if (m.t === 'progress') onProgress?.(m.progress);
        else if (m.t === 'failed') reject(SysError.from(m.error));
        else if (m.t === 'ready-embedder') {
          const e = new WorkerEmbedder(port, m.id, m.dim);
          port.onmessage = (x: MessageEvent<EngineReply>) => e.receive(x.data);
          resolve(e);
        }
      };
      port.postMessage({ t: 'load', kind, options } satisfies EngineCommand);
    });
  }

  private receive(m: EngineReply): void {
    if (m.t === 'vectors') {
      this.waiting.get(m.id)?.resolve(m.vectors);
      this.waiting.delete(m.id);
    } else if (m.t === 'error') {
      this.waiting.get(m.id)?.reject(SysError.from(m.error));
      this.waiting.delete(m.id);
    }
  }

  embed(texts: string[]): Promise<Float32Array[]> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.port.postMessage({ t: 'embed', id, texts } satisfies EngineCommand);
    });
  }

  fail(why: string): void {
    if (this.dead) return;
    this.dead = new SysError('EIO', `${this.id} is gone: ${why}`);
    for (const w of this.waiting.values()) w.reject(this.dead);
    this.waiting.clear();
    this.onDispose?.();
  }

  async dispose(): Promise<void> {
    this.port.postMessage({ t: 'dispose' } satisfies EngineCommand);
    this.fail('unloaded');
    this.port.close();
  }
}
