/**
 * The pure parts of the welcome and the chat: which model to recommend (chat models only, f16,
 * buffer, memory, storage), the turn marks of the chat agent, short-term memory truncation,
 * the default-model setting, and the terminal's `load <webllm id>`.
 */
import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/abi/chat';
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
import chatAgent from '../../src/workers/programs/chat-agent';
import { splitTurns, turnEnd } from '../../src/workers/programs/chat-protocol';
import type { AgentContext } from '../../src/workers/sdk';

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

/**
 * The chat agent's start, on a context that records what it does: its short-term memory is a real
 * ShortTermMemory (the kernel's is one); the bus never delivers; models are never called.
 */
function agentOn(opts: { restored: unknown; memory: ChatMessage[]; task: string }) {
  const stm = new ShortTermMemory((t) => t.split(/\s+/).length);
  for (const m of opts.memory) stm.append(m, m.role === 'system');
  const out: string[] = [];
  const errors: string[] = [];
  const checkpoints: unknown[] = [];
  const ctx = {
    pid: 7,
    task: opts.task,
    args: { history: [{ role: 'user', content: 'an earlier question' }] },
    restored: opts.restored,
    signal: new AbortController().signal,
    print: async (s: string) => void out.push(s),
    error: async (s: string) => void errors.push(s),
    checkpoint: async (state: unknown) => {
      checkpoints.push(state);
      return { seq: checkpoints.length };
    },
    bus: { recv: () => new Promise<never>(() => {}) },
    syscall: async () => ({ id: 'deterministic' }),
    llm: {
      models: async () => [],
      chat: { completions: { create: () => Promise.reject(new SysError('EIO', 'no model in this test')) } },
    },
    tools: { search: async () => [], call: async () => null },
    memory: {
      shortTerm: {
        append: async (message: ChatMessage, pinned?: boolean) => {
          const e = stm.append(message, pinned ?? false);
          return { id: e.id, tokens: e.tokens, total: stm.tokens() };
        },
        list: async () => ({ tokens: stm.tokens(), entries: stm.list() }),
        truncate: async (afterId: number) => ({ removed: stm.truncate(afterId), total: stm.tokens() }),
        compress: async () => ({ before: 0, after: 0, replaced: 0 }),
      },
    },
  } as unknown as AgentContext;
  void chatAgent(ctx);
  const settled = () => new Promise((r) => setTimeout(r, 20));
  return { stm, out, errors, checkpoints, settled };
}

describe('chat agent lives', () => {
  it('a first life seeds its memory with the history and checkpoints; a later one (moved, or the OS reopened) does not', async () => {
    const first = agentOn({ restored: null, memory: [], task: '' });
    await first.settled();
    expect(first.stm.list().map((e) => e.message.role)).toEqual(['system', 'user']);
    expect(first.checkpoints).toEqual([{ seeded: true }]);

    const kept: ChatMessage[] = [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'hello' },
      { role: 'assistant', content: 'hi' },
    ];
    const later = agentOn({ restored: { seeded: true }, memory: kept, task: 'hello' });
    await later.settled();
    // Nothing appended, the first message not answered again, no turn ended.
    expect(later.stm.list().map((e) => e.message.content)).toEqual(['be brief', 'hello', 'hi']);
    expect(later.out).toEqual([]);
    expect(later.errors).toEqual([]);
  });

  it('a later life whose last answer was cut off ends that turn with a reason, and keeps the question', async () => {
    const cut = agentOn({
      // Even without a checkpoint (nowhere to save one), the kept memory tells a later life apart.
      restored: null,
      memory: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'tell me about the kernel' },
      ],
      task: 'tell me about the kernel',
    });
    await cut.settled();
    expect(cut.errors.join('')).toMatch(/cut off.*Regenerate/);
    expect(splitTurns(cut.out.join(''))).toEqual([{ end: 1 }]);
    expect(cut.stm.list().map((e) => e.message.content)).toEqual(['be brief', 'tell me about the kernel']);
    expect(cut.checkpoints).toEqual([]);
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
