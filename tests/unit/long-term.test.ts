import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { describe, expect, it } from 'vitest';
import { HashingEmbedder } from '../../src/memory/embedder';
import { LongTermMemory } from '../../src/memory/long-term';
import { DB_VERSION, openStore } from '../../src/memory/store';

let n = 0;
const fresh = () => `ltm-test-${Date.now()}-${n++}`;

describe('store schema', () => {
  it('migrates a version-1 database to the current one, keeping its records', async () => {
    const name = fresh();
    // A database as version 1 of the schema made it.
    const v1 = await openDB(name, 1, {
      upgrade(db) {
        const ltm = db.createObjectStore('ltm', { keyPath: 'id', autoIncrement: true });
        ltm.createIndex('namespace', 'namespace');
        db.createObjectStore('episodes', { keyPath: 'seq', autoIncrement: true });
        db.createObjectStore('kv');
      },
    });
    await v1.add('ltm', {
      namespace: 'user',
      text: 'old memory',
      metadata: {},
      embedder: 'hash-384-v1',
      vector: new HashingEmbedder().embedOne('old memory').buffer,
      createdAt: 1,
      updatedAt: 1,
    });
    v1.close();
    const db = await openStore(name);
    expect(db.version).toBe(DB_VERSION);
    expect([...db.transaction('ltm').store.indexNames]).toEqual([]);
    expect([...db.transaction('episodes').store.indexNames].sort()).toEqual(['kind', 'pid', 't']);
    const ltm = await LongTermMemory.open(db, new HashingEmbedder());
    expect((await ltm.recall('old memory', { namespaces: ['user'] }))[0]?.text).toBe('old memory');
    db.close();
  });
});

describe('long-term memory', () => {
  const setup = async () => {
    const db = await openStore(fresh());
    return { db, ltm: await LongTermMemory.open(db, new HashingEmbedder()) };
  };

  it('recall is hybrid: keywords and vectors, limited to the namespaces given, filtered by metadata', async () => {
    const { ltm } = await setup();
    const ids = await ltm.remember([
      { namespace: 'a', text: 'The deploy key lives in the vault', metadata: { kind: 'secret' } },
      { namespace: 'a', text: 'Lunch is served at noon', metadata: { kind: 'food' } },
      { namespace: 'a', text: 'Deployment happens every Friday', metadata: { kind: 'process' } },
      { namespace: 'b', text: 'The deploy key of team B is elsewhere', metadata: { kind: 'secret' } },
    ]);
    const hits = await ltm.recall('where is the deploy key', { namespaces: ['a'], k: 3 });
    expect(hits[0]!.id).toBe(ids[0]);
    expect(hits.every((h) => h.namespace === 'a')).toBe(true);
    expect(hits[0]!.keywordScore).toBeGreaterThan(0);
    expect(hits[0]!.vectorScore).toBeGreaterThan(hits.at(-1)!.vectorScore);
    // Word forms match through character trigrams: "deploying" finds "Deployment".
    const forms = await ltm.recall('deploying', { namespaces: ['a'], k: 1, filter: { kind: 'process' } });
    expect(forms[0]!.id).toBe(ids[2]);
    expect(await ltm.recall('deploy key', { namespaces: [] })).toEqual([]);
  });

  it('recency breaks ties between equally relevant memories', async () => {
    const { ltm } = await setup();
    const [old] = await ltm.remember([{ namespace: 'n', text: 'meeting notes about the roadmap' }]);
    await new Promise((r) => setTimeout(r, 20));
    const [recent] = await ltm.remember([{ namespace: 'n', text: 'meeting notes about the roadmap' }]);
    const hits = await ltm.recall('roadmap meeting', { namespaces: ['n'], k: 2, recencyHalfLifeMs: 10 });
    expect(hits.map((h) => h.id)).toEqual([recent, old]);
  });

  it('forget and update change the store and both indexes; a reopened memory sees the same', async () => {
    const { db, ltm } = await setup();
    const [a, b] = await ltm.remember([
      { namespace: 'n', text: 'the cat sleeps on the sofa' },
      { namespace: 'n', text: 'the dog barks at night' },
    ]);
    expect(await ltm.forget(a!)).toBe(true);
    expect(await ltm.forget(a!)).toBe(false);
    await ltm.update(b!, { text: 'the parrot sings in the morning', metadata: { bird: true } });
    const again = await LongTermMemory.open(db, new HashingEmbedder());
    for (const m of [ltm, again]) {
      expect(m.size).toBe(1);
      expect((await m.recall('cat sofa', { namespaces: ['n'] })).some((h) => h.id === a)).toBe(false);
      const hit = (await m.recall('parrot morning', { namespaces: ['n'], k: 1 }))[0]!;
      expect(hit).toMatchObject({ id: b, text: 'the parrot sings in the morning', metadata: { bird: true } });
    }
    await expect(ltm.update(999, { text: 'x' })).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses vectors of the wrong dimension, storing nothing of the batch', async () => {
    const { db, ltm } = await setup();
    await expect(
      ltm.remember([
        { namespace: 'n', text: 'ok' },
        { namespace: 'n', text: 'bad', vector: [1, 2, 3] },
      ]),
    ).rejects.toMatchObject({
      code: 'EINVAL',
    });
    expect(await db.count('ltm')).toBe(0);
    expect(ltm.size).toBe(0);
  });

  it('re-indexes under a new embedder in the background with progress, and never mixes vectors', async () => {
    const { db, ltm } = await setup();
    await ltm.remember(
      Array.from({ length: 600 }, (_, i) => ({
        namespace: 'n',
        text: `note number ${i} about topic ${i % 7}`,
      })),
    );
    const progress: number[] = [];
    const next = new HashingEmbedder(128);
    await ltm.reindex(next, (done) => progress.push(done));
    expect(progress).toEqual([256, 512, 600]);
    expect(ltm.embedder.id).toBe('hash-128-v1');
    const records = await db.getAll('ltm');
    expect(new Set(records.map((r) => r.embedder))).toEqual(new Set(['hash-128-v1']));
    expect(records.every((r) => r.vector.byteLength === 128 * 4)).toBe(true);
    expect((await ltm.recall('note number 42', { namespaces: ['n'], k: 1 }))[0]!.text).toBe(
      'note number 42 about topic 0',
    );
    // Opened with the old embedder, nothing matches its vectors: zero, not a mix.
    expect((await LongTermMemory.open(db, new HashingEmbedder())).size).toBe(0);
  });
});

describe('index snapshots', () => {
  it('a reopened memory loads the snapshot and reconciles what changed after it', async () => {
    const db = await openStore(fresh());
    const e = new HashingEmbedder();
    const ltm = await LongTermMemory.open(db, e, { snapshots: true });
    expect(ltm.loadedFrom).toBe('records');
    const ids = await ltm.remember(
      Array.from({ length: 300 }, (_, i) => ({
        namespace: i % 2 ? 'odd' : 'even',
        text: `record ${i} word${i}`,
      })),
    );
    await ltm.snapshot();
    // After the snapshot: one forgotten, one updated, two added.
    await ltm.forget(ids[10]!);
    await ltm.update(ids[11]!, { text: 'completely rewritten parrot' });
    const [n1, n2] = await ltm.remember([
      { namespace: 'even', text: 'newcomer alpha' },
      { namespace: 'odd', text: 'newcomer beta' },
    ]);
    const again = await LongTermMemory.open(db, e, { snapshots: true });
    expect(again.loadedFrom).toBe('snapshot');
    expect(again.size).toBe(301);
    expect(
      (await again.recall('word10', { namespaces: ['even', 'odd'], k: 3 })).some((h) => h.id === ids[10]),
    ).toBe(false);
    expect((await again.recall('rewritten parrot', { namespaces: ['odd'], k: 1 }))[0]!.id).toBe(ids[11]);
    expect((await again.recall('newcomer alpha', { namespaces: ['even'], k: 1 }))[0]!.id).toBe(n1);
    expect((await again.recall('newcomer beta', { namespaces: ['odd'], k: 1 }))[0]!.id).toBe(n2);
    expect((await again.recall('word42', { namespaces: ['even'], k: 1 }))[0]!.id).toBe(ids[42]);
    // Namespaces came back with the snapshot: 'odd' holds none of the even records.
    expect((await again.recall('word42', { namespaces: ['odd'], k: 5 })).some((h) => h.id === ids[42])).toBe(
      false,
    );
  });
});
