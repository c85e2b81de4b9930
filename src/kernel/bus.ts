/**
 * The message bus: agents talk to each other through the kernel, never around
 * it. The kernel stamps the true sender on every message, keeps each process's
 * mailbox bounded (a full one answers EAGAIN, or the sender waits, as it
 * chooses), preserves each sender's order, and checks the channel ACL.
 *   direct:   send(to: pid | name) → recv()
 *   pub/sub:  subscribe(topic), publish(topic) → every subscriber's mailbox
 *   request:  request(to, body) → the receiver's reply(correlation) answers it
 */
import {
  type BusItem,
  isRun,
  itemCount,
  type PackedRun,
  sliceRun,
  unpackItems,
  unpackRun,
} from '../abi/bus-pack';
import { SysError } from '../abi/errors';
import type { Envelope } from '../abi/protocol';
import { byteSize, fmtBytes } from './limits';
import { nextTask } from './next-task';
import { PendingCalls } from './pending';

export type { BusItem, Envelope, PackedRun };

/** Names one process may register, and topics it may subscribe to (each costs the kernel on every send). */
export const MAX_NAMES_PER_PROCESS = 16;
export const MAX_TOPICS_PER_PROCESS = 256;
/** The most messages one mailbox holds. */
export const MAX_MAILBOX_MESSAGES = 1024;
/** The most one message packed by send_many may hold, in characters of JSON (a structured one: payload() in check.ts). */
export const MAX_PACKED_MESSAGE_CHARS = 16 * 1_048_576;

interface Filter {
  from?: number | undefined;
  topic?: string | undefined;
}

/** A packed run has no topic: only a receive without a topic filter takes it. */
const matches = (x: BusItem, f: Filter): boolean =>
  (f.from === undefined || x.from === f.from) &&
  (f.topic === undefined || (!isRun(x) && x.topic === f.topic));

/** A receive waiting for messages: it takes up to `max` matching ones the moment they arrive. */
interface Receiver {
  filter: Filter;
  max: number;
  resolve(items: BusItem[]): void;
}

interface BlockedSender {
  envelope: Envelope;
  resolve(): void;
  reject(e: SysError): void;
  timer: ReturnType<typeof setTimeout> | null;
}

/**
 * What every mailbox together may hold in the kernel (queued and waiting senders' bytes, as
 * limits.ts byteSize counts them). Each mailbox is bounded by its receiver's limits.mailboxBytes,
 * but a tree of 64 agents each with a full mailbox and a full line of waiting senders is 4 GiB:
 * past the kernel's heap. Past this, sends are EAGAIN until receivers drain.
 */
export const KERNEL_HELD_BYTES = 512 * 1_048_576;

/** What the mailboxes of one agent tree hold together, and the most they may (see `limits.tree`). */
export interface TreeGauge {
  bytes: number;
  readonly max: number;
  /** Whose tree it is (the root agent's pid), for the refusal's text. */
  readonly root: number;
}

class Mailbox {
  /** Messages in order: single envelopes, and runs of packed ones (a run counts each of its messages). */
  readonly queue: BusItem[] = [];
  /** Messages queued. */
  count = 0;
  readonly receivers: Receiver[] = [];
  readonly blocked: BlockedSender[] = [];
  private queuedBytes = 0;
  private waitingBytes = 0;
  constructor(
    readonly pid: number,
    public capacity: number,
    /** Every mailbox's bytes together (the bus's), kept as each one changes. */
    private readonly held: { bytes: number },
    /** The mailboxes of its agent tree together (none: the user's, or an unknown pid). */
    readonly tree: TreeGauge | null,
  ) {}
  /** Bytes queued. */
  get bytes(): number {
    return this.queuedBytes;
  }
  set bytes(v: number) {
    this.held.bytes += v - this.queuedBytes;
    if (this.tree) this.tree.bytes += v - this.queuedBytes;
    this.queuedBytes = v;
  }
  /** Bytes held by blocked senders. */
  get blockedBytes(): number {
    return this.waitingBytes;
  }
  set blockedBytes(v: number) {
    this.held.bytes += v - this.waitingBytes;
    if (this.tree) this.tree.bytes += v - this.waitingBytes;
    this.waitingBytes = v;
  }
}

export interface BusStats {
  delivered: number;
  refused: number;
}

export class MessageBus {
  private readonly boxes = new Map<number, Mailbox>();
  /** Bytes every mailbox holds together, and the most it may (KERNEL_HELD_BYTES; lower in tests). */
  readonly held = { bytes: 0 };
  heldLimit = KERNEL_HELD_BYTES;
  private readonly names = new Map<string, number>();
  private readonly topics = new Map<string, Set<number>>();
  /** Requests waiting for their reply, by correlation id, with the process that must answer. */
  private readonly pendingRequests = new PendingCalls<string, Envelope, { from: number }>();
  private seq = 0;
  readonly stats: BusStats = { delivered: 0, refused: 0 };
  /** Each mailbox's byte limit (the receiver's limits.mailboxBytes), and where refusals are recorded. */
  limits: {
    bytes(pid: number): number;
    refused(from: number, text: string): void;
    /** The gauge of the agent tree `pid` belongs to: its mailboxes together are bounded too. */
    tree?(pid: number): TreeGauge | null;
  } = {
    bytes: () => Number.POSITIVE_INFINITY,
    refused: () => {},
  };

  /** Messages a mailbox holds (one full recv_many, so a send_many of the most it may carry fits an empty one); bytes are bounded by limits.mailboxBytes. */
  constructor(private readonly capacity = MAX_MAILBOX_MESSAGES) {}

  /**
   * What each queued or waiting item costs to hold: an envelope's body as limits.ts byteSize
   * counts it (buffers, not views); a packed run, its text (2 bytes a character, as a string).
   */
  private readonly sizes = new WeakMap<BusItem, number>();
  private sizeOf(x: BusItem): number {
    let n = this.sizes.get(x);
    if (n === undefined) {
      n = isRun(x) ? 2 * x.text.length : byteSize(x.body);
      this.sizes.set(x, n);
    }
    return n;
  }

  private box(pid: number): Mailbox {
    let b = this.boxes.get(pid);
    if (!b) {
      b = new Mailbox(pid, this.capacity, this.held, this.limits.tree?.(pid) ?? null);
      this.boxes.set(pid, b);
    }
    return b;
  }

  /** Messages waiting in a process's mailbox. */
  depth(pid: number): number {
    return this.boxes.get(pid)?.count ?? 0;
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

  private refuseFull(
    b: Mailbox,
    from: number,
    size: number,
    maxBytes: number,
    wait: boolean,
    roomToWait: boolean,
  ): SysError {
    this.stats.refused++;
    const full =
      b.count >= b.capacity
        ? `${b.capacity} messages`
        : `${fmtBytes(b.bytes)} of ${fmtBytes(maxBytes)} (limits.mailboxBytes)`;
    const text = `mailbox of process ${b.pid} is full (${full})${wait ? ', and so are the senders waiting on it' : ''}`;
    if (b.bytes + size > maxBytes || !roomToWait) this.limits.refused(from, text);
    return new SysError('EAGAIN', text);
  }

  /** The mailboxes of the receiver's agent tree together are full: EAGAIN (recorded). */
  private treeFull(b: Mailbox, from: number, size: number): SysError {
    const t = b.tree!;
    this.stats.refused++;
    const text = `the mailboxes of process ${t.root}'s tree hold ${fmtBytes(t.bytes)} of undelivered messages, as much as they may together (${fmtBytes(t.max)}: 4 × its limits.mailboxBytes); a message of ${fmtBytes(size)} to process ${b.pid} waits until they read theirs`;
    this.limits.refused(from, text);
    return new SysError('EAGAIN', text);
  }

  /** Every mailbox together is at KERNEL_HELD_BYTES: EAGAIN (recorded), whichever box this one is. */
  private kernelFull(from: number, size: number): SysError {
    this.stats.refused++;
    const text = `the kernel holds ${fmtBytes(this.held.bytes)} of undelivered messages, its limit for all mailboxes together (${fmtBytes(this.heldLimit)}); a message of ${fmtBytes(size)} waits until receivers read theirs`;
    this.limits.refused(from, text);
    return new SysError('EAGAIN', text);
  }

  private tooBig(from: number, to: number, size: number, maxBytes: number): SysError {
    this.stats.refused++;
    const text = `a message of ${fmtBytes(size)} is over the ${fmtBytes(maxBytes)} mailbox of process ${to} (limits.mailboxBytes)`;
    this.limits.refused(from, text);
    return new SysError('E2BIG', text);
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
    if (size > maxBytes) throw this.tooBig(from, to, size, maxBytes);
    if (this.held.bytes + size > this.heldLimit) throw this.kernelFull(from, size);
    if (b.tree && b.tree.bytes + size > b.tree.max) throw this.treeFull(b, from, size);
    // A sender already waiting on this box keeps its place: later sends queue behind it (order per sender).
    if (b.count < b.capacity && b.bytes + size <= maxBytes && !this.waiting(b, from)) {
      this.deliver(b, e);
      return;
    }
    // Waiting senders hold their messages in the kernel too: at most another mailbox's worth.
    const roomToWait = b.blockedBytes + size <= maxBytes;
    if (!opts.wait || !roomToWait) throw this.refuseFull(b, from, size, maxBytes, !!opts.wait, roomToWait);
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

  /** Whether `from` has a send waiting for room in this box (its later sends go behind it). */
  private waiting(b: Mailbox, from: number): boolean {
    if (!b.blocked.length) return false;
    for (const x of b.blocked) if (x.envelope.from === from) return true;
    return false;
  }

  /** Queues an item, then lets waiting receivers take what they match. */
  private deliver(b: Mailbox, x: BusItem): void {
    const n = itemCount(x);
    this.stats.delivered += n;
    b.queue.push(x);
    b.count += n;
    b.bytes += this.sizeOf(x);
    if (b.receivers.length) this.serve(b);
  }

  /** Waiting receivers, oldest first, take the messages they match. */
  private serve(b: Mailbox): void {
    let took = false;
    for (let i = 0; i < b.receivers.length && b.count > 0; ) {
      const r = b.receivers[i]!;
      const items = this.take(b, r.filter, r.max);
      if (items.length) {
        took = true;
        b.receivers.splice(i, 1);
        r.resolve(items);
      } else i++;
    }
    if (took && b.blocked.length) this.admit(b);
  }

  /** Takes up to `max` messages matching `f`, oldest first; a packed run is split where `max` ends. */
  private take(b: Mailbox, f: Filter, max: number): BusItem[] {
    const out: BusItem[] = [];
    if (!b.count) return out;
    let n = 0;
    const q = b.queue;
    if (f.from === undefined && f.topic === undefined) {
      // No filter: whole items from the front in one splice.
      let k = 0;
      while (k < q.length && n + itemCount(q[k]!) <= max) n += itemCount(q[k++]!);
      const whole = q.splice(0, k);
      for (const x of whole) {
        b.bytes -= this.sizeOf(x);
        out.push(x);
      }
      b.count -= n;
      if (n < max && q.length) out.push(this.split(b, 0, max - n));
      return out;
    }
    for (let i = 0; i < q.length && n < max; ) {
      const x = q[i]!;
      if (!matches(x, f)) {
        i++;
        continue;
      }
      const c = itemCount(x);
      if (n + c <= max) {
        q.splice(i, 1);
        b.count -= c;
        b.bytes -= this.sizeOf(x);
        out.push(x);
        n += c;
      } else {
        out.push(this.split(b, i, max - n));
        n = max;
      }
    }
    return out;
  }

  /** Takes the first `k` messages of the run at queue[i] (it holds more); the rest stays in its place. */
  private split(b: Mailbox, i: number, k: number): PackedRun {
    const r = b.queue[i] as PackedRun;
    const head = sliceRun(r, 0, k);
    const rest = sliceRun(r, k, r.ends.length);
    b.queue[i] = rest;
    b.bytes += this.sizeOf(rest) - this.sizeOf(r);
    b.count -= k;
    return head;
  }

  /**
   * Takes up to `max` matching messages, waiting up to `timeoutMs` (0: do not wait) for the
   * first to arrive; a waiting receive takes what arrives at once.
   */
  private wait(
    b: Mailbox,
    f: Filter,
    max: number,
    opts: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<BusItem[]> | BusItem[] {
    const now = this.take(b, f, max);
    if (now.length) {
      if (b.blocked.length) this.admit(b);
      return now;
    }
    if (opts.timeoutMs === 0) throw new SysError('EAGAIN', 'no message');
    return new Promise<BusItem[]>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | null = null;
      const r: Receiver = {
        filter: f,
        max,
        resolve: (items) => {
          if (timer) clearTimeout(timer);
          resolve(items);
        },
      };
      const drop = (err: SysError) => {
        const k = b.receivers.indexOf(r);
        if (k < 0) return; // already served
        b.receivers.splice(k, 1);
        if (timer) clearTimeout(timer);
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

  /** The oldest message (matching the filter), as the kernel holds it: an envelope, or a packed run of one. */
  recvItem(
    pid: number,
    opts: { timeoutMs?: number; from?: number; topic?: string; signal?: AbortSignal } = {},
  ): Promise<BusItem> | BusItem {
    const got = this.wait(this.box(pid), { from: opts.from, topic: opts.topic }, 1, opts);
    return Array.isArray(got) ? got[0]! : got.then((items) => items[0]!);
  }

  /** The oldest message (matching the filter), waiting up to `timeoutMs` (0: do not wait); a packed one decoded (EPROTO if it does not decode). */
  recv(
    pid: number,
    opts: { timeoutMs?: number; from?: number; topic?: string; signal?: AbortSignal } = {},
  ): Promise<Envelope> | Envelope {
    const one = (x: BusItem): Envelope => {
      if (!isRun(x)) return x;
      const { envelopes, error } = unpackRun(x);
      if (error) throw error;
      return envelopes[0]!;
    };
    const got = this.recvItem(pid, opts);
    return got instanceof Promise ? got.then(one) : one(got);
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
   * send_many of a packed batch (abi/bus-pack.ts; its shape already checked): as many of its
   * messages as the mailbox takes, in order, held as one run; the count sent (0: EAGAIN). The
   * kernel counts and sizes each message (2 bytes a character of its JSON) but never parses it.
   */
  sendPacked(from: number, to: number, text: string, ends: readonly number[]): number {
    const b = this.box(to);
    const maxBytes = this.limits.bytes(to);
    const first = 2 * ends[0]!;
    if (first > maxBytes) throw this.tooBig(from, to, first, maxBytes);
    if (ends[0]! > MAX_PACKED_MESSAGE_CHARS) {
      this.stats.refused++;
      throw new SysError(
        'E2BIG',
        `a message of ${fmtBytes(ends[0]!)} of JSON is over the ${fmtBytes(MAX_PACKED_MESSAGE_CHARS)} a bus message may hold`,
      );
    }
    if (this.held.bytes + first > this.heldLimit) throw this.kernelFull(from, first);
    if (b.tree && b.tree.bytes + first > b.tree.max) throw this.treeFull(b, from, first);
    // As many as fit, by count and by bytes (the run's text up to the last one taken); one too
    // big ends the batch here (it is refused when it comes first).
    let k = 0;
    if (!this.waiting(b, from)) {
      const room = b.capacity - b.count;
      while (
        k < ends.length &&
        k < room &&
        b.bytes + 2 * ends[k]! <= maxBytes &&
        this.held.bytes + 2 * ends[k]! <= this.heldLimit &&
        (!b.tree || b.tree.bytes + 2 * ends[k]! <= b.tree.max) &&
        ends[k]! - (k ? ends[k - 1]! + 1 : 0) <= MAX_PACKED_MESSAGE_CHARS
      )
        k++;
    }
    if (k === 0) throw this.refuseFull(b, from, first, maxBytes, false, true);
    const run: PackedRun = {
      packed: 1,
      seq: this.seq + 1,
      from,
      to,
      t: Date.now(),
      text,
      ends: ends as number[],
    };
    this.seq += k;
    this.deliver(b, k < ends.length ? sliceRun(run, 0, k) : run);
    return k;
  }

  /**
   * Waits like `recv` for the first message, then takes up to `max` in all without waiting.
   * A receiver woken by a lone message lets the messages already on their way to the kernel (the
   * sender's next frames, queued behind this task) join it first: one answer carries them all,
   * rather than one answer per message. A batch (send_many) is answered at once. Packed runs
   * come as the kernel holds them (split where `max` ends).
   */
  async recvItems(
    pid: number,
    max: number,
    opts: { timeoutMs?: number; from?: number; topic?: string; signal?: AbortSignal } = {},
  ): Promise<BusItem[]> {
    const b = this.box(pid);
    const f: Filter = { from: opts.from, topic: opts.topic };
    const woken = b.count === 0;
    const out = await this.wait(b, f, max, opts);
    let n = 0;
    for (const x of out) n += itemCount(x);
    if (n >= max) return out;
    // Woken by a lone message (nothing came with it): give the ones right behind it a task to arrive.
    if (woken && n === 1 && b.count === 0) await nextTask();
    // Then what is there, letting waiting senders in as room is made, up to max.
    while (n < max && b.count > 0) {
      const more = this.take(b, f, max - n);
      if (!more.length) break;
      for (const x of more) {
        out.push(x);
        n += itemCount(x);
      }
      if (b.blocked.length) this.admit(b);
    }
    return out;
  }

  /** recvItems as envelopes (packed runs decoded; EPROTO if none of them decodes). */
  async recvMany(
    pid: number,
    max: number,
    opts: { timeoutMs?: number; from?: number; topic?: string; signal?: AbortSignal } = {},
  ): Promise<Envelope[]> {
    const { envelopes, error } = unpackItems(await this.recvItems(pid, max, opts));
    if (error && !envelopes.length) throw error;
    return envelopes;
  }

  private admitting = false;

  /** Room was made: let waiting senders in, oldest first (not re-entered: a receiver served on the way makes more room for this loop). */
  private admit(b: Mailbox): void {
    if (this.admitting) return;
    this.admitting = true;
    try {
      const maxBytes = b.blocked.length ? this.limits.bytes(b.pid) : 0;
      while (
        b.blocked.length &&
        b.count < b.capacity &&
        b.bytes + this.sizeOf(b.blocked[0]!.envelope) <= maxBytes
      ) {
        const s = b.blocked.shift()!;
        b.blockedBytes -= this.sizeOf(s.envelope);
        if (s.timer) clearTimeout(s.timer);
        this.deliver(b, s.envelope);
        s.resolve();
      }
    } finally {
      this.admitting = false;
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
  putBack(pid: number, items: BusItem[]): void {
    if (!items.length) return;
    const b = this.box(pid);
    b.queue.unshift(...items);
    // They count against its mailbox again (a put-back is never refused: it was delivered once).
    for (const x of items) {
      b.count += itemCount(x);
      b.bytes += this.sizeOf(x);
    }
    // A receiver already waiting (the new life's first recv) gets the oldest.
    if (b.receivers.length) this.serve(b);
  }

  /** A process exited: its mailbox, names and subscriptions go; those waiting on it learn why. */
  exit(pid: number): void {
    const b = this.boxes.get(pid);
    if (b) {
      for (const s of b.blocked) {
        if (s.timer) clearTimeout(s.timer);
        s.reject(new SysError('ESRCH', `process ${pid} exited`));
      }
      b.bytes = 0;
      b.blockedBytes = 0;
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
