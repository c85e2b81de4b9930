/** The kernel's tools.search ranks with long-term memory's embedder: the one recall uses. */
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { conceptEmbedder } from './concept-embedder';
import { boot, type Harness } from './harness';

let h: Harness | null = null;
afterEach(() => {
  h?.close();
  h = null;
});

describe('tools.search in the kernel', () => {
  it('ranks by meaning with memory’s embedder: "what hour is it" finds time.now', async () => {
    h = await boot({});
    const memory = await h.kernel.memory();
    memory.ltm.embedder = conceptEmbedder; // as if the user had chosen a sentence embedder
    const hits = await h.user.call<{ function: { name: string; description: string } }[]>('tools.search', {
      query: 'what hour is it',
      k: 1,
    });
    expect(hits[0]!.function.name).toBe('time.now');
    // No word of the query is in what was found.
    const found = `${hits[0]!.function.name} ${hits[0]!.function.description}`.toLowerCase();
    for (const w of ['what', 'hour', 'is', 'it']) expect(found.split(/[^a-z]+/)).not.toContain(w);
    const calc = await h.user.call<{ function: { name: string } }[]>('tools.search', {
      query: 'add up some numbers',
      k: 1,
    });
    expect(calc[0]!.function.name).toBe('math.evaluate');
  });
});
