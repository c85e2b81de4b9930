// How every browser test and the benchmark launch Debian's Chromium, with WebGPU on SwiftShader.
// Plain JS so that both Playwright's config (TypeScript) and bench/run.mjs (Node) import it.
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// AGENTOS_GPU=1 (npm run check:gpu) uses the machine's GPU instead of SwiftShader.
const GPU = process.env.AGENTOS_GPU === '1';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  ...(GPU ? ['--ignore-gpu-blocklist'] : ['--use-webgpu-adapter=swiftshader']),
  '--enable-features=Vulkan',
  // Without these, Chromium keeps dialling Google's hosts on this closed network.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
