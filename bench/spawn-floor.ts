/**
 * What a spawn cannot go below when its agent runs in a sandboxed frame (src/shell/agent-frame.ts):
 * a bare Worker started inside a fresh sandboxed, opaque-origin iframe, placed where the agent
 * frames are, timed from creating the iframe to the worker's echo reaching this page. And a way to
 * hold the agents' frame process alive: Chromium puts every sandboxed frame of one site in one
 * renderer process (IsolateSandboxedIframes, per-site grouping) and ends that process when its last
 * frame goes, so a spawn with no frame left in the tab also waits for a process to start.
 */

const ECHO_WORKER = 'onmessage = (e) => postMessage(e.data)';

/** The floor frame's document: starts a bare worker from a blob:, echoes once, tells the parent. */
const FLOOR_DOC = `<!doctype html><script>
const w = new Worker(URL.createObjectURL(new Blob([${JSON.stringify(ECHO_WORKER)}], { type: 'text/javascript' })));
w.onmessage = () => parent.postMessage('echo', '*');
w.postMessage(1);
</script>`;

/** Where the agent frames live (agent-frame.ts makes it hidden): the floor's frames go there too, so they are placed alike. */
function agentBox(): HTMLElement {
  const box = document.querySelector<HTMLElement>('[data-agent-frames]');
  if (!box) throw new Error('no agent frames yet: spawn one before timing the frame floor');
  return box;
}

function sandboxedFrame(srcdoc: string): HTMLIFrameElement {
  const f = document.createElement('iframe');
  f.setAttribute('sandbox', 'allow-scripts');
  f.srcdoc = srcdoc;
  return f;
}

/** ms from a fresh sandboxed frame's creation to its bare worker's echo reaching this page. */
export async function frameWorkerStart(): Promise<number> {
  const t = performance.now();
  const f = sandboxedFrame(FLOOR_DOC);
  const echoed = new Promise<void>((resolve) => {
    const on = (e: MessageEvent) => {
      if (e.source !== f.contentWindow || e.data !== 'echo') return;
      removeEventListener('message', on);
      resolve();
    };
    addEventListener('message', on);
  });
  agentBox().append(f);
  await echoed;
  const ms = performance.now() - t;
  f.remove();
  return ms;
}

/** ms for a bare Worker in this page: created, one echo (the baseline). */
export async function bareWorkerStart(url: string): Promise<number> {
  const t = performance.now();
  const w = new Worker(url);
  await new Promise((r) => {
    w.onmessage = r;
    w.postMessage(1);
  });
  const ms = performance.now() - t;
  w.terminate();
  return ms;
}

export function echoWorkerUrl(): string {
  return URL.createObjectURL(new Blob([ECHO_WORKER], { type: 'text/javascript' }));
}

/**
 * Keeps the agents' frame process alive with an empty sandboxed frame (no worker, no agent) until
 * the returned function is called and resolves once it has loaded.
 */
export async function holdFrameProcess(): Promise<() => void> {
  const f = sandboxedFrame('<!doctype html>');
  const loaded = new Promise((r) => f.addEventListener('load', r, { once: true }));
  agentBox().append(f);
  await loaded;
  return () => f.remove();
}
