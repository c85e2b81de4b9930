/**
 * transformers.js settings for this OS: models come from this origin (or, when
 * allowed, the hub), and onnxruntime-web's WASM comes from our own build, never
 * from a CDN. Single-threaded: pages are not cross-origin isolated.
 */
import ortMjs from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.mjs?url';
import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url';

interface TransformersEnv {
  allowRemoteModels: boolean;
  allowLocalModels: boolean;
  localModelPath: string;
  backends: { onnx: { wasm?: { wasmPaths?: unknown; numThreads?: number } } };
}

export function configureTransformers(
  env: unknown,
  o: { allowRemote: boolean; localModelPath: string },
): void {
  const e = env as TransformersEnv;
  e.allowRemoteModels = o.allowRemote;
  e.allowLocalModels = true;
  e.localModelPath = o.localModelPath;
  e.backends.onnx.wasm ??= {};
  const wasm = e.backends.onnx.wasm;
  wasm.wasmPaths = { mjs: ortMjs, wasm: ortWasm };
  wasm.numThreads = 1;
}
