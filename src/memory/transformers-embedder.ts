/**
 * Sentence embeddings with transformers.js (e.g. Xenova/all-MiniLM-L6-v2, 384-d):
 * mean-pooled, normalised. It runs in an engine worker of a host tab (see
 * engine.worker.ts), never in the kernel, so embedding never blocks syscalls.
 * Weights download once and are cached by transformers.js (Cache Storage);
 * `localModelPath` serves them from this origin instead.
 */
import { SysError } from '../abi/errors';
import type { Embedder } from './embedder';

export interface TransformersEmbedderOptions {
  /** A Hugging Face model id, or a folder under `localModelPath`. */
  model: string;
  device?: 'wasm' | 'webgpu';
  /** Fetch from the Hugging Face hub when not local (and cache it). */
  allowRemote?: boolean;
  localModelPath?: string;
  onProgress?: (p: { file: string; loaded: number; total: number }) => void;
}

export interface DisposableEmbedder extends Embedder {
  dispose(): Promise<void>;
}

/** The slice of transformers.js used here. */
interface FeatureExtractor {
  (
    texts: string[],
    opts: { pooling: 'mean'; normalize: boolean },
  ): Promise<{ data: Float32Array; dims: number[] }>;
  dispose?(): Promise<void>;
}

export async function createTransformersEmbedder(
  o: TransformersEmbedderOptions,
): Promise<DisposableEmbedder> {
  const tf = await import('@huggingface/transformers');
  const { configureTransformers } = await import('../models/engines/transformers-env');
  configureTransformers(tf.env, {
    allowRemote: o.allowRemote ?? true,
    localModelPath: o.localModelPath ?? '/models/',
  });
  let extractor: FeatureExtractor;
  try {
    extractor = (await tf.pipeline('feature-extraction', o.model, {
      device: o.device ?? 'wasm',
      dtype: 'fp32',
      progress_callback: (p: { status?: string; file?: string; loaded?: number; total?: number }) => {
        if (p.status === 'progress' && p.file)
          o.onProgress?.({ file: p.file, loaded: p.loaded ?? 0, total: p.total ?? 0 });
      },
    })) as unknown as FeatureExtractor;
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    throw new SysError(
      /not found|404|Could not locate/i.test(msg) ? 'ENOENT' : 'EIO',
      `loading embedder ${o.model}: ${msg}`,
    );
  }
  const probe = await extractor(['dimension probe'], { pooling: 'mean', normalize: true });
  const dim = probe.dims[probe.dims.length - 1]!;
  return {
    id: `transformers:${o.model}`,
    dim,
    async embed(texts) {
      if (!texts.length) return [];
      const out = await extractor(texts, { pooling: 'mean', normalize: true });
      return texts.map((_, i) => out.data.slice(i * dim, (i + 1) * dim));
    },
    dispose: async () => {
      await extractor.dispose?.();
    },
  };
}
