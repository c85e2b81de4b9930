/**
 * A returning user's boot (reopening.ts, fake-indexeddb): the previous session's agents resume
 * only once long-term memory has opened, a few at a time; a recall made while memory is still
 * opening waits for it and answers from the loaded index, never from an empty one.
 */
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AgentBoot, HostCommand } from '../../src/abi/protocol';
import { SyscallClient } from '../../src/abi/syscall-client';
import { USER_CAPS } from '../../src/kernel/access-control';
import { bootKernel } from '../../src/kernel/boot';
import { Process } from '../../src/kernel/process';
import { Reopening, UserCalls } from '../../src/kernel/reopening';
import { type SavedState, STATE_KEY } from '../../src/kernel/session';
import type { RecallHit } from '../../src/memory/long-term';
import { MemoryService } from '../../src/memory/service';
import { openStore } from '../../src/memory/store';
import { boot } from './harness';

const proc = (pid: number, priority = 0) =>
  new Process({
    pid,
    ppid: 0,
    task: `agent ${pid}`,
    program: 'idle',
    source: null,
    args: null,
    priority,
    capabilities: USER_CAPS,
    restart: 'on-host-loss',
  });

const ticks = async (n = 20) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 0));
};

afterEach(() => vi.restoreAllMocks());

describe('reopening', () => {
  it('holds resumes until its gate settles, then releases the most urgent, at most `window` starting at once', async () => {
    const queued: number[] = [];
    let schedules = 0;
    const r = new Reopening(
      {
        enqueue: (p) => queued.push(p.pid),
        schedule: () => schedules++,
      },
      2,
    );
    const ps = [proc(1, 5), proc(2, 0), proc(3, -5), proc(4, 0), proc(5, 0)];
    for (const p of ps) r.add(p);
    let open!: () => void;
    r.openAfter(new Promise<void>((resolve) => (open = resolve)));
    await ticks();
    expect(queued).toEqual([]);
    expect(r.waiting).toBe(5);
    open();
    await ticks(2);
    // The most urgent first (lower numbers), ties in table order.
    expect(queued).toEqual([3, 2]);
    expect(schedules).toBe(1);
    // One still starting: nothing more. Once it has booted, the next.
    r.changed(ps[2]!);
    expect(queued).toEqual([3, 2]);
    ps[2]!.booted = true;
    r.changed(ps[2]!);
    expect(queued).toEqual([3, 2, 4]);
    // One that ends (killed while starting) frees its place too.
    ps[1]!.markExited(143, 'killed');
    r.changed(ps[1]!);
    expect(queued).toEqual([3, 2, 4, 5]);
    // Killed while still held: skipped, never queued.
    ps[0]!.markExited(143, 'killed');
    ps[3]!.booted = true;
    r.changed(ps[3]!);
    expect(queued).toEqual([3, 2, 4, 5]);
    expect(r.waiting).toBe(0);
  });

  it('opens even when the gate fails (memory could not open: agents still resume)', async () => {
    const queued: number[] = [];
    const r = new Reopening({ enqueue: (p) => queued.push(p.pid), schedule: () => {} });
    r.add(proc(1));
    r.openAfter(Promise.reject(new Error('no IndexedDB')));
    await ticks(2);
    expect(queued).toEqual([1]);
  });
});

describe('the user’s calls in flight', () => {
  it('settle when the last is answered, or after the cap when one never is (a long wait)', async () => {
    const calls = new UserCalls();
    const a = calls.started();
    const b = calls.started();
    let settled = false;
    void calls.settled(60_000).then(() => (settled = true));
    a();
    a(); // answered once only
    await ticks(2);
    expect(settled).toBe(false);
    expect(calls.inFlight).toBe(1);
    b();
    await ticks(2);
    expect(settled).toBe(true);
    vi.useFakeTimers();
    try {
      calls.started(); // never answered
      let capped = false;
      void calls.settled(2000).then(() => (capped = true));
      await vi.advanceTimersByTimeAsync(1999);
      expect(capped).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(capped).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('a returning boot', () => {
  it('resumes the previous session’s agents only after memory has opened and the user’s first recall is answered, at most 4 starting at once, and every one resumes', async () => {
    const N = 9;
    const db = await openStore();
    const info = (pid: number) => ({
      ...proc(pid).info,
      state: 'running' as const,
      startTime: Date.now(),
    });
    const saved: SavedState = {
      v: 1,
      savedAt: Date.now(),
      nextPid: N + 1,
      procs: Array.from({ length: N }, (_, i) => ({
        info: info(i + 1),
        source: null,
        args: null,
        output: '',
      })),
      standing: [],
      embedOrigins: [],
    };
    await db.put('kv', saved, STATE_KEY);
    db.close();

    // Memory's opening is held until the user's recall is in.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const open = MemoryService.open.bind(MemoryService);
    vi.spyOn(MemoryService, 'open').mockImplementation(async (...a) => {
      await held;
      return open(...a);
    });
    const k = bootKernel({ persist: true, locks: null });
    let memoryOpen = false;
    void k.ready.then(() => k.memory()).then(() => (memoryOpen = true));
    await k.ready;
    const ch = new MessageChannel();
    k.attachTab(ch.port1);
    const user = new SyscallClient(ch.port2);
    const starts: { pid: number; memoryOpen: boolean; starting: number }[] = [];
    const agents: SyscallClient[] = [];
    const order: string[] = [];
    user.onOther = (frame) => {
      if (frame.t !== 'host.start') return;
      order.push('host.start');
      const cmd = frame as Extract<HostCommand, { t: 'host.start' }>;
      const starting = k.procs.all().filter((p) => p.alive && p.port && !p.booted).length;
      starts.push({ pid: cmd.pid, memoryOpen, starting });
      // The agent boots (its checkpoint-less resume reads its state through memory) and idles.
      const sys = new SyscallClient(cmd.port);
      agents.push(sys);
      void sys.call<AgentBoot>('boot').catch(() => {});
    };
    ch.port2.postMessage({ t: 'hello', tabId: 'tab-r', lock: null, host: true, version: 1 });
    await user.call('subscribe');
    // The user's first recall, made while memory opens, is answered before any agent starts beside it.
    const recalled = user
      .call('memory.recall', { query: 'anything', namespaces: ['notes'] })
      .then(() => order.push('recall'));
    await ticks();
    release();
    await recalled;
    for (let i = 0; i < 500 && k.procs.all().filter((p) => p.booted).length < N; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(starts.map((s) => s.pid).sort((a, b) => a - b)).toEqual(
      Array.from({ length: N }, (_, i) => i + 1),
    );
    expect(starts.every((s) => s.memoryOpen)).toBe(true);
    expect(order[0]).toBe('recall');
    expect(order.filter((x) => x === 'host.start').length).toBe(N);
    expect(Math.max(...starts.map((s) => s.starting))).toBeLessThanOrEqual(4);
    expect(k.procs.all().filter((p) => p.info.state === 'running').length).toBe(N);
    for (const p of k.procs.all()) k.life.exit(p, 0, null);
    ch.port1.close();
    ch.port2.close();
  });

  it('a recall made while memory is still opening waits for it and finds what the last session remembered', async () => {
    // The last session remembered, and its index was snapshotted.
    const h = await boot({}, { persist: true });
    await h.kernel.ready;
    await h.user.call('memory.remember', {
      items: [
        { namespace: 'notes', text: 'the parrot speaks at dawn' },
        { namespace: 'notes', text: 'the kettle whistles' },
      ],
    });
    await (await h.kernel.memory()).ltm.snapshot();
    await h.kernel.flushState();
    h.close();

    // The next session: memory's opening is held until the recall is in.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const open = MemoryService.open.bind(MemoryService);
    vi.spyOn(MemoryService, 'open').mockImplementation(async (...a) => {
      await held;
      return open(...a);
    });
    const k = bootKernel({ persist: true, locks: null });
    await k.ready;
    const ch = new MessageChannel();
    k.attachTab(ch.port1);
    const user = new SyscallClient(ch.port2);
    ch.port2.postMessage({ t: 'hello', tabId: 'tab-m', lock: null, host: true, version: 1 });
    await user.call('subscribe');
    let answered = false;
    const hits = user
      .call<RecallHit[]>('memory.recall', { query: 'parrot', k: 1, namespaces: ['notes'] })
      .finally(() => (answered = true));
    await ticks();
    expect(answered).toBe(false);
    release();
    const got = await hits;
    expect(got[0]?.text).toBe('the parrot speaks at dawn');
    expect((await k.memory()).ltm.loadedFrom).toBe('snapshot');
    ch.port1.close();
    ch.port2.close();
  });
});
