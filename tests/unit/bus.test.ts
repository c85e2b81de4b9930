import { describe, expect, it } from 'vitest';
import { SysError } from '../../src/abi/errors';
import { MessageBus } from '../../src/kernel/bus';

const code = async (p: unknown) => {
  try {
    await p;
    return 'OK';
  } catch (e) {
    return e instanceof SysError ? e.code : 'THROWN';
  }
};

describe('message bus', () => {
  it('recv_many takes the queue in order in one go, letting waiting senders in as room is made, up to max', async () => {
    const bus = new MessageBus(4);
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 10; i++) {
      const r = bus.send(1, 9, i, { wait: true });
      if (r) waits.push(r);
    }
    expect(bus.depth(9)).toBe(4); // six senders wait for room
    const first = await bus.recvMany(9, 7);
    expect(first.map((e) => e.body)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const rest = await bus.recvMany(9, 100);
    expect(rest.map((e) => e.body)).toEqual([7, 8, 9]);
    await Promise.all(waits); // every waiting sender was let in
    expect(bus.depth(9)).toBe(0);
  });

  it('delivers in each sender’s order, stamped with the true sender', async () => {
    const bus = new MessageBus();
    for (let i = 0; i < 5; i++) void bus.send(1, 9, { n: i });
    void bus.send(2, 9, 'from two');
    const got = [];
    for (let i = 0; i < 6; i++) got.push(await bus.recv(9));
    expect(got.filter((e) => e.from === 1).map((e) => (e.body as { n: number }).n)).toEqual([0, 1, 2, 3, 4]);
    expect(got.find((e) => e.from === 2)!.body).toBe('from two');
    expect(bus.depth(9)).toBe(0);
  });

  it('recv waits, filters by sender and topic, and times out with ETIMEDOUT', async () => {
    const bus = new MessageBus();
    const waiting = bus.recv(3, { from: 7 });
    void bus.send(6, 3, 'not this one');
    void bus.send(7, 3, 'this one');
    expect(((await waiting) as { body: unknown }).body).toBe('this one');
    expect(await code(bus.recv(3, { timeoutMs: 20, from: 99 }))).toBe('ETIMEDOUT');
    expect(await code(Promise.resolve().then(() => bus.recv(4, { timeoutMs: 0 })))).toBe('EAGAIN');
  });

  it('a full mailbox refuses with EAGAIN, or makes a waiting sender wait for room (order kept)', async () => {
    const bus = new MessageBus(2);
    void bus.send(1, 5, 'a');
    void bus.send(1, 5, 'b');
    expect(await code(Promise.resolve().then(() => bus.send(1, 5, 'c')))).toBe('EAGAIN');
    const blocked = bus.send(1, 5, 'c', { wait: true });
    expect(await code(bus.send(2, 5, 'x', { wait: true, timeoutMs: 20 }))).toBe('ETIMEDOUT');
    expect(((await bus.recv(5)) as { body: unknown }).body).toBe('a');
    await blocked;
    expect([(await bus.recv(5)).body, (await bus.recv(5)).body]).toEqual(['b', 'c']);
  });

  it('send_many takes what fits, in order, and recv_many drains in one call', async () => {
    const bus = new MessageBus(4);
    expect(bus.sendMany(1, 5, ['a', 'b', 'c'])).toBe(3);
    expect(bus.sendMany(1, 5, ['d', 'e', 'f'])).toBe(1); // the box holds 4
    expect(await code(Promise.resolve().then(() => bus.sendMany(1, 5, ['g'])))).toBe('EAGAIN');
    void bus.send(2, 5, 'from two', { wait: true });
    const got = await bus.recvMany(5, 3);
    expect(got.map((e) => e.body)).toEqual(['a', 'b', 'c']);
    // Room made: the waiting sender got in behind the rest.
    expect((await bus.recvMany(5, 10)).map((e) => e.body)).toEqual(['d', 'from two']);
    const later = bus.recvMany(5, 10, { timeoutMs: 1000 });
    bus.sendMany(3, 5, [1, 2]);
    expect((await later).map((e) => e.body)).toEqual([1, 2]);
    expect(await code(Promise.resolve().then(() => bus.sendMany(1, 5, [])))).toBe('EINVAL');
  });

  it('publish reaches subscribers (not the publisher); a full subscriber misses it without blocking', async () => {
    const bus = new MessageBus(1);
    bus.subscribe(1, 'news');
    bus.subscribe(2, 'news');
    bus.subscribe(3, 'news');
    void bus.send(9, 3, 'filler');
    expect(bus.publish(1, 'news', 'hello')).toEqual({ delivered: 1, dropped: 1 });
    expect(await bus.recv(2, { topic: 'news' })).toMatchObject({ from: 1, topic: 'news', body: 'hello' });
    bus.unsubscribe(2, 'news');
    expect(bus.publish(1, 'news', 'again')).toEqual({ delivered: 0, dropped: 1 });
  });

  it('request/reply by correlation id; only the addressee may answer; timeouts and exits end requests', async () => {
    const bus = new MessageBus();
    const answer = bus.request(1, 2, 'ping', 1000);
    const req = await bus.recv(2);
    expect(req.correlation).toBeTruthy();
    expect(() => bus.reply(3, req.correlation!, 'forged')).toThrow(/EPERM/);
    bus.reply(2, req.correlation!, 'pong');
    expect(await answer).toMatchObject({ from: 2, body: 'pong', inReplyTo: req.correlation });
    expect(() => bus.reply(2, req.correlation!, 'twice')).toThrow(/ENOENT/);
    expect(await code(bus.request(1, 2, 'slow', 20))).toBe('ETIMEDOUT');
    const orphan = bus.request(1, 4, 'hello?', 1000);
    bus.exit(4);
    expect(await code(orphan)).toBe('ESRCH');
  });

  it('names: register, resolve, one owner, gone on exit', () => {
    const bus = new MessageBus();
    bus.register(5, 'indexer');
    expect(bus.resolve('indexer')).toBe(5);
    expect(() => bus.register(6, 'indexer')).toThrow(/EAGAIN/);
    bus.exit(5);
    expect(() => bus.resolve('indexer')).toThrow(/ENOENT/);
  });
});
