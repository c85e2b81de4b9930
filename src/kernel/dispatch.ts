/**
 * Dispatch: every syscall, from a port (`call`) or from inside the kernel on a
 * caller's behalf (`invoke`, what the kernel's tools use), goes through the one
 * `authorise` step — the name looked up in the frozen table, who may call it,
 * its arguments checked, the capability held — so a tool never gives an agent
 * more than the syscall itself would.
 */
import type { Capabilities, CapName } from '../abi/capabilities';
import { SysError } from '../abi/errors';
import type { CallFrame, ReturnFrame } from '../abi/protocol';
import { Transfer } from '../abi/transfer';
import { holds } from './access-control';
import type { Check } from './check';
import { type Counters, type Endpoint, internalError, reply } from './ports';
import type { Process } from './process';
import type { Tab } from './tabs';

/** Who is calling: known from the port the call came on, never from the message. */
export type Caller =
  | { kind: 'user'; pid: 0; caps: Capabilities; tab: Tab }
  | { kind: 'agent'; pid: number; caps: Capabilities; proc: Process };

export interface CallIO {
  /** Sends one chunk of a streaming answer. */
  emit(chunk: unknown): void;
  /** Aborted when the caller cancels, exits or loses its tab. */
  signal: AbortSignal;
}

/** One entry of the syscall table; K is the kernel the handler acts on. */
export interface Syscall<K, A = unknown, R = unknown> {
  /** Validates and types the untrusted arguments; throws EINVAL/E2BIG. */
  check: Check<A>;
  /** The capability the caller must hold; null when every process may call it. */
  cap: CapName | null;
  /** Who may call it at all: agents, the user's tabs, or both. */
  who: 'any' | 'agent' | 'user';
  /** Blocking calls mark an agent 'waiting' while they are in flight. */
  blocking?: boolean;
  /** A synchronous call whose success a `quiet` frame does not want answered (stdout writes). */
  quiet?: boolean;
  handler: (k: K, caller: Caller, args: A, io: CallIO) => R | Promise<R>;
  doc: string;
}

export type SyscallTable<K> = Readonly<Record<string, Syscall<K>>>;

export interface DispatchHooks {
  /** An agent's blocking-call count changed: its state may move between running and waiting. */
  settle(p: Process): void;
  /** An agent's call, admitted by the limiter when its frame arrived, was answered. */
  callDone(p: Process): void;
}

export class Dispatcher<K> {
  constructor(
    private readonly kernel: K,
    private readonly table: SyscallTable<K>,
    private readonly counters: Counters,
    private readonly hooks: DispatchHooks,
  ) {}

  /** The table entry for `name` (own properties only: `__proto__` or `toString` are no syscalls). */
  lookup(name: string): Syscall<K> {
    const s = Object.hasOwn(this.table, name) ? this.table[name] : undefined;
    if (!s) throw new SysError('ENOSYS', `no syscall "${name.slice(0, 64)}"`);
    return s;
  }

  /** The one authorisation step: the entry exists, the caller is of the right kind, the arguments check, the capability is held. */
  authorise(caller: Caller, name: string, rawArgs: unknown): { entry: Syscall<K>; args: unknown } {
    const entry = this.lookup(name);
    if (entry.who !== 'any' && entry.who !== caller.kind) {
      throw new SysError(
        'EPERM',
        `${name} is for ${entry.who === 'user' ? "the user's tabs" : 'agents'} only`,
      );
    }
    const args = entry.check(rawArgs, '');
    if (entry.cap && !holds(caller.caps, entry.cap)) {
      throw new SysError('EPERM', `${name} needs the "${entry.cap}" capability`);
    }
    return { entry, args };
  }

  /** A call frame from a port: answered on that port (chunks, then one ret). */
  call(caller: Caller, frame: CallFrame, port: Endpoint, streams: Map<number, AbortController>): void {
    this.counters.calls++;
    const { id } = frame;
    let blocking = false;
    let quiet = false;
    const finish = (ret: ReturnFrame, transfer: Transferable[] = []) => {
      streams.delete(id);
      if (caller.kind === 'agent') this.hooks.callDone(caller.proc);
      if (blocking && caller.kind === 'agent') {
        caller.proc.blocking--;
        this.hooks.settle(caller.proc);
      }
      if (quiet && ret.ok) return; // the caller asked to hear only of a failure
      reply(port, ret, transfer);
    };
    try {
      const { entry, args } = this.authorise(caller, frame.name, frame.args);
      quiet = frame.quiet === true && entry.quiet === true;
      // The controller is made when a handler first looks at the signal (most calls never do).
      let ctl: AbortController | null = null;
      const io: CallIO = {
        emit: (value) => reply(port, { t: 'chunk', id, value }),
        get signal() {
          ctl ??= new AbortController();
          return ctl.signal;
        },
      };
      // Calls in `streams` can be cancelled (by the caller, its exit, or its tab's loss).
      if (entry.blocking || frame.name === 'llm.chat') {
        ctl = new AbortController();
        streams.set(id, ctl);
      }
      if (entry.blocking && caller.kind === 'agent') {
        blocking = true;
        caller.proc.blocking++;
        this.hooks.settle(caller.proc);
      }
      const result = entry.handler(this.kernel, caller, args, io);
      if (isThenable(result)) {
        result.then(
          (v) => finish(...okFrame(id, v)),
          (e: unknown) => finish(this.errFrame(id, e)),
        );
      } else {
        finish(...okFrame(id, result));
      }
    } catch (e) {
      finish(this.errFrame(id, e));
    }
  }

  /** Runs a syscall for `caller` inside the kernel, through the same authorise step as a call from its port. */
  async invoke(caller: Caller, name: string, rawArgs: unknown, signal?: AbortSignal): Promise<unknown> {
    const { entry, args } = this.authorise(caller, name, rawArgs);
    const v = await entry.handler(this.kernel, caller, args, {
      emit: () => {},
      signal: signal ?? new AbortController().signal,
    });
    return v instanceof Transfer ? v.value : v;
  }

  private errFrame(id: number, e: unknown): ReturnFrame {
    if (!(e instanceof SysError)) internalError(this.counters, e);
    else this.counters.errors++;
    return { t: 'ret', id, ok: false, error: SysError.from(e).toJSON() };
  }
}

function okFrame(id: number, v: unknown): [ReturnFrame, Transferable[]] {
  if (v instanceof Transfer) return [{ t: 'ret', id, ok: true, value: v.value }, v.transfer];
  return [{ t: 'ret', id, ok: true, value: v === undefined ? null : v }, []];
}

function isThenable(v: unknown): v is Promise<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
