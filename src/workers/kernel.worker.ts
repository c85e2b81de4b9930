/**
 * The kernel's entry point. As a SharedWorker every tab of the origin connects
 * to this one kernel; as a dedicated Worker (where SharedWorker is missing, or
 * when ?kernel=dedicated forces it) the page that created it is its only tab.
 */
import { type Endpoint, Kernel } from '../kernel/kernel';

const kernel = new Kernel();
// Open storage now, so earlier sessions' episodes are back before anyone asks.
kernel.memory().catch((e: unknown) => console.warn('[kernel] memory unavailable:', e));
const scope = globalThis as unknown as {
  onconnect: ((ev: MessageEvent) => void) | null;
  postMessage?: unknown;
};

if ('onconnect' in globalThis) {
  scope.onconnect = (ev: MessageEvent) => {
    const port = ev.ports[0];
    if (port) kernel.attachTab(port);
  };
} else {
  kernel.attachTab(globalThis as unknown as Endpoint);
}

// A kernel must outlive anything an agent sends; log what escapes instead of dying silently.
globalThis.addEventListener('unhandledrejection', (e) => {
  console.error('[kernel] unhandled rejection', (e as PromiseRejectionEvent).reason);
  e.preventDefault();
});
