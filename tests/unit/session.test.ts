/**
 * Session state across kernel restarts (IndexedDB, here fake-indexeddb): it never waits for
 * long-term memory, whose embedder may need a tab to host it.
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import type { HostCommand } from '../../src/abi/protocol';
import { bootKernel } from '../../src/kernel/boot';
import { openStore } from '../../src/memory/store';
import { boot } from './harness';

describe('session state', () => {
  it('a persisted kernel whose memory uses a tab-hosted embedder is ready before any tab; memory opens once a tab can host it', async () => {
    // A first session: one agent ran; the user had chosen a transformers.js embedder.
    const h = await boot({ hello: (ctx) => ctx.print('hi') }, { persist: true });
    await h.kernel.ready;
    const { pid } = await h.user.call<{ pid: number }>('spawn', {
      task: 'say hi',
      options: { program: 'hello' },
    });
    await h.user.call('wait', { pid, timeoutMs: 5000 });
    await h.kernel.flushState();
    const db = await openStore();
    await db.put('kv', 'transformers:agentos-tiny', 'ltm.embedder');
    h.close();

    // The next session: no tab has connected yet, and `ready` (what tabs wait for) resolves anyway.
    const k = bootKernel({ persist: true, locks: null });
    await k.ready;
    expect(k.tabs.size).toBe(0);
    expect(k.procs.find(pid)?.info.task).toBe('say hi');

    // A host tab says hello: the kernel asks it to host the embedder memory needs.
    const ch = new MessageChannel();
    k.attachTab(ch.port1);
    const asked = new Promise<string>((resolve) => {
      ch.port2.onmessage = (ev) => {
        const f = ev.data as HostCommand;
        if (f.t === 'host.engine') resolve(f.key);
      };
    });
    ch.port2.postMessage({ t: 'hello', tabId: 'tab-2', lock: null, host: true, version: 1 });
    expect(await asked).toMatch(/^embedder:transformers#/);
    ch.port1.close();
    ch.port2.close();
  });
});
