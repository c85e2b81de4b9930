/**
 * The only script of a sandboxed agent frame's document (src/shell/agent-frame.ts).
 * It takes the agent's code and a control port from its parent (once), starts
 * the agent's worker from that code, hands the worker its kernel port, and
 * answers the host's liveness pings. Its SHA-256 goes into the frame's CSP
 * (computed at build time by src/build/agent-bundle.ts), so it is the one inline
 * script the frame may run.
 */
export const FRAME_BOOT = `(() => {
  let worker = null, ctl = null;
  addEventListener('message', (e) => {
    const m = e.data;
    if (ctl || e.source !== parent || !m || m.t !== 'code' || !(m.ctl instanceof MessagePort)) return;
    ctl = m.ctl;
    const url = URL.createObjectURL(new Blob([m.code], { type: 'text/javascript' }));
    worker = new Worker(url, { name: 'agent' });
    worker.onerror = (ev) => { ev.preventDefault(); ctl.postMessage({ t: 'error', message: String(ev.message || 'uncaught error') }); };
    worker.onmessageerror = () => ctl.postMessage({ t: 'error', message: 'message could not be deserialized' });
    ctl.onmessage = (c) => {
      const d = c.data;
      if (d && d.t === 'ping') ctl.postMessage({ t: 'pong', n: d.n });
      else if (d && d.t === 'init' && d.port instanceof MessagePort) worker.postMessage({ t: 'init', port: d.port }, [d.port]);
    };
    ctl.postMessage({ t: 'ready' });
  });
})();`;
