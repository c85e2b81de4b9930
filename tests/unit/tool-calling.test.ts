/** withPromptedTools over a scripted engine that answers a given text. */
import { describe, expect, it } from 'vitest';
import {
  type ChatCompletionChunk,
  type ChatEngine,
  type ChatMessage,
  type ChatRequest,
  chunkMaker,
  collect,
  type FinishReason,
  type ModelInfo,
  type ToolSpec,
  type Usage,
} from '../../src/models/engine';
import { PromptedOutput, promptedToolSchema, withPromptedTools } from '../../src/models/tool-calling';

/** Answers `text` in pieces of `piece` characters, then a last chunk with `usage` (unless null). */
class Scripted implements ChatEngine {
  readonly info: ModelInfo = {
    id: 'scripted',
    engine: 'scripted',
    contextWindow: 1024,
    sizeBytes: 0,
    supportsTools: false,
  };
  requests: ChatRequest[] = [];
  constructor(
    private readonly text: string,
    private readonly o: { piece?: number; usage?: Usage | null; finish?: FinishReason } = {},
  ) {}

  countTokens(text: string): number {
    return text.split(/\s+/).filter(Boolean).length;
  }

  async *stream(req: ChatRequest, signal?: AbortSignal): AsyncGenerator<ChatCompletionChunk> {
    this.requests.push(structuredClone(req));
    const base = { id: 'scr-1', object: 'chat.completion.chunk' as const, created: 1, model: 'scripted' };
    const n = this.o.piece ?? 4;
    let finish: FinishReason = this.o.finish ?? 'stop';
    for (let i = 0; i < this.text.length; i += n) {
      if (signal?.aborted) {
        finish = 'abort';
        break;
      }
      yield {
        ...base,
        choices: [{ index: 0, delta: { content: this.text.slice(i, i + n) }, finish_reason: null }],
      };
    }
    const last: ChatCompletionChunk = { ...base, choices: [{ index: 0, delta: {}, finish_reason: finish }] };
    if (this.o.usage !== null)
      last.usage = this.o.usage ?? { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 };
    yield last;
  }
}

const weather: ToolSpec = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const time: ToolSpec = { type: 'function', function: { name: 'get_time', description: 'The time' } };
const ask: ChatRequest = {
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Weather in Paris?' },
  ],
  tools: [weather, time],
};

async function drain(it: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const out: ChatCompletionChunk[] = [];
  for await (const c of it) {
    out.push(c);
    if (out.length > 10_000) throw new Error('unbounded');
  }
  return out;
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object') {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

describe('withPromptedTools', () => {
  it('turns a JSON tool call into OpenAI tool_calls', async () => {
    const inner = new Scripted('{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}');
    const e = withPromptedTools(inner);
    const r = await collect(e.stream(deepFreeze(structuredClone(ask))));
    const msg = r.choices[0]!.message;
    expect(r.choices[0]!.finish_reason).toBe('tool_calls');
    expect(msg.content).toBeNull();
    expect(msg.tool_calls).toEqual([
      {
        id: expect.stringMatching(/^call_\w+$/),
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      },
    ]);
    // Two calls in one answer get distinct ids.
    const two = new Scripted(
      '{"tool_calls":[{"name":"get_time","arguments":{}},{"name":"get_time","arguments":"{}"}]}',
    );
    const calls = (await collect(withPromptedTools(two).stream(ask))).choices[0]!.message.tool_calls!;
    expect(calls).toHaveLength(2);
    expect(calls[0]!.id).not.toBe(calls[1]!.id);
    expect(calls.map((c) => c.function.arguments)).toEqual(['{}', '{}']);
  });

  it('asks the model with a system prompt and a oneOf JSON schema instead of `tools`', async () => {
    const inner = new Scripted('{"content": "ok"}');
    const req = deepFreeze(structuredClone(ask));
    await collect(withPromptedTools(inner).stream(req));
    const sent = inner.requests[0]!;
    expect(sent.tools).toBeUndefined();
    expect(sent.tool_choice).toBeUndefined();
    expect(sent.messages[0]!.role).toBe('system');
    expect(sent.messages[0]!.content).toMatch(/^Be brief\.\n\nYou can call these tools:/);
    expect(sent.messages[0]!.content).toContain('get_weather: Weather for a city');
    expect(sent.messages[0]!.content).toContain('"city":{"type":"string"}');
    expect(sent.messages.filter((m) => m.role === 'system')).toHaveLength(1);
    expect(sent.response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'tool_calls_or_content', schema: promptedToolSchema([weather, time]) },
    });
    type Item = { properties: { name: { enum: string[] }; arguments: unknown } };
    type Branch = { properties: { tool_calls: { items: { anyOf: Item[] } } } };
    const schema = promptedToolSchema([weather, time]) as { oneOf: [Branch, unknown] };
    const items = schema.oneOf[0].properties.tool_calls.items.anyOf;
    expect(items.map((i) => i.properties.name.enum)).toEqual([['get_weather'], ['get_time']]);
    expect(items[0]!.properties.arguments).toEqual(weather.function.parameters);
    expect(schema.oneOf[1]).toMatchObject({ required: ['content'] });
    // tool_choice 'required' leaves out the content branch.
    expect(promptedToolSchema([time], true)).toMatchObject({ required: ['tool_calls'] });
  });

  it('streams plain content through as it is decoded', async () => {
    const answer = 'Sunny, "warm" \\ 20°C\nbye \u00e9\u{1F600}';
    const inner = new Scripted(JSON.stringify({ content: answer }), { piece: 1 });
    const chunks = await drain(withPromptedTools(inner).stream(ask));
    const contentChunks = chunks.filter((c) => c.choices[0]!.delta.content);
    expect(contentChunks.map((c) => c.choices[0]!.delta.content).join('')).toBe(answer);
    // Streamed, not held to the end: many content chunks, the first marked with the role.
    expect(contentChunks.length).toBeGreaterThan(10);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('decodes \\u escapes split across chunks', () => {
    const out = new PromptedOutput(new Set());
    const parts = ['{ "content" :', ' "a\\', 'u00', 'e9\\', 'n"', ' }'];
    expect(parts.map((p) => out.push(p)).join('')).toBe('a\u00e9\n');
    expect(out.end('stop')).toEqual({});
  });

  it('passes text that is not JSON through as content', async () => {
    const inner = new Scripted('It is sunny in Paris.', { piece: 3 });
    const chunks = await drain(withPromptedTools(inner).stream(ask));
    expect(chunks.map((c) => c.choices[0]!.delta.content ?? '').join('')).toBe('It is sunny in Paris.');
    expect(chunks.filter((c) => c.choices[0]!.delta.content).length).toBeGreaterThan(1);
  });

  it('treats malformed JSON as content, without throwing', async () => {
    const bad = '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Par';
    const r = await collect(withPromptedTools(new Scripted(bad)).stream(ask));
    expect(r.choices[0]!.message).toEqual({ role: 'assistant', content: bad });
    expect(r.choices[0]!.finish_reason).toBe('stop');
    // Cut by max_tokens: the same, with finish_reason length.
    const cut = await collect(withPromptedTools(new Scripted(bad, { finish: 'length' })).stream(ask));
    expect(cut.choices[0]!.finish_reason).toBe('length');
    expect(cut.choices[0]!.message.content).toBe(bad);
    // JSON of another shape is content too.
    const other = await collect(withPromptedTools(new Scripted('{"answer": 42}')).stream(ask));
    expect(other.choices[0]!.message.content).toBe('{"answer": 42}');
  });

  it('treats a call to an unknown tool as content', async () => {
    const text = '{"tool_calls": [{"name": "rm_rf", "arguments": {}}]}';
    const r = await collect(withPromptedTools(new Scripted(text)).stream(ask));
    expect(r.choices[0]!.message.tool_calls).toBeUndefined();
    expect(r.choices[0]!.message.content).toBe(text);
    expect(r.choices[0]!.finish_reason).toBe('stop');
  });

  it("passes the inner engine's usage through, and estimates only when there is none", async () => {
    const usage = { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 };
    const r = await collect(withPromptedTools(new Scripted('{"content": "hi"}', { usage })).stream(ask));
    expect(r.usage).toEqual(usage);
    const call = '{"tool_calls": [{"name": "get_time", "arguments": {}}]}';
    const chunks = await drain(withPromptedTools(new Scripted(call, { usage })).stream(ask));
    expect(chunks.at(-1)!.usage).toEqual(usage);
    expect(chunks.slice(0, -1).every((c) => !c.usage)).toBe(true);
    const none = await collect(
      withPromptedTools(new Scripted('{"content": "a b c"}', { usage: null })).stream(ask),
    );
    // Counted on what the model wrote, JSON included: that is what it spent.
    expect(none.usage).toMatchObject({ completion_tokens: 4, estimated: true });
  });

  it('drops a tool call that was aborted half-way', async () => {
    // Tool-call JSON is held until complete, so the abort reaches the engine first, which ends with 'abort'.
    const half = new Scripted('{"tool_calls": [{"name": "get_time", "argu', { finish: 'abort' });
    const chunks = await drain(withPromptedTools(half).stream(ask));
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('abort');
    expect(chunks.some((c) => c.choices[0]!.delta.tool_calls || c.choices[0]!.delta.content)).toBe(false);
    // Content streamed before an abort stays; nothing is added after it.
    const ctrl = new AbortController();
    const talk = withPromptedTools(new Scripted('{"content": "one two three four five six"}', { piece: 2 }));
    const got: ChatCompletionChunk[] = [];
    for await (const c of talk.stream(ask, ctrl.signal)) {
      got.push(c);
      if (c.choices[0]!.delta.content) ctrl.abort();
    }
    expect(got.at(-1)!.choices[0]!.finish_reason).toBe('abort');
    expect(got.map((c) => c.choices[0]!.delta.content ?? '').join('')).toBe('o');
  });

  it('leaves requests without tools, or with tool_choice none, to the engine as they are', async () => {
    const inner = new Scripted('{"content": "raw"}');
    const e = withPromptedTools(inner);
    const plain: ChatRequest = { messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 };
    const r = await collect(e.stream(plain));
    expect(r.choices[0]!.message.content).toBe('{"content": "raw"}');
    expect(inner.requests[0]).toEqual(plain);
    await collect(e.stream({ ...ask, tool_choice: 'none' }));
    expect(inner.requests[1]).toEqual({ messages: ask.messages });
    expect(e.info.supportsTools).toBe(true);
    expect(e.countTokens('a b')).toBe(2);
  });

  it('rewrites tool history for models without tool roles', async () => {
    const inner = new Scripted('{"content": "It is 12:00."}');
    await collect(
      withPromptedTools(inner).stream({
        messages: [
          { role: 'user', content: 'time?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_time', arguments: '{}' } }],
          },
          { role: 'tool', tool_call_id: 'c1', content: '12:00' },
        ],
        tools: [time],
      }),
    );
    expect(inner.requests[0]!.messages.slice(1)).toEqual([
      { role: 'user', content: 'time?' },
      { role: 'assistant', content: '{"tool_calls":[{"name":"get_time","arguments":{}}]}' },
      { role: 'user', content: 'Result of tool get_time: 12:00' },
    ]);
  });

  it('resumes a preempted answer inside its content string', async () => {
    // The inner engine re-prefills `{"content": "Hello` and carries on with the rest of the string.
    const inner = new Scripted(' world"}');
    const r = await collect(withPromptedTools(inner).stream({ ...ask, continuation: 'Hello' }));
    expect(inner.requests[0]!.continuation).toBe('{"content": "Hello');
    expect(r.choices[0]!.message.content).toBe(' world');
  });
});

describe('withPromptedTools for completion models (autoAsText)', () => {
  it('answers in plain text when a tool call is not required, and calls tools when it is', async () => {
    const seen: ChatRequest[] = [];
    const inner: ChatEngine = {
      info: { id: 'story', engine: 'test', contextWindow: 512, sizeBytes: 0, supportsTools: false },
      countTokens: (t) => t.length,
      async *stream(req) {
        seen.push(req);
        const text = req.response_format ? '{"tool_calls": [{"name": "time.now", "arguments": {}}]}' : 'Once';
        yield chunkMaker('x', 'story')({ role: 'assistant', content: text }, null);
        yield chunkMaker('x', 'story')({}, 'stop', {
          prompt_tokens: 1,
          completion_tokens: 1,
          total_tokens: 2,
        });
      },
    };
    const e = withPromptedTools(inner, { autoAsText: true });
    const tools: ToolSpec[] = [
      { type: 'function', function: { name: 'time.now', parameters: { type: 'object' } } },
    ];
    const messages: ChatMessage[] = [{ role: 'user', content: 'Once upon a time' }];
    const plain = await collect(e.stream({ messages, tools }));
    expect(plain.choices[0]!.message).toMatchObject({ content: 'Once' });
    expect(seen[0]!.tools).toBeUndefined();
    expect(seen[0]!.response_format).toBeUndefined();
    const called = await collect(e.stream({ messages, tools, tool_choice: 'required' }));
    expect(called.choices[0]!.finish_reason).toBe('tool_calls');
    expect(called.choices[0]!.message.tool_calls![0]!.function.name).toBe('time.now');
    expect(seen[1]!.response_format?.type).toBe('json_schema');
  });
});
