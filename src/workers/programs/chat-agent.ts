/**
 * The chat agent: one per conversation, alive between messages. Its
 * conversation lives in its short-term memory (held by the kernel, summarised
 * when it outgrows the model's context); follow-ups, regenerate and stop come
 * from the user on the bus (chat-protocol.ts). A tool it has not been granted
 * makes it ask the user (the chat shows "Allow … for this chat?") instead of
 * failing in silence.
 */
import type { ChatMessage, ToolSpec } from '../../abi/chat';
import { SysError } from '../../abi/errors';
import type { AgentContext } from '../sdk';
import { type ChatAgentArgs, type ChatControl, type TurnStatus, turnEnd } from './chat-protocol';

const MAX_STEPS = 6;
const SYSTEM =
  'You are a helpful assistant running on AgentOS, in the user’s browser. Answer in Markdown. Use a tool when it helps.';

export default async function chatAgent(ctx: AgentContext): Promise<number> {
  const args = (ctx.args ?? {}) as ChatAgentArgs;
  const stm = ctx.memory.shortTerm;
  const queue: ChatControl[] = [];
  // A later life (it moved to another tab, or the OS reopened): the conversation is still in its
  // short-term memory, which the kernel kept, so it is neither seeded nor its first message answered again.
  const { entries } = await stm.list();
  if (ctx.restored === null && entries.length === 0) {
    await stm.append({ role: 'system', content: args.system ?? SYSTEM }, true);
    for (const m of args.history ?? []) await stm.append(m);
    if (ctx.task.trim())
      queue.push({ kind: 'say', text: ctx.task, ...(args.offer ? { offer: args.offer } : {}) });
    // Marks the first life done (and lets the kernel move it after a crash); where nothing can be saved, the memory check above suffices.
    await ctx.checkpoint({ seeded: true }).catch(() => {});
  } else {
    const last = entries.at(-1)?.message.role;
    if (last === 'user' || last === 'tool') {
      await ctx.error('the answer was cut off when its tab closed; press Regenerate to answer again\n');
      await ctx.print(turnEnd(1));
    }
  }
  // Shared with the reader below (an object, so TypeScript does not narrow it away).
  const st: { wake: (() => void) | null; current: AbortController | null } = { wake: null, current: null };

  // The user's messages arrive while an answer streams (stop must reach it), so they are read apart.
  void (async () => {
    while (!ctx.signal.aborted) {
      let m: Awaited<ReturnType<AgentContext['bus']['recv']>>;
      try {
        m = await ctx.bus.recv();
      } catch (e) {
        if (SysError.is(e, 'ETIMEDOUT')) continue;
        return; // terminated
      }
      if (m.from !== 0) continue; // only the user steers a chat
      const c = m.body as ChatControl | null;
      if (c?.kind === 'stop') st.current?.abort();
      else if (c?.kind === 'say' || c?.kind === 'regenerate') {
        queue.push(c);
        st.wake?.();
      }
    }
  })();

  let attempts = 0;
  let offer: ToolSpec[] = [];
  let lastText = '';
  for (;;) {
    if (!queue.length) await new Promise<void>((r) => (st.wake = r));
    st.wake = null;
    const c = queue.shift();
    if (!c || c.kind === 'stop') continue;
    const current = new AbortController();
    st.current = current;
    let status: TurnStatus;
    try {
      if (c.kind === 'say') {
        attempts = 0;
        offer = c.offer ?? [];
        lastText = c.text;
        await stm.append({ role: 'user', content: c.text });
      } else {
        // Regenerate: forget everything after the last user message, answer it again differently.
        const { entries } = await stm.list();
        const lastUser = entries.findLast((e) => e.message.role === 'user');
        if (!lastUser) throw new SysError('ENOENT', 'there is no message to answer again');
        await stm.truncate(lastUser.id);
        lastText = lastUser.message.content ?? '';
        attempts++;
      }
      status = await answer(ctx, args, { attempts, offer, text: lastText, signal: current.signal });
    } catch (e) {
      status = current.signal.aborted ? 130 : 1;
      if (status === 1) await ctx.error(`${explain(e)}\n`);
    }
    st.current = null;
    await ctx.print(turnEnd(status));
  }
}

/** One answer: streams it, runs the tool calls it makes (asking for tools it lacks), keeps it all in memory. */
async function answer(
  ctx: AgentContext,
  args: ChatAgentArgs,
  turn: { attempts: number; offer: ToolSpec[]; text: string; signal: AbortSignal },
): Promise<TurnStatus> {
  const stm = ctx.memory.shortTerm;
  const { model, contextWindow } = await modelOf(ctx, args.model);
  const maxTokens = args.maxTokens ?? Math.max(16, Math.min(512, Math.floor(contextWindow / 4)));
  const tools = args.tools === false ? [] : keepOffered(offered, await toolsFor(ctx, turn.text, turn.offer));
  const asked = new Set<string>();
  for (let step = 0; step < MAX_STEPS; step++) {
    await fitContext(ctx, contextWindow - maxTokens - 16);
    const messages = (await stm.list()).entries.map((e) => e.message);
    let content = '';
    let finish: string | null = null;
    const calls: NonNullable<ChatMessage['tool_calls']> = [];
    try {
      const stream = await ctx.llm.chat.completions.create(
        {
          ...(model ? { model } : {}),
          messages,
          ...(tools.length ? { tools, tool_choice: 'auto' as const } : {}),
          max_tokens: maxTokens,
          // A regenerated answer samples (a different seed each time); the first one is greedy.
          ...(turn.attempts > 0 ? { seed: turn.attempts, temperature: 0.8 } : {}),
          stream: true,
        },
        { signal: turn.signal },
      );
      for await (const chunk of stream) {
        const delta = chunk.choices[0]?.delta;
        if (delta?.content) {
          content += delta.content;
          await ctx.print(delta.content);
        }
        if (delta?.tool_calls) calls.push(...delta.tool_calls);
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
    } catch (e) {
      // What the user saw stays part of the conversation, even when stopped midway.
      if (content) await stm.append({ role: 'assistant', content });
      if (turn.signal.aborted) return 130;
      throw e;
    }
    await stm.append({
      role: 'assistant',
      content: content || null,
      ...(calls.length ? { tool_calls: calls } : {}),
    });
    if (turn.signal.aborted) return 130;
    // Cut at max_tokens: the chat says so (and keeps saying so after a reload).
    if (!calls.length) return finish === 'length' ? 2 : 0;
    for (const call of calls) {
      const result = await runTool(ctx, call.function.name, call.function.arguments, asked);
      await stm.append({ role: 'tool', tool_call_id: call.id, content: result });
    }
  }
  await ctx.error(`stopped after ${MAX_STEPS} tool steps\n`);
  return 1;
}

/** Runs a tool; one the agent lacks makes it ask the user once, then try again if allowed. */
async function runTool(
  ctx: AgentContext,
  name: string,
  rawArgs: string,
  asked: Set<string>,
): Promise<string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawArgs || '{}');
  } catch {
    return JSON.stringify({
      error: 'EINVAL',
      message: `the arguments are not JSON: ${rawArgs.slice(0, 200)}`,
    });
  }
  for (;;) {
    try {
      return JSON.stringify(await ctx.tools.call(name, parsed));
    } catch (e) {
      const origin = originOf((parsed as { url?: unknown } | null)?.url);
      const key = `${name} ${origin ?? ''}`;
      if (SysError.is(e, 'EPERM') && !asked.has(key)) {
        asked.add(key);
        const r = await ctx.requestPermission(
          { tools: [name], ...(origin ? { net: [origin] } : {}) },
          `This chat wants to call ${name}${origin ? ` on ${origin}` : ''} to answer your message.`,
        );
        if (r.answer !== 'deny') continue;
        return JSON.stringify({ error: 'EPERM', message: `the user did not allow ${name}` });
      }
      return JSON.stringify({ error: e instanceof SysError ? e.code : 'EIO', message: explain(e) });
    }
  }
}

/** Summarises the oldest turns when the conversation outgrows what the model can read. */
async function fitContext(ctx: AgentContext, budget: number): Promise<void> {
  const { tokens } = await ctx.memory.shortTerm.list();
  if (tokens > budget) await ctx.memory.shortTerm.compress(Math.max(1, Math.floor(budget * 0.7)));
}

async function modelOf(
  ctx: AgentContext,
  wanted?: string,
): Promise<{ model?: string; contextWindow: number }> {
  const id = wanted ?? (await ctx.syscall<{ id: string }>('models.default').catch(() => null))?.id;
  const info = (await ctx.llm.models()).find((m) => m.id === id);
  return { ...(wanted ? { model: wanted } : {}), contextWindow: info?.contextWindow ?? 4096 };
}

/** The tools this conversation has offered the model so far, in the order first offered. */
const offered: ToolSpec[] = [];
const MAX_OFFERED = 8;

/**
 * The tools of a turn are those offered before plus the new ones, appended (up to `max`): the
 * tool list heads the prompt, so a list that changed with each message would make every turn
 * re-read the whole conversation, where an engine's cache (WebLLM's) keeps a prefix that stays
 * byte-identical. A tool past `max` takes the place of the oldest one.
 */
export function keepOffered(kept: ToolSpec[], fresh: ToolSpec[], max = MAX_OFFERED): ToolSpec[] {
  for (const t of fresh) {
    if (kept.some((k) => k.function.name === t.function.name)) continue;
    if (kept.length >= max) kept.shift();
    kept.push(t);
  }
  return [...kept];
}

/** The tools it holds that fit the message, and those the user offered (which it may have to ask for). */
async function toolsFor(ctx: AgentContext, text: string, offer: ToolSpec[]): Promise<ToolSpec[]> {
  const own = await ctx.tools.search(text, 3).catch(() => [] as ToolSpec[]);
  const names = new Set(own.map((t) => t.function.name));
  return [...own, ...offer.filter((t) => !names.has(t.function.name))];
}

function originOf(url: unknown): string | null {
  if (typeof url !== 'string') return null;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : null;
  } catch {
    return null;
  }
}

function explain(e: unknown): string {
  if (!(e instanceof SysError)) return String((e as Error)?.message ?? e);
  return e.message.startsWith(`${e.code}:`) ? e.message : `${e.code}: ${e.message}`;
}
