/**
 * The kernel's state on disk, so closing every tab loses nothing: the process
 * table (with each agent's task, program, capabilities, usage and the tail of
 * its output) and the user's standing grants, in the `kv` store of the OS's
 * IndexedDB. Saved shortly after every change; read once when the kernel starts.
 * Agents that were running when the OS closed come back as restartable, or are
 * restarted at once when their policy says so; their pids (and so their
 * episodic logs) carry on.
 */

import type { ProcInfo } from '../abi/protocol';
import type { Capabilities } from './access-control';

export const STATE_KEY = 'kernel.state';

export interface SavedProc {
  info: ProcInfo;
  source: string | null;
  args: unknown;
  output: string;
}

export interface SavedState {
  v: 1;
  savedAt: number;
  nextPid: number;
  procs: SavedProc[];
  standing: Array<[string, Partial<Capabilities>]>;
  /** Embedding origins the user allows, with the most their agents may get. */
  embedOrigins: Array<[string, Partial<Capabilities>]>;
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
  private running: Promise<void> = Promise.resolve();
  constructor(
    private readonly write: () => Promise<void>,
    private readonly delayMs = 150,
  ) {}

  soon(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.now();
    }, this.delayMs);
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
