/** Packed send_many batches: the SDK packs, the kernel forwards unparsed, the receiver unpacks hostile text safely. */
import { describe, expect, it } from 'vitest';
import {
  type BusItem,
  isRun,
  type PackedRun,
  pack,
  runShapeError,
  unpackItems,
  unpackRun,
} from '../../src/abi/bus-pack';
import { SysError } from '../../src/abi/errors';
import type { Envelope } from '../../src/abi/protocol';
import { MessageBus } from '../../src/kernel/bus';
import { BusClient } from '../../src/workers/bus-client';

const code = async (p: unknown) => {
  try {
    await p;
    return 'OK';
  } catch (e) {
    return e instanceof SysError ? e.code : 'THROWN';
  }
};

/** A run as the kernel would forward it, from what a (possibly hostile) sender posted. */
const run = (text: string, ends: number[], from = 7): PackedRun => ({
  packed: 1,
  seq: 100,
  from,
  to: 9,
  t: 1,
  text,
  ends,
});

const deep = (n: number): unknown => {
  let v: unknown = 0;
  for (let i = 0; i < n; i++) v = [v];
  return v;
};

describe('packed bus batches', () => {
  it('a packed batch unpacks to the same bodies, in order, with the envelope the kernel would stamp', () => {
    const bodies = [
      { i: 1, s: 'héllo \u{1F600} "quoted" \\ back', nested: { a: [1, 2, { b: null }] } },
      'plain',
      '\ud800 lone surrogate',
      0.1 + 0.2,
      1e300,
      -5,
      true,
      null,
      [],
      {},
      Object.assign(Object.create(null), { nullProto: 1 }),
      deep(32),
    ];
    const p = pack(bodies)!;
    expect(p).not.toBeNull();
    expect(runShapeError(p.text, p.ends, 1024)).toBeNull();
    const { envelopes, bad, error } = unpackRun(run(p.text, p.ends));
    expect(bad).toBe(0);
    expect(error).toBeNull();
    expect(envelopes.map((e) => e.body)).toEqual(bodies);
    expect(envelopes.map((e) => e.seq)).toEqual(bodies.map((_, i) => 100 + i));
    expect(envelopes[0]).toEqual({
      seq: 100,
      from: 7,
      to: 9,
      topic: null,
      body: bodies[0],
      correlation: null,
      inReplyTo: null,
      t: 1,
    });
  });

  it('bodies a JSON text would not carry exactly are not packed (they go structured, checked by the kernel as before)', () => {
    const withProto = JSON.parse('{"__proto__": {"x": 1}}') as unknown;
    for (const b of [
      new Uint8Array(4),
      new ArrayBuffer(2),
      Number.NaN,
      Number.POSITIVE_INFINITY,
      -0,
      undefined,
      [undefined],
      { u: undefined },
      new Date(0),
      new Map(),
      () => 1,
      { constructor: 1 },
      withProto,
      deep(33),
      10n,
    ])
      expect(pack([{ ok: 1 }, b])).toBeNull();
  });

  it("the kernel's shape check refuses ends that do not cut the text into messages", () => {
    expect(runShapeError('1,2', [1, 3], 1024)).toBeNull();
    expect(runShapeError('1,2', [], 1024)).toMatch(/no messages/);
    expect(runShapeError('1,2', [1, 3], 1)).toMatch(/exceed/);
    expect(runShapeError('1,2', [2, 3], 1024)).toMatch(/ends\[0\]/); // not at a ','
    expect(runShapeError('1,2', [1, 2], 1024)).toMatch(/ends\[1\]/); // last is not the end
    expect(runShapeError('1,2', [1, 1], 1024)).toMatch(/ends\[1\]/); // empty message
    expect(runShapeError('1,2', [1, 9], 1024)).toMatch(/ends\[1\]/);
    expect(runShapeError('1,2', [1.5, 3], 1024)).toMatch(/ends\[0\]/);
    expect(runShapeError('', [0], 1024)).toMatch(/ends\[0\]/);
  });

  it('garbage from a hostile sender is dropped with EPROTO; the good messages around it keep their order', () => {
    // Message 2 is not JSON, message 3 has a forbidden key, message 4 nests too deep, 1 and 5 are fine.
    const parts = ['{"a":1}', '{"a":', '{"__proto__":{"polluted":1}}', JSON.stringify(deep(40)), '"five"'];
    let at = 0;
    const ends = parts.map((p) => {
      at += p.length;
      const e = at;
      at++;
      return e;
    });
    const r = unpackRun(run(parts.join(','), ends));
    expect(r.envelopes.map((e) => [e.seq, e.body])).toEqual([
      [100, { a: 1 }],
      [104, 'five'],
    ]);
    expect(r.bad).toBe(3);
    expect(r.error?.code).toBe('EPROTO');
    expect(r.error?.message).toMatch(/3 messages from process 7 were not a valid bus message/);
    expect(({} as { polluted?: number }).polluted).toBeUndefined();
    // Nothing at all that decodes: still only a typed error, whatever the bytes.
    for (const text of ['\u0000\uffff', ']]]', '['.repeat(200_000), '"unterminated', '1 2'])
      expect(unpackRun(run(text, [text.length])).error?.code).toBe('EPROTO');
  });

  it('a sender that hides two values in one message cannot make a run decode to another count', () => {
    // "1,2" declared as one message (the kernel sees no ',' at a boundary problem: it checks only its ends).
    const r = unpackRun(run('1,2,3', [3, 5]));
    expect(r.envelopes.map((e) => e.body)).toEqual([3]);
    expect(r.bad).toBe(1);
  });

  it('mailbox: a packed batch is taken as far as the mailbox holds, in order with single sends, split where recv_many stops', async () => {
    const bus = new MessageBus(5);
    void bus.send(1, 9, 'first');
    const p = pack([0, 1, 2, 3, 4, 5])!;
    expect(bus.sendPacked(1, 9, p.text, p.ends)).toBe(4); // the box holds 5
    expect(bus.depth(9)).toBe(5);
    expect(await code(Promise.resolve().then(() => bus.sendPacked(1, 9, p.text, p.ends)))).toBe('EAGAIN');
    const a = await bus.recvItems(9, 3);
    expect(unpackItems(a).envelopes.map((e) => e.body)).toEqual(['first', 0, 1]);
    expect(bus.depth(9)).toBe(2);
    const q = pack(['x', 'y'])!;
    expect(bus.sendPacked(2, 9, q.text, q.ends)).toBe(2);
    void bus.send(1, 9, 'last');
    expect(bus.depth(9)).toBe(5);
    const b = unpackItems(await bus.recvItems(9, 100)).envelopes;
    expect(b.map((e) => [e.from, e.body])).toEqual([
      [1, 2],
      [1, 3],
      [2, 'x'],
      [2, 'y'],
      [1, 'last'],
    ]);
    // seq increases per sender in delivery order.
    const ones = b.filter((e) => e.from === 1).map((e) => e.seq);
    expect([...ones].sort((x, y) => x - y)).toEqual(ones);
    expect(bus.depth(9)).toBe(0);
  });

  it('mailbox bytes hold for packed batches: counted by their text, E2BIG for one message over the mailbox, partial when nearly full', async () => {
    const bus = new MessageBus(1000);
    const refused: string[] = [];
    bus.limits = { bytes: () => 100, refused: (_from, text) => refused.push(text) };
    const big = pack(['x'.repeat(60)])!; // 62 chars: 124 bytes
    expect(await code(Promise.resolve().then(() => bus.sendPacked(1, 9, big.text, big.ends)))).toBe('E2BIG');
    expect(refused.at(-1)).toMatch(/mailboxBytes/);
    const p = pack(['a'.repeat(18), 'b'.repeat(18), 'c'.repeat(18)])!; // 20 chars (40 bytes) each
    expect(bus.sendPacked(1, 9, p.text, p.ends)).toBe(2); // 82 bytes; a third would make 124
    expect(await code(Promise.resolve().then(() => bus.sendPacked(1, 9, p.text, p.ends)))).toBe('EAGAIN');
    expect(unpackItems(await bus.recvItems(9, 1)).envelopes.map((e) => e.body)).toEqual(['a'.repeat(18)]);
    const rest = pack(['c'.repeat(18)])!;
    expect(bus.sendPacked(1, 9, rest.text, rest.ends)).toBe(1);
    expect(unpackItems(await bus.recvItems(9, 10)).envelopes.map((e) => e.body)).toEqual([
      'b'.repeat(18),
      'c'.repeat(18),
    ]);
  });

  it('filters: a topic receive never takes packed messages, a sender filter does; recv decodes in the kernel for receivers that do not unpack', async () => {
    const bus = new MessageBus();
    const p = pack([{ n: 1 }, { n: 2 }])!;
    bus.sendPacked(4, 9, p.text, p.ends);
    void bus.send(5, 9, 'news', { topic: 'news' });
    expect((await bus.recv(9, { topic: 'news' })).body).toBe('news');
    expect(await code(Promise.resolve().then(() => bus.recv(9, { from: 3, timeoutMs: 0 })))).toBe('EAGAIN');
    const one = await bus.recv(9, { from: 4 });
    expect([one.body, one.from, one.topic]).toEqual([{ n: 1 }, 4, null]);
    expect((await bus.recvMany(9, 10)).map((e) => e.body)).toEqual([{ n: 2 }]);
    // A waiting receive takes a packed batch whole the moment it arrives.
    const waiting = bus.recvItems(9, 100);
    const q = pack([1, 2, 3])!;
    bus.sendPacked(4, 9, q.text, q.ends);
    const got = await waiting;
    expect(got.length).toBe(1);
    expect(isRun(got[0]!)).toBe(true);
    // Garbage that reached a receiver which does not unpack: EPROTO from the kernel's decode.
    bus.sendPacked(4, 9, '{bad', [4]);
    expect(await code(Promise.resolve().then(() => bus.recv(9)))).toBe('EPROTO');
  });

  it('put back (a move before a checkpoint): packed runs return to the front, in order', async () => {
    const bus = new MessageBus();
    const p = pack(['a', 'b', 'c'])!;
    bus.sendPacked(1, 9, p.text, p.ends);
    const taken = await bus.recvItems(9, 2);
    void bus.send(2, 9, 'later');
    bus.putBack(9, taken);
    expect(bus.depth(9)).toBe(4);
    expect((await bus.recvMany(9, 10)).map((e) => e.body)).toEqual(['a', 'b', 'c', 'later']);
  });

  it('the SDK packs what it can, and a receive that met garbage returns the good messages, then the next receive throws EPROTO', async () => {
    const calls: { name: string; args: Record<string, unknown> }[] = [];
    let answer: unknown = null;
    const sys = {
      call: <T>(name: string, args?: unknown) => {
        calls.push({ name, args: args as Record<string, unknown> });
        return Promise.resolve((name === 'bus.send_many' ? { sent: 2 } : answer) as T);
      },
    };
    const c = new BusClient(sys);
    expect(await c.sendMany(3, [{ a: 1 }, 'b'])).toBe(2);
    expect(calls[0]!.args).toEqual({ to: 3, text: '{"a":1},"b"', ends: [7, 11] });
    await c.sendMany(3, [{ a: 1 }, new Uint8Array(2)]);
    expect(Object.keys(calls[1]!.args).sort()).toEqual(['bodies', 'to']);
    const good: Envelope = {
      seq: 1,
      from: 2,
      to: 9,
      topic: null,
      body: 'structured',
      correlation: null,
      inReplyTo: null,
      t: 0,
    };
    answer = [good, run('"ok",nope', [4, 9])] satisfies BusItem[];
    const got = await c.recvMany({ max: 10 });
    expect(got.map((e) => e.body)).toEqual(['structured', 'ok']);
    expect(calls.at(-1)!.args).toEqual({ max: 10, packed: true });
    const err = await c.recvMany({ max: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SysError);
    expect((err as SysError).code).toBe('EPROTO');
    answer = run('"fine"', [6]);
    expect((await c.recv()).body).toBe('fine'); // reported once
    answer = run('nope', [4]);
    expect(await code(c.recv())).toBe('EPROTO');
  });
});

describe('all mailboxes together are bounded (KERNEL_HELD_BYTES)', () => {
  it('past the kernel-wide limit sends are EAGAIN whichever mailbox; reading or an exit frees room', async () => {
    const bus = new MessageBus(1000);
    const refused: string[] = [];
    // Each mailbox alone takes 1,000 bytes; all of them together 310.
    bus.limits = { bytes: () => 1000, refused: (_from, text) => refused.push(text) };
    bus.heldLimit = 310;
    const body = 'x'.repeat(50); // 100 bytes as byteSize counts it
    void bus.send(1, 7, body);
    void bus.send(1, 8, body);
    const p = pack([body, body])!;
    expect(bus.sendPacked(1, 9, p.text, p.ends)).toBe(1); // 200 + 104 (its JSON) fits under 310; a second would not
    expect(bus.held.bytes).toBeGreaterThan(200);
    expect(await code(Promise.resolve().then(() => bus.send(2, 10, body)))).toBe('EAGAIN');
    expect(await code(Promise.resolve().then(() => bus.send(2, 10, body, { wait: true })))).toBe('EAGAIN');
    expect(await code(Promise.resolve().then(() => bus.sendPacked(2, 10, p.text, p.ends)))).toBe('EAGAIN');
    expect(refused.join('\n')).toMatch(/its limit for all mailboxes together/);
    // A receiver reads: room again.
    await bus.recvItems(7, 10);
    expect(() => bus.send(2, 10, body)).not.toThrow();
    // An exit gives back what its mailbox held.
    const before = bus.held.bytes;
    bus.exit(8);
    expect(bus.held.bytes).toBe(before - 100);
    bus.exit(7);
    bus.exit(9);
    bus.exit(10);
    expect(bus.held.bytes).toBe(0);
  });
});

describe('the mailboxes of one agent tree are bounded together', () => {
  it('past the tree’s gauge, sends into any of its mailboxes are EAGAIN; another tree’s mailbox still takes them', async () => {
    const bus = new MessageBus(1000);
    const refused: string[] = [];
    const tree = { bytes: 0, max: 250, root: 1 };
    bus.limits = {
      bytes: () => 1000,
      refused: (_from, text) => refused.push(text),
      tree: (pid) => (pid < 10 ? tree : null),
    };
    const body = 'x'.repeat(50); // 100 bytes
    void bus.send(20, 2, body);
    void bus.send(20, 3, body);
    expect(tree.bytes).toBe(200);
    expect(await code(Promise.resolve().then(() => bus.send(20, 4, body)))).toBe('EAGAIN');
    const p = pack([body])!;
    expect(await code(Promise.resolve().then(() => bus.sendPacked(20, 4, p.text, p.ends)))).toBe('EAGAIN');
    expect(refused.join('\n')).toMatch(/the mailboxes of process 1's tree hold 200 B/);
    expect(() => bus.send(20, 11, body)).not.toThrow(); // not in that tree
    await bus.recvItems(2, 10);
    expect(tree.bytes).toBe(100);
    expect(() => bus.send(20, 4, body)).not.toThrow();
    bus.exit(3);
    bus.exit(4);
    expect(tree.bytes).toBe(0);
  });
});
