/**
 * Reopening: the agents that were running when the OS closed start again, but
 * behind the user. A returning user wants a terminal first; starting twenty
 * agent frames at once took the page's thread (and the CPU the kernel needs to
 * load long-term memory) in the very moment the desktop was coming up: the
 * terminal was usable ~190 ms later than on a first visit, and the first recall
 * waited ~600 ms more. So the session's resumes are held until long-term memory
 * has opened (or failed to) — a resumed agent's boot reads its checkpoint and
 * short-term memory through it anyway, so it could not run sooner — and then
 * released a few at a time: at most `window` of them starting at once, the next
 * as each boots or ends. The user's calls that were waiting for memory (the
 * first recall) are answered before the first resume (`UserCalls`, at most
 * `USER_FIRST_MS`): 20 agent frames starting beside it had doubled its time.
 * Spawns the user makes meanwhile are not held.
 */
import type { Process } from './process';

export interface ReopeningDeps {
  /** Queues a process to start (lifecycle's start queue). */
  enqueue(p: Process): void;
  /** Starts what is queued where a host tab can take it. */
  schedule(): void;
}

/** Resumed agents starting at once, at most (each is a frame, a worker and a script to compile). */
export const RESUME_WINDOW = 4;

/** The longest resumes wait for the user's calls in flight (one may be a long `wait`). */
export const USER_FIRST_MS = 2000;

/** The user's calls in flight, so resumes can wait for those made before memory opened. */
export class UserCalls {
  private n = 0;
  private idle: Array<() => void> = [];

  /** A call of the user's began; call what it returns once, when it is answered. */
  started(): () => void {
    this.n++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.n === 0) for (const f of this.idle.splice(0)) f();
    };
  }

  get inFlight(): number {
    return this.n;
  }

  /** Resolves once no call of the user's is in flight, or after `maxMs`. */
  settled(maxMs: number): Promise<void> {
    if (this.n === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, maxMs);
      (timer as { unref?: () => void }).unref?.();
      this.idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

export class Reopening {
  private readonly held: Process[] = [];
  private readonly starting = new Set<Process>();
  private opened = false;

  constructor(
    private readonly d: ReopeningDeps,
    private readonly window = RESUME_WINDOW,
  ) {
    if (!(window >= 1)) throw new RangeError(`reopening: window must be at least 1 (got ${window})`);
  }

  /** A process of the previous session to resume once the OS is usable. */
  add(p: Process): void {
    this.held.push(p);
    if (this.opened) this.release();
  }

  /** Resumes start once `gate` settles (long-term memory opened, or failed to: agents still resume). */
  openAfter(gate: Promise<unknown>): void {
    const open = () => {
      this.opened = true;
      this.release();
    };
    gate.then(open, open);
  }

  /** Resumed agents not yet released. */
  get waiting(): number {
    return this.held.length;
  }

  /** A process changed (kernel.changed): one that booted or ended frees its place. */
  changed(p: Process): void {
    if (!this.starting.has(p) || (p.alive && !p.booted)) return;
    this.starting.delete(p);
    this.release();
  }

  private release(): void {
    if (!this.opened) return;
    // Killed (or started some other way) while held: nothing to do for it.
    for (const p of this.starting) if (!p.alive || p.booted) this.starting.delete(p);
    let queued = false;
    while (this.starting.size < this.window && this.held.length) {
      // The most urgent first (lower priority numbers run first, as in the start queue); ties in table order.
      let best = 0;
      for (let i = 1; i < this.held.length; i++)
        if (this.held[i]!.info.priority < this.held[best]!.info.priority) best = i;
      const p = this.held.splice(best, 1)[0]!;
      if (!p.alive || p.booted || p.port) continue;
      this.starting.add(p);
      this.d.enqueue(p);
      queued = true;
    }
    if (queued) this.d.schedule();
  }
}
