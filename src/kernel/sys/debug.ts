/** Syscalls for measuring and diagnosing: a raw echo port (the baseline of syscall_rtt_ratio), the GPU. */
import { Transfer } from '../../abi/transfer';

export function echoPort(): Transfer<MessagePort> {
  const ch = new MessageChannel();
  ch.port1.onmessage = (ev) => ch.port1.postMessage(ev.data);
  return new Transfer(ch.port2, [ch.port2]);
}

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; description?: string };
  features: Iterable<string>;
}

/** Whether the kernel worker can reach a WebGPU adapter. */
export async function probeGpu(): Promise<{
  available: boolean;
  adapter: string | null;
  features: string[];
}> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } }).gpu;
  if (!gpu) return { available: false, adapter: null, features: [] };
  const adapter = await gpu.requestAdapter();
  if (!adapter) return { available: false, adapter: null, features: [] };
  const info = adapter.info;
  return {
    available: true,
    adapter: info
      ? [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unknown'
      : 'unknown',
    features: [...adapter.features],
  };
}
