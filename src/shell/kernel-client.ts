/**
 * A tab's connection to the kernel. The tab is the user's seat (it calls
 * syscalls with the user's capabilities) and an agent host: the kernel cannot
 * start Workers from a SharedWorker, so it asks tabs to, handing each new
 * agent a port that leads straight back to the kernel. Agents run in
 * sandboxed frames (agent-frame.ts), never in this page's own process.
 */

import type { Capabilities } from '../abi/capabilities';
import type { ChatCompletionChunk, ChatRequest, Usage } from '../abi/chat';
import { SysError } from '../abi/errors';
import type { CatalogEntry, Exit, SpawnOptions } from '../abi/protocol';
import {
  type EventFrame,
  type EventsFrame,
  type HostCommand,
  type KernelEvent,
  PROTOCOL_VERSION,
  type ProcInfo,
} from '../abi/protocol';
import { type PortLike, SyscallClient } from '../abi/syscall-client';
import { type AgentHosting, type AgentSlot, createHosting, type HostingKind } from './agent-frame';

export type KernelMode = 'shared' | 'dedicated';

export interface ConnectOptions {
  /** 'auto' uses a SharedWorker where the browser has one. */
  mode?: KernelMode | 'auto';
  /** Whether this tab hosts agent workers (default true). */
  host?: boolean;
  /** Where agents run: sandboxed frames (default) or plain workers (for comparison). */
  hosting?: HostingKind;
  /** An embedded OS (embed.html): the kernel gives it only what the page's origin is allowed. */
  embed?: boolean;
}

interface Hosted {
  slot: AgentSlot;
  incarnation: number;
}

function startKernel(mode: KernelMode, onError?: () => void): PortLike & { start?(): void } {
  if (mode === 'shared') {
    const sw = new SharedWorker(new URL('../workers/kernel.worker.ts', import.meta.url), {
      type: 'module',
      name: 'agentos-kernel',
    });
    if (onError) sw.onerror = onError;
    return sw.port;
  }
  return new Worker(new URL('../workers/kernel.worker.ts', import.meta.url), {
    type: 'module',
    name: 'agentos-kernel',
  });
}

function startEngineWorker(): Worker {
  return new Worker(new URL('../workers/engine.worker.ts', import.meta.url), {
    type: 'module',
    name: 'agentos-engine',
  });
}

export class KernelClient {
  readonly tabId = crypto.randomUUID();
  private readonly sys: SyscallClient;
  private readonly listeners = new Set<(e: KernelEvent) => void>();
  private readonly hosted = new Map<number, Hosted>();
  private readonly engines = new Map<string, Worker>();
  /** Sandboxed agent frames (agent-frame.ts), some kept ready (as many as recent demand) so a spawn does not wait. */
  private hosting: AgentHosting | null = null;
  /** Said hello as an embedded OS (ConnectOptions.embed). */
  private embedder = false;
  /**
   * Agents the kernel asked this tab to start before the tab was connected: started in a task of
   * their own once it is, so the desktop becomes usable first (frames take the page's thread).
   */
  private early: Extract<HostCommand, { t: 'host.start' }>[] | null = [];

  private constructor(
    readonly mode: KernelMode,
    private readonly port: PortLike & { start?(): void },
    private hostsAgents: boolean,
    private readonly hostingKind: HostingKind = 'frame',
  ) {
    this.sys = new SyscallClient(port);
    this.sys.onOther = (frame) => {
      if (frame.t === 'event') this.dispatch([(frame as EventFrame).event]);
      else if (frame.t === 'events') this.dispatch((frame as EventsFrame).events);
      else if (frame.t.startsWith('host.')) this.onHostCommand(frame as HostCommand);
    };
    port.start?.();
  }

  static async connect(opts: ConnectOptions = {}): Promise<KernelClient> {
    const wanted = opts.mode ?? 'auto';
    const mode: KernelMode =
      wanted === 'auto' ? (typeof SharedWorker === 'function' ? 'shared' : 'dedicated') : wanted;
    if (mode === 'shared' && typeof SharedWorker !== 'function')
      throw new SysError('ENOSYS', 'this browser has no SharedWorker');
    if (mode === 'shared' && wanted === 'auto') {
      // A SharedWorker can be refused (a third-party frame whose storage the browser blocks): then this
      // page runs its own kernel, as where SharedWorker is missing.
      let refused!: () => void;
      const failed = new Promise<null>((r) => (refused = () => r(null)));
      const client = new KernelClient(
        'shared',
        startKernel('shared', refused),
        opts.host ?? true,
        opts.hosting,
      );
      client.embedder = opts.embed === true;
      const ok = await Promise.race([client.hello().then(() => client), failed]);
      if (ok) return ok;
      const fallback = new KernelClient(
        'dedicated',
        startKernel('dedicated'),
        opts.host ?? true,
        opts.hosting,
      );
      fallback.embedder = opts.embed === true;
      await fallback.hello();
      return fallback;
    }
    const client = new KernelClient(mode, startKernel(mode), opts.host ?? true, opts.hosting);
    client.embedder = opts.embed === true;
    await client.hello();
    return client;
  }

  private async hello(): Promise<void> {
    let lock: string | null = null;
    if (this.mode === 'shared' && navigator.locks) {
      const name = `agentos:tab:${this.tabId}`;
      // Hold the lock for the tab's whole life; the kernel is granted it the moment the tab dies.
      // A third-party frame with its storage blocked is denied locks: it beats instead.
      lock = await new Promise<string | null>((held) => {
        navigator.locks
          .request(name, () => {
            held(name);
            return new Promise<never>(() => {});
          })
          .catch(() => held(null));
      });
    }
    this.port.postMessage({
      t: 'hello',
      tabId: this.tabId,
      lock,
      host: this.hostsAgents,
      ...(this.embedder ? { embed: true } : {}),
      version: PROTOCOL_VERSION,
    });
    addEventListener('pagehide', (e) => {
      if (!(e as PageTransitionEvent).persisted) this.port.postMessage({ t: 'bye' });
    });
    if (!lock && this.mode === 'shared') setInterval(() => this.port.postMessage({ t: 'beat' }), 5000);
    performance.mark('page:hello');
    await this.call('subscribe');
    performance.mark('page:subscribed');
    // After whoever awaits the connection has run (a task later, not a timer: a hidden tab throttles those).
    const later = new MessageChannel();
    later.port1.onmessage = () => {
      later.port1.close();
      const early = this.early ?? [];
      this.early = null;
      for (const cmd of early) this.onHostCommand(cmd);
      if (this.hostsAgents) this.agents().prepare();
    };
    later.port2.postMessage(null);
  }

  // ───────── tools this page serves ─────────

  private readonly toolHandlers = new Map<string, (args: unknown, pid: number) => unknown>();

  /** Serves a tool from this page: agents granted it call it through the kernel; the handler answers. */
  async serveTool(
    def: { name: string; description: string; inputSchema: Record<string, unknown> },
    handler: (args: unknown, pid: number) => unknown,
  ): Promise<void> {
    await this.call('tools.register', def);
    this.toolHandlers.set(def.name, handler);
  }

  private async answerTool(cmd: Extract<HostCommand, { t: 'host.tool' }>): Promise<void> {
    const handler = this.toolHandlers.get(cmd.name);
    const reply = await Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`this page serves no tool ${cmd.name}`);
        return handler(cmd.args, cmd.pid);
      })
      .then(
        (value) => ({ callId: cmd.callId, ok: true, value: value ?? null }),
        (e: unknown) => ({ callId: cmd.callId, ok: false, error: String((e as Error)?.message ?? e) }),
      );
    await this.call('tools.result', reply).catch(() => {});
  }

  // ───────── host role ─────────

  private onHostCommand(cmd: HostCommand): void {
    if (cmd.t === 'host.tool') return void this.answerTool(cmd);
    if (!this.hostsAgents) return;
    if (cmd.t === 'host.start' && this.early) {
      this.early.push(cmd);
      return;
    }
    if (cmd.t === 'host.terminate' && this.early) {
      const i = this.early.findIndex((c) => c.pid === cmd.pid && c.incarnation === cmd.incarnation);
      if (i >= 0) this.early.splice(i, 1)[0]!.port.close();
    }
    if (cmd.t === 'host.start') {
      performance.mark(`page:host.start ${cmd.pid}`);
      const slot = this.agents().take();
      const { pid, incarnation } = cmd;
      this.hosted.set(pid, { slot, incarnation });
      // An uncaught error ends the agent, as an unhandled signal ends a Unix process.
      slot.onError = (reason: string) => {
        const h = this.hosted.get(pid);
        if (h?.slot !== slot) return;
        this.hosted.delete(pid);
        slot.terminate();
        this.port.postMessage({ t: 'host.died', pid, incarnation, reason });
      };
      performance.mark(`page:host.started ${cmd.pid}`);
      slot.start(cmd.port, cmd.source); // the pool tops itself up once the burst is served (spare-pool.ts)
    } else if (cmd.t === 'host.terminate') {
      const h = this.hosted.get(cmd.pid);
      if (h && h.incarnation === cmd.incarnation) {
        h.slot.terminate();
        this.hosted.delete(cmd.pid);
      }
    } else if (cmd.t === 'host.engine') {
      const worker = startEngineWorker();
      const { key } = cmd;
      this.engines.set(key, worker);
      worker.onerror = (e) => {
        e.preventDefault();
        if (this.engines.get(key) !== worker) return;
        this.engines.delete(key);
        worker.terminate();
        this.port.postMessage({ t: 'host.engine.died', key, reason: e.message || 'uncaught error' });
      };
      worker.postMessage({ t: 'init', port: cmd.port }, [cmd.port]);
    } else if (cmd.t === 'host.probe') {
      this.hosting?.probe(cmd.urgent === true);
    } else if (cmd.t === 'host.engine.stop') {
      this.engines.get(cmd.key)?.terminate();
      this.engines.delete(cmd.key);
    }
  }

  /** Engine workers this tab hosts now. */
  hostedEngines(): string[] {
    return [...this.engines.keys()];
  }

  private agents(): AgentHosting {
    if (this.hosting) return this.hosting;
    const hosting = createHosting(this.hostingKind);
    // Frames whose process died: the kernel learns which agents went together (crash-blame.ts).
    hosting.onCrash = (slots) => {
      const lost: { pid: number; incarnation: number }[] = [];
      for (const [pid, h] of this.hosted)
        if (slots.includes(h.slot)) {
          lost.push({ pid, incarnation: h.incarnation });
          this.hosted.delete(pid);
        }
      if (lost.length) this.port.postMessage({ t: 'host.crashed', lost });
    };
    this.hosting = hosting;
    return hosting;
  }

  /** Whether this tab hosts agents. */
  get host(): boolean {
    return this.hostsAgents;
  }

  /** From now on this tab hosts agents too (an embedded OS does, once an allowed page has said hello). */
  enableHosting(): void {
    if (this.hostsAgents) return;
    this.hostsAgents = true;
    this.agents().prepare();
    this.port.postMessage({ t: 'host.enable' });
  }

  /** How this tab runs agents. */
  get hostingMode(): HostingKind {
    return this.hostingKind;
  }

  /** This tab's ready agent slots (spare-pool.ts): how many, and the bench's and tests' hooks. */
  get agentSlots(): Pick<AgentHosting, 'spares' | 'drain' | 'configure'> {
    return this.agents();
  }

  /** Agent workers this tab hosts now (for tests and the task manager). */
  hostedPids(): number[] {
    return [...this.hosted.keys()];
  }

  // ───────── the user's syscalls ─────────

  call<T = unknown>(name: string, args: unknown = {}): Promise<T> {
    return this.sys.call<T>(name, args);
  }

  stream<C, R = unknown>(name: string, args: unknown, signal?: AbortSignal): AsyncGenerator<C, R> {
    return this.sys.stream<C, R>(name, args, signal);
  }

  private dispatch(events: KernelEvent[]): void {
    for (const e of events) for (const l of this.listeners) l(e);
  }

  on(listener: (e: KernelEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  spawn(task: string, permissions?: Partial<Capabilities>, options?: SpawnOptions): Promise<number> {
    const args: Record<string, unknown> = { task };
    if (permissions) args.permissions = permissions;
    if (options) args.options = options;
    return this.call<{ pid: number }>('spawn', args).then((r) => r.pid);
  }

  ps(): Promise<ProcInfo[]> {
    return this.call<ProcInfo[]>('ps');
  }

  kill(pid: number, signal: 'TERM' | 'KILL' = 'TERM', graceMs?: number): Promise<void> {
    return this.call('kill', graceMs === undefined ? { pid, signal } : { pid, signal, graceMs }).then(
      () => {},
    );
  }

  wait(pid: number, timeoutMs?: number): Promise<Exit> {
    return this.call<Exit>('wait', timeoutMs === undefined ? { pid } : { pid, timeoutMs });
  }

  suspend(pid: number): Promise<void> {
    return this.call('suspend', { pid }).then(() => {});
  }

  resume(pid: number): Promise<void> {
    return this.call('resume', { pid }).then(() => {});
  }

  renice(pid: number, priority: number): Promise<void> {
    return this.call('renice', { pid, priority }).then(() => {});
  }

  output(pid: number): Promise<string> {
    return this.call<string>('output', { pid });
  }

  /** The catalogue users are offered; `all` adds the hidden test models. */
  models(o: { all?: boolean } = {}): Promise<CatalogEntry[]> {
    return this.call<CatalogEntry[]>('models.list', o.all ? { all: true } : {});
  }

  chat(req: ChatRequest, signal?: AbortSignal): AsyncGenerator<ChatCompletionChunk, Usage | null> {
    return this.stream<ChatCompletionChunk, Usage | null>('llm.chat', req, signal);
  }
}
