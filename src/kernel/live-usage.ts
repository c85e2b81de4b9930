/**
 * Live figures of an agent's model requests: its token counts grow while the answer
 * streams (not only when it ends), and `generation` says whether it waits for the model
 * (queued, or its prompt being read) or is generating, and how fast. Changes reach the
 * desktop as 'proc' events, at most a few per second per process.
 */
import type { ChatCompletionChunk, Usage } from '../abi/chat';
import type { Process } from './process';

/** How often a streaming process's figures are sent out, at most. */
const NOTIFY_EVERY_MS = 250;
/**
 * Figure updates per second for all streaming processes together, at most: with many streaming,
 * each is sent less often (200 at once: each once a second). Each update is a process snapshot
 * cloned to every tab and a task-manager row to redo; the kernel's thread and the desktop's carry
 * them all.
 */
const NOTIFY_BUDGET_PER_SEC = 200;
/** Generations streaming now (on this kernel's thread). */
let live = 0;
const notifyEveryMs = () => Math.max(NOTIFY_EVERY_MS, (1000 * live) / NOTIFY_BUDGET_PER_SEC);

export class LiveGeneration {
  private tokens = 0;
  private firstAt = 0;
  private lastNotify = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private ended = false;

  // Counts move by differences, so requests a process makes at once add up.
  private constructor(
    private readonly proc: Process,
    private readonly notify: (p: Process) => void,
    model: string,
    private readonly promptTokens: number,
    /** Told of figures moving mid-stream: only the tabs need them (no session save per update). */
    private readonly figures: (p: Process) => void = notify,
  ) {
    live++;
    proc.info.usage.prompt_tokens += promptTokens;
    proc.info.generation = {
      model,
      phase: 'waiting',
      tokens: 0,
      tokensPerSecond: 0,
      startedAt: Date.now(),
    };
    notify(proc);
  }

  /** Starts following one request of `proc` (its prompt counted now, by the kernel's estimate). */
  static start(
    proc: Process,
    notify: (p: Process) => void,
    model: string,
    promptTokens: number,
    figures?: (p: Process) => void,
  ): LiveGeneration {
    return new LiveGeneration(proc, notify, model, promptTokens, figures);
  }

  /** Tokens streamed so far. */
  get streamed(): number {
    return this.tokens;
  }

  /** A chunk of the answer went out: one more token (as the scheduler counts them). */
  chunk(c: ChatCompletionChunk): void {
    const d = c.choices[0]?.delta;
    if (!d?.content && !d?.tool_calls) return;
    const now = performance.now();
    this.firstAt ||= now;
    this.tokens++;
    this.proc.info.usage.completion_tokens++;
    const g = this.proc.info.generation;
    if (!g) return;
    const phaseChanged = g.phase !== 'generating';
    g.phase = 'generating';
    g.tokens = this.tokens;
    g.tokensPerSecond = this.tokens > 1 ? (this.tokens - 1) / Math.max(1e-3, (now - this.firstAt) / 1000) : 0;
    if (phaseChanged) this.send();
    else this.soon();
  }

  /** The request ended: the engine's own counts replace the live ones. */
  end(usage: Usage | null): void {
    if (!this.ended) live--;
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // A failed request counts nothing, as before it streamed: its live figures were provisional.
    this.proc.info.usage.prompt_tokens += (usage?.prompt_tokens ?? 0) - this.promptTokens;
    this.proc.info.usage.completion_tokens += (usage?.completion_tokens ?? 0) - this.tokens;
    this.proc.info.generation = null;
    this.notify(this.proc);
  }

  private soon(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.lastNotify + notifyEveryMs() - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.proc.info.generation) {
        this.lastNotify = performance.now();
        this.figures(this.proc);
      }
    }, wait);
  }

  private send(): void {
    this.lastNotify = performance.now();
    this.notify(this.proc);
  }
}
