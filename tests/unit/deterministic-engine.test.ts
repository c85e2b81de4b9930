import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ChatCompletionChunk, collect } from '../../src/models/engine';
import { DeterministicEngine, tokenize } from '../../src/models/engines/deterministic';

const drain = async (it: AsyncIterable<ChatCompletionChunk>) => {
  const out: ChatCompletionChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
};

afterEach(() => vi.useRealTimers());

describe('deterministic engine', () => {
  const e = new DeterministicEngine();

  it('has its own tokenizer and counts with it', () => {
    expect(tokenize('hello, world')).toEqual(['hello', ',', ' ', 'world']);
    expect(e.countTokens('hello, world')).toBe(4);
  });

  it('echoes "say …", streams one token per chunk, and reports usage', async () => {
    const chunks = await drain(e.stream({ messages: [{ role: 'user', content: 'say hello there' }] }));
    expect(chunks.map((c) => c.choices[0]!.delta.content ?? '').join('')).toBe('hello there');
    expect(chunks.length).toBe(4); // 3 tokens + the final chunk
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: 6, completion_tokens: 3, total_tokens: 9 });
  });

  it('is deterministic for the same request and differs for another seed', async () => {
    const req = { messages: [{ role: 'user' as const, content: 'tell me something' }] };
    const a = await collect(e.stream(req));
    const b = await collect(e.stream(req));
    const c = await collect(e.stream({ ...req, seed: 7 }));
    expect(a.choices[0]!.message.content).toBe(b.choices[0]!.message.content);
    expect(a.choices[0]!.message.content).not.toBe(c.choices[0]!.message.content);
  });

  it('respects max_tokens with finish_reason length', async () => {
    const r = await collect(
      e.stream({ messages: [{ role: 'user', content: 'say a b c d e f' }], max_tokens: 3 }),
    );
    expect(r.choices[0]!.message.content).toBe('a b');
    expect(r.choices[0]!.finish_reason).toBe('length');
    expect(r.usage.completion_tokens).toBe(3);
  });

  it('calls a tool the user named, then reports the tool result', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'clock', description: 'time' } }];
    const r = await collect(e.stream({ messages: [{ role: 'user', content: 'use clock zone=UTC' }], tools }));
    expect(r.choices[0]!.finish_reason).toBe('tool_calls');
    const call = r.choices[0]!.message.tool_calls![0]!;
    expect(call.function).toEqual({ name: 'clock', arguments: '{"zone":"UTC"}' });
    const r2 = await collect(
      e.stream({
        messages: [
          { role: 'user', content: 'use clock' },
          { role: 'assistant', content: null, tool_calls: [call] },
          { role: 'tool', tool_call_id: call.id, content: '12:00' },
        ],
        tools,
      }),
    );
    expect(r2.choices[0]!.message.content).toBe('The tool clock returned: 12:00');
  });

  it('paces tokens at the configured decode speed and stops on abort', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const slow = new DeterministicEngine({ decodeTokensPerSecond: 10, prefillTokensPerSecond: 1e9 });
    const ctl = new AbortController();
    const got: string[] = [];
    const done = (async () => {
      for await (const c of slow.stream(
        { messages: [{ role: 'user', content: 'say a b c d e f g h' }] },
        ctl.signal,
      )) {
        got.push(c.choices[0]!.finish_reason ?? c.choices[0]!.delta.content ?? '');
      }
    })();
    await vi.advanceTimersByTimeAsync(350); // 100 ms per token
    expect(got).toEqual(['a', ' ', 'b']);
    ctl.abort();
    await vi.advanceTimersByTimeAsync(10);
    await done;
    expect(got.at(-1)).toBe('abort');
  });
});
