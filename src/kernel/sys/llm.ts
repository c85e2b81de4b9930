/** llm.chat: a model request with the caller's model grant, context reservation and token quota held. */
import type { ChatRequest, Usage } from '../../abi/chat';
import { SysError } from '../../abi/errors';
import type { Need } from '../../models/pool';
import { mayUseModel } from '../access-control';
import type { Caller, CallIO } from '../dispatch';
import type { Kernel } from '../kernel';
import { LiveGeneration } from '../live-usage';
import { guardCall } from '../permissions';

export async function chat(k: Kernel, c: Caller, request: ChatRequest & { need?: Need }, io: CallIO) {
  const { need, ...req } = request;
  const model = k.pool.route({ ...(need ?? {}), model: req.model, tools: !!req.tools?.length });
  if (!mayUseModel(c.caps, model)) throw new SysError('EPERM', `model ${model} is not granted`);
  const proc = c.kind === 'agent' ? c.proc : null;
  const { engine, sched } = await k.pool.acquire(model);
  const prompt = req.messages.reduce((n, m) => n + 1 + engine.countTokens(m.content ?? ''), 0);
  const r: ChatRequest = { ...req, model };
  if (proc) proc.info.model = model;
  // Tokens held on every quota up the chain while it runs, so requests at once (siblings too) cannot
  // spend the same ones; settled to what it used at the end (a failed one: its prompt and what streamed).
  let hold = 0;
  if (proc) {
    const held = k.pool.reservations(model).find((x) => x.pid === proc.pid);
    if (held && prompt > held.tokens) {
      throw new SysError(
        'ENOSPC',
        `prompt of ${prompt} tokens exceeds the ${held.tokens} reserved on ${model}; compress or allocate more`,
      );
    }
    // The quota counts for its spawners' too (quota-account.ts): a child cannot spend past its parent's.
    const room = proc.account.room('tokens');
    if (room) {
      if (room.left <= prompt) {
        const text = proc.account.describe('tokens', room, prompt);
        k.log(proc.pid, 'quota', text, { quota: room.quota, left: room.left, prompt, of: room.pid });
        throw new SysError('EDQUOT', text);
      }
      // Never let one answer run past the quota.
      r.max_tokens = Math.min(r.max_tokens ?? Number.POSITIVE_INFINITY, room.left - prompt);
    }
    hold = prompt + (room ? r.max_tokens! : 0);
  }
  // Revoking the model mid-stream ends this generation at once, with EPERM.
  const guard = guardCall(proc, io.signal, () => mayUseModel(c.caps, model), `model ${model}`);
  // Its token counts and state (waiting / generating) move while the answer streams.
  // Mid-stream figures only go to the tabs: saving the session for each would cost the kernel per chunk.
  const live = proc
    ? LiveGeneration.start(
        proc,
        (p) => k.figuresChanged(p),
        model,
        prompt,
        (p) => k.emit({ type: 'proc', proc: p.info }),
      )
    : null;
  let usage: Usage | null = null;
  proc?.account.add('tokens', hold);
  try {
    usage = await sched
      .submit({
        pid: c.pid,
        priority: proc?.info.priority ?? 0,
        livePriority: () => (proc ? proc.info.priority : -20),
        enqueuedAt: performance.now(),
        seq: 0,
        req: r,
        emit: live
          ? (chunk) => {
              live.chunk(chunk);
              io.emit(chunk);
            }
          : io.emit,
        signal: guard.signal,
        parked: () => proc?.state === 'suspended',
      })
      .finally(guard.release);
  } finally {
    live?.end(usage);
    const used = usage ? usage.prompt_tokens + usage.completion_tokens : prompt + (live?.streamed ?? 0);
    proc?.account.add('tokens', used - hold);
  }
  guard.done();
  k.log(
    c.pid,
    'model.call',
    `${model}: ${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion tokens`,
    {
      model,
      ...usage,
    },
  );
  return usage;
}
