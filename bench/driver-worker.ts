/**
 * The transformers.js driver alone in a dedicated worker of the bench page: the baseline
 * for what the kernel adds (the same driver, the same kind of thread, no kernel between).
 */
import type { ChatEngine, ChatRequest } from '../src/models/engine';
import { createTransformersEngine } from '../src/models/engines/transformers';

export type DriverCommand =
  | { t: 'load'; model: string; kvCache: boolean }
  | { t: 'stream'; id: number; req: ChatRequest };

declare const self: DedicatedWorkerGlobalScope;
let engine: ChatEngine | null = null;

self.onmessage = async (ev: MessageEvent<DriverCommand>) => {
  const m = ev.data;
  try {
    if (m.t === 'load') {
      engine = await createTransformersEngine({ model: m.model, kvCache: m.kvCache });
      self.postMessage({ t: 'ready' });
    } else if (engine) {
      for await (const chunk of engine.stream(m.req)) self.postMessage({ t: 'chunk', id: m.id, chunk });
      self.postMessage({ t: 'end', id: m.id });
    }
  } catch (e) {
    self.postMessage({ t: 'error', error: String((e as Error).message ?? e) });
  }
};
