/**
 * What this device can do, measured in the page: WebGPU (adapter, f16, the
 * largest buffer), device memory, free storage, and whether the hosts model
 * files come from can be reached. Each fact that cannot be had says why.
 */
import type { DeviceFacts } from './recommend';

/** Where model files come from: Hugging Face (weights) and GitHub (WebLLM's compiled model libraries). */
export const MODEL_HOSTS = ['https://huggingface.co/', 'https://raw.githubusercontent.com/'];

interface GpuAdapterLike {
  features: ReadonlySet<string>;
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
  info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

export interface Measured extends DeviceFacts {
  storage: { usage: number; quota: number } | null;
  online: boolean;
  hosts: { url: string; reachable: boolean }[];
}

async function webgpu(): Promise<Pick<DeviceFacts, 'webgpu' | 'webgpuProblem'>> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } }).gpu;
  if (!gpu)
    return {
      webgpu: null,
      webgpuProblem: window.isSecureContext
        ? 'This browser has no WebGPU (the GPU access local models need).'
        : 'WebGPU needs a secure page (https, or localhost), and this one is not.',
    };
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter)
    return {
      webgpu: null,
      webgpuProblem:
        'WebGPU is there but gave no GPU adapter (a blocked or unsupported GPU driver, or GPU access turned off).',
    };
  const i = adapter.info;
  return {
    webgpu: {
      adapter: [i?.vendor, i?.architecture, i?.description].filter(Boolean).join(' ') || 'unknown GPU',
      f16: adapter.features.has('shader-f16'),
      maxBufferBytes: Math.min(adapter.limits.maxStorageBufferBindingSize, adapter.limits.maxBufferSize),
      facts: {
        ...(i?.vendor ? { vendor: i.vendor } : {}),
        ...(i?.architecture ? { architecture: i.architecture } : {}),
        ...(i?.description ? { description: i.description } : {}),
        ...((i?.isFallbackAdapter ?? adapter.isFallbackAdapter) ? { isFallbackAdapter: true } : {}),
        maxBufferSize: adapter.limits.maxBufferSize,
      },
    },
  };
}

/** Whether a host answers at all (no-cors: an opaque answer is enough), within a few seconds. */
async function reachable(url: string, timeoutMs = 5000): Promise<boolean> {
  try {
    await fetch(url, { mode: 'no-cors', cache: 'no-store', signal: AbortSignal.timeout(timeoutMs) });
    return true;
  } catch {
    return false;
  }
}

export async function measureDevice(): Promise<Measured> {
  const [gpu, storage, hosts] = await Promise.all([
    webgpu(),
    navigator.storage?.estimate?.().then(
      (e) => ({ usage: e.usage ?? 0, quota: e.quota ?? 0 }),
      () => null,
    ) ?? Promise.resolve(null),
    Promise.all(MODEL_HOSTS.map(async (url) => ({ url, reachable: await reachable(url) }))),
  ]);
  const mem = (navigator as Navigator & { deviceMemory?: number }).deviceMemory;
  return {
    ...gpu,
    deviceMemoryGB: typeof mem === 'number' ? mem : null,
    storage,
    freeStorageBytes: storage ? Math.max(0, storage.quota - storage.usage) : null,
    online: navigator.onLine,
    hosts,
    hostsReachable: hosts.every((h) => h.reachable),
  };
}

export const formatBytes = (n: number): string =>
  n >= 2 ** 30
    ? `${(n / 2 ** 30).toFixed(1)} GB`
    : n >= 2 ** 20
      ? `${(n / 2 ** 20).toFixed(n >= 100 * 2 ** 20 ? 0 : 1)} MB`
      : `${Math.max(0, Math.round(n / 1024))} kB`;

/** A download's speed and time left, from samples of (time, bytes). */
export class Rate {
  private samples: { t: number; bytes: number }[] = [];

  add(bytes: number, t = performance.now()): void {
    this.samples.push({ t, bytes });
    // The last ten seconds make the speed.
    while (this.samples.length > 2 && t - this.samples[0]!.t > 10_000) this.samples.shift();
  }

  /** Bytes a second, or null before two samples. */
  speed(): number | null {
    const a = this.samples[0];
    const b = this.samples.at(-1);
    if (!a || !b || b.t <= a.t) return null;
    return ((b.bytes - a.bytes) * 1000) / (b.t - a.t);
  }

  /** Seconds left to `total`, or null when unknown. */
  secondsLeft(total: number): number | null {
    const s = this.speed();
    const b = this.samples.at(-1);
    if (!s || s <= 0 || !b) return null;
    return Math.max(0, (total - b.bytes) / s);
  }
}

export const formatSeconds = (s: number): string =>
  s < 60 ? `${Math.ceil(s)} s` : s < 3600 ? `${Math.ceil(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
