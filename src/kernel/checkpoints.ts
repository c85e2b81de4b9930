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

import { SysError } from './errors';
import { fnv1a } from './hash';

/** The most JSON text (UTF-16 code units) one checkpoint may hold. */
export const CHECKPOINT_MAX = 1024 * 1024;

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

/**
 * JSON text of `state`, refusing what JSON would silently drop or change
 * (functions, symbols, undefined fields, NaN, Maps, class instances, cycles):
 * a checkpoint restores exactly what was saved or is refused with EINVAL.
 */
export function serialize(state: unknown, max = CHECKPOINT_MAX): string {
  const seen = new Set<object>();
  const check = (v: unknown, path: string, depth: number): void => {
    if (depth > 200) throw new SysError('EINVAL', `checkpoint: nested deeper than 200 at ${path}`);
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new SysError('EINVAL', `checkpoint: ${path} is ${v}, not a JSON number`);
      return;
    }
    if (typeof v !== 'object')
      throw new SysError('EINVAL', `checkpoint: ${path} is a ${typeof v}, which JSON cannot hold`);
    if (seen.has(v)) throw new SysError('EINVAL', `checkpoint: ${path} refers back to itself (a cycle)`);
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) check(v[i], `${path}[${i}]`, depth + 1);
    } else {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null)
        throw new SysError(
          'EINVAL',
          `checkpoint: ${path} is a ${(v as object).constructor?.name ?? 'non-plain object'}; use plain objects and arrays`,
        );
      for (const [k, x] of Object.entries(v)) {
        if (x === undefined) throw new SysError('EINVAL', `checkpoint: ${path}.${k} is undefined`);
        check(x, `${path}.${k}`, depth + 1);
      }
    }
    seen.delete(v);
  };
  if (state === undefined) throw new SysError('EINVAL', 'checkpoint: no state given');
  check(state, 'state', 0);
  const json = JSON.stringify(state);
  if (json.length > max)
    throw new SysError('E2BIG', `checkpoint of ${json.length} chars exceeds the ${max} allowed`);
  return json;
}

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
