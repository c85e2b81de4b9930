/** Process syscalls whose bodies are more than a line: ps. */
import type { Answer, ProcInfo } from '../../abi/protocol';
import type { Caller } from '../dispatch';
import type { Kernel } from '../kernel';
import type { Process } from '../process';

/** The processes the caller may see, with their mailbox depth and context reserved. */
export function ps(k: Kernel, c: Caller): ProcInfo[] {
  const reserved = new Map<number, number>();
  for (const m of k.pool.catalog())
    if (m.loaded)
      for (const r of k.pool.reservations(m.id)) reserved.set(r.pid, (reserved.get(r.pid) ?? 0) + r.tokens);
  return k.procs
    .all()
    .filter((p) => k.life.canSee(c, p))
    .map((p) => ({ ...p.info, mailbox: k.bus.depth(p.pid), contextReserved: reserved.get(p.pid) ?? 0 }));
}

/** The kernel's counters. */
export function stats(k: Kernel) {
  return {
    uptimeMs: Date.now() - k.bootedAt,
    tabs: k.tabs.size,
    processes: k.procs.all().filter((p) => p.alive).length,
    startQueue: k.life.queued,
    ...k.counters,
  };
}

/** The episodic log: what the caller may read of it (agents: their own, unless they name a pid they may see). */
export function logs(
  k: Kernel,
  c: Caller,
  a: { pid?: number; kind?: string; since?: number; text?: string; limit?: number },
) {
  if (a.pid !== undefined && a.pid !== 0) k.life.visible(c, a.pid);
  const own = c.kind === 'agent' && a.pid === undefined ? { pid: c.pid } : {};
  return k.episodes.query({ ...a, ...own, limit: a.limit ?? 200 } as Parameters<typeof k.episodes.query>[0]);
}

/** The agent ends itself with `code`. */
export function exit(k: Kernel, p: Process, code: number): null {
  k.life.exit(p, code, code === 0 ? null : `exit ${code}`);
  return null;
}

/** The user's answer to an agent's permission request. */
export function answer(k: Kernel, id: number, a: Answer): null {
  k.asks.answer(id, a);
  return null;
}
