/** Bus syscalls: who may reach whom (the family, registered names, topics), checked before anything is sent. */
import { type BusItem, isRun, runShapeError, unpackItems } from '../../abi/bus-pack';
import { SysError } from '../../abi/errors';
import type { Envelope } from '../../abi/protocol';
import { Transfer } from '../../abi/transfer';
import { busAllows } from '../access-control';
import { hasBinary, transferables } from '../check';
import type { Caller, CallIO } from '../dispatch';
import type { Kernel } from '../kernel';

/** Whether `c` may send to process `to` on the bus (EPERM, logged, if not). */
export function checkTarget(k: Kernel, c: Caller, to: number): void {
  if (!k.procs.find(to)?.alive) throw new SysError('ESRCH', `no process ${to}`);
  const caps = c.caps;
  if (busAllows(caps, '*')) return;
  const family =
    caps.bus.includes('family') &&
    (k.procs.find(to)?.info.ppid === c.pid || (c.kind === 'agent' && c.proc.info.ppid === to));
  const named = k.bus.nameOf(to).some((n) => busAllows(caps, `name:${n}`));
  if (family || named) return;
  k.log(c.pid, 'deny', `bus message to process ${to} denied`);
  throw new SysError('EPERM', `no bus channel to process ${to} (grant 'family', 'name:<its name>' or '*')`);
}

export function checkChannel(k: Kernel, c: Caller, channel: string): void {
  if (busAllows(c.caps, channel)) return;
  k.log(c.pid, 'deny', `bus channel ${channel} denied`);
  throw new SysError('EPERM', `no bus channel "${channel}"`);
}

export function send(
  k: Kernel,
  c: Caller,
  a: { to: number | string; body: unknown; wait?: boolean; timeoutMs?: number },
) {
  const to = k.bus.resolve(a.to);
  checkTarget(k, c, to);
  const sent = k.bus.send(c.pid, to, a.body, {
    ...(a.wait ? { wait: true } : {}),
    ...(a.timeoutMs !== undefined ? { timeoutMs: a.timeoutMs } : {}),
  });
  return sent ? sent.then(() => null) : null;
}

/**
 * send_many: structured `bodies` (each checked by the table's payload check), or a batch the SDK
 * packed (`text` and `ends`, abi/bus-pack.ts): its shape, count and sizes are checked here once,
 * and its text is forwarded as it came; the receiver decodes it and refuses what does not decode.
 */
export function sendMany(
  k: Kernel,
  c: Caller,
  a: { to: number | string; bodies?: unknown[]; text?: string; ends?: number[] },
) {
  const packed = a.text !== undefined || a.ends !== undefined;
  if (packed === (a.bodies !== undefined))
    throw new SysError('EINVAL', 'send_many takes either bodies, or a packed text with its ends');
  const to = k.bus.resolve(a.to);
  checkTarget(k, c, to);
  if (!packed) return { sent: k.bus.sendMany(c.pid, to, a.bodies!) };
  const text = a.text ?? '';
  const ends = a.ends ?? [];
  const wrong = runShapeError(text, ends, MAX_BATCH);
  if (wrong) throw new SysError('EINVAL', `packed batch: ${wrong}`);
  return { sent: k.bus.sendPacked(c.pid, to, text, ends) };
}

/** The most messages one send_many or recv_many carries. */
export const MAX_BATCH = 1024;

type RecvFilter = { timeoutMs?: number; from?: number; topic?: string; packed?: boolean };

/** Binary parts of envelopes move on to the receiver rather than being copied (a packed run has none). */
function moved(items: readonly BusItem[]): ArrayBuffer[] {
  // Most messages carry no binary part: look for one without allocating, gather only if there is.
  const out: ArrayBuffer[] = [];
  for (const x of items) if (!isRun(x) && hasBinary(x.body)) transferables(x.body, out);
  return out;
}

/**
 * A receiver that says it unpacks (`packed`, the SDK) gets packed runs as the kernel holds them;
 * any other gets envelopes, decoded here (what does not decode is dropped: EPROTO if nothing is left).
 */
function answer(k: Kernel, c: Caller, items: BusItem[], packed: boolean, one: boolean) {
  if (packed) return new Transfer(one ? items[0] : items, moved(items));
  const { envelopes, error } = unpackItems(items);
  if (error) k.log(c.pid, 'deny', error.message);
  if (!envelopes.length) throw error ?? new SysError('EIO', 'no message');
  const out: Envelope | Envelope[] = one ? envelopes[0]! : envelopes;
  return new Transfer(out, moved(envelopes));
}

/** The oldest message; binary parts move on to the receiver rather than being copied. */
export async function recv(k: Kernel, c: Caller, a: RecvFilter, io: CallIO) {
  const { packed, ...opts } = a;
  const x = await k.bus.recvItem(c.pid, { ...opts, signal: io.signal });
  k.durable.delivered(c, [x]); // durable: kept until its next checkpoint, put back if it moves first
  return answer(k, c, [x], !!packed, true);
}

export async function recvMany(k: Kernel, c: Caller, a: RecvFilter & { max: number }, io: CallIO) {
  const { max, packed, ...opts } = a;
  const items = await k.bus.recvItems(c.pid, max, { ...opts, signal: io.signal });
  k.durable.delivered(c, items); // durable: kept until its next checkpoint, put back if it moves first
  return answer(k, c, items, !!packed, false);
}

export async function request(
  k: Kernel,
  c: Caller,
  a: { to: number | string; body: unknown; timeoutMs?: number },
) {
  const to = k.bus.resolve(a.to);
  checkTarget(k, c, to);
  const e = await k.bus.request(c.pid, to, a.body, a.timeoutMs ?? 30_000);
  return new Transfer(e, transferables(e.body));
}

/** Registers the caller under a name others can send to (the name must be among its bus channels). */
export function register(k: Kernel, c: Caller, name: string): null {
  checkChannel(k, c, `name:${name}`);
  k.bus.register(c.pid, name);
  return null;
}

export function subscribe(k: Kernel, c: Caller, topic: string): null {
  checkChannel(k, c, `topic:${topic}`);
  k.bus.subscribe(c.pid, topic);
  return null;
}

export function unsubscribe(k: Kernel, c: Caller, topic: string): null {
  k.bus.unsubscribe(c.pid, topic);
  return null;
}

export function publish(k: Kernel, c: Caller, topic: string, body: unknown) {
  checkChannel(k, c, `topic:${topic}`);
  return k.bus.publish(c.pid, topic, body);
}

/** Answers a request sent to the caller. */
export function reply(k: Kernel, c: Caller, correlation: string, body: unknown): null {
  k.bus.reply(c.pid, correlation, body);
  return null;
}
