#!/usr/bin/env node
// One command for the embedding example: builds the OS if needed, serves it (the production build,
// with the headers of its dist/_headers, as a deployment would) and serves the host page from another
// origin. Both take the port they prefer (OS :4173, page :5180) or, if it is busy, say so and take a
// free one; the OS served here allows the page's origin whatever port it got.
// AGENTOS_ORIGIN=<url> embeds an OS that is already running instead (it must allow the page's origin).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, resolve } from 'node:path';

const DIST = resolve('dist');
const TYPES = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.onnx': 'application/octet-stream',
};

/** Listens on `port`, or on a free one if it is busy (saying which was busy); resolves with the port. */
function listen(server, port, what) {
  return new Promise((done, fail) => {
    server.once('error', (e) => {
      if (e.code !== 'EADDRINUSE') return fail(e);
      console.log(`  port ${port} is busy (something else is listening there): serving ${what} on a free port instead`);
      server.listen(0, 'localhost', () => done(server.address().port));
    });
    server.listen(port, 'localhost', () => done(server.address().port));
  });
}

/** dist/_headers (Netlify/Cloudflare Pages format): path patterns, each with indented `Name: value` lines. */
function readHeaderRules() {
  const rules = [];
  for (const line of readFileSync(join(DIST, '_headers'), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    if (!/^\s/.test(line)) {
      const re = new RegExp(`^${line.trim().replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`);
      rules.push({ re, headers: [] });
    } else {
      const i = line.indexOf(':');
      rules.at(-1)?.headers.push([line.slice(0, i).trim(), line.slice(i + 1).trim()]);
    }
  }
  return rules;
}

/** The production build, served like a static host with its _headers; embed-policy.json also allows `pageOrigin`. */
function serveOs(pageOrigin) {
  const rules = readHeaderRules();
  const policy = JSON.parse(readFileSync(join(DIST, 'embed-policy.json'), 'utf8'));
  const allowed = policy.origins?.['http://localhost:5180'] ?? { tools: ['host.*', 'time.now'], models: ['*'] };
  return createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    for (const r of rules) if (r.re.test(path)) for (const [k, v] of r.headers) res.setHeader(k, v);
    if (path === '/embed-policy.json') {
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify({ ...policy, origins: { ...policy.origins, [pageOrigin()]: allowed } }));
    }
    let file = join(DIST, path === '/' ? 'index.html' : path);
    if (!file.startsWith(DIST) || !existsSync(file) || statSync(file).isDirectory()) file = join(DIST, 'index.html');
    res.setHeader('content-type', TYPES[extname(file)] ?? 'application/octet-stream');
    res.end(readFileSync(file));
  });
}

let pagePort = 0;
const pageOrigin = () => `http://localhost:${pagePort}`;
let os = process.env.AGENTOS_ORIGIN;
if (!os) {
  if (!existsSync(join(DIST, 'embed.html'))) {
    const r = spawnSync('npx', ['vite', 'build'], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  os = `http://localhost:${await listen(serveOs(pageOrigin), Number(process.env.OS_PORT ?? 4173), 'the OS')}`;
}
const page = readFileSync(new URL('./index.html', import.meta.url), 'utf8').replaceAll('OS_ORIGIN', os);
const host = createServer((_req, res) => {
  res.setHeader('content-type', 'text/html');
  res.end(page);
});
pagePort = await listen(host, Number(process.env.PORT ?? 5180), 'the host page');
console.log(`\n  host page: ${pageOrigin()}/  (embeds ${os}/embed.html)\n`);
if (process.env.AGENTOS_ORIGIN && pagePort !== 5180)
  console.log(
    `  ${os} must allow ${pageOrigin()}: add it to its embed-policy.json, or run \`embed allow ${pageOrigin()}\` in its terminal\n`,
  );
process.on('SIGINT', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
