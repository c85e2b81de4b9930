/**
 * A ChatEngine for a model on an OpenAI-compatible server the user added
 * (Ollama, vLLM, llama.cpp's server, OpenAI). It always streams
 * (`stream_options.include_usage`, so the server's own token counts reach the
 * kernel), parses Server-Sent Events itself, and turns every failure into a
 * SysError an agent can branch on.
 *
 * Security: requests go only to `{baseUrl}/chat/completions` and
 * `{baseUrl}/models`. Redirects are refused and no URL from a response is ever
 * followed, so a server cannot steer the API key or prompts elsewhere; cookies
 * are never sent; what a server can make the client buffer is bounded.
 */

import { type Errno, SysError } from '../../abi/errors';
import { errnoOfStatus, errorDetail, parseHttpUrl } from '../../net/http';
import {
  type ChatCompletionChunk,
  type ChatEngine,
  type ChatMessage,
  type ChatRequest,
  chunkMaker,
  type FinishReason,
  type ModelInfo,
  type ToolCall,
  type Usage,
} from '../engine';

export interface RemoteEngineOptions {
  /** The server's API root, e.g. `http://127.0.0.1:11434/v1` or `https://api.openai.com/v1`. */
  baseUrl: string;
  apiKey?: string;
  /** The model's name on the server. */
  model: string;
  /** The id the model pool lists it under (default: `model`). */
  id?: string;
  /** Tokens of context; default what `/models` reports, else 4096. */
  contextWindow?: number;
  /** Time from sending a request to its first event (the server's prefill included). Default 60 s. */
  timeoutMs?: number;
  /** Longest silence between two reads of a stream once it has started. Default 30 s. */
  idleTimeoutMs?: number;
  /** Attempts for a request answered 429 or 503 before it fails with EAGAIN. Default 4. */
  maxAttempts?: number;
  /** First retry delay; doubled on each retry. Default 500 ms. */
  backoffMs?: number;
  /** Cap on one retry delay, `Retry-After` included. Default 10 s. */
  maxBackoffMs?: number;
  /** The model's real tokenizer when the caller has one; otherwise counts are estimates. */
  countTokens?: (text: string) => number;
  /** Check at creation that `/models` lists the model (ENOENT otherwise). Default true. */
  verify?: boolean;
  fetch?: typeof fetch;
}

export interface RemoteModel {
  id: string;
  ownedBy?: string;
  /** When the server says (vLLM's max_model_len, LM Studio's/OpenRouter's context_length…). */
  contextWindow?: number;
}

interface Config {
  base: string;
  apiKey: string | undefined;
  fetch: typeof fetch;
  timeoutMs: number;
  idleTimeoutMs: number;
  maxAttempts: number;
  backoffMs: number;
  maxBackoffMs: number;
}

/** No server gets to make the kernel hold more than this in one event or error body. */
const MAX_EVENT_CHARS = 8 * 2 ** 20;
const MAX_ERROR_BODY_CHARS = 2000;
/** Tokens a chat template adds per message (role markers), for estimates. */
const MESSAGE_OVERHEAD_TOKENS = 4;

/** The usual estimate for English with BPE tokenizers: about four characters per token. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function config(baseUrl: string, apiKey: string | undefined, o: Partial<RemoteEngineOptions>): Config {
  const url = parseHttpUrl(baseUrl, 'apiKey');
  url.search = '';
  url.hash = '';
  if (!o.fetch && typeof globalThis.fetch !== 'function') throw new SysError('ENOSYS', 'no fetch here');
  return {
    base: url.href.replace(/\/+$/, ''),
    apiKey: apiKey || undefined,
    // Bound to globalThis: a browser's fetch throws "Illegal invocation" when called as a method.
    fetch: o.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    timeoutMs: o.timeoutMs ?? 60_000,
    idleTimeoutMs: o.idleTimeoutMs ?? 30_000,
    maxAttempts: Math.max(1, o.maxAttempts ?? 4),
    backoffMs: o.backoffMs ?? 500,
    maxBackoffMs: o.maxBackoffMs ?? 10_000,
  };
}

/**
 * One attempt's abort plumbing: the caller's signal and our timers abort the
 * same fetch, and `why` remembers which one did, so a timeout becomes ETIMEDOUT
 * and the caller's abort a clean finish_reason 'abort'.
 */
class Attempt {
  readonly ctrl = new AbortController();
  why: 'user' | 'timeout' | 'dispose' | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onUser = () => this.stop('user');

  constructor(private readonly user?: AbortSignal) {
    if (user?.aborted) this.stop('user');
    else user?.addEventListener('abort', this.onUser, { once: true });
  }

  arm(ms: number): void {
    this.disarm();
    this.timer = setTimeout(() => this.stop('timeout'), Math.max(0, ms));
  }

  disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  stop(why: 'user' | 'timeout' | 'dispose'): void {
    this.why ??= why;
    this.ctrl.abort();
  }

  release(): void {
    this.disarm();
    this.user?.removeEventListener('abort', this.onUser);
  }
}

/** Thrown inside the driver when the caller aborted; turned into finish_reason 'abort'. */
const ABORTED = Symbol('aborted');

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What went wrong with a fetch or a read, as a SysError (or ABORTED when the caller asked). */
function failure(e: unknown, attempt: Attempt, cfg: Config, timeoutMs: number): SysError | typeof ABORTED {
  if (attempt.why === 'user') return ABORTED;
  if (attempt.why === 'timeout')
    return new SysError('ETIMEDOUT', `${cfg.base} did not answer within ${timeoutMs} ms`);
  if (attempt.why === 'dispose') return new SysError('EIO', `${cfg.base}: engine was unloaded`);
  if (e instanceof SysError) return e;
  // Node says why in `cause` (ECONNREFUSED, ENOTFOUND…); a browser only says "Failed to fetch".
  const cause = (e as { cause?: { code?: unknown; message?: unknown } })?.cause;
  const detail =
    (typeof cause?.code === 'string' && cause.code) ||
    (typeof cause?.message === 'string' && cause.message) ||
    (e instanceof Error ? e.message : String(e));
  return new SysError(
    'EIO',
    `cannot reach ${cfg.base}: ${detail} (server down, wrong address, DNS, or the server does not allow this origin: CORS)`,
  );
}

function httpError(status: number, body: string, cfg: Config): SysError {
  const detail = errorDetail(body);
  const base = errnoOfStatus(status);
  // A request refused for its length says so in words only.
  const code: Errno = base === 'EINVAL' && /context|too long|maximum.*tokens/i.test(detail) ? 'E2BIG' : base;
  return new SysError(code, `${cfg.base}: HTTP ${status}${detail ? `: ${detail.slice(0, 300)}` : ''}`);
}

async function readErrorBody(res: Response): Promise<string> {
  try {
    return (await res.text()).slice(0, MAX_ERROR_BODY_CHARS);
  } catch {
    return '';
  }
}

/** Seconds or an HTTP date, as RFC 9110 allows; undefined when absent or unreadable. */
function retryAfterMs(res: Response): number | undefined {
  const v = res.headers.get('retry-after');
  if (!v) return undefined;
  const s = Number(v);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

function sleep(ms: number, attempt: Attempt): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    attempt.ctrl.signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      attempt.ctrl.signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/**
 * Sends a request, retrying 429/503 with exponential backoff. Resolves with an
 * ok response and the attempt whose timers and signal govern its body.
 */
async function send(
  cfg: Config,
  path: string,
  init: { method: 'GET' | 'POST'; body?: string },
  signal: AbortSignal | undefined,
  track?: Set<Attempt>,
): Promise<{ res: Response; attempt: Attempt; deadline: number }> {
  const headers: Record<string, string> = { accept: 'text/event-stream, application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (cfg.apiKey) headers.authorization = `Bearer ${cfg.apiKey}`;
  for (let n = 1; ; n++) {
    const attempt = new Attempt(signal);
    track?.add(attempt);
    const deadline = Date.now() + cfg.timeoutMs;
    attempt.arm(cfg.timeoutMs);
    let res: Response;
    try {
      res = await cfg.fetch(`${cfg.base}${path}`, {
        method: init.method,
        headers,
        body: init.body,
        signal: attempt.ctrl.signal,
        redirect: 'error',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
      });
    } catch (e) {
      attempt.release();
      track?.delete(attempt);
      const f = failure(e, attempt, cfg, cfg.timeoutMs);
      throw f;
    }
    if (res.ok) return { res, attempt, deadline };
    const body = await readErrorBody(res);
    attempt.release();
    track?.delete(attempt);
    if (attempt.why === 'user') throw ABORTED;
    const retryable = res.status === 429 || res.status === 503;
    if (!retryable || n >= cfg.maxAttempts) {
      const err = httpError(res.status, body, cfg);
      if (retryable) err.message += ` (gave up after ${n} attempts)`;
      throw err;
    }
    const backoff = Math.min(cfg.maxBackoffMs, cfg.backoffMs * 2 ** (n - 1));
    const wait = Math.min(cfg.maxBackoffMs, Math.max(backoff, retryAfterMs(res) ?? 0));
    const pause = new Attempt(signal);
    await sleep(wait, pause);
    pause.release();
    if (pause.why === 'user') throw ABORTED;
  }
}

/**
 * Server-Sent Events, as the HTML standard parses them: lines end in LF, CR or
 * CRLF (split anywhere across reads), `:` starts a comment, an event's `data:`
 * lines are joined with LF, and a blank line ends the event. `retry:` is
 * ignored on purpose: the driver never reconnects on a server's say-so.
 */
export class SseParser {
  private buf = '';
  private data: string[] = [];
  private size = 0;

  /** Feeds decoded text; returns the data of every event it completed. */
  push(text: string): string[] {
    this.buf += text;
    const out: string[] = [];
    let start = 0;
    for (;;) {
      let i = start;
      while (i < this.buf.length && this.buf[i] !== '\n' && this.buf[i] !== '\r') i++;
      if (i >= this.buf.length) break;
      // A CR at the end of what we have may be the first half of a CRLF: wait for more.
      if (this.buf[i] === '\r' && i === this.buf.length - 1) break;
      this.line(this.buf.slice(start, i), out);
      start = i + (this.buf[i] === '\r' && this.buf[i + 1] === '\n' ? 2 : 1);
    }
    this.buf = this.buf.slice(start);
    if (this.buf.length + this.size > MAX_EVENT_CHARS) {
      throw new SysError('EIO', `server sent an event over ${MAX_EVENT_CHARS} characters`);
    }
    return out;
  }

  /** The stream ended: completes a last event that lacked its blank line. */
  end(): string[] {
    const out: string[] = [];
    if (this.buf) this.line(this.buf.replace(/\r$/, ''), out);
    this.buf = '';
    this.line('', out);
    return out;
  }

  private line(line: string, out: string[]): void {
    if (line === '') {
      if (this.data.length) out.push(this.data.join('\n'));
      this.data = [];
      this.size = 0;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      this.data.push(value);
      this.size += value.length;
    }
  }
}

const FINISH: Record<string, FinishReason> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool_calls',
  function_call: 'tool_calls',
  abort: 'abort',
};

/** OpenAI streams a tool call in pieces keyed by `index`; this puts them back together. */
class ToolCallAssembler {
  private readonly calls: Array<{ id: string; name: string; args: string }> = [];
  private seq = 0;

  add(parts: unknown[]): void {
    for (const p of parts) {
      if (!isRecord(p)) continue;
      const fn = isRecord(p.function) ? p.function : {};
      const id = typeof p.id === 'string' && p.id ? p.id : undefined;
      let slot: { id: string; name: string; args: string } | undefined;
      if (typeof p.index === 'number') slot = this.calls[p.index];
      else if (!id || this.calls.at(-1)?.id === id) slot = this.calls.at(-1);
      if (!slot || (id && slot.id && slot.id !== id && typeof p.index !== 'number')) {
        slot = { id: '', name: '', args: '' };
        if (typeof p.index === 'number') this.calls[p.index] = slot;
        else this.calls.push(slot);
      }
      if (id) slot.id = id;
      if (typeof fn.name === 'string' && fn.name) slot.name = fn.name;
      // Some servers (Ollama) send arguments as an object, not a JSON string.
      if (typeof fn.arguments === 'string') slot.args += fn.arguments;
      else if (isRecord(fn.arguments)) slot.args += JSON.stringify(fn.arguments);
    }
  }

  result(): ToolCall[] {
    return this.calls
      .filter((c) => c?.name)
      .map((c) => ({
        id: c.id || `call_${Date.now().toString(36)}_${this.seq++}`,
        type: 'function' as const,
        function: { name: c.name, arguments: c.args || '{}' },
      }));
  }
}

function usageOf(u: unknown): Usage | undefined {
  if (!isRecord(u)) return undefined;
  const p = u.prompt_tokens;
  const c = u.completion_tokens;
  if (typeof p !== 'number' || typeof c !== 'number') return undefined;
  const t = typeof u.total_tokens === 'number' ? u.total_tokens : p + c;
  return { prompt_tokens: p, completion_tokens: c, total_tokens: t };
}

/** Only fields a chat-completions server knows; `continuation` is kernel-internal and never leaves. */
function wireMessages(messages: ChatMessage[]): Record<string, unknown>[] {
  return messages.map((m) => {
    const w: Record<string, unknown> = { role: m.role, content: m.content };
    if (m.name !== undefined) w.name = m.name;
    if (m.tool_calls?.length) w.tool_calls = m.tool_calls;
    if (m.tool_call_id !== undefined) w.tool_call_id = m.tool_call_id;
    return w;
  });
}

export class RemoteEngine implements ChatEngine {
  readonly info: ModelInfo;
  private readonly cfg: Config;
  private readonly counter: ((text: string) => number) | undefined;
  private readonly inflight = new Set<Attempt>();
  private seq = 0;

  constructor(
    private readonly opts: RemoteEngineOptions,
    contextWindow?: number,
  ) {
    this.cfg = config(opts.baseUrl, opts.apiKey, opts);
    this.counter = opts.countTokens;
    this.info = {
      id: opts.id ?? opts.model,
      engine: 'openai-remote',
      contextWindow: opts.contextWindow ?? contextWindow ?? 4096,
      // Nothing of it lives in this browser's memory.
      sizeBytes: 0,
      supportsTools: true,
      label: `${opts.model} at ${new URL(this.cfg.base).host}`,
      supportsContinuation: false,
      location: 'remote',
    };
  }

  get baseUrl(): string {
    return this.cfg.base;
  }

  countTokens(text: string): number {
    return this.counter ? this.counter(text) : estimateTokens(text);
  }

  private estimatePrompt(messages: ChatMessage[]): number {
    return messages.reduce(
      (n, m) =>
        n +
        MESSAGE_OVERHEAD_TOKENS +
        this.countTokens(m.content ?? '') +
        (m.tool_calls ?? []).reduce(
          (k, c) => k + this.countTokens(c.function.name + c.function.arguments),
          0,
        ),
      0,
    );
  }

  private body(req: ChatRequest): string {
    const b: Record<string, unknown> = {
      model: this.opts.model,
      messages: wireMessages(req.messages),
      stream: true,
      stream_options: { include_usage: true },
    };
    if (req.max_tokens !== undefined) b.max_tokens = req.max_tokens;
    if (req.temperature !== undefined) b.temperature = req.temperature;
    if (req.seed !== undefined) b.seed = req.seed;
    if (req.stop?.length) b.stop = req.stop;
    if (req.tools?.length) b.tools = req.tools;
    if (req.tool_choice !== undefined && req.tools?.length) b.tool_choice = req.tool_choice;
    if (req.response_format) b.response_format = req.response_format;
    return JSON.stringify(b);
  }

  async *stream(req: ChatRequest, signal?: AbortSignal): AsyncGenerator<ChatCompletionChunk> {
    const id = `remote-${Date.now().toString(36)}-${++this.seq}`;
    const created = Math.floor(Date.now() / 1000);
    const model = this.info.id;
    const chunk = chunkMaker(id, model, created);
    let text = '';
    let serverUsage: Usage | undefined;
    let finish: FinishReason | null = null;
    const calls = new ToolCallAssembler();
    let first = true;
    const content = (s: string): ChatCompletionChunk => {
      text += s;
      const c = chunk(first ? { role: 'assistant', content: s } : { content: s }, null);
      first = false;
      return c;
    };
    const last = (why: FinishReason): ChatCompletionChunk => {
      const c = chunk({}, why);
      // An aborted stream never gets the server's usage; the completion so far is counted here.
      c.usage =
        why !== 'abort' && serverUsage
          ? serverUsage
          : (() => {
              const p = serverUsage?.prompt_tokens ?? this.estimatePrompt(req.messages);
              const n = this.countTokens(text);
              return { prompt_tokens: p, completion_tokens: n, total_tokens: p + n, estimated: true };
            })();
      return c;
    };

    let opened: Awaited<ReturnType<typeof send>>;
    try {
      opened = await send(
        this.cfg,
        '/chat/completions',
        { method: 'POST', body: this.body(req) },
        signal,
        this.inflight,
      );
    } catch (e) {
      if (e === ABORTED) {
        yield last('abort');
        return;
      }
      throw e;
    }
    const { res, attempt, deadline } = opened;
    const ctype = res.headers.get('content-type') ?? '';
    let done = false;
    try {
      if (!ctype.includes('text/event-stream') && ctype.includes('json')) {
        // A server that ignored `stream: true` answers with one completion.
        let body: unknown;
        try {
          body = JSON.parse(await res.text());
        } catch (e) {
          const f = failure(e, attempt, this.cfg, this.cfg.timeoutMs);
          if (f === ABORTED) {
            yield last('abort');
            return;
          }
          throw f instanceof SysError && !attempt.why ? new SysError('EIO', `${this.cfg.base}: bad JSON`) : f;
        }
        attempt.disarm();
        const choice = isRecord(body) && Array.isArray(body.choices) ? body.choices[0] : undefined;
        const msg = isRecord(choice) && isRecord(choice.message) ? choice.message : {};
        if (typeof msg.content === 'string' && msg.content) yield content(msg.content);
        if (Array.isArray(msg.tool_calls)) calls.add(msg.tool_calls);
        serverUsage = isRecord(body) ? usageOf(body.usage) : undefined;
        finish = (isRecord(choice) && FINISH[String(choice.finish_reason)]) || 'stop';
        done = true;
      } else {
        if (!res.body) throw new SysError('EIO', `${this.cfg.base}: empty response`);
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        const sse = new SseParser();
        let started = false;
        try {
          reading: for (;;) {
            // Armed only while waiting on the server, never while the consumer holds a chunk.
            attempt.arm(started ? this.cfg.idleTimeoutMs : deadline - Date.now());
            let r: ReadableStreamReadResult<Uint8Array>;
            try {
              r = await reader.read();
            } catch (e) {
              throw failure(e, attempt, this.cfg, started ? this.cfg.idleTimeoutMs : this.cfg.timeoutMs);
            } finally {
              attempt.disarm();
            }
            if (attempt.why) throw failure(null, attempt, this.cfg, this.cfg.idleTimeoutMs);
            const events = r.done
              ? [...sse.push(decoder.decode()), ...sse.end()]
              : sse.push(decoder.decode(r.value, { stream: true }));
            for (const data of events) {
              if (data === '[DONE]') {
                done = true;
                break reading;
              }
              started = true;
              for (const out of this.event(
                data,
                calls,
                (u) => {
                  serverUsage = u;
                },
                (f) => {
                  finish = f;
                },
                content,
              )) {
                if (signal?.aborted) throw ABORTED;
                yield out;
              }
            }
            if (r.done) break;
          }
        } finally {
          if (!done) await reader.cancel().catch(() => {});
        }
        // A clean close after the finish chunk is fine (some servers omit [DONE]); before it, the answer is cut.
        if (!done && finish === null) {
          throw new SysError('EIO', `${this.cfg.base}: connection closed mid-answer`);
        }
      }
    } catch (e) {
      if (e === ABORTED || attempt.why === 'user') {
        yield last('abort');
        return;
      }
      throw e;
    } finally {
      attempt.release();
      this.inflight.delete(attempt);
    }
    if (signal?.aborted) {
      yield last('abort');
      return;
    }
    const toolCalls = calls.result();
    if (toolCalls.length)
      yield chunk(first ? { role: 'assistant', tool_calls: toolCalls } : { tool_calls: toolCalls }, null);
    yield last(
      toolCalls.length && (finish === 'stop' || finish === null) ? 'tool_calls' : (finish ?? 'stop'),
    );
  }

  /** One SSE event's JSON: content to yield now; tool calls, usage and finish are kept for the end. */
  private *event(
    data: string,
    calls: ToolCallAssembler,
    setUsage: (u: Usage) => void,
    setFinish: (f: FinishReason) => void,
    content: (s: string) => ChatCompletionChunk,
  ): Generator<ChatCompletionChunk> {
    let ev: unknown;
    try {
      ev = JSON.parse(data);
    } catch {
      throw new SysError('EIO', `${this.cfg.base}: malformed event: ${data.slice(0, 100)}`);
    }
    if (!isRecord(ev)) return;
    if (ev.error !== undefined && ev.error !== null) {
      const err = ev.error;
      const msg = isRecord(err) && typeof err.message === 'string' ? err.message : JSON.stringify(err);
      throw new SysError('EIO', `${this.cfg.base}: server error mid-stream: ${msg.slice(0, 300)}`);
    }
    const u = usageOf(ev.usage);
    if (u) setUsage(u);
    const choice = Array.isArray(ev.choices) ? ev.choices[0] : undefined;
    if (!isRecord(choice)) return;
    const delta = isRecord(choice.delta) ? choice.delta : {};
    if (typeof delta.content === 'string' && delta.content) yield content(delta.content);
    if (Array.isArray(delta.tool_calls)) calls.add(delta.tool_calls);
    if (typeof choice.finish_reason === 'string') setFinish(FINISH[choice.finish_reason] ?? 'stop');
  }

  async dispose(): Promise<void> {
    for (const a of this.inflight) a.stop('dispose');
    this.inflight.clear();
  }
}

/** Lists a server's models (`GET {base}/models`). */
export async function listRemoteModels(
  baseUrl: string,
  apiKey?: string,
  opts: { fetch?: typeof fetch; timeoutMs?: number; signal?: AbortSignal; maxAttempts?: number } = {},
): Promise<RemoteModel[]> {
  const cfg = config(baseUrl, apiKey, opts);
  let opened: Awaited<ReturnType<typeof send>>;
  try {
    opened = await send(cfg, '/models', { method: 'GET' }, opts.signal);
  } catch (e) {
    throw e === ABORTED ? new SysError('ECANCELED', 'listing models was aborted') : e;
  }
  const { res, attempt } = opened;
  let body: unknown;
  try {
    const text = await res.text();
    body = JSON.parse(text);
  } catch (e) {
    const f = failure(e, attempt, cfg, cfg.timeoutMs);
    throw f === ABORTED
      ? new SysError('ECANCELED', 'listing models was aborted')
      : attempt.why
        ? f
        : new SysError('EIO', `${cfg.base}/models: not JSON`);
  } finally {
    attempt.release();
  }
  // OpenAI: { data: [...] }; some servers answer a bare array or { models: [...] }.
  const list = Array.isArray(body)
    ? body
    : isRecord(body) && Array.isArray(body.data)
      ? body.data
      : isRecord(body) && Array.isArray(body.models)
        ? body.models
        : [];
  const out: RemoteModel[] = [];
  for (const m of list) {
    if (!isRecord(m)) continue;
    const id =
      typeof m.id === 'string'
        ? m.id
        : typeof m.name === 'string'
          ? m.name
          : typeof m.model === 'string'
            ? m.model
            : '';
    if (!id) continue;
    const model: RemoteModel = { id };
    if (typeof m.owned_by === 'string') model.ownedBy = m.owned_by;
    const ctx = [m.context_window, m.context_length, m.max_model_len, m.max_context_length].find(
      (v): v is number => typeof v === 'number' && v > 0,
    );
    if (ctx) model.contextWindow = ctx;
    out.push(model);
  }
  return out;
}

/**
 * Creates the engine for one model of a server. Unless `verify: false`, it asks
 * the server's `/models` first, so a wrong name (ENOENT), a bad key (EPERM) or
 * an unreachable server (EIO) fails the load, not the first agent's request.
 */
export async function createRemoteEngine(opts: RemoteEngineOptions): Promise<RemoteEngine> {
  config(opts.baseUrl, opts.apiKey, opts);
  let contextWindow: number | undefined;
  if (opts.verify !== false) {
    let models: RemoteModel[] | null = null;
    try {
      models = await listRemoteModels(opts.baseUrl, opts.apiKey, opts);
    } catch (e) {
      // Servers without /models (404) are still usable; everything else is a real failure.
      if (!SysError.is(e, 'ENOENT')) throw e;
    }
    if (models?.length) {
      const found = models.find((m) => m.id === opts.model);
      if (!found) {
        const names = models
          .slice(0, 20)
          .map((m) => m.id)
          .join(', ');
        throw new SysError('ENOENT', `${opts.baseUrl} has no model "${opts.model}"; it has: ${names}`);
      }
      contextWindow = found.contextWindow;
    }
  }
  return new RemoteEngine(opts, contextWindow);
}
