/**
 * Processes: the table of agents the kernel runs, and each one's lifecycle.
 *   ready ──boot──▶ running ◀──▶ waiting (blocked in a syscall)
 *     ▲               │  ▲
 *     └─host lost─────┤  └─resume── suspended
 *   (migrating / sleeping / resuming while it waits for a host: see migration.ts)
 *                     ▼
 *                   exited (exit code; 128+n for signals, 129 for a lost host)
 */

import { SysError } from '../abi/errors';
import {
  type AgentBoot,
  type CallFrame,
  EXIT_HOST_LOST,
  EXIT_KILL,
  EXIT_TERM,
  type Exit,
  type ProcInfo,
  type ProcState,
} from '../abi/protocol';
import type { Capabilities } from './access-control';
import { CallGate, effective, limitsOf, type TokenBucket } from './limits';
import { QuotaAccount } from './quota-account';

export class Process {
  readonly info: ProcInfo;
  /** Module text to run; a program from another origin is fetched into it by the kernel at boot. */
  source: string | null;
  args: unknown;
  /** The kernel's end of the agent's port, while a worker is attached. */
  port: MessagePort | null = null;
  /** Bumped on every (re)start, so stale reports about an old worker are ignored. */
  incarnation = 0;
  hostTabId: string | null = null;
  booted = false;
  /** Blocking syscalls in flight: while > 0 the process is 'waiting'. */
  blocking = 0;
  /** Calls that arrived while suspended, served on resume. */
  readonly held: CallFrame[] = [];
  /** Re-checks of calls in flight, run when its capabilities change (revocation mid-stream). */
  readonly guards = new Set<() => void>();
  /** When its worker last answered a ping (Date.now()). */
  lastBeat = Date.now();
  /** Its lifetime quotas (tokens, memory records and bytes), shared with its spawners' (quota-account.ts). */
  account: QuotaAccount;
  /** Its agent ancestors at spawn, nearest first: tree limits still count it after it is adopted. */
  lineage: number[] = [];
  /** The tab whose user (a page) started its tree: the only page whose host tools it sees. */
  spawnTab: string | null = null;
  /** The page whose tree it is in (page-limits.ts): an embedding origin, or a desktop tab; kept across reopenings. */
  spawnPage: string | null = null;
  /** Calls in flight and the call-frame rate (limits.ts). */
  readonly gate = new CallGate();
  /** Its spawns per second. */
  spawnBucket: TokenBucket | null = null;
  /** Streaming calls in flight, by call id, so cancel/kill/suspend can reach them. */
  readonly streams = new Map<number, AbortController>();
  readonly children = new Set<number>();
  private exitWaiters: Array<(e: Exit) => void> = [];
  output = '';
  killTimer: ReturnType<typeof setTimeout> | null = null;
  bootTimer: ReturnType<typeof setTimeout> | null = null;
  /** This life started from checkpoint seq (0: from scratch). */
  resumedFrom = 0;
  /** It acknowledged a checkpoint in this life (a crash after that is not a crash on resume). */
  checkpointedThisLife = false;
  /** A checkpoint failed once (logged once, not on every turn). */
  checkpointFailed = false;

  constructor(init: {
    pid: number;
    ppid: number;
    task: string;
    program: string;
    source: string | null;
    args: unknown;
    priority: number;
    capabilities: Capabilities;
    restart: 'never' | 'on-host-loss';
    /** The account of the agent that spawned it (none: the user or a page did). */
    spawner?: QuotaAccount | null;
  }) {
    this.account = new QuotaAccount(init.pid, () => this.info.capabilities, init.spawner ?? null);
    this.source = init.source;
    this.args = init.args;
    this.info = {
      pid: init.pid,
      ppid: init.ppid,
      task: init.task,
      program: init.program,
      priority: init.priority,
      state: 'ready',
      exitCode: null,
      exitReason: null,
      startTime: Date.now(),
      endTime: null,
      hostTab: null,
      restart: init.restart,
      restarts: 0,
      capabilities: init.capabilities,
      usage: { prompt_tokens: 0, completion_tokens: 0 },
    };
  }

  get pid(): number {
    return this.info.pid;
  }
  get state(): ProcState {
    return this.info.state;
  }
  get alive(): boolean {
    return this.info.state !== 'exited';
  }

  boot(): AgentBoot {
    return {
      pid: this.pid,
      ppid: this.info.ppid,
      task: this.info.task,
      program: this.info.program,
      source: this.source,
      args: this.args,
      callsInFlight: effective(limitsOf(this.info.capabilities), 'callsInFlight'),
      callsPerSec: effective(limitsOf(this.info.capabilities), 'callsPerSec'),
    };
  }

  /** Recomputes running/waiting from the blocking count (suspended and exited stick). */
  settle(): void {
    if (this.info.state === 'running' || this.info.state === 'waiting') {
      this.info.state = this.blocking > 0 ? 'waiting' : 'running';
    }
  }

  /** Appends to the kept output, of which at most `keepBytes` (UTF-16, as held) are kept: the tail. */
  appendOutput(data: string, keepBytes = 128 * 1024): void {
    const keep = Math.max(0, Math.floor(keepBytes / 2));
    this.output = data.length >= keep ? data.slice(data.length - keep) : this.output + data;
    if (this.output.length > keep) this.output = this.output.slice(-keep);
  }

  /** A restartable process (its OS was closed while it ran) starts a new life under the same pid. */
  revive(): void {
    this.info.state = 'ready';
    this.info.exitCode = null;
    this.info.exitReason = null;
    this.info.endTime = null;
    this.info.restartable = false;
    this.info.restarts++;
    this.booted = false;
    this.incarnation++;
  }

  markExited(code: number, reason: string | null): Exit {
    this.info.state = 'exited';
    this.info.exitCode = code;
    this.info.exitReason = reason;
    this.info.endTime = Date.now();
    for (const c of this.streams.values()) c.abort();
    this.streams.clear();
    this.held.length = 0;
    if (this.killTimer) clearTimeout(this.killTimer);
    if (this.bootTimer) clearTimeout(this.bootTimer);
    this.killTimer = this.bootTimer = null;
    const exit = this.exitInfo()!;
    for (const w of this.exitWaiters.splice(0)) w(exit);
    return exit;
  }

  exitInfo(): Exit | null {
    return this.info.exitCode === null
      ? null
      : { pid: this.pid, exitCode: this.info.exitCode, exitReason: this.info.exitReason };
  }

  onExit(fn: (e: Exit) => void): () => void {
    const done = this.exitInfo();
    if (done) {
      fn(done);
      return () => {};
    }
    this.exitWaiters.push(fn);
    return () => {
      this.exitWaiters = this.exitWaiters.filter((w) => w !== fn);
    };
  }
}

export class ProcessTable {
  private readonly procs = new Map<number, Process>();
  private nextPid = 1;
  /** Exited processes kept for ps/wait before they are reaped, oldest first. */
  private readonly zombies: number[] = [];
  constructor(private readonly keepExited = 256) {}

  allocPid(): number {
    return this.nextPid++;
  }

  add(p: Process): void {
    this.procs.set(p.pid, p);
  }

  get(pid: number): Process {
    const p = this.procs.get(pid);
    if (!p) throw new SysError('ESRCH', `no process ${pid}`);
    return p;
  }

  find(pid: number): Process | undefined {
    return this.procs.get(pid);
  }

  all(): Process[] {
    return [...this.procs.values()];
  }

  /** Pids continue after those of an earlier session. */
  reservePids(next: number): void {
    this.nextPid = Math.max(this.nextPid, next);
  }

  get next(): number {
    return this.nextPid;
  }

  revived(pid: number): void {
    const i = this.zombies.indexOf(pid);
    if (i >= 0) this.zombies.splice(i, 1);
  }

  /** Remembers an exit and reaps the oldest exited processes beyond the limit. */
  exited(p: Process): void {
    // The table keeps `keepExited` exited processes to show: their source and arguments (up to
    // 1 MB each) are needed only by a new life, so unless it may be restarted they go now — an agent
    // spawning children with megabytes of source that exit at once filled the kernel's heap and every save.
    if (!p.info.restartable) {
      p.source = null;
      p.args = null;
    }
    this.zombies.push(p.pid);
    while (this.zombies.length > this.keepExited) this.procs.delete(this.zombies.shift()!);
  }

  /** True when `pid` is `ancestor` or one of its descendants. */
  isDescendant(pid: number, ancestor: number): boolean {
    let cur = this.procs.get(pid);
    for (let hops = 0; cur && hops < 10_000; hops++) {
      if (cur.pid === ancestor) return true;
      if (cur.info.ppid === 0) return false;
      cur = this.procs.get(cur.info.ppid);
    }
    return false;
  }
}

export { EXIT_HOST_LOST, EXIT_KILL, EXIT_TERM, type Exit };
