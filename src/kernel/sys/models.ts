/** Model syscalls: loading (registering a new engine first when asked), the default model, and the scheduling policy. */
import { SysError } from '../../abi/errors';
import type { ContextPolicy } from '../../models/context-budget';
import { registerHostedModel, registerTransformersModel } from '../../models/drivers';
import { DeterministicEngine, tokenize } from '../../models/engines/deterministic';
import type { Policy } from '../../models/scheduler';
import type { Caller } from '../dispatch';
import type { Kernel } from '../kernel';

export interface LoadArgs {
  id: string;
  engine?: 'deterministic' | 'transformers';
  options?: {
    model?: string;
    device?: 'wasm' | 'webgpu';
    allowRemote?: boolean;
    remoteHost?: string;
    prefillTokensPerSecond?: number;
    decodeTokensPerSecond?: number;
    contextWindow?: number;
    contextCapacity?: number;
    defaultLength?: number;
    sizeBytes?: number;
    hosted?: boolean;
  };
}

/** The catalogue users are offered; `all` adds the hidden test models (loadable by id). */
export function list(k: Kernel, a: { all?: boolean }) {
  return k.pool.catalog({ all: a.all === true });
}

/** A new engine is registered first; any catalogue model is then loaded. */
export async function load(k: Kernel, a: LoadArgs) {
  if (a.engine === 'transformers') {
    const o = a.options;
    registerTransformersModel(k, a.id, {
      model: o?.model ?? a.id,
      ...(o?.device ? { device: o.device } : {}),
      ...(o?.allowRemote ? { allowRemote: true } : {}),
      ...(o?.remoteHost ? { remoteHost: o.remoteHost } : {}),
      ...(o?.contextWindow ? { contextWindow: o.contextWindow } : {}),
    });
  } else if (a.engine === 'deterministic') {
    const { hosted, model: _m, device: _d, allowRemote: _r, remoteHost: _h, ...opts } = a.options ?? {};
    if (hosted) {
      const info = new DeterministicEngine({ ...opts, id: a.id }).info;
      registerHostedModel(
        k,
        info,
        ['test'],
        'deterministic',
        { ...opts, id: a.id },
        async () => (t) => tokenize(t).length,
      );
    } else k.pool.registerDeterministic({ ...opts, id: a.id });
  }
  await k.pool.load(a.id);
  return k.pool.info(a.id);
}

/** models.default: anyone may read it; choosing it needs modelAdmin. */
export function defaultModel(k: Kernel, c: Caller, id: string | undefined) {
  if (id === undefined) return k.defaults.get();
  if (!c.caps.modelAdmin)
    throw new SysError('EPERM', 'choosing the default model needs the "modelAdmin" capability');
  return k.defaults.set(id);
}

export function schedPolicy(
  k: Kernel,
  c: Caller,
  a: {
    policy?: Policy;
    quantumTokens?: number;
    agingMs?: number;
    switchCostFactor?: number;
    contextPolicy?: ContextPolicy;
  },
) {
  const { contextPolicy, ...sched } = a;
  const changing = contextPolicy !== undefined || Object.keys(sched).length > 0;
  if (changing && !c.caps.modelAdmin)
    throw new SysError('EPERM', 'changing scheduling needs the "modelAdmin" capability');
  if (contextPolicy) k.budget.defaultPolicy = contextPolicy;
  const opts = k.pool.setSchedulerOptions(sched);
  return { ...opts, contextPolicy: k.budget.defaultPolicy, models: k.pool.schedulerStats() };
}
