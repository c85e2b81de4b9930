import { describe, expect, it } from 'vitest';
import { ContextBudget } from '../../src/models/context-budget';
import { DeterministicEngine } from '../../src/models/engines/deterministic';
import { ModelPool } from '../../src/models/pool';

async function setup(priorities: Record<number, number>, compressSaves = 0) {
  const pool = new ModelPool(2 ** 30);
  pool.register({
    info: new DeterministicEngine({ id: 'm', contextCapacity: 1000 }).info,
    tags: [],
    load: async () => new DeterministicEngine({ id: 'm', contextCapacity: 1000 }),
  });
  await pool.load('m');
  const log: string[] = [];
  const suspended: number[] = [];
  const budget = new ContextBudget(pool, {
    priorityOf: (pid) => priorities[pid] ?? 0,
    suspend: (pid) => void suspended.push(pid),
    compress: async () => compressSaves,
    log: (pid, kind) => void log.push(`${pid}:${kind}`),
  });
  return { pool, budget, log, suspended };
}

describe('allocate_context', () => {
  it('grants what fits and releases on request', async () => {
    const { pool, budget, log } = await setup({});
    const g = await budget.allocate(1, 'm', 600);
    expect(g.tokens).toBe(600);
    expect(pool.free('m')).toBe(400);
    budget.release(g.id);
    expect(pool.free('m')).toBe(1000);
    expect(log).toEqual(['1:context.grant', '1:context.release']);
  });

  it('queue: waits until tokens are released, most urgent first, with timeouts', async () => {
    const { budget, log } = await setup({ 1: 0, 2: 5, 3: -5 });
    const a = await budget.allocate(1, 'm', 800);
    const order: number[] = [];
    const b = budget.allocate(2, 'm', 500, 'queue').then((g) => order.push(g.pid));
    const c = budget.allocate(3, 'm', 500, 'queue').then((g) => order.push(g.pid));
    await expect(budget.allocate(4, 'm', 900, 'queue', 30)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    budget.release(a.id);
    await Promise.all([b, c]);
    expect(order).toEqual([3, 2]);
    expect(log.filter((l) => l.endsWith('context.queue'))).toHaveLength(3);
  });

  it('evict: takes reservations of less urgent agents, suspends them, and gives them back before they resume', async () => {
    const { pool, budget, suspended, log } = await setup({ 1: 10, 2: 5, 3: -10, 4: 15 });
    await budget.allocate(1, 'm', 400);
    await budget.allocate(2, 'm', 400);
    const g = await budget.allocate(3, 'm', 500, 'evict');
    expect(g.tokens).toBe(500);
    // The least urgent (priority 10) went first, and was enough.
    expect(suspended).toEqual([1]);
    expect(log).toContain('1:context.evict');
    // Nothing less urgent than 15 holds anything: refused, nobody evicted.
    await expect(budget.allocate(4, 'm', 300, 'evict')).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(suspended).toEqual([1]);
    // pid 1 wants to resume: it waits for its 400 tokens.
    const back = budget.reacquire(1)!;
    let got = false;
    void back.then(() => (got = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(got).toBe(false);
    budget.releaseAll(3);
    await back;
    expect(
      pool
        .reservations('m')
        .map((r) => r.pid)
        .sort(),
    ).toEqual([1, 2]);
  });

  it('compress: shrinks the agent’s need by what compression saved, else ENOSPC', async () => {
    const ok = await setup({}, 300);
    await ok.budget.allocate(1, 'm', 700);
    const g = await ok.budget.allocate(2, 'm', 600, 'compress');
    expect(g.tokens).toBe(300);
    expect(g.saved).toBe(300);
    expect(ok.log).toContain('2:context.compress');
    const bad = await setup({}, 10);
    await bad.budget.allocate(1, 'm', 700);
    await expect(bad.budget.allocate(2, 'm', 600, 'compress')).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(bad.log).toContain('2:context.deny');
  });

  it('refuses more than the context window, and a second reservation on the same model', async () => {
    const { budget } = await setup({});
    await expect(budget.allocate(1, 'm', 5000)).rejects.toMatchObject({ code: 'EINVAL' });
    await budget.allocate(1, 'm', 10);
    await expect(budget.allocate(1, 'm', 10)).rejects.toMatchObject({ code: 'EINVAL' });
  });
});
