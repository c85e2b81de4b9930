/** Many frames per port message: the SDK's calls of one turn go out together, the kernel's immediate answers come back together. */
import { describe, expect, it } from 'vitest';
import { SysError } from '../../src/abi/errors';
import { MAX_FRAMES_PER_MESSAGE } from '../../src/abi/protocol';
import { type PortLike, SyscallClient } from '../../src/abi/syscall-client';
import { CorkedPort, framesOf } from '../../src/kernel/frame-batch';

/** A port that records what is posted, and can refuse to clone what holds a function (as a browser does). */
class FakePort implements PortLike {
  posted: unknown[] = [];
  onmessage: ((ev: MessageEvent) => void) | null = null;
  postMessage(message: unknown): void {
    if (JSON.stringify(message, (_k, v) => (typeof v === 'function' ? '\u0000fn' : v)).includes('\\u0000fn'))
      throw new DOMException('could not be cloned', 'DataCloneError');
    this.posted.push(message);
  }
  /** Delivers a frame to the client, as the kernel's answer. */
  answer(data: unknown): void {
    this.onmessage?.({ data } as MessageEvent);
  }
}

const turn = () => new Promise((r) => setTimeout(r, 0));

describe('frame batching', () => {
  it("the SDK sends the calls of one turn as one message, in order, and takes a 'rets' message apart", async () => {
    const port = new FakePort();
    const sys = new SyscallClient(port);
    sys.batchFrames = true;
    const calls = [sys.call('a', { n: 1 }), sys.call('b', { n: 2 }), sys.call('c', { n: 3 })];
    expect(port.posted).toEqual([]); // gathered until the turn's microtasks are done
    await Promise.resolve();
    expect(port.posted).toEqual([
      {
        t: 'calls',
        frames: [
          { t: 'call', id: 1, name: 'a', args: { n: 1 } },
          { t: 'call', id: 2, name: 'b', args: { n: 2 } },
          { t: 'call', id: 3, name: 'c', args: { n: 3 } },
        ],
      },
    ]);
    port.answer({
      t: 'rets',
      frames: [
        { t: 'ret', id: 2, ok: true, value: 'two' },
        { t: 'ret', id: 1, ok: true, value: 'one' },
        { t: 'ret', id: 3, ok: false, error: { code: 'EAGAIN', message: 'EAGAIN: full' } },
      ],
    });
    expect(await calls[0]).toBe('one');
    expect(await calls[1]).toBe('two');
    await expect(calls[2]).rejects.toMatchObject({ code: 'EAGAIN' });
    // A lone call goes as a plain frame.
    void sys.call('d');
    await turn();
    expect(port.posted.at(-1)).toEqual({ t: 'call', id: 4, name: 'd', args: {} });
  });

  it('a call the browser cannot clone fails alone with its error; the others of its turn still go', async () => {
    const port = new FakePort();
    const sys = new SyscallClient(port);
    sys.batchFrames = true;
    const good = sys.call('a', { n: 1 });
    const bad = sys.call('b', { f: () => 1 }).catch((e: unknown) => e);
    const good2 = sys.call('c', { n: 3 });
    await turn();
    expect(await bad).toMatchObject({ name: 'DataCloneError' });
    expect(port.posted).toEqual([
      { t: 'call', id: 1, name: 'a', args: { n: 1 } },
      { t: 'call', id: 3, name: 'c', args: { n: 3 } },
    ]);
    port.answer({ t: 'ret', id: 1, ok: true, value: 1 });
    port.answer({ t: 'ret', id: 3, ok: true, value: 3 });
    expect([await good, await good2]).toEqual([1, 3]);
  });

  it('tabs (batchFrames off) send one message per call, as before', async () => {
    const port = new FakePort();
    const sys = new SyscallClient(port);
    void sys.call('a');
    void sys.call('b');
    expect(port.posted.length).toBe(2);
  });

  it("the kernel's corked port answers a batch in one 'rets' message; later answers go alone; an answer that cannot be cloned becomes its call's error", () => {
    const port = new FakePort();
    const c = new CorkedPort(port);
    c.corked(() => {
      c.postMessage({ t: 'ret', id: 1, ok: true, value: 1 });
      c.postMessage({ t: 'ret', id: 2, ok: true, value: 2 });
    });
    expect(port.posted).toEqual([
      {
        t: 'rets',
        frames: [
          { t: 'ret', id: 1, ok: true, value: 1 },
          { t: 'ret', id: 2, ok: true, value: 2 },
        ],
      },
    ]);
    c.postMessage({ t: 'ret', id: 3, ok: true, value: 3 });
    expect(port.posted.at(-1)).toEqual({ t: 'ret', id: 3, ok: true, value: 3 });
    port.posted = [];
    c.corked(() => {
      c.postMessage({ t: 'ret', id: 4, ok: true, value: 4 });
      c.postMessage({ t: 'ret', id: 5, ok: true, value: () => 5 });
    });
    expect(port.posted[0]).toEqual({ t: 'ret', id: 4, ok: true, value: 4 });
    expect(port.posted[1]).toMatchObject({ t: 'ret', id: 5, ok: false, error: { code: 'EIO' } });
    // Something thrown while corked still sends what was gathered.
    port.posted = [];
    expect(() =>
      c.corked(() => {
        c.postMessage({ t: 'ret', id: 6, ok: true, value: 6 });
        throw new SysError('EIO', 'kernel bug');
      }),
    ).toThrow('kernel bug');
    expect(port.posted).toEqual([{ t: 'ret', id: 6, ok: true, value: 6 }]);
  });

  it("only a well-formed 'calls' message is one: anything else is a plain frame, an oversized batch runs nothing", () => {
    expect(framesOf({ t: 'call', id: 1, name: 'x' })).toBeNull();
    expect(framesOf(null)).toBeNull();
    expect(framesOf('calls')).toBeNull();
    expect(framesOf({ t: 'calls', frames: [1, 2] })).toEqual([1, 2]);
    expect(framesOf({ t: 'calls', frames: 'nope' })).toEqual([]);
    expect(framesOf({ t: 'calls', frames: new Array(MAX_FRAMES_PER_MESSAGE + 1).fill(0) })).toEqual([]);
  });
});
