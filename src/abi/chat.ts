/**
 * The chat-completion shapes on the wire, as OpenAI's API has them (agents already know them),
 * and `collect`, which turns a stream of chunks into one completion.
 */

export type Role = 'system' | 'user' | 'assistant' | 'tool';

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ChatMessage {
  role: Role;
  content: string | null;
  name?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
}

export interface ToolSpec {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export interface ChatRequest {
  model?: string;
  messages: ChatMessage[];
  tools?: ToolSpec[];
  tool_choice?: 'auto' | 'none' | 'required';
  max_tokens?: number;
  temperature?: number;
  seed?: number;
  stop?: string[];
  response_format?:
    | { type: 'text' | 'json_object' }
    | { type: 'json_schema'; json_schema: { name?: string; schema: Record<string, unknown> } };
  /**
   * Kernel-internal, never accepted from agents: text the assistant already
   * generated before it was preempted. Engines with `supportsContinuation`
   * re-prefill it and carry on after it; their chunks then hold only new text.
   */
  continuation?: string;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** True when a driver had no tokenizer and counted by estimate. */
  estimated?: boolean;
  /** How the engine spent the time, when it says (WebLLM's `usage.extra`, the transformers.js driver). */
  extra?: UsageExtra;
}

/** Engine-reported figures of one completion (names as WebLLM's `usage.extra`). */
export interface UsageExtra {
  prefill_tokens_per_s?: number;
  decode_tokens_per_s?: number;
  time_to_first_token_s?: number;
  /** Model forward passes run, and the input tokens they took: with a KV cache, about prompt + completion. */
  forward_passes?: number;
  forward_tokens?: number;
  /** Time spent compiling a grammar, and per token applying it (constrained decoding). */
  grammar_init_s?: number;
  grammar_per_token_s?: number;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'abort';

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{
    index: 0;
    delta: { role?: 'assistant'; content?: string; tool_calls?: ToolCall[] };
    finish_reason: FinishReason | null;
  }>;
  /** Present on the last chunk only. */
  usage?: Usage;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{ index: 0; message: ChatMessage; finish_reason: FinishReason }>;
  usage: Usage;
}

export interface ModelInfo {
  id: string;
  engine: string;
  contextWindow: number;
  /** Bytes the model occupies when loaded (weights + KV cache estimate). */
  sizeBytes: number;
  supportsTools: boolean;
  /** Shown in the UI: a test engine must never pass for a real model. */
  label?: string;
  /** The engine can resume a preempted generation from `ChatRequest.continuation`. */
  supportsContinuation?: boolean;
  /** Tokens of context (KV cache) the loaded model holds across all reservations. */
  contextCapacity?: number;
  /** Where it runs: 'local' (this browser) or 'remote' (a server the user added). */
  location?: 'local' | 'remote';
}

/** Collects a stream into a non-streaming completion, as OpenAI's API returns it. */
export async function collect(chunks: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletion> {
  let id = '';
  let model = '';
  let created = 0;
  let content = '';
  const toolCalls: ToolCall[] = [];
  let finish: FinishReason = 'stop';
  let usage: Usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  for await (const chunk of chunks) {
    id = chunk.id;
    model = chunk.model;
    created = chunk.created;
    const choice = chunk.choices[0];
    if (choice?.delta.content) content += choice.delta.content;
    if (choice?.delta.tool_calls) toolCalls.push(...choice.delta.tool_calls);
    if (choice?.finish_reason) finish = choice.finish_reason;
    if (chunk.usage) usage = chunk.usage;
  }
  const message: ChatMessage = { role: 'assistant', content: content || null };
  if (toolCalls.length) message.tool_calls = toolCalls;
  return {
    id,
    object: 'chat.completion',
    created,
    model,
    choices: [{ index: 0, message, finish_reason: finish }],
    usage,
  };
}
