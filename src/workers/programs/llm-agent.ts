/**
 * The built-in agent: a tool-using loop on its task. It asks the model, streams
 * the answer to stdout, runs the tool calls the model makes, feeds back their
 * results, and stops when the model answers without calling a tool — or, with
 * `args.chat`, waits for the user's next message on its mailbox (body: a string
 * or `{ text }`) and carries on the conversation.
 *
 * It checkpoints its conversation (messages, tool results, tool calls not yet
 * answered) after every turn and every tool result, so when its tab closes it
 * resumes in another tab where it was. A tool call interrupted by the move is
 * run again if it only reads; otherwise the model is told it was interrupted
 * (EINTR) rather than risk doing it twice.
 */

import type { ChatMessage, ToolSpec } from '../../abi/chat';
import { SysError } from '../../abi/errors';
import type { AgentContext } from '../sdk';

const MAX_STEPS = 8;

interface Saved {
  v: 1;
  messages: ChatMessage[];
  /** Tool calls of the last assistant message that have no result yet. */
  pending: string[];
}

/** Tools that only read: safe to run again after an interruption. */
const READ_ONLY = /(^|[._-])(get|list|search|recall|read|find|lookup|query|now|time|ps|stat|fetch)($|[._-])/i;

function isSaved(v: unknown): v is Saved {
  const s = v as Saved | null;
  return !!s && s.v === 1 && Array.isArray(s.messages) && Array.isArray(s.pending);
}

export default async function llmAgent(ctx: AgentContext): Promise<number> {
  const args = (ctx.args ?? {}) as { model?: string; system?: string; maxTokens?: number; chat?: boolean };
  const restored = isSaved(ctx.restored) ? ctx.restored : null;
  const messages: ChatMessage[] = restored?.messages ?? [
    {
      role: 'system',
      content:
        args.system ?? 'You are an agent running on AgentOS. Complete the task; use tools when they help.',
    },
    { role: 'user', content: ctx.task },
  ];
  // Without storage (a frame whose storage is blocked) the agent still works; it just cannot resume
  // (the kernel's episodic log says why).
  const save = (pending: string[] = []) =>
    ctx.checkpoint({ v: 1, messages, pending } satisfies Saved).catch(() => {});
  const tools = await discoverTools(ctx);
  if (restored) await finishInterrupted(ctx, messages, restored.pending);
  await save();
  let steps = 0;
  for (;;) {
    const last = messages[messages.length - 1];
    const answered = last?.role === 'assistant' && !last.tool_calls?.length;
    if (answered) {
      if (!args.chat) return 0;
      const text = await nextMessage(ctx);
      if (text === null) return 0;
      messages.push({ role: 'user', content: text });
      steps = 0;
      await save();
      continue;
    }
    if (steps++ >= MAX_STEPS) {
      await ctx.error(`stopped after ${MAX_STEPS} steps\n`);
      if (!args.chat) return 1;
      messages.push({ role: 'assistant', content: `(stopped after ${MAX_STEPS} steps)` });
      await save();
      continue;
    }
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
      await save();
      continue;
    }
    // The calls are recorded before they run: after a move, the agent knows which were in flight.
    await save(calls.map((c) => c.id));
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i]!;
      messages.push({ role: 'tool', tool_call_id: call.id, content: await runTool(ctx, call) });
      await save(calls.slice(i + 1).map((c) => c.id));
    }
  }
}

async function runTool(
  ctx: AgentContext,
  call: NonNullable<ChatMessage['tool_calls']>[number],
): Promise<string> {
  try {
    return JSON.stringify(
      await ctx.tools.call(call.function.name, JSON.parse(call.function.arguments || '{}')),
    );
  } catch (e) {
    return JSON.stringify({
      error: e instanceof SysError ? e.code : 'EIO',
      message: String((e as Error).message ?? e),
    });
  }
}

/** Tool calls that were in flight when the agent's tab went: reads run again, others are reported. */
async function finishInterrupted(
  ctx: AgentContext,
  messages: ChatMessage[],
  pending: string[],
): Promise<void> {
  const asked = messages.flatMap((m) => m.tool_calls ?? []);
  for (const id of pending) {
    const call = asked.find((c) => c.id === id);
    if (!call || messages.some((m) => m.role === 'tool' && m.tool_call_id === id)) continue;
    const content = READ_ONLY.test(call.function.name)
      ? await runTool(ctx, call)
      : JSON.stringify({
          error: 'EINTR',
          message: `${call.function.name} was interrupted when the agent moved to another tab; not run again, as it may have had effects`,
        });
    messages.push({ role: 'tool', tool_call_id: id, content });
  }
}

/** The user's next message from the mailbox; null when the agent is told to stop. */
async function nextMessage(ctx: AgentContext): Promise<string | null> {
  for (;;) {
    const m = await ctx.bus.recv();
    const body = m.body as unknown;
    if (typeof body === 'string') return body;
    if (body && typeof body === 'object') {
      const b = body as { text?: unknown; end?: unknown };
      if (b.end === true) return null;
      if (typeof b.text === 'string') return b.text;
    }
  }
}

/** The tools closest to the task in meaning: only those it may call are found. */
async function discoverTools(ctx: AgentContext): Promise<ToolSpec[]> {
  return (await ctx.tools.search(ctx.task, 5)) as ToolSpec[];
}
