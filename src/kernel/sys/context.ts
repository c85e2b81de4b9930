/** Context reservations on a model (allocate_context), and an agent's short-term memory listing. */
import { SysError } from '../../abi/errors';
import type { ContextPolicy } from '../../models/context-budget';
import { mayUseModel } from '../access-control';
import type { Caller } from '../dispatch';
import type { Kernel } from '../kernel';
import { agentModel } from '../working-memory';

/** allocate_context(pid, tokens): agents reserve for themselves (or a process in their scope). */
export async function allocate(
  k: Kernel,
  c: Caller,
  a: { tokens: number; pid?: number; model?: string; policy?: ContextPolicy; timeoutMs?: number },
) {
  const pid = a.pid === undefined ? c.pid : k.life.visible(c, a.pid).pid;
  if (pid === 0) throw new SysError('EINVAL', 'the user has no context to reserve; name a pid');
  const p = k.procs.get(pid);
  if (!p.alive) throw new SysError('ESRCH', `process ${pid} has exited`);
  const id = k.pool.route({ model: a.model ?? agentModel(p) });
  if (!mayUseModel(p.info.capabilities, id))
    throw new SysError('EPERM', `model ${id} is not granted to ${pid}`);
  await k.pool.acquire(id);
  const g = await k.budget.allocate(pid, id, a.tokens, a.policy, a.timeoutMs);
  if (!p.alive) {
    k.budget.release(g.id);
    throw new SysError('ESRCH', `process ${pid} exited while waiting`);
  }
  return g;
}

export function release(k: Kernel, c: Caller, id: number): null {
  const r = k.pool.reservations().find((x) => x.id === id);
  if (!r) throw new SysError('ENOENT', `no reservation ${id}`);
  if (c.kind === 'agent' && r.pid !== c.pid)
    throw new SysError('EPERM', `reservation ${id} belongs to process ${r.pid}`);
  k.budget.release(id);
  return null;
}

/** Reservations and queued requests: the caller's own, or all for the user. */
export function list(k: Kernel, c: Caller) {
  return {
    reservations: k.pool.reservations().filter((r) => c.kind === 'user' || r.pid === c.pid),
    queued: k.budget.queued().filter((r) => c.kind === 'user' || r.pid === c.pid),
  };
}

/** The short-term memory of the caller (or a process in its scope), with token counts. */
export async function stmList(k: Kernel, c: Caller, pid: number | undefined) {
  const target = pid === undefined ? c.pid : k.life.visible(c, pid).pid;
  const m = await k.working.loaded(target); // durable: read back from disk after the OS reopened
  return { tokens: m.tokens(), entries: m.list() };
}
