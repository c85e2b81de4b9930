/**
 * The tabs connected to the kernel: their hello, their liveness (a Web Lock, or
 * beats where locks are missing), the workers they host for the kernel (agents
 * are started by the lifecycle; engines and embedders here, one way for both),
 * the tools a page serves, and the events every subscribed tab is sent.
 * A SharedWorker cannot start workers itself: tabs do it for the kernel.
 */
import { type Errno, SysError } from '../abi/errors';
import {
  type CallFrame,
  type EventFrame,
  type EventsFrame,
  type HostCommand,
  type KernelEvent,
  PROTOCOL_VERSION,
  parseInbound,
} from '../abi/protocol';
import type { ToolDef, ToolInfo, ToolRegistry } from '../tools/registry';
import { bootMark } from './boot-trace';
import { EventBatch } from './event-batch';
import { chooseHost, type LossHow, type TabLoss } from './migration';
import { PendingCalls } from './pending';
import { type Counters, type Endpoint, internalError, post, refuseMalformed } from './ports';
import type { Process } from './process';

/** How long after a tab's lock is released its bye may still arrive (see add()). */
export const BYE_GRACE_MS = 500;

/** A worker a tab hosts for the kernel (a model engine, an embedder). */
export interface HostedWorker {
  fail(why: string, code?: Errno): void;
  onDispose: (() => void) | null;
}

export interface Tab {
  id: string;
  port: Endpoint;
  host: boolean;
  subscribed: boolean;
  hosted: Set<Process>;
  /** Engine and embedder workers this tab hosts, by key. */
  engines: Map<string, HostedWorker>;
  streams: Map<number, AbortController>;
  lastBeat: number;
  gone: boolean;
  /** The page is hidden (throttled): it hosts agents only when no visible tab can. */
  hidden: boolean;
  /** Tool calls sent to this tab (a tool it serves), waiting for tools.result. */
  toolCalls: PendingCalls<number, unknown>;
  /** An embedded OS (embed.html): not the user; the origin it speaks for once bound (embedders.ts). */
  embed: { origin: string | null } | null;
}

/** What the rest of the kernel does when a tab speaks or goes. */
export interface TabHooks {
  /** A syscall from the user's tab. */
  call(tab: Tab, frame: CallFrame): void;
  /** An agent's host is gone: closed (said bye) or crashed (no goodbye). */
  hostLost(p: Process, why: string, how: LossHow): void;
  workerDied(tab: Tab, pid: number, incarnation: number, reason: string): void;
  /** Agent frames of this tab whose sandbox process died together (crash-blame.ts decides). */
  framesCrashed(tab: Tab, lost: { pid: number; incarnation: number }[]): void;
  /** A tab said bye (perhaps the last): write out what is buffered. */
  bye(): void;
  /** The last tab is gone: the kernel's worker goes with it. */
  allGone(): void;
  /** A host tab came: queued work may start. */
  hostAdded(): void;
  /** Processes not exited (for the tabs' beforeunload question). */
  agents(): number;
  /** Whether a tab hears an event (an embedded OS hears only of its own agents). */
  hears(tab: Tab, event: KernelEvent): boolean;
  /** A tab is gone: what was counted for it goes. */
  tabGone(tab: Tab): void;
}

export interface TabOptions {
  locks: LockManager | null;
  beatTimeoutMs: number;
}

/** How often host tabs check their agent frames (two missed rounds: the frame's process is gone). */
export const FRAME_PROBE_MS = 1000;

/** How long a page has to answer a call to a tool it serves. */
const TAB_TOOL_TIMEOUT_MS = 30_000;

export class Tabs {
  private readonly byId = new Map<string, Tab>();
  private readonly hostWaiters: (() => void)[] = [];
  private seq = 0;
  private toolCallSeq = 0;
  /** Events leave once per kernel tick, merged (event-batch.ts). */
  private readonly events = new EventBatch((events) => this.deliver(events));

  constructor(
    private readonly tools: ToolRegistry,
    private readonly counters: Counters,
    private readonly opts: TabOptions,
    private readonly hooks: TabHooks,
  ) {
    const reaper = setInterval(() => this.reapSilent(), Math.max(1000, opts.beatTimeoutMs / 3));
    (reaper as { unref?: () => void }).unref?.(); // never keep a Node test process alive
    // The kernel's timer paces the host tabs' checks of their agent frames (agent-frame.ts): a
    // worker's timers run on in a hidden tab, the tab's own are throttled.
    const prober = setInterval(() => this.probeFrames(), FRAME_PROBE_MS);
    (prober as { unref?: () => void }).unref?.();
  }

  /** Asks every tab hosting agents to ping its frames; frames that missed rounds are reported as crashed. */
  private probeFrames(): void {
    for (const tab of this.byId.values())
      if (!tab.gone && tab.hosted.size) post(tab.port, { t: 'host.probe' });
  }

  /**
   * Asks one tab to judge its agent frames now: an agent there missed its heartbeats, and if
   * its frame's process died, the crash path (which restarts innocents) must decide, not the kill.
   */
  probeNow(tab: Tab): void {
    if (!tab.gone) post(tab.port, { t: 'host.probe', urgent: true });
  }

  get size(): number {
    return this.byId.size;
  }

  get(id: string): Tab | undefined {
    return this.byId.get(id);
  }

  /** Whether any tab is still open (none: the OS is closing). */
  anyOpen(): boolean {
    return [...this.byId.values()].some((t) => !t.gone);
  }

  /** A tab (or the page that owns a dedicated kernel) connected. It speaks once it says hello. */
  attach(port: Endpoint): void {
    let tab: Tab | null = null;
    port.onmessage = (ev) => {
      try {
        const frame = parseInbound(ev.data);
        if (!frame) return refuseMalformed(this.counters, port, ev.data);
        if (frame.t === 'hello') {
          if (tab) return;
          if (frame.version !== PROTOCOL_VERSION) {
            return post(port, { t: 'event', event: { type: 'tabs', count: -1 } });
          }
          bootMark('tab.hello');
          tab = this.add(port, frame.tabId, frame.host, frame.lock, frame.embed === true);
          return;
        }
        if (!tab || tab.gone) return refuseMalformed(this.counters, port, ev.data, 'say hello first');
        tab.lastBeat = Date.now();
        switch (frame.t) {
          case 'call':
            return this.hooks.call(tab, frame);
          case 'cancel':
            return tab.streams.get(frame.id)?.abort();
          case 'bye':
            this.hooks.bye();
            return this.gone(tab, 'closed');
          case 'host.died':
            return this.hooks.workerDied(tab, frame.pid, frame.incarnation, frame.reason);
          case 'host.crashed':
            return this.hooks.framesCrashed(tab, frame.lost);
          case 'host.enable':
            // An embedded OS hosts only once it speaks for an allowed origin (embed.bind).
            if (tab.embed && !tab.embed.origin) return;
            return this.enableHost(tab);
          case 'host.engine.died': {
            const e = tab.engines.get(frame.key);
            tab.engines.delete(frame.key);
            return e?.fail(frame.reason.slice(0, 500));
          }
          case 'beat':
            return;
        }
      } catch (e) {
        internalError(this.counters, e);
      }
    };
    port.start?.();
  }

  private add(port: Endpoint, id: string, host: boolean, lock: string | null, embed: boolean): Tab {
    const existing = this.byId.get(id);
    if (existing) this.gone(existing, 'closed');
    const tab: Tab = {
      id,
      // Whatever else is sent to the tab goes after the events emitted before it.
      port: {
        get onmessage() {
          return port.onmessage;
        },
        set onmessage(f) {
          port.onmessage = f;
        },
        postMessage: (m, t) => {
          this.events.flush();
          port.postMessage(m, t);
        },
        close: () => port.close?.(),
      },
      host,
      subscribed: false,
      hosted: new Set(),
      engines: new Map(),
      streams: new Map(),
      toolCalls: new PendingCalls(),
      lastBeat: Date.now(),
      gone: false,
      hidden: false,
      embed: embed ? { origin: null } : null,
    };
    // An embedded OS hosts no agent before an allowed page said hello (host.enable after embed.bind).
    if (embed) tab.host = false;
    this.byId.set(id, tab);
    if (lock && this.opts.locks) {
      // The tab holds this lock for its whole life; we are granted it when the tab is gone.
      // Granted without a goodbye: the tab crashed (or was discarded). A closing tab posts its bye
      // before the lock goes, but the two reach us by different task queues: the bye may come
      // second, so it gets a moment (a crash judged as a close would end agents with no checkpoint).
      this.opts.locks
        .request(lock, () => {
          setTimeout(() => this.gone(tab, 'crashed'), BYE_GRACE_MS);
        })
        .catch(() => {});
    }
    this.broadcastTabs();
    if (tab.host) for (const w of this.hostWaiters.splice(0)) w();
    this.hooks.hostAdded();
    return tab;
  }

  /** An embedded OS hosts agents only once an allowed page said hello: from now on this tab hosts. */
  private enableHost(tab: Tab): void {
    if (tab.host) return;
    tab.host = true;
    this.broadcastTabs();
    for (const w of this.hostWaiters.splice(0)) w();
    this.hooks.hostAdded();
  }

  gone(tab: Tab, how: TabLoss = 'crashed'): void {
    if (tab.gone) return;
    tab.gone = true;
    if (this.byId.get(tab.id) === tab) this.byId.delete(tab.id);
    for (const c of tab.streams.values()) c.abort();
    const what = `host tab ${tab.id.slice(0, 8)} ${how === 'closed' ? 'closed' : 'crashed'}`;
    for (const p of [...tab.hosted]) this.hooks.hostLost(p, what, how);
    // durable: EHOSTDOWN, so the SDK retries a generation that had not started streaming (a safe read).
    for (const e of tab.engines.values()) e.fail(`its host tab ${tab.id.slice(0, 8)} closed`, 'EHOSTDOWN');
    tab.engines.clear();
    this.tools.removeSource(`tab:${tab.id}`);
    tab.toolCalls.rejectWhere(
      () => true,
      () => new SysError('EHOSTDOWN', 'the page serving this tool closed'),
    );
    tab.port.close?.();
    this.hooks.tabGone(tab);
    this.broadcastTabs();
    if (!this.anyOpen()) this.hooks.allGone();
  }

  private reapSilent(): void {
    const now = Date.now();
    for (const tab of this.byId.values()) {
      // Tabs with a lock are watched by it; timers in background tabs are throttled, so no beat-based death for them.
      if (!tab.gone && !this.opts.locks && now - tab.lastBeat > this.opts.beatTimeoutMs)
        this.gone(tab, 'crashed');
    }
  }

  /**
   * The least-loaded visible tab that hosts workers (an engine holds a model: it
   * counts as several agents); a hidden one only when no visible one can.
   */
  pickHost(): Tab | null {
    return this.pickHostWhere(() => true);
  }

  /**
   * Like pickHost, among tabs hosting no process that `avoid` names (a crash
   * suspect goes where no other suspect is, so its own sandbox process); null if none.
   */
  pickHostAvoiding(avoid: (p: Process) => boolean): Tab | null {
    return this.pickHostWhere((t) => ![...t.hosted].some(avoid));
  }

  private pickHostWhere(ok: (t: Tab) => boolean): Tab | null {
    const tabs = [...this.byId.values()].filter(ok).map((t) => ({
      tab: t,
      host: t.host,
      gone: t.gone,
      hidden: t.hidden,
      load: t.hosted.size + 8 * t.engines.size,
    }));
    return chooseHost(tabs)?.tab ?? null;
  }

  /** A tab was hidden or shown: hidden tabs host only when no visible one can. */
  setHidden(tab: Tab, hidden: boolean): null {
    tab.hidden = hidden;
    this.hooks.hostAdded(); // queued work may start on it (or elsewhere) now
    return null;
  }

  private lastTabsEvent = '';

  /** Tells the tabs how many tabs, host tabs and live agents there are (the beforeunload question needs it). */
  broadcastTabs(): void {
    let hosts = 0;
    for (const t of this.byId.values()) if (t.host && !t.gone) hosts++;
    const agents = this.hooks.agents();
    this.lastTabsEvent = `${this.byId.size}/${hosts}/${agents}`;
    this.broadcast({ type: 'tabs', count: this.byId.size, hosts, agents });
  }

  /** A process changed: the tabs hear of it if the number of live agents did. */
  agentsChanged(): void {
    let hosts = 0;
    for (const t of this.byId.values()) if (t.host && !t.gone) hosts++;
    if (`${this.byId.size}/${hosts}/${this.hooks.agents()}` !== this.lastTabsEvent) this.broadcastTabs();
  }

  /** A tab that can host workers: at once if one is connected, else when one says hello. */
  async waitForHost(timeoutMs: number): Promise<Tab> {
    const now = this.pickHost();
    if (now) return now;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.hostWaiters.indexOf(done);
        if (i >= 0) this.hostWaiters.splice(i, 1);
        reject(new SysError('EAGAIN', `no tab connected within ${timeoutMs / 1000} s to host workers`));
      }, timeoutMs);
      (timer as { unref?: () => void }).unref?.();
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.hostWaiters.push(done);
    });
    return this.waitForHost(timeoutMs);
  }

  /**
   * Starts a worker (a model engine, an embedder) in the least-loaded host tab, through
   * `load` on the port to it. If that tab closes, the worker fails (the pool or memory
   * drops it, and the next use starts it again in another tab). `load` may hand the worker
   * over before it is ready (`hold`): the tab then holds it from the start, so a tab that
   * closes mid-download fails the load instead of leaving it hanging.
   */
  async hostWorker<W extends HostedWorker>(
    keyPrefix: string,
    what: string,
    load: (port: MessagePort, hold: (w: W) => void) => Promise<W>,
  ): Promise<W> {
    const tab = this.pickHost();
    if (!tab) throw new SysError('EAGAIN', `no tab can host ${what}; open the desktop`);
    const key = `${keyPrefix}#${++this.seq}`;
    const ch = new MessageChannel();
    tab.port.postMessage({ t: 'host.engine', key, port: ch.port2 } satisfies HostCommand, [ch.port2]);
    const w = await load(ch.port1, (held) => tab.engines.set(key, held)).catch((e: unknown) => {
      tab.engines.delete(key);
      // A failed or cancelled load leaves nothing running: the tab stops the worker (and its download).
      if (!tab.gone) post(tab.port, { t: 'host.engine.stop', key } satisfies HostCommand);
      throw e;
    });
    if (tab.gone) {
      w.fail('its host tab closed while loading');
      throw new SysError('EIO', `the tab hosting ${what} closed while it loaded`);
    }
    tab.engines.set(key, w);
    w.onDispose = () => {
      tab.engines.delete(key);
      if (!tab.gone) post(tab.port, { t: 'host.engine.stop', key } satisfies HostCommand);
    };
    return w;
  }

  /** A page (the desktop, or a site embedding the OS) serves a tool: calls reach it as host.tool commands. */
  registerTool(tab: Tab, def: ToolDef): ToolInfo {
    return this.tools.register(def, `tab:${tab.id}`, (args, caller) => {
      if (tab.gone) throw new SysError('EIO', 'the page serving this tool closed');
      const callId = ++this.toolCallSeq;
      const result = tab.toolCalls.wait(
        callId,
        undefined,
        TAB_TOOL_TIMEOUT_MS,
        () => `${def.name}: the page did not answer within ${TAB_TOOL_TIMEOUT_MS / 1000} s`,
      );
      post(tab.port, { t: 'host.tool', callId, name: def.name, args, pid: caller.pid } satisfies HostCommand);
      return result;
    });
  }

  /** The page's answer to a host.tool call; an unknown call id is refused and changes nothing. */
  toolResult(tab: Tab, callId: number, ok: boolean, value: unknown, error: string | undefined): null {
    if (!tab.toolCalls.has(callId))
      throw new SysError('EINVAL', `no tool call ${callId} waits for this page`);
    if (ok) tab.toolCalls.resolve(callId, value);
    else tab.toolCalls.reject(callId, new SysError('EIO', String(error ?? 'the tool failed').slice(0, 500)));
    return null;
  }

  /** Tells every subscribed tab (the desktop's apps watch these). */
  broadcast(event: KernelEvent): void {
    this.events.push(event);
  }

  private deliver(events: KernelEvent[]): void {
    for (const t of this.byId.values()) {
      if (!t.subscribed || t.gone) continue;
      // An embedding page hears only of its own origin's agents (embedders.ts).
      const mine = events.filter((e) => this.hooks.hears(t, e));
      if (!mine.length) continue;
      const frame: EventFrame | EventsFrame =
        mine.length === 1 ? { t: 'event', event: mine[0]! } : { t: 'events', events: mine };
      post(t.port, frame);
    }
  }
}
