/**
 * Many frames in one port message. An agent's SDK sends the calls it makes in one turn of its
 * event loop as one `calls` message (abi/protocol.ts), and the kernel answers the ones it answers
 * at once as one `rets` message: a program that keeps 64 sends in flight costs the kernel one
 * task and one postMessage per turn, not per call (each port message is a task to receive and a
 * structured clone and an IPC to send, which is most of a small call's cost). Each call is still
 * its own syscall: limits (limiter.ts) count every frame inside, answers keep their order.
 */
import { type CallsFrame, type ChunkFrame, MAX_FRAMES_PER_MESSAGE, type ReturnFrame } from '../abi/protocol';
import { type Endpoint, reply } from './ports';

/** The frames of a `calls` message, or null if `data` is not one (a bad one is `[]`: nothing to run). */
export function framesOf(data: unknown): unknown[] | null {
  if (typeof data !== 'object' || data === null || (data as { t?: unknown }).t !== 'calls') return null;
  const frames = (data as CallsFrame).frames;
  return Array.isArray(frames) && frames.length <= MAX_FRAMES_PER_MESSAGE ? frames : [];
}

/**
 * An agent's port that, while corked, gathers what is posted to it and sends it as one `rets`
 * message on uncork. Answers that come later (a promise settling) are posted as they come.
 */
export class CorkedPort implements Endpoint {
  private held: { frame: unknown; transfer: Transferable[] }[] | null = null;

  constructor(readonly port: Endpoint) {}

  get onmessage(): ((ev: MessageEvent) => void) | null {
    return this.port.onmessage;
  }
  set onmessage(f: ((ev: MessageEvent) => void) | null) {
    this.port.onmessage = f;
  }

  postMessage(frame: unknown, transfer: Transferable[] = []): void {
    if (this.held) this.held.push({ frame, transfer });
    else this.port.postMessage(frame, transfer);
  }

  /** Runs `f` with what it posts gathered, then sends that as one message. */
  corked(f: () => void): void {
    if (this.held) {
      f(); // already corked (not expected): one flush at the outer end
      return;
    }
    this.held = [];
    try {
      f();
    } finally {
      const held = this.held;
      this.held = null;
      this.flush(held);
    }
  }

  private flush(held: { frame: unknown; transfer: Transferable[] }[]): void {
    if (!held.length) return;
    if (held.length === 1) {
      this.port.postMessage(held[0]!.frame, held[0]!.transfer);
      return;
    }
    const transfer: Transferable[] = [];
    for (const h of held) for (const t of h.transfer) if (!transfer.includes(t)) transfer.push(t);
    try {
      this.port.postMessage({ t: 'rets', frames: held.map((h) => h.frame) }, transfer);
    } catch {
      // One answer could not be cloned: send them one by one, so only that one fails (as an error answer).
      for (const h of held) reply(this.port, h.frame as ReturnFrame | ChunkFrame, h.transfer);
    }
  }
}
