import { afterEach, describe, expect, it } from 'vitest';
import { SysError } from '../../src/abi/errors';
import type { ProcInfo } from '../../src/abi/protocol';
import { fuzzFrames } from '../contract/fuzz-frames';
import { boot, type Harness, sleep } from './harness';

let h: Harness | null = null;
afterEach(() => {
  h?.close();
  h = null;
});

const spawn = (task: string, program: string, extra: Record<string, unknown> = {}) =>
  h!.user.call<{ pid: number }>('spawn', { task, options: { program, ...extra } }).then((r) => r.pid);
const wait = (pid: number) =>
  h!.user.call<{ exitCode: number; exitReason: string | null }>('wait', { pid, timeoutMs: 5000 });
const ps = () => h!.user.call<ProcInfo[]>('ps');

describe('kernel processes', () => {
  it('spawns, runs, and reports the exit code to wait', async () => {
    h = await boot({
      seven: async (ctx) => {
        await ctx.print(`hi ${ctx.task}`);
        return 7;
      },
    });
    const pid = await spawn('there', 'seven');
    expect(await wait(pid)).toEqual({ pid, exitCode: 7, exitReason: 'exit 7' });
    expect(await h.user.call('output', { pid })).toBe('hi there');
    expect(h.terminated).toContain(pid);
    const states = h.events.flatMap((e) => (e.type === 'proc' && e.proc.pid === pid ? [e.proc.state] : []));
    expect(states[0]).toBe('ready');
    expect(states).toContain('running');
    expect(states.at(-1)).toBe('exited');
  });

  it('starts queued agents most urgent first', async () => {
    const order: number[] = [];
    h = await boot({ rec: (ctx) => void order.push(ctx.args as number) }, { maxStarting: 1 });
    // Spawned in one burst: with one boot slot, the queue decides the order.
    const pids = await Promise.all([5, 19, -20, 0].map((p) => spawn('x', 'rec', { priority: p, args: p })));
    for (const pid of pids) await wait(pid);
    expect(order[0]).toBe(5); // already booting when the others arrived
    expect(order.slice(1)).toEqual([-20, 0, 19]);
  });

  it('kill: TERM ends a cooperative agent with 143; KILL with 137; unknown pid is ESRCH', async () => {
    h = await boot({ park: () => new Promise(() => {}) });
    const a = await spawn('a', 'park');
    const b = await spawn('b', 'park');
    await sleep(50);
    await h.user.call('kill', { pid: a });
    await h.user.call('kill', { pid: b, signal: 'KILL' });
    expect((await wait(a)).exitCode).toBe(143);
    expect((await wait(b)).exitCode).toBe(137);
    await expect(h.user.call('kill', { pid: 4242 })).rejects.toMatchObject({ code: 'ESRCH' });
  });

  it('an agent that ignores TERM is terminated after the grace period', async () => {
    h = await boot({
      stubborn: (ctx) => {
        ctx.onSignal(() => {});
        return new Promise(() => {});
      },
    });
    const pid = await spawn('x', 'stubborn');
    await sleep(30);
    await h.user.call('kill', { pid, graceMs: 100 });
    await sleep(50);
    expect((await ps()).find((p) => p.pid === pid)!.state).not.toBe('exited');
    const exit = await wait(pid);
    expect(exit.exitCode).toBe(137);
    expect(exit.exitReason).toContain('did not exit within 100 ms');
  });

  it('agents see only their own subtree unless granted procs:all', async () => {
    let seen: number[] = [];
    let err = '';
    h = await boot({
      park: () => new Promise(() => {}),
      peek: async (ctx) => {
        seen = (await ctx.ps()).map((p) => p.pid);
        await ctx.kill(1).catch((e: SysError) => (err = e.code));
      },
    });
    const other = await spawn('other', 'park');
    const peek = await spawn('peek', 'peek');
    await wait(peek);
    expect(seen).toEqual([peek]);
    expect(err).toBe('EPERM');
    expect(other).toBe(1);
  });

  it('a child cannot get more than its parent', async () => {
    const codes: string[] = [];
    h = await boot({
      parent: async (ctx) => {
        for (const perms of [
          { procs: 'all' },
          { modelAdmin: true },
          { models: ['deterministic', 'other'] },
          { tokenQuota: null },
        ]) {
          await ctx.spawn('c', perms as never, { program: 'parent' }).then(
            () => codes.push('OK'),
            (e: SysError) => codes.push(e.code),
          );
        }
        await ctx
          .spawn('c', { spawn: false }, { program: 'noop', priority: -5 })
          .catch((e: SysError) => codes.push(e.code));
        const child = await ctx.spawn('c', { spawn: false, tokenQuota: 10 }, { program: 'noop' });
        codes.push(String((await ctx.wait(child)).exitCode));
      },
      noop: () => 0,
    });
    const pid = await h.user
      .call<{ pid: number }>('spawn', {
        task: 'p',
        permissions: { models: ['deterministic'], tokenQuota: 100, procs: 'children' },
        options: { program: 'parent' },
      })
      .then((r) => r.pid);
    await wait(pid);
    expect(codes).toEqual(['EPERM', 'EPERM', 'EPERM', 'EPERM', 'EPERM', '0']);
  });

  it('enforces model grants and token quotas on llm.chat', async () => {
    const results: string[] = [];
    h = await boot({
      chatty: async (ctx) => {
        for (let i = 0; i < 3; i++) {
          await ctx.llm.chat.completions
            .create({
              model: 'deterministic-fast',
              messages: [{ role: 'user', content: 'say one two three four five' }],
            })
            .then((r) => results.push(r.choices[0]!.message.content ?? ''))
            .catch((e: SysError) => results.push(e.code));
        }
        await ctx.llm.chat.completions
          .create({ model: 'deterministic', messages: [] })
          .catch((e: SysError) => results.push(e.code));
      },
    });
    const pid = await h.user
      .call<{ pid: number }>('spawn', {
        task: 'x',
        permissions: { models: ['deterministic-fast'], tokenQuota: 40 },
        options: { program: 'chatty' },
      })
      .then((r) => r.pid);
    await wait(pid);
    // Prompt 12 + 9 completion tokens = 21; the second answer is cut at the 19 left (12 prompt + 7);
    // the third finds the quota used up (EDQUOT); an ungranted model is EPERM.
    expect(results).toEqual(['one two three four five', 'one two three four', 'EDQUOT', 'EPERM']);
    const quota = h.kernel.episodes.query({ pid, kind: 'quota' });
    expect(quota).toHaveLength(1);
  });

  it('suspend holds calls; resume serves them in order', async () => {
    const log: string[] = [];
    h = await boot({
      writer: async (ctx) => {
        for (let i = 0; i < 5; i++) {
          await ctx.print(String(i));
          log.push(String(i));
          await sleep(10);
        }
      },
    });
    const pid = await spawn('w', 'writer');
    await sleep(15);
    await h.user.call('suspend', { pid });
    const before = log.length;
    await sleep(100);
    expect(log.length).toBeLessThanOrEqual(before + 1);
    expect((await ps()).find((p) => p.pid === pid)!.state).toBe('suspended');
    await h.user.call('resume', { pid });
    await wait(pid);
    expect(await h.user.call('output', { pid })).toBe('01234');
  });

  it('streams llm chunks through the kernel and pauses them while suspended', async () => {
    h = await boot({});
    await h.user.call('models.load', {
      id: 'slow',
      engine: 'deterministic',
      options: { decodeTokensPerSecond: 200 },
    });
    const chunks: string[] = [];
    for await (const c of h.user.stream<{ choices: { delta: { content?: string } }[] }>('llm.chat', {
      model: 'slow',
      messages: [{ role: 'user', content: 'say a b c d e' }],
    })) {
      chunks.push(c.choices[0]!.delta.content ?? '');
    }
    expect(chunks.join('')).toBe('a b c d e');
    expect(chunks.length).toBeGreaterThanOrEqual(9);
  });
});

describe('routing by need', () => {
  it('an agent that asks by need gets a model that fits, and ENOENT when none does', async () => {
    h = await boot({});
    await h.user.call('models.load', {
      id: 'long-context',
      engine: 'deterministic',
      options: { contextWindow: 200_000 },
    });
    const models: string[] = [];
    for await (const c of h.user.stream<{ model: string }>('llm.chat', {
      messages: [{ role: 'user', content: 'say hi' }],
      need: { minContext: 100_000 },
    })) {
      models.push(c.model);
    }
    expect(new Set(models)).toEqual(new Set(['long-context']));
    await expect(
      h.user.call('llm.chat', { messages: [], need: { minContext: 50_000_000 } }),
    ).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(h.user.call('llm.chat', { messages: [], need: { size: 'huge' } })).rejects.toMatchObject({
      code: 'EINVAL',
    });
  });
});

describe('kernel robustness', () => {
  it('answers 10,000 random and malformed frames with typed errors and keeps serving', async () => {
    h = await boot({ park: () => new Promise(() => {}) });
    const pid = await spawn('victim', 'park');
    await sleep(30);
    const agentPort = h.agentPorts.get(pid)!;
    // Listen on a raw channel: frames we send on the agent port are answered on it.
    const answers = new Map<number, { ok: boolean; error?: { code: string } }>();
    const prev = agentPort.onmessage;
    agentPort.onmessage = (ev: MessageEvent) => {
      if (ev.data?.t === 'ret') answers.set(ev.data.id, ev.data);
      else prev?.call(agentPort, ev);
    };
    const names = [
      'spawn',
      'kill',
      'wait',
      'write',
      'llm.chat',
      'ps',
      'nop',
      'exit',
      'boot',
      'bus.send',
      'bus.publish',
      'bus.request',
      'bus.reply',
      'bus.register',
      'bus.subscribe',
      'tools.call',
      'tools.search',
      'tools.register',
      'tools.remove',
      'memory.remember',
      'memory.recall',
      'memory.stm.append',
      'context.allocate',
      'context.release',
      'models.load',
      'sched.policy',
      'renice',
      'suspend',
      '__proto__',
      'constructor',
      'toString',
      'x'.repeat(5000),
      '',
    ];
    // 'exit' would end the victim: it is left out.
    const { json, withId } = fuzzFrames({
      seed: 12345,
      count: 10_000,
      idBase: 1_000_000,
      names: names.filter((n) => n !== 'exit'),
    });
    for (const frame of JSON.parse(json) as unknown[]) agentPort.postMessage(frame);
    await sleep(500);
    // Every call-shaped frame with an id got an answer, and every failure is typed.
    expect(answers.size).toBeGreaterThan(withId * 0.85);
    const codes = new Set<string>();
    for (const a of answers.values()) if (!a.ok) codes.add(a.error!.code);
    for (const c of codes)
      expect(['EINVAL', 'ENOSYS', 'ESRCH', 'EPERM', 'E2BIG', 'ENOENT', 'ETIMEDOUT']).toContain(c);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    // The kernel is alive and the victim still runs.
    expect(await h.user.call('nop')).toBeNull();
    expect((await ps()).find((p) => p.pid === pid)!.state).not.toBe('exited');
    const stats = await h.user.call<{ errors: number }>('stats');
    expect(stats.errors).toBeGreaterThan(0);
  });

  it('never takes a pid from the message: the caller is known by its port', async () => {
    let me = 0;
    h = await boot({
      who: async (ctx) => {
        me = (await ctx.syscall<{ pid: number }>('getpid')).pid;
      },
    });
    const pid = await spawn('x', 'who');
    await wait(pid);
    expect(me).toBe(pid);
    // The user has pid 0 no matter what it claims.
    expect(await h.user.call('getpid', {})).toEqual({ pid: 0, ppid: 0 });
    await expect(h.user.call('getpid', { pid: 5 })).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('exit and boot are for agents; subscribe is for tabs', async () => {
    h = await boot({});
    await expect(h.user.call('exit', {})).rejects.toBeInstanceOf(SysError);
    await expect(h.user.call('boot', {})).rejects.toMatchObject({ code: 'EPERM' });
  });
});
