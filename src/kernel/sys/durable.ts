/** Handlers of the durable lifecycle's calls (issue 15): checkpoints, the resume setting, tab visibility. */
import { SysError } from '../../abi/errors';
import type { Caller } from '../dispatch';
import type { Kernel } from '../kernel';

/** ctx.checkpoint(state): the caller's JSON text, kept for its next life; resolves after commit. */
export function checkpoint(k: Kernel, c: Caller, json: string) {
  return k.durable.checkpoint(c, json);
}

/** Whether running agents resume when the OS opens again (Settings). */
export function settings(k: Kernel, set: { resumeOnOpen?: boolean }) {
  return k.durable.settings(set);
}

/** A tab was hidden or shown: hidden tabs host agents only when no visible tab can. */
export function visibility(k: Kernel, c: Caller, hidden: boolean): null {
  if (c.kind !== 'user') throw new SysError('EPERM', 'for tabs only');
  return k.tabs.setHidden(c.tab, hidden);
}
