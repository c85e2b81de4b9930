// Memory bombs, as agent programs: each grows until something gives (those whose allocations are refused
// fall back to the heap). Plain JS so that both the e2e suite and bench/run.mjs (Node) import it.

/** Agent program sources by name. */
export const BOMBS = {
  'sync heap':
    'export default async function main() { const a = []; for (let n = 0; ; n++) a.push(new Array(4e6).fill(n + 0.5)); }',
  'async heap (keeps answering the heartbeat)':
    'export default async function main() { const a = []; for (let n = 0; ; n++) { a.push(new Array(2e6).fill(n + 0.5)); await new Promise((r) => setTimeout(r, 0)); } }',
  'WebAssembly.Memory':
    'export default async function main(ctx) { const ms = []; for (;;) { try { const m = new WebAssembly.Memory({ initial: 1, maximum: 65536 }); for (let i = 0; i < 64; i++) m.grow(1024); ms.push(m); } catch (e) { await ctx.print("wasm: " + e.name + "\\n"); ms.push(new Array(4e6).fill(1.5)); } await new Promise((r) => setTimeout(r, 0)); } }',
  ArrayBuffer:
    'export default async function main(ctx) { const bs = []; for (;;) { try { const b = new Uint8Array(256 * 2 ** 20); b.fill(1); bs.push(b); } catch (e) { bs.push(new Array(4e6).fill(1.5)); } await new Promise((r) => setTimeout(r, 0)); } }',
};
