// Injected by bench/run.mjs (reload suite) into a desktop page before its scripts run: the moment the
// desktop sets `window.agentos` (its kernel client, connected), one memory.recall is issued; its answer
// is timed from navigation start. Plain JS: it runs as a Playwright init script, outside the build.
(() => {
  if (!location.search.includes('bench-recall')) return;
  let client;
  window.benchRecall = { done: false };
  Object.defineProperty(window, 'agentos', {
    configurable: true,
    get: () => client,
    set(k) {
      client = k;
      k.call('memory.recall', { query: 'note about topic 42', k: 10, namespaces: ['bench-reload'] }).then(
        (hits) => {
          window.benchRecall = { done: true, ms: performance.now(), hits: hits.length, top: hits[0]?.text };
        },
        (e) => {
          window.benchRecall = { done: true, error: String(e?.message ?? e) };
        },
      );
    },
  });
})();
