/**
 * The SDK's side of the bus (abi/bus-pack.ts): send_many packs its bodies into one text when a
 * JSON text carries them exactly, and receives unpack the packed runs the kernel forwards, so a
 * program gets the same envelopes either way. Messages a hostile sender packed wrong are dropped:
 * the receive that meets them throws EPROTO, or, when it also got good messages, returns those
 * and the next receive throws it (no good message is lost, and the program hears of it once).
 */
import { type BusItem, pack, unpackItems } from '../abi/bus-pack';
import type { SysError } from '../abi/errors';
import type { Envelope } from '../abi/protocol';

interface Caller {
  call<T = unknown>(name: string, args?: unknown): Promise<T>;
}

type RecvOpts = { timeoutMs?: number; from?: number; topic?: string };

/** Drops undefined fields: the kernel's checks refuse unknown keys but allow absent ones. */
function clean<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

export class BusClient {
  /** What the last receive dropped, thrown by the next one. */
  private dropped: SysError | null = null;

  constructor(private readonly sys: Caller) {}

  sendMany(to: number | string, bodies: unknown[]): Promise<number> {
    const p = Array.isArray(bodies) && bodies.length ? pack(bodies) : null;
    const args = p ? { to, text: p.text, ends: p.ends } : { to, bodies };
    return this.sys.call<{ sent: number }>('bus.send_many', args).then((r) => r.sent);
  }

  async recv(opts: RecvOpts = {}): Promise<Envelope> {
    this.reportDropped();
    const x = await this.sys.call<BusItem>('bus.recv', clean({ ...opts, packed: true }));
    return this.unpack([x])[0]!;
  }

  async recvMany(opts: RecvOpts & { max: number }): Promise<Envelope[]> {
    this.reportDropped();
    return this.unpack(await this.sys.call<BusItem[]>('bus.recv_many', clean({ ...opts, packed: true })));
  }

  private reportDropped(): void {
    const e = this.dropped;
    if (!e) return;
    this.dropped = null;
    throw e;
  }

  private unpack(items: BusItem[]): Envelope[] {
    const { envelopes, error } = unpackItems(items);
    if (error) {
      if (!envelopes.length) throw error;
      this.dropped = error;
    }
    return envelopes;
  }
}
