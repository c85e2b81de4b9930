/**
 * Short-term memory on disk. Each agent's working context is written whole,
 * as one record (`stm:<pid>` in the `kv` store) in one transaction, after every
 * change the kernel acknowledges: an append resolves after its commit, and a
 * compression replaces the record only once the summary exists. A crash,
 * reload or close at any moment therefore leaves on disk the state before a
 * compression or the state after it — never an empty or half-done one, and
 * pinned messages are in both.
 */
import type { KvStore } from '../kernel/checkpoints';
import type { ShortTermMemory, StmSnapshot } from './short-term';
import { storageError } from './store';

const keyOf = (pid: number) => `stm:${pid}`;

function isSnapshot(v: unknown): v is StmSnapshot {
  const s = v as StmSnapshot | null;
  return (
    !!s &&
    s.v === 1 &&
    typeof s.nextId === 'number' &&
    Array.isArray(s.entries) &&
    s.entries.every(
      (e) =>
        typeof e?.id === 'number' &&
        typeof e.pinned === 'boolean' &&
        typeof e.message === 'object' &&
        e.message !== null &&
        typeof e.message.role === 'string',
    )
  );
}

export class ShortTermStore {
  /** Per pid, the writes in order: a later snapshot never lands before an earlier one. */
  private readonly chains = new Map<number, Promise<unknown>>();

  constructor(private readonly kv: () => Promise<KvStore>) {}

  private chain<T>(pid: number, job: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(pid) ?? Promise.resolve();
    const next = prev.then(job, job);
    const tail = next.catch(() => {});
    this.chains.set(pid, tail);
    void tail.then(() => {
      if (this.chains.get(pid) === tail) this.chains.delete(pid);
    });
    return next;
  }

  /** Writes the memory's state as it is now; resolves after commit (ENOSPC when the disk is full). */
  save(pid: number, m: ShortTermMemory): Promise<void> {
    // Taken now, not when the write runs: the record is exactly the state this change produced.
    const snap = m.snapshot();
    return this.chain(pid, async () => {
      try {
        await (await this.kv()).put(keyOf(pid), snap);
      } catch (e) {
        throw storageError(e, 'short-term memory');
      }
    });
  }

  /** Fills `m` from disk; false when nothing (valid) was saved for pid. */
  load(pid: number, m: ShortTermMemory): Promise<boolean> {
    return this.chain(pid, async () => {
      const raw = await (await this.kv()).get(keyOf(pid));
      if (!isSnapshot(raw)) return false;
      m.load(raw);
      return true;
    });
  }

  drop(pid: number): Promise<void> {
    return this.chain(pid, async () => (await this.kv()).delete(keyOf(pid)));
  }
}
