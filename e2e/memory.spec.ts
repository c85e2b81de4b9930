/** Hierarchical memory in real IndexedDB, in Chromium. */
import { expect, test } from '@playwright/test';
import { expectTerminal, openOS, program, typeCommand } from './os';

test('long-term memory and the episodic log survive closing every tab', async ({ context }) => {
  const a = await context.newPage();
  await openOS(a);
  const src = program(`
    const mine = await ctx.memory.remember('the launch code is in the blue folder', { metadata: { topic: 'launch' } });
    const team = await ctx.memory.remember('standup moved to 9:30 on Tuesdays', { namespace: 'team' });
    await ctx.print(JSON.stringify({ mine, team }));`);
  const first = await a.evaluate(async (src) => {
    const k = window.agentos!;
    const pid = await k.spawn('rememberer', { memoryWrite: ['team'], memoryRead: ['team'] }, { source: src });
    await k.wait(pid, 10_000);
    return { pid, ids: JSON.parse(await k.output(pid)) as { mine: number; team: number } };
  }, src);
  await a.close();
  await new Promise((r) => setTimeout(r, 500));

  const b = await context.newPage();
  await openOS(b);
  const after = await b.evaluate(async () => {
    const k = window.agentos!;
    const stats = await k.call<{ processes: number }>('stats');
    const recalled = await k.call<{ id: number; namespace: string; text: string }[]>('memory.recall', {
      query: 'where is the launch code?',
      namespaces: ['*'],
      k: 1,
    });
    const team = await k.call<{ text: string }[]>('memory.recall', {
      query: 'when is standup',
      namespaces: ['team'],
      k: 1,
    });
    const newPid = await k.spawn('say new session');
    await k.wait(newPid, 10_000);
    const logs = await k.call<{ pid: number; kind: string; t: number }[]>('logs', { limit: 1000 });
    return { stats, recalled, team, newPid, logs };
  });
  // A new kernel, whose pids carry on after the previous session's (so logs never mix two agents)…
  expect(after.stats.processes).toBe(0);
  expect(after.newPid).toBe(first.pid + 1);
  // …with the memories and the earlier session's episodes.
  expect(after.recalled[0]).toMatchObject({
    id: first.ids.mine,
    namespace: `agent:${first.pid}`,
    text: 'the launch code is in the blue folder',
  });
  expect(after.team[0]!.text).toBe('standup moved to 9:30 on Tuesdays');
  const kinds = after.logs.map((l) => `${l.pid}:${l.kind}`);
  expect(kinds.indexOf(`${first.pid}:memory.write`)).toBeGreaterThanOrEqual(0);
  expect(kinds.lastIndexOf(`${after.newPid}:spawn`)).toBeGreaterThan(kinds.indexOf(`${first.pid}:exit`));
  const ts = after.logs.map((l) => l.t);
  expect([...ts].sort((x, y) => x - y)).toEqual(ts);
});

test('namespaces: an agent cannot read another’s private memory, nor write a namespace it may only read', async ({
  page,
}) => {
  await openOS(page);
  const owner = program(
    `await ctx.print(String(await ctx.memory.remember('my secret plan is to refactor everything'))); return 0;`,
  );
  const snoop = program(`
    const r = {};
    r.direct = await ctx.memory.recall('secret plan', { namespaces: ['agent:' + ctx.args.owner] }).then(() => 'OK', (e) => e.code);
    r.star = await ctx.memory.recall('secret plan', { namespaces: ['*'] }).then(() => 'OK', (e) => e.code);
    r.own = (await ctx.memory.recall('secret plan')).filter((h) => h.text.includes('secret')).length;
    r.get = await ctx.syscall('memory.get', { ids: [ctx.args.id] }).then(() => 'OK', (e) => e.code);
    r.forget = await ctx.memory.forget(ctx.args.id).then(() => 'OK', (e) => e.code);
    r.teamRead = (await ctx.memory.recall('shared notes', { namespaces: ['team'] })).length;
    r.teamWrite = await ctx.memory.remember('x', { namespace: 'team' }).then(() => 'OK', (e) => e.code);
    await ctx.print(JSON.stringify(r));`);
  const r = await page.evaluate(
    async ({ owner, snoop }) => {
      const k = window.agentos!;
      await k.call('memory.remember', { items: [{ text: 'shared notes for the team', namespace: 'team' }] });
      const o = await k.spawn('owner', undefined, { source: owner });
      await k.wait(o, 10_000);
      const id = Number(await k.output(o));
      const s = await k.spawn('snoop', { memoryRead: ['team'] }, { source: snoop, args: { owner: o, id } });
      await k.wait(s, 10_000);
      const denials = (await k.call<{ pid: number; kind: string }[]>('logs', { pid: s })).filter(
        (l) => l.kind === 'deny',
      );
      return { out: JSON.parse(await k.output(s)), denials: denials.length };
    },
    { owner, snoop },
  );
  expect(r.out).toEqual({
    direct: 'EPERM',
    star: 'EPERM',
    own: 0,
    get: 'EPERM',
    forget: 'EPERM',
    teamRead: 1,
    teamWrite: 'EPERM',
  });
  expect(r.denials).toBeGreaterThanOrEqual(3);
});

test('a renderer killed in the middle of a burst of writes: every acknowledged memory is there and the index agrees with the store', async ({
  context,
}) => {
  const page = await context.newPage();
  await openOS(page);
  const writer = program(`
    for (let i = 0; i < 400; i++) {
      const items = Array.from({ length: 25 }, (_, j) => ({ text: 'burst item unique' + (i * 25 + j) + ' ' + 'payload '.repeat(20) }));
      const ids = await ctx.memory.rememberMany(items);
      await ctx.print(ids[0] + ':' + ids[ids.length - 1] + ':' + i + '\\n');
    }`);
  await page.evaluate((src) => window.agentos!.spawn('writer', undefined, { source: src }), writer);
  await expect
    .poll(() => page.evaluate(() => window.agentos!.output(1).then((o) => o.split('\n').length)), {
      timeout: 20_000,
    })
    .toBeGreaterThan(8);
  const acked = (await page.evaluate(() => window.agentos!.output(1)))
    .trim()
    .split('\n')
    .map((l) => l.split(':').map(Number) as [number, number, number]);
  const cdp = await context.newCDPSession(page);
  // Page.crash never answers (the renderer is gone): do not wait for it.
  void cdp.send('Page.crash').catch(() => {});
  await page.waitForEvent('crash', { timeout: 10_000 });
  await page.close().catch(() => {});
  await new Promise((r) => setTimeout(r, 500));

  const again = await context.newPage();
  await openOS(again);
  const check = await again.evaluate(async (acked) => {
    const k = window.agentos!;
    const ids: number[] = [];
    for (const [lo, hi] of acked) for (let id = lo; id <= hi; id++) ids.push(id);
    const got = await k.call<({ text: string } | null)[]>('memory.get', { ids });
    const storage = await k.call<{ memories: number; indexed: number }>('memory.storage', {});
    const probe = await k.call<{ text: string }[]>('memory.recall', {
      query: `unique${acked[0]![2] * 25 + 3}`,
      namespaces: ['*'],
      k: 1,
    });
    return {
      wanted: ids.length,
      missing: got.filter((g) => g === null).length,
      storage,
      probe: probe[0]?.text ?? '',
    };
  }, acked);
  expect(check.wanted).toBeGreaterThanOrEqual(8 * 25);
  expect(check.missing).toBe(0);
  expect(check.storage.indexed).toBe(check.storage.memories);
  expect(check.probe.startsWith(`burst item unique${acked[0]![2] * 25 + 3} `)).toBe(true);
});

test('compression keeps an agent within its budget across a long conversation, and moves what it replaced to the episodic log', async ({
  page,
}) => {
  await openOS(page);
  const talker = program(`
    const budget = 400;
    let maxAfter = 0, compressions = 0, appended = 0;
    await ctx.memory.shortTerm.append({ role: 'system', content: 'You are a patient assistant.' }, true);
    appended++;
    for (let turn = 0; turn < 60; turn++) {
      await ctx.memory.shortTerm.append({ role: 'user', content: 'question ' + turn + ' about the kernel and its many subsystems' });
      const { entries } = await ctx.memory.shortTerm.list();
      const answer = await ctx.llm.chat.completions.create({ model: 'deterministic-fast', messages: entries.map((e) => e.message), max_tokens: 20 });
      await ctx.memory.shortTerm.append({ role: 'assistant', content: answer.choices[0].message.content });
      appended += 2;
      const { tokens } = await ctx.memory.shortTerm.list();
      if (tokens > budget) { await ctx.memory.shortTerm.compress(Math.floor(budget * 0.6)); compressions++; }
      maxAfter = Math.max(maxAfter, (await ctx.memory.shortTerm.list()).tokens);
    }
    const left = (await ctx.memory.shortTerm.list()).entries.filter((e) => !String(e.message.content).startsWith('Summary of earlier')).length;
    await ctx.print(JSON.stringify({ maxAfter, compressions, appended, left }));`);
  const r = await page.evaluate(async (src) => {
    const k = window.agentos!;
    const pid = await k.spawn('talker', undefined, { source: src });
    const exit = await k.wait(pid, 30_000);
    const logs = await k.call<{ kind: string; data?: { replaced: { content: string }[] } }[]>('logs', {
      pid,
      kind: 'memory.compress',
      limit: 10_000,
    });
    const replaced = logs
      .flatMap((l) => l.data!.replaced)
      .filter((m) => !String(m.content).startsWith('Summary of earlier')).length;
    return { exit, out: JSON.parse(await k.output(pid)), replaced };
  }, talker);
  expect(r.exit.exitCode).toBe(0);
  expect(r.out.compressions).toBeGreaterThan(2);
  expect(r.out.maxAfter).toBeLessThanOrEqual(400);
  // Nothing lost, only moved down: every original turn is either still in context or in the log.
  expect(r.replaced + r.out.left).toBe(r.out.appended);
});

test('terminal: remember, recall with scores, forget', async ({ page }) => {
  await openOS(page);
  await typeCommand(page, 'remember the printer on floor 3 is broken');
  await expectTerminal(page, /remembered #\d+ in user/);
  await typeCommand(page, 'remember --ns team lunch is at noon');
  await typeCommand(page, 'recall printer broken');
  await expectTerminal(page, /#1\s+0\.\d{3}\s+user\s+the printer on floor 3 is broken/);
  await typeCommand(page, 'forget #1');
  await expectTerminal(page, 'forgot #1');
  await typeCommand(page, 'recall --ns user printer');
  await expectTerminal(page, '(nothing found)');
});

test('switching the embedder re-indexes in the background with progress; recall works throughout and after', async ({
  page,
}) => {
  await openOS(page);
  const r = await page.evaluate(async () => {
    const k = window.agentos!;
    const items = Array.from({ length: 2000 }, (_, i) => ({ text: `fact ${i} about subject${i % 50}` }));
    await k.call('memory.remember', { items });
    const start = await k.call<{ from: string; to: string; state: string }>('memory.embedder', {
      id: 'hash-256-v1',
    });
    const seen: { done: number; total: number; state: string }[] = [];
    const during = await k.call<{ text: string }[]>('memory.recall', { query: 'fact 1234', k: 1 });
    for (let i = 0; i < 200; i++) {
      const s = await k.call<{ reindex: { done: number; total: number; state: string } }>(
        'memory.storage',
        {},
      );
      seen.push(s.reindex);
      if (s.reindex.state !== 'running') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const after = await k.call<{ text: string }[]>('memory.recall', { query: 'fact 1234', k: 1 });
    const storage = await k.call<{ embedder: string; indexed: number; memories: number }>(
      'memory.storage',
      {},
    );
    const again = await k.call('memory.embedder', { id: 'hash-256-v1' }).then(
      () => 'OK',
      (e: { code: string }) => e.code,
    );
    const unknown = await k.call('memory.embedder', { id: 'magic' }).then(
      () => 'OK',
      (e: { code: string }) => e.code,
    );
    return { start, seen, during: during[0]?.text, after: after[0]?.text, storage, again, unknown };
  });
  expect(r.start).toMatchObject({ from: 'hash-384-v1', to: 'hash-256-v1', state: 'running' });
  expect(r.during).toBe('fact 1234 about subject34');
  expect(r.seen.at(-1)).toMatchObject({ state: 'done', done: 2000, total: 2000 });
  // Progress was reported along the way, not only at the end.
  expect(r.seen.some((s) => s.state === 'running' && s.done > 0 && s.done < 2000)).toBe(true);
  expect(r.after).toBe('fact 1234 about subject34');
  expect(r.storage).toMatchObject({ embedder: 'hash-256-v1', indexed: 2000, memories: 2000 });
  expect(r.again).toBe('EINVAL');
  expect(r.unknown).toBe('ENOENT');
});

test('an embedder hosted in an engine worker (the path transformers.js takes) re-indexes and recalls', async ({
  page,
}) => {
  await openOS(page);
  const r = await page.evaluate(async () => {
    const k = window.agentos!;
    await k.call('memory.remember', {
      items: Array.from({ length: 300 }, (_, i) => ({ text: `hosted note ${i} about topic${i % 9}` })),
    });
    await k.call('memory.embedder', { id: 'hosted:hash-192-v1' });
    let s = await k.call<{ reindex: { state: string; done: number; error?: string }; embedder: string }>(
      'memory.storage',
      {},
    );
    for (let i = 0; i < 200 && s.reindex.state === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 25));
      s = await k.call('memory.storage', {});
    }
    await k.call('memory.remember', { items: [{ text: 'embedded in the worker after the switch' }] });
    const hits = await k.call<{ text: string }[]>('memory.recall', { query: 'hosted note 123', k: 1 });
    const fresh = await k.call<{ text: string }[]>('memory.recall', {
      query: 'embedded worker switch',
      k: 1,
    });
    return { s, top: hits[0]?.text, fresh: fresh[0]?.text, engines: k.hostedEngines().length };
  });
  expect(r.s.reindex).toMatchObject({ state: 'done', done: 300 });
  expect(r.s.embedder).toBe('hash-192-v1');
  expect(r.top).toBe('hosted note 123 about topic6');
  expect(r.fresh).toBe('embedded in the worker after the switch');
  expect(r.engines).toBe(1);
});
