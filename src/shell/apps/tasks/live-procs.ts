/**
 * The task manager's table of processes, fed by a full `ps` now and then and by 'proc' events in
 * between. Events only mark the table changed; the app renders it at most once per animation
 * frame (and at the pace live figures need), so hundreds of streaming agents cost one render per
 * frame, not one per event.
 */
import type { ProcInfo } from '../../../abi/protocol';

export class LiveProcs {
  private readonly byPid = new Map<number, ProcInfo>();
  private sorted: ProcInfo[] | null = [];

  /** A full table (ps): replaces what is known; processes missing from it are gone. */
  replace(ps: readonly ProcInfo[]): void {
    this.byPid.clear();
    for (const p of ps) this.byPid.set(p.pid, p);
    this.sorted = null;
  }

  /** One process's latest info (a 'proc' event, which carries all of it). */
  update(p: ProcInfo): void {
    this.byPid.set(p.pid, p);
    this.sorted = null; // sorted again on the next render, not per event
  }

  /** Every process, by pid; the same array until something changes. */
  list(): ProcInfo[] {
    this.sorted ??= [...this.byPid.values()].sort((a, b) => a.pid - b.pid);
    return this.sorted;
  }

  /** Completion tokens of every process known (the chart's rate is its change per second). */
  completionTokens(): number {
    let n = 0;
    for (const p of this.byPid.values()) n += p.usage.completion_tokens;
    return n;
  }
}
