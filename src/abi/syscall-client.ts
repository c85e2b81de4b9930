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
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.port.postMessage({ t: 'call', id, name, args }, transfer);
    });
  }

  /** A streaming call: yields each chunk, returns the final value. Breaking out cancels it in the kernel. */
  async *stream<C, R = unknown>(name: string, args: unknown, signal?: AbortSignal): AsyncGenerator<C, R> {
    const id = this.nextId++;
    const queue: C[] = [];
    let wake: (() => void) | null = null;
    const st: { settled: { ok: true; value: R } | { ok: false; error: SysError } | null } = { settled: null };
    this.pending.set(id, {
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
    });
    const cancel = () => this.port.postMessage({ t: 'cancel', id });
    signal?.addEventListener('abort', cancel, { once: true });
    this.port.postMessage({ t: 'call', id, name, args });
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
        this.pending.delete(id);
      }
    }
  }

  /** Fails every call in flight, e.g. when the kernel went away. */
  failAll(error: SysError): void {
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }
}
