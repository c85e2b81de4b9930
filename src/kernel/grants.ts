/**
 * The user widens or narrows a live process's capabilities. Narrowing takes
 * effect at once, for the process and its descendants, calls in flight
 * included (guardCall in permissions.ts ends them), and drops bus topics no
 * longer allowed.
 */
import type { Capabilities } from '../abi/capabilities';
import { SysError } from '../abi/errors';
import type { EpisodeKind } from '../memory/episodic';
import { busAllows } from './access-control';
import type { MessageBus } from './bus';
import { clampDescendants, narrow, setCapabilities, widen } from './permissions';
import type { Process, ProcessTable } from './process';
import { raisesQuota } from './quota-account';

export interface GrantDeps {
  procs: ProcessTable;
  bus: MessageBus;
  log(pid: number, kind: EpisodeKind, text: string, data?: unknown): void;
  changed(p: Process): void;
}

/** The user widens a live process's capabilities. */
export function grant(d: GrantDeps, p: Process, more: Partial<Capabilities>): Capabilities {
  // An exited process cannot use a grant; one waiting to be restarted keeps it for its restart.
  if (!p.alive && !p.info.restartable)
    throw new SysError('ESRCH', `process ${p.pid} has exited: there is nothing to grant to`);
  const after = widen(p.info.capabilities, more);
  // A quota the user raises is the user's word: its charges no longer count against its spawners'.
  if (raisesQuota(p.info.capabilities, after)) p.account.independent = true;
  setCapabilities(p, after);
  d.log(p.pid, 'grant', `granted ${JSON.stringify(more)}`, { permissions: more });
  d.changed(p);
  return p.info.capabilities;
}

/** The user takes capabilities away: at once, from the process and its descendants. */
export function revoke(d: GrantDeps, p: Process, less: Partial<Capabilities>): Capabilities {
  setCapabilities(p, narrow(p.info.capabilities, less));
  clampDescendants(p, (pid) => d.procs.find(pid));
  for (const q of [p, ...descendants(d.procs, p)]) {
    for (const t of d.bus.topicsOf(q.pid))
      if (!busAllows(q.info.capabilities, `topic:${t}`)) d.bus.unsubscribe(q.pid, t);
    d.changed(q);
  }
  d.log(p.pid, 'revoke', `revoked ${JSON.stringify(less)}`, { permissions: less });
  return p.info.capabilities;
}

function descendants(procs: ProcessTable, p: Process): Process[] {
  const out: Process[] = [];
  for (const pid of p.children) {
    const c = procs.find(pid);
    if (c) out.push(c, ...descendants(procs, c));
  }
  return out;
}
