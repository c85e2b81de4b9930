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
 * as each boots or ends. Spawns the user makes meanwhile are not held.
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
