/**
 * One clock for every paced stream on this thread. Each test-engine generation waits here for its
 * next token's due time, and one timer wakes every stream that is due (or due within SLACK_MS), so
 * 200 streams at 20 tokens/s cost the kernel a timer task every few ms instead of 4,000 a second.
 * A wake resolves at most MAX_PER_TASK streams; the rest go in the next task, so a message the user
 * sends waits behind a short task, not behind every due token at once.
 */

/** How early a token may go: waiters due this close to now are woken together. */
const SLACK_MS = 2;
/** Waiters one timer task wakes at most (each then sends its chunk in that task's microtasks). */
const MAX_PER_TASK = 16;
/** A timer this late has not fired (fake timers swapped in tests): armed again. */
const STALE_MS = 250;

interface Waiter {
  due: number;
  seq: number;
  resolve: () => void;
  done: boolean;
}

/** A binary min-heap by due time (then by arrival). */
class Heap {
  private a: Waiter[] = [];
  get size(): number {
    return this.a.length;
  }
  peek(): Waiter | undefined {
    return this.a[0];
  }
  push(w: Waiter): void {
    const a = this.a;
    a.push(w);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): Waiter | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

const less = (x: Waiter, y: Waiter) => x.due < y.due || (x.due === y.due && x.seq < y.seq);

const heap = new Heap();
let seq = 0;
let timer: ReturnType<typeof setTimeout> | null = null;
let timerAt = 0;

/** Resolves at `due` (performance.now() time, give or take SLACK_MS), or at once when `signal` aborts. */
export function until(due: number, signal?: AbortSignal): Promise<void> {
  const now = performance.now();
  if (due - now <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const w: Waiter = { due, seq: seq++, resolve, done: false };
    const abort = () => wake(w);
    w.resolve = () => {
      signal?.removeEventListener('abort', abort);
      resolve();
    };
    signal?.addEventListener('abort', abort, { once: true });
    heap.push(w);
    arm(now);
  });
}

function wake(w: Waiter): void {
  if (w.done) return;
  w.done = true;
  w.resolve();
}

function arm(now: number): void {
  // Drop what was woken by an abort from the top.
  while (heap.peek()?.done) heap.pop();
  const next = heap.peek();
  if (!next) return;
  if (timer !== null && timerAt <= next.due && now < timerAt + STALE_MS) return;
  if (timer !== null) clearTimeout(timer);
  // At the first one's due time; what is due within SLACK_MS after it goes in the same task.
  timerAt = Math.max(now, next.due);
  timer = setTimeout(fire, Math.max(0, timerAt - now));
}

function fire(): void {
  timer = null;
  const now = performance.now();
  let n = 0;
  while (n < MAX_PER_TASK) {
    const w = heap.peek();
    if (!w || w.due > now + SLACK_MS) break;
    heap.pop();
    if (w.done) continue;
    wake(w);
    n++;
  }
  arm(now);
}
