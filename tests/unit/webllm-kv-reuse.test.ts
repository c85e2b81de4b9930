/**
 * An agent's earlier turns reach WebLLM byte-identical, so WebLLM reuses its KV cache and
 * prefills only the new message. Checked with WebLLM 0.2.86's own code: MLCEngine's
 * preparePrefillInput (which builds a Conversation from the request with its chat template
 * and compares it with the one the engine holds: a mismatch resets the chat, i.e. re-prefills
 * everything). The stand-in plays only the GPU: it records what the model "wrote" into the
 * conversation as WebLLM's pipeline does (appendMessage, appendReplyHeader, finishReply).
 */
import { describe, expect, it } from 'vitest';
import type { ChatMessage, ChatRequest, ToolCall, ToolSpec } from '../../src/models/engine';
import {
  createWebLLMEngine,
  type MLCEngineLike,
  type WebLLMChunk,
  type WebLLMModelRecord,
  type WebLLMModule,
  type WebLLMRequest,
} from '../../src/models/engines/webllm';

interface Conv {
  messages: unknown[];
  appendMessage(role: string, msg: string): void;
  appendReplyHeader(role: string): void;
  finishReply(msg: string): void;
}
interface Pipeline {
  getConversationObject(): Conv;
  getFinishReason(): string;
  resetChat(): void;
  setConversation(c: Conv): void;
}
interface RealEngine {
  preparePrefillInput(input: unknown, pipeline: Pipeline, chatConfig: unknown): { inputStr: string };
}

/** Qwen2.5's template as its mlc-chat-config.json gives it (ChatML). */
const chatConfig = {
  conv_template: {
    name: 'chatml',
    system_template: '<|im_start|>system\n{system_message}<|im_end|>\n',
    system_message: 'You are a helpful assistant.',
    roles: { user: '<|im_start|>user', assistant: '<|im_start|>assistant', tool: '<|im_start|>user' },
    role_templates: { user: '{user_message}', assistant: '{assistant_message}', tool: '{tool_message}' },
    messages: [],
    seps: ['<|im_end|>\n'],
    role_content_sep: '\n',
    role_empty_sep: '\n',
    stop_str: ['<|im_end|>'],
    system_prefix_token_ids: [],
    stop_token_ids: [151643, 151645],
    add_role_after_system_message: true,
  },
  conv_config: {},
};

const record: WebLLMModelRecord = {
  model: 'https://huggingface.co/mlc-ai/Qwen2.5-0.5B-Instruct-q4f32_1-MLC',
  model_id: 'Qwen2.5-0.5B-Instruct-q4f32_1-MLC',
  model_lib: 'https://example.invalid/lib.wasm',
  vram_required_MB: 944,
};

/** WebLLM's request handling for real, the GPU played: each request "writes" the next scripted reply. */
async function engineWith(replies: string[]) {
  const web = (await import('@mlc-ai/web-llm')) as unknown as {
    MLCEngine: new () => RealEngine;
    prebuiltAppConfig: WebLLMModule['prebuiltAppConfig'];
  };
  const real = new web.MLCEngine();
  let conv: Conv = {
    messages: [],
    appendMessage() {},
    appendReplyHeader() {},
    finishReply() {},
  } as Conv;
  let resets = 0;
  const pipeline: Pipeline = {
    getConversationObject: () => conv,
    getFinishReason: () => 'stop',
    resetChat: () => {
      resets++;
    },
    setConversation: (c) => {
      conv = c;
    },
  };
  const engine: MLCEngineLike = {
    interruptGenerate() {},
    async unload() {},
    chat: {
      completions: {
        async create(req: WebLLMRequest) {
          const { inputStr } = real.preparePrefillInput(req, pipeline, chatConfig);
          const last = req.messages.at(-1)!;
          conv.appendMessage(last.role === 'tool' ? 'tool' : 'user', inputStr);
          conv.appendReplyHeader('assistant');
          const reply = replies.shift() ?? '';
          conv.finishReply(reply);
          return (async function* (): AsyncGenerator<WebLLMChunk> {
            // Streamed in pieces, as WebLLM does.
            for (let i = 0; i < reply.length; i += 5) {
              yield {
                id: 'x',
                created: 0,
                model: record.model_id,
                choices: [{ delta: { content: reply.slice(i, i + 5) }, finish_reason: null }],
              };
            }
            yield {
              id: 'x',
              created: 0,
              model: record.model_id,
              choices: [{ delta: {}, finish_reason: 'stop' }],
            };
          })();
        },
      },
    },
  };
  const mod: WebLLMModule = {
    prebuiltAppConfig: { model_list: [record] },
    CreateMLCEngine: async () => engine,
    hasModelInCache: async () => true,
    deleteModelAllInfoInCache: async () => {},
  };
  const driver = await createWebLLMEngine({
    model: record.model_id,
    load: async () => mod,
    skipGpuCheck: true,
    countTokens: (t) => t.length,
  });
  return { driver, resets: () => resets };
}

async function run(driver: Awaited<ReturnType<typeof engineWith>>['driver'], req: ChatRequest) {
  let content = '';
  const calls: ToolCall[] = [];
  for await (const c of driver.stream(req)) {
    content += c.choices[0]?.delta.content ?? '';
    calls.push(...(c.choices[0]?.delta.tool_calls ?? []));
  }
  return { content, calls };
}

const tools: ToolSpec[] = [
  {
    type: 'function',
    function: { name: 'time.now', description: 'the time', parameters: { type: 'object', properties: {} } },
  },
];

describe('WebLLM’s KV cache across an agent’s turns (its real conversation code)', () => {
  it('plain chat: each follow-up prefills only the new message', async () => {
    const { driver, resets } = await engineWith(['Hello! How can I help?', 'Paris is the capital.']);
    const history: ChatMessage[] = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hi' },
    ];
    const a = await run(driver, { messages: history });
    history.push({ role: 'assistant', content: a.content }, { role: 'user', content: 'capital of France?' });
    await run(driver, { messages: history });
    expect(resets()).toBe(1); // the first request only
  });

  it('with tools (prompted JSON): the model’s own bytes of each earlier turn are sent back, so the cache hits', async () => {
    // What a model writes under the prompt: spaces where it likes them, unlike JSON.stringify.
    const { driver, resets } = await engineWith([
      '{"tool_calls": [{"name": "time.now", "arguments": {}}]}',
      '{"content": "It is noon."}',
      '{"content": "You are welcome."}',
    ]);
    const history: ChatMessage[] = [
      { role: 'system', content: 'Use tools.' },
      { role: 'user', content: 'what time is it?' },
    ];
    const t1 = await run(driver, { messages: history, tools, tool_choice: 'auto' });
    expect(t1.calls.map((c) => c.function.name)).toEqual(['time.now']);
    history.push(
      { role: 'assistant', content: null, tool_calls: t1.calls },
      { role: 'tool', tool_call_id: t1.calls[0]!.id, content: '12:00' },
    );
    const t2 = await run(driver, { messages: history, tools, tool_choice: 'auto' });
    expect(t2.content).toBe('It is noon.');
    history.push({ role: 'assistant', content: t2.content }, { role: 'user', content: 'thanks' });
    const t3 = await run(driver, { messages: history, tools, tool_choice: 'auto' });
    expect(t3.content).toBe('You are welcome.');
    expect(resets()).toBe(1);
  });
});
