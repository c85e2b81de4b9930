/**
 * Stdout written behind (src/workers/stdout.ts): an agent's writes go out as quiet calls, which the
 * kernel answers only when they fail, so a streamed token costs no answer frame. The client side
 * (SyscallClient.quietCall) and the kernel side (dispatch skips the success answer of a `quiet` entry).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SysError } from '../../src/abi/errors';
import { type PortLike, QUIET_RUN, SyscallClient } from '../../src/abi/syscall-client';
import { stdio } from '../../src/workers/stdout';
import { boot, type Harness, sleep } from './harness';

/** A port the test answers by hand, recording every frame the client sends. */
function fakePort() {
  const sent: { t: string; id: number; name?: string; quiet?: boolean; args?: unknown }[] = [];
  const port: PortLike & { deliver(frame: unknown): void } = {
    onmessage: null,
    postMessage(m: unknown) {
      sent.push(m as (typeof sent)[number]);
    },
    deliver(frame: unknown) {
      this.onmessage?.({ data: frame } as MessageEvent);
    },
  };
  return { port, sent };
}

describe('quiet calls (client side)', () => {
  it('go out marked quiet and wait for no answer; a failure reaches onError', () => {
    const { port, sent } = fakePort();
    const sys = new SyscallClient(port);
    const errors: SysError[] = [];
    expect(sys.quietCall('write', { fd: 1, data: 'a' }, (e) => errors.push(e))).toBe(true);
    expect(sys.quietCall('write', { fd: 1, data: 'b' }, (e) => errors.push(e))).toBe(true);
    expect(sent.map((f) => [f.name, f.quiet, (f.args as { data: string }).data])).toEqual([
      ['write', true, 'a'],
      ['write', true, 'b'],
    ]);
    port.deliver({ t: 'ret', id: sent[1]!.id, ok: false, error: { code: 'EAGAIN', message: 'busy' } });
    expect(errors.map((e) => e.code)).toEqual(['EAGAIN']);
  });

  it(`after ${QUIET_RUN} in a row, the next must be an ordinary call; its answer lets quiet ones go again`, async () => {
    const { port, sent } = fakePort();
    const sys = new SyscallClient(port);
    for (let i = 0; i < QUIET_RUN; i++) expect(sys.quietCall('write', { i }, () => {})).toBe(true);
    expect(sys.quietCall('write', { i: QUIET_RUN }, () => {})).toBe(false);
    const answered = sys.call('write', { i: QUIET_RUN });
    const last = sent.at(-1)!;
    expect(last.quiet).toBeUndefined();
    port.deliver({ t: 'ret', id: last.id, ok: true, value: null });
    await answered;
    expect(sys.quietCall('write', { i: QUIET_RUN + 1 }, () => {})).toBe(true);
  });

  it('an answer to an earlier call does not count as the kernel catching up', async () => {
    const { port, sent } = fakePort();
    const sys = new SyscallClient(port);
    const early = sys.call('ps');
    const earlyId = sent[0]!.id;
    for (let i = 0; i < QUIET_RUN; i++) sys.quietCall('write', { i }, () => {});
    port.deliver({ t: 'ret', id: earlyId, ok: true, value: [] });
    await early;
    expect(sys.quietCall('write', {}, () => {})).toBe(false);
  });

  it('never while stopped (SIGSTOP: the kernel holds calls, so the writer must wait too), again after CONT', () => {
    const { port } = fakePort();
    const sys = new SyscallClient(port);
    port.deliver({ t: 'signal', sig: 'STOP' });
    expect(sys.quietCall('write', {}, () => {})).toBe(false);
    port.deliver({ t: 'signal', sig: 'CONT' });
    expect(sys.quietCall('write', {}, () => {})).toBe(true);
  });

  it('count against the in-flight cap, and never overtake calls waiting for room', () => {
    const { port, sent } = fakePort();
    const sys = new SyscallClient(port);
    sys.maxInFlight = 2;
    void sys.call('a').catch(() => {});
    expect(sys.quietCall('write', {}, () => {})).toBe(true);
    expect(sys.quietCall('write', {}, () => {})).toBe(false); // 1 pending + 1 quiet = the cap
    // Ordinary calls do not wait for quiet ones (the kernel runs those at once; nothing would free them).
    void sys.call('b').catch(() => {});
    void sys.call('c').catch(() => {}); // 2 pending: waits for room
    expect(sent.map((f) => f.name)).toEqual(['a', 'write', 'b']);
    sys.maxInFlight = 10;
    expect(sys.quietCall('write', {}, () => {})).toBe(false); // 'c' is still queued ahead of it
  });

  it('stdio: a quiet write’s failure is thrown by the next print, once', async () => {
    const { port, sent } = fakePort();
    const sys = new SyscallClient(port);
    const print = stdio(sys);
    await print(1, 'x');
    port.deliver({ t: 'ret', id: sent[0]!.id, ok: false, error: { code: 'EIO', message: 'lost' } });
    await expect(print(1, 'y')).rejects.toMatchObject({ code: 'EIO' });
    await print(1, 'z'); // reported once; later writes go on
    expect(sent.map((f) => (f.args as { data: string }).data)).toEqual(['x', 'z']);
  });

  it('stdio: a large write waits for its answer (so an E2BIG is thrown by that very print)', async () => {
    const { port, sent } = fakePort();
    const print = stdio(new SyscallClient(port));
    const p = print(1, 'x'.repeat(100_000));
    expect(sent[0]!.quiet).toBeUndefined();
    port.deliver({ t: 'ret', id: sent[0]!.id, ok: false, error: new SysError('E2BIG', 'too big').toJSON() });
    await expect(p).rejects.toMatchObject({ code: 'E2BIG' });
  });
});

describe('quiet calls (kernel side)', () => {
  let h: Harness;
  afterEach(() => h?.close());

  it('a quiet write is not answered when it succeeds, is answered when it fails; other syscalls ignore quiet', async () => {
    h = await boot({
      sleeper: async (ctx) => {
        await ctx.bus.recv({ timeoutMs: 10_000 }).catch(() => {});
      },
    });
    const { pid } = await h.user.call<{ pid: number }>('spawn', {
      task: 't',
      options: { program: 'sleeper' },
    });
    await sleep(50);
    const port = h.agentPorts.get(pid)!;
    const rets = new Map<number, { ok: boolean; error?: { code: string } }>();
    const prev = port.onmessage as (ev: MessageEvent) => void;
    port.onmessage = (ev: MessageEvent) => {
      const f = ev.data as { t: string; id: number; ok: boolean; error?: { code: string } };
      if (f.t === 'ret' && f.id >= 1e9) rets.set(f.id, f);
      else prev(ev);
    };
    port.postMessage({ t: 'call', id: 1e9, name: 'write', args: { fd: 1, data: 'one ' }, quiet: true });
    port.postMessage({ t: 'call', id: 1e9 + 1, name: 'write', args: { fd: 3, data: 'bad fd' }, quiet: true });
    port.postMessage({ t: 'call', id: 1e9 + 2, name: 'getpid', args: {}, quiet: true });
    port.postMessage({ t: 'call', id: 1e9 + 3, name: 'write', args: { fd: 1, data: 'two' } });
    for (let i = 0; i < 100 && !rets.has(1e9 + 3); i++) await sleep(10);
    expect(rets.has(1e9)).toBe(false);
    expect(rets.get(1e9 + 1)).toMatchObject({ ok: false, error: { code: 'EINVAL' } });
    expect(rets.get(1e9 + 2)).toMatchObject({ ok: true });
    expect(rets.get(1e9 + 3)).toMatchObject({ ok: true });
    expect(await h.user.call('output', { pid })).toBe('one two');
  });

  it('an agent printing a thousand lines behind keeps every line, in order, with its other calls', async () => {
    h = await boot({
      printer: async (ctx) => {
        for (let i = 0; i < 1000; i++) {
          await ctx.print(`${i},`);
          if (i % 250 === 0) await ctx.error(`e${i},`); // stderr interleaved, written behind too
        }
        await ctx.print('end');
      },
    });
    const { pid } = await h.user.call<{ pid: number }>('spawn', {
      task: 't',
      permissions: { limits: { outputBytes: 1 << 20 } },
      options: { program: 'printer' },
    });
    const exit = await h.user.call<{ exitCode: number }>('wait', { pid, timeoutMs: 20_000 });
    expect(exit.exitCode).toBe(0);
    const both = Array.from({ length: 1000 }, (_, i) => `${i},${i % 250 === 0 ? `e${i},` : ''}`).join('');
    expect(await h.user.call<string>('output', { pid })).toBe(`${both}end`);
    const live = (fd: number) =>
      h.events
        .filter((e) => e.type === 'output' && e.pid === pid && e.fd === fd)
        .map((e) => (e as { data: string }).data)
        .join('');
    // The tabs saw the same, live, in order.
    expect(live(1)).toBe(`${Array.from({ length: 1000 }, (_, i) => `${i},`).join('')}end`);
    expect(live(2)).toBe('e0,e250,e500,e750,');
  });
});
