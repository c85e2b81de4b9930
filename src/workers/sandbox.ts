/**
 * Seals an agent worker before its program runs: the second layer. The first
 * is the sandboxed frame the worker lives in (src/shell/agent-frame.ts): an
 * opaque origin owns no storage, and the frame's own CSP closes the network,
 * whatever this file does. This layer is what holds where agents run in plain
 * workers (`?hosting=worker`). There, CSP (agent-policy.ts) closes
 * the network, but not what every worker of the origin shares: IndexedDB,
 * Cache Storage, OPFS, BroadcastChannel, Web Locks. Those, the network APIs
 * (defence in depth where a host serves no CSP) and nested workers are replaced,
 * on the global object and every prototype that defines them, by
 * non-configurable getters that throw EPERM. A worker has no other realm to
 * fetch pristine copies from (no iframes, no ShadowRealm), and the originals
 * are referenced nowhere else, so they cannot be recovered. The agent's only
 * line out is its MessagePort to the kernel, held inside the SDK.
 */
import { SysError } from '../abi/errors';

/** Globals an agent may not touch, each reachable from the global scope. */
const SEALED_GLOBALS = [
  'fetch',
  'XMLHttpRequest',
  'WebSocket',
  'WebSocketStream',
  'EventSource',
  'WebTransport',
  'importScripts',
  'indexedDB',
  'IDBFactory',
  'caches',
  'CacheStorage',
  'BroadcastChannel',
  'Worker',
  'SharedWorker',
  'FileSystemHandle',
  'FileSystemDirectoryHandle',
  'FileSystemFileHandle',
  'FileSystemSyncAccessHandle',
  'webkitRequestFileSystem',
  'webkitRequestFileSystemSync',
  'postMessage', // the host gave its port away; agents reach the page only through syscalls
  // Fonts load from URLs (font-src), outside fetch.
  'FontFace',
  'fonts',
  // GPU memory is the model pool's: an agent gets inference through the kernel, not a device.
  'GPU',
  'GPUAdapter',
  'GPUDevice',
  // Storage buckets are IndexedDB, caches and OPFS again, under other names.
  'StorageBucketManager',
  'StorageBucket',
  // Other ways out that take a URL or a peer.
  'RTCPeerConnection',
  'RTCDataChannel',
  'WebTransportBidirectionalStream',
] as const;

/** navigator members: Web Locks, storage (OPFS, persistence, buckets) are shared by the whole origin. */
const SEALED_NAVIGATOR = [
  'locks',
  'storage',
  'storageBuckets',
  'serviceWorker',
  'gpu',
  'ml',
  'hid',
  'usb',
  'serial',
  'bluetooth',
  'sendBeacon',
] as const;

function denied(name: string): never {
  throw new SysError('EPERM', `${name} is not available to agents: use the kernel's syscalls`);
}

/** Replaces `name` on `obj` and each prototype above it that defines it. */
function sealProperty(obj: object, name: string, label: string): boolean {
  let sealed = false;
  for (let o: object | null = obj; o; o = Object.getPrototypeOf(o)) {
    const d = Object.getOwnPropertyDescriptor(o, name);
    if (!d) continue;
    if (!d.configurable) {
      // Cannot be replaced: make sure it is at least not usable.
      if ('value' in d && d.writable) (o as Record<string, unknown>)[name] = undefined;
      continue;
    }
    Object.defineProperty(o, name, {
      get: () => denied(label),
      set: () => denied(label),
      configurable: false,
      enumerable: false,
    });
    sealed = true;
  }
  return sealed;
}

/** Seals the scope; returns what it sealed (for the kernel's log and the tests). */
export function sealAgentScope(scope: object = globalThis): string[] {
  const done: string[] = [];
  for (const name of SEALED_GLOBALS) if (sealProperty(scope, name, name)) done.push(name);
  const nav = (scope as { navigator?: object }).navigator;
  if (nav)
    for (const name of SEALED_NAVIGATOR)
      if (sealProperty(nav, name, `navigator.${name}`)) done.push(`navigator.${name}`);
  return done;
}
