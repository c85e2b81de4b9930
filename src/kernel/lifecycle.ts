/**
 * A process's life: spawn (capabilities derived from the parent, a program
 * from another origin fetched by the kernel), the start queue (most urgent
 * first, on the least-loaded host tab), boot, signals, suspend/resume, wait,
 * heartbeats (a busy loop is killed), exit, and what happens when its host tab
 * is lost (durable, issue 15: it moves to another tab from its last checkpoint,
 * or sleeps until one can host it; see migration.ts for the policy).
 */
import type { Capabilities } from '../abi/capabilities';
import { SysError } from '../abi/errors';
import { type CallFrame, type HostCommand, parseInbound, type SpawnOptions } from '../abi/protocol';
import type { EpisodeKind } from '../memory/episodic';
import type { ContextBudget } from '../models/context-budget';
import type { ModelPool } from '../models/pool';
import { PRIORITY_DEFAULT, RunQueue, type Schedulable } from '../models/scheduler';
import type { ToolRegistry } from '../tools/registry';
import { deriveChild, mayReachOrigin } from './access-control';
import { bootMark } from './boot-trace';
import type { MessageBus } from './bus';
import { MAX_STRIKES as BLAME_STRIKES, CrashBlame, MAX_AMBIGUOUS } from './crash-blame';
import type { Caller } from './dispatch';
import type { Durable } from './durable';
import { CorkedPort, framesOf } from './frame-batch';
import type { Limiter } from './limiter';
import { type Decision, type LossHow, waitingState } from './migration';
import type { PagePolicy } from './page-limits';
import { widen } from './permissions';
import { type Counters, type Endpoint, internalError, post, refuseMalformed, reply } from './ports';
import { EXIT_HOST_LOST, EXIT_KILL, EXIT_TERM, type Exit, Process, type ProcessTable } from './process';
import { fetchProgram, resolveProgram } from './program-source';
import type { Tab, Tabs } from './tabs';

export interface LifecycleOptions {
  /** How long an agent gets to exit after TERM before it is terminated. */
  killGraceMs: number;
  /** How long a worker may take from start to its boot call. */
  bootTimeoutMs: number;
  /** Agents booting at once; the rest wait in priority order. */
  maxStarting: number;
  /** An agent whose worker answers no ping for this long (a busy loop) is killed. */
  agentBeatTimeoutMs: number;
  /** How long a restarted crash suspect runs without a crash before it is cleared (default SUSPECT_CLEAR_MS). */
  suspectClearMs?: number;
}

export interface LifecycleDeps {
  procs: ProcessTable;
  tabs: Tabs;
  bus: MessageBus;
  tools: ToolRegistry;
  /** Resource limits: spawn checks, the frame gate, what an exit frees. */
  limiter: Limiter;
  pool: ModelPool;
  budget: () => ContextBudget;
  counters: Counters;
  log(pid: number, kind: EpisodeKind, text: string, data?: unknown): void;
  /** What the user allowed "always" for a program. */
  standing(program: string): Partial<Capabilities> | undefined;
  /** Runs a call frame from an agent's port. */
  dispatch(caller: Caller, frame: CallFrame, port: Endpoint, streams: Map<number, AbortController>): void;
  /** A process changed: tell the tabs, save soon. */
  changed(p: Process): void;
  /** Only its figures changed (running ↔ waiting): tell the tabs; saved with the next change, or later. */
  figures(p: Process): void;
  /** A process exited: drop what the kernel kept for it elsewhere (short-term memory). */
  exited(pid: number): void;
  /** Checkpoints, delivered messages and the crash-loop guard (issue 15). */
  durable: Durable;
  /** A process's first life: nothing of its short-term memory is on disk to read back. */
  freshMemory(pid: number): void;
  /** Pages: what one may spawn, and whose processes an embedding page sees (page-limits.ts). */
  pages: PagePolicy;
}

interface StartJob extends Schedulable {
  proc: Process;
}

/** How long an agent ended for silence stays a suspect of its host tab's next frame-process crash. */
const UNRESPONSIVE_BLAME_MS = 30_000;

export class Lifecycle {
  private readonly startQueue = new RunQueue<StartJob>(2000);
  private starting = 0;
  private seq = 0;
  /** Who caused the crashes of agent frames' sandbox processes (crash-blame.ts). */
  private readonly blame: CrashBlame;
  /**
   * Agents the heartbeat ended lately, with their host tab: a bomb's worker may stop answering
   * before its frames' process dies of it. When that process then dies, the ended agent counts
   * among the lost for the blame, so an innocent lost alone with it is not taken for the cause.
   */
  private readonly unresponsive = new Map<number, { tab: string; at: number }>();
  /** Agents past their heartbeat whose host tab was asked to judge their frame (askHost). */
  private readonly hostAsked = new WeakSet<Process>();

  constructor(
    private readonly d: LifecycleDeps,
    private readonly opts: LifecycleOptions,
  ) {
    this.blame = new CrashBlame(opts.suspectClearMs);
    const pinger = setInterval(() => this.pingAgents(), Math.max(250, opts.agentBeatTimeoutMs / 4));
    (pinger as { unref?: () => void }).unref?.();
  }

  get queued(): number {
    return this.startQueue.size;
  }

  spawn(
    caller: Caller,
    task: string,
    permissions: Partial<Capabilities> | undefined,
    options: SpawnOptions,
  ): number {
    // A page's agents are derived from what the page may give: the user's all, an embedding origin its ceiling.
    const parentCaps = caller.kind === 'user' ? this.d.pages.ceiling(caller.tab) : caller.caps;
    let caps = deriveChild(parentCaps, permissions);
    const page = caller.kind === 'agent' ? caller.proc.spawnPage : this.d.pages.key(caller.tab);
    if (caller.kind === 'agent') this.d.limiter.checkSpawn(caller.proc);
    if (page) this.d.pages.checkSpawn(page, caller.kind === 'user' ? caller.tab : null);
    // What the user allowed "always" for this program, when the user starts it again (never a page of another site).
    const rule =
      caller.kind === 'user' && this.d.pages.trusted(caller.tab)
        ? this.d.standing(options.source !== undefined ? '(source)' : (options.program ?? 'llm-agent'))
        : undefined;
    if (rule && options.source === undefined) caps = widen(caps, rule);
    const where = options.program ? resolveProgram(options.program, OS_ORIGIN) : null;
    if (where?.kind === 'url' && !where.sameOrigin && !mayReachOrigin(parentCaps, where.origin)) {
      // The kernel fetches a program from another origin (agents have no network): that needs the origin.
      this.d.log(caller.pid, 'deny', `program from ${where.origin} denied: not in net`);
      throw new SysError('EPERM', `no network access to ${where.origin} (net capability)`);
    }
    const parentPriority = caller.kind === 'agent' ? caller.proc.info.priority : PRIORITY_DEFAULT;
    // Like nice(1): a child cannot be more urgent than its parent unless the user asks.
    const priority = options.priority ?? parentPriority;
    if (caller.kind === 'agent' && priority < parentPriority) {
      throw new SysError('EPERM', `priority ${priority} is more urgent than the parent's ${parentPriority}`);
    }
    // A page of another site is no user: its agents are never more urgent than the user's by default.
    if (caller.kind === 'user' && !this.d.pages.trusted(caller.tab) && priority < PRIORITY_DEFAULT)
      throw new SysError('EPERM', `priority ${priority} is more urgent than an embedding page may ask`);
    const p = new Process({
      pid: this.d.procs.allocPid(),
      ppid: caller.pid,
      task,
      program: options.source !== undefined ? '(source)' : (options.program ?? 'llm-agent'),
      source: options.source ?? null,
      args: options.args ?? null,
      priority,
      capabilities: caps,
      restart: options.restart ?? 'on-host-loss', // durable: every agent moves unless it opts out
      spawner: caller.kind === 'agent' ? caller.proc.account : null,
    });
    p.lineage = caller.kind === 'agent' ? [caller.pid, ...caller.proc.lineage] : [];
    p.spawnTab = caller.kind === 'agent' ? caller.proc.spawnTab : caller.tab.id;
    p.spawnPage = page;
    this.d.procs.add(p);
    if (caller.kind === 'agent') caller.proc.children.add(p.pid);
    this.d.log(p.pid, 'spawn', `spawned by ${caller.pid || 'the user'}: ${task.slice(0, 200)}`, {
      program: p.info.program,
      priority,
    });
    this.enqueue(p);
    this.d.changed(p);
    this.schedule();
    return p.pid;
  }

  enqueue(p: Process): void {
    this.startQueue.push({
      proc: p,
      priority: p.info.priority,
      enqueuedAt: performance.now(),
      seq: this.seq++,
    });
  }

  /** Starts queued processes, most urgent first, on the least-loaded host tab. */
  schedule(): void {
    this.armSuspectSweep(this.blame.sweep());
    const held: StartJob[] = [];
    while (this.starting < this.opts.maxStarting && this.startQueue.size > 0) {
      const host = this.d.tabs.pickHost();
      if (!host) break;
      const job = this.startQueue.pop();
      if (!job) break;
      if (!job.proc.alive || job.proc.port) continue;
      const place = this.placeSuspect(job.proc);
      if (place === 'wait') held.push(job);
      else this.start(job.proc, place ?? host);
    }
    for (const job of held) this.startQueue.push(job);
  }

  /**
   * A crash suspect starts only in a host tab (so a sandbox process) where no other suspect
   * runs; where every tab runs one, it waits until one is cleared or blamed (crash-blame.ts).
   */
  private placeSuspect(p: Process): Tab | null | 'wait' {
    if (!this.blame.isSuspect(p.pid)) return null;
    return this.d.tabs.pickHostAvoiding((q) => this.blame.isSuspect(q.pid)) ?? 'wait';
  }

  private suspectSweep: ReturnType<typeof setTimeout> | null = null;

  /** Runs schedule() again when the next running suspect is cleared (waiting suspects may start then). */
  private armSuspectSweep(inMs: number | null): void {
    if (inMs === null || this.suspectSweep) return;
    this.suspectSweep = setTimeout(() => {
      this.suspectSweep = null;
      this.schedule();
    }, inMs + 1);
    (this.suspectSweep as { unref?: () => void }).unref?.();
  }

  /**
   * Agent frames of one tab whose sandbox process died together (the tab lives
   * on). crash-blame.ts tells the culprit when it can: it exits 137 and is not
   * restarted; the others move from their checkpoints as on a closed tab
   * (migration.ts, 'sandbox-crashed'), suspects spread across tabs by schedule().
   */
  framesCrashed(tab: Tab, lost: { pid: number; incarnation: number }[]): void {
    const procs: Process[] = [];
    for (const l of lost) {
      const p = this.d.procs.find(l.pid);
      if (p?.alive && p.incarnation === l.incarnation && p.hostTabId === tab.id) procs.push(p);
    }
    if (!procs.length) return;
    const now = Date.now();
    const ended: number[] = [];
    for (const [pid, u] of this.unresponsive) {
      if (now - u.at > UNRESPONSIVE_BLAME_MS) this.unresponsive.delete(pid);
      else if (u.tab === tab.id) ended.push(pid);
    }
    const v = this.blame.crashed([...procs.map((p) => p.pid), ...ended]);
    // Counted once: it has exited, so it is no suspect to keep (with it gone, one left alone is none).
    for (const pid of ended) {
      this.unresponsive.delete(pid);
      this.blame.forget(pid);
    }
    this.d.log(
      0,
      'crash',
      `a sandbox process of tab ${tab.id.slice(0, 8)} ended, taking ${procs.map((p) => p.pid).join(', ')}${v.culprit !== null ? `; blamed on ${v.culprit}` : '; cause not yet known'}`,
      { lost: procs.map((p) => p.pid), culprit: v.culprit },
    );
    for (const p of procs) {
      // Its frame is gone with the process; the tab stays (hostLost clears hostTabId before releasing).
      tab.hosted.delete(p);
      if (p.pid === v.culprit)
        this.exit(
          p,
          EXIT_KILL,
          'its sandbox process ran out of memory (or crashed) and it was the cause: not restarted',
        );
      else if (v.outOfStrikes.includes(p.pid))
        this.exit(
          p,
          EXIT_KILL,
          `lost in too many crashes of its sandbox process whose cause could not be told (${BLAME_STRIKES} as a suspect, or ${MAX_AMBIGUOUS} in all): not restarted`,
        );
      else
        this.hostLost(
          p,
          v.culprit !== null
            ? 'its sandbox process crashed (another agent in it was the cause)'
            : 'its sandbox process crashed (a suspect: the cause is not yet known)',
          'sandbox-crashed',
        );
    }
  }

  private start(p: Process, tab: Tab): void {
    if (p.state === 'sleeping') p.info.state = 'resuming';
    p.resumedFrom = 0; // set again at boot if this life starts from a checkpoint
    p.checkpointedThisLife = false;
    const ch = new MessageChannel();
    p.port = ch.port1;
    p.lastBeat = Date.now();
    p.incarnation++;
    p.booted = false;
    p.hostTabId = tab.id;
    p.info.hostTab = tab.id;
    tab.hosted.add(p);
    this.blame.started(p.pid);
    this.starting++;
    const caller: Caller = { kind: 'agent', pid: p.pid, caps: p.info.capabilities, proc: p };
    const incarnation = p.incarnation;
    // Answers given at once to the calls of one `calls` message leave as one message (frame-batch.ts).
    const port = new CorkedPort(ch.port1);
    const onFrame = (data: unknown) => {
      try {
        if (p.incarnation !== incarnation || !p.alive) return;
        const frame = parseInbound(data);
        if (frame?.t === 'beat') {
          p.lastBeat = Date.now();
          if (this.d.limiter.beat(p).ok) return;
          return this.exit(p, EXIT_KILL, 'killed: flooding the kernel with frames past its limits');
        }
        // Limits first (limiter.ts): calls in flight, frames per second; a flood ends the agent and its backlog.
        const gate = this.d.limiter.admitFrame(p, frame?.t === 'call');
        if (!gate.ok) {
          if (gate.flood)
            return this.exit(p, EXIT_KILL, 'killed: flooding the kernel with frames past its limits');
          if (gate.error && frame?.t === 'call')
            reply(port, { t: 'ret', id: frame.id, ok: false, error: gate.error.toJSON() });
          return;
        }
        if (!frame || (frame.t !== 'call' && frame.t !== 'cancel'))
          return refuseMalformed(this.d.counters, port, data);
        if (frame.t === 'cancel') return p.streams.get(frame.id)?.abort();
        // A suspended agent's calls wait; exit is always honoured.
        if (p.state === 'suspended' && frame.name !== 'exit') {
          p.held.push(frame);
          return;
        }
        this.d.dispatch(caller, frame, port, p.streams);
      } catch (e) {
        internalError(this.d.counters, e);
      }
    };
    ch.port1.onmessage = (ev) => {
      const frames = framesOf(ev.data);
      if (!frames) return onFrame(ev.data);
      try {
        port.corked(() => {
          for (const f of frames) onFrame(f); // each admitted by the limiter as a frame of its own
        });
      } catch (e) {
        internalError(this.d.counters, e);
      }
    };
    p.bootTimer = setTimeout(() => {
      if (p.alive && !p.booted && p.incarnation === incarnation) {
        this.exit(p, 1, `did not start within ${this.opts.bootTimeoutMs} ms`);
      }
    }, this.opts.bootTimeoutMs);
    bootMark(`host.start ${p.pid}`);
    const cmd: Extract<HostCommand, { t: 'host.start' }> = {
      t: 'host.start',
      pid: p.pid,
      incarnation,
      port: ch.port2,
    };
    if (p.source !== null) cmd.source = p.source; // imported during boot's round trip, not after it
    tab.port.postMessage(cmd, [ch.port2]);
    this.d.changed(p);
  }

  /** The agent's worker announces itself and receives its task. */
  async boot(c: Caller) {
    if (c.kind !== 'agent') throw new SysError('EPERM', 'boot is for agents');
    const p = c.proc;
    bootMark(`agent.boot ${p.pid}`);
    if (p.booted) throw new SysError('EINVAL', 'already booted');
    const prog = p.info.program;
    const incarnation = p.incarnation;
    // Agent frames load nothing by URL: every program that is not built in reaches them as source.
    const where = p.source === null ? resolveProgram(prog, OS_ORIGIN) : null;
    if (where?.kind === 'url') p.source = await fetchProgram(where.url);
    // A life after the first: its checkpoint and short-term memory come back from disk.
    if (p.info.restarts === 0) this.d.freshMemory(p.pid); // a first life: nothing of it on disk yet
    const resumed =
      p.info.restarts > 0 ? await this.d.durable.restoreLife(p) : { restored: null, restoredSeq: 0 };
    // Killed, or moved again, while its state was read: this boot is void (and `starting` already settled).
    if (!p.alive || p.incarnation !== incarnation || p.booted)
      throw new SysError('ESRCH', `process ${p.pid} ended or moved while it started`);
    bootMark(`agent.booted ${p.pid}`);
    p.booted = true;
    if (p.bootTimer) clearTimeout(p.bootTimer);
    p.bootTimer = null;
    this.starting--;
    if (p.state === 'ready' || p.state === 'migrating' || p.state === 'resuming' || p.state === 'sleeping')
      p.info.state = 'running';
    this.d.changed(p);
    this.schedule();
    return { ...p.boot(), ...resumed };
  }

  /** The process `pid`, if the caller may act on it (EPERM otherwise, ESRCH if none). */
  visible(c: Caller, pid: number): Process {
    const p = this.d.procs.get(pid);
    if (!this.canSee(c, p))
      throw new SysError('EPERM', `process ${pid} is outside your scope (${c.caps.procs})`);
    return p;
  }

  canSee(c: Caller, p: Process): boolean {
    if (c.kind === 'user') return this.d.pages.owns(c.tab, p);
    if (c.caps.procs === 'all') return true;
    if (p.pid === c.pid) return true;
    return c.caps.procs === 'children' && this.d.procs.isDescendant(p.pid, c.pid);
  }

  kill(p: Process, signal: 'TERM' | 'KILL', graceMs = this.opts.killGraceMs): null {
    if (!p.alive) return null;
    if (signal === 'KILL' || !p.booted) {
      this.exit(
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
        if (p.alive) this.exit(p, EXIT_KILL, `killed: did not exit within ${graceMs} ms of TERM`);
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
    this.d.pool.poke(); // its generation, if running, yields the model at the next chunk
    this.d.changed(p);
    return null;
  }

  resume(p: Process): null {
    if (!p.alive) throw new SysError('ESRCH', `process ${p.pid} has exited`);
    if (p.state !== 'suspended') return null;
    // Evicted from its context reservation: it resumes once the reservation is back.
    const back = this.d.budget().reacquire(p.pid);
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
    for (const frame of held) if (p.port) this.d.dispatch(caller, frame, p.port, p.streams);
    this.d.pool.poke();
    this.d.changed(p);
    return null;
  }

  renice(c: Caller, p: Process, priority: number): null {
    if (c.kind === 'agent' && priority < p.info.priority) {
      throw new SysError('EPERM', 'only the user can make a process more urgent');
    }
    p.info.priority = priority;
    this.d.pool.poke();
    this.d.changed(p);
    return null;
  }

  /** Starts a restartable process again, under its own pid (the user's `restart`); wakes a sleeping one. */
  restart(p: Process): null {
    if (p.state === 'sleeping' && !p.port) {
      // durable: a sleeping agent (the user chose not to resume on open) wakes from its checkpoint.
      this.startQueue.remove((j) => j.proc === p);
      p.info.state = 'resuming';
      this.d.log(p.pid, 'migrate', 'resumed by the user');
      this.enqueue(p);
      this.d.changed(p);
      this.schedule();
      return null;
    }
    if (p.alive) throw new SysError('EAGAIN', `process ${p.pid} is running`);
    if (!p.info.restartable) throw new SysError('EINVAL', `process ${p.pid} is not restartable`);
    p.revive();
    this.d.procs.revived(p.pid);
    this.d.log(p.pid, 'spawn', `restarted by the user (restart ${p.info.restarts})`);
    this.enqueue(p);
    this.d.changed(p);
    this.schedule();
    return null;
  }

  exit(p: Process, code: number, reason: string | null): void {
    if (!p.alive) return;
    // durable: a life resumed from a checkpoint that failed before checkpointing again is tried once more.
    if (code === 1 && p.resumedFrom > 0 && !p.checkpointedThisLife) {
      const d = this.d.durable.migration.onResumeCrash(p.pid);
      if (d.action === 'migrate') {
        this.d.log(p.pid, 'checkpoint', `crashed on resume (${reason ?? 'exit 1'}): trying once more`);
        this.requeue(p, 'migrating', 'restarting from the same checkpoint after a crash on resume');
        return;
      }
      if (d.action === 'exit') reason = `${reason ?? 'exit 1'}; ${d.reason}`;
    }
    if (!p.booted && p.port) this.starting--;
    p.markExited(code, reason);
    this.blame.forget(p.pid);
    this.d.budget().releaseAll(p.pid);
    this.d.bus.exit(p.pid);
    this.d.tools.removeSource(`agent:${p.pid}`);
    this.d.exited(p.pid);
    this.d.limiter.exited(p.pid);
    // Its life is over for good: what was kept to resume it goes (a restartable one starts fresh anyway).
    this.d.durable.forget(p.pid);
    this.d.log(p.pid, 'exit', `exited with code ${code}${reason ? ` (${reason})` : ''}`, { code, reason });
    this.adoptOrphans(p);
    this.releaseWorker(p);
    this.startQueue.remove((j) => j.proc === p);
    this.d.procs.exited(p);
    this.d.changed(p);
    this.schedule();
  }

  /**
   * Its parent exited: each live child is adopted by the kernel (ppid 0, like init), shown to
   * the user as such; tree limits still count it against its old ancestors (lineage).
   */
  private adoptOrphans(parent: Process): void {
    for (const pid of parent.children) {
      const c = this.d.procs.find(pid);
      if (!c?.alive) continue;
      c.info.ppid = 0;
      c.info.adoptedFrom = parent.pid;
      this.d.log(c.pid, 'spawn', `adopted by the kernel: its parent ${parent.pid} exited`, {
        from: parent.pid,
      });
      this.d.changed(c);
    }
  }

  /** Detaches a process from its worker and asks the host tab to terminate it. */
  private releaseWorker(p: Process): void {
    const tab = p.hostTabId ? this.d.tabs.get(p.hostTabId) : undefined;
    if (tab) {
      tab.hosted.delete(p);
      const cmd: HostCommand = { t: 'host.terminate', pid: p.pid, incarnation: p.incarnation };
      tab.port.postMessage(cmd, []);
    }
    p.port?.close();
    p.port = null;
    p.hostTabId = null;
  }

  /** Its host tab went (closed, or crashed): it moves, sleeps, or exits, as migration.ts decides. */
  hostLost(p: Process, why: string, how: LossHow = 'crashed'): void {
    if (!p.alive) return;
    p.hostTabId = null;
    const hostsLeft = !!this.d.tabs.pickHost();
    const osClosing = !this.d.tabs.anyOpen();
    const d: Decision = this.d.durable.migration.onHostLost(
      { pid: p.pid, restart: p.info.restart, checkpointSeq: p.info.checkpoint?.seq ?? 0 },
      how,
      hostsLeft,
      osClosing,
      why,
    );
    if (d.action === 'exit') {
      if (d.restartable) p.info.restartable = true;
      if (!d.restartable && how === 'crashed' && p.info.restart !== 'never')
        this.d.log(p.pid, 'checkpoint', d.reason);
      this.exit(p, EXIT_HOST_LOST, d.reason);
      return;
    }
    const state = waitingState(d.action, hostsLeft);
    this.requeue(
      p,
      state,
      state === 'sleeping'
        ? `${why}: no tab can host it now; sleeping until one can (checkpoint ${p.info.checkpoint?.seq ?? 'none'})`
        : `${why}: moving to another tab from checkpoint ${p.info.checkpoint?.seq ?? 'none'}`,
    );
  }

  /** Puts a process whose worker is gone back in the start queue (same pid, mailbox, reservations, capabilities). */
  private requeue(p: Process, state: 'migrating' | 'sleeping', why: string): void {
    if (!p.booted && p.port) this.starting--;
    for (const c of p.streams.values()) c.abort();
    p.streams.clear();
    // Held calls are dropped unanswered: they no longer count as in flight.
    p.gate.inFlight = Math.max(0, p.gate.inFlight - p.held.length);
    p.held.length = 0;
    p.blocking = 0;
    if (p.bootTimer) clearTimeout(p.bootTimer);
    if (p.killTimer) clearTimeout(p.killTimer);
    p.bootTimer = p.killTimer = null;
    this.releaseWorker(p);
    // Messages it took but had not checkpointed go back to its mailbox, for the life that resumes from that checkpoint.
    const back = this.d.durable.takeUnacked(p.pid);
    // (Its short-term memory stays as the kernel holds it: in a live kernel that copy is the newest.)
    if (p.info.checkpoint) this.d.bus.putBack(p.pid, back);
    p.info.hostTab = null;
    p.booted = false;
    p.incarnation++; // stale reports and replies of the old worker are ignored from here on
    p.info.state = state;
    p.info.restarts++;
    if (state === 'migrating') p.info.migrations = (p.info.migrations ?? 0) + 1;
    this.d.log(p.pid, 'migrate', why);
    this.enqueue(p);
    this.d.changed(p);
    this.schedule();
  }

  workerDied(tab: Tab, pid: number, incarnation: number, reason: string): void {
    const p = this.d.procs.find(pid);
    if (!p?.alive || p.incarnation !== incarnation || p.hostTabId !== tab.id) return;
    this.exit(p, 1, `worker died: ${reason.slice(0, 500)}`);
  }

  /** Its blocking-call count changed: running ↔ waiting. */
  settle(p: Process): void {
    const before = p.state;
    p.settle();
    if (p.state !== before) this.d.figures(p);
  }

  /**
   * Before an agent is killed for missing its heartbeats, its host tab judges its frame at once:
   * if the frame's process died, the crash path decides (the culprit ends, innocents move); if not
   * (a busy loop), the next round kills it.
   */
  private askHost(p: Process): boolean {
    const tab = p.hostTabId ? this.d.tabs.get(p.hostTabId) : undefined;
    if (!tab) return false;
    this.hostAsked.add(p);
    this.d.tabs.probeNow(tab);
    return true;
  }

  /**
   * Agents answer pings from their event loop (the SDK does it); one that has not for
   * agentBeatTimeoutMs is stuck in a busy loop, holds its host's CPU, and is killed.
   */
  private pingAgents(): void {
    const now = Date.now();
    for (const p of this.d.procs.all()) {
      if (!p.alive || !p.booted || !p.port) continue;
      if (now - p.lastBeat <= this.opts.agentBeatTimeoutMs) this.hostAsked.delete(p);
      else if (!this.hostAsked.has(p) && this.askHost(p)) continue;
      if (now - p.lastBeat > this.opts.agentBeatTimeoutMs) {
        this.d.log(p.pid, 'deny', `no heartbeat for ${now - p.lastBeat} ms: killed`);
        if (p.hostTabId) this.unresponsive.set(p.pid, { tab: p.hostTabId, at: now });
        this.exit(p, EXIT_KILL, `killed: unresponsive for ${now - p.lastBeat} ms (no heartbeat)`);
      } else post(p.port, { t: 'ping' });
    }
  }
}

/** The OS's origin (the kernel runs on it); programs' paths resolve against it. */
const OS_ORIGIN = globalThis.location?.origin ?? 'http://localhost';
