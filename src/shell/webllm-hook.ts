/**
 * `window.agentosWebLLM`: the WebLLM driver for the devtools console and the
 * on-demand WebLLM contract test (e2e/webllm.spec.ts). Each call imports the
 * driver (and WebLLM itself) only when used, so the desktop does not load it.
 */
import type { WebLLMEngineOptions } from '../models/engines/webllm';

const driver = () => import('../models/engines/webllm');
const load = () => import('@mlc-ai/web-llm');

export const webllmHook = {
  createWebLLMEngine: async (o: WebLLMEngineOptions) => (await driver()).createWebLLMEngine({ load, ...o }),
  listFittingModels: async (o: Parameters<Awaited<ReturnType<typeof driver>>['listFittingModels']>[0]) =>
    (await driver()).listFittingModels({ load, ...o }),
  gpuFacts: async () => (await driver()).gpuFacts(),
  /** WebLLM itself, without this OS (the baseline of npm run check:gpu). */
  createMLCEngine: async (model: string) => (await load()).CreateMLCEngine(model),
};
