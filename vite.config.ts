import type { Connect, Plugin } from 'vite';
import { defineConfig } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { agentBundle } from './src/build/agent-bundle';
import { AGENT_CSP, AGENT_SCRIPT_RE } from './src/workers/agent-policy';

/**
 * Agent workers follow the CSP of their own script response: the dev and preview
 * servers send it, and the build writes it to dist/_headers (Netlify, Cloudflare
 * Pages) for static hosts; docs/HOSTING in the README covers the others.
 */
/** Every page but embed.html refuses to be framed. */
const DESKTOP_FRAME_POLICY = "frame-ancestors 'none'";

/** A document (navigation or frame), not a script or a file: what frame-ancestors is about. */
const isPage = (req: { url?: string; headers: Record<string, string | string[] | undefined> }) =>
  ['document', 'iframe', 'frame', 'embed', 'object'].includes(String(req.headers['sec-fetch-dest'])) ||
  /^\/(index\.html)?(\?|$)/.test(req.url ?? '');

function agentCsp(): Plugin {
  const middleware: Connect.NextHandleFunction = (req, res, next) => {
    if (req.url && AGENT_SCRIPT_RE.test(req.url)) res.setHeader('Content-Security-Policy', AGENT_CSP);
    else if (req.url && isPage(req) && !/^\/embed(\.html|\/|\?|$)/.test(req.url)) {
      // Only embed.html is meant to be framed: the desktop answers permission prompts (src/shell/framed.ts).
      res.setHeader('Content-Security-Policy', DESKTOP_FRAME_POLICY);
      res.setHeader('X-Frame-Options', 'DENY');
    }
    // Host pages on other origins import the embedding client (and the chunks it imports) as modules.
    if (req.url && /^\/(embed\/|assets\/)/.test(req.url)) res.setHeader('Access-Control-Allow-Origin', '*');
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
        source: `/\n  Content-Security-Policy: ${DESKTOP_FRAME_POLICY}\n  X-Frame-Options: DENY\n/index.html\n  Content-Security-Policy: ${DESKTOP_FRAME_POLICY}\n  X-Frame-Options: DENY\n/assets/agent.worker-*\n  Content-Security-Policy: ${AGENT_CSP}\n/assets/*\n  Access-Control-Allow-Origin: *\n/embed/*\n  Access-Control-Allow-Origin: *\n`,
      });
    },
  };
}

export default defineConfig({
  plugins: [
    agentCsp(),
    agentBundle(),
    // The installable app: a manifest, and a service worker that precaches the app shell so the OS opens
    // offline. It waits for the user to accept an update (registerType 'prompt'): a reload kills agents.
    VitePWA({
      registerType: 'prompt',
      injectRegister: null, // src/shell/main.ts registers it, after the desktop is up
      includeAssets: ['favicon.svg', 'icons/apple-touch-icon.png'],
      manifest: {
        name: 'AgentOS',
        short_name: 'AgentOS',
        description: 'An operating system for AI agents, in a browser tab',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        background_color: '#0f1216',
        theme_color: '#2f6fde',
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: '/icons/maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      workbox: {
        globPatterns: ['**/*.{js,css,html,svg,png,webmanifest,wasm}'],
        // Engines (WebLLM, transformers.js and ONNX Runtime's 27 MB WASM) and model files are not the app
        // shell: they are cached on first use, in their own caches, and never block an update.
        globIgnores: [
          '**/ort-wasm*',
          '**/lib-*.js',
          '**/transformers.web-*.js',
          'models/**',
          'bench/**',
          '**/*.map',
        ],
        maximumFileSizeToCacheInBytes: 3 * 2 ** 20,
        navigateFallback: 'index.html',
        navigateFallbackDenylist: [/^\/models\//, /^\/embed/, /^\/bench\//],
        // Caches belong to the OS: only its own downloads fill them. Model files are fetched (destination '')
        // by the kernel and engines, never with a query string; an import() or a URL with a query an agent
        // made up goes to the network uncached. (Agents in sandboxed frames are no client of this worker at
        // all: an opaque origin has no service worker.)
        runtimeCaching: [
          {
            urlPattern: ({ url, sameOrigin, request }) =>
              sameOrigin && url.pathname.startsWith('/models/') && !url.search && request.destination === '',
            handler: 'CacheFirst',
            options: { cacheName: 'agentos-models' },
          },
          {
            urlPattern: ({ url, sameOrigin }) =>
              sameOrigin && url.pathname.startsWith('/assets/') && !url.search,
            handler: 'CacheFirst', // hashed names: a file never changes
            options: { cacheName: 'agentos-engines', expiration: { maxEntries: 32 } },
          },
        ],
      },
    }),
  ],
  // Workers are ES modules so they can code-split (agents load programs on demand).
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    sourcemap: true,
    rollupOptions: {
      // The bench page is built only for `npm run bench`, never shipped.
      input: {
        main: 'index.html',
        // The OS inside a host page's iframe, and the module host pages import to talk to it.
        embed: 'embed.html',
        'embed-client': 'src/embed/client.ts',
        ...(process.env.AGENTOS_BENCH ? { bench: 'bench/index.html' } : {}),
      },
      // The client keeps one stable URL (/embed/client.js) that host pages can import.
      output: {
        entryFileNames: (chunk) =>
          chunk.name === 'embed-client' ? 'embed/client.js' : 'assets/[name]-[hash].js',
      },
      // Keep the client's exports even though nothing in the app imports them.
      preserveEntrySignatures: 'exports-only',
    },
  },
  server: { port: 5173, strictPort: true },
  preview: { port: 4173, strictPort: true },
});
