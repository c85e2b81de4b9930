/**
 * Each agent's short-term memory (its working context), counted with its
 * model's tokenizer, and compressed on demand by summarising the oldest turns
 * with that model; what was replaced goes to the episodic log.
 */
import { type ChatMessage, collect } from '../abi/chat';
import type { EpisodeKind } from '../memory/episodic';
import { ShortTermMemory } from '../memory/short-term';
import type { ModelPool } from '../models/pool';
import type { Process, ProcessTable } from './process';

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

  constructor(private readonly d: WorkingMemoryDeps) {}

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
  }

  append(pid: number, message: ChatMessage, pinned: boolean) {
    const e = this.of(pid).append(message, pinned);
    return { id: e.id, tokens: e.tokens, total: this.of(pid).tokens() };
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
