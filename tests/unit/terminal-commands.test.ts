import { describe, expect, it } from 'vitest';
import { SysError } from '../../src/abi/errors';
import type { ProcInfo } from '../../src/abi/protocol';
import { splitWords, takeFlags } from '../../src/shell/apps/terminal/command-line';
import { complete, psTable, runLine, type Terminal } from '../../src/shell/apps/terminal/commands';

describe('command line', () => {
  it('splits words with quotes and escapes', () => {
    expect(splitWords('spawn "say hello" x')).toEqual(['spawn', 'say hello', 'x']);
    expect(splitWords(`a 'b c' d\\ e ""`)).toEqual(['a', 'b c', 'd e', '']);
    expect(() => splitWords('spawn "oops')).toThrow(/unterminated/);
  });

  it('takes flags with and without values', () => {
    // Numeric words such as -9 or -3 are left for the command (kill -9, nice 1 -3).
    expect(takeFlags(['--priority', '5', 'do', '-v', 'it', '-9'], ['priority'])).toEqual({
      flags: { priority: '5', v: true },
      rest: ['do', 'it', '-9'],
    });
    expect(takeFlags(['-3'], [])).toEqual({ flags: {}, rest: ['-3'] });
  });

  it('completes command names', () => {
    expect(complete('sp')).toEqual(['spawn']);
    expect(complete('s').sort()).toEqual(['sched', 'send', 'spawn', 'suspend']);
  });
});

describe('terminal commands', () => {
  const printed: string[] = [];
  const attached: number[] = [];
  const term: Terminal = {
    print: (t, k) => printed.push(`${k ?? 'out'}:${t}`),
    attach: (p) => attached.push(p),
    clear: () => {},
  };
  const calls: unknown[][] = [];
  const kernel = {
    spawn: async (...a: unknown[]) => {
      calls.push(['spawn', ...a]);
      return 9;
    },
    kill: async (...a: unknown[]) => void calls.push(['kill', ...a]),
    renice: async () => {
      throw new SysError('ESRCH', 'no process 4');
    },
    call: async (...a: unknown[]) => {
      calls.push(['call', ...a]);
      return { tools: ['time.now', 'http.fetch'] };
    },
  } as unknown as Parameters<typeof runLine>[0];

  it('grant, revoke and send turn words into the right syscalls; bad ones say why', async () => {
    await runLine(kernel, term, 'grant 3 tools http.fetch');
    expect(calls.at(-1)).toEqual(['call', 'grant', { pid: 3, permissions: { tools: ['http.fetch'] } }]);
    await runLine(kernel, term, 'revoke 3 modelAdmin');
    expect(calls.at(-1)).toEqual(['call', 'revoke', { pid: 3, permissions: { modelAdmin: true } }]);
    await runLine(kernel, term, 'grant 3 superpowers');
    expect(printed.at(-1)).toMatch(/^err:EINVAL: not a capability: superpowers/);
    await runLine(kernel, term, 'send worker hello there');
    expect(calls.at(-1)).toEqual(['call', 'bus.send', { to: 'worker', body: 'hello there' }]);
    await runLine(kernel, term, 'send 5 hi');
    expect(calls.at(-1)).toEqual(['call', 'bus.send', { to: 5, body: 'hi' }]);
  });

  it('spawn passes task and options, and attaches the output', async () => {
    await runLine(kernel, term, 'spawn --priority -2 "say hi" now');
    expect(calls.at(-1)).toEqual(['spawn', 'say hi now', undefined, { priority: -2 }]);
    expect(attached).toEqual([9]);
  });

  it('kill -9 sends KILL; bad pids and kernel errors print typed messages', async () => {
    await runLine(kernel, term, 'kill -9 3');
    expect(calls.at(-1)).toEqual(['kill', 3, 'KILL']);
    await runLine(kernel, term, 'kill x');
    expect(printed.at(-1)).toBe('err:EINVAL: not a pid: x');
    await runLine(kernel, term, 'nice 4 1');
    expect(printed.at(-1)).toBe('err:ESRCH: no process 4');
  });

  it('ps formats a table', () => {
    const p = {
      pid: 1,
      ppid: 0,
      state: 'exited',
      exitCode: 0,
      priority: 0,
      usage: { prompt_tokens: 3, completion_tokens: 4 },
      program: 'llm-agent',
      task: 'say hi',
    };
    expect(psTable([p as unknown as ProcInfo])).toMatch(
      /^PID\s+PPID\s+STATE.*\n1\s+0\s+exited\(0\)\s+0\s+3\+4\s+llm-agent\s+say hi$/,
    );
  });
});
