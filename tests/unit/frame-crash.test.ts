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

  it('two tabs, six agents lost together, the culprit last: suspects start one per tab, blame converges, no innocent is struck out', async () => {
    const h = await boot(programs, { suspectClearMs: 300 });
    const pids: number[] = [];
    for (let i = 0; i < 6; i++)
      pids.push(
        (await h.user.call<{ pid: number }>('spawn', { task: `a${i}`, options: { program: 'plain' } })).pid,
      );
    for (const pid of pids)
      await until(
        () => output(h, pid),
        (o) => o === 'up\n',
        `${pid} up`,
      );
    expect(pids.every((pid) => h.kernel.procs.get(pid).info.hostTab === 'test-tab')).toBe(true);
    const tabB = addTab(h, 'tab-b');
    await until(() => !!h.kernel.tabs.get('tab-b'), Boolean, 'tab-b hello');
    const portOf = (tab: string) => (tab === 'test-tab' ? h.user.port : tabB);
    const culprit = pids[5]!;
    // The first crash takes all six: suspects, every one.
    h.user.port.postMessage({ t: 'host.crashed', lost: lostOf(h, ...pids) });
    // The bomb goes off whenever it runs: its tab's sandbox process ends, with every agent that tab hosts.
    let crashes = 1;
    let most = 0;
    for (let i = 0; i < 2000 && h.kernel.procs.get(culprit).alive; i++) {
      const x = h.kernel.procs.get(culprit);
      if (x.booted && x.hostTabId) {
        const inc = x.incarnation;
        const tab = h.kernel.tabs.get(x.hostTabId)!;
        const lost = [...tab.hosted].filter((p) => p.alive).map((p) => p.pid);
        most = Math.max(most, lost.length);
        portOf(tab.id).postMessage({ t: 'host.crashed', lost: lostOf(h, ...lost) });
        crashes++;
        await until(
          () => h.kernel.procs.get(culprit),
          (p) => !p.alive || p.incarnation !== inc,
          'the crash is judged',
        );
      }
      await sleep(5);
    }
    const x = h.kernel.procs.get(culprit).info;
    expect(x.exitCode).toBe(137);
    expect(x.exitReason).toMatch(/it was the cause: not restarted/);
    // Every innocent runs again: none was struck out, none was lost more than the first time as a suspect.
    for (const pid of pids.slice(0, 5)) {
      await until(
        () => h.kernel.procs.get(pid).info,
        (i) => i.state === 'running' || i.state === 'waiting',
        `${pid} running again`,
      );
      expect(h.kernel.procs.get(pid).alive).toBe(true);
    }
    const struck = (await h.user.call<{ text: string }[]>('logs', { kind: 'exit', limit: 100 })).filter((r) =>
      /crashes of its sandbox process whose cause could not be told/.test(r.text),
    );
    expect(struck).toEqual([]);
    expect(crashes).toBeLessThanOrEqual(3);
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
