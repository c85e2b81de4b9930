/**
 * A plain static file server for dist/, with no headers but Content-Type: what
 * GitHub Pages, a bare nginx or `python -m http.server` give. The hostile suite
 * runs against it to show what holds when a deployment serves no policy, and
 * the bench's attacks_blocked_no_headers too (plain JS: bench/run.mjs imports it).
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
  '.txt': 'text/plain',
};

/** Serves `root` on a free loopback port; resolves to its origin and a close function. */
export async function serveStatic(root = 'dist') {
  const base = resolve(root);
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file = normalize(join(base, path));
    if (!file.startsWith(base)) {
      res.statusCode = 403;
      return res.end();
    }
    try {
      if (statSync(file).isDirectory()) file = join(file, 'index.html');
      const size = statSync(file).size;
      res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
      res.setHeader('Content-Length', size);
      createReadStream(file).pipe(res);
    } catch {
      res.statusCode = 404;
      res.end('not found');
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  // localhost, not 127.0.0.1: a secure context, like the preview server (WebGPU, SharedWorker storage).
  const origin = `http://localhost:${server.address().port}`;
  return { origin, close: () => new Promise((r) => server.close(() => r())) };
}
