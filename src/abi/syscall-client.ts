/**
 * The calling side of the wire protocol, shared by agents (SDK) and tabs
 * (shell): numbered calls, streamed chunks, typed errors, cancellation.
 */
import { SysError } from './errors';
import type { ChunkFrame, EventFrame, ReturnFrame, SignalFrame } from './protocol';

interface Pending {
  resolve(v: unknown): void;
  reject(e: SysError): void;
  onChunk?: (v: unknown) => void;
}

export interface PortLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  onmessage: ((ev: MessageEvent) => void) | null;
}

export class SyscallClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /**
   * At most this many calls in flight (an agent's `limits.callsInFlight`, learnt at boot; null
   * for tabs): more wait here, in order, and go out as answers come back. The kernel refuses
   * frames past the cap and ends an agent that pipelines far past it (a flood), so a program's
   * `Promise.all` over thousands of calls must not reach the port at once.
   */
  maxInFlight: number | null = null;
  private readonly queued: { send(): void; fail(e: SysError): void }[] = [];
  /** Frames that are not answers to calls: signals (agents), events and host commands (tabs). */
  onOther: ((frame: SignalFrame | EventFrame | { t: string }) => void) | null = null;

  constructor(readonly port: PortLike) {
    port.onmessage = (ev: MessageEvent) =>
      this.receive(ev.data as ReturnFrame | ChunkFrame | SignalFrame | EventFrame);
  }

  private receive(frame: ReturnFrame | ChunkFrame | SignalFrame | EventFrame): void {
    if (frame.t === 'ret') {
      const p = this.pending.get(frame.id);
      if (!p) return;
      this.pending.delete(frame.id);
      this.release();
      if (frame.ok) p.resolve(frame.value);
      else p.reject(SysError.from(frame.error));
    } else if (frame.t === 'chunk') {
      this.pending.get(frame.id)?.onChunk?.(frame.value);
    } else if ((frame as { t: string }).t === 'ping') {
      this.port.postMessage({ t: 'beat' }); // the kernel's liveness check: answered while the event loop turns
    } else {
      this.onOther?.(frame);
    }
  }

  call<T = unknown>(name: string, args: unknown = {}, transfer: Transferable[] = []): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.whenRoom(() => {
        const id = this.nextId++;
        this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        this.port.postMessage({ t: 'call', id, name, args }, transfer);
      }, reject);
    });
  }

  /** Sends now if fewer than maxInFlight calls are in flight, else once one is answered. */
  private whenRoom(send: () => void, fail: (e: SysError) => void): void {
    if (this.maxInFlight === null || (this.pending.size < this.maxInFlight && !this.queued.length)) send();
    else this.queued.push({ send, fail });
  }

  private release(): void {
    while (this.queued.length && (this.maxInFlight === null || this.pending.size < this.maxInFlight))
      this.queued.shift()!.send();
  }

  /** A streaming call: yields each chunk, returns the final value. Breaking out cancels it in the kernel. */
  async *stream<C, R = unknown>(name: string, args: unknown, signal?: AbortSignal): AsyncGenerator<C, R> {
    const id = this.nextId++;
    const queue: C[] = [];
    let wake: (() => void) | null = null;
    const st: { settled: { ok: true; value: R } | { ok: false; error: SysError } | null } = { settled: null };
    const entry: Pending = {
      resolve: (v) => {
        st.settled = { ok: true, value: v as R };
        wake?.();
      },
      reject: (e) => {
        st.settled = { ok: false, error: e };
        wake?.();
      },
      onChunk: (v) => {
        queue.push(v as C);
        wake?.();
      },
    };
    // Not sent yet (waiting for room): abandoning or aborting it only takes it out of the line.
    let sent = false;
    let abandoned = false;
    const cancel = () => {
      if (sent) this.port.postMessage({ t: 'cancel', id });
      else if (!abandoned) {
        abandoned = true;
        entry.reject(new SysError('ECANCELED', `${name} canceled before it was sent`));
      }
    };
    signal?.addEventListener('abort', cancel, { once: true });
    this.whenRoom(
      () => {
        if (abandoned) return;
        sent = true;
        this.pending.set(id, entry);
        this.port.postMessage({ t: 'call', id, name, args });
      },
      (e) => entry.reject(e),
    );
    let done = false;
    try {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        const s = st.settled;
        if (s) {
          done = true;
          if (s.ok) return s.value;
          throw s.error;
        }
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = null;
      }
    } finally {
      signal?.removeEventListener('abort', cancel);
      if (!done) {
        cancel();
        abandoned = true;
        if (this.pending.delete(id)) this.release();
      }
    }
  }

  /** Fails every call in flight, e.g. when the kernel went away. */
  failAll(error: SysError): void {
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    for (const q of this.queued.splice(0)) q.fail(error);
  }
}
