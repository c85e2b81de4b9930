/** Model syscalls: loading (registering a new engine first when asked), the default model, and the scheduling policy. */
import { SysError } from '../../abi/errors';
import type { ContextPolicy } from '../../models/context-budget';
import { registerHostedModel, registerTransformersModel, registerWebLLMRecord } from '../../models/drivers';
import { DeterministicEngine, tokenize } from '../../models/engines/deterministic';
import type { Policy } from '../../models/scheduler';
import type { Caller } from '../dispatch';
import type { Kernel } from '../kernel';

export interface LoadArgs {
  id: string;
  engine?: 'deterministic' | 'transformers' | 'webllm';
  options?: {
    /** webllm: the folder of an MLC build (its mlc-chat-config.json, tokenizer and weight shards). */
    modelUrl?: string;
    /** webllm: the model library (.wasm) compiled for it. */
    modelLib?: string;
    /** webllm: the GPU memory it needs, in MB. */
    vramMB?: number;
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
  } else if (a.engine === 'webllm') {
    const o = a.options;
    if (!o?.modelUrl || !o.modelLib)
      throw new SysError('EINVAL', 'a WebLLM model of your own needs options.modelUrl and options.modelLib');
    const record = {
      model: o.modelUrl,
      model_id: a.id,
      model_lib: o.modelLib,
      ...(o.vramMB ? { vram_required_MB: o.vramMB } : {}),
      ...(o.contextWindow ? { overrides: { context_window_size: o.contextWindow } } : {}),
    };
    registerWebLLMRecord(k, record, { appConfig: { model_list: [record] }, hosted: !!o.hosted });
  } else if (a.engine === 'deterministic') {
    const {
      hosted,
      model: _m,
      device: _d,
      allowRemote: _r,
      remoteHost: _h,
      modelUrl: _u,
      modelLib: _l,
      vramMB: _v,
      ...opts
    } = a.options ?? {};
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

/** models.cancel: stops a model's load (its download); whoever waits on it gets ECANCELED. */
export function cancel(k: Kernel, a: { id: string }) {
  k.pool.cancel(a.id);
  return null;
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
