/**
 * Events to the tabs leave once per kernel tick (src/kernel/event-batch.ts): output chunks of a
 * process are joined, live-figure updates replaced by the latest; nothing is lost or reordered
 * within a process, and every state transition is still told.
 */
import { describe, expect, it } from 'vitest';
import type { KernelEvent, ProcInfo } from '../../src/abi/protocol';
import { USER_CAPS } from '../../src/kernel/access-control';
import { EventBatch } from '../../src/kernel/event-batch';

function proc(pid: number, over: Partial<ProcInfo> = {}): ProcInfo {
  return {
    pid,
    ppid: 0,
    task: `task ${pid}`,
    program: 'p',
    priority: 0,
    state: 'running',
    exitCode: null,
    exitReason: null,
    startTime: 0,
    endTime: null,
    hostTab: 't',
    restart: 'never',
    restarts: 0,
    capabilities: USER_CAPS,
    usage: { prompt_tokens: 0, completion_tokens: 0 },
    ...over,
  };
}

/** A batch flushed by hand: what each flush delivered. */
function manual() {
  const delivered: KernelEvent[][] = [];
  let pending: (() => void) | null = null;
  let schedules = 0;
  const batch = new EventBatch(
    (events) => delivered.push(events),
    (flush) => {
      schedules++;
      pending = flush;
    },
  );
  return {
    batch,
    delivered,
    schedules: () => schedules,
    tick() {
      const f = pending;
      pending = null;
      f?.();
    },
  };
}

describe('EventBatch', () => {
  it('joins the output chunks of many processes, each complete and in order', () => {
    const m = manual();
    const sent = new Map<number, string>();
    // 50 processes interleaving 40 chunks each, stdout and stderr, over three ticks.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 40; i++)
        for (let pid = 1; pid <= 50; pid++) {
          const data = `${pid}:${round}:${i} `;
          const fd = i % 10 === 9 ? 2 : 1;
          m.batch.push({ type: 'output', pid, fd, data });
          if (fd === 1) sent.set(pid, (sent.get(pid) ?? '') + data);
        }
      m.tick();
    }
    expect(m.delivered).toHaveLength(3);
    const got = new Map<number, string>();
    for (const events of m.delivered)
      for (const e of events)
        if (e.type === 'output' && e.fd === 1) got.set(e.pid, (got.get(e.pid) ?? '') + e.data);
    expect(got).toEqual(sent);
    // Joined: far fewer events than chunks (a run of stdout per process between its stderr lines).
    const count = m.delivered.flat().length;
    expect(count).toBeLessThan(3 * 40 * 50);
    // Nothing of a process is reordered: its stdout and stderr alternate exactly as written.
    const firstTick = m.delivered[0]!.filter((e) => e.type === 'output' && e.pid === 7);
    expect(firstTick.map((e) => (e as { fd: number }).fd)).toEqual([1, 2, 1, 2, 1, 2, 1, 2]);
    expect(m.schedules()).toBe(3);
  });

  it("keeps a process's state transitions in order and merges its live figures to the latest", () => {
    const m = manual();
    const info = proc(3, { state: 'ready' });
    m.batch.push({ type: 'proc', proc: info });
    info.state = 'running';
    m.batch.push({ type: 'proc', proc: info });
    m.batch.push({ type: 'output', pid: 3, fd: 1, data: 'a' });
    info.state = 'waiting';
    info.generation = { model: 'm', phase: 'waiting', tokens: 0, tokensPerSecond: 0, startedAt: 0 };
    m.batch.push({ type: 'proc', proc: info });
    info.generation = { ...info.generation, phase: 'generating' };
    for (let t = 1; t <= 20; t++) {
      info.usage.completion_tokens = t;
      info.generation.tokens = t;
      m.batch.push({ type: 'proc', proc: info });
      m.batch.push({ type: 'output', pid: 3, fd: 1, data: 'b' });
    }
    info.state = 'exited';
    info.exitCode = 0;
    info.generation = null;
    m.batch.push({ type: 'proc', proc: info });
    m.tick();
    const events = m.delivered[0]!;
    const seen = events.map((e) =>
      e.type === 'proc'
        ? `${e.proc.state}/${e.proc.generation?.phase ?? ''}:${e.proc.usage.completion_tokens}`
        : e.type === 'output'
          ? `out:${e.data}`
          : e.type,
    );
    // Each transition once, as it was when it happened; the twenty figure updates are the last one.
    expect(seen[0]).toBe('ready/:0');
    expect(seen[1]).toBe('running/:0');
    expect(seen[2]).toBe('out:a');
    expect(seen[3]).toBe('waiting/waiting:0');
    const generating = seen.filter((s) => s.startsWith('waiting/generating'));
    expect(generating).toEqual(['waiting/generating:20']);
    expect(seen.at(-1)).toBe('exited/:20');
    // All of its output arrived, in order, before its exit.
    expect(
      events
        .filter((e) => e.type === 'output')
        .map((e) => (e as { data: string }).data)
        .join(''),
    ).toBe(`a${'b'.repeat(20)}`);
  });

  it('passes other events through in order, and sends nothing when nothing happened', () => {
    const m = manual();
    m.tick();
    m.batch.flush();
    expect(m.delivered).toEqual([]);
    m.batch.push({ type: 'tabs', count: 1, hosts: 1, agents: 0 });
    m.batch.push({ type: 'model.loaded', model: 'x', loaded: true });
    m.batch.push({ type: 'tabs', count: 2, hosts: 1, agents: 0 });
    m.batch.flush(); // as before any other frame to a tab
    m.tick(); // the scheduled flush finds nothing more
    expect(m.delivered).toEqual([
      [
        { type: 'tabs', count: 1, hosts: 1, agents: 0 },
        { type: 'model.loaded', model: 'x', loaded: true },
        { type: 'tabs', count: 2, hosts: 1, agents: 0 },
      ],
    ]);
  });
});
