/**
 * Durable agents (issue 15): what the kernel keeps so an agent can start again
 * where it was — its last checkpoint, the messages it took since, the
 * crash-loop guard of migration.ts, and the user's choice whether agents
 * resume when the OS opens again. The lifecycle asks it at boot (restore),
 * at exit (forget) and when a host goes (takeUnacked).
 */

import { type BusItem, isRun, itemCount, type PackedRun, sliceRun } from '../abi/bus-pack';
import { SysError } from '../abi/errors';
import type { EpisodeKind } from '../memory/episodic';
import { hasBinary } from './check';
import { CheckpointStore, type KvStore } from './checkpoints';
import type { Caller } from './dispatch';
import { Migration } from './migration';
import type { Process } from './process';

export interface DurableDeps {
  /** The OS's IndexedDB `kv` store. */
  kv(): Promise<KvStore>;
  /** Reads a process's short-term memory back from disk, the first time this kernel needs it. */
  stmLoaded(pid: number): Promise<unknown>;
  log(pid: number, kind: EpisodeKind, text: string, data?: unknown): void;
  /** A process changed: tell the tabs, save soon. */
  changed(p: Process): void;
  /** The session's settings changed: save soon (nothing where the kernel keeps no session). */
  saveSoon(): void;
}

/** Messages kept per agent until its next checkpoint covers them. */
const UNACKED_MAX = 256;

/** Identifies a process's checkpoints beyond its pid (see CheckpointRecord.owner). */
export function ownerOf(p: Process): string {
  return `${p.pid}@${p.info.startTime}`;
}

export class Durable {
  /** Each process's last checkpoint, in IndexedDB. */
  readonly checkpoints: CheckpointStore;
  /** What happens to an agent whose host tab goes, and the crash-loop guard. */
  readonly migration = new Migration();
  /** Whether agents that were running when the OS closed resume when it opens (Settings). */
  resumeOnOpen = true;
  /** Messages each agent received since its last checkpoint: put back in its mailbox if it moves before the next. */
  private readonly unacked = new Map<number, BusItem[]>();

  constructor(private readonly d: DurableDeps) {
    this.checkpoints = new CheckpointStore(() => d.kv());
  }

  /** Reads back what a process had when its last life ended: its checkpoint and short-term memory. */
  async restoreLife(p: Process): Promise<{ restored: unknown; restoredSeq: number }> {
    await this.d.stmLoaded(p.pid);
    const got = await this.checkpoints
      .load(p.pid, ownerOf(p))
      .catch(
        (e: unknown) => ({ kind: 'corrupt', why: `reading it failed: ${(e as Error).message}` }) as const,
      );
    if (got.kind === 'ok') {
      p.resumedFrom = got.seq;
      p.info.checkpoint = { seq: got.seq, at: got.at, bytes: got.bytes };
      this.d.log(p.pid, 'migrate', `resumed from checkpoint ${got.seq} (${got.bytes} chars)`);
      return { restored: got.state, restoredSeq: got.seq };
    }
    if (got.kind === 'corrupt') {
      this.d.log(p.pid, 'checkpoint', `its checkpoint is unusable (${got.why}): started fresh`, {
        why: got.why,
      });
    }
    return { restored: null, restoredSeq: 0 };
  }

  /** ctx.checkpoint: stores the JSON text as the caller's checkpoint; resolves after commit. */
  async checkpoint(c: Caller, json: string): Promise<{ seq: number; bytes: number }> {
    if (c.kind !== 'agent') throw new SysError('EPERM', 'checkpoint is for agents');
    try {
      JSON.parse(json);
    } catch {
      throw new SysError('EINVAL', 'checkpoint: the state is not valid JSON text; the previous one is kept');
    }
    const p = c.proc;
    // Messages received before this call are in the state being saved (a program checkpoints after handling them).
    const covered = this.unacked.get(p.pid)?.length ?? 0;
    const saved = await this.checkpoints.save(p.pid, json, ownerOf(p)).catch((e: unknown) => {
      const err =
        e instanceof SysError ? e : new SysError('EIO', `checkpoint not saved: ${(e as Error).message}`);
      if (!p.checkpointFailed)
        this.d.log(p.pid, 'checkpoint', `a checkpoint could not be saved: ${err.message}`);
      p.checkpointFailed = true;
      throw err;
    });
    if (!p.alive) throw new SysError('ESRCH', `process ${p.pid} exited before its checkpoint was saved`);
    p.info.checkpoint = saved;
    p.checkpointedThisLife = true;
    this.unacked.get(p.pid)?.splice(0, covered);
    this.migration.progressed(p.pid);
    this.d.changed(p);
    return { seq: saved.seq, bytes: saved.bytes };
  }

  /** Messages handed to an agent by bus.recv: kept (at most UNACKED_MAX) until its next checkpoint covers them. */
  delivered(c: Caller, items: BusItem[]): void {
    if (c.kind !== 'agent' || !items.length) return;
    const list = this.unacked.get(c.pid) ?? [];
    this.unacked.set(c.pid, list);
    // Binary bodies are transferred to the agent (detached here): keep a copy of those. A packed run is text.
    for (const x of items) list.push(isRun(x) || !hasBinary(x.body) ? x : structuredClone(x));
    // At most UNACKED_MAX messages: the oldest go (a packed run keeps its newest).
    let n = 0;
    for (const x of list) n += itemCount(x);
    while (n > UNACKED_MAX) {
      const x = list[0]!;
      const over = n - UNACKED_MAX;
      const c = itemCount(x);
      if (c <= over) {
        list.shift();
        n -= c;
      } else {
        list[0] = sliceRun(x as PackedRun, over, c);
        n -= over;
      }
    }
  }

  /** The messages a process took since its last checkpoint (forgotten here: they go back to its mailbox). */
  takeUnacked(pid: number): BusItem[] {
    const back = this.unacked.get(pid) ?? [];
    this.unacked.delete(pid);
    return back;
  }

  /** Settings of the durable lifecycle (the Settings app). */
  settings(set: { resumeOnOpen?: boolean }): { resumeOnOpen: boolean } {
    if (set.resumeOnOpen !== undefined && set.resumeOnOpen !== this.resumeOnOpen) {
      this.resumeOnOpen = set.resumeOnOpen;
      this.d.log(0, 'grant', `agents ${set.resumeOnOpen ? 'resume' : 'stay asleep'} when the OS opens again`);
      this.d.saveSoon();
    }
    return { resumeOnOpen: this.resumeOnOpen };
  }

  /** Its life is over for good: what was kept to resume it goes (a restartable one starts fresh anyway). */
  forget(pid: number): void {
    this.migration.forget(pid);
    this.unacked.delete(pid);
    void this.checkpoints.drop(pid).catch(() => {});
  }
}
