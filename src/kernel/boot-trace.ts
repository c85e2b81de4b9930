/**
 * Where a kernel's start spends its time: `performance.mark`s named `boot:*` (the kernel's own,
 * and those memory/ sets while it opens), read back by `debug.boot_trace` with this worker's time
 * origin so a page can put them on its own timeline (the reload bench's breakdown). Bounded: only
 * the first marks are kept, so a long-lived kernel does not grow a timeline.
 */
const MAX_MARKS = 400;
let marks = 0;

export function bootMark(name: string): void {
  if (marks >= MAX_MARKS || typeof performance?.mark !== 'function') return;
  marks++;
  performance.mark(`boot:${name}`);
}

export interface BootTrace {
  /** performance.timeOrigin of the kernel's worker (ms since the epoch). */
  timeOrigin: number;
  marks: Array<{ name: string; at: number }>;
}

export function bootTrace(): BootTrace {
  return {
    timeOrigin: performance.timeOrigin,
    marks: performance
      .getEntriesByType('mark')
      .filter((m) => m.name.startsWith('boot:'))
      .map((m) => ({ name: m.name.slice(5), at: m.startTime })),
  };
}
