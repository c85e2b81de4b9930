/**
 * Build-time (vite plugin, runs in Node): the agent worker as ONE self-contained
 * classic script (an opaque origin cannot start a module worker from a blob:), exported as text by `virtual:agent-bundle`. Sandboxed agent frames
 * have an opaque origin and a CSP that allows no server at all, so the agent's
 * code cannot be fetched or imported by the frame: the host tab hands it over
 * as text and the frame starts it from a blob: URL. Bundled with rolldown (what
 * vite 8 builds with) in dev and build alike, so both run agents the same way.
 * It also exports the SHA-256 of the frame's boot script, for the frame's CSP.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';
import type { Plugin } from 'vite';
import { FRAME_BOOT } from '../workers/frame-boot';

const ID = 'virtual:agent-bundle';
const RESOLVED = `\0${ID}`;
const ENTRY = fileURLToPath(new URL('../workers/agent.worker.ts', import.meta.url));

export function agentBundle(): Plugin {
  let minify = false;
  return {
    name: 'agentos:agent-bundle',
    configResolved(config) {
      minify = config.command === 'build' && config.build.minify !== false; // --minify false: readable profiles
    },
    resolveId(id) {
      return id === ID ? RESOLVED : null;
    },
    async load(id) {
      if (id !== RESOLVED) return null;
      const bundle = await rolldown({ input: ENTRY, platform: 'browser', logLevel: 'warn' });
      try {
        const { output } = await bundle.generate({ format: 'iife', minify, codeSplitting: false });
        if (output.length !== 1 || output[0].type !== 'chunk')
          throw new Error('the agent worker must bundle to one chunk (no dynamic imports)');
        for (const f of await bundle.watchFiles) this.addWatchFile(f);
        // The frame's CSP allows its one inline script by hash.
        const bootHash = createHash('sha256').update(FRAME_BOOT).digest('base64');
        return `export default ${JSON.stringify(output[0].code)};\nexport const FRAME_BOOT_SHA256 = ${JSON.stringify(bootHash)};`;
      } finally {
        await bundle.close();
      }
    },
  };
}
