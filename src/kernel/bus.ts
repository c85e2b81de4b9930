/**
 * The message bus: agents talk to each other through the kernel, never around
 * it. The kernel stamps the true sender on every message, keeps each process's
 * mailbox bounded (a full one answers EAGAIN, or the sender waits, as it
 * chooses), preserves each sender's order, and checks the channel ACL.
 *   direct:   send(to: pid | name) → recv()
 *   pub/sub:  subscribe(topic), publish(topic) → every subscriber's mailbox
 *   request:  request(to, body) → the receiver's reply(correlation) answers it
 */
import { SysError } from '../abi/errors';
import type { Envelope } from '../abi/protocol';
import { byteSize, fmtBytes } from './limits';
import { nextTask } from './next-task';
import { PendingCalls } from './pending';

export type { Envelope };

/** Names one process may register, and topics it may subscribe to (each costs the kernel on every send). */
export const MAX_NAMES_PER_PROCESS = 16;
export const MAX_TOPICS_PER_PROCESS = 256;

interface Receiver {
  match(e: Envelope): boolean;
  resolve(e: Envelope): void;
}

interface BlockedSender {
  envelope: Envelope;
  resolve(): void;
  reject(e: SysError): void;
  timer: ReturnType<typeof setTimeout> | null;
}

class Mailbox {
  readonly queue: Envelope[] = [];
  readonly receivers: Receiver[] = [];
  readonly blocked: BlockedSender[] = [];
  /** Bytes queued, and bytes held by blocked senders. */
  bytes = 0;
  blockedBytes = 0;
  constructor(public capacity: number) {}
}

export interface BusStats {
  delivered: number;
  refused: number;
}

export class MessageBus {
  private readonly boxes = new Map<number, Mailbox>();
  private readonly names = new Map<string, number>();
  private readonly topics = new Map<string, Set<number>>();
  /** Requests waiting for their reply, by correlation id, with the process that must answer. */
  private readonly pendingRequests = new PendingCalls<string, Envelope, { from: number }>();
  private seq = 0;
  readonly stats: BusStats = { delivered: 0, refused: 0 };
  /** Each mailbox's byte limit (the receiver's limits.mailboxBytes), and where refusals are recorded. */
  limits: { bytes(pid: number): number; refused(from: number, text: string): void } = {
    bytes: () => Number.POSITIVE_INFINITY,
    refused: () => {},
  };

  constructor(private readonly capacity = 256) {}

  /** What each queued or waiting message costs to hold (limits.ts byteSize: buffers, not views). */
  private readonly sizes = new WeakMap<Envelope, number>();
  private sizeOf(e: Envelope): number {
    return this.sizes.get(e) ?? 0;
  }

  private box(pid: number): Mailbox {
    let b = this.boxes.get(pid);
    if (!b) {
      b = new Mailbox(this.capacity);
      this.boxes.set(pid, b);
    }
    return b;
  }

  depth(pid: number): number {
    return this.boxes.get(pid)?.queue.length ?? 0;
  }

  register(pid: number, name: string): void {
    const owner = this.names.get(name);
    if (owner !== undefined && owner !== pid)
      throw new SysError('EAGAIN', `the name "${name}" belongs to process ${owner}`);
    // Names cost the kernel on every send (nameOf): an agent with bus '*' may not take thousands.
    if (owner === undefined && this.nameOf(pid).length >= MAX_NAMES_PER_PROCESS)
      throw new SysError('EAGAIN', `a process may hold at most ${MAX_NAMES_PER_PROCESS} names`);
    this.names.set(name, pid);
  }

  resolve(to: number | string): number {
    if (typeof to === 'number') return to;
    const pid = this.names.get(to);
    if (pid === undefined) throw new SysError('ENOENT', `no process is registered as "${to}"`);
    return pid;
  }

  nameOf(pid: number): string[] {
    return [...this.names].filter(([, p]) => p === pid).map(([n]) => n);
  }

  /** Puts a message in `to`'s mailbox. Full: EAGAIN, or with `wait`, resolves once there is room. */
  send(
    from: number,
    to: number,
    body: unknown,
    opts: { wait?: boolean; timeoutMs?: number; topic?: string | null; correlation?: string | null } = {},
  ): Promise<void> | void {
    const e: Envelope = {
      seq: ++this.seq,
      from,
      to,
      topic: opts.topic ?? null,
      body,
      correlation: opts.correlation ?? null,
      inReplyTo: null,
      t: Date.now(),
    };
    const b = this.box(to);
    const size = byteSize(body);
    this.sizes.set(e, size);
    const maxBytes = this.limits.bytes(to);
    if (size > maxBytes) {
      this.stats.refused++;
      const text = `a message of ${fmtBytes(size)} is over the ${fmtBytes(maxBytes)} mailbox of process ${to} (limits.mailboxBytes)`;
      this.limits.refused(from, text);
      throw new SysError('E2BIG', text);
    }
    // A sender already waiting on this box keeps its place: later sends queue behind it (order per sender).
    if (
      b.queue.length < b.capacity &&
      b.bytes + size <= maxBytes &&
      !b.blocked.some((x) => x.envelope.from === from)
    ) {
      this.deliver(b, e);
      return;
    }
    // Waiting senders hold their messages in the kernel too: at most another mailbox's worth.
    const roomToWait = b.blockedBytes + size <= maxBytes;
    if (!opts.wait || !roomToWait) {
      this.stats.refused++;
      const full =
        b.queue.length >= b.capacity
          ? `${b.capacity} messages`
          : `${fmtBytes(b.bytes)} of ${fmtBytes(maxBytes)} (limits.mailboxBytes)`;
      const text = `mailbox of process ${to} is full (${full})${opts.wait ? ', and so are the senders waiting on it' : ''}`;
      if (b.bytes + size > maxBytes || !roomToWait) this.limits.refused(from, text);
      throw new SysError('EAGAIN', text);
    }
    b.blockedBytes += size;
    return new Promise<void>((resolve, reject) => {
      const s: BlockedSender = { envelope: e, resolve, reject, timer: null };
      if (opts.timeoutMs !== undefined) {
        s.timer = setTimeout(() => {
          b.blocked.splice(b.blocked.indexOf(s), 1);
          b.blockedBytes -= this.sizeOf(e);
          reject(new SysError('ETIMEDOUT', `mailbox of process ${to} stayed full for ${opts.timeoutMs} ms`));
        }, opts.timeoutMs);
      }
      b.blocked.push(s);
    });
  }

  private deliver(b: Mailbox, e: Envelope): void {
    this.stats.delivered++;
    const i = b.receivers.findIndex((r) => r.match(e));
    if (i >= 0) {
      const [r] = b.receivers.splice(i, 1);
      r!.resolve(e);
    } else {
      b.queue.push(e);
      b.bytes += this.sizeOf(e);
    }
  }

  /** The oldest message (matching the filter), waiting up to `timeoutMs` (0: do not wait). */
  recv(
    pid: number,
    opts: { timeoutMs?: number; from?: number; topic?: string; signal?: AbortSignal } = {},
  ): Promise<Envelope> | Envelope {
    const b = this.box(pid);
    const match = (e: Envelope) =>
      (opts.from === undefined || e.from === opts.from) &&
      (opts.topic === undefined || e.topic === opts.topic);
    const i = b.queue.findIndex(match);
    if (i >= 0) {
      const [e] = b.queue.splice(i, 1);
      b.bytes -= this.sizeOf(e!);
      this.admit(b);
      return e!;
    }
    if (opts.timeoutMs === 0) throw new SysError('EAGAIN', 'no message');
    return new Promise<Envelope>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | null = null;
      const r: Receiver = {
        match,
        resolve: (e) => {
          if (timer) clearTimeout(timer);
          resolve(e);
        },
      };
      const drop = (err: SysError) => {
        const k = b.receivers.indexOf(r);
        if (k >= 0) b.receivers.splice(k, 1);
        reject(err);
      };
      if (opts.timeoutMs !== undefined)
        timer = setTimeout(
          () => drop(new SysError('ETIMEDOUT', `no message within ${opts.timeoutMs} ms`)),
          opts.timeoutMs,
        );
      opts.signal?.addEventListener('abort', () => drop(new SysError('ECANCELED', 'recv canceled')), {
        once: true,
      });
      b.receivers.push(r);
    });
  }

  /** Sends in order as many of `bodies` as the mailbox takes; the count sent (0: EAGAIN). One call for many messages. */
  sendMany(from: number, to: number, bodies: unknown[]): number {
    if (!bodies.length) throw new SysError('EINVAL', 'no messages to send');
    let n = 0;
    for (const body of bodies) {
      try {
        this.send(from, to, body);
      } catch (e) {
        if (n === 0) throw e;
        break;
      }
      n++;
    }
    return n;
  }

  /**
   * Waits like `recv` for the first message, then takes up to `max` in all without waiting.
   * A receiver woken by a lone message lets the messages already on their way to the kernel (the
   * sender's next frames, queued behind this task) join it first: one answer carries them all,
   * rather than one answer per message. A batch (send_many) is answered at once.
   */
  async recvMany(
    pid: number,
    max: number,
    opts: { timeoutMs?: number; from?: number; topic?: string; signal?: AbortSignal } = {},
  ): Promise<Envelope[]> {
    const b = this.box(pid);
    const woken = b.queue.length === 0;
    const out = [await this.recv(pid, opts)];
    if (max === 1) return out;
    // Woken by a lone message (nothing came with it): give the ones right behind it a task to arrive.
    if (woken && b.queue.length === 0) await nextTask();
    if (opts.from === undefined && opts.topic === undefined) {
      // No filter: the oldest ones, in one splice, and waiting senders let in once.
      const taken = b.queue.splice(0, Math.min(max - 1, b.queue.length));
      for (const e of taken) b.bytes -= this.sizeOf(e);
      out.push(...taken);
      this.admit(b);
      // Senders let in may have filled it again: take those too, up to max.
      while (out.length < max && b.queue.length) {
        const more = b.queue.splice(0, Math.min(max - out.length, b.queue.length));
        for (const e of more) b.bytes -= this.sizeOf(e);
        out.push(...more);
        this.admit(b);
      }
      return out;
    }
    const rest = { ...opts, timeoutMs: 0 };
    while (out.length < max && this.depth(pid) > 0) {
      try {
        out.push(this.recv(pid, rest) as Envelope);
      } catch {
        break; // what is left does not match the filter
      }
    }
    return out;
  }

  /** Room was made: let waiting senders in, oldest first. */
  private admit(b: Mailbox): void {
    const maxBytes = b.blocked.length ? this.limits.bytes(b.blocked[0]!.envelope.to) : 0;
    while (
      b.blocked.length &&
      b.queue.length < b.capacity &&
      b.bytes + this.sizeOf(b.blocked[0]!.envelope) <= maxBytes
    ) {
      const s = b.blocked.shift()!;
      b.blockedBytes -= this.sizeOf(s.envelope);
      if (s.timer) clearTimeout(s.timer);
      this.deliver(b, s.envelope);
      s.resolve();
    }
  }

  subscribe(pid: number, topic: string): void {
    let s = this.topics.get(topic);
    if (!s?.has(pid) && this.topicsOf(pid).length >= MAX_TOPICS_PER_PROCESS)
      throw new SysError('EAGAIN', `a process may subscribe to at most ${MAX_TOPICS_PER_PROCESS} topics`);
    if (!s) {
      s = new Set();
      this.topics.set(topic, s);
    }
    s.add(pid);
  }

  unsubscribe(pid: number, topic: string): void {
    const s = this.topics.get(topic);
    s?.delete(pid);
    if (s?.size === 0) this.topics.delete(topic); // subscribe/unsubscribe over many topics leaves nothing behind
  }

  topicsOf(pid: number): string[] {
    return [...this.topics].filter(([, s]) => s.has(pid)).map(([t]) => t);
  }

  /** Delivers to every subscriber with room; a full mailbox misses this message (counted, never blocks the publisher). */
  publish(from: number, topic: string, body: unknown): { delivered: number; dropped: number } {
    let delivered = 0;
    let dropped = 0;
    for (const pid of this.topics.get(topic) ?? []) {
      if (pid === from) continue;
      try {
        void this.send(from, pid, body, { topic });
        delivered++;
      } catch {
        dropped++;
      }
    }
    return { delivered, dropped };
  }

  /** Sends a request and resolves with the reply (ETIMEDOUT, or ESRCH if the receiver exits first). */
  request(
    from: number,
    to: number,
    body: unknown,
    timeoutMs: number,
    topic: string | null = null,
  ): Promise<Envelope> {
    const correlation = `${from}:${++this.seq}`;
    const reply = this.pendingRequests.wait(
      correlation,
      { from: to },
      timeoutMs,
      () => `no reply from process ${to} within ${timeoutMs} ms`,
    );
    try {
      void this.send(from, to, body, { correlation, topic });
    } catch (err) {
      this.pendingRequests.reject(correlation, SysError.from(err));
    }
    return reply;
  }

  /** Answers a request; only the process the request was sent to may. */
  reply(from: number, correlation: string, body: unknown): void {
    const p = this.pendingRequests.meta(correlation);
    if (!p)
      throw new SysError(
        'ENOENT',
        `no pending request "${correlation}" (answered, timed out, or never made)`,
      );
    if (p.from !== from)
      throw new SysError('EPERM', `request "${correlation}" was not sent to process ${from}`);
    this.pendingRequests.resolve(correlation, {
      seq: ++this.seq,
      from,
      to: Number(correlation.split(':')[0]),
      topic: null,
      body,
      correlation: null,
      inReplyTo: correlation,
      t: Date.now(),
    });
  }

  /**
   * Puts messages a process had received back at the front of its mailbox, in
   * their order (it moved to another tab before it checkpointed them). They are
   * not counted against the capacity: they were admitted once already.
   */
  putBack(pid: number, es: Envelope[]): void {
    if (!es.length) return;
    const b = this.box(pid);
    const rest = [...es];
    // A receiver already waiting (the new life's first recv) gets the oldest.
    while (rest.length) {
      const i = b.receivers.findIndex((r) => r.match(rest[0]!));
      if (i < 0) break;
      const [r] = b.receivers.splice(i, 1);
      r!.resolve(rest.shift()!);
    }
    b.queue.unshift(...rest);
    // They count against its mailbox bytes again (a put-back is never refused: it was delivered once).
    for (const e of rest) {
      if (!this.sizes.has(e)) this.sizes.set(e, byteSize(e.body));
      b.bytes += this.sizeOf(e);
    }
  }

  /** A process exited: its mailbox, names and subscriptions go; those waiting on it learn why. */
  exit(pid: number): void {
    const b = this.boxes.get(pid);
    if (b) {
      for (const s of b.blocked) {
        if (s.timer) clearTimeout(s.timer);
        s.reject(new SysError('ESRCH', `process ${pid} exited`));
      }
      this.boxes.delete(pid);
    }
    for (const [n, p] of this.names) if (p === pid) this.names.delete(n);
    for (const [t, s] of this.topics) if (s.delete(pid) && s.size === 0) this.topics.delete(t);
    this.pendingRequests.rejectWhere(
      (r) => r.from === pid,
      () => new SysError('ESRCH', `process ${pid} exited before replying`),
    );
  }
}
