/** Resource limits (limits.ts, limiter.ts) through the real kernel, and the checks they rest on. */
import { afterEach, describe, expect, it } from 'vitest';
import { SysError } from '../../src/abi/errors';
import type { ProcInfo } from '../../src/abi/protocol';
import { type PortLike, SyscallClient } from '../../src/abi/syscall-client';
import { DEFAULT_AGENT_CAPS, deriveChild, USER_CAPS } from '../../src/kernel/access-control';
import { MessageBus } from '../../src/kernel/bus';
import { payload, vector } from '../../src/kernel/check';
import {
  AuditThrottle,
  byteSize,
  CallGate,
  DEFAULT_LIMITS,
  FLOOD_GRACE,
  joinLimits,
  limitsExceeding,
  meetLimits,
  TokenBucket,
} from '../../src/kernel/limits';
import { boot, type Harness, sleep } from './harness';

const code = (e: unknown) => (e as { code?: string }).code ?? String(e);
const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return code(e);
  }
};

describe('limits as capabilities', () => {
  it('a child gets at most its parent’s limits; the user grants more; grants and clamps are per limit', () => {
    expect(meetLimits({ procs: 5 }, undefined).procs).toBe(5);
    expect(meetLimits({ procs: null }, { procs: 9 }).procs).toBe(9);
    expect(joinLimits({ procs: 5 }, { procs: 50 }).procs).toBe(50);
    expect(joinLimits({ procs: 5 }, { mailboxBytes: 1 }).procs).toBe(5);
    expect(limitsExceeding({ procs: 100 }, { procs: 10 })).toEqual(['limits.procs']);
    expect(limitsExceeding({ procs: null }, { procs: 10 })).toEqual(['limits.procs']);
    expect(limitsExceeding({ procs: 100 }, { procs: null })).toEqual([]);
    // From the user: defaults unless asked; the user may ask for more than the defaults.
    expect(deriveChild(USER_CAPS, undefined).limits).toEqual(DEFAULT_LIMITS);
    expect(deriveChild(USER_CAPS, { limits: { procs: 500 } }).limits?.procs).toBe(500);
    // From an agent: never more than it has.
    const parent = deriveChild(USER_CAPS, { limits: { procs: 8 } });
    expect(() => deriveChild(parent, { limits: { procs: 9 } })).toThrow(/EPERM.*limits\.procs/);
    expect(deriveChild(parent, { limits: { mailboxBytes: 10 } }).limits).toMatchObject({
      procs: 8,
      mailboxBytes: 10,
    });
    expect(DEFAULT_AGENT_CAPS.audit).toBe(false);
    expect(() => deriveChild(parent, { audit: true })).toThrow(/EPERM.*audit/);
  });

  it('token bucket and the call gate: in-flight cap, only pipelined frames spend the rate, a flood is told apart', () => {
    const b = new TokenBucket(10, 2, 0);
    expect([b.take(1, 0), b.take(1, 0), b.take(1, 0)]).toEqual([true, true, false]);
    expect(b.take(1, 100)).toBe(true); // 0.1 s later: one more
    const l = { ...DEFAULT_LIMITS, callsInFlight: 200, callsPerSec: 3 };
    const g = new CallGate(5);
    g.inFlight = 200;
    expect(g.admit(l, 1, 0)).toBe('busy');
    g.inFlight = 0;
    // Sequential frames (a new epoch each) never spend the bucket, however many.
    for (let e = 2; e < 100; e++) expect(g.admit(l, e, 0)).toBe('ok');
    // Pipelined ones (same epoch) do: the bucket (a tenth of a second's worth, at least 64) passes,
    // then EAGAIN, then past floodAfter refusals it is a flood.
    const verdicts = Array.from({ length: 71 }, () => g.admit(l, 100, 0));
    // The first frame of the epoch is not pipelined; the next 64 spend the bucket.
    expect(verdicts.filter((v) => v === 'ok').length).toBe(65);
    expect(verdicts).toContain('rate');
    expect(verdicts.at(-1)).toBe('flood');
  });

  it('frames of one kernel task epoch are in flight together: past callsInFlight busy, past it + FLOOD_GRACE a flood; beats count', () => {
    const l = { ...DEFAULT_LIMITS, callsInFlight: 8, callsPerSec: null };
    const g = new CallGate(1_000_000);
    const v = Array.from({ length: 8 + FLOOD_GRACE + 1 }, () => g.admit(l, 7, 0));
    expect(v.slice(0, 8)).toEqual(Array(8).fill('ok'));
    expect(v.slice(8, 8 + FLOOD_GRACE)).toEqual(Array(FLOOD_GRACE).fill('busy'));
    expect(v.at(-1)).toBe('flood');
    // A new epoch (the agent could read answers in between) starts the count again.
    const h = new CallGate(1_000_000);
    for (let e = 0; e < 1000; e++) expect(h.admit(l, e, 0)).toBe('ok');
    // Beats and cancels count toward the depth too: a flood of them is a flood.
    const b = new CallGate();
    let flood = false;
    for (let i = 0; i < 8 + FLOOD_GRACE + 1; i++) flood = b.count(8, 3).flood;
    expect(flood).toBe(true);
  });

  it('audit records are throttled to one per second per process and limit, with the count', () => {
    const out: string[] = [];
    const a = new AuditThrottle((_pid, text) => out.push(text));
    for (let i = 0; i < 1000; i++) a.record(7, 'procs', 'refused', i);
    a.record(7, 'procs', 'refused', 1500);
    a.record(8, 'procs', 'refused', 1500);
    expect(out).toEqual(['refused', 'refused (and 999 more refusals since the last record)', 'refused']);
  });
});

describe('sizes count buffers, not views', () => {
  it('a 1-byte view of a big buffer is its buffer’s size; payload() refuses it with E2BIG', () => {
    const big = new Uint8Array(new ArrayBuffer(32 << 20), 0, 1);
    expect(byteSize(big)).toBe(32 << 20);
    expect(byteSize({ a: 'xy' })).toBe(8 + 2 + 4);
    expect(() => payload()(big, 'body')).toThrow(/E2BIG.*view of 1 bytes over a buffer/);
    expect(() => payload()({ nested: [big] }, 'body')).toThrow(/E2BIG/);
    // A view of its own whole buffer is fine.
    expect(payload()(new Uint8Array(16), 'body')).toBeInstanceOf(Uint8Array);
  });

  it('vector(): a Float32Array view over 64 MB becomes 384 floats of its own; zero, NaN, Infinity and f32 overflow are EINVAL', () => {
    const view = new Float32Array(new ArrayBuffer(64 << 20), 1024, 384).fill(0.5);
    const v = vector()(view, 'v');
    expect(v.buffer.byteLength).toBe(384 * 4);
    expect(v[0]).toBe(0.5);
    expect(() => vector()(new Float32Array(384), 'v')).toThrow(/EINVAL.*zero vector/);
    expect(() => vector()([1, Number.NaN], 'v')).toThrow(/EINVAL/);
    expect(() => vector()([1, Number.POSITIVE_INFINITY], 'v')).toThrow(/EINVAL/);
    expect(() => vector()([1e39, 1], 'v')).toThrow(/EINVAL.*32-bit/);
    expect(() => vector()([1e-50, 0], 'v')).toThrow(/EINVAL.*zero vector/);
  });
});

describe('mailbox bytes', () => {
  it('counts bytes, not only messages: too big is E2BIG, a full box EAGAIN, waiting senders bounded too', async () => {
    const bus = new MessageBus(100);
    const refused: string[] = [];
    bus.limits = { bytes: () => 1000, refused: (_f, t) => refused.push(t) };
    const msg = (n: number) => new Uint8Array(n);
    bus.send(1, 2, msg(600));
    expect(() => bus.send(1, 2, msg(600))).toThrow(/EAGAIN.*limits\.mailboxBytes/);
    expect(() => bus.send(1, 2, msg(2000))).toThrow(/E2BIG/);
    expect(() => bus.send(1, 2, new Uint8Array(new ArrayBuffer(4000), 0, 1))).toThrow(/E2BIG/);
    // One sender may wait with a message as big as the box; another past that is refused at once.
    const waiting = bus.send(3, 2, msg(900), { wait: true }) as Promise<void>;
    expect(() => bus.send(4, 2, msg(500), { wait: true })).toThrow(/EAGAIN.*senders waiting/);
    expect(refused.length).toBeGreaterThanOrEqual(3);
    // Receiving makes room: the waiting sender gets in.
    const first = (await bus.recv(2)) as { body: Uint8Array };
    expect(first.body.length).toBe(600);
    await waiting;
    expect(((await bus.recv(2)) as { body: Uint8Array }).body.length).toBe(900);
  });
});

describe('limits through the kernel', () => {
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
  const wait = (pid: number) =>
    h.user.call<{ exitCode: number; exitReason: string | null }>('wait', { pid, timeoutMs: 20_000 });
  const out = (pid: number) => h.user.call<string>('output', { pid });
  const quota = async (pid: number) =>
    (await h.user.call<{ text: string }[]>('logs', { pid, kind: 'quota' })).map((e) => e.text);

  it('processes per agent tree: past limits.procs spawn is EAGAIN, recorded; adopted orphans still count', async () => {
    h = await boot({
      idle: async (ctx) => {
        await ctx.bus.recv({ timeoutMs: 5000 }).catch(() => {});
      },
      middle: async (ctx) => {
        // Spawns two idle children, then exits: they are adopted, and still count for the tree.
        for (let i = 0; i < 2; i++) await ctx.spawn('c', undefined, { program: 'idle' });
      },
      root: async (ctx) => {
        const mid = await ctx.spawn('m', undefined, { program: 'middle' });
        await ctx.wait(mid);
        const codes: string[] = [];
        for (let i = 0; i < 3; i++) {
          try {
            await ctx.spawn('x', undefined, { program: 'idle' });
            codes.push('ok');
          } catch (e) {
            codes.push(code(e));
          }
        }
        await ctx.print(JSON.stringify(codes));
      },
    });
    const root = await spawn('root', { limits: { procs: 5 } });
    await wait(root);
    // Alive in root's tree: root, the middle's 2 orphans, 2 new children = 5; the third is refused.
    expect(JSON.parse(await out(root))).toEqual(['ok', 'ok', 'EAGAIN']);
    expect((await quota(root)).join('\n')).toMatch(/process tree of \d+ has 5 processes.*limits\.procs 5/);
    const ps = await h.user.call<ProcInfo[]>('ps');
    const orphans = ps.filter((p) => p.adoptedFrom !== undefined && p.state !== 'exited');
    // The middle's two children, then root's two when root exits.
    expect(orphans.length).toBe(4);
    expect(new Set(orphans.map((o) => o.adoptedFrom)).size).toBe(2);
    for (const o of orphans) expect(o.ppid).toBe(0);
    const logs = await h.user.call<{ text: string }[]>('logs', { pid: orphans[0]!.pid, kind: 'spawn' });
    expect(logs.map((l) => l.text).join('\n')).toMatch(/adopted by the kernel: its parent \d+ exited/);
  });

  it('spawns per second: a storm is refused with EAGAIN past the bucket', async () => {
    h = await boot({
      quick: () => 0,
      storm: async (ctx) => {
        const codes: Record<string, number> = {};
        for (let i = 0; i < 30; i++) {
          const c = await codeOf(ctx.spawn('s', undefined, { program: 'quick' }));
          codes[c] = (codes[c] ?? 0) + 1;
        }
        await ctx.print(JSON.stringify(codes));
      },
    });
    const pid = await spawn('storm', { limits: { spawnsPerSec: 5 } });
    await wait(pid);
    const codes = JSON.parse(await out(pid)) as Record<string, number>;
    // A bucket of two seconds' worth (10), and a little refill while it runs: far fewer than 30.
    expect(codes.ok).toBeGreaterThanOrEqual(10);
    expect(codes.ok).toBeLessThan(25);
    expect(codes.EAGAIN).toBeGreaterThan(0);
    expect((await quota(pid)).join('\n')).toMatch(/spawning faster than 5 per second/);
  });

  it('calls in flight: frames past limits.callsInFlight are answered EAGAIN while the others wait', async () => {
    h = await boot({
      sleeper: async (ctx) => {
        await ctx.bus.recv({ timeoutMs: 10_000 }).catch(() => {});
      },
    });
    const pid = await spawn('sleeper', { limits: { callsInFlight: 4 } });
    await sleep(50);
    // Raw frames, as an agent that bypasses the SDK sends them (the SDK never sends past the cap).
    const port = h.agentPorts.get(pid)!;
    const codes: string[] = [];
    const prev = port.onmessage as (ev: MessageEvent) => void;
    port.onmessage = (ev: MessageEvent) => {
      const f = ev.data as { t: string; id: number; ok: boolean; error?: { code: string } };
      if (f.t === 'ret' && f.id >= 1e9) codes.push(f.ok ? 'ok' : f.error!.code);
      else prev(ev);
    };
    for (let i = 0; i < 6; i++)
      port.postMessage({ t: 'call', id: 1e9 + i, name: 'bus.recv', args: { timeoutMs: 300 } });
    for (let i = 0; i < 100 && codes.length < 6; i++) await sleep(20);
    // One is the sleeper's own recv: 3 of these fit, 3 are refused.
    expect(codes.filter((c) => c === 'EAGAIN').length).toBe(3);
    expect(codes.filter((c) => c === 'ETIMEDOUT').length).toBe(3);
    expect((await quota(pid)).join('\n')).toMatch(/4 calls already in flight/);
  });

  it('the SDK keeps calls past limits.callsInFlight waiting on its side, in order: Promise.all over thousands succeeds', async () => {
    // A port the test answers by hand: the SDK must never have more than the cap outstanding.
    const sent: { id: number; name: string }[] = [];
    const port: PortLike & { answer(id: number): void } = {
      onmessage: null,
      postMessage(m: unknown) {
        const f = m as { t: string; id: number; name: string };
        if (f.t === 'call') sent.push(f);
      },
      answer(id: number) {
        this.onmessage?.({ data: { t: 'ret', id, ok: true, value: id } } as MessageEvent);
      },
    };
    const sys = new SyscallClient(port);
    sys.maxInFlight = 4;
    const all = Promise.all(Array.from({ length: 3000 }, (_, i) => sys.call('nop', { i })));
    let answered = 0;
    let most = 0;
    while (answered < 3000) {
      const out = sent.length - answered;
      most = Math.max(most, out);
      expect(out).toBeGreaterThan(0);
      port.answer(sent[answered]!.id); // answers in order; each frees a slot for the next
      answered++;
    }
    expect(most).toBe(4);
    expect((await all).length).toBe(3000);
    expect(sent.map((f) => (f as unknown as { args: { i: number } }).args.i)).toEqual(
      Array.from({ length: 3000 }, (_, i) => i),
    );
    // A stream waiting for room and abandoned never goes out; failAll fails the waiting too.
    const more = Array.from({ length: 6 }, () => codeOf(sys.call('bus.recv')));
    sys.failAll(new SysError('EIO', 'kernel gone'));
    expect(await Promise.all(more)).toEqual(Array(6).fill('EIO'));
    expect(sent.length).toBe(3004);
  });

  it('the SDK paces calls sent while others are in flight below limits.callsPerSec; a call with none in flight is not paced', async () => {
    const sentAt: number[] = [];
    /** Send times of the calls sent while another was in flight (pipelined). */
    const pipelinedAt: number[] = [];
    let out = 0;
    const port: PortLike = {
      onmessage: null,
      postMessage(m: unknown) {
        const f = m as { t: string; id: number };
        if (f.t !== 'call') return;
        sentAt.push(performance.now());
        if (out++ > 0) pipelinedAt.push(performance.now());
        setTimeout(() => {
          out--;
          port.onmessage?.({ data: { t: 'ret', id: f.id, ok: true, value: null } } as MessageEvent);
        }, 1);
      },
    };
    const sys = new SyscallClient(port);
    sys.callsPerSec = 200; // paced at 180/s, a bucket of 57.6
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 150 }, () => sys.call('nop')));
    expect(sentAt.length).toBe(150);
    // However fast or slow the machine: by each pipelined send, at most the bucket and what refilled since.
    expect(pipelinedAt.length).toBeGreaterThan(50); // the bucket at least
    for (const [i, t] of pipelinedAt.entries())
      expect(i + 1).toBeLessThanOrEqual(57.6 + (180 * (t - t0)) / 1000 + 1);
    // One call after another is never paced.
    const seq0 = performance.now();
    for (let i = 0; i < 100; i++) await sys.call('nop');
    expect(sentAt.length).toBe(250);
    expect(sentAt.slice(150).every((t) => t >= seq0)).toBe(true);
  });

  it('a raw flood of pipelined frames: EAGAIN past the rate, then stopped as a flood; the user is served', async () => {
    h = await boot({
      sleeper: async (ctx) => {
        await ctx.bus.recv({ timeoutMs: 10_000 }).catch(() => {});
      },
    });
    const pid = await spawn('sleeper', { limits: { callsPerSec: 1000 } });
    await sleep(50);
    const port = h.agentPorts.get(pid)!;
    const codes: Record<string, number> = {};
    const prev = port.onmessage as (ev: MessageEvent) => void;
    port.onmessage = (ev: MessageEvent) => {
      const f = ev.data as { t: string; id: number; ok: boolean; error?: { code: string } };
      if (f.t === 'ret' && f.id >= 1e9)
        codes[f.ok ? 'ok' : f.error!.code] = (codes[f.ok ? 'ok' : f.error!.code] ?? 0) + 1;
      else prev(ev);
    };
    for (let i = 0; i < 20_000; i++) port.postMessage({ t: 'call', id: 1e9 + i, name: 'nop', args: {} });
    const exit = await wait(pid);
    expect(await h.user.call('getpid')).toEqual({ pid: 0, ppid: 0 });
    expect(exit.exitCode).toBe(137);
    expect(exit.exitReason).toMatch(/flood/);
    expect(codes.EAGAIN).toBeGreaterThan(0);
    expect(codes.ok ?? 0).toBeLessThan(10_000);
    expect((await quota(pid)).join('\n')).toMatch(/flooding the kernel/);
  });

  it('sequential calls are never limited by the rate, however many', async () => {
    h = await boot({
      seq: async (ctx) => {
        for (let i = 0; i < 3000; i++) await ctx.syscall('nop');
        await ctx.print('done');
      },
    });
    const pid = await spawn('seq', { limits: { callsPerSec: 10 } });
    expect((await wait(pid)).exitCode).toBe(0);
    expect(await out(pid)).toBe('done');
  });

  it('output bytes kept: only the tail, per limits.outputBytes', async () => {
    h = await boot({
      chatty: async (ctx) => {
        for (let i = 0; i < 100; i++) await ctx.print(`line ${i}`);
      },
    });
    const pid = await spawn('chatty', { limits: { outputBytes: 40 } });
    await wait(pid);
    const o = await out(pid);
    expect(o.length).toBe(20);
    expect(o.endsWith('line 98line 99')).toBe(true);
  });

  it('one pending permission request per agent: a repeat joins it, a different one is EAGAIN', async () => {
    h = await boot({
      asker: async (ctx) => {
        const ask = (r: string) =>
          ctx.syscall('permission.request', { permissions: { tools: ['http.fetch'] }, reason: r });
        const a = ask('please').then(
          (v) => (v as { answer: string }).answer,
          (e) => code(e),
        );
        const b = ask('please').then(
          (v) => (v as { answer: string }).answer,
          (e) => code(e),
        );
        const c = codeOf(ask('something else'));
        await ctx.print(JSON.stringify(await Promise.all([a, b, c])));
      },
    });
    const pid = await spawn('asker');
    let pending: { id: number; repeats?: number; reason: string }[] = [];
    for (let i = 0; i < 100 && !pending[0]?.repeats; i++) {
      await sleep(20);
      pending = await h.user.call('permission.pending');
    }
    expect(pending.length).toBe(1);
    expect(pending[0]!.repeats).toBe(1);
    await h.user.call('permission.answer', { id: pending[0]!.id, answer: 'deny' });
    await wait(pid);
    expect(JSON.parse(await out(pid))).toEqual(['deny', 'deny', 'EAGAIN']);
  });

  it('logs {pid: 0}: the kernel’s own log is the user’s; an agent granted audit may read it', async () => {
    h = await boot({
      reader: async (ctx) => {
        await ctx.print(JSON.stringify(await codeOf(ctx.syscall('logs', { pid: 0 }))));
      },
    });
    await h.user.call('embed.allow', { origin: 'https://example.com', permissions: {} });
    const a = await spawn('reader', { procs: 'all' });
    await wait(a);
    expect(JSON.parse(await out(a))).toBe('EPERM');
    const b = await spawn('reader', { audit: true });
    await wait(b);
    expect(JSON.parse(await out(b))).toBe('ok');
    const own = await h.user.call<{ text: string }[]>('logs', { pid: 0 });
    expect(own.some((e) => /embedding allowed/.test(e.text))).toBe(true);
  });
});

describe('tool names belong to their source', () => {
  let h: Harness;
  afterEach(() => h?.close());

  it('agents cannot take host.*, kernel or MCP prefixes; pages serve only host.*; each page sees its own', async () => {
    h = await boot({
      squatter: async (ctx) => {
        const reg = (name: string) =>
          codeOf(ctx.syscall('tools.register', { name, description: 'x', inputSchema: { type: 'object' } }));
        await ctx.print(
          JSON.stringify([await reg('host.selection'), await reg('time.later'), await reg('acme.lookup')]),
        );
      },
    });
    const pid = (await h.user.call<{ pid: number }>('spawn', { task: 't', options: { program: 'squatter' } }))
      .pid;
    await h.user.call('wait', { pid, timeoutMs: 10_000 });
    expect(JSON.parse(await h.user.call<string>('output', { pid }))).toEqual(['EPERM', 'EPERM', 'ok']);
    // The agent's acme.lookup is evicted when a server claims the prefix (not first come, first served).
    const tools = h.kernel.tools;
    tools.register({ name: 'acme.other', description: 'x', inputSchema: {} }, 'agent:99', () => 1);
    const evicted = tools.claimPrefix('acme', 'mcp:http://acme.test/');
    expect(evicted.join()).toMatch(/acme\.other/);
    expect(() =>
      tools.register({ name: 'acme.lookup', description: 'x', inputSchema: {} }, 'agent:99', () => 1),
    ).toThrow(/EPERM.*MCP server/);
    tools.register(
      { name: 'acme.lookup', description: 'x', inputSchema: {} },
      'mcp:http://acme.test/',
      () => 'server',
    );
    expect(() => tools.claimPrefix('acme', 'mcp:http://evil.test/')).toThrow(/EPERM/);
    expect(() => tools.claimPrefix('host', 'mcp:http://evil.test/')).toThrow(/EPERM.*reserved/);
    // Pages: only host.*, and two pages may each serve host.selection; a caller sees its own page's.
    expect(() =>
      tools.register({ name: 'weather', description: 'x', inputSchema: {} }, 'tab:A', () => 'A'),
    ).toThrow(/EPERM.*host/);
    tools.register({ name: 'host.selection', description: 'x', inputSchema: {} }, 'tab:A', () => 'A');
    tools.register({ name: 'host.selection', description: 'x', inputSchema: {} }, 'tab:B', () => 'B');
    const asTab = (tab: string) => ({ kind: 'user', pid: 0, caps: USER_CAPS, tab: { id: tab } }) as never;
    expect(await tools.call('host.selection', {}, asTab('A'))).toBe('A');
    expect(await tools.call('host.selection', {}, asTab('B'))).toBe('B');
    expect(tools.list(() => true, asTab('B')).filter((t) => t.name === 'host.selection')).toHaveLength(1);
    await expect(tools.call('host.selection', {}, asTab('C'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
