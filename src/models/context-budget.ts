/**
 * allocate_context: an agent reserves tokens of context on its model. When the
 * model has too few free, the policy decides — chosen per call or globally:
 *   compress  summarise the agent's own short-term memory so it needs less;
 *   evict     take reservations from less urgent agents, which are suspended (not killed)
 *             and get their reservation back, queued, before they resume;
 *   queue     wait until tokens are released.
 * Every decision goes to the episodic log.
 */

import { SysError } from '../abi/errors';
import type { EpisodeKind } from '../memory/episodic';
import type { ModelPool, Reservation } from './pool';

export type ContextPolicy = 'compress' | 'evict' | 'queue';
export const CONTEXT_POLICIES: readonly ContextPolicy[] = ['compress', 'evict', 'queue'];

export interface ContextHooks {
  /** Current priority of a process (nice value). */
  priorityOf(pid: number): number;
  /** Suspend a process whose reservation was taken. */
  suspend(pid: number, why: string): void;
  /** Compress a process's short-term memory to at most `target` tokens; returns tokens saved. */
  compress(pid: number, model: string, target: number): Promise<number>;
  log(pid: number, kind: EpisodeKind, text: string, data?: unknown): void;
}

export interface Grant extends Reservation {
  policy: ContextPolicy | null;
  /** Tokens the compress policy saved, when it ran. */
  saved?: number;
}

interface Waiter {
  pid: number;
  model: string;
  tokens: number;
  priority: number;
  seq: number;
  resolve(r: Grant): void;
  reject(e: unknown): void;
  timer: ReturnType<typeof setTimeout> | null;
}

export class ContextBudget {
  defaultPolicy: ContextPolicy = 'queue';
  private waiters: Waiter[] = [];
  private seq = 0;
  /** Reservations taken by eviction, to be given back before their owner resumes. */
  private readonly evicted = new Map<number, { model: string; tokens: number }>();

  constructor(
    private readonly pool: ModelPool,
    private readonly hooks: ContextHooks,
  ) {}

  async allocate(
    pid: number,
    model: string,
    tokens: number,
    policy: ContextPolicy = this.defaultPolicy,
    timeoutMs?: number,
  ): Promise<Grant> {
    if (this.pool.reservations().some((r) => r.pid === pid && r.model === model)) {
      throw new SysError(
        'EINVAL',
        `process ${pid} already holds a reservation on ${model}; release it first`,
      );
    }
    const window = this.pool.info(model).contextWindow;
    if (tokens > window)
      throw new SysError('EINVAL', `${tokens} tokens exceed ${model}'s context window of ${window}`);
    const priority = this.hooks.priorityOf(pid);
    const free = this.pool.free(model);
    // Fits now: granted, unless it would overtake others already queued for this model.
    if (tokens <= free && (policy !== 'queue' || !this.waiters.some((w) => w.model === model))) {
      return this.grant(pid, model, tokens, priority, null);
    }

    if (policy === 'compress') {
      const saved = await this.hooks.compress(pid, model, Math.max(0, free));
      const need = tokens - saved;
      if (need <= this.pool.free(model)) {
        this.hooks.log(
          pid,
          'context.compress',
          `compressed short-term memory by ${saved} tokens to fit ${model}`,
          { asked: tokens, saved },
        );
        return { ...this.grant(pid, model, need, priority, 'compress'), saved };
      }
      return this.deny(
        pid,
        model,
        tokens,
        `compression saved ${saved} tokens; still ${need} needed, ${this.pool.free(model)} free`,
      );
    }

    if (policy === 'evict') {
      const victims = this.pool
        .reservations(model)
        .filter((r) => this.hooks.priorityOf(r.pid) > priority)
        .sort((a, b) => this.hooks.priorityOf(b.pid) - this.hooks.priorityOf(a.pid) || b.tokens - a.tokens);
      const chosen: Reservation[] = [];
      let avail = free;
      for (const v of victims) {
        if (avail >= tokens) break;
        chosen.push(v);
        avail += v.tokens;
      }
      if (avail < tokens)
        return this.deny(
          pid,
          model,
          tokens,
          `evicting every less urgent agent would free ${avail - free}; ${tokens - free} needed`,
        );
      for (const v of chosen) {
        this.pool.release(v.id);
        this.evicted.set(v.pid, { model, tokens: v.tokens });
        this.hooks.suspend(v.pid, `context reservation of ${v.tokens} tokens evicted for process ${pid}`);
        this.hooks.log(
          v.pid,
          'context.evict',
          `lost ${v.tokens} tokens on ${model} to process ${pid} (priority ${priority}); suspended`,
          {
            by: pid,
            tokens: v.tokens,
          },
        );
      }
      return this.grant(pid, model, tokens, priority, 'evict');
    }

    // queue
    this.hooks.log(pid, 'context.queue', `waiting for ${tokens} tokens on ${model} (${free} free)`, {
      tokens,
      free,
    });
    return new Promise<Grant>((resolve, reject) => {
      const w: Waiter = { pid, model, tokens, priority, seq: this.seq++, resolve, reject, timer: null };
      if (timeoutMs !== undefined) {
        w.timer = setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          this.hooks.log(
            pid,
            'context.deny',
            `gave up waiting for ${tokens} tokens on ${model} after ${timeoutMs} ms`,
          );
          reject(new SysError('ETIMEDOUT', `no ${tokens} tokens free on ${model} within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.waiters.push(w);
      this.drain(model);
    });
  }

  private grant(
    pid: number,
    model: string,
    tokens: number,
    priority: number,
    policy: ContextPolicy | null,
  ): Grant {
    const r = this.pool.reserve(pid, model, tokens, priority);
    this.hooks.log(
      pid,
      'context.grant',
      `reserved ${tokens} tokens on ${model}${policy ? ` (${policy})` : ''}`,
      { id: r.id, tokens, policy },
    );
    return { ...r, policy };
  }

  private deny(pid: number, model: string, tokens: number, why: string): never {
    this.hooks.log(pid, 'context.deny', `no ${tokens} tokens on ${model}: ${why}`);
    throw new SysError('ENOSPC', `no ${tokens} tokens of context on ${model}: ${why}`);
  }

  release(id: number): Reservation | null {
    const r = this.pool.release(id);
    if (r) {
      this.hooks.log(r.pid, 'context.release', `released ${r.tokens} tokens on ${r.model}`);
      this.drain(r.model);
    }
    return r;
  }

  /** On exit: free everything the process held or waited for. */
  releaseAll(pid: number): void {
    this.evicted.delete(pid);
    for (const w of this.waiters.filter((x) => x.pid === pid)) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(new SysError('ECANCELED', 'process exited'));
    }
    this.waiters = this.waiters.filter((x) => x.pid !== pid);
    const freed = this.pool.releaseAll(pid);
    for (const model of new Set(freed.map((r) => r.model))) this.drain(model);
  }

  /** A process evicted earlier wants to resume: it waits (queued) for its reservation first. */
  reacquire(pid: number): Promise<Grant> | null {
    const ev = this.evicted.get(pid);
    if (!ev) return null;
    this.evicted.delete(pid);
    return this.allocate(pid, ev.model, ev.tokens, 'queue');
  }

  queued(): { pid: number; model: string; tokens: number }[] {
    return this.waiters.map(({ pid, model, tokens }) => ({ pid, model, tokens }));
  }

  /** Grants queued requests, most urgent first, while tokens allow. */
  private drain(model: string): void {
    const q = this.waiters
      .filter((w) => w.model === model)
      .sort((a, b) => a.priority - b.priority || a.seq - b.seq);
    for (const w of q) {
      if (w.tokens > this.pool.free(model)) break; // no overtaking: the head waits for its tokens
      this.waiters = this.waiters.filter((x) => x !== w);
      if (w.timer) clearTimeout(w.timer);
      try {
        w.resolve(this.grant(w.pid, w.model, w.tokens, w.priority, 'queue'));
      } catch (e) {
        w.reject(e);
      }
    }
  }
}
