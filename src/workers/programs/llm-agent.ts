/**
 * The built-in agent: a tool-using loop on its task. It asks the model, streams
 * the answer to stdout, runs the tool calls the model makes, feeds back their
 * results, and stops when the model answers without calling a tool. A tool call
 * that failed and was not followed by a successful call of that tool is not
 * handled: the failure goes to stderr and the exit code is 1, not 0.
 */

import type { ChatMessage, ToolSpec } from '../../abi/chat';
import { SysError } from '../../abi/errors';
import type { AgentContext } from '../sdk';

const MAX_STEPS = 8;
/** How much of the task is used to find relevant tools (tools.search takes a bounded query). */
const TOOL_QUERY_CHARS = 2000;

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
  /** Tools whose last call failed, with what went wrong. */
  const failed = new Map<string, string>();
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
      if (!failed.size) return 0;
      for (const [name, why] of failed) await ctx.error(`tool ${name} failed: ${why}\n`);
      return 1;
    }
    for (const call of calls) {
      let result: string;
      const name = call.function.name;
      try {
        result = JSON.stringify(await ctx.tools.call(name, parseArguments(name, call.function.arguments)));
        failed.delete(name);
      } catch (e) {
        const code = e instanceof SysError ? e.code : 'EIO';
        const message = String((e as Error).message ?? e);
        failed.set(name, message.startsWith(code) ? message : `${code}: ${message}`);
        result = JSON.stringify({ error: code, message });
      }
      messages.push({ role: 'tool', tool_call_id: call.id, content: result });
    }
  }
  await ctx.error(`stopped after ${MAX_STEPS} steps\n`);
  return 1;
}

/** A model's arguments text as an object; a model that wrote bad JSON gets an error it can read. */
function parseArguments(name: string, text: string | undefined): unknown {
  try {
    return JSON.parse(text || '{}');
  } catch {
    throw new SysError('EINVAL', `the arguments for ${name} were not JSON: ${(text ?? '').slice(0, 200)}`);
  }
}

/** The tools closest to the task in meaning (found by its opening): only those it may call are found. */
async function discoverTools(ctx: AgentContext): Promise<ToolSpec[]> {
  return (await ctx.tools.search(ctx.task.slice(0, TOOL_QUERY_CHARS), 5)) as ToolSpec[];
}
