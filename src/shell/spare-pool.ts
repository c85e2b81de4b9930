/**
 * Started agent slots kept ready ahead of need, as many as recent demand says.
 * One spare served a user who spawns now and then; a user who starts a team of
 * agents at once found one ready and waited for the rest to start in the middle
 * of the burst (each a frame, a worker, a script), all competing for the CPU.
 *
 * Demand is the largest number of slots taken within any `windowMs` during the
 * last `memoryMs`: after a burst of 8 the pool refills to 8 (made together, once
 * the burst has been served), and as that burst ages out of memory the pool
 * shrinks back to `min`, ending the spares it no longer needs. Spares are made
 * off the spawn path (on timers, never inside `take`): `min` of them soon after a
 * take (for the next lone spawn), the rest once the burst has settled, and none
 * while slots taken for spawns are still starting (they would compete for the CPU).
 */

/** A slot the pool can hold: whether it is still usable, whether it has finished starting, and how to end it. */
export interface PooledSlot {
  readonly ended: boolean;
  /** Its worker has loaded (a slot that cannot tell counts as ready). */
  readonly ready?: boolean;
  terminate(): void;
}

export interface SparePoolOptions {
  /** Spares kept even when nothing was asked for a long time (the next spawn's). */
  min: number;
  /** Spares never past this, whatever the demand (each holds a worker's memory). */
  max: number;
  /** Takes this close together count as one burst. */
  windowMs: number;
  /** How long a burst is remembered before the pool shrinks back. */
  memoryMs: number;
  /** How long after a take the pool makes its `min` spares again (the next lone spawn's). */
  refillDelayMs: number;
  /**
   * How long after the last take of a burst the pool grows to the burst's size: the burst's own
   * agents start first, not beside as many new spares (at most `maxSettleMs` after its first take).
   */
  settleMs: number;
  maxSettleMs: number;
  /**
   * Slots taken before they had finished starting (made for the spawn, or taken young) start
   * before any spare is made beside them, up to this long: a cold burst does not start twice
   * its size at once.
   */
  maxDeferMs: number;
  /**
   * Spares started at once, at most: the next ones once these are ready. All of a tab's frames
   * share one process, whose thread also answers the host's liveness pings; starting dozens at
   * once on a busy machine could hold it past them.
   */
  batch: number;
}

export const DEFAULT_POOL: Readonly<SparePoolOptions> = Object.freeze({
  min: 1,
  max: 32,
  windowMs: 1000,
  memoryMs: 30_000,
  refillDelayMs: 25,
  settleMs: 150,
  maxSettleMs: 500,
  maxDeferMs: 3000,
  batch: 8,
});

/** The timers the pool runs on (a fake clock in unit tests). */
export interface PoolClock {
  now(): number;
  later(fn: () => void, ms: number): unknown;
  cancel(handle: unknown): void;
}

/** How often a deferred refill looks whether the taken slots have started. */
const POLL_MS = 20;

const REAL_CLOCK: PoolClock = {
  now: () => performance.now(),
  later: (fn, ms) => setTimeout(fn, ms),
  cancel: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** The largest number of `times` (ascending) that fall within any span of `windowMs`. */
export function peakWithin(times: readonly number[], windowMs: number): number {
  let best = 0;
  for (let lo = 0, hi = 0; hi < times.length; hi++) {
    while (times[hi]! - times[lo]! >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

export class SparePool<S extends PooledSlot> {
  private readonly spares: S[] = [];
  /** When slots were taken, oldest first, within the last memoryMs. */
  private readonly takes: number[] = [];
  /** Stage one (back to `min`), stage two (up to the target), the shrink check. */
  private quickTimer: unknown = null;
  private settleTimer: unknown = null;
  private shrinkTimer: unknown = null;
  /** When the current series of takes began (for maxSettleMs). */
  private seriesStart = -1;
  /** Set by drain: no spare is made until the next take (a cold start stays cold). */
  private held = false;
  /** Slots taken before they were ready, and since when the oldest of them waits. */
  private starting: S[] = [];
  private deferredSince = 0;
  opts: SparePoolOptions;

  constructor(
    private readonly make: () => S,
    opts: Partial<SparePoolOptions> = {},
    private readonly clock: PoolClock = REAL_CLOCK,
  ) {
    this.opts = { ...DEFAULT_POOL, ...opts };
    if (this.opts.min < 0 || this.opts.max < this.opts.min)
      throw new RangeError(`spare pool: need 0 <= min <= max (min ${this.opts.min}, max ${this.opts.max})`);
  }

  /** Spares ready now (not ended). */
  get size(): number {
    this.prune();
    return this.spares.length;
  }

  /** How many spares the pool aims to hold now. */
  target(): number {
    const now = this.clock.now();
    while (this.takes.length && now - this.takes[0]! >= this.opts.memoryMs) this.takes.shift();
    const peak = peakWithin(this.takes, this.opts.windowMs);
    return Math.min(this.opts.max, Math.max(this.opts.min, peak));
  }

  /** A ready slot when there is one (oldest first: the most likely to have finished starting), else a new one. */
  take(): S {
    this.held = false;
    const now = this.clock.now();
    this.takes.push(now);
    this.prune();
    const slot = this.spares.shift() ?? this.make();
    if (slot.ready === false) {
      if (!this.starting.length) this.deferredSince = now;
      this.starting.push(slot);
    }
    this.quickTimer ??= this.clock.later(() => {
      this.quickTimer = null;
      this.fill(this.opts.min, true);
    }, this.opts.refillDelayMs);
    // Stage two waits for the burst to settle: pushed back by each take, up to maxSettleMs.
    if (this.settleTimer === null) this.seriesStart = now;
    else this.clock.cancel(this.settleTimer);
    const due = Math.min(this.opts.settleMs, this.seriesStart + this.opts.maxSettleMs - now);
    this.settleTimer = this.clock.later(
      () => {
        this.settleTimer = null;
        this.fill(Number.POSITIVE_INFINITY, true);
      },
      Math.max(0, due),
    );
    return slot;
  }

  /** Tops the pool up to its target after `delayMs` (off the caller's path). */
  soon(delayMs = 0): void {
    if (this.held || this.settleTimer !== null) return;
    this.settleTimer = this.clock.later(() => {
      this.settleTimer = null;
      this.fill(Number.POSITIVE_INFINITY, true);
    }, delayMs);
  }

  /**
   * Makes the spares missing from the target (at most `upTo` in all) now, together; ends those
   * past the target. With `defer`, waits while slots taken for spawns are still starting.
   */
  fill(upTo = Number.POSITIVE_INFINITY, defer = false): void {
    if (this.held) return;
    this.starting = this.starting.filter((s) => !s.ended && s.ready === false);
    if (defer && this.starting.length && this.clock.now() - this.deferredSince < this.opts.maxDeferMs) {
      // The spawns' own slots are still starting: look again shortly rather than compete with them.
      const again = () => this.fill(upTo, true);
      if (upTo === Number.POSITIVE_INFINITY) {
        if (this.settleTimer === null)
          this.settleTimer = this.clock.later(() => {
            this.settleTimer = null;
            again();
          }, POLL_MS);
      } else
        this.quickTimer ??= this.clock.later(() => {
          this.quickTimer = null;
          again();
        }, POLL_MS);
      return;
    }
    this.prune();
    const target = this.target();
    let room = this.opts.batch - this.spares.filter((s) => s.ready === false).length;
    while (this.spares.length < Math.min(target, upTo) && room-- > 0) this.spares.push(this.make());
    // More to make: once this batch has started.
    if (this.spares.length < Math.min(target, upTo)) this.soon(POLL_MS);
    // Youngest first out: the ones left are those ready longest.
    if (upTo === Number.POSITIVE_INFINITY) while (this.spares.length > target) this.spares.pop()!.terminate();
    this.watchShrink();
  }

  /** Changes the sizing (tests: a short memory) and resizes now. */
  configure(opts: Partial<SparePoolOptions>): void {
    const next = { ...this.opts, ...opts };
    if (next.min < 0 || next.max < next.min)
      throw new RangeError(`spare pool: need 0 <= min <= max (min ${next.min}, max ${next.max})`);
    this.opts = next;
    if (this.shrinkTimer !== null) this.clock.cancel(this.shrinkTimer);
    this.shrinkTimer = null;
    this.fill();
  }

  /** Ends every spare and makes none until the next take (the bench's cold spawns; tests). */
  drain(): void {
    this.held = true;
    for (const t of [this.quickTimer, this.settleTimer]) if (t !== null) this.clock.cancel(t);
    this.quickTimer = this.settleTimer = null;
    for (const s of this.spares.splice(0)) s.terminate();
  }

  /** Ends the spares and stops the timers (the host is going). */
  close(): void {
    this.drain();
    if (this.shrinkTimer !== null) this.clock.cancel(this.shrinkTimer);
    this.shrinkTimer = null;
  }

  private prune(): void {
    for (let i = this.spares.length - 1; i >= 0; i--) if (this.spares[i]!.ended) this.spares.splice(i, 1);
  }

  /** While the pool holds more than `min`, looks again when the oldest remembered take ages out. */
  private watchShrink(): void {
    if (this.shrinkTimer !== null || this.spares.length <= this.opts.min || !this.takes.length) return;
    const due = this.takes[0]! + this.opts.memoryMs - this.clock.now();
    this.shrinkTimer = this.clock.later(() => {
      this.shrinkTimer = null;
      this.fill();
    }, Math.max(0, due) + 1);
  }
}
