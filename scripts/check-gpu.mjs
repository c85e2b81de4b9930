#!/usr/bin/env node
// npm run check:gpu — for a machine with a GPU and a network. It downloads the recommended
// WebLLM model (AGENTOS_WEBLLM_MODEL, default below), runs the WebLLM driver contract
// (e2e/webllm.spec.ts) and a chat and an agent through the OS (e2e/webllm-os.spec.ts) on the
// real GPU, and prints tokens/s through the OS ÷ WebLLM called directly.
// Where there is no hardware WebGPU adapter or no route to the model host, it says SKIPPED,
// why, and that nothing was checked — it never reports a pass it did not run.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const MODEL = process.env.AGENTOS_WEBLLM_MODEL ?? 'Qwen2.5-0.5B-Instruct-q4f32_1-MLC';
const env = { ...process.env, AGENTOS_GPU: '1', AGENTOS_WEBLLM_MODEL: MODEL, CI: '1' };
process.env.AGENTOS_GPU = '1';
const { CHROMIUM_ARGS, CHROMIUM_PATH } = await import('../e2e/chromium.mjs');

function skipped(why) {
  console.log(
    `\ncheck:gpu SKIPPED — ${why}.\nNothing was downloaded, run or measured. Run \`npm run check:gpu\` on a machine with a GPU and internet access.\n`,
  );
  process.exit(0);
}

// 1. The network: the model host must answer.
const host = 'https://huggingface.co';
const reachable = await fetch(`${host}/api/models/mlc-ai/${MODEL}`, { signal: AbortSignal.timeout(8000) })
  .then((r) => r.ok)
  .catch(() => false);
if (!reachable) skipped(`no network: ${host} cannot be reached (the weights of ${MODEL} come from there)`);

// 2. A hardware WebGPU adapter in this Chromium (SwiftShader does not count).
const args = CHROMIUM_ARGS; // without SwiftShader: AGENTOS_GPU was set before chromium.mjs was read
const browser = await chromium
  .launch({ executablePath: CHROMIUM_PATH, args })
  .catch((e) => skipped(`Chromium did not start: ${e.message}`));
const page = await browser.newPage();
await page.goto('about:blank');
const adapter = await page
  .evaluate(async () => {
    const a = await navigator.gpu?.requestAdapter().catch(() => null);
    if (!a) return null;
    const arch = `${a.info?.vendor ?? ''} ${a.info?.architecture ?? ''}`;
    return {
      software: !!(a.isFallbackAdapter || a.info?.isFallbackAdapter || /swiftshader/i.test(arch)),
      arch,
    };
  })
  .catch(() => null);
await browser.close();
if (!adapter) skipped('no WebGPU adapter in this Chromium');
if (adapter.software)
  skipped(`only a software WebGPU adapter (${adapter.arch.trim() || 'SwiftShader'}), no GPU`);

// 3. The contract and the OS run, on the real GPU.
console.log(`check:gpu: ${MODEL} on ${adapter.arch.trim()}`);
const run = spawnSync('npx', ['playwright', 'test', 'e2e/webllm.spec.ts', 'e2e/webllm-os.spec.ts'], {
  stdio: 'inherit',
  env,
});
if (existsSync('test-results/gpu-check.json')) {
  const r = JSON.parse(readFileSync('test-results/gpu-check.json', 'utf8'));
  console.log(
    `\ncheck:gpu ${MODEL}: ${r.os.tokS.toFixed(1)} tok/s through the OS ÷ ${r.direct.tokS.toFixed(1)} tok/s WebLLM direct = ${r.ratio.toFixed(3)}\n`,
  );
}
process.exit(run.status ?? 1);
