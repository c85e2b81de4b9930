// The production build the bench runs on, served on loopback: `vite build` with the bench page
// (AGENTOS_BENCH=1), then `vite preview`, resolved once it answers. Shared by run.mjs and the
// one-off probes (reload-trace.mjs, ab-busy.mjs).
import { spawn, spawnSync } from 'node:child_process';

/** Builds `outDir`; exits the process when the build fails. */
export function buildBench(outDir) {
  const build = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn', '--outDir', outDir], {
    stdio: 'inherit',
    env: { ...process.env, AGENTOS_BENCH: '1' },
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

/** Serves `outDir` on `port`; resolves with its stop once `probe` answers (the server ends with this process too). */
export async function serveBench(outDir, port, probe = '/bench/index.html') {
  const server = spawn(
    'npx',
    ['vite', 'preview', '--port', String(port), '--strictPort', '--outDir', outDir],
    {
      stdio: 'ignore',
      detached: true,
    },
  );
  const stop = () => {
    process.off('exit', stop);
    try {
      process.kill(-server.pid, 'SIGTERM');
    } catch {}
  };
  process.on('exit', stop);
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://localhost:${port}${probe}`)).ok) return stop;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  stop();
  throw new Error(`preview server on ${port} did not start`);
}
