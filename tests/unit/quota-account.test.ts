/**
 * Lifetime quotas (tokens, memory records, memory bytes) hold for an agent together with
 * everything it spawns: a child given at most its parent's quota cannot add a fresh one of its
 * own, siblings at once cannot spend the same tokens, an exited parent's quota still bounds its
 * orphans, and a quota the user raises on a child is the user's word.
 */
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Capabilities } from '../../src/abi/capabilities';
import { DEFAULT_AGENT_CAPS } from '../../src/kernel/access-control';
import { bootKernel } from '../../src/kernel/boot';
import { QuotaAccount, raisesQuota, readCharges } from '../../src/kernel/quota-account';
import { boot, type Harness, sleep } from './harness';
import { outcome } from './outcome';

const refuse = (text: string): never => {
  throw Object.assign(new Error(text), { code: 'EDQUOT' });
};

describe('QuotaAccount', () => {
  const caps = (over: Partial<Capabilities>): Capabilities => ({ ...DEFAULT_AGENT_CAPS, ...over });

  it('a charge must fit every quota up the chain, and counts in each; a refund gives it back', () => {
    const root = new QuotaAccount(1, () => caps({ memoryWrites: 5 }), null);
    const a = new QuotaAccount(2, () => caps({ memoryWrites: 5 }), root);
    const b = new QuotaAccount(3, () => caps({ memoryWrites: 5 }), root);
    a.charge('memoryWrites', 3, refuse);
    expect(b.room('memoryWrites')).toMatchObject({ left: 2, pid: 1, quota: 5, used: 3 });
    expect(() => b.charge('memoryWrites', 3, refuse)).toThrow(
      /memory-write cap of process 1's tree \(it and what it spawns share it\) of 5 records/,
    );
    const undo = b.charge('memoryWrites', 2, refuse);
    expect(root.spent.memoryWrites).toBe(5);
    undo();
    expect(root.spent.memoryWrites).toBe(3);
    expect(b.own.memoryWrites).toBe(0);
    expect(a.own.memoryWrites).toBe(3);
  });

  it('no quota anywhere up the chain: no room to keep, charges still counted', () => {
    const root = new QuotaAccount(1, () => caps({ tokenQuota: null }), null);
    const child = new QuotaAccount(2, () => caps({ tokenQuota: null }), root);
    expect(child.room('tokens')).toBeNull();
    child.add('tokens', 100);
    expect(root.spent.tokens).toBe(100);
  });

  it('an independent account (the user raised its quota) stops charges from reaching its spawners', () => {
    const root = new QuotaAccount(1, () => caps({ tokenQuota: 10 }), null);
    const child = new QuotaAccount(2, () => caps({ tokenQuota: 1000 }), root);
    expect(child.room('tokens')?.left).toBe(10);
    child.independent = true;
    expect(child.room('tokens')?.left).toBe(1000);
    child.add('tokens', 500);
    expect(root.spent.tokens).toBe(0);
  });

  it('raisesQuota: only a larger (or removed) quota counts as raised', () => {
    const base = caps({ tokenQuota: 10, memoryWrites: 5 });
    expect(raisesQuota(base, { ...base, tokenQuota: 20 })).toBe(true);
    expect(raisesQuota(base, { ...base, memoryWrites: null })).toBe(true);
    expect(raisesQuota(base, { ...base, limits: { memoryBytes: 10 ** 12 } })).toBe(true);
    expect(raisesQuota(base, { ...base, tokenQuota: 5 })).toBe(false);
    expect(raisesQuota(base, base)).toBe(false);
  });

  it('readCharges takes only finite non-negative numbers', () => {
    expect(readCharges({ tokens: 3, memoryWrites: 1, memoryBytes: 10 })).toEqual({
      tokens: 3,
      memoryWrites: 1,
      memoryBytes: 10,
    });
    expect(readCharges({ tokens: -1, memoryWrites: 1, memoryBytes: 10 })).toBeNull();
    expect(readCharges({ tokens: '3' })).toBeNull();
    expect(readCharges(null)).toBeNull();
  });
});

describe('the kernel: children cannot multiply their parent’s quotas', () => {
  let h: Harness;
  afterEach(() => h?.close());

  const spawn = async (program: string, permissions: Partial<Capabilities>) =>
    (await h.user.call<{ pid: number }>('spawn', { task: 't', permissions, options: { program } })).pid;
  const wait = (pid: number) => h.user.call('wait', { pid, timeoutMs: 30_000 });
  const out = async (pid: number) => JSON.parse(await h.user.call<string>('output', { pid }));

  it('memory writes: a chain of short-lived children writes no more than the root was given', async () => {
    h = await boot({
      writer: async (ctx) => {
        let wrote = 0;
        let last = 'ok';
        for (let i = 0; i < 10 && last === 'ok'; i++) {
          last = await outcome(ctx.memory.remember(`note ${i}`));
          if (last === 'ok') wrote++;
        }
        await ctx.print(JSON.stringify({ wrote, last }));
      },
      root: async (ctx) => {
        const kids = [];
        // One after another, each exiting before the next: fresh counters per child were the hole.
        for (let i = 0; i < 4; i++) {
          const c = await ctx.spawn('w', { memoryWrites: 5 }, { program: 'writer' });
          await ctx.wait(c);
          kids.push(JSON.parse(await ctx.syscall<string>('output', { pid: c })));
        }
        await ctx.print(JSON.stringify(kids));
      },
    });
    const root = await spawn('root', { memoryWrites: 5, procs: 'children' });
    await wait(root);
    const kids = (await out(root)) as { wrote: number; last: string }[];
    expect(kids.reduce((n, k) => n + k.wrote, 0)).toBe(5);
    expect(kids[0]).toEqual({ wrote: 5, last: 'EDQUOT' });
    expect(kids.slice(1).every((k) => k.wrote === 0 && k.last === 'EDQUOT')).toBe(true);
    const quota = await h.user.call<{ text: string }[]>('logs', { kind: 'quota' });
    expect(quota.map((q) => q.text).join('\n')).toMatch(
      new RegExp(
        `memory-write cap of process ${root}'s tree \\(it and what it spawns share it\\) of 5 records`,
      ),
    );
  });

  it('memory bytes: an orphan still counts against its exited parent’s limits.memoryBytes', async () => {
    h = await boot({
      filler: async (ctx) => {
        await ctx.bus.recv({ timeoutMs: 30_000 }).catch(() => {});
        const codes: string[] = [];
        for (let i = 0; i < 6; i++) codes.push(await outcome(ctx.memory.remember('x'.repeat(1400))));
        await ctx.print(JSON.stringify(codes));
      },
      leaver: async (ctx) => {
        const codes: string[] = [];
        for (let i = 0; i < 2; i++) codes.push(await outcome(ctx.memory.remember('y'.repeat(1400))));
        const orphan = await ctx.spawn('o', undefined, { program: 'filler' });
        await ctx.print(JSON.stringify({ codes, orphan }));
      },
    });
    const leaver = await spawn('leaver', { bus: ['*'], limits: { memoryBytes: 10_000 } });
    await wait(leaver);
    const { codes, orphan } = (await out(leaver)) as { codes: string[]; orphan: number };
    expect(codes).toEqual(['ok', 'ok']);
    await h.user.call('bus.send', { to: orphan, body: 'go' });
    await wait(orphan);
    const orphanCodes = (await out(orphan)) as string[];
    // 1,400 characters are ≈2,850 bytes: the parent spent ≈5,700 of 10,000, the orphan fits one more, not six.
    expect(orphanCodes.filter((c) => c === 'ok').length).toBe(1);
    expect(orphanCodes.slice(1).every((c) => c === 'EDQUOT')).toBe(true);
  });

  it('tokens: children asking at once share the parent’s quota; the tree never spends past it', async () => {
    h = await boot({
      talker: async (ctx) => {
        const got: string[] = [];
        for (let i = 0; i < 5; i++)
          got.push(
            await ctx.llm.chat.completions
              .create({
                model: 'deterministic',
                messages: [{ role: 'user', content: 'say one two three four five' }],
              })
              .then(
                () => 'ok',
                (e: { code?: string }) => e.code ?? 'error',
              ),
          );
        await ctx.print(JSON.stringify(got));
      },
      root: async (ctx) => {
        const kids = await Promise.all(
          [0, 1, 2].map(() => ctx.spawn('t', { tokenQuota: 60 }, { program: 'talker' })),
        );
        await Promise.all(kids.map((c) => ctx.wait(c)));
        await ctx.print(JSON.stringify(kids));
      },
    });
    const root = await spawn('root', { models: ['deterministic'], tokenQuota: 60, procs: 'children' });
    await wait(root);
    const kids = (await out(root)) as number[];
    const ps =
      await h.user.call<{ pid: number; usage: { prompt_tokens: number; completion_tokens: number } }[]>('ps');
    const used = ps
      .filter((p) => kids.includes(p.pid))
      .reduce((n, p) => n + p.usage.prompt_tokens + p.usage.completion_tokens, 0);
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThanOrEqual(60);
    const answers = (await Promise.all(kids.map(out))) as string[][];
    expect(answers.flat()).toContain('EDQUOT');
  });

  it('a quota the user raises on a child is the user’s word: its charges no longer meet the parent’s', async () => {
    h = await boot({
      writer: async (ctx) => {
        await ctx.bus.recv({ timeoutMs: 30_000 }).catch(() => {});
        const codes: string[] = [];
        for (let i = 0; i < 4; i++) codes.push(await outcome(ctx.memory.remember(`n${i}`)));
        await ctx.print(JSON.stringify(codes));
      },
      root: async (ctx) => {
        await ctx.print(String(await ctx.spawn('w', { memoryWrites: 2 }, { program: 'writer' })));
        await ctx.bus.recv({ timeoutMs: 30_000 }).catch(() => {});
      },
    });
    const root = await spawn('root', { memoryWrites: 2, bus: ['*'], procs: 'children' });
    let child = 0;
    for (let i = 0; i < 200 && !child; i++) {
      child = Number(await h.user.call<string>('output', { pid: root })) || 0;
      if (!child) await new Promise((r) => setTimeout(r, 10));
    }
    await h.user.call('grant', { pid: child, permissions: { memoryWrites: 4 } });
    await h.user.call('bus.send', { to: child, body: 'go' });
    await wait(child);
    expect(await out(child)).toEqual(['ok', 'ok', 'ok', 'ok']);
  });

  it('what a tree spent survives a reopening: the restored parent and child share their account again', async () => {
    h = await boot(
      {
        kid: async (ctx) => {
          for (let i = 0; i < 3; i++) await ctx.memory.remember(`k${i}`);
          await ctx.print('wrote');
          await ctx.bus.recv({ timeoutMs: 60_000 }).catch(() => {});
        },
        parent: async (ctx) => {
          await ctx.memory.remember('p');
          await ctx.print(
            String(await ctx.spawn('k', { memoryWrites: 5 }, { program: 'kid', restart: 'on-host-loss' })),
          );
          await ctx.bus.recv({ timeoutMs: 60_000 }).catch(() => {});
        },
      },
      { persist: true },
    );
    await h.kernel.ready;
    const parent = (
      await h.user.call<{ pid: number }>('spawn', {
        task: 't',
        permissions: { memoryWrites: 5, procs: 'children' },
        options: { program: 'parent', restart: 'on-host-loss' },
      })
    ).pid;
    let kid = 0;
    for (let i = 0; i < 200 && !kid; i++) {
      await sleep(10);
      kid = Number(await h.user.call<string>('output', { pid: parent })) || 0;
    }
    for (let i = 0; i < 200 && (await h.user.call<string>('output', { pid: kid })) !== 'wrote'; i++)
      await sleep(10);
    expect(h.kernel.procs.get(parent).account.spent.memoryWrites).toBe(4);
    await h.kernel.flushState();
    h.close();
    const k2 = bootKernel({ locks: null, persist: true });
    await k2.ready;
    const p2 = k2.procs.get(parent).account;
    const c2 = k2.procs.get(kid).account;
    expect(c2.parent).toBe(p2);
    expect(p2.spent.memoryWrites).toBe(4);
    expect(c2.own.memoryWrites).toBe(3);
    expect(c2.room('memoryWrites')).toMatchObject({ left: 1, pid: parent });
  });

  it('mailboxes: an agent’s children hold no more together than 4 × its limits.mailboxBytes', async () => {
    h = await boot({
      idle: async () => {
        await new Promise((r) => setTimeout(r, 20_000));
      },
      fan: async (ctx) => {
        const kids: number[] = [];
        for (let i = 0; i < 6; i++) kids.push(await ctx.spawn('i', undefined, { program: 'idle' }));
        // 900 bytes each (byteSize: 2 a character): each child's 1,000-byte mailbox takes one.
        const codes: string[] = [];
        for (const k of kids) codes.push(await outcome(ctx.bus.send(k, 'x'.repeat(450))));
        await ctx.print(JSON.stringify(codes));
        for (const k of kids) await ctx.kill(k);
      },
    });
    const fan = await spawn('fan', { bus: ['family'], procs: 'children', limits: { mailboxBytes: 1000 } });
    await wait(fan);
    // Six mailboxes of 1,000 bytes, but the tree's together hold 4,000: the fifth is refused.
    expect(await out(fan)).toEqual(['ok', 'ok', 'ok', 'ok', 'EAGAIN', 'EAGAIN']);
    const quota = await h.user.call<{ text: string }[]>('logs', { kind: 'quota' });
    expect(quota.map((q) => q.text).join('\n')).toMatch(
      new RegExp(
        `mailboxes of process ${fan}'s tree hold .* as much as they may together \\(.*: 4 × its limits\\.mailboxBytes\\)`,
      ),
    );
  });
});
