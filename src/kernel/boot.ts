/**
 * Boots a kernel: the kernel is given its syscall table, then its own tools
 * (time, arithmetic, memory, http.fetch) and its built-in model are
 * registered. The kernel imports none of these: they import it.
 */
import { registerTinyModel } from '../models/drivers';
import { registerKernelTools } from '../tools/kernel-tools';
import { registerBuiltins } from '../tools/registry';
import { Kernel, type KernelOptions } from './kernel';
import { SYSCALLS } from './syscalls';

export function bootKernel(opts: KernelOptions = {}): Kernel {
  const k = new Kernel(SYSCALLS, opts);
  registerBuiltins(k.tools);
  registerKernelTools(k);
  registerTinyModel(k);
  return k;
}
