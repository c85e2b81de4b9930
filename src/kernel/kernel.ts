/**
 * The kernel: the wiring of its parts. It runs in a SharedWorker (or a tab's
 * dedicated Worker) and never trusts what arrives on a port: frames are parsed
 * (tabs.ts, lifecycle.ts), every call goes through one authorise step
 * (dispatch.ts) into the syscall table it was given (syscalls.ts, handlers in
 * sys/), capabilities are held, errors typed. boot.ts gives it its table, its
 * own tools and its models: the kernel imports none of its plugins.
 */

import type { Capabilities } from '../abi/capabilities';
import type { CallFrame, KernelEvent } from '../abi/protocol';
import { type EpisodeKind, EpisodicLog } from '../memory/episodic';
import { MemoryService } from '../memory/service';
import { ShortTermStore } from '../memory/short-term-store';
import { ContextBudget } from '../models/context-budget';
import { DEFAULT_MODEL_KEY, DefaultModel, type SavedDefault } from '../models/default-model';
import { WorkerEmbedder } from '../models/engines/worker-engine';
import { ModelPool } from '../models/pool';
import { McpServers } from '../tools/mcp';
import { ToolRegistry } from '../tools/registry';
import { USER_CAPS } from './access-control';
import { bootMark } from './boot-trace';
import { MessageBus } from './bus';
import type { KvStore } from './checkpoints';
import { type Caller, Dispatcher, type SyscallTable } from './dispatch';
import { Durable } from './durable';
import { Embedders, pageKey } from './embedders';
import { grant } from './grants';
import { Lifecycle } from './lifecycle';
import { Limiter } from './limiter';
import { LogThrottle } from './log-throttle';
import { PageLimiter } from './page-limits';
import { PermissionRequests } from './permissions';
import { type Counters, type Endpoint, reply } from './ports';
import { type Process, ProcessTable } from './process';
import { Reopening, USER_FIRST_MS, UserCalls } from './reopening';
import { Session } from './session';
import { type Tab, Tabs } from './tabs';
import { WorkingMemories } from './working-memory';

export type { Caller, CallIO } from './dispatch';
export type { Endpoint } from './ports';
export type { Tab } from './tabs';

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
  /** How long a restarted crash suspect runs without a crash before it is cleared (crash-blame.ts). */
  suspectClearMs?: number;
  /** Keep the process table and grants in IndexedDB across sessions (the kernel worker does). */
  persist?: boolean;
  /** Reads the deployment's embed-policy.json (the kernel worker fetches it; none in tests). */
  embedPolicy?: () => Promise<unknown>;
}

/** How long memory waits at start for a tab to host its embedder. */
const EMBEDDER_HOST_WAIT_MS = 30_000;

export class Kernel {
  readonly procs = new ProcessTable();
  readonly pool = new ModelPool();
  readonly episodes = new EpisodicLog();
  readonly bus = new MessageBus();
  readonly tools = new ToolRegistry();
  /** Resource limits: spawns, call frames, mailbox and memory bytes, output (limiter.ts). */
  readonly limiter = new Limiter({
    procs: this.procs,
    log: (pid, kind, text, data) => this.log(pid, kind, text, data),
  });
  readonly counters: Counters = { calls: 0, malformed: 0, errors: 0 };
  private readonly logThrottle = new LogThrottle();
  readonly bootedAt = Date.now();
  /** Embedding origins the user allows, each with the most its agents may get. */
  readonly embedOrigins = new Map<string, Partial<Capabilities>>();
  /** What pages may consume (page-limits.ts): the desktop's tabs, and embedding sites per origin. */
  readonly pages = new PageLimiter({ procs: this.procs, audit: this.limiter.audit });
  /** Sites embedding the OS: their tabs are clamped by the kernel to their origin's allowlist entry. */
  readonly embedders: Embedders;
  readonly tabs: Tabs;
  readonly life: Lifecycle;
  readonly dispatch: Dispatcher<Kernel>;
  readonly budget: ContextBudget;
  /** Each agent's short-term memory (working context). */
  readonly working: WorkingMemories;
  /** Checkpoints, delivered messages, the crash-loop guard and the resume setting (issue 15). */
  readonly durable: Durable;
  /** Agents' requests to the user, and the standing grants "always" made. */
  readonly asks: PermissionRequests;
  /** The user's calls in flight: resumes wait for those made while memory opened (reopening.ts). */
  private readonly userCalls = new UserCalls();
  /** The previous session's agents, resumed once memory has opened, a few at a time (reopening.ts). */
  readonly reopening = new Reopening({
    enqueue: (p) => this.life.enqueue(p),
    schedule: () => this.life.schedule(),
  });
  /** The saved state across sessions; null where the kernel keeps none (dedicated kernels, tests). */
  readonly session: Session | null;
  /** MCP servers the user added; their tools are in the registry. */
  readonly mcp: McpServers;
  /** The model new agents use when they name none (a setting the user chooses, kept across sessions). */
  readonly defaults: DefaultModel;
  /** Resolves once the previous session's state is back (or there was none); tabs are served after. */
  readonly ready: Promise<void>;
  private memoryService: Promise<MemoryService> | null = null;

  constructor(table: SyscallTable<Kernel>, opts: KernelOptions = {}) {
    const locks = opts.locks === undefined ? (globalThis.navigator?.locks ?? null) : opts.locks;
    this.embedders = new Embedders({
      settings: this.embedOrigins,
      loadFile: opts.embedPolicy ?? null,
      procs: this.procs,
      log: (kind, text) => this.log(0, kind, text),
    });
    this.dispatch = new Dispatcher<Kernel>(this, table, this.counters, {
      settle: (p) => this.life.settle(p),
      callDone: (p) => this.limiter.callDone(p),
    });
    this.tabs = new Tabs(
      this.tools,
      this.counters,
      { locks, beatTimeoutMs: opts.beatTimeoutMs ?? 15_000 },
      {
        call: (tab, frame) => this.userCall(tab, frame),
        hostLost: (p, why, how) => this.life.hostLost(p, why, how),
        workerDied: (tab, pid, incarnation, reason) => this.life.workerDied(tab, pid, incarnation, reason),
        framesCrashed: (tab, lost) => this.life.framesCrashed(tab, lost),
        // Perhaps the last tab: write out the episodic log while the kernel still runs.
        bye: () => void this.memoryService?.then((m) => m.onBye()).catch(() => {}),
        // The last tab: the kernel's worker goes with it, so what is unsaved is written now.
        allGone: () => void this.flushState(),
        hostAdded: () => this.life.schedule(),
        agents: () => this.procs.all().filter((p) => p.alive).length,
        hears: (tab, event) => this.embedders.hears(tab, event),
        tabGone: (tab) => this.pages.tabGone(tab.id),
      },
    );
    // durable: short-term memories on disk only where the kernel keeps its state.
    this.working = new WorkingMemories(this, opts.persist ? new ShortTermStore(() => this.kv()) : null);
    this.durable = new Durable({
      kv: () => this.kv(),
      stmLoaded: (pid) => this.working.loaded(pid),
      log: (pid, kind, text, data) => this.log(pid, kind, text, data),
      changed: (p) => this.changed(p),
      saveSoon: () => this.session?.soon(),
    });
    this.life = new Lifecycle(
      {
        procs: this.procs,
        tabs: this.tabs,
        bus: this.bus,
        tools: this.tools,
        limiter: this.limiter,
        pool: this.pool,
        budget: () => this.budget,
        counters: this.counters,
        log: (pid, kind, text, data) => this.log(pid, kind, text, data),
        standing: (program) => this.asks.standing.get(program),
        dispatch: (caller, frame, port, streams) => this.dispatch.call(caller, frame, port, streams),
        changed: (p) => this.changed(p),
        figures: (p) => this.figuresChanged(p),
        exited: (pid) => this.working.drop(pid),
        durable: this.durable,
        freshMemory: (pid) => this.working.fresh(pid),
        pages: {
          key: pageKey,
          ceiling: (tab) => this.embedders.spawnCeiling(tab, USER_CAPS),
          checkSpawn: (key, tab) =>
            this.pages.checkSpawn(key, tab ? this.embedders.pageLimits(tab) : undefined),
          owns: (tab, p) => this.embedders.owns(tab, p),
          trusted: (tab) => !tab.embed,
        },
      },
      {
        killGraceMs: opts.killGraceMs ?? 2000,
        bootTimeoutMs: opts.bootTimeoutMs ?? 30_000,
        maxStarting: opts.maxStarting ?? 32,
        agentBeatTimeoutMs: opts.agentBeatTimeoutMs ?? 10_000,
        ...(opts.suspectClearMs !== undefined ? { suspectClearMs: opts.suspectClearMs } : {}),
      },
    );
    this.budget = new ContextBudget(this.pool, {
      priorityOf: (pid) => this.procs.find(pid)?.info.priority ?? 0,
      suspend: (pid) => {
        const p = this.procs.find(pid);
        if (p?.alive) this.life.suspend(p);
      },
      compress: (pid, model, target) =>
        this.working.compress(pid, model, target).then((c) => c.before - c.after),
      log: (pid, kind, text, data) => this.log(pid, kind, text, data),
    });
    this.asks = new PermissionRequests({
      log: (pid, kind, text) => this.log(pid, kind, text),
      broadcast: (e) => this.emit(e),
      grant: (p, more) => grant(this, p, more),
      changed: () => this.session?.soon(),
    });
    this.mcp = new McpServers(this.tools, (kind, text) => this.log(0, kind, text));
    this.pool.onProgress = (p) => this.emit({ type: 'model.progress', ...p });
    this.pool.onChange = (what, id) => {
      this.log(0, what === 'load' ? 'model.load' : 'model.unload', `${what}ed ${id}`);
      this.emit({ type: 'model.loaded', model: id, loaded: what === 'load' });
    };
    this.bus.limits = {
      bytes: (pid) => this.limiter.mailboxBytes(this.procs.find(pid)),
      refused: (from, text) => this.limiter.audit.record(from, 'mailboxBytes', `refused: ${text}`),
      // A tree's mailboxes together: one agent's 64 children cannot hold 64 mailboxes' worth.
      tree: (pid) => this.procs.find(pid)?.account.mailboxes() ?? null,
    };
    // A caller sees the host tools of the page that started its tree (tools/names.ts).
    this.tools.scopeOf = (c) => {
      const x = c as Partial<Caller>;
      if (x.kind === 'user') return x.tab?.id ?? null;
      return (x.kind === 'agent' ? x.proc : this.procs.find(c.pid))?.spawnTab ?? null;
    };
    // tools.search ranks with the embedder recall uses.
    this.tools.useEmbedder(() => this.memory().then((m) => m.ltm.embedder));
    this.session = opts.persist
      ? new Session({
          procs: this.procs,
          standing: this.asks.standing,
          embedOrigins: this.embedOrigins,
          resumeOnOpen: () => this.durable.resumeOnOpen,
          setResumeOnOpen: (on) => {
            this.durable.resumeOnOpen = on;
          },
          enqueue: (p) => this.reopening.add(p),
          schedule: () => this.life.schedule(),
          log: (pid, kind, text) => this.log(pid, kind, text),
        })
      : null;
    this.ready = this.session ? this.session.restore() : Promise.resolve();
    const session = this.session;
    this.defaults = new DefaultModel({
      pool: this.pool,
      emit: (e) => this.emit(e),
      // Kept beside the session's state, on the kernel's own connection (boot.ts restores it).
      ...(session
        ? {
            load: async () => (await session.db()).get('kv', DEFAULT_MODEL_KEY),
            save: async (v: SavedDefault) =>
              void (await (await session.db()).put('kv', v, DEFAULT_MODEL_KEY)),
          }
        : {}),
    });
    // Memory (and the previous sessions' episodes) opens after: its embedder may need a tab to host it.
    // The previous session's agents resume after it (reopening.ts): the user's terminal and memory come first.
    if (this.session) {
      const opened = this.ready.then(() => this.memory());
      opened.catch(() => {});
      const settle = () => this.userCalls.settled(USER_FIRST_MS);
      this.reopening.openAfter(opened.then(settle, settle));
    }
  }

  /** A tab (or the page that owns a dedicated kernel) connected. */
  attachTab(port: Endpoint): void {
    this.tabs.attach(port);
  }

  private userCall(tab: Tab, frame: CallFrame): void {
    // An embedding page may make only embedding's calls; every page only so many at once (page-limits.ts).
    const refused =
      this.embedders.refuse(tab, frame) ??
      this.pages.admitCall(tab.id, pageKey(tab), this.embedders.pageLimits(tab));
    if (refused) {
      reply(tab.port, { t: 'ret', id: frame.id, ok: false, error: refused.toJSON() });
      return;
    }
    const caller: Caller = { kind: 'user', pid: 0, caps: this.embedders.callerCaps(tab, USER_CAPS), tab };
    let done = false;
    const answered = this.userCalls.started();
    const port: Endpoint = {
      onmessage: null,
      postMessage: (m, transfer) => {
        if (!done && (m as { t?: unknown }).t === 'ret') {
          done = true;
          this.pages.callDone(tab.id);
          answered();
        }
        tab.port.postMessage(m, transfer);
      },
    };
    this.dispatch.call(caller, frame, port, tab.streams);
  }

  /** The memory subsystem (IndexedDB), opened on first use; fails with ENOSYS where there is no IndexedDB. */
  memory(): Promise<MemoryService> {
    if (!this.memoryService) {
      bootMark('memory.open');
      this.memoryService = MemoryService.open(this.episodes, {
        ...(this.session ? { db: this.session.db() } : {}),
        resolveEmbedder: async (id) => {
          if (!id.startsWith('transformers:')) return null;
          // At kernel start no tab may have said hello yet: memory opens once one can host the embedder.
          await this.tabs.waitForHost(EMBEDDER_HOST_WAIT_MS);
          return this.hostEmbedder('transformers', { model: id.slice('transformers:'.length) });
        },
      });
      this.memoryService.catch(() => {
        this.memoryService = null; // let a later call try again
      });
    }
    return this.memoryService;
  }

  /** The OS's IndexedDB `kv` store, as checkpoints and short-term memory use it. */
  private async kv(): Promise<KvStore> {
    const { db } = await this.memory();
    return {
      get: (key) => db.get('kv', key),
      put: async (key, value) => {
        // 'strict': acknowledged once the write is flushed to disk, not only handed to the OS.
        const tx = db.transaction('kv', 'readwrite', { durability: 'strict' });
        await Promise.all([tx.store.put(value, key), tx.done]);
      },
      delete: (key) => db.delete('kv', key),
    };
  }

  /** Starts an embedder (transformers.js, or the offline one) in an engine worker of a host tab. */
  hostEmbedder(kind: string, options: unknown): Promise<WorkerEmbedder> {
    return this.tabs.hostWorker(`embedder:${kind}`, 'the embedder', (port) =>
      WorkerEmbedder.load(port, `embedder:${kind}`, options),
    );
  }

  log(pid: number, kind: EpisodeKind, text: string, data?: unknown): void {
    // What an agent triggers in a loop is kept at a rate (log-throttle.ts): every record goes to disk.
    const kept = this.logThrottle.admit(pid, kind, text);
    if (kept !== null) this.episodes.append(pid, kind, kept, data);
  }

  /** Tells every tab (the desktop's apps watch these). */
  emit(event: KernelEvent): void {
    this.tabs.broadcast(event);
  }

  /** A process changed: the tabs are told, the session saved soon. */
  changed(p: Process): void {
    this.emit({ type: 'proc', proc: p.info });
    this.reopening.changed(p);
    // The tabs' beforeunload question depends on how many agents live: tell them when that changes.
    this.tabs.agentsChanged();
    this.session?.soon();
  }

  /**
   * Only a process's figures changed (running ↔ waiting in a call, token counts at a generation's
   * start and end): the tabs are told at once; the session saves them with the next change or
   * within Session.FIGURES_SAVE_MS. A save clones the whole table (output tails too) on the
   * kernel's thread: with 200 agents streaming, saving "soon" after each of these held it every 150 ms.
   */
  figuresChanged(p: Process): void {
    this.emit({ type: 'proc', proc: p.info });
    this.session?.later();
  }

  /** Saves now: the last tab is going, and the kernel's worker with it. */
  flushState(): Promise<void> {
    return this.session ? this.session.flush() : Promise.resolve();
  }
}
