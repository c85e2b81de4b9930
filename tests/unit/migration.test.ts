import 'fake-indexeddb/auto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { HostCommand, ProcInfo } from '../../src/abi/protocol';
import { SyscallClient } from '../../src/abi/syscall-client';
import { chooseHost, MAX_STRIKES, Migration } from '../../src/kernel/migration';
import { boot, runAgent, sleep, type TestProgram } from './harness';

describe('migration policy', () => {
  it('moves by default, lets a program opt out, and stops a crash loop', () => {
    const m = new Migration();
    const p = { pid: 1, restart: 'on-host-loss' as const, checkpointSeq: 0 };
    expect(m.onHostLost(p, 'closed', true, false, 'tab closed')).toEqual({ action: 'migrate' });
    expect(m.onHostLost(p, 'closed', false, true, 'tab closed')).toEqual({ action: 'sleep' });
    expect(m.onHostLost({ ...p, restart: 'never' }, 'closed', true, false, 'x')).toMatchObject({
      action: 'exit',
      restartable: false,
    });
    expect(m.onHostLost({ ...p, restart: 'never' }, 'closed', false, true, 'x')).toMatchObject({
      action: 'exit',
      restartable: true,
    });
    // A crashed host, and no checkpoint: it may be what crashed it.
    expect(m.onHostLost(p, 'crashed', true, false, 'x')).toMatchObject({ action: 'exit' });
    // Its sandbox process crashed, and crash-blame judged the culprit elsewhere (or bounds the suspects itself): it moves.
    expect(m.onHostLost(p, 'sandbox-crashed', true, false, 'x')).toEqual({ action: 'migrate' });
    expect(m.onHostLost(p, 'sandbox-crashed', true, false, 'x')).toEqual({ action: 'migrate' });
    const q = { ...p, pid: 2, checkpointSeq: 4 };
    expect(m.onHostLost(q, 'crashed', true, false, 'x')).toEqual({ action: 'migrate' });
    expect(m.onHostLost(q, 'crashed', true, false, 'x')).toMatchObject({ action: 'exit' });
    m.progressed(2);
    expect(m.onHostLost(q, 'crashed', true, false, 'x')).toEqual({ action: 'migrate' });
    expect(MAX_STRIKES).toBe(2);
    expect(m.onResumeCrash(3)).toEqual({ action: 'migrate' });
    expect(m.onResumeCrash(3)).toMatchObject({ action: 'exit', reason: expect.stringMatching(/third/) });
  });

  it('chooses the least-loaded visible host; hidden only when no visible one; never a non-host', () => {
    const t = (id: string, load: number, hidden = false, host = true) => ({
      id,
      load,
      hidden,
      host,
      gone: false,
    });
    expect(chooseHost([t('a', 3), t('b', 1), t('c', 2)])?.id).toBe('b');
    expect(chooseHost([t('a', 0, true), t('b', 5)])?.id).toBe('b');
    expect(chooseHost([t('a', 4, true), t('b', 1, true)])?.id).toBe('b');
    expect(chooseHost([t('a', 0, false, false)])).toBeNull();
    expect(chooseHost([{ ...t('a', 0), gone: true }])).toBeNull();
  });
});

/** A second tab on the same kernel that hosts agents. */
function addTab(
  h: Awaited<ReturnType<typeof boot>>,
  id: string,
  programs: Record<string, TestProgram> | null,
  lock: string | null = null,
) {
  const ch = new MessageChannel();
  h.kernel.attachTab(ch.port1);
  const sys = new SyscallClient(ch.port2);
  sys.onOther = (frame) => {
    if (frame.t !== 'host.start' || !programs) return; // null: a tab whose workers never start
    void runAgent((frame as Extract<HostCommand, { t: 'host.start' }>).port, programs);
  };
  ch.port2.postMessage({ t: 'hello', tabId: id, lock, host: true, version: 1 });
  return { sys, port: ch.port2 };
}

const procOf = async (h: Awaited<ReturnType<typeof boot>>, pid: number) =>
  (await h.user.call<ProcInfo[]>('ps')).find((p) => p.pid === pid)!;

async function until<T>(f: () => Promise<T> | T, ok: (v: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await f();
    if (ok(v)) return v;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await f())}`);
}

/** Spawns `program` and waits for its first checkpoint (it prints "saved"). */
async function spawnSaved(h: Awaited<ReturnType<typeof boot>>, program: string): Promise<number> {
  const { pid } = await h.user.call<{ pid: number }>('spawn', { task: 't', options: { program } });
  await until(
    () => h.user.call<string>('output', { pid }),
    (o) => o === 'saved\n',
    'a checkpoint',
  );
  return pid;
}

describe('kernel: agents outlive their tab', () => {
  // Kernels of earlier tests share the (fake) IndexedDB, and with it episodic records of the same pids.
  let t0 = 0;
  beforeEach(() => {
    t0 = Date.now();
  });
  const programs: Record<string, TestProgram> = {
    counter: async (ctx) => {
      const r = ctx.restored as { n: number } | null;
      if (!r) {
        for (let n = 1; n <= 3; n++) await ctx.checkpoint({ n });
        await ctx.print('saved\n');
      } else {
        await ctx.print(`restored ${r.n}\n`);
        const m = await ctx.bus.recv();
        await ctx.print(`got ${String(m.body)}\n`);
      }
      await new Promise(() => {});
    },
    // Takes a message, then its tab goes before it checkpoints: the message must come back.
    taker: async (ctx) => {
      if (ctx.restored) {
        const m = await ctx.bus.recv();
        await ctx.print(`again ${String(m.body)}\n`);
      } else {
        await ctx.checkpoint({ at: 'start' });
        const m = await ctx.bus.recv();
        await ctx.print(`took ${String(m.body)}\n`);
      }
      await new Promise(() => {});
    },
    fragile: async (ctx) => {
      if (ctx.restored) throw new Error('cannot handle my own checkpoint');
      await ctx.checkpoint({ ok: true });
      await ctx.print('saved\n');
      await new Promise(() => {});
    },
    bad: async (ctx) => {
      const out: string[] = [];
      out.push(String((await ctx.checkpoint({ good: 1 })).seq));
      for (const s of [{ f: () => 1 }, { big: 'x'.repeat(1024 * 1024 + 1) }]) {
        out.push(
          await ctx.checkpoint(s).then(
            () => 'ok',
            (e: { code?: string }) => e.code ?? 'none',
          ),
        );
      }
      out.push(
        await ctx.syscall('checkpoint', { json: '{not json' }).then(
          () => 'ok',
          (e: { code?: string }) => e.code ?? 'none',
        ),
      );
      await ctx.print(`${out.join(' ')}\n`);
      await new Promise(() => {});
    },
  };

  it('moves to another tab when its tab closes: same pid, last checkpoint, mailbox and capabilities intact', async () => {
    const h = await boot(programs);
    const pid = await h.user
      .call<{ pid: number }>('spawn', {
        task: 't',
        permissions: { tools: ['time.now'] },
        options: { program: 'counter' },
      })
      .then((r) => r.pid);
    await until(
      () => h.user.call<string>('output', { pid }),
      (o) => o === 'saved\n',
      'checkpoints',
    );
    addTab(h, 'tab-b', programs);
    await until(
      () => procOf(h, pid),
      (p) => p.checkpoint?.seq === 3,
      'seq 3',
    );
    // A message waits in its mailbox while it moves.
    await h.user.call('bus.send', { to: pid, body: 'hello' });
    (h.agentPorts.get(pid) as MessagePort).close();
    // Tab A says goodbye (closed): its agents move.
    h.user.port.postMessage({ t: 'bye' });
    const out = await until(
      () =>
        h.kernel.dispatch.invoke(
          {
            kind: 'user',
            pid: 0,
            caps: h.kernel.procs.get(pid).info.capabilities,
            tab: h.kernel.tabs.get('tab-b')!,
          },
          'output',
          { pid },
        ) as Promise<string>,
      (o) => o.includes('got hello'),
      'the moved agent',
    );
    expect(out).toBe('saved\nrestored 3\ngot hello\n');
    const p = h.kernel.procs.get(pid).info;
    expect(p).toMatchObject({ hostTab: 'tab-b', migrations: 1, restarts: 1 });
    expect(p.state).toMatch(/running|waiting/);
    expect(p.capabilities.tools).toEqual(['time.now']);
    h.close();
  });

  it('a message taken but not yet checkpointed goes back to the mailbox when the agent moves', async () => {
    const h = await boot(programs);
    const { pid } = await h.user.call<{ pid: number }>('spawn', { task: 't', options: { program: 'taker' } });
    await until(
      () => procOf(h, pid),
      (p) => p.checkpoint?.seq !== undefined,
      'checkpoint',
    );
    await h.user.call('bus.send', { to: pid, body: 'once' });
    await until(
      () => h.user.call<string>('output', { pid }),
      (o) => o === 'took once\n',
      'taken',
    );
    const b = addTab(h, 'tab-b', programs);
    await b.sys.call('subscribe');
    h.user.port.postMessage({ t: 'bye' });
    const out = await until(
      () => b.sys.call<string>('output', { pid }),
      (o) => o.includes('again'),
      'put back',
    );
    expect(out).toBe('took once\nagain once\n');
    h.close();
  });

  it('a closing tab whose bye arrives after its lock was released counts as closed: an agent with no checkpoint moves, not ends', async () => {
    // Web Locks as the kernel sees them: a tab's lock is granted to the kernel when that tab is gone.
    const released = new Map<string, () => void>();
    const locks = {
      request: (name: string, cb: () => void) => {
        released.set(name, cb);
        return new Promise<void>(() => {});
      },
    } as unknown as LockManager;
    const h = await boot(
      {
        plain: async (ctx) => {
          await ctx.print('up\n');
          await ctx.bus.recv({ timeoutMs: 60_000 }).catch(() => {});
        },
      },
      { locks },
    );
    const a = addTab(
      h,
      'tab-a',
      { plain: async (ctx) => void (await ctx.bus.recv({ timeoutMs: 60_000 }).catch(() => {})) },
      'lock-a',
    );
    await a.sys.call('subscribe');
    await h.user.call('tab.visibility', { hidden: true }); // tab-a (visible) hosts
    const { pid } = await h.user.call<{ pid: number }>('spawn', { task: 't', options: { program: 'plain' } });
    await until(
      () => procOf(h, pid),
      (p) => p.hostTab === 'tab-a' && p.state !== 'ready',
      'hosted on tab-a',
    );
    // The lock is released first, then the bye comes.
    released.get('lock-a')!();
    a.port.postMessage({ t: 'bye' });
    const p = await until(
      () => procOf(h, pid),
      (q) => q.hostTab === 'test-tab' || q.state === 'exited',
      'moved or ended',
    );
    expect(p.state).not.toBe('exited');
    expect(p.hostTab).toBe('test-tab');
    const lost = h.kernel.episodes
      .query({ pid, since: t0 })
      .map((e) => e.text)
      .join('\n');
    expect(lost).toMatch(/tab-a|closed/);
    expect(lost).not.toMatch(/crashed/);
    h.close();
  });

  it('a hidden tab gets agents only when no visible tab can host them', async () => {
    const h = await boot(programs);
    const b = addTab(h, 'tab-b', programs);
    await b.sys.call('subscribe');
    const spawn = async () =>
      (await h.user.call<{ pid: number }>('spawn', { task: 't', options: { program: 'counter' } })).pid;
    // A (the harness tab) is hidden; B is visible: B hosts, however loaded.
    await h.user.call('tab.visibility', { hidden: true });
    const hosts: (string | null)[] = [];
    for (let i = 0; i < 3; i++) {
      const pid = await spawn();
      hosts.push(
        (
          await until(
            () => procOf(h, pid),
            (p) => !!p.hostTab,
            'a host',
          )
        ).hostTab,
      );
    }
    expect(hosts).toEqual(['tab-b', 'tab-b', 'tab-b']);
    // Both hidden: the least loaded (A) hosts.
    await b.sys.call('tab.visibility', { hidden: true });
    const pid = await spawn();
    expect(
      (
        await until(
          () => procOf(h, pid),
          (p) => !!p.hostTab,
          'a host',
        )
      ).hostTab,
    ).toBe('test-tab');
    h.close();
  });

  it('a corrupt checkpoint: the agent starts fresh with restored === null and an episodic record says why', async () => {
    const h = await boot(programs);
    const pid = await spawnSaved(h, 'counter');
    const { db } = await h.kernel.memory();
    const rec = (await db.get('kv', `ckpt:${pid}`)) as { json: string };
    await db.put('kv', { ...rec, json: rec.json.replace('3', '4') }, `ckpt:${pid}`); // a flipped byte
    const b = addTab(h, 'tab-b', programs);
    await b.sys.call('subscribe');
    h.user.port.postMessage({ t: 'bye' });
    // restored === null: the program takes its first-start path again.
    await until(
      () => b.sys.call<string>('output', { pid }),
      (o) => o === 'saved\nsaved\n',
      'a fresh start',
    );
    const why = h.kernel.episodes.query({ pid, kind: 'checkpoint', since: t0 }).map((e) => e.text);
    expect(why).toEqual([
      expect.stringMatching(/unusable \(checksum mismatch in checkpoint 3\): started fresh/),
    ]);
    h.close();
  });

  it('refuses a bad checkpoint with EINVAL or E2BIG and keeps the previous one', async () => {
    const h = await boot(programs);
    const { pid } = await h.user.call<{ pid: number }>('spawn', { task: 't', options: { program: 'bad' } });
    const out = await until(
      () => h.user.call<string>('output', { pid }),
      (o) => o.endsWith('\n'),
      'output',
    );
    const [seq, ...codes] = out.trim().split(' ');
    expect(codes).toEqual(['EINVAL', 'E2BIG', 'EINVAL']);
    const owner = `${pid}@${h.kernel.procs.get(pid).info.startTime}`;
    expect(await h.kernel.durable.checkpoints.load(pid, owner)).toMatchObject({
      kind: 'ok',
      seq: Number(seq),
      state: { good: 1 },
    });
    h.close();
  });

  it('a program that crashes on resume twice in a row is not restarted a third time', async () => {
    const h = await boot(programs);
    const pid = await spawnSaved(h, 'fragile');
    addTab(h, 'tab-b', programs);
    await sleep(20);
    h.user.port.postMessage({ t: 'bye' });
    const p = await until(
      () => h.kernel.procs.get(pid).info,
      (i) => i.state === 'exited',
      'exit',
    );
    expect(p.exitCode).toBe(1);
    expect(p.exitReason).toMatch(/crashed on resume 2 times in a row; not restarted a third time/);
    expect(p.restarts).toBe(2);
    const logs = h.kernel.episodes.query({ pid, since: t0 }).map((e) => e.text);
    expect(logs.filter((t) => /^exited/.test(t))).toHaveLength(1);
    h.close();
  });

  it('two kills racing on a sleeping agent: one exit, one code', async () => {
    const h = await boot(programs);
    const pid = await spawnSaved(h, 'counter');
    const other = addTab(h, 'tab-b', null); // its agents never boot: they stay mid-move
    other.sys.call('subscribe');
    h.user.port.postMessage({ t: 'bye' });
    await until(
      () => h.kernel.procs.get(pid).info.state,
      (s) => s !== 'running' && s !== 'waiting',
      'moving',
    );
    const r = await Promise.allSettled([
      other.sys.call('kill', { pid, signal: 'KILL' }),
      other.sys.call('kill', { pid, signal: 'TERM' }),
    ]);
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'fulfilled']);
    const info = h.kernel.procs.get(pid).info;
    expect(info.state).toBe('exited');
    expect(info.exitCode).toBe(137);
    expect(h.kernel.episodes.query({ pid, since: t0 }).filter((e) => e.kind === 'exit')).toHaveLength(1);
    h.close();
  });
});
