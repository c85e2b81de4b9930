/**
 * The kernel's state on disk, so closing every tab loses nothing: the process
 * table (with each agent's task, program, capabilities, usage and the tail of
 * its output) and the user's standing grants, in the `kv` store of the OS's
 * IndexedDB. Saved shortly after every change; read once when the kernel starts.
 * Agents that were running when the OS closed resume from their checkpoints
 * (or sleep, if the user chose so); those that opted out of moving come back
 * as restartable. Their pids (and so their episodic logs) carry on. The session has its own connection to the
 * database and never opens long-term memory (whose embedder may need a tab).
 */

import type { Capabilities } from '../abi/capabilities';
import type { ProcInfo } from '../abi/protocol';
import type { EpisodeKind } from '../memory/episodic';
import { type DB, openStore } from '../memory/store';
import { bootMark } from './boot-trace';
import { EXIT_HOST_LOST, Process, type ProcessTable } from './process';
import { readCharges } from './quota-account';

export const STATE_KEY = 'kernel.state';

export interface SavedProc {
  info: ProcInfo;
  source: string | null;
  args: unknown;
  output: string;
  /** Its agent ancestors at spawn, nearest first: tree limits still count it after a reopening. */
  lineage?: number[];
  /** The page whose tree it is in (page-limits.ts). */
  page?: string | null;
  /** Its own charges against lifetime quotas (quota-account.ts), and whether the user freed them from its spawners'. */
  charged?: unknown;
  independent?: boolean;
}

/** A saved lineage read back: pids only, bounded; anything else is no lineage (never a throw). */
function readLineage(v: unknown): number[] {
  if (!Array.isArray(v) || v.length > 10_000) return [];
  return v.every((x) => Number.isSafeInteger(x) && x > 0) ? (v as number[]) : [];
}

export interface SavedState {
  v: 1;
  savedAt: number;
  nextPid: number;
  procs: SavedProc[];
  standing: Array<[string, Partial<Capabilities>]>;
  /** Embedding origins the user allows, with the most their agents may get. */
  embedOrigins: Array<[string, Partial<Capabilities>]>;
  /** Whether running agents resume when the OS opens again (Settings; default true). */
  resumeOnOpen?: boolean;
}

export function isSavedState(v: unknown): v is SavedState {
  const s = v as SavedState | null;
  return (
    !!s && s.v === 1 && Array.isArray(s.procs) && Array.isArray(s.standing) && typeof s.nextPid === 'number'
  );
}

/** Debounces saves: many process changes in a burst become one write. */
export class Saver {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private dueAt = 0;
  private running: Promise<void> = Promise.resolve();
  constructor(
    private readonly write: () => Promise<void>,
    private readonly delayMs = 150,
  ) {}

  /** Writes within `delayMs` (a save already due sooner stands). */
  soon(delayMs = this.delayMs): void {
    const at = performance.now() + delayMs;
    if (this.timer) {
      if (this.dueAt <= at) return;
      clearTimeout(this.timer);
    }
    this.dueAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.now();
    }, delayMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** Writes at once (after any write in progress); resolves when it has committed. */
  now(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.running = this.running
      .then(this.write)
      .catch((e: unknown) => console.warn('[kernel] saving state:', e));
    return this.running;
  }
}

export interface SessionDeps {
  procs: ProcessTable;
  /** What the user allowed "always", by program. */
  standing: Map<string, Partial<Capabilities>>;
  /** Embedding origins the user allows. */
  embedOrigins: Map<string, Partial<Capabilities>>;
  /** Whether running agents resume when the OS opens again (durable, issue 15). */
  resumeOnOpen(): boolean;
  setResumeOnOpen(on: boolean): void;
  /** Queues a process to start (one whose policy restarts it). */
  enqueue(p: Process): void;
  schedule(): void;
  log(pid: number, kind: EpisodeKind, text: string): void;
}

/** Saves and restores the kernel's state (the kernel worker of the origin has one; dedicated kernels none). */
export class Session {
  private opened: Promise<DB> | null = null;
  private readonly saver = new Saver(() => this.save());

  constructor(private readonly d: SessionDeps) {}

  /** The kernel's connection to its database (memory shares it). */
  db(): Promise<DB> {
    this.opened ??= openStore();
    this.opened.catch(() => {
      this.opened = null; // let a later use try again
    });
    return this.opened;
  }

  /** Something changed: write shortly (a burst of changes is one write). */
  soon(): void {
    this.saver.soon();
  }

  /** Only figures changed (token counts, running ↔ waiting): written with the next save, within FIGURES_SAVE_MS. */
  later(): void {
    this.saver.soon(Session.FIGURES_SAVE_MS);
  }

  static readonly FIGURES_SAVE_MS = 5000;

  /** Saves now: the last tab is going, and the kernel's worker with it. */
  flush(): Promise<void> {
    return this.saver.now();
  }

  private async save(): Promise<void> {
    const db = await this.db();
    const state: SavedState = {
      v: 1,
      savedAt: Date.now(),
      nextPid: this.d.procs.next,
      procs: this.d.procs.all().map((p) => ({
        info: p.info,
        source: p.source,
        args: p.args,
        output: p.output.slice(-8192),
        lineage: p.lineage,
        page: p.spawnPage,
        charged: p.account.own,
        independent: p.account.independent,
      })),
      standing: [...this.d.standing],
      embedOrigins: [...this.d.embedOrigins],
      resumeOnOpen: this.d.resumeOnOpen(),
    };
    await db.put('kv', state, STATE_KEY);
  }

  /** Reads the previous session back: the process table, standing grants and embedding origins. */
  async restore(): Promise<void> {
    let saved: unknown;
    try {
      const db = await this.db();
      bootMark('session.db');
      saved = await db.get('kv', STATE_KEY);
      bootMark('session.read');
    } catch (e) {
      console.warn('[kernel] no saved state:', e);
      return;
    }
    if (!isSavedState(saved)) return;
    const { procs } = this.d;
    procs.reservePids(saved.nextPid);
    for (const [program, rule] of saved.standing) this.d.standing.set(program, rule);
    for (const [origin, caps] of saved.embedOrigins ?? []) this.d.embedOrigins.set(origin, caps);
    if (typeof saved.resumeOnOpen === 'boolean') this.d.setResumeOnOpen(saved.resumeOnOpen);
    for (const r of saved.procs) {
      if (procs.find(r.info.pid)) continue;
      const lineage = readLineage(r.lineage);
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
        // Its spawner was saved before it (pids grow): their quotas are shared again.
        spawner: lineage[0] !== undefined ? (procs.find(lineage[0])?.account ?? null) : null,
      });
      p.account.independent = r.independent === true;
      const charged = readCharges(r.charged);
      for (const kind of ['tokens', 'memoryWrites', 'memoryBytes'] as const)
        p.account.add(
          kind,
          charged?.[kind] ??
            (kind === 'tokens' ? r.info.usage.prompt_tokens + r.info.usage.completion_tokens : 0),
        );
      Object.assign(p.info, {
        usage: r.info.usage,
        startTime: r.info.startTime,
        restarts: r.info.restarts,
        restartable: r.info.restartable ?? false,
        migrations: r.info.migrations ?? 0,
        checkpoint: r.info.checkpoint ?? null,
      });
      p.output = r.output;
      // Ancestry survives a reopening: an orphan stays the kernel's, and still counts in its old trees.
      p.lineage = lineage;
      p.spawnPage = typeof r.page === 'string' ? r.page.slice(0, 400) : null;
      if (r.info.adoptedFrom !== undefined) {
        p.info.adoptedFrom = r.info.adoptedFrom;
        p.info.ppid = 0;
      }
      procs.add(p);
      if (r.info.state === 'exited') {
        p.markExited(r.info.exitCode ?? 0, r.info.exitReason);
        p.info.endTime = r.info.endTime;
        procs.exited(p);
      } else if (r.info.restart === 'on-host-loss' && restartsOnReopen(r.info, saved.procs)) {
        // durable: it was running (or asleep) when the OS closed; it resumes from its checkpoint unless the user said not to.
        // An orphan, or a child of one not resumed, is not resumed by itself (restartsOnReopen).
        p.info.restarts++;
        if (this.d.resumeOnOpen()) {
          p.info.state = 'resuming';
          this.d.log(p.pid, 'migrate', 'the OS was opened again: resuming from its checkpoint');
          this.d.enqueue(p);
        } else {
          p.info.state = 'sleeping';
          this.d.log(
            p.pid,
            'migrate',
            'the OS was opened again: sleeping until the user resumes it (Settings)',
          );
        }
      } else {
        p.markExited(EXIT_HOST_LOST, 'the OS was closed while it ran; restartable');
        p.info.restartable = true;
        procs.exited(p);
        this.d.log(p.pid, 'exit', 'the OS was closed while it ran: restartable');
      }
    }
    for (const p of procs.all()) {
      if (!p.info.ppid) continue;
      const parent = procs.find(p.info.ppid);
      if (parent?.alive || (p.info.state === 'exited' && !p.info.restartable)) parent?.children.add(p.pid);
      else {
        // Its parent is gone (exited, or not in the saved table): the kernel adopts it, so a later
        // restart by the user starts it as the kernel's child, not as one of a dead parent.
        p.info.adoptedFrom = p.info.ppid;
        p.info.ppid = 0;
        this.d.log(p.pid, 'spawn', `adopted by the kernel: its parent ${p.info.adoptedFrom} is not running`);
      }
    }
    bootMark('session.restored');
    this.d.schedule();
  }
}

/**
 * Whether a process the OS was running when it closed starts again on reopening by itself:
 * only by the user's policy — one the user started with `on-host-loss`, or a child of one
 * that does (all the way up). An orphan (its parent had exited) or a child of one that is
 * not restarted comes back restartable, shown to the user, never started without the user.
 */
function restartsOnReopen(info: ProcInfo, all: { info: ProcInfo }[]): boolean {
  let cur: ProcInfo | undefined = info;
  for (let hops = 0; cur && hops < 10_000; hops++) {
    if (cur.adoptedFrom !== undefined || cur.restart !== 'on-host-loss' || cur.state === 'exited')
      return false;
    if (cur.ppid === 0) return true;
    const ppid: number = cur.ppid;
    cur = all.find((x) => x.info.pid === ppid)?.info;
  }
  return false;
}
