/**
 * Reopening long-term memory from its snapshot: the keyword half of recall is there at once
 * (it used to fill in the background, so the first recall after a reload missed keyword hits),
 * the keyword index survives its binary form, and the episodic log continues from its newest
 * records.
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { HashingEmbedder } from '../../src/memory/embedder';
import { EpisodicLog } from '../../src/memory/episodic';
import { KeywordIndex } from '../../src/memory/keyword-index';
import { LongTermMemory } from '../../src/memory/long-term';
import { MemoryService } from '../../src/memory/service';
import { openStore } from '../../src/memory/store';
import { openVectorStore } from '../../src/memory/vector';

let n = 0;
const fresh = () => `ltm-reopen-${Date.now()}-${n++}`;

/** Random unit-free vectors: nothing a query's embedding could match, so only keywords find them. */
function noise(seed: number, dim = 384): Float32Array {
  let s = seed * 7919 + 1;
  const v = new Float32Array(dim);
  for (let i = 0; i < dim; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    v[i] = s / 0x7fffffff - 0.5;
  }
  return v;
}

describe('keyword index', () => {
  it('scores the same after serialize and load, and forgets documents by their text or in bulk', () => {
    const k = new KeywordIndex();
    const texts = [
      'the red fox jumps',
      'a red red apple',
      'blue sky over the fox',
      'nothing here',
      'über straße',
    ];
    for (const [i, t] of texts.entries()) k.add(i + 1, t);
    const back = KeywordIndex.load(k.serialize());
    for (const q of ['red fox', 'sky', 'über', 'absent'])
      expect([...back.score(q, 10)].sort()).toEqual([...k.score(q, 10)].sort());
    back.remove(2, texts[1]);
    expect(back.score('apple', 10).size).toBe(0);
    expect(back.score('red', 10).has(1)).toBe(true);
    back.removeAll([1, 3]);
    expect(back.score('fox', 10).size).toBe(0);
    expect(back.docs).toBe(2);
    expect(() => KeywordIndex.load(new Uint8Array(10))).toThrow(/keyword index snapshot/);
  });
});

/** BM25 as written in the textbook: every term over every document, no pruning. */
function naive(docs: Map<number, string>, query: string, limit: number): [number, number][] {
  const tok = (t: string): string[] => t.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const lens = new Map([...docs].map(([id, t]) => [id, tok(t).length]));
  const avg = [...lens.values()].reduce((a, b) => a + b, 0) / docs.size;
  const scores = new Map<number, number>();
  for (const w of new Set(tok(query))) {
    const has = [...docs].filter(([, t]) => tok(t).includes(w));
    const idf = Math.log(1 + (docs.size - has.length + 0.5) / (has.length + 0.5));
    for (const [id, t] of has) {
      const tf = tok(t).filter((x) => x === w).length;
      const len = lens.get(id)!;
      scores.set(id, (scores.get(id) ?? 0) + (idf * tf * 2.2) / (tf + 1.2 * (0.25 + (0.75 * len) / avg)));
    }
  }
  return [...scores].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, limit);
}

describe('keyword scoring', () => {
  it('gives the same best documents and scores as plain BM25, loaded or not, after removals and changes', () => {
    let seed = 3;
    const rnd = (m: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % m;
    };
    // Skewed word use: a few words are in almost every document, most are rare.
    const word = () => `w${Math.floor(400 * (rnd(10_000) / 10_000) ** 3)}`;
    const docs = new Map<number, string>();
    const k = new KeywordIndex();
    for (let id = 1; id <= 600; id++) {
      const t = Array.from({ length: 3 + rnd(8) }, word).join(' ');
      docs.set(id, t);
      k.add(id, t);
    }
    const loaded = KeywordIndex.load(k.serialize());
    for (const id of [5, 77, 300]) {
      loaded.remove(id, docs.get(id));
      docs.delete(id);
    }
    loaded.add(12, 'w1 w2 w399 freshword');
    docs.set(12, 'w1 w2 w399 freshword');
    const again = KeywordIndex.load(loaded.serialize());
    for (let q = 0; q < 60; q++) {
      // A rare word with common ones: what lets the scoring stop passing over every document.
      const query = `w${150 + rnd(250)} w0 w1 ${Array.from({ length: rnd(3) }, word).join(' ')}${q % 5 ? '' : ' freshword'}`;
      const limit = q % 2 ? 3 : 10;
      const want = naive(docs, query, limit);
      for (const index of [loaded, again]) {
        const got = [...index.score(query, limit)].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
        // Ties at the cut may pick either document: compare scores, and ids where scores differ.
        expect(got.map(([, s]) => s.toFixed(9))).toEqual(want.map(([, s]) => s.toFixed(9)));
        for (const [id, s] of got)
          expect(s).toBeCloseTo(naive(docs, query, 1000).find(([i]) => i === id)![1], 9);
      }
    }
  });
});

describe('a reopened memory', () => {
  it('finds keyword-only matches on its first recall, and forgets after the reopen', async () => {
    const db = await openStore(fresh());
    const e = new HashingEmbedder();
    const ltm = await LongTermMemory.open(db, e, { snapshots: true });
    const ids = await ltm.remember(
      Array.from({ length: 2000 }, (_, i) => ({
        namespace: 'notes',
        text: `note ${i} about topic ${i % 97}`,
        vector: noise(i),
      })),
    );
    await ltm.snapshot();
    const again = await LongTermMemory.open(db, e, { snapshots: true });
    expect(again.loadedFrom).toBe('snapshot');
    // No waiting: the very first recall already has the keyword index.
    const [top] = await again.recall('note 1234', { namespaces: ['notes'], k: 1 });
    expect(top?.text).toBe('note 1234 about topic 70');
    expect(await again.forget(ids[1234]!)).toBe(true);
    const after = await again.recall('note 1234', { namespaces: ['notes'], k: 5 });
    expect(after.some((h) => h.id === ids[1234])).toBe(false);
    // And the forget holds across another reopen (reconciled from the dirty list).
    const third = await LongTermMemory.open(db, e, { snapshots: true });
    expect(
      (await third.recall('note 1234', { namespaces: ['notes'], k: 5 })).some((h) => h.id === ids[1234]),
    ).toBe(false);
    expect(third.size).toBe(1999);
    db.close();
  });

  it('rebuilds from the records when the stored snapshot is of an older format, then saves a new one', async () => {
    const name = fresh();
    const db = await openStore(name);
    const e = new HashingEmbedder();
    const ltm = await LongTermMemory.open(db, e, { snapshots: true });
    await ltm.remember([{ namespace: 'n', text: 'the parrot speaks', vector: noise(1) }]);
    // What the previous version stored: a bare vector index, no keywords.
    const vectors = await openVectorStore();
    await vectors.save(`ltm:${e.id}`, new Uint8Array([0x41, 0x4f, 0x56, 0x49, 1, 0, 1, 0]));
    const again = await LongTermMemory.open(db, e, { snapshots: true });
    expect(again.loadedFrom).toBe('records');
    expect((await again.recall('parrot', { namespaces: ['n'], k: 1 }))[0]?.text).toBe('the parrot speaks');
    await again.snapshotIfChanged();
    expect((await LongTermMemory.open(db, e, { snapshots: true })).loadedFrom).toBe('snapshot');
    db.close();
  });
});

describe('the episodic log across a reopen', () => {
  it('comes back with its newest records, and this session numbers after them', async () => {
    const name = fresh();
    const e = new HashingEmbedder();
    const log1 = new EpisodicLog();
    const svc = await MemoryService.open(log1, { dbName: name, embedder: e });
    for (let i = 0; i < 6000; i++) log1.append(1, 'net', `event ${i}`);
    await svc.flush();
    svc.db.close();
    const log2 = new EpisodicLog();
    // Logged before storage opened (as the kernel does while it restores its session).
    log2.append(1, 'migrate', 'before the memory opened');
    const svc2 = await MemoryService.open(log2, { dbName: name, embedder: e });
    // Appended while the earlier records are still being read back (they load after the memory opens).
    log2.append(1, 'net', 'after the reopen');
    await svc2.episodesRestored;
    const back = log2.query();
    expect(back.length).toBe(5002);
    expect(back.slice(-3).map((x) => x.text)).toEqual([
      'event 5999',
      'before the memory opened',
      'after the reopen',
    ]);
    // In order, numbered after the earlier session's newest.
    expect(back.every((x, i) => i === 0 || x.seq > back[i - 1]!.seq)).toBe(true);
    expect(back.at(-2)?.seq).toBe(6001);
    await svc2.flush();
    // Both took numbers of their own and reached the disk: nothing of the earlier session was overwritten.
    const all = await svc2.db.getAll('episodes');
    expect(all.length).toBe(6002);
    expect(all.slice(-2).map((x) => x.text)).toEqual(['before the memory opened', 'after the reopen']);
    svc2.db.close();
  });
});
