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
