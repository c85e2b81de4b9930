/**
 * Boot: paint the desktop first, then connect to the kernel. `?kernel=dedicated`
 * forces the dedicated-Worker kernel (what browsers without SharedWorker get).
 */
import './desktop';
import './apps/terminal/terminal'; // the one app at boot: part of the first paint
import type { HostingKind } from './agent-frame';
import type { AosDesktop } from './desktop';
import { watchDurability } from './durability';
import { isFramed, showOpenInOwnTab } from './framed';
import { KernelClient, type KernelMode } from './kernel-client';
import { applyTheme, savedTheme } from './theme';
import { webllmHook } from './webllm-hook';

declare global {
  interface Window {
    /** The tab's kernel client, for the devtools console and for tests. */
    agentos?: KernelClient;
    agentosWebLLM?: typeof webllmHook;
  }
}

window.agentosWebLLM = webllmHook;

applyTheme(savedTheme());
const desktop = document.querySelector('aos-desktop') as AosDesktop;
const flag = new URLSearchParams(location.search).get('kernel');
const mode: KernelMode | 'auto' = flag === 'dedicated' || flag === 'shared' ? flag : 'auto';
// `?host=0`: this tab runs no agent or engine workers (a desktop that only watches and controls).
const host = new URLSearchParams(location.search).get('host') !== '0';
// `?hosting=worker`: agents in plain workers, sealed only from inside (for comparison; see agent-frame.ts).
const hosting: HostingKind =
  new URLSearchParams(location.search).get('hosting') === 'worker' ? 'worker' : 'frame';

// Framed by another page: no kernel, no prompts (framed.ts).
if (isFramed()) showOpenInOwnTab();
else {
  performance.mark('page:connect');
  KernelClient.connect({ mode, host, hosting }).then(
    (client) => {
      window.agentos = client;
      desktop.client = client;
      watchDurability(client, (text) => desktop.notify(text));
      // The terminal is usable from here on: what boot_interactive_ms measures.
      performance.mark('agentos:interactive');
      desktop.status = `kernel: ${client.mode === 'shared' ? 'shared worker' : 'dedicated worker'} · ready`;
      document.documentElement.dataset.kernel = client.mode;
      // Memories should survive storage pressure: ask once (Chromium decides by engagement or installation).
      void navigator.storage?.persist?.().catch(() => false);
      void registerServiceWorker(client);
    },
    (e: unknown) => {
      desktop.status = `kernel failed to start: ${(e as Error).message ?? e}`;
    },
  );
}

/**
 * The service worker (production builds): the app shell works offline after the first visit. A new
 * version waits until the user accepts it from the taskbar, since reloading ends this tab's agents.
 */
async function registerServiceWorker(client: KernelClient): Promise<void> {
  if (import.meta.env.DEV || !('serviceWorker' in navigator)) return;
  const { registerSW } = await import('virtual:pwa-register');
  const update = registerSW({
    onNeedRefresh() {
      desktop.pendingUpdate = {
        agents: client.hostedPids().length,
        apply: () => void update(true),
      };
    },
    onOfflineReady() {
      document.documentElement.dataset.offlineReady = 'true';
    },
  });
}
