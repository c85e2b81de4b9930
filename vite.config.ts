import { defineConfig } from 'vite';

export default defineConfig({
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
