/**
 * The deterministic engine: a test and demo engine, not a language model.
 * Same request → same tokens, at a configurable prefill and decode speed, so
 * scheduling and streaming can be measured reproducibly. Its answers follow
 * fixed rules (echo a "say …" request, "recap" the user's earlier turns, call a tool whose name the user used,
 * report a tool's result) so the agent loop can be exercised end to end.
 */

import { fnv1a } from '../../kernel/hash';
import {
  type ChatCompletionChunk,
  type ChatEngine,
  type ChatMessage,
  type ChatRequest,
  chunkMaker,
  type FinishReason,
  type ModelInfo,
  type ToolCall,
} from '../engine';
import { until } from './pacer';

export interface DeterministicOptions {
  id?: string;
  /** Prompt tokens processed per second before the first token; Infinity for none. */
  prefillTokensPerSecond?: number;
  /** Generated tokens per second; Infinity to emit as fast as the consumer takes them. */
  decodeTokensPerSecond?: number;
  contextWindow?: number;
  /** Length of free-form answers when the request sets no max_tokens. */
  defaultLength?: number;
  /** Context tokens the emulated KV cache holds across reservations (default: one context window). */
  contextCapacity?: number;
  /** Emulated memory footprint, so memory-budget policies can be exercised. */
  sizeBytes?: number;
}

/** Words, runs of whitespace, and single punctuation marks: the engine's own tokenizer. */
const TOKEN_RE = /[A-Za-z0-9_']+|\s+|[^A-Za-z0-9_'\s]/g;

export function tokenize(text: string): string[] {
  return text.match(TOKEN_RE) ?? [];
}

const VOCAB = (
  'the kernel schedules agents that share models memory and tools through messages ' +
  'a process waits for tokens while another one streams its answer to the desktop ' +
  'each request is queued by priority and served when the model is free'
).split(' ');

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });

type Plan = { text: string; toolCalls: ToolCall[] };

export class DeterministicEngine implements ChatEngine {
  readonly info: ModelInfo;
  private readonly prefill: number;
  private readonly decode: number;
  private readonly defaultLength: number;
  private seq = 0;

  constructor(opts: DeterministicOptions = {}) {
    this.prefill = opts.prefillTokensPerSecond ?? Number.POSITIVE_INFINITY;
    this.decode = opts.decodeTokensPerSecond ?? Number.POSITIVE_INFINITY;
    this.defaultLength = opts.defaultLength ?? 48;
    this.info = {
      id: opts.id ?? 'deterministic',
      engine: 'deterministic',
      contextWindow: opts.contextWindow ?? 4096,
      sizeBytes: opts.sizeBytes ?? 0,
      supportsTools: true,
      label: 'test engine (deterministic, not a language model)',
      supportsContinuation: true,
      contextCapacity: opts.contextCapacity ?? opts.contextWindow ?? 4096,
      location: 'local',
    };
  }

  countTokens(text: string): number {
    return tokenize(text).length;
  }

  promptTokens(messages: ChatMessage[]): number {
    // One token for each message's role marker, as chat templates add one.
    return messages.reduce((n, m) => n + 1 + this.countTokens(m.content ?? ''), 0);
  }

  async *stream(req: ChatRequest, signal?: AbortSignal): AsyncGenerator<ChatCompletionChunk> {
    const id = `det-${++this.seq}`;
    const created = Math.floor(Date.now() / 1000);
    const model = this.info.id;
    const cont = req.continuation ?? '';
    // A resumed generation re-prefills what it had produced, as a real engine without KV reuse must.
    const promptTokens = this.promptTokens(req.messages) + this.countTokens(cont);
    const chunk = chunkMaker(id, model, created);

    const plan = this.plan(req);
    const limit = req.max_tokens ?? Number.POSITIVE_INFINITY;
    const all = tokenize(plan.text);
    const skip = cont ? tokenize(cont).length : 0;
    const tokens = all.slice(skip);
    const start = performance.now();
    const prefillMs = Number.isFinite(this.prefill) ? (promptTokens / this.prefill) * 1000 : 0;
    const msPerToken = Number.isFinite(this.decode) ? 1000 / this.decode : 0;
    await sleep(prefillMs, signal);

    let emitted = 0;
    let finish: FinishReason = plan.toolCalls.length ? 'tool_calls' : 'stop';
    for (const tok of tokens) {
      if (signal?.aborted) {
        finish = 'abort';
        break;
      }
      if (emitted >= limit) {
        finish = 'length';
        break;
      }
      if (msPerToken > 0) {
        // Pace against the clock, not per sleep, so timer slack does not accumulate; one clock
        // wakes every stream that is due (pacer.ts), not a timer per token per stream.
        await until(start + prefillMs + (emitted + 1) * msPerToken, signal);
        if (signal?.aborted) {
          finish = 'abort';
          break;
        }
      }
      emitted++;
      yield chunk(emitted === 1 && !cont ? { role: 'assistant', content: tok } : { content: tok }, null);
    }
    if (finish === 'tool_calls' && !signal?.aborted) {
      yield chunk({ tool_calls: plan.toolCalls }, null);
      emitted += plan.toolCalls.reduce(
        (n, c) => n + this.countTokens(c.function.name + c.function.arguments),
        0,
      );
    }
    const last = chunk({}, finish);
    last.usage = {
      prompt_tokens: promptTokens,
      completion_tokens: emitted,
      total_tokens: promptTokens + emitted,
    };
    yield last;
  }

  /** Decides the whole answer up front; streaming then only paces it out. */
  private plan(req: ChatRequest): Plan {
    const msgs = req.messages;
    const last = msgs[msgs.length - 1];
    if (!last) return { text: '', toolCalls: [] };
    if (last.role === 'tool') {
      const call = msgs.flatMap((m) => m.tool_calls ?? []).find((c) => c.id === last.tool_call_id);
      return {
        text: `The tool ${call?.function.name ?? last.name ?? 'call'} returned: ${last.content ?? ''}`,
        toolCalls: [],
      };
    }
    const text = last.content ?? '';
    if (req.tools?.length && req.tool_choice !== 'none') {
      const tool = req.tools.find((t) => new RegExp(`\\b${escapeRe(t.function.name)}\\b`).test(text));
      if (tool) {
        const args: Record<string, string> = {};
        for (const m of text.matchAll(/(\w+)=("[^"]*"|\S+)/g)) args[m[1]!] = m[2]!.replace(/^"|"$/g, '');
        // No key=value: a tool with one required string argument gets the words after its name
        // ("compute math.evaluate (2+3)*4" → expression "(2+3)*4"), as a person would mean it.
        const only = soleStringArgument(tool.function.parameters);
        const after = text
          .slice(text.search(new RegExp(`\\b${escapeRe(tool.function.name)}\\b`)) + tool.function.name.length)
          .trim();
        if (!Object.keys(args).length && only && after) args[only] = after;
        const callId = `call_${fnv1a(text, msgs.length).toString(36)}`;
        return {
          text: '',
          toolCalls: [
            {
              id: callId,
              type: 'function',
              function: { name: tool.function.name, arguments: JSON.stringify(args) },
            },
          ],
        };
      }
    }
    // "recap": lists the user's earlier turns, so a test can see what is in the context.
    if (/^\s*recap\b/i.test(text)) {
      const earlier = msgs
        .slice(0, -1)
        .filter((m) => m.role === 'user')
        .map((m) => m.content ?? '');
      return { text: `Earlier you said: ${earlier.join(' | ') || '(nothing)'}`, toolCalls: [] };
    }
    const say = /^\s*(?:say|echo)\s+(.+)$/is.exec(text);
    if (say) return { text: say[1]!.trim().replace(/^["'](.*)["']$/s, '$1'), toolCalls: [] };
    const rand = mulberry32(fnv1a(JSON.stringify(msgs), req.seed ?? 0));
    const words: string[] = [];
    for (let i = 0; i < this.defaultLength / 2; i++) words.push(VOCAB[Math.floor(rand() * VOCAB.length)]!);
    return { text: `${words.join(' ')}.`, toolCalls: [] };
  }
}

/** The name of a schema's one required property when it is a string, else null. */
function soleStringArgument(schema: unknown): string | null {
  const s = schema as { required?: unknown; properties?: Record<string, { type?: unknown }> } | undefined;
  if (!Array.isArray(s?.required) || s.required.length !== 1) return null;
  const name = s.required[0];
  return typeof name === 'string' && s.properties?.[name]?.type === 'string' ? name : null;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
