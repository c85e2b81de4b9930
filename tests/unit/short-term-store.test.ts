import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { SysError } from '../../src/abi/errors';
import type { KvStore } from '../../src/kernel/checkpoints';
import { ShortTermMemory } from '../../src/memory/short-term';
import { ShortTermStore } from '../../src/memory/short-term-store';
import { type DB, openStore } from '../../src/memory/store';

let n = 0;
const fresh = () => `stm-test-${Date.now()}-${n++}`;
const words = (t: string) => t.split(/\s+/).filter(Boolean).length;

function kvOf(db: DB): KvStore {
  return {
    get: (k) => db.get('kv', k),
    put: async (k, v) => {
      await db.put('kv', v, k);
    },
    delete: (k) => db.delete('kv', k),
  };
}

/** A kernel's view after a crash: a new store and a new memory, read from the same database. */
async function reread(name: string, pid: number) {
  const db = await openStore(name);
  const m = new ShortTermMemory(words);
  const found = await new ShortTermStore(async () => kvOf(db)).load(pid, m);
  db.close();
  return { found, entries: m.list().map((e) => ({ content: e.message.content, pinned: e.pinned })) };
}

describe('durable short-term memory', () => {
  it('after a crash mid-compression it is the state before; after the commit, the state after; pinned turns in both', async () => {
    const name = fresh();
    const db = await openStore(name);
    const store = new ShortTermStore(async () => kvOf(db));
    const m = new ShortTermMemory(words, 1);
    m.append({ role: 'system', content: 'you are a careful agent' }, true);
    for (let i = 0; i < 6; i++) {
      m.append({ role: 'user', content: `question number ${i} with some words in it` });
      await store.save(1, m);
    }
    const before = await reread(name, 1);
    expect(before.found).toBe(true);
    expect(before.entries).toHaveLength(7);

    let finish!: (s: string) => void;
    const compressing = m.compress(12, () => new Promise<string>((r) => (finish = r)));
    await new Promise((r) => setTimeout(r, 10));
    // The summary is not written yet: a crash now finds exactly the state before.
    expect(await reread(name, 1)).toEqual(before);
    finish('they asked six questions');
    const result = await compressing;
    expect(result.replaced.length).toBeGreaterThan(0);
    await store.save(1, m);
    const after = await reread(name, 1);
    expect(after.entries.length).toBeLessThan(before.entries.length);
    expect(after.entries[0]).toEqual({ content: 'you are a careful agent', pinned: true });
    expect(
      after.entries.some((e) => /Summary of earlier conversation: they asked/.test(e.content ?? '')),
    ).toBe(true);
    expect(after.entries.at(-1)).toEqual(before.entries.at(-1));
    db.close();
  });

  it('a write the disk refuses is ENOSPC and leaves the previous state; garbage on disk loads as nothing', async () => {
    const name = fresh();
    const db = await openStore(name);
    const kv = kvOf(db);
    const m = new ShortTermMemory(words);
    m.append({ role: 'user', content: 'kept' }, true);
    await new ShortTermStore(async () => kv).save(2, m);
    m.append({ role: 'user', content: 'not kept' });
    const full = new ShortTermStore(async () => ({
      ...kv,
      put: async () => {
        throw new DOMException('quota', 'QuotaExceededError');
      },
    }));
    const err = await full.save(2, m).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SysError);
    expect((err as SysError).code).toBe('ENOSPC');
    expect((await reread(name, 2)).entries).toEqual([{ content: 'kept', pinned: true }]);
    await kv.put('stm:3', { v: 1, entries: 'nope' });
    expect((await reread(name, 3)).found).toBe(false);
    // Ids continue after the saved ones: a restored memory never reuses an id.
    const back = new ShortTermMemory(words);
    await new ShortTermStore(async () => kv).load(2, back);
    expect(back.append({ role: 'user', content: 'new' }).id).toBeGreaterThan(back.list()[0]!.id);
    db.close();
  });
});
