#!/usr/bin/env node
// One command for the embedding example: builds the OS if needed, serves it (vite preview, :4173),
// and serves the host page from another origin (:5180), which AgentOS's public/embed-policy.json allows.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const OS = process.env.AGENTOS_ORIGIN ?? 'http://localhost:4173';
const PORT = 5180;
if (!process.env.AGENTOS_ORIGIN) {
  if (!existsSync('dist/embed.html')) spawnSync('npx', ['vite', 'build'], { stdio: 'inherit' });
  const preview = spawn('npx', ['vite', 'preview', '--port', '4173', '--strictPort'], { stdio: 'inherit' });
  process.on('exit', () => preview.kill());
  process.on('SIGINT', () => process.exit(0));
}
const page = readFileSync(new URL('./index.html', import.meta.url), 'utf8').replaceAll('OS_ORIGIN', OS);
createServer((_req, res) => {
  res.setHeader('content-type', 'text/html');
  res.end(page);
}).listen(PORT, 'localhost', () => console.log(`\n  host page: http://localhost:${PORT}/  (embeds ${OS}/embed.html)\n`));
