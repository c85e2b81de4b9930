/**
 * Safe retries: a call whose serving tab went away mid-call fails with
 * EHOSTDOWN (a hosted engine's tab, a page serving a tool). The SDK runs a
 * read again — a syscall without effects, or a generation that had not yet
 * streamed anything — and reports everything else to the program as is.
 */
import { SysError } from '../abi/errors';

/** Syscalls with no effect beyond their answer: running them twice is the same as once. */
export const READS = new Set([
  'ps',
  'models.list',
  'tools.search',
  'memory.recall',
  'memory.stm.list',
  'logs',
  'stats',
]);

/** Tries beyond the first. */
export const RETRIES = 2;

const retryable = (e: unknown) => SysError.is(e, 'EHOSTDOWN');

/** Runs `call`, again (up to RETRIES times) while it fails with EHOSTDOWN. */
export async function retryRead<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (attempt >= RETRIES || !retryable(e)) throw e;
    }
  }
}

/**
 * A stream that starts again when it fails with EHOSTDOWN before its first
 * chunk; once a chunk was seen, the consumer has acted on it, so the error is
 * reported rather than replayed.
 */
export async function* retryStream<C, R>(start: () => AsyncGenerator<C, R>): AsyncGenerator<C, R> {
  for (let attempt = 0; ; attempt++) {
    const it = start();
    let yielded = false;
    let finished = false;
    try {
      for (;;) {
        const n = await it.next();
        if (n.done) {
          finished = true;
          return n.value;
        }
        yielded = true;
        yield n.value;
      }
    } catch (e) {
      finished = true;
      if (yielded || attempt >= RETRIES || !retryable(e)) throw e;
    } finally {
      // The consumer stopped early (break): cancel the call in the kernel.
      if (!finished) await it.return(undefined as R);
    }
  }
}
