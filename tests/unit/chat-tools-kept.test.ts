import { describe, expect, it } from 'vitest';
import type { ToolSpec } from '../../src/abi/chat';
import { keepOffered } from '../../src/workers/programs/chat-agent';

const tool = (name: string): ToolSpec => ({
  type: 'function',
  function: { name, description: name, parameters: { type: 'object', properties: {} } },
});
const names = (ts: ToolSpec[]) => ts.map((t) => t.function.name);

describe('the chat agent keeps the tools it offered, so its prompt head stays the same', () => {
  it('a later message that finds other tools appends them; the earlier ones stay first, in order', () => {
    const kept: ToolSpec[] = [];
    expect(names(keepOffered(kept, [tool('math.evaluate'), tool('time.now')]))).toEqual([
      'math.evaluate',
      'time.now',
    ]);
    expect(names(keepOffered(kept, [tool('http.fetch'), tool('math.evaluate')]))).toEqual([
      'math.evaluate',
      'time.now',
      'http.fetch',
    ]);
    // A message that finds nothing new leaves the list exactly as it was.
    const a = keepOffered(kept, [tool('time.now')]);
    const b = keepOffered(kept, []);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });

  it('past the cap the oldest tool makes room', () => {
    const kept: ToolSpec[] = [];
    keepOffered(kept, [tool('a'), tool('b'), tool('c')], 3);
    expect(names(keepOffered(kept, [tool('d')], 3))).toEqual(['b', 'c', 'd']);
  });
});
