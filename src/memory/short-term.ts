/**
 * Short-term memory: an agent's working context, held by the kernel so the
 * kernel can fit it to the agent's context reservation. Tokens are counted with
 * the agent's model's own tokenizer. Compression summarises the oldest turns
 * (never pinned ones, never the most recent) and returns what it replaced, so
 * the caller can move it down to the episodic log: nothing is lost.
 */
import type { ChatMessage } from '../models/engine';

export interface StmEntry {
  id: number;
  message: ChatMessage;
  pinned: boolean;
  tokens: number;
}

export interface Compression {
  before: number;
  after: number;
  replaced: StmEntry[];
  summary: StmEntry | null;
}

/** What is persisted of a short-term memory: enough to rebuild it exactly. */
export interface StmSnapshot {
  v: 1;
  nextId: number;
  entries: { id: number; message: ChatMessage; pinned: boolean }[];
}

export class ShortTermMemory {
  private entries: StmEntry[] = [];
  private nextId = 1;

  /** Its whole state as plain data (the durable store writes it in one transaction). */
  snapshot(): StmSnapshot {
    return {
      v: 1,
      nextId: this.nextId,
      entries: this.entries.map((e) => ({ id: e.id, message: e.message, pinned: e.pinned })),
    };
  }

  /** Replaces the state with a snapshot's (token counts are recomputed with this tokenizer). */
  load(s: StmSnapshot): void {
    this.entries = s.entries.map((e) => ({ ...e, tokens: this.cost(e.message) }));
    this.nextId = Math.max(s.nextId, ...s.entries.map((e) => e.id + 1), 1);
  }

  constructor(
    private countTokens: (text: string) => number,
    /** Turns at the end that compression always keeps. */
    private readonly keepRecent = 4,
  ) {}

  /** Recount with another model's tokenizer (the agent moved to another model). */
  retokenize(countTokens: (text: string) => number): void {
    this.countTokens = countTokens;
    for (const e of this.entries) e.tokens = this.cost(e.message);
  }

  private cost(m: ChatMessage): number {
    return (
      1 +
      this.countTokens(m.content ?? '') +
      (m.tool_calls ? this.countTokens(JSON.stringify(m.tool_calls)) : 0)
    );
  }

  /** How much it holds: entries, and characters of their text (content and tool-call arguments). */
  held(): { entries: number; chars: number } {
    let chars = 0;
    for (const e of this.entries) chars += messageChars(e.message);
    return { entries: this.entries.length, chars };
  }

  append(message: ChatMessage, pinned = false): StmEntry {
    const e: StmEntry = { id: this.nextId++, message, pinned, tokens: this.cost(message) };
    this.entries.push(e);
    return e;
  }

  /**
   * Forgets every entry after entry `afterId` (0: all), e.g. an answer the user asked to
   * regenerate; returns how many went. ENOENT-like misses return -1.
   */
  truncate(afterId: number): number {
    if (afterId === 0) {
      const n = this.entries.length;
      this.entries = [];
      return n;
    }
    const at = this.entries.findIndex((e) => e.id === afterId);
    if (at < 0) return -1;
    const n = this.entries.length - at - 1;
    this.entries = this.entries.slice(0, at + 1);
    return n;
  }

  pin(id: number, pinned = true): boolean {
    const e = this.entries.find((x) => x.id === id);
    if (e) e.pinned = pinned;
    return !!e;
  }

  list(): StmEntry[] {
    return [...this.entries];
  }

  messages(): ChatMessage[] {
    return this.entries.map((e) => e.message);
  }

  tokens(): number {
    return this.entries.reduce((n, e) => n + e.tokens, 0);
  }

  /**
   * Replaces the oldest unpinned turns by one summary until the context fits
   * `target` tokens (or nothing more may be replaced).
   */
  async compress(
    target: number,
    summarize: (msgs: ChatMessage[], maxTokens: number) => Promise<string>,
  ): Promise<Compression> {
    const before = this.tokens();
    if (before <= target) return { before, after: before, replaced: [], summary: null };
    const candidates = this.entries
      .slice(0, Math.max(0, this.entries.length - this.keepRecent))
      .filter((e) => !e.pinned);
    const replaced: StmEntry[] = [];
    let excess = before - target;
    // Take the oldest turns until what they free (beyond a small summary) covers the excess.
    const summaryBudget = Math.max(8, Math.min(128, Math.floor(target / 4)));
    for (const e of candidates) {
      if (excess + summaryBudget <= 0) break;
      replaced.push(e);
      excess -= e.tokens;
    }
    if (!replaced.length) return { before, after: before, replaced: [], summary: null };
    const text = await summarize(
      replaced.map((e) => e.message),
      summaryBudget,
    );
    const message: ChatMessage = { role: 'system', content: `Summary of earlier conversation: ${text}` };
    const summary: StmEntry = { id: this.nextId++, message, pinned: false, tokens: this.cost(message) };
    const gone = new Set(replaced);
    const at = this.entries.indexOf(replaced[0]!);
    const kept = this.entries.filter((e) => !gone.has(e));
    kept.splice(at, 0, summary);
    this.entries = kept;
    return { before, after: this.tokens(), replaced, summary };
  }
}

/** Characters of a message's text: its content and its tool calls' arguments. */
export function messageChars(m: ChatMessage): number {
  let n = typeof m.content === 'string' ? m.content.length : 0;
  for (const t of m.tool_calls ?? []) n += t.function.arguments.length + t.function.name.length;
  return n;
}
