/**
 * A site embedding the OS is clamped by the kernel (embedders.ts), not by its own frame, and
 * pages have limits too (page-limits.ts): through the real kernel over real MessageChannels.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Capabilities } from '../../src/abi/capabilities';
import type { KernelEvent, ProcInfo } from '../../src/abi/protocol';
import { SyscallClient } from '../../src/abi/syscall-client';
import { parsePolicyFile } from '../../src/kernel/embedders';
import { AuditThrottle } from '../../src/kernel/limits';
import { DESKTOP_PAGE_LIMITS, EMBED_TOOLS_MAX, PageLimiter } from '../../src/kernel/page-limits';
import type { ProcessTable } from '../../src/kernel/process';
import { boot, type Harness } from './harness';
import { outcome } from './outcome';

const SITE = 'https://site.example';
const IDLE = 'export default async (ctx) => { await ctx.recv({ timeoutMs: 60000 }); }';

/** A second tab that says hello as an embedded OS (embed.html); it hosts nothing of its own here. */
function embedTab(h: Harness, id = 'embed-tab') {
  const ch = new MessageChannel();
  h.kernel.attachTab(ch.port1);
  const sys = new SyscallClient(ch.port2);
  const events: KernelEvent[] = [];
  sys.onOther = (f) => {
    if (f.t === 'event') events.push((f as { event: KernelEvent }).event);
  };
  ch.port2.postMessage({ t: 'hello', tabId: id, lock: null, host: false, embed: true, version: 1 });
  return { sys, events, close: () => ch.port2.close() };
}

describe('embedding pages are clamped by the kernel', () => {
  let h: Harness;
  afterEach(() => h?.close());

  it('an unbound or refused embed tab can do nothing; a bound one gets its origin’s entry and no more', async () => {
    h = await boot({ '(source)': (ctx) => ctx.bus.recv({ timeoutMs: 60_000 }) });
    const e = embedTab(h);
    await e.sys.call('subscribe');
    // Before binding: no spawn, none of the user's calls.
    expect(await outcome(e.sys.call('spawn', { task: 't', options: { source: IDLE } }))).toBe('EPERM');
    expect(await outcome(e.sys.call('embed.bind', { origin: SITE }))).toBe('EPERM'); // not allowed yet
    expect(await e.sys.call('embed.policy', { origin: SITE })).toBeNull();
    // The user allows the site: tools host.* and time.now, no spawning for its agents.
    const entry: Partial<Capabilities> = { tools: ['host.*', 'time.now'], models: ['*'], spawn: false };
    await h.user.call('embed.allow', { origin: SITE, permissions: entry });
    expect(await e.sys.call('embed.bind', { origin: SITE })).toMatchObject({ origin: SITE });
    // Once bound, it cannot speak for another origin.
    expect(await outcome(e.sys.call('embed.bind', { origin: 'https://other.example' }))).toBe('EPERM');
    // The page asks for more than its entry: the kernel refuses (its frame is not trusted to clamp).
    for (const more of [
      { tools: ['*'] },
      { spawn: true },
      { net: ['*'] },
      { audit: true },
      { memoryRead: ['*'] },
      { procs: 'all' },
      { limits: { procs: 10_000 } },
    ])
      expect(
        await outcome(e.sys.call('spawn', { task: 't', permissions: more, options: { source: IDLE } })),
        JSON.stringify(more),
      ).toBe('EPERM');
    // Nor more urgent than the user's agents.
    expect(await outcome(e.sys.call('spawn', { task: 't', options: { source: IDLE, priority: -20 } }))).toBe(
      'EPERM',
    );
    // Within it: allowed, and derived from the entry, not from the user's all.
    const { pid } = await e.sys.call<{ pid: number }>('spawn', {
      task: 't',
      permissions: { tools: ['time.now'] },
      options: { source: IDLE },
    });
    const mine = (await e.sys.call<ProcInfo[]>('ps')).find((p) => p.pid === pid);
    expect(mine?.capabilities).toMatchObject({ spawn: false, tools: ['time.now'], net: [], audit: false });
    // The user's standing "always" for a program never widens what a page of another site starts.
    h.kernel.asks.standing.set('(source)', { net: ['*'] });
    h.kernel.asks.standing.set('llm-agent', { net: ['*'], tools: ['*'] });
    const { pid: p2 } = await e.sys.call<{ pid: number }>('spawn', {
      task: 't',
      options: { program: 'llm-agent' },
    });
    const info2 = (await h.user.call<ProcInfo[]>('ps')).find((p) => p.pid === p2);
    expect(info2?.capabilities.net).toEqual([]);
    expect(info2?.capabilities.tools).not.toContain('*');
    // The user's own calls stay the user's.
    for (const [name, args] of [
      ['grant', { pid, permissions: { net: ['*'] } }],
      ['embed.allow', { origin: 'https://evil.example', permissions: {} }],
      ['logs', { pid: 0 }],
      ['tools.mcp_add', { url: 'https://mcp.example/mcp' }],
      ['restart', { pid }],
      ['memory.recall', { query: 'x' }],
    ] as const)
      expect(await outcome(e.sys.call(name, args)), name).toBe('EPERM');
    expect(await outcome(e.sys.call('embed.policy', {}))).toBe('EPERM'); // not the whole allowlist
    await h.user.call('kill', { pid: p2, signal: 'KILL' });
    await h.user.call('kill', { pid, signal: 'KILL' });
    e.close();
  });

  it('it sees, signals, messages and hears only the agents its origin started', async () => {
    h = await boot({ idle: (ctx) => ctx.bus.recv({ timeoutMs: 60_000 }) });
    await h.user.call('embed.allow', { origin: SITE, permissions: { tools: ['time.now'] } });
    const userPid = (
      await h.user.call<{ pid: number }>('spawn', { task: 'the user’s', options: { program: 'idle' } })
    ).pid;
    const e = embedTab(h);
    await e.sys.call('subscribe');
    await e.sys.call('embed.bind', { origin: SITE });
    const own = (await e.sys.call<{ pid: number }>('spawn', { task: 'mine', options: { program: 'idle' } }))
      .pid;
    expect((await e.sys.call<ProcInfo[]>('ps')).map((p) => p.pid)).toEqual([own]);
    expect(await outcome(e.sys.call('kill', { pid: userPid }))).toBe('EPERM');
    expect(await outcome(e.sys.call('wait', { pid: userPid, timeoutMs: 0 }))).toBe('EPERM');
    expect(await outcome(e.sys.call('bus.send', { to: userPid, body: 'hi' }))).toBe('EPERM');
    expect(await outcome(e.sys.call('bus.send', { to: 'some-name', body: 'hi' }))).toBe('EPERM');
    expect(await e.sys.call('bus.send', { to: own, body: 'hi' })).toBeNull();
    await h.user.call('write', { fd: 1, data: 'x' }).catch(() => {});
    await h.user.call('kill', { pid: userPid, signal: 'KILL' });
    await h.user.call('wait', { pid: own, timeoutMs: 10_000 }).catch(() => {});
    await e.sys.call('nop');
    const pids = e.events.flatMap((ev) =>
      ev.type === 'proc' ? [ev.proc.pid] : ev.type === 'output' ? [ev.pid] : [],
    );
    expect(pids).toContain(own);
    expect(pids).not.toContain(userPid);
    // Removing a tool by name: only its own.
    h.kernel.tools.register({ name: 'victim.tool', description: 'x', inputSchema: {} }, 'agent:999', () => 1);
    expect(await outcome(e.sys.call('tools.remove', { name: 'victim.tool' }))).toBe('ENOENT');
    expect(h.kernel.tools.countOf('agent:999')).toBe(1);
    e.close();
  });

  it('removing the origin in settings stops its very next call; an unbound frame never hosts', async () => {
    h = await boot({ '(source)': (ctx) => ctx.bus.recv({ timeoutMs: 60_000 }) });
    await h.user.call('embed.allow', { origin: SITE, permissions: { tools: ['time.now'] } });
    const e = embedTab(h, 'frame-2');
    // host.enable before binding is ignored: it hosts nothing.
    await e.sys.call('nop');
    expect(h.kernel.tabs.get('frame-2')?.host).toBe(false);
    await e.sys.call('embed.bind', { origin: SITE });
    await h.user.call('embed.disallow', { origin: SITE });
    expect(await outcome(e.sys.call('spawn', { task: 't', options: { source: IDLE } }))).toBe('EPERM');
    e.close();
  });

  it('the deployment’s embed-policy.json is read by the kernel, bad entries skipped', () => {
    const warned: string[] = [];
    const m = parsePolicyFile(
      {
        origins: {
          'https://ok.example': { tools: ['host.*'] },
          'https://ok.example/path': {},
          'https://bad.example': { tools: 'everything' },
          __proto__: { spawn: true },
        },
      },
      (w) => warned.push(w),
    );
    expect([...m.keys()]).toEqual(['https://ok.example']);
    expect(warned.length).toBe(2);
  });
});

describe('pages have limits', () => {
  let h: Harness;
  afterEach(() => h?.close());

  it('an embedding origin: processes alive, spawns per second and host tools, each EAGAIN with an audit record', async () => {
    h = await boot({ '(source)': (ctx) => ctx.bus.recv({ timeoutMs: 60_000 }) });
    await h.user.call('embed.allow', {
      origin: SITE,
      permissions: { tools: ['time.now'], limits: { procs: 3, spawnsPerSec: 1000 } },
    });
    const e = embedTab(h);
    await e.sys.call('embed.bind', { origin: SITE });
    const spawn = () => e.sys.call<{ pid: number }>('spawn', { task: 't', options: { source: IDLE } });
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push(await outcome(spawn()));
    expect(codes).toEqual(['ok', 'ok', 'ok', 'EAGAIN', 'EAGAIN']);
    // A second frame of the same origin (another tab, a reload) shares the origin's count.
    const e2 = embedTab(h, 'embed-tab-2');
    await e2.sys.call('embed.bind', { origin: SITE });
    expect(await outcome(e2.sys.call('spawn', { task: 't', options: { source: IDLE } }))).toBe('EAGAIN');
    // Host tools: past EMBED_TOOLS_MAX, EAGAIN; registering one it serves again is no more.
    const reg = (name: string) =>
      outcome(e.sys.call('tools.register', { name, description: 'x', inputSchema: { type: 'object' } }));
    for (let i = 0; i < EMBED_TOOLS_MAX; i++) expect(await reg(`host.t${i}`)).toBe('ok');
    expect(await reg('host.t0')).toBe('ok');
    expect(await reg('host.one_more')).toBe('EAGAIN');
    const audit = await h.user.call<{ text: string }[]>('logs', { pid: 0, kind: 'quota' });
    const texts = audit.map((a) => a.text).join('\n');
    expect(texts).toMatch(/origin:https:\/\/site\.example.*3 processes alive/);
    expect(texts).toMatch(/host tools/);
    e.close();
    e2.close();
  });

  it('an embedding origin’s spawn rate: a storm past its bucket is EAGAIN, audited', async () => {
    h = await boot({ '(source)': (ctx) => ctx.bus.recv({ timeoutMs: 60_000 }) });
    await h.user.call('embed.allow', { origin: SITE, permissions: { limits: { spawnsPerSec: 1 } } });
    const e = embedTab(h);
    await e.sys.call('embed.bind', { origin: SITE });
    // A bucket of two; six at once would need four seconds to refill.
    const codes = await Promise.all(
      Array.from({ length: 6 }, () => outcome(e.sys.call('spawn', { task: 't', options: { source: IDLE } }))),
    );
    expect(codes.filter((c) => c === 'EAGAIN').length).toBeGreaterThanOrEqual(1);
    const audit = await h.user.call<{ text: string }[]>('logs', { pid: 0, kind: 'quota' });
    expect(audit.map((a) => a.text).join('\n')).toMatch(
      /origin:https:\/\/site\.example.*faster than 1 per second/,
    );
    e.close();
  });

  it('the desktop’s own tab is bounded too: processes alive and spawns per second, audited', () => {
    const records: string[] = [];
    const alive: { alive: boolean; spawnPage: string | null }[] = [];
    const pages = new PageLimiter({
      procs: { all: () => alive } as unknown as ProcessTable,
      audit: new AuditThrottle((_pid, text) => records.push(text)),
    });
    const key = 'desktop:tab-1';
    // A runaway script in the tab: the bucket holds two seconds' worth, then EAGAIN (time stands still here).
    const burst = 2 * DESKTOP_PAGE_LIMITS.spawnsPerSec;
    for (let i = 0; i < burst; i++) pages.checkSpawn(key, DESKTOP_PAGE_LIMITS, 0);
    expect(() => pages.checkSpawn(key, DESKTOP_PAGE_LIMITS, 0)).toThrow(/EAGAIN.*faster than 200 per second/);
    // A second later there is room again, until the tree holds its limit of processes alive.
    for (let i = 0; i < DESKTOP_PAGE_LIMITS.procs; i++) alive.push({ alive: true, spawnPage: key });
    alive.push({ alive: true, spawnPage: 'desktop:another-tab' });
    expect(() => pages.checkSpawn(key, DESKTOP_PAGE_LIMITS, 1000)).toThrow(/EAGAIN.*1000 processes alive/);
    expect(() => pages.checkSpawn('desktop:another-tab', DESKTOP_PAGE_LIMITS, 1000)).not.toThrow();
    expect(records.join('\n')).toMatch(/desktop:tab-1/);
    // Calls in flight from a tab.
    const few = { ...DESKTOP_PAGE_LIMITS, callsInFlight: 2 };
    expect(pages.admitCall('tab-1', key, few)).toBeNull();
    expect(pages.admitCall('tab-1', key, few)).toBeNull();
    expect(pages.admitCall('tab-1', key, few)?.code).toBe('EAGAIN');
    pages.callDone('tab-1');
    expect(pages.admitCall('tab-1', key, few)).toBeNull();
  });

  it('an agent serves at most 64 tools at once', async () => {
    h = await boot({
      many: async (ctx) => {
        const out: string[] = [];
        for (let i = 0; i < 66; i++)
          out.push(
            await outcome(
              ctx.syscall('tools.register', { name: `a.t${i}`, description: 'x', inputSchema: {} }),
            ),
          );
        await ctx.print(JSON.stringify(out));
      },
    });
    const { pid } = await h.user.call<{ pid: number }>('spawn', { task: 't', options: { program: 'many' } });
    await h.user.call('wait', { pid, timeoutMs: 10_000 });
    const out = JSON.parse(await h.user.call<string>('output', { pid })) as string[];
    expect(out.slice(0, 64).every((c) => c === 'ok')).toBe(true);
    expect(out.slice(64)).toEqual(['EAGAIN', 'EAGAIN']);
  });
});
