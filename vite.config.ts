import type { Connect, Plugin } from 'vite';
import { defineConfig } from 'vite';
import { AGENT_CSP, AGENT_SCRIPT_RE } from './src/workers/agent-policy';

/**
 * Agent workers follow the CSP of their own script response: the dev and preview
 * servers send it, and the build writes it to dist/_headers (Netlify, Cloudflare
 * Pages) for static hosts; docs/HOSTING in the README covers the others.
 */
function agentCsp(): Plugin {
  const middleware: Connect.NextHandleFunction = (req, res, next) => {
    if (req.url && AGENT_SCRIPT_RE.test(req.url)) res.setHeader('Content-Security-Policy', AGENT_CSP);
    next();
  };
  return {
    name: 'agentos:agent-csp',
    configureServer: (server) => {
      server.middlewares.use(middleware);
    },
    configurePreviewServer: (server) => {
      server.middlewares.use(middleware);
    },
    generateBundle() {
      this.emitFile({
        type: 'asset',
        fileName: '_headers',
        source: `/assets/agent.worker-*\n  Content-Security-Policy: ${AGENT_CSP}\n`,
      });
    },
  };
}

export default defineConfig({
  plugins: [agentCsp()],
  // Workers are ES modules so they can code-split (agents load programs on demand).
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    sourcemap: true,
    rollupOptions: {
      // The bench page is built only for `npm run bench`, never shipped.
      input: { main: 'index.html', ...(process.env.AGENTOS_BENCH ? { bench: 'bench/index.html' } : {}) },
    },
  },
  server: { port: 5173, strictPort: true },
  preview: { port: 4173, strictPort: true },
});
