/**
 * Long index work (k-means training, filing every row) runs in slices on the thread that owns
 * the index — in the OS, the kernel's SharedWorker, which must keep answering every agent and
 * the user. `await slice.check()` between small units of work gives the thread back once the
 * slice has run `budgetMs`, behind whatever messages are already queued (nextTask: no timer clamp).
 */
import { nextTask } from '../../kernel/next-task';

/**
 * In Node (the unit tests' kernel), setImmediate: a port posting to itself there is drained in
 * one go, so its messages would starve timers and other ports until the job ends.
 */
const yieldThread: () => Promise<void> =
  typeof setImmediate === 'function' ? () => new Promise((r) => setImmediate(r)) : nextTask;

export class TimeSlice {
  private since = performance.now();
  /** Slices handed back so far (how many times other work could run). */
  yields = 0;

  constructor(private readonly budgetMs = 4) {}

  /** Yields now (a job's first step: its starter returns at once). */
  async pass(): Promise<void> {
    await yieldThread();
    this.yields++;
    this.since = performance.now();
  }

  /** Yields if this slice has used its budget; cheap otherwise (one clock read). */
  async check(): Promise<void> {
    if (performance.now() - this.since < this.budgetMs) return;
    await yieldThread();
    this.yields++;
    this.since = performance.now();
  }
}
