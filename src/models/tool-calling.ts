/**
 * Tool calls on every model. Few small local models take OpenAI's `tools`
 * field (WebLLM accepts it only for its Hermes models, and then forbids a
 * system prompt of one's own). So `withPromptedTools` describes the tools in
 * the system prompt, constrains the answer with a JSON schema
 * (`{"tool_calls": [...]}` or `{"content": "..."}`), and turns that JSON back
 * into OpenAI-shaped `tool_calls` or content. Content is streamed as it is
 * decoded; tool calls are parsed once the answer is complete. Whatever the
 * model writes, the stream never throws because of it: output that is not the
 * agreed JSON reaches the agent as plain content.
 */
import type {
  ChatCompletionChunk,
  ChatEngine,
  ChatMessage,
  ChatRequest,
  FinishReason,
  ModelInfo,
  ToolCall,
  ToolSpec,
  Usage,
} from './engine';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

let callSeq = 0;
function callId(): string {
  const r = globalThis.crypto?.randomUUID?.().replace(/-/g, '').slice(0, 16);
  return `call_${r ?? `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`}${(callSeq++).toString(36)}`;
}

/** The answer's JSON schema: a list of calls to known tools, or plain content. */
export function promptedToolSchema(tools: ToolSpec[], required = false): Record<string, unknown> {
  const calls = {
    type: 'object',
    properties: {
      tool_calls: {
        type: 'array',
        minItems: 1,
        // One branch per tool, so each call's arguments follow that tool's own schema.
        items: {
          anyOf: tools.map((t) => ({
            type: 'object',
            properties: {
              name: { type: 'string', enum: [t.function.name] },
              arguments: t.function.parameters ?? { type: 'object' },
            },
            required: ['name', 'arguments'],
            additionalProperties: false,
          })),
        },
      },
    },
    required: ['tool_calls'],
    additionalProperties: false,
  };
  if (required) return calls;
  const content = {
    type: 'object',
    properties: { content: { type: 'string' } },
    required: ['content'],
    additionalProperties: false,
  };
  return { oneOf: [calls, content] };
}

export function promptedToolPrompt(tools: ToolSpec[], required = false): string {
  const list = tools
    .map((t) => {
      const f = t.function;
      const params = JSON.stringify(f.parameters ?? { type: 'object', properties: {} });
      return `- ${f.name}: ${f.description ?? '(no description)'}\n  arguments (JSON Schema): ${params}`;
    })
    .join('\n');
  const forms = required
    ? 'Answer with JSON only, of this form:\n{"tool_calls": [{"name": "<tool name>", "arguments": {<arguments>}}]}'
    : 'Answer with JSON only, in one of two forms:\n' +
      '{"tool_calls": [{"name": "<tool name>", "arguments": {<arguments>}}]} to call one or more tools, or\n' +
      '{"content": "<your answer>"} to answer the user directly.';
  return `You can call these tools:\n${list}\n\n${forms}\nA tool's result comes back in a message starting "Result of tool".`;
}

/**
 * The conversation as a model without tool support can read it: one leading
 * system message (WebLLM refuses a system message anywhere else), earlier
 * assistant turns in the JSON form it is asked to write, and tool results as
 * user messages (many chat templates have no tool role).
 */
function rewriteMessages(messages: ChatMessage[], toolPrompt: string, raws?: RawTurns): ChatMessage[] {
  const system: string[] = [];
  const rest: ChatMessage[] = [];
  const names = new Map<string, string>();
  for (const m of messages) {
    if (m.role === 'system') {
      if (m.content) system.push(m.content);
    } else if (m.role === 'assistant' && m.tool_calls?.length) {
      for (const c of m.tool_calls) names.set(c.id, c.function.name);
      const calls = m.tool_calls.map((c) => ({
        name: c.function.name,
        arguments: parseArgs(c.function.arguments),
      }));
      const raw = raws?.get(RawTurns.callsKey(m.tool_calls));
      rest.push({ role: 'assistant', content: raw ?? JSON.stringify({ tool_calls: calls }) });
    } else if (m.role === 'assistant') {
      const raw = raws?.get(RawTurns.contentKey(m.content ?? ''));
      rest.push({ role: 'assistant', content: raw ?? JSON.stringify({ content: m.content ?? '' }) });
    } else if (m.role === 'tool') {
      const name = m.name ?? (m.tool_call_id ? names.get(m.tool_call_id) : undefined) ?? 'call';
      rest.push({ role: 'user', content: `Result of tool ${name}: ${m.content ?? ''}` });
    } else {
      rest.push({ role: m.role, content: m.content, ...(m.name ? { name: m.name } : {}) });
    }
  }
  system.push(toolPrompt);
  return [{ role: 'system', content: system.join('\n\n') }, ...rest];
}

/**
 * The model's own text of its recent answers, by what the agent kept of them (the decoded
 * content, or the ids of the calls made). An earlier turn is given back to the model in exactly
 * the bytes it wrote, not re-serialised: an engine that keeps its KV cache across requests
 * (WebLLM reuses it only when the earlier turns match exactly) then prefills just the new
 * message. Bounded; a turn not found is written in the canonical form (a cache miss, no more).
 */
export class RawTurns {
  private readonly map = new Map<string, string>();
  constructor(private readonly max = 256) {}

  static contentKey(content: string): string {
    return `c:${content}`;
  }

  static callsKey(calls: ToolCall[]): string {
    return `t:${calls.map((c) => c.id).join(',')}`;
  }

  set(key: string, raw: string): void {
    if (key.length > 65_536) return;
    this.map.delete(key);
    this.map.set(key, raw);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }

  get(key: string): string | undefined {
    return this.map.get(key);
  }
}

/** A conversation with its tool calls and results written as plain assistant and user turns. */
export function withoutToolTurns(messages: ChatMessage[]): ChatMessage[] {
  const names = new Map<string, string>();
  return messages.map((m) => {
    if (m.role === 'assistant' && m.tool_calls?.length) {
      for (const c of m.tool_calls) names.set(c.id, c.function.name);
      const calls = m.tool_calls.map((c) => `${c.function.name}(${c.function.arguments})`).join(', ');
      return { role: 'assistant', content: [m.content, `Called ${calls}.`].filter(Boolean).join('\n') };
    }
    if (m.role === 'tool') {
      const name = m.name ?? (m.tool_call_id ? names.get(m.tool_call_id) : undefined) ?? 'call';
      return { role: 'user', content: `Result of tool ${name}: ${m.content ?? ''}` };
    }
    return m;
  });
}

function parseArgs(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return {};
  }
}

type Sniff = { kind: 'wait' } | { kind: 'raw' } | { kind: 'buffer' } | { kind: 'string'; at: number };

/** Reads just enough of the answer's start to know whether it is `{"content": "…`, other JSON, or not JSON. */
function sniff(s: string): Sniff {
  let i = 0;
  const ws = () => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  ws();
  if (i >= s.length) return { kind: 'wait' };
  if (s[i] !== '{') return { kind: 'raw' };
  i++;
  ws();
  if (i >= s.length) return { kind: 'wait' };
  if (s[i] !== '"') return { kind: 'buffer' };
  const close = s.indexOf('"', i + 1);
  if (close < 0) return s.length - i > 32 ? { kind: 'buffer' } : { kind: 'wait' };
  const key = s.slice(i + 1, close);
  i = close + 1;
  ws();
  if (i >= s.length) return { kind: 'wait' };
  if (s[i] !== ':' || key !== 'content') return { kind: 'buffer' };
  i++;
  ws();
  if (i >= s.length) return { kind: 'wait' };
  return s[i] === '"' ? { kind: 'string', at: i + 1 } : { kind: 'buffer' };
}

const ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/**
 * Turns the model's text into what the agent sees. `{"content": "…"}` is
 * decoded and streamed as it arrives (escapes split across chunks included);
 * anything else is held until the end and parsed then.
 */
export class PromptedOutput {
  private state: 'sniff' | 'raw' | 'string' | 'after' | 'buffer' = 'sniff';
  private raw = '';
  /** Undecoded text of the content string (at most a partial escape between pushes). */
  private pending = '';

  constructor(
    private readonly tools: ReadonlySet<string>,
    resumeInString = false,
  ) {
    if (resumeInString) this.state = 'string';
  }

  /** Feeds model text; returns content to stream now ('' for none). */
  push(text: string): string {
    this.raw += text;
    switch (this.state) {
      case 'raw':
        return text;
      case 'after':
      case 'buffer':
        return '';
      case 'string':
        this.pending += text;
        return this.decode();
      case 'sniff': {
        const s = sniff(this.raw);
        if (s.kind === 'wait') return '';
        if (s.kind === 'raw') {
          this.state = 'raw';
          return this.raw;
        }
        if (s.kind === 'buffer') {
          this.state = 'buffer';
          return '';
        }
        this.state = 'string';
        this.pending = this.raw.slice(s.at);
        return this.decode();
      }
    }
  }

  private decode(): string {
    let out = '';
    let i = 0;
    const p = this.pending;
    while (i < p.length) {
      const c = p[i]!;
      if (c === '"') {
        this.state = 'after';
        this.pending = '';
        return out;
      }
      if (c !== '\\') {
        out += c;
        i++;
        continue;
      }
      if (i + 1 >= p.length) break;
      const e = p[i + 1]!;
      if (e === 'u') {
        if (i + 6 > p.length) break;
        const hex = p.slice(i + 2, i + 6);
        // A bad escape: keep the characters rather than lose them.
        out += /^[0-9a-fA-F]{4}$/.test(hex)
          ? String.fromCharCode(Number.parseInt(hex, 16))
          : p.slice(i, i + 6);
        i += 6;
      } else {
        out += ESCAPES[e] ?? e;
        i += 2;
      }
    }
    this.pending = p.slice(i);
    return out;
  }

  /**
   * The answer is complete: what is left to emit. An aborted answer that was
   * still a tool call is dropped (half a call must never run); any other text
   * that is not the agreed JSON becomes content.
   */
  end(finish: FinishReason): { content?: string; toolCalls?: ToolCall[] } {
    if (this.state === 'raw' || this.state === 'string' || this.state === 'after') return {};
    if (finish === 'abort') return {};
    const text = this.raw;
    if (!text.trim()) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { content: text };
    }
    if (isRecord(parsed) && typeof parsed.content === 'string' && parsed.tool_calls === undefined) {
      return { content: parsed.content };
    }
    const calls = isRecord(parsed) ? this.calls(parsed.tool_calls) : null;
    return calls ? { toolCalls: calls } : { content: text };
  }

  /** Valid calls to known tools, or null when any part is not. */
  private calls(v: unknown): ToolCall[] | null {
    if (!Array.isArray(v) || v.length === 0) return null;
    const out: ToolCall[] = [];
    for (const c of v) {
      if (!isRecord(c) || typeof c.name !== 'string' || !this.tools.has(c.name)) return null;
      let args: string;
      if (c.arguments === undefined || c.arguments === null) args = '{}';
      else if (isRecord(c.arguments)) args = JSON.stringify(c.arguments);
      else if (typeof c.arguments === 'string' && isRecord(parseOrNull(c.arguments))) args = c.arguments;
      else return null;
      out.push({ id: callId(), type: 'function', function: { name: c.name, arguments: args } });
    }
    return out;
  }
}

function parseOrNull(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

/** Builds the request the inner engine gets; the caller's request is never mutated. */
export function promptedRequest(
  req: ChatRequest,
  raws?: RawTurns,
): { inner: ChatRequest; resumeInString: boolean } {
  const tools = req.tools ?? [];
  const required = req.tool_choice === 'required';
  const { tools: _t, tool_choice: _c, ...rest } = req;
  const inner: ChatRequest = {
    ...rest,
    messages: rewriteMessages(req.messages, promptedToolPrompt(tools, required), raws),
    // The tool schema replaces any response_format: the content branch carries the answer as text.
    response_format: {
      type: 'json_schema',
      json_schema: { name: 'tool_calls_or_content', schema: promptedToolSchema(tools, required) },
    },
  };
  // A preempted answer resumes inside the JSON string it was streaming (only content is ever streamed).
  const resumeInString = !!req.continuation;
  if (req.continuation) inner.continuation = `{"content": ${JSON.stringify(req.continuation).slice(0, -1)}`;
  return { inner, resumeInString };
}

export interface PromptedToolsOptions {
  /**
   * The model continues text and cannot choose between answering and calling a tool (a story
   * model): with tool_choice 'auto' (or none given) it answers in plain text; 'required'
   * still gives tool calls, valid by construction where the engine constrains its output.
   */
  autoAsText?: boolean;
}

/** An engine that accepts `tools` whatever model is behind it. Requests without tools pass through untouched. */
export function withPromptedTools(engine: ChatEngine, o: PromptedToolsOptions = {}): ChatEngine {
  const raws = new RawTurns();
  return {
    get info(): ModelInfo {
      return { ...engine.info, supportsTools: true };
    },
    // The pool drops an engine that says it is dead (a lost GPU device): say it through the wrapper.
    get alive() {
      return engine.alive;
    },
    countTokens: (text) => engine.countTokens(text),
    dispose: engine.dispose ? () => engine.dispose!() : undefined,
    stream(req, signal) {
      if (!req.tools?.length) return engine.stream(req, signal);
      if (req.tool_choice === 'none' || (o.autoAsText && req.tool_choice !== 'required')) {
        const { tools: _t, tool_choice: _c, ...plain } = req;
        // Earlier tool turns as plain text: chat templates without a tool role refuse them.
        return engine.stream({ ...plain, messages: withoutToolTurns(req.messages) }, signal);
      }
      return promptedStream(engine, req, signal, raws);
    },
  };
}

async function* promptedStream(
  engine: ChatEngine,
  req: ChatRequest,
  signal: AbortSignal | undefined,
  raws: RawTurns,
): AsyncGenerator<ChatCompletionChunk> {
  const { inner, resumeInString } = promptedRequest(req, raws);
  const out = new PromptedOutput(new Set((req.tools ?? []).map((t) => t.function.name)), resumeInString);
  let meta = { id: `prompted-${callSeq++}`, created: Math.floor(Date.now() / 1000), model: engine.info.id };
  let finish: FinishReason = 'stop';
  let usage: Usage | undefined;
  const passthroughCalls: ToolCall[] = [];
  let first = !req.continuation;
  let raw = '';
  /** The content the agent is given (and will hand back as its history). */
  let content = '';
  const chunk = (
    delta: ChatCompletionChunk['choices'][0]['delta'],
    fin: FinishReason | null,
  ): ChatCompletionChunk => {
    const d = first ? { role: 'assistant' as const, ...delta } : delta;
    first = false;
    return {
      ...meta,
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta: d, finish_reason: fin }],
    };
  };
  for await (const c of engine.stream(inner, signal)) {
    meta = { id: c.id, created: c.created, model: c.model };
    const choice = c.choices[0];
    if (choice?.delta.content) {
      raw += choice.delta.content;
      const text = out.push(choice.delta.content);
      content += text;
      if (text) yield chunk({ content: text }, null);
    }
    // An engine that produced native calls anyway: keep them.
    if (choice?.delta.tool_calls) passthroughCalls.push(...choice.delta.tool_calls);
    if (choice?.finish_reason) finish = choice.finish_reason;
    if (c.usage) usage = c.usage;
  }
  const rest = out.end(finish);
  if (rest.content) yield chunk({ content: rest.content }, null);
  content += rest.content ?? '';
  const calls = [...passthroughCalls, ...(rest.toolCalls ?? [])];
  // A whole answer (not one resumed from a continuation, which the engine saw in two parts).
  if (finish !== 'abort' && !req.continuation && raw) {
    if (calls.length && !passthroughCalls.length) raws.set(RawTurns.callsKey(calls), raw);
    else if (!calls.length) raws.set(RawTurns.contentKey(content), raw);
  }
  if (calls.length) yield chunk({ tool_calls: calls }, null);
  const fin: FinishReason =
    finish === 'abort' ? 'abort' : calls.length ? 'tool_calls' : finish === 'length' ? 'length' : 'stop';
  const last = chunk({}, fin);
  last.usage = usage ?? estimateUsage(engine, inner, raw);
  yield last;
}

function estimateUsage(engine: ChatEngine, req: ChatRequest, output: string): Usage {
  const p = req.messages.reduce((n, m) => n + engine.countTokens(m.content ?? ''), 0);
  const c = engine.countTokens(output);
  return { prompt_tokens: p, completion_tokens: c, total_tokens: p + c, estimated: true };
}
