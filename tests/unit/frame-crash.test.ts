/**
 * A tab's agent frames' sandbox process crashed (the tab lives on): crash-blame
 * and durable migration together. The culprit exits 137 and is not restarted;
 * the others move from their checkpoints (even without one: they are not what
 * crashed it), suspects to different tabs.
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import type { HostCommand } from '../../src/abi/protocol';
import { SyscallClient } from '../../src/abi/syscall-client';
import { boot, runAgent, sleep, type TestProgram } from './harness';

const programs: Record<string, TestProgram> = {
  saver: async (ctx) => {
    const r = ctx.restored as { n: number } | null;
    if (r) await ctx.print(`restored ${r.n}\n`);
    else {
      await ctx.checkpoint({ n: 1 });
      await ctx.print('saved\n');
    }
    await new Promise(() => {});
  },
  plain: async (ctx) => {
    await ctx.print('up\n');
    await new Promise(() => {});
  },
};

type H = Awaited<ReturnType<typeof boot>>;

function addTab(h: H, id: string) {
  const ch = new MessageChannel();
  h.kernel.attachTab(ch.port1);
  const sys = new SyscallClient(ch.port2);
  sys.onOther = (frame) => {
    if (frame.t === 'host.start')
      void runAgent((frame as Extract<HostCommand, { t: 'host.start' }>).port, programs);
  };
  ch.port2.postMessage({ t: 'hello', tabId: id, lock: null, host: true, version: 1 });
  return ch.port2;
}

async function until<T>(f: () => T | Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await f();
    if (ok(v)) return v;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await f())}`);
}

const lostOf = (h: H, ...pids: number[]) =>
  pids.map((pid) => ({ pid, incarnation: h.kernel.procs.get(pid).incarnation }));
const output = (h: H, pid: number) => h.user.call<string>('output', { pid });

describe('a crash of agent frames: crash-blame decides, migration moves the others', () => {
  it('one agent lost alone is the culprit: exit 137, not restarted; an agent elsewhere is untouched', async () => {
    const h = await boot(programs);
    const bomb = (await h.user.call<{ pid: number }>('spawn', { task: 'b', options: { program: 'plain' } }))
      .pid;
    await until(
      () => output(h, bomb),
      (o) => o === 'up\n',
      'bomb up',
    );
    h.user.port.postMessage({ t: 'host.crashed', lost: lostOf(h, bomb) });
    const exit = await until(
      () => h.kernel.procs.get(bomb).info,
      (i) => i.state === 'exited',
      'the culprit exits',
    );
    expect(exit.exitCode).toBe(137);
    expect(exit.exitReason).toMatch(/it was the cause: not restarted/);
    expect(exit.restarts).toBe(0);
    h.close();
  });

  it('several lost together: suspects move (from a checkpoint or fresh) to different tabs; the next crash that takes one alone blames it', async () => {
    const h = await boot(programs);
    const a = (await h.user.call<{ pid: number }>('spawn', { task: 'a', options: { program: 'saver' } })).pid;
    const b = (await h.user.call<{ pid: number }>('spawn', { task: 'b', options: { program: 'plain' } })).pid;
    await until(
      () => output(h, a),
      (o) => o === 'saved\n',
      'a saved',
    );
    await until(
      () => output(h, b),
      (o) => o === 'up\n',
      'b up',
    );
    expect(h.kernel.procs.get(a).info.hostTab).toBe('test-tab');
    expect(h.kernel.procs.get(b).info.hostTab).toBe('test-tab');
    const tabs = new Map([
      ['tab-b', addTab(h, 'tab-b')],
      ['tab-c', addTab(h, 'tab-c')],
    ]);
    await until(() => !!(h.kernel.tabs.get('tab-b') && h.kernel.tabs.get('tab-c')), Boolean, 'tabs hello');
    // Both in one sandbox process: which did it cannot be told yet.
    h.user.port.postMessage({ t: 'host.crashed', lost: lostOf(h, a, b) });
    await until(
      () => output(h, a),
      (o) => o === 'saved\nrestored 1\n',
      'a resumed from its checkpoint',
    );
    await until(
      () => output(h, b),
      (o) => o === 'up\nup\n',
      'b started again (it had no checkpoint)',
    );
    const ia = h.kernel.procs.get(a).info;
    const ib = h.kernel.procs.get(b).info;
    expect(ia.migrations).toBe(1);
    expect(ib.migrations).toBe(1);
    expect(ia.hostTab).not.toBe(ib.hostTab); // spread: the next crash tells them apart
    // Each tab counts exactly the agents it hosts now (its load places the next agent).
    for (const id of ['test-tab', 'tab-b', 'tab-c'])
      expect([...h.kernel.tabs.get(id)!.hosted].map((p) => p.pid).sort()).toEqual(
        [a, b].filter((pid) => h.kernel.procs.get(pid).info.hostTab === id).sort(),
      );
    // The next crash of b's sandbox process takes b alone: b did it.
    const bTab = ib.hostTab!;
    const port = bTab === 'test-tab' ? h.user.port : tabs.get(bTab)!;
    port.postMessage({ t: 'host.crashed', lost: lostOf(h, b) });
    await until(
      () => h.kernel.procs.get(b).info.state,
      (s) => s === 'exited',
      'b exits',
    );
    expect(h.kernel.procs.get(b).info.exitCode).toBe(137);
    expect(h.kernel.procs.get(a).alive).toBe(true);
    expect(h.kernel.procs.get(a).info.migrations).toBe(1);
    h.close();
  });

  it('a report from a tab that does not host the agent, or for a stale incarnation, changes nothing', async () => {
    const h = await boot(programs);
    const a = (await h.user.call<{ pid: number }>('spawn', { task: 'a', options: { program: 'plain' } })).pid;
    await until(
      () => output(h, a),
      (o) => o === 'up\n',
      'a up',
    );
    const other = addTab(h, 'tab-x');
    await until(() => !!h.kernel.tabs.get('tab-x'), Boolean, 'tab-x hello');
    other.postMessage({ t: 'host.crashed', lost: lostOf(h, a) });
    h.user.port.postMessage({
      t: 'host.crashed',
      lost: [{ pid: a, incarnation: h.kernel.procs.get(a).incarnation + 5 }],
    });
    await h.user.call('nop'); // both frames were handled before this call's answer
    await sleep(20);
    expect(h.kernel.procs.get(a).alive).toBe(true);
    expect(h.kernel.procs.get(a).info.restarts).toBe(0);
    h.close();
  });
});
