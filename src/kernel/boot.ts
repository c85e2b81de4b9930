/**
 * Boots a kernel: the kernel is given its syscall table, then its own tools
 * (time, arithmetic, memory, http.fetch) and its built-in models (the trained story model,
 * and the hidden random-weights test model) are registered, and the default model an earlier
 * session chose comes back. The kernel imports none of these: they import it.
 */
import { registerStoryModel, registerTinyModel, reRegisterSource } from '../models/drivers';
import { registerKernelTools } from '../tools/kernel-tools';
import { registerBuiltins } from '../tools/registry';
import { Kernel, type KernelOptions } from './kernel';
import { SYSCALLS } from './syscalls';

export function bootKernel(opts: KernelOptions = {}): Kernel {
  const k = new Kernel(SYSCALLS, opts);
  registerBuiltins(k.tools);
  registerKernelTools(k);
  registerStoryModel(k);
  registerTinyModel(k);
  // After the previous session's state: the catalogue is built, and a remote default's server is added again.
  if (k.session) void k.ready.then(() => k.defaults.restore((src) => reRegisterSource(k, src)));
  return k;
}
