/** Granting, revoking (at once, mid-stream, down the family) and asking the user, through the real kernel. */
import { afterEach, describe, expect, it } from 'vitest';
import type { ProcInfo } from '../../src/abi/protocol';
import { DEFAULT_AGENT_CAPS } from '../../src/kernel/access-control';
import { narrow, widen } from '../../src/kernel/permissions';
import { boot, type Harness, sleep } from './harness';

const code = (e: unknown) => (e as { code?: string }).code ?? String(e);

describe('widen and narrow', () => {
  it('union and subtract lists, set and clear flags, move quotas', () => {
    const base = { ...DEFAULT_AGENT_CAPS, tokenQuota: 100 };
    const w = widen(base, {
      tools: ['http.fetch'],
      net: ['https://a.example'],
      tokenQuota: 500,
      modelAdmin: true,
    });
    expect(w.tools).toEqual(['time.now', 'math.evaluate', 'http.fetch']);
    expect(w).toMatchObject({ net: ['https://a.example'], tokenQuota: 500, modelAdmin: true });
    const n = narrow(w, {
      tools: ['time.now'],
      models: ['*'],
      tokenQuota: 50,
      modelAdmin: true,
      spawn: true,
    });
    expect(n).toMatchObject({
      tools: ['math.evaluate', 'http.fetch'],
      models: [],
      tokenQuota: 50,
      modelAdmin: false,
      spawn: false,
    });
  });
});

describe('grant, revoke and ask through the kernel', () => {
  let h: Harness;
  afterEach(() => h?.close());
  const spawn = (program: string, permissions?: Record<string, unknown>, args?: unknown) =>
    h.user
      .call<{ pid: number }>('spawn', {
        task: 't',
        ...(permissions ? { permissions } : {}),
        options: { program, ...(args ? { args } : {}) },
      })
      .then((r) => r.pid);
  const wait = (pid: number) => h.user.call<{ exitCode: number }>('wait', { pid, timeoutMs: 10_000 });
  const out = (pid: number) => h.user.call<string>('output', { pid });
  const caps = async (pid: number) =>
    (await h.user.call<ProcInfo[]>('ps')).find((p) => p.pid === pid)!.capabilities;

  it('revoking a model ends the generation in flight with EPERM', async () => {
    h = await boot({
      streamer: async (ctx) => {
        let n = 0;
        try {
          const s = await ctx.llm.chat.completions.create({
            model: 'slow',
            stream: true,
            messages: [{ role: 'user', content: `say ${'word '.repeat(300)}` }],
          });
          for await (const c of s) if (c.choices[0]?.delta.content) n++;
          await ctx.print(`finished ${n}`);
        } catch (e) {
          await ctx.print(`${code(e)} after ${n}`);
        }
      },
    });
    await h.user.call('models.load', {
      id: 'slow',
      engine: 'deterministic',
      options: { decodeTokensPerSecond: 200 },
    });
    const pid = await spawn('streamer', { models: ['slow'] });
    await sleep(300);
    const t = performance.now();
    await h.user.call('revoke', { pid, permissions: { models: ['slow'] } });
    await wait(pid);
    const took = performance.now() - t;
    const m = /^EPERM after (\d+)$/.exec(await out(pid));
    expect(m, await out(pid)).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(5);
    expect(Number(m![1])).toBeLessThan(400);
    expect(took).toBeLessThan(1000);
    const log = await h.user.call<{ kind: string; pid: number }[]>('logs', { kind: 'revoke' });
    expect(log.some((e) => e.pid === pid)).toBe(true);
  });

  it('revoking a tool ends a call in flight, and children lose it too', async () => {
    h = await boot({
      server: async (ctx) => {
        await ctx.tools.serve(
          { name: 'slow.tool', description: 'slow', inputSchema: { type: 'object' } },
          async () => {
            await sleep(3000);
            return 'late';
          },
        );
        await sleep(10_000);
      },
      caller: async (ctx) => {
        const child = await ctx.spawn('child', { tools: ['slow.tool', 'time.now'] }, { program: 'idle' });
        await ctx.print(`child ${child}\n`);
        try {
          await ctx.tools.call('slow.tool', {});
          await ctx.print('got it');
        } catch (e) {
          await ctx.print(code(e));
        }
        await ctx.wait(child);
      },
      idle: () => sleep(1500),
    });
    const server = await spawn('server');
    await sleep(100);
    const caller = await spawn('caller', { tools: ['slow.tool', 'time.now'] });
    await sleep(300);
    const child = Number(/child (\d+)/.exec(await out(caller))![1]);
    expect((await caps(child)).tools).toEqual(['slow.tool', 'time.now']);
    const t = performance.now();
    await h.user.call('revoke', { pid: caller, permissions: { tools: ['slow.tool'] } });
    expect((await caps(child)).tools).toEqual(['time.now']);
    await wait(caller);
    expect(await out(caller)).toMatch(/EPERM$/);
    expect(performance.now() - t).toBeLessThan(2500);
    await h.user.call('kill', { pid: server, signal: 'KILL' });
  });

  it('an agent asks; the user allows once, always, or denies; no answer is a denial', async () => {
    h = await boot({
      asker: async (ctx) => {
        const r = await ctx.requestPermission(
          { tools: ['memory.recall'] },
          'to look up what I learned',
          1500,
        );
        const has = r.capabilities.tools.includes('memory.recall');
        await ctx.print(`${r.answer} ${has}`);
      },
    });
    const answerNext = async (answer: string | null) => {
      const pid = await spawn('asker');
      await expect.poll(() => h.events.filter((e) => e.type === 'ask').length).toBeGreaterThan(0);
      const ask = h.events.findLast((e) => e.type === 'ask') as {
        ask: { id: number; pid: number; reason: string };
      };
      expect(ask.ask).toMatchObject({ pid, reason: 'to look up what I learned' });
      if (answer) await h.user.call('permission.answer', { id: ask.ask.id, answer });
      await wait(pid);
      h.events.length = 0;
      return { pid, out: await out(pid) };
    };
    expect((await answerNext('once')).out).toBe('once true');
    expect((await answerNext('deny')).out).toBe('deny false');
    expect((await answerNext(null)).out).toBe('deny false'); // timed out
    expect((await answerNext('always')).out).toBe('always true');
    // "Always": the next time the user starts this program it has the grant from the start.
    const again = await spawn('asker');
    expect((await caps(again)).tools).toContain('memory.recall');
    await expect(h.user.call('permission.answer', { id: 999, answer: 'once' })).rejects.toMatchObject({
      code: 'ENOENT',
    });
    const denials = await h.user.call<{ text: string }[]>('logs', { kind: 'deny' });
    expect(denials.some((e) => /the user denied/.test(e.text))).toBe(true);
  });

  it('grant and revoke are the user’s alone', async () => {
    h = await boot({
      sneaky: async (ctx) => {
        for (const name of ['grant', 'revoke', 'permission.answer'])
          await ctx
            .syscall(name, { pid: ctx.pid, permissions: { modelAdmin: true }, id: 1, answer: 'always' })
            .catch(async (e) => ctx.print(`${name}:${code(e)} `));
      },
    });
    const pid = await spawn('sneaky');
    await wait(pid);
    expect(await out(pid)).toBe('grant:EPERM revoke:EPERM permission.answer:EPERM ');
    expect((await caps(pid)).modelAdmin).toBe(false);
  });
});
