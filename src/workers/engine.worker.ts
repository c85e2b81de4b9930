/**
 * An engine worker: hosts one model for the kernel, started by a host tab.
 * Thin by design (as WebLLM's worker handler is): load the driver named by the
 * kernel, then turn stream/abort commands into driver calls.
 */
import type { ChatEngine } from '../kernel/engine';
import type { EngineCommand, EngineReply } from '../kernel/engines/worker-engine';
import { SysError } from '../kernel/errors';

/** Drivers this worker can host, each loaded on demand. */
const DRIVERS: Record<
  string,
  (options: unknown, progress: (p: EngineReply & { t: 'progress' }) => void) => Promise<ChatEngine>
> = {
  deterministic: async (options) => {
    const { DeterministicEngine } = await import('../kernel/engines/deterministic');
    return new DeterministicEngine(options as ConstructorParameters<typeof DeterministicEngine>[0]);
  },
  webllm: async (options, progress) => {
    const { createWebLLMEngine } = await import('../kernel/engines/webllm');
    const { model } = options as { model: string };
    return createWebLLMEngine({
      model,
      load: () => import('@mlc-ai/web-llm'),
      onProgress: (p) => progress({ t: 'progress', progress: p }),
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
  const aborts = new Map<number, AbortController>();
  port.onmessage = async (ev: MessageEvent<EngineCommand>) => {
    const cmd = ev.data;
    if (cmd.t === 'load') {
      try {
        const driver = Object.hasOwn(DRIVERS, cmd.kind) ? DRIVERS[cmd.kind] : undefined;
        if (!driver)
          throw new SysError(
            'ENOENT',
            `no engine driver "${cmd.kind}" (have: ${Object.keys(DRIVERS).join(', ')})`,
          );
        engine = await driver(cmd.options, send);
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
      self.close();
    }
  };
}
