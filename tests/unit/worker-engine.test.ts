/** WorkerEngine: a load whose host goes away mid-download fails (with the host's code) instead of hanging. */
import { describe, expect, it } from 'vitest';
import { WorkerEngine } from '../../src/models/engines/worker-engine';

describe('WorkerEngine.load', () => {
  it('rejects with EIO when its engine fails before it is ready (the host tab closed mid-download)', async () => {
    const ch = new MessageChannel();
    // The engine worker starts downloading and never answers: the tab closes during the download.
    ch.port2.onmessage = () => {};
    let started: WorkerEngine | null = null;
    const progress: number[] = [];
    const load = WorkerEngine.load(
      ch.port1,
      'webllm',
      {},
      (t) => t.length,
      (p) => progress.push(p.loaded),
      (e) => {
        started = e;
      },
    );
    expect(started).not.toBeNull();
    ch.port2.postMessage({ t: 'progress', progress: { model: 'm', loaded: 5, total: 10 } });
    await new Promise((r) => setTimeout(r, 20));
    started!.fail('its host tab closed');
    await expect(load).rejects.toMatchObject({
      code: 'EIO',
      message: expect.stringMatching(/host tab closed/),
    });
    expect(progress).toEqual([5]);
    ch.port1.close();
    ch.port2.close();
  });

  it('rejects with the code its host gives (EHOSTDOWN when the tab went away)', async () => {
    const ch = new MessageChannel();
    ch.port2.onmessage = () => {};
    let started: WorkerEngine | null = null;
    const load = WorkerEngine.load(
      ch.port1,
      'webllm',
      {},
      (t) => t.length,
      undefined,
      (e) => {
        started = e;
      },
    );
    started!.fail('its host tab abc closed', 'EHOSTDOWN');
    await expect(load).rejects.toMatchObject({
      code: 'EHOSTDOWN',
      message: expect.stringMatching(/abc closed/),
    });
    ch.port1.close();
    ch.port2.close();
  });
});
