/**
 * Checkpoints: each process's last saved state, so an agent can start again
 * where it was — in another tab when its host tab goes, or when the OS opens
 * again after every tab closed. One record per process in the `kv` store of
 * the OS's IndexedDB (key `ckpt:<pid>`), replaced whole in one transaction, so
 * a reader sees the previous checkpoint or the new one, never a mix. A save is
 * acknowledged only after its transaction committed. Each record carries a
 * checksum of its JSON text: a record that fails it (or does not parse) is
 * reported as corrupt and the agent starts fresh.
 */

import { CHECKPOINT_MAX } from '../abi/checkpoint';
import { SysError } from '../abi/errors';
import { fnv1a } from './hash';

export { CHECKPOINT_MAX, serialize } from '../abi/checkpoint';

/** The little of IndexedDB this needs (the `kv` store), so tests can give it a fake-indexeddb one. */
export interface KvStore {
  get(key: string): Promise<unknown>;
  /** Resolves once the write has committed. */
  put(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface CheckpointRecord {
  v: 1;
  pid: number;
  /** Which process it belongs to (pid and start time): a pid reused after a lost session never gets another's state. */
  owner: string;
  /** 1 for a process's first checkpoint, +1 for each after (across its lives). */
  seq: number;
  at: number;
  json: string;
  /** fnv1a of `json`: a torn or tampered record does not match. */
  sum: number;
}

export type Loaded =
  | { kind: 'none' }
  | { kind: 'ok'; seq: number; at: number; bytes: number; state: unknown }
  | { kind: 'corrupt'; why: string };

const keyOf = (pid: number) => `ckpt:${pid}`;

export class CheckpointStore {
  /** Per pid, the chain of writes in progress: a load waits for them, so it sees the newest. */
  private readonly chains = new Map<number, Promise<unknown>>();
  /** Per pid and owner, the last seq written (so seq grows without a read per save). */
  private readonly seqs = new Map<string, number>();

  constructor(
    private readonly kv: () => Promise<KvStore>,
    readonly max = CHECKPOINT_MAX,
  ) {}

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

  /**
   * Saves `json` (already checked by `serialize`) as pid's checkpoint; resolves
   * after commit with its seq. A failed write leaves the previous one in place.
   */
  save(pid: number, json: string, owner = ''): Promise<{ seq: number; at: number; bytes: number }> {
    if (json.length > this.max)
      return Promise.reject(new SysError('E2BIG', `checkpoint of ${json.length} chars exceeds ${this.max}`));
    return this.chain(pid, async () => {
      const kv = await this.kv();
      let last = this.seqs.get(`${pid}@${owner}`);
      if (last === undefined) {
        const old = (await kv.get(keyOf(pid)).catch(() => null)) as Partial<CheckpointRecord> | null;
        last = typeof old?.seq === 'number' && old.owner === owner ? old.seq : 0;
      }
      const rec: CheckpointRecord = {
        v: 1,
        pid,
        owner,
        seq: last + 1,
        at: Date.now(),
        json,
        sum: fnv1a(json),
      };
      await kv.put(keyOf(pid), rec);
      this.seqs.set(`${pid}@${owner}`, rec.seq);
      return { seq: rec.seq, at: rec.at, bytes: json.length };
    });
  }

  /** The last committed checkpoint of pid (after any write in progress). */
  load(pid: number, owner = ''): Promise<Loaded> {
    return this.chain(pid, async () => {
      const raw = await (await this.kv()).get(keyOf(pid));
      if (raw === undefined || raw === null) return { kind: 'none' } as const;
      const r = raw as Partial<CheckpointRecord>;
      if (typeof r === 'object' && r.v === 1 && r.owner !== owner) return { kind: 'none' } as const;
      if (r.v !== 1 || typeof r.json !== 'string' || typeof r.seq !== 'number' || typeof r.sum !== 'number')
        return { kind: 'corrupt', why: 'the record is not a checkpoint of this version' } as const;
      this.seqs.set(`${pid}@${owner}`, Math.max(this.seqs.get(`${pid}@${owner}`) ?? 0, r.seq));
      if (fnv1a(r.json) !== r.sum)
        return { kind: 'corrupt', why: `checksum mismatch in checkpoint ${r.seq}` } as const;
      try {
        return {
          kind: 'ok',
          seq: r.seq,
          at: r.at ?? 0,
          bytes: r.json.length,
          state: JSON.parse(r.json) as unknown,
        } as const;
      } catch (e) {
        return {
          kind: 'corrupt',
          why: `checkpoint ${r.seq} does not parse: ${(e as Error).message}`,
        } as const;
      }
    });
  }

  /** Forgets pid's checkpoint (it exited for good). */
  drop(pid: number): Promise<void> {
    for (const k of this.seqs.keys()) if (k.startsWith(`${pid}@`)) this.seqs.delete(k);
    return this.chain(pid, async () => (await this.kv()).delete(keyOf(pid)));
  }
}
