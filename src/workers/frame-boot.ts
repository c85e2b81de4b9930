/**
 * The only script of a sandboxed agent frame's document (src/shell/agent-frame.ts).
 * The agent's code is in the same document, as inert JSON text (a script element
 * of a type the browser does not run, so the CSP has nothing to allow): this
 * script starts the agent's worker from it while the document is still being
 * parsed, without waiting for the host (a frame starts its worker as early as
 * it can). Then it takes a control port from its parent (once), hands the worker
 * its kernel port through it (with the times of its phases, for the spawn
 * benchmark's breakdown), tells the host it is ready once the worker has loaded,
 * and answers the host's liveness pings. Its SHA-256
 * goes into the frame's CSP (computed at build time by src/build/agent-bundle.ts),
 * so it is the one inline script the frame may run.
 */
export const FRAME_BOOT = `(() => {
  const now = () => performance.timeOrigin + performance.now();
  const marks = { nav: performance.timeOrigin, script: now() };
  const code = JSON.parse(document.getElementById('agent').textContent);
  const worker = new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })), { name: 'agent' });
  marks.worker = now();
  let ctl = null, early = null, loaded = false;
  // Ready once it has its control port and its worker has loaded the agent's code (which says so once,
  // before it is sealed): the host's pool makes no spare beside a spawn's frame until then.
  const ready = () => { if (ctl && loaded) ctl.postMessage({ t: 'ready' }); };
  worker.onmessage = (e) => { if (e.data && e.data.t === 'loaded') { loaded = true; worker.onmessage = null; ready(); } };
  const report = (message) => { if (ctl) ctl.postMessage({ t: 'error', message }); else early ??= message; };
  worker.onerror = (ev) => { ev.preventDefault(); report(String(ev.message || 'uncaught error')); };
  worker.onmessageerror = () => report('message could not be deserialized');
  addEventListener('message', (e) => {
    const m = e.data;
    if (ctl || e.source !== parent || !m || m.t !== 'ctl' || !(m.ctl instanceof MessagePort)) return;
    ctl = m.ctl;
    marks.ctl = now();
    ctl.onmessage = (c) => {
      const d = c.data;
      if (d && d.t === 'ping') ctl.postMessage({ t: 'pong', n: d.n });
      else if (d && d.t === 'init' && d.port instanceof MessagePort) worker.postMessage({ t: 'init', port: d.port, source: d.source, marks: { ...d.marks, ...marks, relay: now() } }, [d.port]);
    };
    ready();
    if (early !== null) ctl.postMessage({ t: 'error', message: early });
  });
})();`;
