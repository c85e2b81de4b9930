/**
 * One bad call never bricks long-term memory: vectors are checked before anything is
 * written; a bad record already in the store is quarantined on load (said in the log),
 * the rest carries on, and `forget` still works. Bytes per write and in total are limits.
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { bootKernel } from '../../src/kernel/boot';
import { HashingEmbedder } from '../../src/memory/embedder';
import { EpisodicLog } from '../../src/memory/episodic';
import { LongTermMemory } from '../../src/memory/long-term';
import { MemoryService } from '../../src/memory/service';
import { openStore } from '../../src/memory/store';
import { boot, sleep } from './harness';
import { outcome } from './outcome';

let n = 0;
const fresh = () => `mem-safety-${Date.now()}-${n++}`;

describe('long-term memory refuses bad vectors before writing', () => {
  it('zero, NaN, Infinity and the wrong dimension are EINVAL and nothing is stored; the store keeps working', async () => {
    const db = await openStore(fresh());
    const ltm = await LongTermMemory.open(db, new HashingEmbedder());
    const item = (vector: Float32Array | number[]) => [{ namespace: 'user', text: 'x', vector }];
    expect(await outcome(ltm.remember(item(new Float32Array(384))))).toBe('EINVAL');
    expect(await outcome(ltm.remember(item(new Float32Array(384).fill(Number.NaN))))).toBe('EINVAL');
    expect(await outcome(ltm.remember(item(new Float32Array(384).fill(Number.POSITIVE_INFINITY))))).toBe(
      'EINVAL',
    );
    expect(await outcome(ltm.remember(item(new Float32Array(12).fill(1))))).toBe('EINVAL');
    // A batch with one bad item writes none of it.
    const good = new HashingEmbedder().embedOne('good');
    expect(
      await outcome(
        ltm.remember([
          { namespace: 'user', text: 'good', vector: good },
          { namespace: 'user', text: 'bad', vector: new Float32Array(384) },
        ]),
      ),
    ).toBe('EINVAL');
    expect(await db.count('ltm')).toBe(0);
    // Huge finite values normalise without overflow; a view over a big buffer stores only its own floats.
    const view = new Float32Array(new ArrayBuffer(8 << 20), 4096, 384).fill(3e38);
    const [id] = await ltm.remember(item(view));
    const rec = await db.get('ltm', id!);
    expect((rec!.vector as ArrayBuffer).byteLength).toBe(384 * 4);
    const [id2] = await ltm.remember([{ namespace: 'user', text: 'apples and pears', metadata: {} }]);
    expect((await ltm.recall('apples', { namespaces: ['user'] }))[0]?.id).toBe(id2);
    db.close();
  });

  it('a bad record already in the store is quarantined on load, said in the log; recall and forget carry on', async () => {
    const name = fresh();
    const db = await openStore(name);
    const e = new HashingEmbedder();
    const base = { namespace: 'user', metadata: {}, embedder: e.id, createdAt: 1, updatedAt: 1 };
    const goodId = await db.add('ltm', {
      ...base,
      text: 'bananas are yellow',
      vector: e.embedOne('bananas are yellow').buffer as ArrayBuffer,
    });
    const zeroId = await db.add('ltm', { ...base, text: 'zero', vector: new Float32Array(384).buffer });
    const nanId = await db.add('ltm', {
      ...base,
      text: 'nan',
      vector: new Float32Array(384).fill(Number.NaN).buffer,
    });
    const shortId = await db.add('ltm', {
      ...base,
      text: 'short',
      vector: new Float32Array(3).fill(1).buffer,
    });
    db.close();
    const episodes = new EpisodicLog();
    const svc = await MemoryService.open(episodes, { dbName: name, embedder: e });
    expect([...svc.ltm.quarantined.keys()].sort()).toEqual([zeroId, nanId, shortId].sort());
    const said = episodes.query({ kind: 'memory.quarantine' }).map((x) => x.text);
    expect(said.join('\n')).toMatch(new RegExp(`memory ${zeroId} quarantined: .*zero vector`));
    expect((await svc.ltm.recall('bananas', { namespaces: ['user'] })).map((h) => h.id)).toEqual([goodId]);
    expect(svc.ltm.namespaceOf(zeroId)).toBe('user');
    expect(await svc.ltm.forget(zeroId)).toBe(true);
    expect(svc.ltm.quarantined.has(zeroId)).toBe(false);
    // Updating a quarantined record's text gives it a fresh vector: back in recall.
    await svc.ltm.update(nanId, { text: 'cherries are red' });
    expect(svc.ltm.quarantined.has(nanId)).toBe(false);
    expect((await svc.ltm.recall('cherries', { namespaces: ['user'] }))[0]?.id).toBe(nanId);
    const [added] = await svc.ltm.remember([{ namespace: 'user', text: 'still writable' }]);
    expect(added).toBeGreaterThan(shortId as number);
    await svc.flush();
    svc.db.close();
  });
});

describe('quarantine with a snapshot of the index', () => {
  it('a bad record at or below the snapshot’s watermark is found, quarantined and forgettable', async () => {
    const name = fresh();
    const e = new HashingEmbedder();
    const svc = await MemoryService.open(new EpisodicLog(), { dbName: name, embedder: e });
    await svc.ltm.remember([{ namespace: 'user', text: 'plums are purple' }]);
    const bad = await svc.db.add('ltm', {
      namespace: 'user',
      text: 'poison',
      metadata: {},
      embedder: e.id,
      vector: new Float32Array(384).buffer,
      createdAt: 1,
      updatedAt: 1,
    });
    await svc.ltm.snapshot(); // its watermark now covers the poison, which the index never held
    await svc.flush();
    svc.db.close();
    const again = await MemoryService.open(new EpisodicLog(), { dbName: name, embedder: e });
    expect(again.ltm.loadedFrom).toBe('snapshot');
    expect([...again.ltm.quarantined.keys()]).toEqual([bad]);
    expect(await again.ltm.forget(bad as number)).toBe(true);
    expect((await again.ltm.recall('plums', { namespaces: ['user'] }))[0]?.text).toBe('plums are purple');
    await again.flush();
    again.db.close();
  });
});

describe('memory limits through the kernel', () => {
  it('an all-zero vector from an agent is EINVAL and the next call still works; bytes per write and in total are limits', async () => {
    const h = await boot({
      writer: async (ctx) => {
        const r = (items: unknown[]) => outcome(ctx.syscall('memory.remember', { items }));
        const out = {
          zero: await r([{ text: 'z', vector: new Float32Array(384) }]),
          after: await r([{ text: 'fine' }]),
          big: await r([{ text: 'x'.repeat(3000) }]),
          view: await r([{ text: 'v', vector: new Float32Array(new ArrayBuffer(16 << 20), 0, 384).fill(1) }]),
          total: [] as string[],
        };
        for (let i = 0; i < 6; i++) out.total.push(await r([{ text: 'y'.repeat(1000) }]));
        await ctx.print(JSON.stringify(out));
      },
    });
    const pid = (
      await h.user.call<{ pid: number }>('spawn', {
        task: 't',
        permissions: { limits: { memoryWriteBytes: 4000, memoryBytes: 10_000 } },
        options: { program: 'writer' },
      })
    ).pid;
    await h.user.call('wait', { pid, timeoutMs: 20_000 });
    const out = JSON.parse(await h.user.call<string>('output', { pid }));
    expect(out.zero).toBe('EINVAL');
    expect(out.after).toBe('ok');
    expect(out.big).toBe('E2BIG'); // 6,000 bytes of text in one write
    expect(out.view).toBe('ok'); // the view was made 384 floats of its own by the check
    expect(out.total.slice(0, 3)).toEqual(['ok', 'ok', 'ok']);
    expect(out.total).toContain('EDQUOT');
    const quota = await h.user.call<{ text: string }[]>('logs', { pid, kind: 'quota' });
    expect(quota.map((q) => q.text).join('\n')).toMatch(/limits\.memoryWriteBytes/);
    // The user's memory calls keep working.
    expect(await h.user.call('memory.recall', { query: 'fine', namespaces: [`agent:${pid}`] })).toBeTruthy();
    h.close();
  });
});

describe('orphans across a reopening', () => {
  it('an orphan is not restarted when the OS is reopened; what the user started with on-host-loss is, with its children', async () => {
    const h = await boot(
      {
        idle: async (ctx) => {
          await ctx.bus.recv({ timeoutMs: 60_000 }).catch(() => {});
        },
        leaver: async (ctx) => {
          await ctx.print(
            String(await ctx.spawn('orphan', undefined, { program: 'idle', restart: 'on-host-loss' })),
          );
        },
        keeper: async (ctx) => {
          await ctx.print(
            String(await ctx.spawn('kid', undefined, { program: 'idle', restart: 'on-host-loss' })),
          );
          await ctx.bus.recv({ timeoutMs: 60_000 }).catch(() => {});
        },
      },
      { persist: true },
    );
    await h.kernel.ready;
    const spawn = async (program: string) =>
      (
        await h.user.call<{ pid: number }>('spawn', {
          task: 't',
          options: { program, restart: 'on-host-loss' },
        })
      ).pid;
    const leaver = await spawn('leaver');
    await h.user.call('wait', { pid: leaver, timeoutMs: 10_000 });
    const orphan = Number(await h.user.call<string>('output', { pid: leaver }));
    const keeper = await spawn('keeper');
    let kid = 0;
    for (let i = 0; i < 100 && !kid; i++) {
      await sleep(20);
      kid = Number(await h.user.call<string>('output', { pid: keeper })) || 0;
    }
    expect(h.kernel.procs.get(orphan).info).toMatchObject({ ppid: 0, adoptedFrom: leaver });
    await h.kernel.flushState();
    h.close();
    const k2 = bootKernel({ locks: null, persist: true });
    await k2.ready;
    expect(k2.procs.get(orphan).info).toMatchObject({
      state: 'exited',
      restartable: true,
      adoptedFrom: leaver,
    });
    // Durable agents resume from their checkpoint on reopening (no tab yet here: still resuming).
    expect(k2.procs.get(keeper).info.state).toBe('resuming');
    expect(k2.procs.get(kid).info.state).toBe('resuming');
  });
});
