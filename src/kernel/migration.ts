/**
 * Migration: what happens to an agent when the tab hosting it goes, and which
 * tab hosts it next.
 *
 *   running ──host tab closed/crashed, another host open──▶ migrating ──boot──▶ running
 *   running ──last host tab closed──▶ sleeping ──OS opened again──▶ resuming ──boot──▶ running
 *
 * Every agent moves by default (it starts again from its last checkpoint, under
 * the same pid, with its mailbox, reservations and capabilities untouched); a
 * program that cannot resume opts out with `restart: 'never'` and exits 129.
 * Two guards keep a bad program from taking tabs down one after another: when
 * a host *crashed* (no goodbye), an agent without any checkpoint is not moved
 * (it may be what crashed it), and an agent whose host crashed, or which itself
 * crashed, twice in a row since its last checkpoint is not started a third time.
 *
 * A crash of a tab's agent frames' sandbox process (not of the tab) is judged
 * by crash-blame.ts first: the culprit exits 137 and never reaches this policy;
 * the others lost with it ('sandbox-crashed') are known innocent or are
 * suspects that crash-blame bounds itself, so they move like a closed tab's.
 */
export type LossHow = 'closed' | 'crashed' | 'sandbox-crashed';
/** How a tab went: said bye, or vanished without one. */
export type TabLoss = Exclude<LossHow, 'sandbox-crashed'>;

export type Decision =
  | { action: 'migrate' }
  | { action: 'sleep' }
  | { action: 'exit'; reason: string; restartable: boolean };

/** What the policy needs to know of a process. */
export interface Movable {
  pid: number;
  restart: 'never' | 'on-host-loss';
  /** Its last acknowledged checkpoint's seq; 0 when it has none. */
  checkpointSeq: number;
}

/** How many consecutive failed lives (host crashes, or crashes on resume) end the retries. */
export const MAX_STRIKES = 2;

export class Migration {
  /** Per pid: lives in a row that ended in a crash since the last checkpoint. */
  private readonly strikes = new Map<number, number>();

  /** A checkpoint was acknowledged: the program makes progress, its strikes are forgiven. */
  progressed(pid: number): void {
    this.strikes.delete(pid);
  }

  forget(pid: number): void {
    this.strikes.delete(pid);
  }

  strikesOf(pid: number): number {
    return this.strikes.get(pid) ?? 0;
  }

  private strike(pid: number): number {
    const n = (this.strikes.get(pid) ?? 0) + 1;
    this.strikes.set(pid, n);
    return n;
  }

  /** The host tab of `p` is gone; `hostsLeft` says whether another tab can host it. */
  onHostLost(p: Movable, how: LossHow, hostsLeft: boolean, osClosing: boolean, why: string): Decision {
    if (p.restart === 'never') {
      return osClosing
        ? {
            action: 'exit',
            reason: `the OS was closed while it ran; restartable (${why})`,
            restartable: true,
          }
        : { action: 'exit', reason: `${why}; it opted out of moving`, restartable: false };
    }
    if (how === 'crashed') {
      if (p.checkpointSeq === 0)
        return {
          action: 'exit',
          reason: `${why} (crashed) and it had no checkpoint to resume from; not moved, as it may be what crashed it`,
          restartable: false,
        };
      if (this.strike(p.pid) >= MAX_STRIKES)
        return {
          action: 'exit',
          reason: `${why}: its host crashed ${MAX_STRIKES} times in a row since its last checkpoint; not restarted again`,
          restartable: false,
        };
    }
    return hostsLeft || !osClosing ? { action: 'migrate' } : { action: 'sleep' };
  }

  /**
   * A resumed life ended with a failure before any new checkpoint: start it
   * again from the same checkpoint once; the second time in a row, give up.
   */
  onResumeCrash(pid: number): Decision {
    return this.strike(pid) >= MAX_STRIKES
      ? {
          action: 'exit',
          reason: `crashed on resume ${MAX_STRIKES} times in a row; not restarted a third time`,
          restartable: false,
        }
      : { action: 'migrate' };
  }
}

/** The state a process shows while it waits to be started again. */
export function waitingState(decision: 'migrate' | 'sleep', hostsLeft: boolean): 'migrating' | 'sleeping' {
  if (decision === 'sleep' || !hostsLeft) return 'sleeping';
  return 'migrating';
}

/** A tab as the host choice sees it. */
export interface HostCandidate {
  host: boolean;
  gone: boolean;
  hidden: boolean;
  /** Agents plus engines (an engine holds a model: it weighs as several agents). */
  load: number;
}

/**
 * The least-loaded visible host tab; a hidden (throttled) tab only when no
 * visible one exists; never a tab opened with `?host=0`.
 */
export function chooseHost<T extends HostCandidate>(tabs: Iterable<T>): T | null {
  let best: T | null = null;
  for (const t of tabs) {
    if (!t.host || t.gone) continue;
    if (!best || (best.hidden && !t.hidden) || (best.hidden === t.hidden && t.load < best.load)) best = t;
  }
  return best;
}
