/**
 * What an agent chooses for the user to read (a permission request's reason) cannot carry
 * control or direction characters; what it registers on the bus is bounded per process.
 */
import { describe, expect, it } from 'vitest';
import { MAX_NAMES_PER_PROCESS, MAX_TOPICS_PER_PROCESS, MessageBus } from '../../src/kernel/bus';
import { plainWording, wording } from '../../src/kernel/wording';
import { boot } from './harness';
import { outcome } from './outcome';

describe('the wording of a permission request', () => {
  it('refuses bidi overrides, isolates, C0/C1 controls and line separators; plain text in any script passes', () => {
    const check = wording({ min: 1, max: 1000 });
    for (const bad of [
      'read \u202Etxt.exe',
      'a\u2066b',
      'x\u0000y',
      'ok\rAgentOS: allowed',
      'a\u0085b',
      'a\u2028b',
      'a\u200Fb',
    ])
      expect(() => check(bad, 'reason'), JSON.stringify(bad)).toThrow(/EINVAL.*control or direction/);
    for (const good of [
      'read my notes',
      'lire mes notes\nà 9 h',
      'ファイルを読む',
      'قراءة الملفات',
      'tab\tseparated',
    ])
      expect(check(good, 'reason')).toBe(good);
    expect(plainWording('a\u202Eb\u0007')).toBe('a\uFFFDb\uFFFD');
  });

  it('through the kernel: a spoofing reason is EINVAL and no card is shown; the task shown is plain', async () => {
    const h = await boot({
      asker: async (ctx) => {
        const spoof = await outcome(
          ctx.syscall('permission.request', {
            permissions: { net: ['*'] },
            reason: 'summarise \u202Efdp.exe',
          }),
        );
        const huge = await outcome(
          ctx.syscall('permission.request', { permissions: { net: ['*'] }, reason: 'x'.repeat(100_000) }),
        );
        await ctx.print(JSON.stringify([spoof, huge]));
      },
    });
    const { pid } = await h.user.call<{ pid: number }>('spawn', {
      task: 'a \u202Etask',
      options: { program: 'asker' },
    });
    await h.user.call('wait', { pid, timeoutMs: 10_000 });
    expect(JSON.parse(await h.user.call<string>('output', { pid }))).toEqual(['EINVAL', 'E2BIG']);
    expect(h.events.filter((e) => e.type === 'ask')).toEqual([]);
    h.close();
  });
});

describe('bus names and topics per process', () => {
  it('at most MAX_NAMES names and MAX_TOPICS topics; leaving topics leaves nothing behind', () => {
    const bus = new MessageBus();
    for (let i = 0; i < MAX_NAMES_PER_PROCESS; i++) bus.register(5, `n${i}`);
    bus.register(5, 'n0'); // again: no more
    expect(() => bus.register(5, 'one.more')).toThrow(/EAGAIN/);
    bus.register(6, 'other'); // another process has its own
    for (let i = 0; i < MAX_TOPICS_PER_PROCESS; i++) bus.subscribe(5, `t${i}`);
    expect(() => bus.subscribe(5, 'one.more')).toThrow(/EAGAIN/);
    for (let i = 0; i < MAX_TOPICS_PER_PROCESS; i++) bus.unsubscribe(5, `t${i}`);
    expect(bus.topicsOf(5)).toEqual([]);
    expect((bus as unknown as { topics: Map<string, unknown> }).topics.size).toBe(0);
  });
});
