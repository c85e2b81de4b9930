/**
 * The model-engine interface. It mirrors OpenAI's chat-completions API (as WebLLM
 * does) so that agent authors already know it, and so every driver — WebLLM,
 * transformers.js, a remote OpenAI-compatible server, the deterministic engine —
 * is interchangeable behind the model pool.
 */

import type { ChatCompletionChunk, ChatRequest, FinishReason, ModelInfo, Usage } from '../abi/chat';

export type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatMessage,
  ChatRequest,
  FinishReason,
  ModelInfo,
  Role,
  ToolCall,
  ToolSpec,
  Usage,
  UsageExtra,
} from '../abi/chat';
export { collect } from '../abi/chat';

/** One loaded model able to serve chat completions. */
export interface ChatEngine {
  readonly info: ModelInfo;
  /** Streams chunks; the last chunk carries `usage`. Aborting ends the stream with finish_reason 'abort'. */
  stream(req: ChatRequest, signal?: AbortSignal): AsyncIterable<ChatCompletionChunk>;
  /** Token count of a text with the model's own tokenizer. */
  countTokens(text: string): number;
  /** Frees what the engine holds (GPU buffers, workers, sockets); the pool calls it on unload. */
  dispose?(): Promise<void>;
  /** False once the engine can serve nothing more (GPU device lost, worker gone): the pool drops it. */
  readonly alive?: boolean;
}

/** Errors after which an engine is beyond use. */
export function isFatalEngineError(e: unknown): boolean {
  const name = (e as { name?: string })?.name ?? '';
  const msg = (e as Error)?.message ?? '';
  return name === 'DeviceLostError' || /device (was )?lost|is gone/i.test(msg);
}

/** Builds the chunks of one completion: every chunk carries the same id, timestamp and model. */
export function chunkMaker(
  id: string,
  model: string,
  created = Math.floor(Date.now() / 1000),
): (
  delta: ChatCompletionChunk['choices'][0]['delta'],
  finish: FinishReason | null,
  usage?: Usage,
) => ChatCompletionChunk {
  return (delta, finish, usage) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finish }],
    ...(usage ? { usage } : {}),
  });
}
