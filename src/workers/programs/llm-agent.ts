/**
 * The built-in agent: a tool-using loop on its task. It asks the model, streams
 * the answer to stdout, runs the tool calls the model makes, feeds back their
 * results, and stops when the model answers without calling a tool.
 */

import type { ChatMessage, ToolSpec } from '../../abi/chat';
import { SysError } from '../../abi/errors';
import type { AgentContext } from '../sdk';

const MAX_STEPS = 8;

export default async function llmAgent(ctx: AgentContext): Promise<number> {
  const args = (ctx.args ?? {}) as { model?: string; system?: string; maxTokens?: number };
  const messages: ChatMessage[] = [
    {
      role: 'system',
      content:
        args.system ?? 'You are an agent running on AgentOS. Complete the task; use tools when they help.',
    },
    { role: 'user', content: ctx.task },
  ];
  const tools = await discoverTools(ctx);
  for (let step = 0; step < MAX_STEPS; step++) {
    const stream = await ctx.llm.chat.completions.create({
      model: args.model,
      messages,
      tools: tools.length ? tools : undefined,
      max_tokens: args.maxTokens,
      stream: true,
    });
    let content = '';
    const calls: NonNullable<ChatMessage['tool_calls']> = [];
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta;
      if (delta?.content) {
        content += delta.content;
        await ctx.print(delta.content);
      }
      if (delta?.tool_calls) calls.push(...delta.tool_calls);
    }
    messages.push({
      role: 'assistant',
      content: content || null,
      ...(calls.length ? { tool_calls: calls } : {}),
    });
    if (!calls.length) {
      await ctx.print('\n');
      return 0;
    }
    for (const call of calls) {
      let result: string;
      try {
        result = JSON.stringify(
          await ctx.tools.call(call.function.name, JSON.parse(call.function.arguments || '{}')),
        );
      } catch (e) {
        result = JSON.stringify({
          error: e instanceof SysError ? e.code : 'EIO',
          message: String((e as Error).message ?? e),
        });
      }
      messages.push({ role: 'tool', tool_call_id: call.id, content: result });
    }
  }
  await ctx.error(`stopped after ${MAX_STEPS} steps\n`);
  return 1;
}

/** The tools closest to the task in meaning: only those it may call are found. */
async function discoverTools(ctx: AgentContext): Promise<ToolSpec[]> {
  return (await ctx.tools.search(ctx.task, 5)) as ToolSpec[];
}
