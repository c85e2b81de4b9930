import { describe, expect, it } from 'vitest';
import { SysError } from '../../src/abi/errors';
import type { ProcInfo } from '../../src/abi/protocol';
import { formatHelp, splitWords, takeFlags } from '../../src/shell/apps/terminal/command-line';
import { complete, psTable, runLine, type Terminal } from '../../src/shell/apps/terminal/commands';

describe('command line', () => {
  it('splits words with quotes and escapes', () => {
    expect(splitWords('spawn "say hello" x')).toEqual(['spawn', 'say hello', 'x']);
    expect(splitWords(`a 'b c' d\\ e ""`)).toEqual(['a', 'b c', 'd e', '']);
    expect(() => splitWords('spawn "oops')).toThrow(/unterminated/);
  });

  it('takes leading options with and without values; refuses unknown ones with the list', () => {
    // Options come first: the task after them may contain anything (-v, -9).
    expect(takeFlags(['--priority', '5', '-v', 'do', '-x', 'it', '-9'], ['priority'], ['v'])).toEqual({
      flags: { priority: '5', v: true },
      rest: ['do', '-x', 'it', '-9'],
    });
    // Numeric words such as -3 are arguments (nice 1 -3); -- ends the options.
    expect(takeFlags(['-3'], [])).toEqual({ flags: {}, rest: ['-3'] });
    expect(takeFlags(['--', '--odd', 'task'], ['priority'])).toEqual({ flags: {}, rest: ['--odd', 'task'] });
    expect(() => takeFlags(['--bogus', 'hi'], ['priority', 'model'])).toThrow(
      'unknown option --bogus; the options are --priority <priority>, --model <model>',
    );
    expect(() => takeFlags(['--priority'], ['priority'])).toThrow('--priority needs a value');
  });

  it('fits help to the terminal: no line longer than its width, every command listed', () => {
    const entries: [string, string][] = [
      ['help', 'list commands'],
      [
        'grant <pid> <tools|models|net|bus|memoryRead|memoryWrite|spawn|modelAdmin> [values…]',
        'give a running agent more, e.g. grant 3 tools http.fetch',
      ],
      ['spawn [--priority N] <task>', 'start an agent on a task; its output streams here'],
    ];
    for (const cols of [36, 60, 88, 140]) {
      const out = formatHelp(entries, cols);
      for (const line of out.split('\n')) expect(line.length, `${cols}: ${line}`).toBeLessThanOrEqual(cols);
      for (const [usage] of entries) expect(out.replace(/\s+/g, ' ')).toContain(usage.split(' ')[0]);
    }
    // Wide enough: short usages and their description share a line.
    expect(formatHelp(entries, 120)).toMatch(/^help\s+list commands$/m);
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
  const procs = [
    { pid: 3, state: 'running', exitCode: null, exitReason: null },
    { pid: 4, state: 'running', exitCode: null, exitReason: null },
    { pid: 7, state: 'exited', exitCode: 0, exitReason: null },
  ];
  const kernel = {
    ps: async () => procs,
    models: async () => [{ id: 'deterministic' }, { id: 'agentos-tiny' }],
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

  it('options and arguments are checked before anything starts, with messages in the user’s terms', async () => {
    const before = calls.length;
    await runLine(kernel, term, 'spawn --bogus hi');
    expect(printed.at(-1)).toMatch(
      /^err:spawn: unknown option --bogus; the options are --priority <priority>, --program <program>, --model <model>/,
    );
    await runLine(kernel, term, 'spawn --priority abc hi');
    expect(printed.at(-1)).toBe(
      'err:EINVAL: priority must be a whole number from -20 (most urgent) to 19 (least), not "abc"',
    );
    await runLine(kernel, term, 'spawn --model nosuchmodel hi');
    expect(printed.at(-1)).toBe(
      'err:ENOENT: no model "nosuchmodel"; the models are deterministic, agentos-tiny',
    );
    expect(calls.length).toBe(before); // nothing was spawned
    await runLine(kernel, term, 'kill 7');
    expect(printed.at(-1)).toBe('err:ESRCH: process 7 has already exited (code 0): nothing to kill');
    await runLine(kernel, term, 'grant 7 tools http.fetch');
    expect(printed.at(-1)).toBe('err:ESRCH: process 7 has already exited (code 0): nothing to grant');
    await runLine(kernel, term, 'mcp add not a url');
    expect(printed.at(-1)).toMatch(
      /^err:EINVAL: mcp add takes one URL and an optional prefix.*got 3 words: not a url/,
    );
    expect(calls.length).toBe(before);
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
