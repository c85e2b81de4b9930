import { describe, expect, it } from 'vitest';
import type { ProcInfo } from '../../src/abi/protocol';
import { Notices, shouldAskBeforeClosing } from '../../src/shell/durability';

const info = (over: Partial<ProcInfo>): ProcInfo =>
  ({
    pid: 4,
    ppid: 0,
    task: 'chat',
    program: 'llm-agent',
    priority: 0,
    state: 'running',
    exitCode: null,
    exitReason: null,
    startTime: 0,
    endTime: null,
    hostTab: 'other',
    restart: 'on-host-loss',
    restarts: 0,
    migrations: 0,
    capabilities: {} as ProcInfo['capabilities'],
    usage: { prompt_tokens: 0, completion_tokens: 0 },
    ...over,
  }) as ProcInfo;

describe('notices and the beforeunload question', () => {
  it('an exit is noticed once however many events report it; a move only in the tab it moved to', () => {
    const mine: string[] = [];
    const theirs: string[] = [];
    const a = new Notices('me', (t) => mine.push(t));
    const b = new Notices('other', (t) => theirs.push(t));
    for (const n of [a, b]) n.onProc(info({ hostTab: 'other' }));
    // Its tab closes: it waits, then starts here.
    for (const p of [
      info({ state: 'migrating', hostTab: null, migrations: 1, restarts: 1 }),
      info({ state: 'migrating', hostTab: 'me', migrations: 1, restarts: 1 }),
      info({ state: 'running', hostTab: 'me', migrations: 1, restarts: 1 }),
      info({ state: 'waiting', hostTab: 'me', migrations: 1, restarts: 1 }),
      info({ state: 'running', hostTab: 'me', migrations: 1, restarts: 1 }),
    ])
      for (const n of [a, b]) n.onProc(p);
    expect(mine).toEqual(['Agent 4 moved to this tab (its tab closed) and resumed from its checkpoint']);
    expect(theirs).toEqual([]);
    const exited = info({ state: 'exited', exitCode: 0, hostTab: null, migrations: 1, restarts: 1 });
    a.onProc(exited);
    a.onProc(exited);
    expect(mine.filter((t) => /finished/.test(t))).toHaveLength(1);
  });

  it('asks only when this tab hosts, is the last host, and agents are alive', () => {
    expect(shouldAskBeforeClosing(true, { hosts: 1, agents: 1 })).toBe(true);
    expect(shouldAskBeforeClosing(true, { hosts: 2, agents: 1 })).toBe(false);
    expect(shouldAskBeforeClosing(true, { hosts: 1, agents: 0 })).toBe(false);
    expect(shouldAskBeforeClosing(false, { hosts: 1, agents: 3 })).toBe(false);
  });
});
