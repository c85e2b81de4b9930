/** Group commit: concurrent remember() calls share transactions; each is acknowledged after its commit; a bad one fails alone. */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { HashingEmbedder } from '../../src/memory/embedder';
import { GroupCommit } from '../../src/memory/group-commit';
import { LongTermMemory } from '../../src/memory/long-term';
import { openStore } from '../../src/memory/store';

let n = 0;
const fresh = () => `group-commit-${Date.now()}-${n++}`;

describe('GroupCommit', () => {
  it('the first write goes at once; those arriving meanwhile share the next commit, within the budget', async () => {
    const groups: number[][] = [];
    let release: () => void = () => {};
    const gc = new GroupCommit<number, string>(
      async (group) => {
        groups.push(group);
        if (groups.length === 1) await new Promise<void>((r) => (release = r));
        return group.map((w) => `ok ${w}`);
      },
      (w) => w,
      10,
    );
    const first = gc.submit(1);
    const rest = [gc.submit(4), gc.submit(5), gc.submit(3)];
    let settled = false;
    void first.then(() => (settled = true));
    await Promise.resolve();
    expect(groups).toEqual([[1]]);
    expect(settled).toBe(false); // not acknowledged before its commit resolves
    release();
    expect(await Promise.all([first, ...rest])).toEqual(['ok 1', 'ok 4', 'ok 5', 'ok 3']);
    // 4 + 5 fit the budget of 10; 3 would not, so it took the next commit.
    expect(groups).toEqual([[1], [4, 5], [3]]);
  });

  it('a failed group is retried write by write, so only the bad write fails', async () => {
    const gc = new GroupCommit<number, number>(
      async (group) => {
        if (group.includes(13)) throw new Error('thirteen');
        return group.map((w) => w * 2);
      },
      () => 1,
      100,
    );
    const all = [1, 13, 2].map((w) => gc.submit(w));
    const got = await Promise.allSettled(all);
    expect(got.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((got[2] as PromiseFulfilledResult<number>).value).toBe(4);
  });
});

describe('remember() under concurrency', () => {
  it('64 concurrent batches commit in fewer transactions, all durable and recallable, each with its log record', async () => {
    const db = await openStore(fresh());
    let writes = 0;
    const open = db.transaction.bind(db);
    db.transaction = ((stores: never, mode?: IDBTransactionMode, o?: IDBTransactionOptions) => {
      if (mode === 'readwrite') writes++;
      return open(stores, mode, o);
    }) as typeof db.transaction;
    const ltm = await LongTermMemory.open(db, new HashingEmbedder());
    const calls = Array.from({ length: 64 }, (_, c) =>
      ltm.remember(
        Array.from({ length: 5 }, (_, i) => ({ namespace: 'n', text: `call ${c} item ${i} word${c}x${i}` })),
        (ids) => ({ t: Date.now(), pid: 1, kind: 'memory.write', text: `call ${c}`, data: { ids } }),
      ),
    );
    const ids = await Promise.all(calls);
    expect(writes).toBeLessThan(64);
    expect(new Set(ids.flat()).size).toBe(320);
    expect(await db.count('ltm')).toBe(320);
    const episodes = await db.getAll('episodes');
    expect(episodes.length).toBe(64);
    const forCall7 = episodes.find((e) => e.text === 'call 7')!;
    expect((forCall7.data as { ids: number[] }).ids).toEqual(ids[7]);
    expect((await ltm.recall('word7x3', { namespaces: ['n'], k: 1 }))[0]?.id).toBe(ids[7]![3]);
    db.close();
  });

  it('a write that cannot be stored fails alone; the others in its group are stored', async () => {
    const db = await openStore(fresh());
    const ltm = await LongTermMemory.open(db, new HashingEmbedder());
    const ok = (c: number) => ltm.remember([{ namespace: 'n', text: `fine ${c}` }]);
    const first = ok(0); // takes the first transaction; the next three wait and share one
    const results = await Promise.allSettled([
      first,
      ok(1),
      // A log record IndexedDB cannot clone: its transaction aborts.
      ltm.remember([{ namespace: 'n', text: 'bad' }], () => ({
        t: 0,
        pid: 1,
        kind: 'memory.write',
        text: 'bad',
        data: () => {},
      })),
      ok(2),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const texts = (await db.getAll('ltm')).map((r) => r.text).sort();
    expect(texts).toEqual(['fine 0', 'fine 1', 'fine 2']);
    expect(ltm.size).toBe(3);
    db.close();
  });
});
