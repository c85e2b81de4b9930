/**
 * The kernel's entry point. As a SharedWorker every tab of the origin connects
 * to this one kernel; as a dedicated Worker (where SharedWorker is missing, or
 * when ?kernel=dedicated forces it) the page that created it is its only tab.
 */
import { bootKernel } from '../kernel/boot';
import { bootMark } from '../kernel/boot-trace';

bootMark('worker.eval');

import type { Endpoint } from '../kernel/kernel';

// The process table and grants persist across sessions; storage opens now, so the previous
// session (processes, episodes) is back before any tab is served.
// Only the one shared kernel of the origin keeps the process table: dedicated kernels (one per tab,
// where SharedWorker is missing) would overwrite each other's.
const kernel = bootKernel({
  persist: 'onconnect' in globalThis,
  // Who may embed is the kernel's to read (a page's frame is not trusted to clamp itself): the deployment's list.
  embedPolicy: async () => {
    const url = new URL(`${import.meta.env?.BASE_URL ?? '/'}embed-policy.json`, location.origin);
    const res = await fetch(url, { cache: 'no-cache' });
    return res.ok ? res.json() : null;
  },
});
bootMark('kernel.made');
const attach = (port: Endpoint) => {
  bootMark('tab.connect');
  void kernel.ready.then(() => kernel.attachTab(port));
};
const scope = globalThis as unknown as {
  onconnect: ((ev: MessageEvent) => void) | null;
  postMessage?: unknown;
};

if ('onconnect' in globalThis) {
  scope.onconnect = (ev: MessageEvent) => {
    const port = ev.ports[0];
    if (port) attach(port); // messages wait in the port until then
  };
} else {
  // A worker's own scope drops messages nobody listens for: keep them until the kernel is ready.
  const self = globalThis as unknown as Endpoint & { onmessage: ((ev: MessageEvent) => void) | null };
  const early: MessageEvent[] = [];
  self.onmessage = (ev) => early.push(ev);
  void kernel.ready.then(() => {
    kernel.attachTab(self);
    for (const ev of early.splice(0)) self.onmessage?.(ev);
  });
}

// A kernel must outlive anything an agent sends; log what escapes instead of dying silently.
globalThis.addEventListener('unhandledrejection', (e) => {
  console.error('[kernel] unhandled rejection', (e as PromiseRejectionEvent).reason);
  e.preventDefault();
});
