/**
 * Events to the tabs, gathered per kernel tick. With many agents streaming, one message per
 * output chunk and per live-figure change swamps each desktop's main thread (a task per message)
 * and the kernel's own ports; instead, what the kernel emits until its next tick leaves as one
 * frame per tab, with
 * - consecutive output of one process and fd joined into one event (in order: nothing of that
 *   process comes between them),
 * - a process's repeated 'proc' updates replaced by the latest while its state and its
 *   generation's phase stay the same (live figures); every transition is kept, in order.
 * Anything else the kernel posts to a tab first flushes the batch (Tabs wraps the tab's port), so
 * a tab still hears of events before any answer sent after them.
 */
import type { KernelEvent, ProcInfo } from '../abi/protocol';

/** What a 'proc' update may be merged with: the same state and generation phase. */
const procKey = (p: ProcInfo) => `${p.state}/${p.generation?.phase ?? ''}`;

/** How often a stream of events leaves for the tabs, at most (about a display frame). */
export const FLUSH_EVERY_MS = 16;

export class EventBatch {
  private queue: (KernelEvent | null)[] = [];
  /** Per pid: where its last queued event is (output joins only onto it). */
  private lastOf = new Map<number, number>();
  /** Per pid: where its queued 'proc' update is, and its key. */
  private procAt = new Map<number, { at: number; key: string }>();
  private scheduled = false;

  private lastFlush = -FLUSH_EVERY_MS;

  constructor(
    private readonly deliver: (events: KernelEvent[]) => void,
    // The next tick, or a frame's time after the last flush: a lone event leaves at once, a stream
    // of them at most once per frame (each 'events' frame is a task on every desktop's main thread).
    private readonly schedule: (flush: () => void) => void = (f) =>
      setTimeout(f, Math.max(0, this.lastFlush + FLUSH_EVERY_MS - performance.now())),
  ) {}

  get pending(): number {
    return this.queue.length;
  }

  push(e: KernelEvent): void {
    if (e.type === 'output') {
      const at = this.lastOf.get(e.pid);
      const prev = at === undefined ? null : this.queue[at];
      if (prev?.type === 'output' && prev.fd === e.fd) {
        this.queue[at!] = { ...prev, data: prev.data + e.data };
        return;
      }
      this.lastOf.set(e.pid, this.queue.length);
    } else if (e.type === 'proc') {
      const pid = e.proc.pid;
      // A snapshot: the kernel goes on changing the process's info before the batch leaves.
      e = { type: 'proc', proc: structuredClone(e.proc) };
      const key = procKey(e.proc);
      const prev = this.procAt.get(pid);
      if (prev && prev.key === key) this.queue[prev.at] = null;
      this.procAt.set(pid, { at: this.queue.length, key });
      this.lastOf.set(pid, this.queue.length);
    }
    this.queue.push(e);
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.flush());
    }
  }

  /** Sends what is gathered now (also before any other frame to a tab). */
  flush(): void {
    this.scheduled = false;
    if (!this.queue.length) return;
    this.lastFlush = performance.now();
    const events = this.queue.filter((e): e is KernelEvent => e !== null);
    this.queue = [];
    this.lastOf.clear();
    this.procAt.clear();
    this.deliver(events);
  }
}
