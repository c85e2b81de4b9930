/**
 * The scheduler: who goes next. Priorities follow Unix nice values: -20 is the
 * most urgent, 19 the least, 0 the default. Waiting raises a job's effective
 * priority (aging) so low-priority work is never starved.
 */
export const PRIORITY_MIN = -20;
export const PRIORITY_MAX = 19;
export const PRIORITY_DEFAULT = 0;

export interface Schedulable {
  priority: number;
  /** When the job entered the queue (ms). */
  enqueuedAt: number;
  /** Tie-breaker: lower first (FIFO among equals). */
  seq: number;
}

/** One priority step gained per `agingMs` spent waiting. */
export function effectivePriority(job: Schedulable, now: number, agingMs: number): number {
  return job.priority - Math.floor((now - job.enqueuedAt) / agingMs);
}

/** A small run queue: pick the most urgent job, considering age. */
export class RunQueue<T extends Schedulable> {
  private jobs: T[] = [];
  constructor(private readonly agingMs = 1000) {}

  get size(): number {
    return this.jobs.length;
  }

  push(job: T): void {
    this.jobs.push(job);
  }

  remove(pred: (job: T) => boolean): T[] {
    const out = this.jobs.filter(pred);
    if (out.length) this.jobs = this.jobs.filter((j) => !pred(j));
    return out;
  }

  /** Removes and returns the most urgent job, or undefined. */
  pop(now = performance.now()): T | undefined {
    let best = -1;
    let bestKey = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.jobs.length; i++) {
      const j = this.jobs[i]!;
      const key = effectivePriority(j, now, this.agingMs) * 1e12 + j.seq;
      if (key < bestKey) {
        bestKey = key;
        best = i;
      }
    }
    if (best < 0) return undefined;
    return this.jobs.splice(best, 1)[0];
  }

  list(): readonly T[] {
    return this.jobs;
  }
}
