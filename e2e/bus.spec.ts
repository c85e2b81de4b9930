/** The message bus between real agent workers, through the kernel. */
import { expect, test } from '@playwright/test';
import { openOS, program } from './os';

test('agents talk through the kernel: request/reply, pub/sub, binary payloads moved, true senders, ACL', async ({
  page,
}) => {
  await openOS(page);
  const server = program(`
    await ctx.bus.register('echo');
    await ctx.bus.subscribe('news');
    for (let i = 0; i < 3; i++) {
      const m = await ctx.bus.recv({ timeoutMs: 10000 });
      if (m.correlation) {
        const body = m.body instanceof ArrayBuffer ? { bytes: m.body.byteLength, first: new Uint8Array(m.body)[0] } : { echo: m.body };
        await ctx.bus.reply(m.correlation, { ...body, from: m.from });
      } else await ctx.print('news from ' + m.from + ': ' + m.body + '\\n');
    }`);
  const client = program(`
    await new Promise((r) => setTimeout(r, 200));
    const a = await ctx.bus.request('echo', 'hi', 5000);
    const buf = new Uint8Array(1 << 20); buf[0] = 42;
    const b = await ctx.syscall('bus.request', { to: 'echo', body: buf.buffer, timeoutMs: 5000 });
    const pub = await ctx.bus.publish('news', 'fresh');
    const denied = await ctx.bus.send(ctx.args.stranger, 'psst').then(() => 'OK', (e) => e.code);
    const badTopic = await ctx.bus.publish('secrets', 'x').then(() => 'OK', (e) => e.code);
    await ctx.print(JSON.stringify({ a: a.body, aFrom: a.from, b: b.body, pub, denied, badTopic, me: ctx.pid }));`);
  const r = await page.evaluate(
    async ({ server, client }) => {
      const k = window.agentos!;
      const stranger = await k.spawn('stranger', undefined, {
        source: 'export default () => new Promise(() => {})',
      });
      const s = await k.spawn('server', { bus: ['family', 'name:echo', 'topic:news'] }, { source: server });
      const c = await k.spawn(
        'client',
        { bus: ['name:echo', 'topic:news'] },
        { source: client, args: { stranger } },
      );
      const ce = await k.wait(c, 15_000);
      const se = await k.wait(s, 15_000);
      await k.kill(stranger, 'KILL');
      const denials = (await k.call<{ kind: string }[]>('logs', { pid: c })).filter(
        (l) => l.kind === 'deny',
      ).length;
      return { ce, se, client: JSON.parse(await k.output(c)), server: await k.output(s), s, c, denials };
    },
    { server, client },
  );
  expect(r.ce.exitCode).toBe(0);
  expect(r.se.exitCode).toBe(0);
  expect(r.client.a).toEqual({ echo: 'hi', from: r.c });
  expect(r.client.aFrom).toBe(r.s);
  expect(r.client.b).toEqual({ bytes: 1 << 20, first: 42, from: r.c });
  expect(r.client.pub).toEqual({ delivered: 1, dropped: 0 });
  expect(r.client.denied).toBe('EPERM');
  expect(r.client.badTopic).toBe('EPERM');
  expect(r.server).toBe(`news from ${r.c}: fresh\n`);
  expect(r.denials).toBe(2);
});

test('send_many packed through the kernel: same envelopes in order, binary batches structured, a hostile sender’s garbage refused with EPROTO, the kernel unharmed', async ({
  page,
}) => {
  await openOS(page);
  // The receiver takes 2,000 packed messages, a structured batch and singles, then what a hostile sender made.
  const receiver = program(`
    const got = [];
    while (got.length < 2000 + 2 + 2) for (const m of await ctx.bus.recvMany({ max: 1024, timeoutMs: 10000 })) got.push(m);
    const okOrder = got.slice(0, 2000).every((m, i) => m.body.i === i && m.body.s === 'é\\u{1F600}' + i && m.body.deep.a[0].b === null);
    const seqUp = got.every((m, i) => i === 0 || m.seq > got[i - 1].seq);
    const binary = got[2000].body instanceof Uint8Array && got[2000].body[0] === 7 && Object.is(got[2001].body, -0);
    const envelope = got[0];
    const singles = got.slice(2002).map((m) => m.body);
    // From the hostile sender: one good message, then garbage (not JSON, a __proto__ key) dropped.
    const good = await ctx.bus.recvMany({ max: 3, timeoutMs: 10000 });
    const after = await ctx.bus.recv({ timeoutMs: 10000 }).then((m) => 'OK ' + JSON.stringify(m.body), (e) => e.code + ' ' + e.message);
    // A receive that does not unpack (the raw syscall) gets envelopes decoded by the kernel.
    const raw = await ctx.syscall('bus.recv', { timeoutMs: 10000 });
    const rawBad = await ctx.syscall('bus.recv', { timeoutMs: 10000 }).then(() => 'OK', (e) => e.code);
    await ctx.print(JSON.stringify({ n: got.length, okOrder, seqUp, binary, envelope: { ...envelope, t: typeof envelope.t }, singles,
      good: good.map((m) => [m.from, m.body]), after, raw: [raw.from, raw.body, raw.topic], rawBad }));`);
  const sender = program(`
    const to = ctx.args.to;
    const msgs = Array.from({ length: 2000 }, (_, i) => ({ i, s: 'é\\u{1F600}' + i, deep: { a: [{ b: null }] } }));
    for (let i = 0; i < msgs.length; ) {
      try { i += await ctx.bus.sendMany(to, msgs.slice(i, i + 256)); }
      catch (e) { if (e.code !== 'EAGAIN') throw e; await new Promise((r) => setTimeout(r, 5)); }
    }
    await ctx.bus.sendMany(to, [new Uint8Array([7]), -0]);
    await ctx.bus.send(to, 'single 1');
    await ctx.bus.send(to, 'single 2');`);
  const hostile = program(`
    const to = ctx.args.to;
    const call = (args) => ctx.syscall('bus.send_many', args).then((r) => 'sent ' + r.sent, (e) => e.code);
    const shape = [
      await call({ to, text: '1,2', ends: [2, 3] }),
      await call({ to, text: '1,2', ends: [1, 2] }),
      await call({ to, text: '1', ends: [1], bodies: [1] }),
      await call({ to, text: '', ends: [] }),
    ];
    const good = await call({ to, text: '{"ok":1},{bad,{"__proto__":{"x":1}}', ends: [8, 13, 35] });
    const raw = await call({ to, text: '"plain"', ends: [7] });
    const rawBad = await call({ to, text: 'nope', ends: [4] });
    await ctx.print(JSON.stringify({ shape, good, raw, rawBad }));`);
  const r = await page.evaluate(
    async ({ receiver, sender, hostile }) => {
      const k = window.agentos!;
      const rx = await k.spawn('receiver', undefined, { source: receiver });
      const tx = await k.spawn('sender', { bus: ['*'] }, { source: sender, args: { to: rx } });
      const txExit = await k.wait(tx, 30_000);
      // The hostile sender starts once the receiver has taken all of the first sender's messages.
      for (let i = 0; i < 600; i++) {
        if ((await k.ps()).find((p) => p.pid === rx)?.mailbox === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const tx2 = await k.spawn('hostile', { bus: ['*'] }, { source: hostile, args: { to: rx } });
      const exits = [txExit, await k.wait(tx2, 30_000), await k.wait(rx, 30_000)];
      const alive = await k.call('getpid', {});
      return {
        exits: exits.map((e) => e.exitCode),
        rx: JSON.parse(await k.output(rx)),
        tx2: JSON.parse(await k.output(tx2)),
        ids: { rx, tx, tx2 },
        alive,
      };
    },
    { receiver, sender, hostile },
  );
  expect(r.exits).toEqual([0, 0, 0]);
  expect(r.rx.n).toBe(2004);
  expect(r.rx.okOrder).toBe(true);
  expect(r.rx.seqUp).toBe(true);
  expect(r.rx.binary).toBe(true);
  expect(r.rx.envelope).toEqual({
    seq: expect.any(Number),
    from: r.ids.tx,
    to: r.ids.rx,
    topic: null,
    body: { i: 0, s: 'é\u{1F600}0', deep: { a: [{ b: null }] } },
    correlation: null,
    inReplyTo: null,
    t: 'number',
  });
  expect(r.rx.singles).toEqual(['single 1', 'single 2']);
  expect(r.tx2.shape).toEqual(['EINVAL', 'EINVAL', 'EINVAL', 'EINVAL']);
  expect(r.tx2.good).toBe('sent 3');
  expect(r.rx.good).toEqual([[r.ids.tx2, { ok: 1 }]]);
  expect(r.rx.after).toMatch(/^EPROTO EPROTO: 2 messages from process \d+ were not a valid bus message/);
  expect(r.rx.raw).toEqual([r.ids.tx2, 'plain', null]);
  expect(r.rx.rawBad).toBe('EPROTO');
  expect(r.alive).toEqual({ pid: 0, ppid: 0 });
});

test('a hostile agent’s raw batched frames: each call inside is checked and answered alone, garbage and nested batches refused, an oversized batch runs nothing', async ({
  page,
}) => {
  await openOS(page);
  const hostile = program(`
    let port = null;
    const post = MessagePort.prototype.postMessage;
    MessagePort.prototype.postMessage = function (...a) { port = this; return post.apply(this, a); };
    await ctx.syscall('getpid');
    MessagePort.prototype.postMessage = post;
    const got = {};
    const sdk = port.onmessage;
    const take = (f) => { if (f && f.t === 'ret' && f.id >= 1e9) got[f.id] = f.ok ? 'ok ' + JSON.stringify(f.value) : f.error.code; else return false; return true; };
    port.onmessage = (ev) => {
      const d = ev.data;
      if (d && d.t === 'rets') { const rest = d.frames.filter((f) => !take(f)); if (rest.length) sdk({ data: { t: 'rets', frames: rest } }); }
      else if (!take(d)) sdk(ev);
    };
    port.postMessage({ t: 'calls', frames: [
      { t: 'call', id: 1e9, name: 'getpid', args: {} },
      'garbage',
      { t: 'calls', frames: [{ t: 'call', id: 1e9 + 9, name: 'getpid', args: {} }] },
      { t: 'call', id: 1e9 + 1, name: 'no.such.call', args: {} },
      { t: 'call', id: 1e9 + 2, name: 'bus.send', args: { to: ctx.pid, body: 'x', extra: 1 } },
      { t: 'call', id: '1e9+3', name: 'getpid' },
    ] });
    port.postMessage({ t: 'calls', frames: Array.from({ length: 5000 }, (_, i) => ({ t: 'call', id: 2e9 + i, name: 'getpid', args: {} })) });
    const after = await ctx.syscall('getpid');
    await new Promise((r) => setTimeout(r, 300));
    await ctx.print(JSON.stringify({ got, after }));`);
  const r = await page.evaluate(async (source) => {
    const k = window.agentos!;
    const pid = await k.spawn('hostile', undefined, { source });
    const exit = await k.wait(pid, 20_000);
    return {
      pid,
      exit: exit.exitCode,
      out: JSON.parse(await k.output(pid)),
      alive: await k.call('getpid', {}),
    };
  }, hostile);
  expect(r.exit).toBe(0);
  expect(r.out.after.pid).toBe(r.pid);
  expect(r.out.got).toEqual({
    [1e9]: `ok ${JSON.stringify(r.out.after)}`,
    [1e9 + 1]: 'ENOSYS',
    [1e9 + 2]: 'EINVAL',
  });
  expect(r.alive).toEqual({ pid: 0, ppid: 0 });
});
