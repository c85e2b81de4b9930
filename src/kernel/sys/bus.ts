/** Bus syscalls: who may reach whom (the family, registered names, topics), checked before anything is sent. */
import { SysError } from '../../abi/errors';
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

export function sendMany(k: Kernel, c: Caller, a: { to: number | string; bodies: unknown[] }) {
  const to = k.bus.resolve(a.to);
  checkTarget(k, c, to);
  return { sent: k.bus.sendMany(c.pid, to, a.bodies) };
}

type RecvFilter = { timeoutMs?: number; from?: number; topic?: string };

/** The oldest message; binary parts move on to the receiver rather than being copied. */
export async function recv(k: Kernel, c: Caller, a: RecvFilter, io: CallIO) {
  const e = await k.bus.recv(c.pid, { ...a, signal: io.signal });
  k.durable.delivered(c, [e]); // durable: kept until its next checkpoint, put back if it moves first
  // Binary parts move on to the receiver rather than being copied.
  return new Transfer(e, transferables(e.body));
}

export async function recvMany(k: Kernel, c: Caller, a: RecvFilter & { max: number }, io: CallIO) {
  const { max, ...opts } = a;
  const es = await k.bus.recvMany(c.pid, max, { ...opts, signal: io.signal });
  k.durable.delivered(c, es); // durable: kept until its next checkpoint, put back if it moves first
  // Most messages carry no binary part: look for one without allocating, gather only if there is.
  const out: ArrayBuffer[] = [];
  for (const e of es) if (hasBinary(e.body)) transferables(e.body, out);
  return new Transfer(es, out);
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
