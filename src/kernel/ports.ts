/**
 * Posting frames on ports the kernel does not trust to stay open: a closed port
 * is a tab going away, and a value that cannot be cloned still gets an answer.
 */
import { SysError } from '../abi/errors';
import type { ChunkFrame, ReturnFrame } from '../abi/protocol';
import { recoverId } from '../abi/protocol';

/** Anything that carries frames: a MessagePort, or a dedicated worker's global scope. */
export interface Endpoint {
  postMessage(message: unknown, transfer: Transferable[]): void;
  onmessage: ((ev: MessageEvent) => void) | null;
  start?(): void;
  close?(): void;
}

/** What the kernel counts for `stats`. */
export interface Counters {
  calls: number;
  malformed: number;
  errors: number;
}

/** Posts a frame; a closed or broken port (its tab is going away) is not an error. */
export function post(port: Endpoint, frame: unknown): void {
  try {
    port.postMessage(frame, []);
  } catch {
    /* the tab is going away */
  }
}

/** Posts an answer; one that cannot be cloned becomes an error answer, so the caller is never left waiting. */
export function reply(port: Endpoint, frame: ReturnFrame | ChunkFrame, transfer: Transferable[] = []): void {
  try {
    port.postMessage(frame, transfer);
  } catch (e) {
    if (frame.t === 'ret')
      port.postMessage({ t: 'ret', id: frame.id, ok: false, error: SysError.from(e).toJSON() }, []);
  }
}

/** A frame the kernel could not parse: counted, and answered when it carries a call id. */
export function refuseMalformed(
  counters: Counters,
  port: Endpoint,
  data: unknown,
  why = 'malformed frame',
): void {
  if (why === 'malformed frame') counters.malformed++;
  const id = recoverId(data);
  if (id !== null) reply(port, { t: 'ret', id, ok: false, error: new SysError('EINVAL', why).toJSON() });
}

/** A bug in the kernel, not the caller's fault: logged, counted, and the kernel carries on. */
export function internalError(counters: Counters, e: unknown): void {
  counters.errors++;
  console.error('[kernel] internal error', e);
}
