import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { SysError } from '../../src/abi/errors';
import { CheckpointStore, type KvStore, serialize } from '../../src/kernel/checkpoints';
import { type DB, openStore } from '../../src/memory/store';

let n = 0;
const fresh = () => `ckpt-test-${Date.now()}-${n++}`;

function kvOf(db: DB): KvStore {
  return {
    get: (k) => db.get('kv', k),
    put: async (k, v) => {
      await db.put('kv', v, k);
    },
    delete: (k) => db.delete('kv', k),
  };
}

async function open(name = fresh()) {
  const db = await openStore(name);
  const kv = kvOf(db);
  return { name, db, kv, store: new CheckpointStore(async () => kv) };
}

const code = async (p: Promise<unknown> | (() => unknown)) => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e instanceof SysError ? e.code : `not a SysError: ${e}`;
  }
  return 'no error';
};

describe('checkpoint store', () => {
  it('saves and loads back the exact state, with a seq that grows across store instances', async () => {
    const { name, db, store } = await open();
    const state = {
      turn: 3,
      messages: [{ role: 'user', content: 'héllo 🌍' }],
      nested: { a: [1, null, true] },
    };
    expect(await store.save(7, serialize(state))).toMatchObject({ seq: 1 });
    expect(await store.save(7, serialize({ ...state, turn: 4 }))).toMatchObject({ seq: 2 });
    db.close();
    // A new kernel (the OS reopened) reads the same database.
    const again = await open(name);
    const got = await again.store.load(7);
    expect(got).toMatchObject({ kind: 'ok', seq: 2, state: { ...state, turn: 4 } });
    expect(await again.store.save(7, serialize({ turn: 5 }))).toMatchObject({ seq: 3 });
    expect(await again.store.load(8)).toEqual({ kind: 'none' });
    // Another process that got the same pid (a session whose table was lost) never sees this state.
    expect(await again.store.load(7, 'someone else')).toEqual({ kind: 'none' });
    expect(await again.store.save(7, serialize({ mine: true }), 'someone else')).toMatchObject({ seq: 1 });
  });

  it('acknowledges a save only after the write committed, and a load waits for writes in flight', async () => {
    const { kv } = await open();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: KvStore = { ...kv, put: async (k, v) => gate.then(() => kv.put(k, v)) };
    const store = new CheckpointStore(async () => slow);
    let acked = false;
    const saving = store.save(1, serialize({ n: 1 })).then((r) => {
      acked = true;
      return r;
    });
    const loading = store.load(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(acked).toBe(false);
    expect(await kv.get('ckpt:1')).toBeUndefined();
    release();
    expect(await saving).toMatchObject({ seq: 1 });
    expect(await loading).toMatchObject({ kind: 'ok', seq: 1, state: { n: 1 } });
  });

  it('refuses what does not serialise (EINVAL) or is too big (E2BIG), keeping the previous checkpoint', async () => {
    const { store } = await open();
    await store.save(2, serialize({ keep: 'me' }));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [
      () => 1,
      cyclic,
      { n: Number.NaN },
      { m: new Map([[1, 2]]) },
      { u: undefined },
      { b: 10n },
      undefined,
      [Symbol('s')],
    ])
      expect(await code(() => serialize(bad))).toBe('EINVAL');
    expect(await code(() => serialize({ big: 'x'.repeat(2000) }, 1000))).toBe('E2BIG');
    const small = new CheckpointStore(async () => (await open()).kv, 100);
    expect(await code(small.save(2, JSON.stringify({ big: 'x'.repeat(200) })))).toBe('E2BIG');
    // A write that fails (the disk refuses it) also leaves the previous one.
    const { kv } = await open();
    const broken = new CheckpointStore(async () => ({
      ...kv,
      put: async () => {
        throw new DOMException('full', 'QuotaExceededError');
      },
    }));
    await new CheckpointStore(async () => kv).save(2, serialize({ keep: 'me' }));
    await expect(broken.save(2, serialize({ lost: true }))).rejects.toThrow();
    expect(await new CheckpointStore(async () => kv).load(2)).toMatchObject({ state: { keep: 'me' } });
    expect(await store.load(2)).toMatchObject({ kind: 'ok', state: { keep: 'me' } });
  });

  it('reports a corrupt record (bad checksum, unparsable text, foreign shape) instead of returning it', async () => {
    const { kv, store } = await open();
    await store.save(3, serialize({ ok: 1 }));
    const rec = (await kv.get('ckpt:3')) as { json: string };
    await kv.put('ckpt:3', { ...rec, json: rec.json.replace('1', '2') });
    expect(await store.load(3)).toMatchObject({ kind: 'corrupt', why: expect.stringMatching(/checksum/) });
    const { fnv1a } = await import('../../src/kernel/hash');
    await kv.put('ckpt:3', { ...rec, json: '{"ok":', sum: fnv1a('{"ok":') });
    expect(await store.load(3)).toMatchObject({ kind: 'corrupt', why: expect.stringMatching(/parse/) });
    await kv.put('ckpt:3', 'garbage');
    expect(await store.load(3)).toMatchObject({ kind: 'corrupt' });
    await store.drop(3);
    expect(await store.load(3)).toEqual({ kind: 'none' });
  });
});
