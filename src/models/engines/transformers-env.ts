/**
 * transformers.js settings for this OS: models come from this origin (or, when
 * allowed, the hub), and onnxruntime-web's WASM comes from our own build, never
 * from a CDN. Single-threaded: pages are not cross-origin isolated. The asyncify
 * build is the one transformers.js's onnxruntime-web bundle (ort.webgpu) is made for:
 * it serves the WASM and the WebGPU execution providers (the JSEP build lacks webgpuInit).
 */
import ortMjs from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';
import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';

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
