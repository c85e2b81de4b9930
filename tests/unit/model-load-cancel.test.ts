/**
 * Cancelling a model's load (models.cancel): the pool settles every waiter with ECANCELED at
 * once, hands the driver an aborted signal, disposes an engine that still arrives, and the
 * model can be loaded again. The WebLLM driver turns the cancel into MLCEngine.unload() during
 * reload() — WebLLM's own way to abort a load (the real thing: e2e/webllm-download.spec.ts).
 */
import { describe, expect, it } from 'vitest';
import { SysError } from '../../src/abi/errors';
import type { ChatEngine } from '../../src/models/engine';
import { DeterministicEngine } from '../../src/models/engines/deterministic';
import {
  createWebLLMEngine,
  type MLCEngineUnloaded,
  type WebLLMModelRecord,
  type WebLLMModule,
} from '../../src/models/engines/webllm';
import { ModelPool } from '../../src/models/pool';

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof SysError ? e.code : String(e)),
  );

describe('cancelling a model load', () => {
  it('settles every waiter with ECANCELED, aborts the driver, disposes a late engine, and loads again', async () => {
    const pool = new ModelPool(2 ** 30);
    const info = new DeterministicEngine({ id: 'slow' }).info;
    const signals: AbortSignal[] = [];
    const finish: Array<(e: ChatEngine) => void> = [];
    let disposed = 0;
    pool.register({
      info,
      tags: ['test'],
      // A driver that ignores its signal: the pool must not wait for it.
      load: (_p, signal) => {
        if (signal) signals.push(signal);
        return new Promise((r) => finish.push(r));
      },
    });
    expect(() => pool.cancel('slow')).toThrow(/ENOENT: slow is not being loaded/);
    expect(() => pool.cancel('nope')).toThrow(/ENOENT/);
    const a = code(pool.load('slow'));
    const b = code(pool.load('slow'));
    await Promise.resolve();
    expect(pool.isLoading('slow')).toBe(true);
    pool.cancel('slow');
    expect(await a).toBe('ECANCELED');
    expect(await b).toBe('ECANCELED');
    expect(signals[0]?.aborted).toBe(true);
    expect(pool.isLoading('slow')).toBe(false);
    // The driver finishes after all: its engine is disposed, not put in the pool.
    const late: ChatEngine = Object.assign(new DeterministicEngine({ id: 'slow' }), {
      dispose: async () => {
        disposed++;
      },
    });
    finish[0]!(late);
    await new Promise((r) => setTimeout(r, 0));
    expect(disposed).toBe(1);
    expect(pool.isLoaded('slow')).toBe(false);
    // Loading again starts a fresh load with a fresh signal.
    const c = pool.load('slow');
    await Promise.resolve();
    expect(signals[1]?.aborted).toBe(false);
    finish[1]!(new DeterministicEngine({ id: 'slow' }));
    await c;
    expect(pool.isLoaded('slow')).toBe(true);
    expect(() => pool.cancel('slow')).toThrow(/loaded already/);
  });

  it('the WebLLM driver cancels through MLCEngine.unload() during reload(), and frees what reload still loads', async () => {
    const record: WebLLMModelRecord = {
      model: 'https://huggingface.co/mlc-ai/Fake-1B-q4f32_1-MLC',
      model_id: 'Fake-1B-q4f32_1-MLC',
      model_lib: 'https://example.invalid/fake.wasm',
      vram_required_MB: 512,
    };
    const calls: string[] = [];
    let endReload!: () => void;
    // Plays WebLLM's MLCEngine as 0.2.86 behaves: unload() aborts the reload's controller, and
    // reload() then returns normally (it swallows its AbortError).
    class FakeMLCEngine implements MLCEngineUnloaded {
      chat = { completions: { create: async () => ({ async *[Symbol.asyncIterator]() {} }) } };
      interruptGenerate() {}
      async reload(model: string) {
        calls.push(`reload ${model}`);
        await new Promise<void>((r) => {
          endReload = r;
        });
      }
      async unload() {
        calls.push('unload');
        endReload?.();
      }
    }
    const mod: WebLLMModule = {
      prebuiltAppConfig: { model_list: [record] },
      MLCEngine: FakeMLCEngine,
      CreateMLCEngine: async () => {
        throw new Error('not used when MLCEngine is there');
      },
      hasModelInCache: async () => false,
      deleteModelAllInfoInCache: async () => {},
    };
    const ctl = new AbortController();
    const loading = code(
      createWebLLMEngine({
        model: record.model_id,
        load: async () => mod,
        skipGpuCheck: true,
        countTokens: (t) => t.length,
        signal: ctl.signal,
      }),
    );
    await new Promise((r) => setTimeout(r, 0));
    expect(calls).toEqual([`reload ${record.model_id}`]);
    ctl.abort();
    expect(await loading).toBe('ECANCELED');
    await new Promise((r) => setTimeout(r, 0));
    // unload() aborted the reload; once reload returned, unload() again frees whatever it had loaded.
    expect(calls).toEqual([`reload ${record.model_id}`, 'unload', 'unload']);
  });
});
