/**
 * The Content-Security-Policy of an agent worker's script response. A dedicated
 * worker follows the CSP delivered with its own script, so this closes the
 * network to agent code whatever it does with the globals: no fetch, XHR,
 * WebSocket, EventSource or WebTransport (connect-src), no scripts but this
 * origin's and the blob: a pasted program is loaded from (script-src), no
 * nested workers (worker-src). It does nothing against same-origin storage;
 * sandbox.ts covers that. Served by the dev and preview servers (vite.config.ts)
 * and written to dist/_headers for static hosts that read it.
 */
export const AGENT_CSP = [
  "default-src 'none'",
  "script-src 'self' blob: 'wasm-unsafe-eval'",
  "connect-src 'none'",
  "worker-src 'none'",
  "child-src 'none'",
  "img-src 'none'",
  "media-src 'none'",
  "font-src 'none'",
].join('; ');

/** Agent worker scripts: the dev server's module URL and the production chunk. */
export const AGENT_SCRIPT_RE = /\/agent\.worker(?:-[\w-]+)?\.(?:ts|js)(?:\?|$)/;
