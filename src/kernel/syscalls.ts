/**
 * The syscall table: the whole surface an agent (or the shell) can reach.
 * Each entry names its argument check, the capability it needs, and its
 * handler — read it top to bottom like xv6's syscall.c. The kernel never looks
 * a name up anywhere else, and never trusts a pid sent in a message: the
 * caller is known from the port the call came on.
 */

import type { ChatRequest } from '../abi/chat';
import { CHECKPOINT_MAX } from '../abi/checkpoint';
import { SysError } from '../abi/errors';
import { CONTEXT_POLICIES } from '../models/context-budget';
import { addRemoteServer, registerWebLLMModels } from '../models/drivers';
import type { Need } from '../models/pool';
import { POLICIES, PRIORITY_MAX, PRIORITY_MIN } from '../models/scheduler';
import { checkPermissions, originOf } from './access-control';
import { bootTrace } from './boot-trace';
import {
  arr,
  bool,
  type Check,
  int,
  json,
  num,
  obj,
  oneOf,
  opt,
  payload,
  primitives,
  str,
  vector,
} from './check';
import type { Caller, Syscall } from './dispatch';
import { grant, revoke } from './grants';
import type { Kernel } from './kernel';
import type { Process } from './process';
import * as bus from './sys/bus';
import * as context from './sys/context';
import { echoPort, probeGpu } from './sys/debug';
import * as durable from './sys/durable';
import * as embed from './sys/embed';
import { chat } from './sys/llm';
import * as memory from './sys/memory';
import * as models from './sys/models';
import * as proc from './sys/proc';
import * as tools from './sys/tools';
import { wording } from './wording';

/** Separate arguments so TypeScript infers the argument type from the check first. */
const define = <A, R>(check: Check<A>, rest: Omit<Syscall<Kernel, A, R>, 'check'>): Syscall<Kernel> =>
  ({ check, ...rest }) as unknown as Syscall<Kernel>;

const pid = int({ min: 1 });
const fd: Check<1 | 2> = (v, p) => {
  if (v === 1 || v === 2) return v;
  throw new SysError('EINVAL', `${p}: expected 1 (stdout) or 2 (stderr)`);
};
const priority = int({ min: PRIORITY_MIN, max: PRIORITY_MAX });
/** A bus address: a pid, or a name a process registered. */
const target: Check<number | string> = (v, p) =>
  typeof v === 'number' ? int({ min: 0 })(v, p) : str({ min: 1, max: 100 })(v, p);

const role = oneOf('system', 'user', 'assistant', 'tool');
const toolCall = obj({
  id: str({ max: 200 }),
  type: oneOf('function'),
  function: obj({ name: str({ max: 200 }), arguments: str({ max: 65_536 }) }),
});
const message = obj({
  role,
  content: (v, p) => (v === null ? null : str({ max: 1_000_000 })(v, p)),
  name: opt(str({ max: 200 })),
  tool_calls: opt(arr(toolCall, { max: 64 })),
  tool_call_id: opt(str({ max: 200 })),
});
const tool = obj({
  type: oneOf('function'),
  function: obj({
    name: str({ min: 1, max: 64, pattern: /^[\w.-]+$/ }),
    description: opt(str({ max: 4096 })),
    parameters: opt(json({ maxBytes: 65_536 })),
  }),
});
/**
 * Text in one chat request, all messages together: far past any model's context (a 128k-token
 * window is about 512 KB), and short of what the kernel's synchronous tokenizer could count
 * without stalling everyone (64 messages of 1 MB each took it for seconds).
 */
export const CHAT_MAX_CHARS = 4_000_000;
const boundedChat =
  <T extends { messages: { content: string | null; tool_calls?: { function: { arguments: string } }[] }[] }>(
    c: Check<T>,
  ): Check<T> =>
  (v, path) => {
    const r = c(v, path);
    let n = 0;
    for (const m of r.messages) {
      n += m.content?.length ?? 0;
      for (const t of m.tool_calls ?? []) n += t.function.arguments.length;
    }
    if (n > CHAT_MAX_CHARS)
      throw new SysError(
        'E2BIG',
        `${path || 'request'}: ${n} characters of messages exceed ${CHAT_MAX_CHARS}`,
      );
    return r;
  };
const chatRequest: Check<ChatRequest> = boundedChat(
  obj({
    model: opt(str({ max: 200 })),
    messages: arr(message, { max: 4096 }),
    tools: opt(arr(tool, { max: 128 })),
    tool_choice: opt(oneOf('auto', 'none', 'required')),
    max_tokens: opt(int({ min: 1, max: 1_000_000 })),
    temperature: opt(num({ min: 0, max: 2 })),
    seed: opt(int()),
    stop: opt(arr(str({ max: 100 }), { max: 16 })),
    response_format: opt(json({ maxBytes: 65_536 })),
    stream: opt(bool),
    /** Ask by need instead of by id: the pool picks a model that fits (by expected wait, then size). */
    need: opt(
      obj({ minContext: opt(int({ min: 1, max: 100_000_000 })), size: opt(oneOf('small', 'large')) }),
    ),
  }),
) as Check<ChatRequest & { need?: { minContext?: number; size?: 'small' | 'large' } }>;

/** What a receive waits for: how long, from whom, on which topic (recv and recv_many). */
const recvFilter = {
  timeoutMs: opt(int({ min: 0, max: 86_400_000 })),
  from: opt(int({ min: 0 })),
  topic: opt(str({ max: 200 })),
  /** The receiver unpacks packed runs itself (the SDK): they come as the kernel holds them. */
  packed: opt(bool),
};

const spawnArgs = obj({
  task: str({ max: 100_000 }),
  permissions: opt(checkPermissions),
  options: opt(
    obj({
      program: opt(str({ min: 1, max: 2048 })),
      source: opt(str({ max: 1_000_000 })),
      priority: opt(priority),
      args: opt(json({ maxBytes: 1_048_576 })),
      restart: opt(oneOf('never', 'on-host-loss')),
    }),
  ),
});

export const SYSCALLS: Readonly<Record<string, Syscall<Kernel>>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, Syscall<Kernel>>, {
    nop: define(obj({}), {
      cap: null,
      who: 'any',
      handler: () => null,
      doc: 'does nothing; measures the syscall path',
    }),

    boot: define(obj({}), {
      cap: null,
      who: 'agent',
      handler: (k, c) => k.life.boot(c),
      doc: 'an agent worker announces itself and receives its task',
    }),

    getpid: define(obj({}), {
      cap: null,
      who: 'any',
      handler: (_k, c) => ({ pid: c.pid, ppid: c.kind === 'agent' ? c.proc.info.ppid : 0 }),
      doc: 'the caller’s pid and parent pid (0 for the user)',
    }),

    spawn: define(spawnArgs, {
      cap: 'spawn',
      who: 'any',
      handler: (k, c, a) => ({ pid: k.life.spawn(c, a.task, a.permissions, a.options ?? {}) }),
      doc: 'spawn(task, permissions?, {program, source, priority, args, restart}) → {pid}',
    }),

    ps: define(obj({}), {
      cap: 'procs',
      who: 'any',
      handler: (k, c) => proc.ps(k, c),
      doc: 'the processes the caller may see',
    }),

    kill: define(
      obj({ pid, signal: opt(oneOf('TERM', 'KILL')), graceMs: opt(int({ min: 0, max: 60_000 })) }),
      {
        cap: 'procs',
        who: 'any',
        handler: (k, c, a) => k.life.kill(k.life.visible(c, a.pid), a.signal ?? 'TERM', a.graceMs),
        doc: 'kill(pid, TERM|KILL): TERM asks the agent to exit, then terminates it after graceMs',
      },
    ),

    wait: define(obj({ pid, timeoutMs: opt(int({ min: 0, max: 86_400_000 })) }), {
      cap: 'procs',
      who: 'any',
      blocking: true,
      handler: (k, c, a) => k.life.wait(c, k.life.visible(c, a.pid), a.timeoutMs),
      doc: 'wait(pid, timeoutMs?) → {pid, exitCode, exitReason}',
    }),

    suspend: define(obj({ pid }), {
      cap: 'procs',
      who: 'any',
      handler: (k, c, a) => k.life.suspend(k.life.visible(c, a.pid)),
      doc: 'stop serving a process’s syscalls and streams until resume',
    }),

    resume: define(obj({ pid }), {
      cap: 'procs',
      who: 'any',
      handler: (k, c, a) => k.life.resume(k.life.visible(c, a.pid)),
      doc: 'serve a suspended process again',
    }),

    renice: define(obj({ pid, priority }), {
      cap: 'procs',
      who: 'any',
      handler: (k, c, a) => k.life.renice(c, k.life.visible(c, a.pid), a.priority),
      doc: `renice(pid, priority): ${PRIORITY_MIN} is most urgent, ${PRIORITY_MAX} least`,
    }),

    restart: define(obj({ pid }), {
      cap: null,
      who: 'user',
      handler: (k, c, a) => k.life.restart(k.life.visible(c, a.pid)),
      doc: 'restart(pid): start again, under the same pid, an agent that was running when the OS closed (or wake a sleeping one)',
    }),

    // ── durable (issue 15): checkpoints, the resume setting, tab visibility ──
    checkpoint: define(obj({ json: str({ max: CHECKPOINT_MAX }) }), {
      cap: null,
      who: 'agent',
      handler: (k, c, a) => durable.checkpoint(k, c, a.json),
      doc: 'checkpoint(json): store the caller’s state (JSON text) for its next life; resolves after commit',
    }),

    'session.settings': define(obj({ resumeOnOpen: opt(bool) }), {
      cap: null,
      who: 'user',
      handler: (k, _c, a) => durable.settings(k, a),
      doc: 'session.settings({resumeOnOpen?}): whether running agents resume when the OS opens again',
    }),

    'tab.visibility': define(obj({ hidden: bool }), {
      cap: null,
      who: 'user',
      handler: (k, c, a) => durable.visibility(k, c, a.hidden),
      doc: 'tab.visibility({hidden}): a hidden tab hosts agents only when no visible tab can',
    }),

    grant: define(obj({ pid, permissions: checkPermissions }), {
      cap: null,
      who: 'user',
      handler: (k, c, a) => grant(k, k.life.visible(c, a.pid), a.permissions),
      doc: 'grant(pid, permissions): the user widens a live process’s capabilities',
    }),

    revoke: define(obj({ pid, permissions: checkPermissions }), {
      cap: null,
      who: 'user',
      handler: (k, c, a) => revoke(k, k.life.visible(c, a.pid), a.permissions),
      doc: 'revoke(pid, permissions): takes effect at once, for its descendants too, and ends calls in flight that need it (EPERM)',
    }),

    'permission.request': define(
      obj({
        permissions: checkPermissions,
        reason: wording({ min: 1, max: 1000 }),
        timeoutMs: opt(int({ min: 1000, max: 600_000 })),
      }),
      {
        cap: null,
        who: 'agent',
        blocking: true,
        handler: (k, c, a, io) =>
          k.asks.request(agent(c), a.permissions, a.reason, a.timeoutMs ?? 120_000, io.signal),
        doc: 'permission.request(permissions, reason): asks the user (allow once / always / deny); deny when unanswered',
      },
    ),

    'permission.answer': define(obj({ id: int({ min: 1 }), answer: oneOf('once', 'always', 'deny') }), {
      cap: null,
      who: 'user',
      handler: (k, _c, a) => proc.answer(k, a.id, a.answer),
      doc: 'permission.answer(id, once | always | deny): the user’s answer to an agent’s request',
    }),

    'permission.pending': define(obj({}), {
      cap: null,
      who: 'user',
      handler: (k) => k.asks.pending(),
      doc: 'the permission requests waiting for an answer',
    }),

    exit: define(obj({ code: opt(int({ min: 0, max: 255 })) }), {
      cap: null,
      who: 'agent',
      handler: (k, c, a) => proc.exit(k, agent(c), a.code ?? 0),
      doc: 'exit(code): end the calling agent',
    }),

    write: define(obj({ fd, data: str({ max: 1_048_576 }) }), {
      cap: null,
      who: 'agent',
      handler: (k, c, a) => write(k, agent(c), a.fd, a.data),
      quiet: true, // the SDK sends most writes behind, answered only on failure (stdout.ts)
      doc: 'write(fd, data): append to the caller’s stdout (1) or stderr (2)',
    }),

    output: define(obj({ pid }), {
      cap: 'procs',
      who: 'any',
      handler: (k, c, a) => k.life.visible(c, a.pid).output,
      doc: 'the last 64 KiB a process wrote',
    }),

    'llm.chat': define(chatRequest, {
      cap: 'models',
      who: 'any',
      blocking: true,
      handler: (k, c, a, io) => chat(k, c, a as ChatRequest & { need?: Need }, io),
      doc: 'OpenAI-shaped chat completion; streams chunks, returns the final usage',
    }),

    'models.list': define(obj({ all: opt(bool) }), {
      cap: null,
      who: 'any',
      handler: (k, _c, a) => models.list(k, a),
      doc: 'the models in the pool: loaded or loadable, with reservations and queue lengths (`all`: test models too)',
    }),

    'models.load': define(
      obj({
        id: str({ min: 1, max: 200, pattern: /^[\w.:@/-]+$/ }),
        engine: opt(oneOf('deterministic', 'transformers', 'webllm')),
        options: opt(
          obj({
            // webllm: an MLC build of your own (its folder and its compiled model library).
            modelUrl: opt(str({ min: 8, max: 2048, pattern: /^https?:\/\/\S+$/ })),
            modelLib: opt(str({ min: 8, max: 2048, pattern: /^https?:\/\/\S+$/ })),
            vramMB: opt(num({ min: 1, max: 1_000_000 })),
            // transformers.js: a folder under /models/, or a Hugging Face id with allowRemote.
            model: opt(str({ min: 1, max: 200, pattern: /^[\w.@-]+(\/[\w.@-]+)?$/ })),
            device: opt(oneOf('wasm', 'webgpu')),
            allowRemote: opt(bool),
            remoteHost: opt(str({ min: 8, max: 500, pattern: /^https?:\/\/[^\s]+\/$/ })),
            prefillTokensPerSecond: opt(num({ min: 0.001 })),
            decodeTokensPerSecond: opt(num({ min: 0.001 })),
            contextWindow: opt(int({ min: 16, max: 10_000_000 })),
            contextCapacity: opt(int({ min: 16, max: 100_000_000 })),
            defaultLength: opt(int({ min: 1, max: 100_000 })),
            sizeBytes: opt(int({ min: 0 })),
            // Run it in an engine worker of a host tab instead of the kernel (how heavy engines run).
            hosted: opt(bool),
          }),
        ),
      }),
      {
        cap: 'modelAdmin',
        who: 'any',
        handler: (k, _c, a) => models.load(k, a),
        doc: 'load a model of the catalogue (or register a deterministic engine under a new id and load it)',
      },
    ),

    'models.cancel': define(obj({ id: str({ min: 1, max: 200 }) }), {
      cap: 'modelAdmin',
      who: 'any',
      handler: (k, _c, a) => models.cancel(k, a),
      doc: 'cancel a model’s load in progress (its download stops; waiting loads fail with ECANCELED)',
    }),

    'models.add_remote': define(obj({ baseUrl: str({ max: 2048 }), apiKey: opt(str({ max: 4096 })) }), {
      cap: 'modelAdmin',
      who: 'any',
      handler: (k, _c, a) => addRemoteServer(k, a.baseUrl, a.apiKey),
      doc: 'add an OpenAI-compatible server (Ollama, vLLM, llama.cpp, OpenAI): its models join the pool; requests go only there',
    }),

    'models.webllm': define(obj({ vramMB: opt(int({ min: 1, max: 1_000_000 })) }), {
      cap: 'modelAdmin',
      who: 'any',
      handler: (k, _c, a) =>
        registerWebLLMModels(k, a.vramMB ? a.vramMB * 2 ** 20 : undefined).then((ids) => ({
          registered: ids,
        })),
      doc: 'list WebLLM’s prebuilt models that fit this GPU into the catalogue (vramMB: its memory; default: estimated from the adapter, see abi/vram-estimate.ts)',
    }),

    'models.default': define(obj({ id: opt(str({ min: 1, max: 200 })) }), {
      cap: null,
      who: 'any',
      handler: (k, c, a) => models.defaultModel(k, c, a.id),
      doc: 'models.default({id?}): the model new agents use when they name none; with id, make it the default',
    }),

    'models.unload': define(obj({ id: str({ min: 1, max: 200 }) }), {
      cap: 'modelAdmin',
      who: 'any',
      handler: (k, _c, a) => k.pool.unload(a.id).then(() => null),
      doc: 'unload a model (EAGAIN while it serves requests or holds reservations)',
    }),

    'sched.policy': define(
      obj({
        policy: opt(oneOf(...POLICIES)),
        quantumTokens: opt(int({ min: 1, max: 100_000 })),
        agingMs: opt(int({ min: 1, max: 3_600_000 })),
        switchCostFactor: opt(num({ min: 0, max: 1000 })),
        contextPolicy: opt(oneOf(...CONTEXT_POLICIES)),
      }),
      {
        cap: null,
        who: 'any',
        handler: (k, c, a) => models.schedPolicy(k, c, a),
        doc: 'show or set the scheduling policy (fifo | round-robin | priority) and the default context policy',
      },
    ),

    'context.allocate': define(
      obj({
        tokens: int({ min: 1, max: 100_000_000 }),
        pid: opt(pid),
        model: opt(str({ max: 200 })),
        policy: opt(oneOf(...CONTEXT_POLICIES)),
        timeoutMs: opt(int({ min: 0, max: 86_400_000 })),
      }),
      {
        cap: 'models',
        who: 'any',
        blocking: true,
        handler: (k, c, a) => context.allocate(k, c, a),
        doc: 'allocate_context(pid, tokens): reserve context on the agent’s model (policy: compress | evict | queue)',
      },
    ),

    'context.release': define(obj({ id: int({ min: 1 }) }), {
      cap: 'models',
      who: 'any',
      handler: (k, c, a) => context.release(k, c, a.id),
      doc: 'release a context reservation',
    }),

    'context.list': define(obj({}), {
      cap: null,
      who: 'any',
      handler: (k, c) => context.list(k, c),
      doc: 'context reservations (the caller’s own, or all for the user)',
    }),

    'memory.stm.append': define(obj({ message, pinned: opt(bool) }), {
      cap: null,
      who: 'agent',
      handler: (k, c, a) => k.working.append(c.pid, a.message, a.pinned ?? false),
      doc: 'append a message to the caller’s short-term memory (working context)',
    }),

    'memory.stm.list': define(obj({ pid: opt(pid) }), {
      cap: 'procs',
      who: 'any',
      handler: (k, c, a) => context.stmList(k, c, a.pid),
      doc: 'the short-term memory of the caller (or a process in its scope) with token counts',
    }),

    'memory.stm.truncate': define(obj({ afterId: int({ min: 0 }) }), {
      cap: null,
      who: 'agent',
      handler: (k, c, a) => context.stmTruncate(k, c, a.afterId),
      doc: 'forget the caller’s short-term memory after entry afterId (0: all), e.g. an answer to regenerate',
    }),

    'memory.stm.compress': define(obj({ targetTokens: int({ min: 0 }) }), {
      cap: 'models',
      who: 'agent',
      blocking: true,
      handler: (k, c, a) =>
        k.working
          .compress(c.pid, undefined, a.targetTokens)
          .then((r) => ({ before: r.before, after: r.after, replaced: r.replaced.length })),
      doc: 'memory.compress: summarise the oldest turns until the context fits targetTokens',
    }),

    'memory.remember': define(
      obj({
        items: arr(
          obj({
            text: str({ max: 100_000 }),
            namespace: opt(str({ min: 1, max: 200 })),
            metadata: opt(json({ maxBytes: 16_384 })),
            vector: opt(vector()),
          }),
          { max: 10_000 },
        ),
      }),
      {
        cap: 'memory',
        who: 'any',
        handler: (k, c, a) => memory.remember(k, c, a),
        doc: 'remember(items): store texts (with metadata, optionally precomputed vectors) in long-term memory; acknowledged after commit',
      },
    ),

    'memory.recall': define(
      obj({
        query: str({ max: 10_000 }),
        k: opt(int({ min: 1, max: 1000 })),
        namespaces: opt(arr(str({ min: 1, max: 200 }), { max: 64 })),
        filter: opt(primitives),
        since: opt(int({ min: 0 })),
      }),
      {
        cap: 'memory',
        who: 'any',
        handler: (k, c, a) => memory.recall(k, c, a),
        doc: 'recall(query, {k, namespaces, filter, since}): hybrid search (vector + keyword + recency) in namespaces you may read',
      },
    ),

    'memory.list': define(
      obj({
        namespaces: opt(arr(str({ min: 1, max: 200 }), { max: 64 })),
        limit: opt(int({ min: 1, max: 1000 })),
      }),
      {
        cap: 'memory',
        who: 'any',
        handler: (k, c, a) => memory.list(k, c, a),
        doc: 'list({namespaces, limit}): the newest memories first, in namespaces you may read',
      },
    ),

    'memory.get': define(obj({ ids: arr(int({ min: 1 }), { max: 10_000 }) }), {
      cap: 'memory',
      who: 'any',
      handler: (k, c, a) => memory.get(k, c, a.ids),
      doc: 'get(ids): memories by id (null where none)',
    }),

    'memory.forget': define(obj({ id: int({ min: 1 }) }), {
      cap: 'memory',
      who: 'any',
      handler: (k, c, a) => memory.forget(k, c, a.id),
      doc: 'forget(id): delete a memory from a namespace you may write',
    }),

    'memory.update': define(
      obj({
        id: int({ min: 1 }),
        text: opt(str({ max: 100_000 })),
        metadata: opt(json({ maxBytes: 16_384 })),
      }),
      {
        cap: 'memory',
        who: 'any',
        handler: (k, c, a) => memory.update(k, c, a),
        doc: 'update(id, {text, metadata}): change a memory (re-embedded if the text changes)',
      },
    ),

    'memory.embedder': define(obj({ id: str({ min: 1, max: 200 }), allowRemote: opt(bool) }), {
      cap: null,
      who: 'user',
      handler: (k, _c, a) => memory.switchEmbedder(k, a),
      doc: 'switch long-term memory to another embedder (hash-<dim>-v1, or transformers:<model>); re-indexes in the background',
    }),

    'memory.storage': define(obj({ persist: opt(bool) }), {
      cap: null,
      who: 'any',
      handler: (k, c, a) => memory.storage(k, c, a),
      doc: 'storage used against quota, whether it is persistent (persist: true asks for it), memories stored',
    }),

    'bus.register': define(obj({ name: str({ min: 1, max: 100, pattern: /^[\w.:-]+$/ }) }), {
      cap: 'bus',
      who: 'agent',
      handler: (k, c, a) => bus.register(k, c, a.name),
      doc: 'register the caller under a name others can send to',
    }),

    'bus.send': define(
      obj({ to: target, body: payload(), wait: opt(bool), timeoutMs: opt(int({ min: 0, max: 3_600_000 })) }),
      {
        cap: 'bus',
        who: 'any',
        handler: (k, c, a) => bus.send(k, c, a),
        doc: 'send(to: pid | name, body, {wait, timeoutMs}): a full mailbox is EAGAIN, or waits when wait is set',
      },
    ),

    'bus.send_many': define(
      obj({
        to: target,
        bodies: opt(arr(payload(), { max: bus.MAX_BATCH })),
        // Packed by the SDK (abi/bus-pack.ts): bodies' JSON joined by ',', and where each ends.
        text: opt(str({ max: 64 * 1_048_576 })),
        ends: opt(arr(int({ min: 1 }), { max: bus.MAX_BATCH })),
      }),
      {
        cap: 'bus',
        who: 'any',
        handler: (k, c, a) => bus.sendMany(k, c, a),
        doc: 'send_many(to, bodies): in order, as many as the mailbox takes → {sent}; EAGAIN if none fit',
      },
    ),

    'bus.recv_many': define(obj({ max: int({ min: 1, max: bus.MAX_BATCH }), ...recvFilter }), {
      cap: 'bus',
      who: 'agent',
      blocking: true,
      handler: (k, c, a, io) => bus.recvMany(k, c, a, io),
      doc: 'recv_many({max, timeoutMs, from, topic}): waits for one message, then returns up to max, oldest first',
    }),

    'bus.recv': define(obj(recvFilter), {
      cap: 'bus',
      who: 'agent',
      blocking: true,
      handler: (k, c, a, io) => bus.recv(k, c, a, io),
      doc: 'recv({timeoutMs, from, topic}): the oldest message, with its true sender; ETIMEDOUT if none came',
    }),

    'bus.subscribe': define(obj({ topic: str({ min: 1, max: 200 }) }), {
      cap: 'bus',
      who: 'agent',
      handler: (k, c, a) => bus.subscribe(k, c, a.topic),
      doc: 'receive what is published on a topic',
    }),

    'bus.unsubscribe': define(obj({ topic: str({ min: 1, max: 200 }) }), {
      cap: 'bus',
      who: 'agent',
      handler: (k, c, a) => bus.unsubscribe(k, c, a.topic),
      doc: 'stop receiving a topic',
    }),

    'bus.publish': define(obj({ topic: str({ min: 1, max: 200 }), body: payload() }), {
      cap: 'bus',
      who: 'any',
      handler: (k, c, a) => bus.publish(k, c, a.topic, a.body),
      doc: 'publish(topic, body) → {delivered, dropped}: subscribers with a full mailbox miss it',
    }),

    'bus.request': define(
      obj({ to: target, body: payload(), timeoutMs: opt(int({ min: 1, max: 3_600_000 })) }),
      {
        cap: 'bus',
        who: 'agent',
        blocking: true,
        handler: (k, c, a) => bus.request(k, c, a),
        doc: 'request(to, body, timeoutMs) → the reply: the receiver gets a message with a correlation id and answers with reply',
      },
    ),

    'bus.reply': define(obj({ correlation: str({ min: 1, max: 100 }), body: payload() }), {
      cap: 'bus',
      who: 'agent',
      handler: (k, c, a) => bus.reply(k, c, a.correlation, a.body),
      doc: 'reply(correlation, body): answer a request sent to you',
    }),

    'tools.list': define(obj({}), {
      cap: 'tools',
      who: 'any',
      handler: (k, c) => tools.list(k, c),
      doc: 'the tools the caller may call, with their JSON Schemas and who serves them',
    }),

    'tools.search': define(obj({ query: str({ max: 10_000 }), k: opt(int({ min: 1, max: 50 })) }), {
      cap: 'tools',
      who: 'any',
      handler: (k, c, a) => tools.search(k, c, a.query, a.k ?? 5),
      doc: 'tools.search(query, k): the tools closest in meaning, in the OpenAI function shape, ready for a model request',
    }),

    'tools.call': define(obj({ name: str({ min: 1, max: 64 }), args: opt(json({ maxBytes: 1_048_576 })) }), {
      cap: 'tools',
      who: 'any',
      blocking: true,
      handler: (k, c, a, io) => tools.call(k, c, a, io),
      doc: 'tools.call(name, args): arguments validated against the tool’s schema; results size-limited',
    }),

    'tools.register': define(
      obj({
        name: str({ min: 1, max: 64 }),
        description: str({ max: 4096 }),
        inputSchema: json({ maxBytes: 65_536 }),
      }),
      {
        cap: 'tools',
        who: 'any',
        handler: (k, c, a) =>
          tools.register(k, c, {
            name: a.name,
            description: a.description,
            inputSchema: a.inputSchema as Record<string, unknown>,
          }),
        doc: 'serve a tool to others: an agent gets calls as bus requests on the "tools" topic (the SDK’s tools.serve), a page as host.tool commands',
      },
    ),

    'tools.mcp_add': define(
      obj({
        url: str({ max: 2048 }), // the MCP module says what is wrong with a bad address, in the user's terms
        prefix: opt(str({ min: 1, max: 40, pattern: /^[a-zA-Z][\w-]*$/ })),
        headers: opt(json({ maxBytes: 8192 })),
      }),
      {
        cap: null,
        who: 'user',
        handler: (k, _c, a) =>
          k.mcp.add({
            url: a.url,
            ...(a.prefix ? { prefix: a.prefix } : {}),
            ...(a.headers ? { headers: a.headers as Record<string, string> } : {}),
          }),
        doc: 'add an MCP server (Streamable HTTP): its tools join the registry as <prefix>.<name> and follow its list changes',
      },
    ),

    'tools.mcp_remove': define(obj({ url: str({ min: 8, max: 2048 }) }), {
      cap: null,
      who: 'user',
      handler: (k, _c, a) => k.mcp.remove(a.url).then(() => null),
      doc: 'remove an MCP server and its tools',
    }),

    'tools.mcp_list': define(obj({}), {
      cap: null,
      who: 'user',
      handler: (k) => k.mcp.list(),
      doc: 'the MCP servers added, with their tools',
    }),

    'tools.result': define(
      obj({
        callId: int({ min: 1 }),
        ok: bool,
        value: opt(json({ maxBytes: 1_048_576 })),
        error: opt(str({ max: 4096 })),
      }),
      {
        cap: null,
        who: 'user',
        handler: (k, c, a) => k.tabs.toolResult(user(c).tab, a.callId, a.ok, a.value, a.error),
        doc: 'a page answers a host.tool call to a tool it serves (an unknown call id is EINVAL and changes nothing)',
      },
    ),

    'embed.allow': define(
      obj({
        origin: str({ min: 8, max: 300, pattern: /^https?:\/\/[^/?#\s]+$/ }),
        permissions: checkPermissions,
      }),
      {
        cap: null,
        who: 'user',
        handler: (k, _c, a) => embed.allow(k, originOf(a.origin), a.permissions),
        doc: 'embed.allow(origin, permissions): a site may embed the OS; its agents get at most these permissions',
      },
    ),

    'embed.disallow': define(obj({ origin: str({ min: 8, max: 300 }) }), {
      cap: null,
      who: 'user',
      handler: (k, _c, a) => embed.disallow(k, a.origin),
      doc: 'embed.disallow(origin): that site’s embedded OS stops answering it, at its next message',
    }),

    'embed.policy': define(obj({ origin: opt(str({ max: 300 })) }), {
      cap: null,
      who: 'user',
      handler: (k, c, a) => embed.policy(k, user(c).tab, a.origin),
      doc: 'embed.policy(origin?): what an embedding origin may do (null if it is not allowed), or the whole allowlist',
    }),

    'embed.bind': define(obj({ origin: str({ min: 8, max: 300, pattern: /^https?:\/\/[^/?#\s]+$/ }) }), {
      cap: null,
      who: 'user',
      handler: (k, c, a) => k.embedders.bind(user(c).tab, originOf(a.origin)),
      doc: 'embed.bind(origin): an embedded OS speaks for this page origin from now on (once; only an allowed one): the kernel clamps it to that origin’s entry',
    }),

    'tools.remove': define(obj({ name: str({ min: 1, max: 64 }) }), {
      cap: 'tools',
      who: 'any',
      handler: (k, c, a) => tools.remove(k, c, a.name),
      doc: 'remove a tool (agents: only their own)',
    }),

    logs: define(
      obj({
        pid: opt(int({ min: 0 })),
        kind: opt(str({ max: 40 })),
        since: opt(int({ min: 0 })),
        text: opt(str({ max: 200 })),
        limit: opt(int({ min: 1, max: 10_000 })),
      }),
      {
        cap: 'procs',
        who: 'any',
        handler: (k, c, a) => proc.logs(k, c, a),
        doc: 'the episodic log: what happened, when, to whom',
      },
    ),

    subscribe: define(obj({}), {
      cap: null,
      who: 'user',
      handler: (k, c) => {
        user(c).tab.subscribed = true;
        k.tabs.broadcastTabs(); // durable: a new tab learns how many hosts and agents there are
        return null;
      },
      doc: 'receive kernel events (process changes, output) on this tab',
    }),

    stats: define(obj({}), { cap: null, who: 'any', handler: (k) => proc.stats(k), doc: 'kernel counters' }),

    'debug.echo_port': define(obj({}), {
      cap: null,
      who: 'any',
      handler: () => echoPort(),
      doc: 'a raw MessagePort the kernel echoes on: the baseline for syscall_rtt_ratio',
    }),

    'debug.boot_trace': define(obj({}), {
      cap: null,
      who: 'user',
      handler: () => bootTrace(),
      doc: "where the kernel's start spent its time: its boot:* marks, with its time origin",
    }),

    'debug.gpu': define(obj({}), {
      cap: null,
      who: 'user',
      handler: () => probeGpu(),
      doc: 'whether the kernel worker can reach a WebGPU adapter',
    }),
  }),
);

/** The agent behind an agent-only call (the table's `who` has already refused the user's tabs). */
function agent(c: Caller): Process {
  if (c.kind !== 'agent') throw new SysError('EPERM', 'for agents only');
  return c.proc;
}

/** The user's tab behind a user-only call. */
function user(c: Caller): Caller & { kind: 'user' } {
  if (c.kind !== 'user') throw new SysError('EPERM', "for the user's tabs only");
  return c;
}

/** Appends to the agent's stdout or stderr; the desktop shows it as it streams. */
function write(k: Kernel, p: Process, fd: 1 | 2, data: string): null {
  p.appendOutput(data, k.limiter.outputKeep(p));
  const live = k.limiter.liveOutput(p, data); // bounded per second: the rest is kept, not broadcast
  if (live !== null) k.emit({ type: 'output', pid: p.pid, fd, data: live });
  return null;
}
