import { describe, expect, it } from 'vitest';
import { ShortTermMemory } from '../../src/memory/short-term';
import { tokenize } from '../../src/models/engines/deterministic';

const count = (t: string) => tokenize(t).length;

describe('short-term memory', () => {
  it('counts tokens with the model tokenizer and keeps pinned and recent turns when compressing', async () => {
    const m = new ShortTermMemory(count, 2);
    m.append({ role: 'system', content: 'You are careful.' }, true);
    for (let i = 0; i < 10; i++)
      m.append({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i} ${'word '.repeat(20)}` });
    const before = m.tokens();
    expect(before).toBe(m.list().reduce((n, e) => n + 1 + count(e.message.content ?? ''), 0));
    const seen: string[] = [];
    const r = await m.compress(120, async (msgs, max) => {
      seen.push(...msgs.map((x) => x.content ?? ''));
      expect(max).toBeGreaterThan(0);
      return 'they talked about words';
    });
    expect(r.before).toBe(before);
    expect(r.after).toBeLessThanOrEqual(120);
    expect(r.after).toBe(m.tokens());
    const contents = m.messages().map((x) => x.content);
    expect(contents[0]).toBe('You are careful.');
    expect(contents[1]).toBe('Summary of earlier conversation: they talked about words');
    expect(contents.slice(-2).map((c) => c?.slice(0, 6))).toEqual(['turn 8', 'turn 9']);
    // What was replaced is handed back whole, for the episodic log.
    expect(r.replaced.map((e) => e.message.content)).toEqual(seen);
  });

  it('does nothing when it already fits or nothing may be replaced', async () => {
    const m = new ShortTermMemory(count, 4);
    m.append({ role: 'user', content: 'hi' });
    expect((await m.compress(100, async () => 'x')).replaced).toEqual([]);
    expect((await m.compress(0, async () => 'x')).replaced).toEqual([]);
  });
});
