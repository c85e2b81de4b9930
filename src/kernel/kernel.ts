/**
 * The kernel: owns the process table, the connected tabs (which host agent
 * workers), and the dispatch of every syscall through the table. It runs in a
 * SharedWorker (or a tab's dedicated Worker) and never trusts what arrives on a
 * port: frames are parsed, arguments checked, capabilities held, errors typed.
 */
import { type EpisodeKind, EpisodicLog } from '../memory/episodic';
import { MemoryService } from '../memory/service';
import { ShortTermMemory } from '../memory/short-term';
import {
  busAllows,
  type Capabilities,
  deriveChild,
  holds,
  mayReachOrigin,
  mayUseModel,
  USER_CAPS,
} from './access-control';
import { MessageBus } from './bus';
import { ContextBudget, type ContextPolicy } from './context-budget';
import { CrashBlame, MAX_STRIKES } from './crash-blame';
import { type ChatMessage, type ChatRequest, collect, type ModelInfo } from './engine';
import { WorkerEmbedder, WorkerEngine } from './engines/worker-engine';
import { SysError } from './errors';
import { registerKernelTools } from './kernel-tools';
import { McpServers } from './mcp';
import { registerTinyModel } from './model-drivers';
import { type LoadProgress, ModelPool, type Need } from './model-pool';
import {
  clampDescendants,
  guardCall,
  narrow,
  PermissionRequests,
  setCapabilities,
  widen,
} from './permissions';
import { isSavedState, type SavedState, Saver, STATE_KEY } from './persistence';
import { EXIT_HOST_LOST, EXIT_KILL, EXIT_TERM, type Exit, Process, ProcessTable } from './process';
import { fetchProgram, resolveProgram } from './program-source';
import {
  type CallFrame,
  type EventFrame,
  type HostCommand,
  type KernelEvent,
  PROTOCOL_VERSION,
  type ProcInfo,
  parseInbound,
  type ReturnFrame,
  recoverId,
} from './protocol';
import { PRIORITY_DEFAULT, RunQueue, type Schedulable } from './scheduler';
import { lookup } from './syscalls';
import { registerBuiltins, type ToolDef, type ToolInfo, ToolRegistry } from './tools';
import { Transfer } from './transfer';

/** Anything that carries frames: a MessagePort, or a dedicated worker's global scope. */
export interface Endpoint {
  postMessage(message: unknown, transfer: Transferable[]): void;
  onmessage: ((ev: MessageEvent) => void) | null;
  start?(): void;
  close?(): void;
}

export interface Tab {
  id: string;
  port: Endpoint;
  host: boolean;
  subscribed: boolean;
  hosted: Set<Process>;
  /** Engine workers this tab hosts, by key. */
  engines: Map<string, WorkerEngine>;
  streams: Map<number, AbortController>;
  lastBeat: number;
  gone: boolean;
  /** Tool calls sent to this tab (a tool it serves), waiting for tools.result. */
  toolCalls: Map<number, { resolve: (v: unknown) => void; reject: (e: SysError) => void }>;
}

export type Caller =
  | { kind: 'user'; pid: 0; caps: Capabilities; tab: Tab }
  | { kind: 'agent'; pid: number; caps: Capabilities; proc: Process };

export interface CallIO {
  /** Sends one chunk of a streaming answer. */
  emit(chunk: unknown): void;
  /** Aborted when the caller cancels, exits or loses its tab. */
  signal: AbortSignal;
}

export { Transfer };

export interface KernelOptions {
  /** How long an agent gets to exit after TERM before it is terminated. */
  killGraceMs?: number;
  /** How long a worker may take from start to its boot call. */
  bootTimeoutMs?: number;
  /** Agents booting at once; the rest wait in priority order. */
  maxStarting?: number;
  /** Tabs without a Web Lock are declared gone after this long without a beat. */
  beatTimeoutMs?: number;
  /** Web Locks, to learn at once when a tab dies (navigator.locks where present). */
  locks?: LockManager | null;
  /** An agent whose worker answers no ping for this long (a busy loop) is killed. */
  agentBeatTimeoutMs?: number;
  /** Keep the process table and grants in IndexedDB across sessions (the kernel worker does). */
  persist?: boolean;
}

interface StartJob extends Schedulable {
  proc: Process;
}

export class Kernel {
  readonly procs = new ProcessTable();
  readonly pool = new ModelPool();
  readonly episodes = new EpisodicLog();
  readonly bus = new MessageBus();
  readonly tools = new ToolRegistry();
  readonly budget: ContextBudget;
  /** Each agent's short-term memory (working context), created on first use. */
  private readonly stm = new Map<number, ShortTermMemory>();
  readonly tabs = new Map<string, Tab>();
  /** Who caused the crashes of agent frames’ processes (crash-blame.ts). */
  private readonly blame = new CrashBlame();
  private memoryService: Promise<MemoryService> | null = null;
  private readonly startQueue = new RunQueue<StartJob>(2000);
  private starting = 0;
  private seq = 0;
  private readonly opts: Required<Omit<KernelOptions, 'locks'>> & { locks: LockManager | null };
  private readonly bootedAt = Date.now();
  private readonly counters = { calls: 0, malformed: 0, errors: 0 };
  /** Writes the process table and grants to disk shortly after they change. */
  private readonly saver = new Saver(() => this.saveState());
  /** Resolves once the previous session's state is back (or there was none); tabs are served after. */
  readonly ready: Promise<void>;
  /** Embedding origins the user allows, each with the most its agents may get. */
  readonly embedOrigins = new Map<string, Partial<Capabilities>>();

  constructor(opts: KernelOptions = {}) {
    this.opts = {
      killGraceMs: opts.killGraceMs ?? 2000,
      bootTimeoutMs: opts.bootTimeoutMs ?? 30_000,
      maxStarting: opts.maxStarting ?? 8,
      beatTimeoutMs: opts.beatTimeoutMs ?? 15_000,
      agentBeatTimeoutMs: opts.agentBeatTimeoutMs ?? 10_000,
      persist: opts.persist ?? false,
      locks: opts.locks === undefined ? (globalThis.navigator?.locks ?? null) : opts.locks,
    };
    registerBuiltins(this.tools);
    registerKernelTools(this);
    registerTinyModel(this);
    this.budget = new ContextBudget(this.pool, {
      priorityOf: (pid) => this.procs.find(pid)?.info.priority ?? 0,
      suspend: (pid) => {
        const p = this.procs.find(pid);
        if (p?.alive) this.suspend(p);
      },
      compress: (pid, model, target) =>
        this.compressMemory(pid, model, target).then((c) => c.before - c.after),
      log: (pid, kind, text, data) => this.log(pid, kind, text, data),
    });
    this.pool.onProgress = (p) => this.broadcast({ type: 'model.progress', ...p });
    this.pool.onChange = (what, id) => {
      this.log(0, what === 'load' ? 'model.load' : 'model.unload', `${what}ed ${id}`);
      this.broadcast({ type: 'model.loaded', model: id, loaded: what === 'load' });
    };
    const reaper = setInterval(() => this.reapSilentTabs(), Math.max(1000, this.opts.beatTimeoutMs / 3));
    (reaper as { unref?: () => void }).unref?.(); // never keep a Node test process alive
    this.ready = this.opts.persist ? this.restoreState() : Promise.resolve();
    const pinger = setInterval(() => this.pingAgents(), Math.max(250, this.opts.agentBeatTimeoutMs / 4));
    (pinger as { unref?: () => void }).unref?.();
  }

  // ───────────────────────────── tabs ─────────────────────────────

  /** A tab (or the page that owns a dedicated kernel) connected. It speaks once it says hello. */
  attachTab(port: Endpoint): void {
    let tab: Tab | null = null;
    port.onmessage = (ev) => {
      try {
        const frame = parseInbound(ev.data);
        if (!frame) return this.malformed(port, ev.data);
        if (frame.t === 'hello') {
          if (tab) return;
          if (frame.version !== PROTOCOL_VERSION) {
            return post(port, { t: 'event', event: { type: 'tabs', count: -1 } });
          }
          tab = this.addTab(port, frame.tabId, frame.host, frame.lock);
          return;
        }
        if (!tab || tab.gone) {
          const id = recoverId(ev.data);
          if (id !== null)
            this.reply(port, {
              t: 'ret',
              id,
              ok: false,
              error: new SysError('EINVAL', 'say hello first').toJSON(),
            });
          return;
        }
        tab.lastBeat = Date.now();
        switch (frame.t) {
          case 'call':
            return this.call({ kind: 'user', pid: 0, caps: USER_CAPS, tab }, frame, port, tab.streams);
          case 'cancel':
            return tab.streams.get(frame.id)?.abort();
          case 'bye':
            // Perhaps the last tab: write out the episodic log while the kernel still runs.
            this.memoryService?.then((m) => m.onBye()).catch(() => {});
            return this.tabGone(tab);
          case 'host.died':
            return this.workerDied(tab, frame.pid, frame.incarnation, frame.reason);
          case 'host.crashed':
            return this.framesCrashed(tab, frame.lost);
          case 'host.enable':
            tab.host = true;
            return this.schedule();
          case 'host.engine.died': {
            const e = tab.engines.get(frame.key);
            tab.engines.delete(frame.key);
            return e?.fail(frame.reason.slice(0, 500));
          }
          case 'beat':
            return;
        }
      } catch (e) {
        this.internalError(e);
      }
    };
    port.start?.();
  }

  private addTab(port: Endpoint, id: string, host: boolean, lock: string | null): Tab {
    const existing = this.tabs.get(id);
    if (existing) this.tabGone(existing);
    const tab: Tab = {
      id,
      port,
      host,
      subscribed: false,
      hosted: new Set(),
      engines: new Map(),
      streams: new Map(),
      toolCalls: new Map(),
      lastBeat: Date.now(),
      gone: false,
    };
    this.tabs.set(id, tab);
    if (lock && this.opts.locks) {
      // The tab holds this lock for its whole life; we are granted it when the tab is gone.
      this.opts.locks.request(lock, () => this.tabGone(tab)).catch(() => {});
    }
    this.broadcast({ type: 'tabs', count: this.tabs.size });
    this.schedule();
    return tab;
  }

  private tabGone(tab: Tab): void {
    if (tab.gone) return;
    tab.gone = true;
    if (this.tabs.get(tab.id) === tab) this.tabs.delete(tab.id);
    for (const c of tab.streams.values()) c.abort();
    for (const p of [...tab.hosted]) this.hostLost(p, `host tab ${tab.id.slice(0, 8)} closed`);
    for (const e of tab.engines.values()) e.fail(`its host tab ${tab.id.slice(0, 8)} closed`);
    tab.engines.clear();
    this.tools.removeSource(`tab:${tab.id}`);
    for (const c of tab.toolCalls.values())
      c.reject(new SysError('EIO', 'the page serving this tool closed'));
    tab.toolCalls.clear();
    tab.port.close?.();
    this.broadcast({ type: 'tabs', count: this.tabs.size });
    // The last tab: the kernel's worker goes with it, so what is unsaved is written now.
    if (![...this.tabs.values()].some((t) => !t.gone)) void this.flushState();
  }

  private reapSilentTabs(): void {
    const now = Date.now();
    for (const tab of this.tabs.values()) {
      // Tabs with a lock are watched by it; timers in background tabs are throttled, so no beat-based death for them.
      if (!tab.gone && !this.opts.locks && now - tab.lastBeat > this.opts.beatTimeoutMs) this.tabGone(tab);
    }
  }

  /**
   * Agents answer pings from their event loop (the SDK does it); one that has not for
   * agentBeatTimeoutMs is stuck in a busy loop, holds its host's CPU, and is killed.
   */
  private pingAgents(): void {
    const now = Date.now();
    for (const p of this.procs.all()) {
      if (!p.alive || !p.booted || !p.port) continue;
      if (now - p.lastBeat > this.opts.agentBeatTimeoutMs) {
        this.log(p.pid, 'deny', `no heartbeat for ${now - p.lastBeat} ms: killed`);
        this.exitProc(p, EXIT_KILL, `killed: unresponsive for ${now - p.lastBeat} ms (no heartbeat)`);
      } else post(p.port, { t: 'ping' });
    }
  }

  // ───────────────────────────── dispatch ─────────────────────────────

  private call(
    caller: Caller,
    frame: CallFrame,
    port: Endpoint,
    streams: Map<number, AbortController>,
  ): void {
    this.counters.calls++;
    const { id } = frame;
    let blocking = false;
    const finish = (ret: ReturnFrame, transfer: Transferable[] = []) => {
      streams.delete(id);
      if (blocking && caller.kind === 'agent') {
        caller.proc.blocking--;
        this.settle(caller.proc);
      }
      this.reply(port, ret, transfer);
    };
    try {
      const entry = lookup(frame.name);
      if (entry.who !== 'any' && entry.who !== caller.kind) {
        throw new SysError(
          'EPERM',
          `${frame.name} is for ${entry.who === 'user' ? "the user's tabs" : 'agents'} only`,
        );
      }
      const args = entry.check(frame.args, '');
      if (entry.cap && !holds(caller.caps, entry.cap)) {
        throw new SysError('EPERM', `${frame.name} needs the "${entry.cap}" capability`);
      }
      const ctl = new AbortController();
      const io: CallIO = { emit: (value) => this.reply(port, { t: 'chunk', id, value }), signal: ctl.signal };
      if (entry.blocking || frame.name === 'llm.chat') streams.set(id, ctl);
      if (entry.blocking && caller.kind === 'agent') {
        blocking = true;
        caller.proc.blocking++;
        this.settle(caller.proc);
      }
      const result = entry.handler(this, caller, args, io);
      if (isThenable(result)) {
        result.then(
          (v) => finish(...okFrame(id, v)),
          (e: unknown) => finish(this.errFrame(id, e)),
        );
      } else {
        finish(...okFrame(id, result));
      }
    } catch (e) {
      finish(this.errFrame(id, e));
    }
  }

  /**
   * Runs a syscall for `caller` inside the kernel, with the same argument check and
   * capability check as a call from its port (the kernel's tools use it, so a tool
   * never gives an agent more than the syscall itself would).
   */
  async invoke(caller: Caller, name: string, rawArgs: unknown, signal?: AbortSignal): Promise<unknown> {
    const entry = lookup(name);
    if (entry.who !== 'any' && entry.who !== caller.kind)
      throw new SysError('EPERM', `${name} is not for this caller`);
    const args = entry.check(rawArgs, '');
    if (entry.cap && !holds(caller.caps, entry.cap))
      throw new SysError('EPERM', `${name} needs the "${entry.cap}" capability`);
    const v = await entry.handler(this, caller, args, {
      emit: () => {},
      signal: signal ?? new AbortController().signal,
    });
    return v instanceof Transfer ? v.value : v;
  }

  private errFrame(id: number, e: unknown): ReturnFrame {
    if (!(e instanceof SysError)) this.internalError(e);
    else this.counters.errors++;
    return { t: 'ret', id, ok: false, error: SysError.from(e).toJSON() };
  }

  private reply(
    port: Endpoint,
    frame: ReturnFrame | { t: 'chunk'; id: number; value: unknown },
    transfer: Transferable[] = [],
  ): void {
    try {
      port.postMessage(frame, transfer);
    } catch (e) {
      // A value that cannot be cloned must still produce an answer.
      if (frame.t === 'ret')
        port.postMessage({ t: 'ret', id: frame.id, ok: false, error: SysError.from(e).toJSON() }, []);
    }
  }

  private malformed(port: Endpoint, data: unknown): void {
    this.counters.malformed++;
    const id = recoverId(data);
    if (id !== null)
      this.reply(port, {
        t: 'ret',
        id,
        ok: false,
        error: new SysError('EINVAL', 'malformed frame').toJSON(),
      });
  }

  private internalError(e: unknown): void {
    this.counters.errors++;
    console.error('[kernel] internal error', e);
  }

  // ───────────────────────────── processes ─────────────────────────────

  spawn(
    caller: Caller,
    task: string,
    permissions: Partial<Capabilities> | undefined,
    options: {
      program?: string;
      source?: string;
      priority?: number;
      args?: unknown;
      restart?: 'never' | 'on-host-loss';
    },
  ): number {
    let caps = deriveChild(caller.caps, permissions);
    // What the user allowed "always" for this program, when the user starts it again.
    const rule =
      caller.kind === 'user'
        ? this.asks.standing.get(options.source !== undefined ? '(source)' : (options.program ?? 'llm-agent'))
        : undefined;
    if (rule && options.source === undefined) caps = widen(caps, rule);
    const where = options.program ? resolveProgram(options.program, OS_ORIGIN) : null;
    if (where?.kind === 'url' && !where.sameOrigin && !mayReachOrigin(caller.caps, where.origin)) {
      // The kernel fetches a program from another origin (agents have no network): that needs the origin.
      this.log(caller.pid, 'deny', `program from ${where.origin} denied: not in net`);
      throw new SysError('EPERM', `no network access to ${where.origin} (net capability)`);
    }
    const parentPriority = caller.kind === 'agent' ? caller.proc.info.priority : PRIORITY_DEFAULT;
    // Like nice(1): a child cannot be more urgent than its parent unless the user asks.
    const priority = options.priority ?? parentPriority;
    if (caller.kind === 'agent' && priority < parentPriority) {
      throw new SysError('EPERM', `priority ${priority} is more urgent than the parent's ${parentPriority}`);
    }
    const p = new Process({
      pid: this.procs.allocPid(),
      ppid: caller.pid,
      task,
      program: options.source !== undefined ? '(source)' : (options.program ?? 'llm-agent'),
      source: options.source ?? null,
      args: options.args ?? null,
      priority,
      capabilities: caps,
      restart: options.restart ?? 'never',
    });
    this.procs.add(p);
    if (caller.kind === 'agent') caller.proc.children.add(p.pid);
    this.log(p.pid, 'spawn', `spawned by ${caller.pid || 'the user'}: ${task.slice(0, 200)}`, {
      program: p.info.program,
      priority,
    });
    this.enqueue(p);
    this.notify(p);
    this.schedule();
    return p.pid;
  }

  private enqueue(p: Process): void {
    this.startQueue.push({
      proc: p,
      priority: p.info.priority,
      enqueuedAt: performance.now(),
      seq: this.seq++,
    });
  }

  /** Starts queued processes, most urgent first, on the least-loaded host tab. */
  private schedule(): void {
    while (this.starting < this.opts.maxStarting && this.startQueue.size > 0) {
      const host = this.pickHost();
      if (!host) return;
      const job = this.startQueue.pop();
      if (!job) return;
      if (job.proc.alive && !job.proc.port) this.start(job.proc, this.spreadSuspect(job.proc) ?? host);
    }
  }

  private pickHost(): Tab | null {
    // An engine worker holds a model: count it as several agents.
    const load = (t: Tab) => t.hosted.size + 8 * t.engines.size;
    let best: Tab | null = null;
    for (const t of this.tabs.values()) {
      if (t.host && !t.gone && (!best || load(t) < load(best))) best = t;
    }
    return best;
  }

  /** A crash suspect goes to a host tab (so a sandbox process) with no other suspect, when there is one. */
  private spreadSuspect(p: Process): Tab | null {
    if (!this.blame.isSuspect(p.pid)) return null;
    const load = (t: Tab) => t.hosted.size + 8 * t.engines.size;
    let best: Tab | null = null;
    for (const t of this.tabs.values()) {
      if (!t.host || t.gone || [...t.hosted].some((q) => this.blame.isSuspect(q.pid))) continue;
      if (!best || load(t) < load(best)) best = t;
    }
    return best;
  }

  /** Agent frames of one tab whose process died together: restart the innocent, not the culprit. */
  private framesCrashed(tab: Tab, lost: { pid: number; incarnation: number }[]): void {
    const procs: Process[] = [];
    for (const l of lost) {
      const p = this.procs.find(l.pid);
      if (p?.alive && p.incarnation === l.incarnation && p.hostTabId === tab.id) procs.push(p);
    }
    if (!procs.length) return;
    const v = this.blame.crashed(procs.map((p) => p.pid));
    this.log(
      0,
      'crash',
      `a sandbox process of tab ${tab.id.slice(0, 8)} ended, taking ${procs.map((p) => p.pid).join(', ')}${v.culprit !== null ? `; blamed on ${v.culprit}` : '; cause not yet known'}`,
      { lost: procs.map((p) => p.pid), culprit: v.culprit },
    );
    for (const p of procs) {
      tab.hosted.delete(p);
      if (p.pid === v.culprit)
        this.exitProc(
          p,
          EXIT_KILL,
          'its sandbox process ran out of memory (or crashed) and it was the cause: not restarted',
        );
      else if (v.outOfStrikes.includes(p.pid))
        this.exitProc(
          p,
          EXIT_KILL,
          `lost in ${MAX_STRIKES} crashes of its sandbox process whose cause could not be told: not restarted`,
        );
      else this.hostLost(p, 'its sandbox process crashed (another agent in it was the cause)');
    }
  }

  private start(p: Process, tab: Tab): void {
    const ch = new MessageChannel();
    p.port = ch.port1;
    p.lastBeat = Date.now();
    p.incarnation++;
    p.booted = false;
    p.hostTabId = tab.id;
    p.info.hostTab = tab.id;
    tab.hosted.add(p);
    this.starting++;
    const caller: Caller = { kind: 'agent', pid: p.pid, caps: p.info.capabilities, proc: p };
    const incarnation = p.incarnation;
    ch.port1.onmessage = (ev) => {
      try {
        if (p.incarnation !== incarnation || !p.alive) return;
        const frame = parseInbound(ev.data);
        if (frame?.t === 'beat') {
          p.lastBeat = Date.now();
          return;
        }
        if (!frame || (frame.t !== 'call' && frame.t !== 'cancel')) return this.malformed(ch.port1, ev.data);
        if (frame.t === 'cancel') return p.streams.get(frame.id)?.abort();
        // A suspended agent's calls wait; exit is always honoured.
        if (p.state === 'suspended' && frame.name !== 'exit') {
          p.held.push(frame);
          return;
        }
        this.call(caller, frame, ch.port1, p.streams);
      } catch (e) {
        this.internalError(e);
      }
    };
    p.bootTimer = setTimeout(() => {
      if (p.alive && !p.booted && p.incarnation === incarnation) {
        this.exitProc(p, 1, `did not start within ${this.opts.bootTimeoutMs} ms`);
      }
    }, this.opts.bootTimeoutMs);
    const cmd: HostCommand = { t: 'host.start', pid: p.pid, incarnation, port: ch.port2 };
    tab.port.postMessage(cmd, [ch.port2]);
    this.notify(p);
  }

  async bootAgent(c: Caller) {
    if (c.kind !== 'agent') throw new SysError('EPERM', 'boot is for agents');
    const p = c.proc;
    if (p.booted) throw new SysError('EINVAL', 'already booted');
    const prog = p.info.program;
    // Agent frames load nothing by URL: every program that is not built in reaches them as source.
    const where = p.source === null ? resolveProgram(prog, OS_ORIGIN) : null;
    if (where?.kind === 'url') p.source = await fetchProgram(where.url);
    p.booted = true;
    if (p.bootTimer) clearTimeout(p.bootTimer);
    p.bootTimer = null;
    this.starting--;
    if (p.state === 'ready') p.info.state = 'running';
    this.notify(p);
    this.schedule();
    return p.boot();
  }

  ps(c: Caller): ProcInfo[] {
    const reserved = new Map<number, number>();
    for (const m of this.pool.catalog())
      if (m.loaded)
        for (const r of this.pool.reservations(m.id))
          reserved.set(r.pid, (reserved.get(r.pid) ?? 0) + r.tokens);
    return this.procs
      .all()
      .filter((p) => this.canSee(c, p))
      .map((p) => ({ ...p.info, mailbox: this.bus.depth(p.pid), contextReserved: reserved.get(p.pid) ?? 0 }));
  }

  /** Tells every tab (the desktop's apps watch these). */
  emit(event: KernelEvent): void {
    this.broadcast(event);
  }

  /** The process `pid`, if the caller may act on it (EPERM otherwise, ESRCH if none). */
  visible(c: Caller, pid: number): Process {
    const p = this.procs.get(pid);
    if (!this.canSee(c, p))
      throw new SysError('EPERM', `process ${pid} is outside your scope (${c.caps.procs})`);
    return p;
  }

  private canSee(c: Caller, p: Process): boolean {
    if (c.kind === 'user' || c.caps.procs === 'all') return true;
    if (p.pid === c.pid) return true;
    return c.caps.procs === 'children' && this.procs.isDescendant(p.pid, c.pid);
  }

  kill(p: Process, signal: 'TERM' | 'KILL', graceMs = this.opts.killGraceMs): null {
    if (!p.alive) return null;
    if (signal === 'KILL' || !p.booted) {
      this.exitProc(
        p,
        signal === 'KILL' ? EXIT_KILL : EXIT_TERM,
        signal === 'KILL' ? 'killed' : 'terminated before it started',
      );
      return null;
    }
    p.port?.postMessage({ t: 'signal', sig: 'TERM' });
    if (!p.killTimer) {
      p.killTimer = setTimeout(() => {
        p.killTimer = null;
        if (p.alive) this.exitProc(p, EXIT_KILL, `killed: did not exit within ${graceMs} ms of TERM`);
      }, graceMs);
    }
    return null;
  }

  wait(c: Caller, p: Process, timeoutMs?: number): Promise<Exit> {
    if (c.kind === 'agent' && p.pid === c.pid)
      throw new SysError('EINVAL', 'a process cannot wait for itself');
    return new Promise<Exit>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | null = null;
      const off = p.onExit((e) => {
        if (timer) clearTimeout(timer);
        resolve(e);
      });
      if (timeoutMs !== undefined && p.alive) {
        timer = setTimeout(() => {
          off();
          reject(new SysError('ETIMEDOUT', `process ${p.pid} still running after ${timeoutMs} ms`));
        }, timeoutMs);
      }
    });
  }

  suspend(p: Process): null {
    if (!p.alive) throw new SysError('ESRCH', `process ${p.pid} has exited`);
    if (p.state === 'suspended') return null;
    p.info.state = 'suspended';
    p.port?.postMessage({ t: 'signal', sig: 'STOP' });
    this.pool.poke(); // its generation, if running, yields the model at the next chunk
    this.notify(p);
    return null;
  }

  resume(p: Process): null {
    if (!p.alive) throw new SysError('ESRCH', `process ${p.pid} has exited`);
    if (p.state !== 'suspended') return null;
    // Evicted from its context reservation: it resumes once the reservation is back.
    const back = this.budget.reacquire(p.pid);
    if (back) {
      back.then(
        () => this.resume(p),
        () => {},
      );
      return null;
    }
    p.info.state = p.booted ? 'running' : 'ready';
    p.settle();
    p.port?.postMessage({ t: 'signal', sig: 'CONT' });
    const held = p.held.splice(0);
    const caller: Caller = { kind: 'agent', pid: p.pid, caps: p.info.capabilities, proc: p };
    for (const frame of held) if (p.port) this.call(caller, frame, p.port, p.streams);
    this.pool.poke();
    this.notify(p);
    return null;
  }

  renice(c: Caller, p: Process, priority: number): null {
    if (c.kind === 'agent' && priority < p.info.priority) {
      throw new SysError('EPERM', 'only the user can make a process more urgent');
    }
    p.info.priority = priority;
    this.pool.poke();
    this.notify(p);
    return null;
  }

  exitAgent(c: Caller, code: number): null {
    if (c.kind === 'agent') this.exitProc(c.proc, code, code === 0 ? null : `exit ${code}`);
    return null;
  }

  write(c: Caller, fd: 1 | 2, data: string): null {
    if (c.kind !== 'agent') throw new SysError('EPERM', 'write is for agents');
    c.proc.appendOutput(data);
    this.broadcast({ type: 'output', pid: c.pid, fd, data });
    return null;
  }

  private exitProc(p: Process, code: number, reason: string | null): void {
    if (!p.alive) return;
    if (!p.booted && p.port) this.starting--;
    p.markExited(code, reason);
    this.blame.forget(p.pid);
    this.budget.releaseAll(p.pid);
    this.bus.exit(p.pid);
    this.tools.removeSource(`agent:${p.pid}`);
    this.stm.delete(p.pid);
    this.log(p.pid, 'exit', `exited with code ${code}${reason ? ` (${reason})` : ''}`, { code, reason });
    this.releaseWorker(p);
    this.startQueue.remove((j) => j.proc === p);
    this.procs.exited(p);
    this.notify(p);
    this.schedule();
  }

  /** Detaches a process from its worker and asks the host tab to terminate it. */
  private releaseWorker(p: Process): void {
    const tab = p.hostTabId ? this.tabs.get(p.hostTabId) : undefined;
    if (tab) {
      tab.hosted.delete(p);
      const cmd: HostCommand = { t: 'host.terminate', pid: p.pid, incarnation: p.incarnation };
      tab.port.postMessage(cmd, []);
    }
    p.port?.close();
    p.port = null;
    p.hostTabId = null;
  }

  private hostLost(p: Process, why: string): void {
    if (!p.alive) return;
    if (p.info.restart === 'on-host-loss') {
      if (!p.booted && p.port) this.starting--;
      for (const c of p.streams.values()) c.abort();
      p.streams.clear();
      p.held.length = 0;
      p.blocking = 0;
      if (p.bootTimer) clearTimeout(p.bootTimer);
      p.port?.close();
      p.port = null;
      p.hostTabId = null;
      p.info.hostTab = null;
      p.booted = false;
      p.info.state = 'ready';
      p.info.restarts++;
      this.enqueue(p);
      this.notify(p);
      this.schedule();
    } else {
      p.hostTabId = null;
      // With its last tab the OS is closing: the agent did nothing wrong, and may be started again.
      const osClosing = ![...this.tabs.values()].some((t) => !t.gone);
      if (osClosing) p.info.restartable = true;
      this.exitProc(
        p,
        EXIT_HOST_LOST,
        osClosing ? `the OS was closed while it ran; restartable (${why})` : why,
      );
    }
  }

  private workerDied(tab: Tab, pid: number, incarnation: number, reason: string): void {
    const p = this.procs.find(pid);
    if (!p?.alive || p.incarnation !== incarnation || p.hostTabId !== tab.id) return;
    this.exitProc(p, 1, `worker died: ${reason.slice(0, 500)}`);
  }

  private settle(p: Process): void {
    const before = p.state;
    p.settle();
    if (p.state !== before) this.notify(p);
  }

  // ───────────────────────────── models ─────────────────────────────

  async chat(c: Caller, request: ChatRequest & { need?: Need }, io: CallIO) {
    const { need, ...req } = request;
    const model = this.pool.route({ ...(need ?? {}), model: req.model, tools: !!req.tools?.length });
    if (!mayUseModel(c.caps, model)) throw new SysError('EPERM', `model ${model} is not granted`);
    const proc = c.kind === 'agent' ? c.proc : null;
    const { engine, sched } = await this.pool.acquire(model);
    const prompt = req.messages.reduce((n, m) => n + 1 + engine.countTokens(m.content ?? ''), 0);
    const r: ChatRequest = { ...req, model };
    if (proc) proc.info.model = model;
    if (proc) {
      const held = this.pool.reservations(model).find((x) => x.pid === proc.pid);
      if (held && prompt > held.tokens) {
        throw new SysError(
          'ENOSPC',
          `prompt of ${prompt} tokens exceeds the ${held.tokens} reserved on ${model}; compress or allocate more`,
        );
      }
      const quota = c.caps.tokenQuota;
      if (quota !== null) {
        const left = quota - proc.info.usage.prompt_tokens - proc.info.usage.completion_tokens;
        if (left <= prompt) {
          this.log(
            proc.pid,
            'quota',
            `token quota of ${quota} used up: ${quota - left} used, ${prompt} more asked`,
            { quota, left, prompt },
          );
          throw new SysError(
            'EDQUOT',
            `token quota of ${quota} used up (${quota - left} used; this prompt needs ${prompt})`,
          );
        }
        // Never let one answer run past the quota.
        r.max_tokens = Math.min(r.max_tokens ?? Number.POSITIVE_INFINITY, left - prompt);
      }
    }
    // Revoking the model mid-stream ends this generation at once, with EPERM.
    const guard = guardCall(proc, io.signal, () => mayUseModel(c.caps, model), `model ${model}`);
    const usage = await sched
      .submit({
        pid: c.pid,
        priority: proc?.info.priority ?? 0,
        livePriority: () => (proc ? proc.info.priority : -20),
        enqueuedAt: performance.now(),
        seq: 0,
        req: r,
        emit: io.emit,
        signal: guard.signal,
        parked: () => proc?.state === 'suspended',
      })
      .finally(guard.release);
    guard.done();
    if (proc) {
      proc.info.usage.prompt_tokens += usage.prompt_tokens;
      proc.info.usage.completion_tokens += usage.completion_tokens;
      this.notify(proc);
    }
    this.log(
      c.pid,
      'model.call',
      `${model}: ${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion tokens`,
      { model, ...usage },
    );
    return usage;
  }

  /** The memory subsystem (IndexedDB), opened on first use; fails with ENOSYS where there is no IndexedDB. */
  memory(): Promise<MemoryService> {
    if (!this.memoryService) {
      this.memoryService = MemoryService.open(this.episodes, {
        resolveEmbedder: async (id) => {
          if (!id.startsWith('transformers:')) return null;
          // At kernel start no tab may have said hello yet: wait for a host (up to 30 s).
          for (let i = 0; i < 150 && !this.pickHost(); i++) await new Promise((r) => setTimeout(r, 200));
          return this.hostEmbedder('transformers', { model: id.slice('transformers:'.length) });
        },
      });
      this.memoryService.catch(() => {
        this.memoryService = null; // let a later call try again
      });
    }
    return this.memoryService;
  }

  // ───────────────────────────── context and short-term memory ─────────────────────────────

  async allocateContext(
    pid: number,
    tokens: number,
    model: string | undefined,
    policy: ContextPolicy | undefined,
    timeoutMs: number | undefined,
  ) {
    const p = this.procs.get(pid);
    if (!p.alive) throw new SysError('ESRCH', `process ${pid} has exited`);
    const id = this.pool.route({ model: model ?? this.agentModel(p) });
    if (!mayUseModel(p.info.capabilities, id))
      throw new SysError('EPERM', `model ${id} is not granted to ${pid}`);
    await this.pool.acquire(id);
    const g = await this.budget.allocate(pid, id, tokens, policy, timeoutMs);
    if (!p.alive) {
      this.budget.release(g.id);
      throw new SysError('ESRCH', `process ${pid} exited while waiting`);
    }
    return g;
  }

  releaseContext(c: Caller, id: number): null {
    const r = this.pool.reservations().find((x) => x.id === id);
    if (!r) throw new SysError('ENOENT', `no reservation ${id}`);
    if (c.kind === 'agent' && r.pid !== c.pid)
      throw new SysError('EPERM', `reservation ${id} belongs to process ${r.pid}`);
    this.budget.release(id);
    return null;
  }

  /** Whether `c` may send to process `to` on the bus (EPERM, logged, if not). */
  checkBusTarget(c: Caller, to: number): void {
    if (!this.procs.find(to)?.alive) throw new SysError('ESRCH', `no process ${to}`);
    const caps = c.caps;
    if (busAllows(caps, '*')) return;
    const family =
      caps.bus.includes('family') &&
      (this.procs.find(to)?.info.ppid === c.pid || (c.kind === 'agent' && c.proc.info.ppid === to));
    const named = this.bus.nameOf(to).some((n) => busAllows(caps, `name:${n}`));
    if (family || named) return;
    this.log(c.pid, 'deny', `bus message to process ${to} denied`);
    throw new SysError('EPERM', `no bus channel to process ${to} (grant 'family', 'name:<its name>' or '*')`);
  }

  checkBusChannel(c: Caller, channel: string): void {
    if (busAllows(c.caps, channel)) return;
    this.log(c.pid, 'deny', `bus channel ${channel} denied`);
    throw new SysError('EPERM', `no bus channel "${channel}"`);
  }

  /** The model an agent works with: the one it was started with, else the pool's default. */
  private agentModel(p: Process): string | undefined {
    const a = p.args as { model?: unknown } | null;
    return typeof a?.model === 'string' ? a.model : undefined;
  }

  stmOf(pid: number): ShortTermMemory {
    let m = this.stm.get(pid);
    if (!m) {
      const p = this.procs.get(pid);
      const id = this.pool.route({ model: this.agentModel(p) });
      const engineCount = (t: string) => this.pool.tokenizer(id)(t);
      m = new ShortTermMemory(engineCount);
      this.stm.set(pid, m);
    }
    return m;
  }

  /** Summarises the oldest turns of an agent's short-term memory with its model; what was replaced goes to the episodic log. */
  async compressMemory(pid: number, model: string | undefined, target: number) {
    const m = this.stmOf(pid);
    const id = this.pool.route({ model: model ?? this.agentModel(this.procs.get(pid)) });
    const { engine } = await this.pool.acquire(id);
    const result = await m.compress(target, async (msgs, maxTokens) => {
      const transcript = msgs.map((x) => `${x.role}: ${x.content ?? ''}`).join('\n');
      const done = await collect(
        engine.stream({
          messages: [
            {
              role: 'system',
              content:
                'Summarise the conversation below in a few sentences; keep names, numbers and decisions.',
            },
            { role: 'user', content: transcript },
          ],
          max_tokens: maxTokens,
        }),
      );
      return done.choices[0]?.message.content ?? '';
    });
    if (result.replaced.length) {
      this.log(
        pid,
        'memory.compress',
        `compressed short-term memory from ${result.before} to ${result.after} tokens`,
        {
          replaced: result.replaced.map((e) => e.message),
          summary: result.summary?.message.content,
        },
      );
    }
    return result;
  }

  stmAppend(c: Caller, message: ChatMessage, pinned: boolean) {
    const e = this.stmOf(c.pid).append(message, pinned);
    return { id: e.id, tokens: e.tokens, total: this.stmOf(c.pid).tokens() };
  }

  log(pid: number, kind: EpisodeKind, text: string, data?: unknown): void {
    this.episodes.append(pid, kind, text, data);
  }

  // ───────────────────────────── events and misc ─────────────────────────────

  subscribe(c: Caller): null {
    if (c.kind === 'user') c.tab.subscribed = true;
    return null;
  }

  stats() {
    return {
      uptimeMs: Date.now() - this.bootedAt,
      tabs: this.tabs.size,
      processes: this.procs.all().filter((p) => p.alive).length,
      startQueue: this.startQueue.size,
      ...this.counters,
    };
  }

  /**
   * Loads a model in an engine worker of a host tab (a SharedWorker cannot start
   * workers itself). If that tab closes, the engine fails and the pool drops it,
   * so the next request loads it again in another tab.
   */
  async hostEngine(
    id: string,
    kind: string,
    options: unknown,
    countTokens: (text: string) => number,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<WorkerEngine> {
    const tab = this.pickHost();
    if (!tab) throw new SysError('EAGAIN', `no tab can host the engine for ${id}; open the desktop`);
    const key = `${id}#${++this.seq}`;
    const ch = new MessageChannel();
    const cmd: HostCommand = { t: 'host.engine', key, port: ch.port2 };
    tab.port.postMessage(cmd, [ch.port2]);
    const engine = await WorkerEngine.load(ch.port1, kind, options, countTokens, onProgress);
    if (tab.gone) {
      engine.fail('its host tab closed while loading');
      throw new SysError('EIO', `the tab hosting ${id} closed while it loaded`);
    }
    tab.engines.set(key, engine);
    engine.onDispose = () => {
      tab.engines.delete(key);
      if (!tab.gone) post(tab.port, { t: 'host.engine.stop', key } satisfies HostCommand);
    };
    return engine;
  }

  /** Starts an embedder (transformers.js) in an engine worker of a host tab. */
  async hostEmbedder(
    kind: string,
    options: unknown,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<WorkerEmbedder> {
    const tab = this.pickHost();
    if (!tab) throw new SysError('EAGAIN', 'no tab can host the embedder; open the desktop');
    const key = `embedder:${kind}#${++this.seq}`;
    const ch = new MessageChannel();
    tab.port.postMessage({ t: 'host.engine', key, port: ch.port2 } satisfies HostCommand, [ch.port2]);
    const e = await WorkerEmbedder.load(ch.port1, `embedder:${kind}`, options, onProgress);
    e.onDispose = () => {
      if (!tab.gone) post(tab.port, { t: 'host.engine.stop', key } satisfies HostCommand);
    };
    return e;
  }

  /** Registers a model that loads in an engine worker of a host tab. */
  registerHostedModel(
    info: ModelInfo,
    tags: string[],
    kind: string,
    options: unknown,
    countTokens: () => Promise<(t: string) => number>,
  ): void {
    this.pool.register({
      info,
      tags,
      load: async (onProgress) => {
        const engine = await this.hostEngine(info.id, kind, options, await countTokens(), onProgress);
        engine.onFail = (e) => {
          this.pool.drop(info.id, engine);
          this.log(0, 'model.unload', `${info.id} failed: ${e.message}`);
        };
        return engine;
      },
    });
  }

  // ───────────────────────────── tools served by pages ─────────────────────────────

  private toolCallSeq = 0;

  /** A page (the desktop, or a site embedding the OS) serves a tool: calls reach it as host.tool commands. */
  registerTabTool(tab: Tab, def: ToolDef): ToolInfo {
    return this.tools.register(def, `tab:${tab.id}`, (args, caller) => {
      if (tab.gone) throw new SysError('EIO', 'the page serving this tool closed');
      const callId = ++this.toolCallSeq;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          tab.toolCalls.delete(callId);
          reject(new SysError('ETIMEDOUT', `${def.name}: the page did not answer within 30 s`));
        }, 30_000);
        tab.toolCalls.set(callId, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        post(tab.port, {
          t: 'host.tool',
          callId,
          name: def.name,
          args,
          pid: caller.pid,
        } satisfies HostCommand);
      });
    });
  }

  /** The page's answer to a host.tool call; an unknown call id is refused and changes nothing. */
  toolResult(tab: Tab, callId: number, ok: boolean, value: unknown, error: string | undefined): null {
    const c = tab.toolCalls.get(callId);
    if (!c) throw new SysError('EINVAL', `no tool call ${callId} waits for this page`);
    tab.toolCalls.delete(callId);
    if (ok) c.resolve(value);
    else c.reject(new SysError('EIO', String(error ?? 'the tool failed').slice(0, 500)));
    return null;
  }

  // ───────────────────────────── MCP servers ─────────────────────────────

  /** MCP servers the user added; their tools are in the registry. */
  readonly mcp = new McpServers(this.tools, (kind, text) => this.log(0, kind, text));

  // ───────────────────────────── embedding origins ─────────────────────────────

  allowEmbedding(origin: string, permissions: Partial<Capabilities>): void {
    this.embedOrigins.set(origin, permissions);
    this.log(0, 'grant', `embedding allowed for ${origin}: ${JSON.stringify(permissions)}`);
    this.broadcast({ type: 'embed.origins', origins: [...this.embedOrigins.keys()] });
    if (this.opts.persist) this.saver.soon();
  }

  disallowEmbedding(origin: string): boolean {
    const had = this.embedOrigins.delete(origin);
    if (had) {
      this.log(0, 'revoke', `embedding no longer allowed for ${origin}`);
      this.broadcast({ type: 'embed.origins', origins: [...this.embedOrigins.keys()] });
      if (this.opts.persist) this.saver.soon();
    }
    return had;
  }

  // ───────────────────────────── permissions ─────────────────────────────

  /** Agents' requests to the user, and the standing grants "always" made. */
  readonly asks: PermissionRequests = new PermissionRequests({
    log: (pid, kind, text) => this.log(pid, kind, text),
    broadcast: (e) => this.broadcast(e),
    grant: (p, more) => this.grant(p, more),
    changed: () => {
      if (this.opts.persist) this.saver.soon();
    },
  });

  /** The user widens a live process's capabilities. */
  grant(p: Process, more: Partial<Capabilities>): Capabilities {
    setCapabilities(p, widen(p.info.capabilities, more));
    this.log(p.pid, 'grant', `granted ${JSON.stringify(more)}`, { permissions: more });
    this.notify(p);
    return p.info.capabilities;
  }

  /** The user takes capabilities away: at once, from the process and its descendants, calls in flight included. */
  revoke(p: Process, less: Partial<Capabilities>): Capabilities {
    setCapabilities(p, narrow(p.info.capabilities, less));
    clampDescendants(p, (pid) => this.procs.find(pid));
    for (const q of [p, ...this.descendants(p)]) {
      for (const t of this.bus.topicsOf(q.pid))
        if (!busAllows(q.info.capabilities, `topic:${t}`)) this.bus.unsubscribe(q.pid, t);
      this.notify(q);
    }
    this.log(p.pid, 'revoke', `revoked ${JSON.stringify(less)}`, { permissions: less });
    return p.info.capabilities;
  }

  private descendants(p: Process): Process[] {
    const out: Process[] = [];
    for (const pid of p.children) {
      const c = this.procs.find(pid);
      if (c) out.push(c, ...this.descendants(c));
    }
    return out;
  }

  echoPort(): Transfer<MessagePort> {
    const ch = new MessageChannel();
    ch.port1.onmessage = (ev) => ch.port1.postMessage(ev.data);
    return new Transfer(ch.port2, [ch.port2]);
  }

  private notify(p: Process): void {
    this.broadcast({ type: 'proc', proc: p.info });
    if (this.opts.persist) this.saver.soon();
  }

  // ───────────────────────────── state across sessions ─────────────────────────────

  private async saveState(): Promise<void> {
    const svc = await this.memory();
    const state: SavedState = {
      v: 1,
      savedAt: Date.now(),
      nextPid: this.procs.next,
      procs: this.procs.all().map((p) => ({
        info: p.info,
        source: p.source,
        args: p.args,
        output: p.output.slice(-8192),
      })),
      standing: [...this.asks.standing],
      embedOrigins: [...this.embedOrigins],
    };
    await svc.db.put('kv', state, STATE_KEY);
  }

  /** Saves now: the last tab is going, and the kernel's worker with it. */
  flushState(): Promise<void> {
    return this.opts.persist ? this.saver.now() : Promise.resolve();
  }

  private async restoreState(): Promise<void> {
    let saved: unknown;
    try {
      saved = await (await this.memory()).db.get('kv', STATE_KEY);
    } catch (e) {
      console.warn('[kernel] no saved state:', e);
      return;
    }
    if (!isSavedState(saved)) return;
    this.procs.reservePids(saved.nextPid);
    for (const [program, rule] of saved.standing) this.asks.standing.set(program, rule);
    for (const [origin, caps] of saved.embedOrigins ?? []) this.embedOrigins.set(origin, caps);
    for (const r of saved.procs) {
      if (this.procs.find(r.info.pid)) continue;
      const p = new Process({
        pid: r.info.pid,
        ppid: r.info.ppid,
        task: r.info.task,
        program: r.info.program,
        source: r.source,
        args: r.args,
        priority: r.info.priority,
        capabilities: r.info.capabilities,
        restart: r.info.restart,
      });
      Object.assign(p.info, {
        usage: r.info.usage,
        startTime: r.info.startTime,
        restarts: r.info.restarts,
        restartable: r.info.restartable ?? false,
      });
      p.output = r.output;
      this.procs.add(p);
      if (r.info.state === 'exited') {
        p.markExited(r.info.exitCode ?? 0, r.info.exitReason);
        p.info.endTime = r.info.endTime;
        this.procs.exited(p);
      } else if (r.info.restart === 'on-host-loss') {
        p.info.restarts++;
        this.log(p.pid, 'spawn', 'restarted: the OS was reopened and its policy is on-host-loss');
        this.enqueue(p);
      } else {
        p.markExited(EXIT_HOST_LOST, 'the OS was closed while it ran; restartable');
        p.info.restartable = true;
        this.procs.exited(p);
        this.log(p.pid, 'exit', 'the OS was closed while it ran: restartable');
      }
    }
    for (const p of this.procs.all()) if (p.info.ppid) this.procs.find(p.info.ppid)?.children.add(p.pid);
    this.schedule();
  }

  /** Starts a restartable process again, under its own pid (the user's `restart`). */
  restart(p: Process): null {
    if (p.alive) throw new SysError('EAGAIN', `process ${p.pid} is running`);
    if (!p.info.restartable) throw new SysError('EINVAL', `process ${p.pid} is not restartable`);
    p.revive();
    this.procs.revived(p.pid);
    this.log(p.pid, 'spawn', `restarted by the user (restart ${p.info.restarts})`);
    this.enqueue(p);
    this.notify(p);
    this.schedule();
    return null;
  }

  private broadcast(event: KernelEvent): void {
    const frame: EventFrame = { t: 'event', event };
    for (const t of this.tabs.values()) {
      if (t.subscribed && !t.gone) post(t.port, frame);
    }
  }
}

/** The OS's origin (the kernel runs on it); programs' paths resolve against it. */
const OS_ORIGIN = globalThis.location?.origin ?? 'http://localhost';

function okFrame(id: number, v: unknown): [ReturnFrame, Transferable[]] {
  if (v instanceof Transfer) return [{ t: 'ret', id, ok: true, value: v.value }, v.transfer];
  return [{ t: 'ret', id, ok: true, value: v === undefined ? null : v }, []];
}

function isThenable(v: unknown): v is Promise<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function post(port: Endpoint, frame: unknown): void {
  try {
    port.postMessage(frame, []);
  } catch {
    /* a closed or broken port: the tab is going away */
  }
}
