/**
 * The pure parts of the welcome and the chat: which model to recommend (chat models only, f16,
 * buffer, memory, storage), the turn marks of the chat agent, short-term memory truncation,
 * the default-model setting, and the terminal's `load <webllm id>`.
 */
import { describe, expect, it } from 'vitest';
import { SysError } from '../../src/abi/errors';
import type { KernelEvent } from '../../src/abi/protocol';
import { ShortTermMemory } from '../../src/memory/short-term';
import { DefaultModel, type SavedDefault } from '../../src/models/default-model';
import { fitModels } from '../../src/models/engines/webllm';
import { ModelPool } from '../../src/models/pool';
import { runLine, type Terminal } from '../../src/shell/apps/terminal/commands';
import {
  type DeviceFacts,
  isChatModel,
  type ModelRecord,
  recommend,
} from '../../src/shell/apps/welcome/recommend';
import { splitTurns, turnEnd } from '../../src/workers/programs/chat-protocol';

const records: ModelRecord[] = [
  { model_id: 'snowflake-arctic-embed-m-q0f32-MLC-b4', vram_required_MB: 200, model_type: 1 },
  { model_id: 'Qwen2.5-3B-Instruct-q4f16_1-MLC', vram_required_MB: 2504 },
  { model_id: 'Qwen2.5-1.5B-Instruct-q4f16_1-MLC', vram_required_MB: 1629 },
  { model_id: 'Qwen2.5-1.5B-Instruct-q4f32_1-MLC', vram_required_MB: 1888 },
  { model_id: 'Qwen2.5-0.5B-Instruct-q4f32_1-MLC', vram_required_MB: 1060 },
  { model_id: 'SmolLM2-360M-Instruct-q4f32_1-MLC', vram_required_MB: 579 },
  { model_id: 'Phi-3.5-vision-instruct-q4f16_1-MLC', vram_required_MB: 1000, model_type: 2 },
];
const device = (o: Partial<DeviceFacts> = {}): DeviceFacts => ({
  webgpu: { adapter: 'test', f16: true, maxBufferBytes: 2 ** 30 },
  deviceMemoryGB: 8,
  freeStorageBytes: 50 * 2 ** 30,
  hostsReachable: true,
  ...o,
});

describe('recommend', () => {
  it('recommends one chat model that fits; never an embedding or vision model', () => {
    expect(records.filter(isChatModel).map((r) => r.model_id)).not.toContain(
      'snowflake-arctic-embed-m-q0f32-MLC-b4',
    );
    const r = recommend(device(), records);
    expect(r).toMatchObject({ ok: true, id: 'Qwen2.5-3B-Instruct-q4f16_1-MLC', vramMB: 2504 });
    // Only embedding and vision models left: nothing to recommend.
    const none = recommend(
      device(),
      records.filter((x) => x.model_type),
    );
    expect(none.ok).toBe(false);
  });

  it('without 16-bit floats, an f32 build; with less memory, a smaller model', () => {
    expect(
      recommend(device({ webgpu: { adapter: 'swiftshader', f16: false, maxBufferBytes: 2 ** 28 } }), records),
    ).toMatchObject({
      ok: true,
      id: 'Qwen2.5-1.5B-Instruct-q4f32_1-MLC',
    });
    expect(recommend(device({ deviceMemoryGB: 2 }), records)).toMatchObject({
      ok: true,
      id: 'SmolLM2-360M-Instruct-q4f32_1-MLC',
    });
  });

  it('says why in words: no WebGPU, not enough storage, offline', () => {
    const noGpu = recommend(device({ webgpu: null }), records);
    expect(noGpu).toMatchObject({ ok: false });
    if (!noGpu.ok) expect(`${noGpu.why} ${noGpu.todo}`).toMatch(/WebGPU.*built-in/s);
    const full = recommend(device({ freeStorageBytes: 100 * 2 ** 20 }), records);
    expect(full.ok).toBe(false);
    if (!full.ok) expect(full.why).toMatch(/Not enough storage.*100 MB more/);
    const offline = recommend(device({ hostsReachable: false }), records);
    expect(offline.ok && offline.note).toMatch(/cannot be reached/);
  });
});

describe('WebLLM catalogue', () => {
  it('never lists an embedding model as one that can chat', () => {
    const list = records.map((r) => ({
      ...r,
      model: `https://huggingface.co/mlc-ai/${r.model_id}`,
      model_lib: '',
    }));
    const ids = fitModels(list, { vramBytes: 8 * 2 ** 30, hasF16: true }).map((r) => r.model_id);
    expect(ids).toContain('SmolLM2-360M-Instruct-q4f32_1-MLC');
    expect(ids.filter((id) => /embed/.test(id))).toEqual([]);
  });
});

describe('chat agent turns', () => {
  it('splits output into text and turn ends', () => {
    expect(splitTurns(`Once upon${turnEnd(0)}a time${turnEnd(130)}`)).toEqual([
      { text: 'Once upon' },
      { end: 0 },
      { text: 'a time' },
      { end: 130 },
    ]);
    expect(splitTurns('plain')).toEqual([{ text: 'plain' }]);
  });

  it('short-term memory forgets what follows an entry (regenerate)', () => {
    const m = new ShortTermMemory((t) => t.length);
    const a = m.append({ role: 'user', content: 'hi' });
    m.append({ role: 'assistant', content: 'hello' });
    m.append({ role: 'tool', content: '{}', tool_call_id: 'x' });
    expect(m.truncate(a.id)).toBe(2);
    expect(m.messages()).toEqual([{ role: 'user', content: 'hi' }]);
    expect(m.truncate(999)).toBe(-1);
    expect(m.truncate(0)).toBe(1);
    expect(m.list()).toEqual([]);
  });
});

describe('default model', () => {
  it('is a kernel setting: set, announced, saved, restored; unknown ids are ENOENT', async () => {
    const pool = new ModelPool();
    pool.registerDeterministic({ id: 'a' });
    const events: KernelEvent[] = [];
    let saved: SavedDefault | null = null;
    const d = new DefaultModel({
      pool,
      emit: (e) => events.push(e),
      save: async (v) => {
        saved = v;
      },
      load: async () => saved,
    });
    expect(d.get()).toMatchObject({ id: 'deterministic', chosen: false });
    await expect(d.set('nope')).rejects.toMatchObject({ code: 'ENOENT' });
    await d.set('a');
    expect(pool.route({})).toBe('a');
    expect(events.at(-1)).toMatchObject({ type: 'model.default', model: 'a' });
    expect(saved).toEqual({ id: 'a', source: { kind: 'catalogue' } });
    // A new kernel (new pool) reads the choice back.
    const pool2 = new ModelPool();
    pool2.registerDeterministic({ id: 'a' });
    const d2 = new DefaultModel({ pool: pool2, emit: () => {}, load: async () => saved });
    await d2.restore();
    expect(d2.get()).toMatchObject({ id: 'a', chosen: true });
  });
});

describe('terminal: load <webllm id>', () => {
  it('lists WebLLM’s models, then loads the one named; an id WebLLM does not list stays ENOENT', async () => {
    const printed: string[] = [];
    const term: Terminal = {
      print: (t, k) => printed.push(`${k ?? 'out'}:${t}`),
      attach: () => {},
      clear: () => {},
    };
    const calls: string[] = [];
    let listed = false;
    const kernel = {
      call: async (name: string, args: { id?: string }) => {
        calls.push(name);
        if (name === 'models.webllm') {
          listed = true;
          return { registered: ['Qwen2.5-0.5B-Instruct-q4f32_1-MLC'] };
        }
        if (name === 'models.load') {
          if (!listed) throw new SysError('ENOENT', `unknown model ${args.id}`);
          return { id: args.id, contextWindow: 4096 };
        }
        return null;
      },
    } as unknown as Parameters<typeof runLine>[0];
    await runLine(kernel, term, 'load Qwen2.5-0.5B-Instruct-q4f32_1-MLC');
    expect(calls).toEqual(['models.load', 'models.webllm', 'models.load']);
    expect(printed.at(-1)).toBe('out:loaded Qwen2.5-0.5B-Instruct-q4f32_1-MLC (context 4096)');
    listed = false;
    await runLine(kernel, term, 'load Other-q4f16_1-MLC');
    expect(printed.at(-1)).toMatch(/^err:ENOENT: Other-q4f16_1-MLC is not one of WebLLM/);
  });
});
