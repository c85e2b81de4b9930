/**
 * How much GPU memory a local model may use here (shared by the kernel, which lists the WebLLM
 * models that fit, and the welcome app, which recommends one: so it lives in abi/, importing nothing). WebGPU does not report VRAM, so it is
 * estimated from what the adapter and the browser do say. The rule, in order:
 *
 *  1. No adapter: 0 (no local model fits).
 *  2. A software adapter (`isFallbackAdapter`, or SwiftShader / llvmpipe / lavapipe / WARP in
 *     its info): the "GPU" is the CPU, and weights live in system RAM beside everything else,
 *     so a quarter of `navigator.deviceMemory` (1 GiB when the browser does not tell).
 *  3. A GPU that shares system memory — vendors intel, apple, arm, qualcomm, imagination,
 *     samsung, broadcom, or a vendor the browser does not name (assume the cautious case):
 *     half of `deviceMemory` (2 GiB when not told). Browsers report at most 8 GB, so ≤ 4 GiB.
 *  4. A discrete GPU (vendors nvidia, amd/ati): its own memory, of unknown size. At least
 *     4 GiB (the smallest discrete cards that run WebGPU models have that much) and at least
 *     the adapter's `maxBufferSize` (no adapter offers a single buffer larger than its memory).
 *
 * Whatever the class, a model must also pass `maxStorageBufferBindingSize` (its largest
 * binding) — that is checked per model (`buffer_size_required_bytes`), not here.
 * Known misses: an AMD APU (integrated, vendor amd) is taken for discrete; a load that does not
 * fit then fails with ENOSPC (WebLLM's device-lost error), and the user can choose a smaller one.
 */

export interface AdapterFacts {
  vendor?: string;
  architecture?: string;
  description?: string;
  isFallbackAdapter?: boolean;
  /** limits.maxBufferSize */
  maxBufferSize?: number;
}

export type GpuKind = 'none' | 'software' | 'shared-memory' | 'discrete';

export interface VramEstimate {
  bytes: number;
  kind: GpuKind;
  /** The rule that gave it, in words (shown to the user). */
  why: string;
}

const GiB = 2 ** 30;
const SOFTWARE = /swiftshader|llvmpipe|lavapipe|\bwarp\b|software|microsoft basic render/i;
const SHARED = /^(intel|apple|arm|qualcomm|imagination|img|samsung|broadcom|mesa)$/i;
const DISCRETE = /^(nvidia|amd|ati)$/i;

/** The class of GPU an adapter is, from its info. */
export function gpuKind(a: AdapterFacts | null): GpuKind {
  if (!a) return 'none';
  const text = `${a.vendor ?? ''} ${a.architecture ?? ''} ${a.description ?? ''}`;
  if (a.isFallbackAdapter || SOFTWARE.test(text)) return 'software';
  const vendor = (a.vendor ?? '').trim();
  if (DISCRETE.test(vendor)) return 'discrete';
  if (SHARED.test(vendor)) return 'shared-memory';
  return 'shared-memory'; // unnamed: the cautious case
}

/** GPU memory a model may use on this device; see the module comment for the rule. */
export function estimateVram(a: AdapterFacts | null, deviceMemoryGB: number | null): VramEstimate {
  const kind = gpuKind(a);
  const mem = typeof deviceMemoryGB === 'number' && deviceMemoryGB > 0 ? deviceMemoryGB : null;
  const told = mem !== null ? `of the ${mem} GB of memory the browser reports` : null;
  switch (kind) {
    case 'none':
      return { bytes: 0, kind, why: 'no WebGPU adapter' };
    case 'software':
      return {
        bytes: mem !== null ? (mem * GiB) / 4 : GiB,
        kind,
        why: `a software GPU (it runs on the CPU): a quarter ${told ?? 'of memory, taken as 4 GB'}`,
      };
    case 'shared-memory':
      return {
        bytes: mem !== null ? (mem * GiB) / 2 : 2 * GiB,
        kind,
        why: `a GPU that shares system memory: half ${told ?? 'of memory, taken as 4 GB'}`,
      };
    case 'discrete': {
      const buf = a?.maxBufferSize ?? 0;
      return {
        bytes: Math.max(4 * GiB, buf),
        kind,
        why:
          buf > 4 * GiB
            ? 'a discrete GPU: at least its largest buffer'
            : 'a discrete GPU of unknown memory: 4 GB, the least such cards have',
      };
    }
  }
}
