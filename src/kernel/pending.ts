/**
 * Calls waiting for an answer from elsewhere — a bus request for its reply, a
 * page-served tool for the page's result — each with a deadline (ETIMEDOUT)
 * and each settled once: by its answer, its deadline, or its answerer going.
 */
import { SysError } from '../abi/errors';

interface Waiting<V, M> {
  meta: M;
  resolve(v: V): void;
  reject(e: SysError): void;
}

export class PendingCalls<K, V, M = undefined> {
  private readonly waiting = new Map<K, Waiting<V, M>>();

  /** Waits for `resolve(key)` or `reject(key)`; ETIMEDOUT with `timeoutMessage` after `timeoutMs`. */
  wait(key: K, meta: M, timeoutMs: number, timeoutMessage: () => string): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(new SysError('ETIMEDOUT', timeoutMessage()));
      }, timeoutMs);
      this.waiting.set(key, {
        meta,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  /** What was recorded with the call `key`, if it still waits. */
  meta(key: K): M | undefined {
    return this.waiting.get(key)?.meta;
  }

  has(key: K): boolean {
    return this.waiting.has(key);
  }

  resolve(key: K, v: V): boolean {
    const w = this.waiting.get(key);
    if (!w) return false;
    this.waiting.delete(key);
    w.resolve(v);
    return true;
  }

  reject(key: K, e: SysError): boolean {
    const w = this.waiting.get(key);
    if (!w) return false;
    this.waiting.delete(key);
    w.reject(e);
    return true;
  }

  /** Ends every call whose record matches (its answerer is gone). */
  rejectWhere(match: (meta: M) => boolean, e: () => SysError): void {
    for (const [k, w] of this.waiting)
      if (match(w.meta)) {
        this.waiting.delete(k);
        w.reject(e());
      }
  }
}
