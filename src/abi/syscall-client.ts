/**
 * The calling side of the wire protocol, shared by agents (SDK) and tabs
 * (shell): numbered calls, streamed chunks, typed errors, cancellation.
 */
import { SysError } from './errors';
import {
  type ChunkFrame,
  type EventFrame,
  MAX_FRAMES_PER_MESSAGE,
  type RetsFrame,
  type ReturnFrame,
  type SignalFrame,
} from './protocol';

/** Quiet calls in a row before an ordinary one (see quietCall). */
export const QUIET_RUN = 32;

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
  /**
   * Calls per second sent while others are in flight (an agent's `limits.callsPerSec`, learnt at
   * boot; null: no pacing). The kernel refuses pipelined frames past it and ends an agent that
   * ignores 2,000 refusals in a second, so the SDK paces them a little below it; a call sent
   * when none is in flight is never paced (nor counted by the kernel).
   */
  callsPerSec: number | null = null;
  private tokens = 0;
  private tokensAt = 0;
  private pump: ReturnType<typeof setTimeout> | null = null;
  private readonly queued: { send(): void; fail(e: SysError): void }[] = [];
  /**
   * Calls sent quiet (the kernel answers them only if they fail), oldest first, each with who
   * hears its failure. An answer to a later call means the earlier ones were run (quiet calls
   * are synchronous in the kernel, and a port keeps order), so they are dropped then.
   */
  private readonly quiet = new Map<number, (e: SysError) => void>();
  /** Quiet calls sent since an answer to a later call came back. */
  private quietRun = 0;
  private lastQuietId = 0;
  private stopped = false;
  /**
   * Calls made in one turn of the event loop leave as one `calls` message (an agent's port; the
   * kernel's frame-batch.ts): one postMessage, and one task for the kernel, per turn rather than
   * per call. Each is still its own syscall with its own answer. Off for tabs.
   */
  batchFrames = false;
  private outbox: { frame: unknown; transfer: Transferable[] }[] = [];
  /** Frames that are not answers to calls: signals (agents), events and host commands (tabs). */
  onOther: ((frame: SignalFrame | EventFrame | { t: string }) => void) | null = null;

  constructor(readonly port: PortLike) {
    port.onmessage = (ev: MessageEvent) =>
      this.receive(ev.data as ReturnFrame | ChunkFrame | SignalFrame | EventFrame | RetsFrame);
  }

  private receive(frame: ReturnFrame | ChunkFrame | SignalFrame | EventFrame | RetsFrame): void {
    if (frame.t === 'rets') {
      for (const f of frame.frames) this.receive(f);
    } else if (frame.t === 'ret') {
      const q = this.quiet.get(frame.id);
      if (q) {
        this.quiet.delete(frame.id);
        if (!frame.ok) q(SysError.from(frame.error));
        return;
      }
      const p = this.pending.get(frame.id);
      if (!p) return;
      this.quietAnswered(frame.id);
      this.pending.delete(frame.id);
      this.release();
      if (frame.ok) p.resolve(frame.value);
      else p.reject(SysError.from(frame.error));
    } else if (frame.t === 'chunk') {
      this.pending.get(frame.id)?.onChunk?.(frame.value);
    } else if ((frame as { t: string }).t === 'ping') {
      this.port.postMessage({ t: 'beat' }); // the kernel's liveness check: answered while the event loop turns
    } else {
      // Stopped (SIGSTOP: the kernel holds this agent's calls): writes wait like every other call.
      if (frame.t === 'signal')
        this.stopped = frame.sig === 'STOP' ? true : frame.sig === 'CONT' ? false : this.stopped;
      this.onOther?.(frame);
    }
  }

  call<T = unknown>(name: string, args: unknown = {}, transfer: Transferable[] = []): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.whenRoom(() => {
        const id = this.nextId++;
        this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        this.send({ t: 'call', id, name, args }, transfer);
      }, reject);
    });
  }

  /**
   * Sends a call whose success needs no answer (`quiet`: the kernel answers only a failure, which
   * goes to `onError`), when it may go now; false when it may not, and the caller makes it an
   * ordinary call instead. It may not go behind calls waiting for room, past the in-flight cap,
   * without a rate token (the kernel counts it as pipelined), while stopped, or after QUIET_RUN quiet calls in a
   * row: then an ordinary call's answer keeps the sender in step with the kernel, so a loop of
   * them yields to its event loop and never pipelines more than QUIET_RUN frames.
   */
  quietCall(name: string, args: unknown, onError: (e: SysError) => void): boolean {
    if (this.stopped || this.queued.length || this.quietRun >= QUIET_RUN) return false;
    if (this.maxInFlight !== null && this.pending.size + this.quiet.size >= this.maxInFlight) return false;
    if (this.callsPerSec !== null && !this.takeToken()) return false;
    const id = this.nextId++;
    this.quiet.set(id, onError);
    this.quietRun++;
    this.lastQuietId = id;
    this.send({ t: 'call', id, name, args, quiet: true });
    return true;
  }

  /** The answer to call `id` came: the quiet calls sent before it were run and succeeded. */
  private quietAnswered(id: number): void {
    if (id > this.lastQuietId) this.quietRun = 0;
    for (const q of this.quiet.keys()) {
      if (q > id) break;
      this.quiet.delete(q);
    }
  }

  /** Posts a call or cancel frame; with batchFrames, gathered until this turn's microtasks are done. */
  private send(frame: unknown, transfer: Transferable[] = []): void {
    if (!this.batchFrames) {
      this.port.postMessage(frame, transfer);
      return;
    }
    this.outbox.push({ frame, transfer });
    if (this.outbox.length === 1) queueMicrotask(() => this.flushOut());
    else if (this.outbox.length >= MAX_FRAMES_PER_MESSAGE) this.flushOut();
  }

  private flushOut(): void {
    const out = this.outbox;
    if (!out.length) return;
    this.outbox = [];
    if (out.length === 1) {
      this.postOne(out[0]!);
      return;
    }
    const transfer: Transferable[] = [];
    for (const o of out) for (const t of o.transfer) if (!transfer.includes(t)) transfer.push(t);
    try {
      this.port.postMessage({ t: 'calls', frames: out.map((o) => o.frame) }, transfer);
    } catch {
      // One of them cannot be cloned (or transferred): send them one by one, so only that call fails.
      for (const o of out) this.postOne(o);
    }
  }

  /** Posts one frame; a call whose arguments the browser refuses to clone fails with the browser's error, as unbatched. */
  private postOne(o: { frame: unknown; transfer: Transferable[] }): void {
    try {
      this.port.postMessage(o.frame, o.transfer);
    } catch (e) {
      const f = o.frame as { t?: string; id?: number };
      const q = f.t === 'call' && f.id !== undefined ? this.quiet.get(f.id) : undefined;
      if (q) {
        this.quiet.delete(f.id!);
        q(e as SysError);
        return;
      }
      const p = f.t === 'call' && f.id !== undefined ? this.pending.get(f.id) : undefined;
      if (!p) return;
      this.pending.delete(f.id!);
      this.release();
      p.reject(e as SysError);
    }
  }

  /** Sends now if there is room (in flight, and rate when pipelined), else in order once there is. */
  private whenRoom(send: () => void, fail: (e: SysError) => void): void {
    if (!this.queued.length && this.room()) send();
    else {
      this.queued.push({ send, fail });
      this.release();
    }
  }

  /** Whether one more call may go out now; takes a rate token when it would be pipelined. */
  private room(): boolean {
    if (this.maxInFlight !== null && this.pending.size >= this.maxInFlight) return false;
    if (this.callsPerSec === null || this.pending.size === 0) return true;
    return this.takeToken();
  }

  /** One rate token for a pipelined frame, if there is one. */
  private takeToken(): boolean {
    if (this.callsPerSec === null) return true;
    // 90% of the kernel's rate and half its bucket (a tenth of a second, at least 64): a margin for
    // what it counts. The kernel counts the calls of one `calls` message as arriving at once, so a
    // delay on the way (a busy machine) compresses what was paced here: half a bucket absorbs 50 ms.
    const rate = 0.9 * this.callsPerSec;
    const burst = 0.5 * Math.max(64, this.callsPerSec / 10);
    const now = performance.now();
    this.tokens = Math.min(burst, this.tokens + ((now - this.tokensAt) / 1000) * rate);
    this.tokensAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private release(): void {
    while (this.queued.length && this.room()) this.queued.shift()!.send();
    // Waiting on the rate alone (nothing in flight would wake it): try again when a token is due.
    if (this.queued.length && !this.pump && this.callsPerSec !== null && this.callsPerSec > 0)
      this.pump = setTimeout(
        () => {
          this.pump = null;
          this.release();
        },
        Math.max(1, 1000 / (0.9 * this.callsPerSec)),
      );
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
      if (sent) this.send({ t: 'cancel', id });
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
        this.send({ t: 'call', id, name, args });
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
    for (const q of this.quiet.values()) q(error);
    this.quiet.clear();
    for (const q of this.queued.splice(0)) q.fail(error);
  }
}
