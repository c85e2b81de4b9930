/**
 * Each agent's short-term memory (its working context), counted with its
 * model's tokenizer, and compressed on demand by summarising the oldest turns
 * with that model; what was replaced goes to the episodic log. Where the
 * kernel keeps its state (durable, issue 15) each memory is also on disk,
 * written before an append or a compression is acknowledged, and read back the
 * first time it is needed after the OS opened again.
 */
import { type ChatMessage, collect } from '../abi/chat';
import { SysError } from '../abi/errors';
import type { EpisodeKind } from '../memory/episodic';
import { messageChars, ShortTermMemory } from '../memory/short-term';
import type { ShortTermStore } from '../memory/short-term-store';
import type { ModelPool } from '../models/pool';
import type { Process, ProcessTable } from './process';

/** What one agent's short-term memory may hold: far past any context window, far short of the kernel's heap. */
export const STM_MAX_ENTRIES = 10_000;
export const STM_MAX_CHARS = 8_000_000;

export interface WorkingMemoryDeps {
  procs: ProcessTable;
  pool: ModelPool;
  log(pid: number, kind: EpisodeKind, text: string, data?: unknown): void;
}

/** The model an agent works with: the one it was started with, else the pool's default. */
export function agentModel(p: Process): string | undefined {
  const a = p.args as { model?: unknown } | null;
  return typeof a?.model === 'string' ? a.model : undefined;
}

export class WorkingMemories {
  private readonly stm = new Map<number, ShortTermMemory>();
  /** Pids whose memory this kernel has already read back from disk (or that started in this kernel). */
  private readonly read = new Set<number>();

  /** `store`: the memories on disk; null where the kernel keeps no state. */
  constructor(
    private readonly d: WorkingMemoryDeps,
    private readonly store: ShortTermStore | null = null,
  ) {}

  /** A process's first life: nothing of it is on disk to read back. */
  fresh(pid: number): void {
    this.read.add(pid);
  }

  /**
   * An agent's memory, read back from disk the first time this kernel needs it
   * (after the OS reopened); never again after, since from then on the
   * kernel's copy is the newest.
   */
  async loaded(pid: number): Promise<ShortTermMemory> {
    const m = this.of(pid);
    if (!this.store || this.read.has(pid)) return m;
    this.read.add(pid);
    await this.store.load(pid, m).catch((e: unknown) => {
      this.d.log(pid, 'checkpoint', `short-term memory could not be read back: ${(e as Error).message}`);
    });
    return m;
  }

  of(pid: number): ShortTermMemory {
    let m = this.stm.get(pid);
    if (!m) {
      const p = this.d.procs.get(pid);
      const id = this.d.pool.route({ model: agentModel(p) });
      const engineCount = (t: string) => this.d.pool.tokenizer(id)(t);
      m = new ShortTermMemory(engineCount);
      this.stm.set(pid, m);
    }
    return m;
  }

  /** An agent exited: its working context goes with it. */
  drop(pid: number): void {
    this.stm.delete(pid);
    if (this.store) void this.store.drop(pid).catch(() => {});
  }

  async append(pid: number, message: ChatMessage, pinned: boolean) {
    const m = this.of(pid);
    // Bounded: held in the kernel's memory and written whole on every append (an agent appending
    // 1 MB messages in a loop would otherwise take the kernel's heap, and the disk, without end).
    const held = m.held();
    if (held.entries >= STM_MAX_ENTRIES || held.chars + messageChars(message) > STM_MAX_CHARS)
      throw new SysError(
        'EDQUOT',
        `short-term memory is full (${held.entries} messages, ${held.chars} characters; at most ${STM_MAX_ENTRIES} and ${STM_MAX_CHARS}): compress or truncate it`,
      );
    const e = m.append(message, pinned);
    const total = m.tokens();
    // durable: acknowledged after the new state committed, as long-term memory writes are.
    if (this.store) await this.store.save(pid, m);
    return { id: e.id, tokens: e.tokens, total };
  }

  /** Forgets every entry after `afterId` (0: all); -1 when there is no such entry. Saved before it is acknowledged. */
  async truncate(pid: number, afterId: number): Promise<{ removed: number; total: number }> {
    const m = await this.loaded(pid);
    const removed = m.truncate(afterId);
    if (removed > 0 && this.store) await this.store.save(pid, m);
    return { removed, total: m.tokens() };
  }

  /** Summarises the oldest turns with the agent's model until the context fits `target` tokens. */
  async compress(pid: number, model: string | undefined, target: number) {
    const m = this.of(pid);
    const id = this.d.pool.route({ model: model ?? agentModel(this.d.procs.get(pid)) });
    const { engine } = await this.d.pool.acquire(id);
    const result = await m.compress(target, async (msgs, maxTokens) => {
      const transcript = msgs.map((x) => `${x.role}: ${x.content ?? ''}`).join('\n');
      const done = await collect(
        engine.stream({
          messages: [
            {
              role: 'system',
              content:
                'Summarise the conversation below in a few sentences; keep names, numbers and decisions.',
            },
            { role: 'user', content: transcript },
          ],
          max_tokens: maxTokens,
        }),
      );
      return done.choices[0]?.message.content ?? '';
    });
    // durable: the compressed state replaces the saved one in one write (before it, or after it; never half).
    if (result.replaced.length && this.store) await this.store.save(pid, m);
    if (result.replaced.length) {
      this.d.log(
        pid,
        'memory.compress',
        `compressed short-term memory from ${result.before} to ${result.after} tokens`,
        {
          replaced: result.replaced.map((e) => e.message),
          summary: result.summary?.message.content,
        },
      );
    }
    return result;
  }
}
