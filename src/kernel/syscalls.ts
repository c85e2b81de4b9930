/**
 * The syscall table: the whole surface an agent (or the shell) can reach.
 * Each entry names its argument check, the capability it needs, and its
 * handler — read it top to bottom like xv6's syscall.c. The kernel never looks
 * a name up anywhere else, and never trusts a pid sent in a message: the
 * caller is known from the port the call came on.
 */

import { offlineEmbedder } from '../memory/service';
import {
  type CapName,
  checkPermissions,
  mayReadNamespace,
  mayUseTool,
  mayWriteNamespace,
  originOf,
  privateNamespace,
} from './access-control';
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
  transferables,
  vector,
} from './check';
import { CONTEXT_POLICIES } from './context-budget';
import type { ChatRequest } from './engine';
import { DeterministicEngine, tokenize } from './engines/deterministic';
import { SysError } from './errors';
import type { Caller, CallIO, Kernel } from './kernel';
import { addRemoteServer, registerTransformersModel, registerWebLLMModels } from './model-drivers';
import type { Need } from './model-pool';
import { guardCall } from './permissions';
import { POLICIES, PRIORITY_MAX, PRIORITY_MIN } from './scheduler';
import { toSpec } from './tools';
import { Transfer } from './transfer';

export interface Syscall<A = unknown, R = unknown> {
  /** Validates and types the untrusted arguments; throws EINVAL/E2BIG. */
  check: Check<A>;
  /** The capability the caller must hold; null when every process may call it. */
  cap: CapName | null;
  /** Who may call it at all: agents, the user's tabs, or both. */
  who: 'any' | 'agent' | 'user';
  /** Blocking calls mark an agent 'waiting' while they are in flight. */
  blocking?: boolean;
  handler: (k: Kernel, caller: Caller, args: A, io: CallIO) => R | Promise<R>;
  doc: string;
}

/** Separate arguments so TypeScript infers the argument type from the check first. */
const define = <A, R>(check: Check<A>, rest: Omit<Syscall<A, R>, 'check'>): Syscall =>
  ({ check, ...rest }) as unknown as Syscall;

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
const chatRequest: Check<ChatRequest> = obj({
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
  need: opt(obj({ minContext: opt(int({ min: 1, max: 100_000_000 })), size: opt(oneOf('small', 'large')) })),
}) as Check<ChatRequest & { need?: { minContext?: number; size?: 'small' | 'large' } }>;

/** What a receive waits for: how long, from whom, on which topic (recv and recv_many). */
const recvFilter = {
  timeoutMs: opt(int({ min: 0, max: 86_400_000 })),
  from: opt(int({ min: 0 })),
  topic: opt(str({ max: 200 })),
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

export const SYSCALLS: Readonly<Record<string, Syscall>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, Syscall>, {
    nop: define(obj({}), {
      cap: null,
      who: 'any',
      handler: () => null,
      doc: 'does nothing; measures the syscall path',
    }),

    boot: define(obj({}), {
      cap: null,
      who: 'agent',
      handler: (k, c) => k.bootAgent(c),
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
      handler: (k, c, a) => ({ pid: k.spawn(c, a.task, a.permissions, a.options ?? {}) }),
      doc: 'spawn(task, permissions?, {program, source, priority, args, restart}) → {pid}',
    }),

    ps: define(obj({}), {
      cap: 'procs',
      who: 'any',
      handler: (k, c) => k.ps(c),
      doc: 'the processes the caller may see',
    }),

    kill: define(
      obj({ pid, signal: opt(oneOf('TERM', 'KILL')), graceMs: opt(int({ min: 0, max: 60_000 })) }),
      {
        cap: 'procs',
        who: 'any',
        handler: (k, c, a) => k.kill(k.visible(c, a.pid), a.signal ?? 'TERM', a.graceMs),
        doc: 'kill(pid, TERM|KILL): TERM asks the agent to exit, then terminates it after graceMs',
      },
    ),

    wait: define(obj({ pid, timeoutMs: opt(int({ min: 0, max: 86_400_000 })) }), {
      cap: 'procs',
      who: 'any',
      blocking: true,
      handler: (k, c, a) => k.wait(c, k.visible(c, a.pid), a.timeoutMs),
      doc: 'wait(pid, timeoutMs?) → {pid, exitCode, exitReason}',
    }),

    suspend: define(obj({ pid }), {
      cap: 'procs',
      who: 'any',
      handler: (k, c, a) => k.suspend(k.visible(c, a.pid)),
      doc: 'stop serving a process’s syscalls and streams until resume',
    }),

    resume: define(obj({ pid }), {
      cap: 'procs',
      who: 'any',
      handler: (k, c, a) => k.resume(k.visible(c, a.pid)),
      doc: 'serve a suspended process again',
    }),

    renice: define(obj({ pid, priority }), {
      cap: 'procs',
      who: 'any',
      handler: (k, c, a) => k.renice(c, k.visible(c, a.pid), a.priority),
      doc: `renice(pid, priority): ${PRIORITY_MIN} is most urgent, ${PRIORITY_MAX} least`,
    }),

    restart: define(obj({ pid }), {
      cap: null,
      who: 'user',
      handler: (k, c, a) => k.restart(k.visible(c, a.pid)),
      doc: 'restart(pid): start again, under the same pid, an agent that was running when the OS closed',
    }),

    grant: define(obj({ pid, permissions: checkPermissions }), {
      cap: null,
      who: 'user',
      handler: (k, c, a) => k.grant(k.visible(c, a.pid), a.permissions),
      doc: 'grant(pid, permissions): the user widens a live process’s capabilities',
    }),

    revoke: define(obj({ pid, permissions: checkPermissions }), {
      cap: null,
      who: 'user',
      handler: (k, c, a) => k.revoke(k.visible(c, a.pid), a.permissions),
      doc: 'revoke(pid, permissions): takes effect at once, for its descendants too, and ends calls in flight that need it (EPERM)',
    }),

    'permission.request': define(
      obj({
        permissions: checkPermissions,
        reason: str({ min: 1, max: 1000 }),
        timeoutMs: opt(int({ min: 1000, max: 600_000 })),
      }),
      {
        cap: null,
        who: 'agent',
        blocking: true,
        handler: (k, c, a, io) =>
          k.asks.request(
            (c as Caller & { kind: 'agent' }).proc,
            a.permissions,
            a.reason,
            a.timeoutMs ?? 120_000,
            io.signal,
          ),
        doc: 'permission.request(permissions, reason): asks the user (allow once / always / deny); deny when unanswered',
      },
    ),

    'permission.answer': define(obj({ id: int({ min: 1 }), answer: oneOf('once', 'always', 'deny') }), {
      cap: null,
      who: 'user',
      handler: (k, _c, a) => {
        k.asks.answer(a.id, a.answer);
        return null;
      },
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
      handler: (k, c, a) => k.exitAgent(c, a.code ?? 0),
      doc: 'exit(code): end the calling agent',
    }),

    write: define(obj({ fd, data: str({ max: 1_048_576 }) }), {
      cap: null,
      who: 'agent',
      handler: (k, c, a) => k.write(c, a.fd, a.data),
      doc: 'write(fd, data): append to the caller’s stdout (1) or stderr (2)',
    }),

    output: define(obj({ pid }), {
      cap: 'procs',
      who: 'any',
      handler: (k, c, a) => k.visible(c, a.pid).output,
      doc: 'the last 64 KiB a process wrote',
    }),

    'llm.chat': define(chatRequest, {
      cap: 'models',
      who: 'any',
      blocking: true,
      handler: (k, c, a, io) => k.chat(c, a as ChatRequest & { need?: Need }, io),
      doc: 'OpenAI-shaped chat completion; streams chunks, returns the final usage',
    }),

    'models.list': define(obj({}), {
      cap: null,
      who: 'any',
      handler: (k) => k.pool.catalog(),
      doc: 'the models in the pool: loaded or loadable, with reservations and queue lengths',
    }),

    'models.load': define(
      obj({
        id: str({ min: 1, max: 200, pattern: /^[\w.:@/-]+$/ }),
        engine: opt(oneOf('deterministic', 'transformers')),
        options: opt(
          obj({
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
        handler: async (k, _c, a) => {
          // A new engine is registered first; any catalogue model is then loaded.
          if (a.engine === 'transformers') {
            const o = a.options;
            registerTransformersModel(k, a.id, {
              model: o?.model ?? a.id,
              ...(o?.device ? { device: o.device } : {}),
              ...(o?.allowRemote ? { allowRemote: true } : {}),
              ...(o?.remoteHost ? { remoteHost: o.remoteHost } : {}),
              ...(o?.contextWindow ? { contextWindow: o.contextWindow } : {}),
            });
          } else if (a.engine === 'deterministic') {
            const {
              hosted,
              model: _m,
              device: _d,
              allowRemote: _r,
              remoteHost: _h,
              ...opts
            } = a.options ?? {};
            if (hosted) {
              const info = new DeterministicEngine({ ...opts, id: a.id }).info;
              k.registerHostedModel(
                info,
                ['test'],
                'deterministic',
                { ...opts, id: a.id },
                async () => (t) => tokenize(t).length,
              );
            } else k.pool.registerDeterministic({ ...opts, id: a.id });
          }
          await k.pool.load(a.id);
          return k.pool.info(a.id);
        },
        doc: 'load a model of the catalogue (or register a deterministic engine under a new id and load it)',
      },
    ),

    'models.add_remote': define(
      obj({ baseUrl: str({ min: 8, max: 2048 }), apiKey: opt(str({ max: 4096 })) }),
      {
        cap: 'modelAdmin',
        who: 'any',
        handler: (k, _c, a) => addRemoteServer(k, a.baseUrl, a.apiKey),
        doc: 'add an OpenAI-compatible server (Ollama, vLLM, llama.cpp, OpenAI): its models join the pool; requests go only there',
      },
    ),

    'models.webllm': define(obj({ vramMB: opt(int({ min: 1, max: 1_000_000 })) }), {
      cap: 'modelAdmin',
      who: 'any',
      handler: (k, _c, a) =>
        registerWebLLMModels(k, (a.vramMB ?? 4096) * 2 ** 20).then((ids) => ({ registered: ids })),
      doc: 'list WebLLM’s prebuilt models that fit this GPU (given an estimate of its memory) into the catalogue',
    }),

    'models.default': define(obj({ id: opt(str({ min: 1, max: 200 })) }), {
      cap: null,
      who: 'any',
      handler: (k, c, a) => {
        if (a.id === undefined) return k.defaults.get();
        if (!c.caps.modelAdmin)
          throw new SysError('EPERM', 'choosing the default model needs the "modelAdmin" capability');
        return k.defaults.set(a.id);
      },
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
        handler: (k, c, a) => {
          const { contextPolicy, ...sched } = a;
          const changing = contextPolicy !== undefined || Object.keys(sched).length > 0;
          if (changing && !c.caps.modelAdmin)
            throw new SysError('EPERM', 'changing scheduling needs the "modelAdmin" capability');
          if (contextPolicy) k.budget.defaultPolicy = contextPolicy;
          const opts = k.pool.setSchedulerOptions(sched);
          return { ...opts, contextPolicy: k.budget.defaultPolicy, models: k.pool.schedulerStats() };
        },
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
        handler: (k, c, a) => {
          // allocate_context(pid, tokens): agents reserve for themselves (or a process in their scope).
          const target = a.pid === undefined ? c.pid : k.visible(c, a.pid).pid;
          if (target === 0) throw new SysError('EINVAL', 'the user has no context to reserve; name a pid');
          return k.allocateContext(target, a.tokens, a.model, a.policy, a.timeoutMs);
        },
        doc: 'allocate_context(pid, tokens): reserve context on the agent’s model (policy: compress | evict | queue)',
      },
    ),

    'context.release': define(obj({ id: int({ min: 1 }) }), {
      cap: 'models',
      who: 'any',
      handler: (k, c, a) => k.releaseContext(c, a.id),
      doc: 'release a context reservation',
    }),

    'context.list': define(obj({}), {
      cap: null,
      who: 'any',
      handler: (k, c) => ({
        reservations: k.pool.reservations().filter((r) => c.kind === 'user' || r.pid === c.pid),
        queued: k.budget.queued().filter((r) => c.kind === 'user' || r.pid === c.pid),
      }),
      doc: 'context reservations (the caller’s own, or all for the user)',
    }),

    'memory.stm.append': define(obj({ message, pinned: opt(bool) }), {
      cap: null,
      who: 'agent',
      handler: (k, c, a) => k.stmAppend(c, a.message, a.pinned ?? false),
      doc: 'append a message to the caller’s short-term memory (working context)',
    }),

    'memory.stm.list': define(obj({ pid: opt(pid) }), {
      cap: 'procs',
      who: 'any',
      handler: (k, c, a) => {
        const target = a.pid === undefined ? c.pid : k.visible(c, a.pid).pid;
        const m = k.stmOf(target);
        return { tokens: m.tokens(), entries: m.list() };
      },
      doc: 'the short-term memory of the caller (or a process in its scope) with token counts',
    }),

    'memory.stm.truncate': define(obj({ afterId: int({ min: 0 }) }), {
      cap: null,
      who: 'agent',
      handler: (k, c, a) => {
        const m = k.stmOf(c.pid);
        const removed = m.truncate(a.afterId);
        if (removed < 0) throw new SysError('ENOENT', `no short-term memory entry ${a.afterId}`);
        return { removed, total: m.tokens() };
      },
      doc: 'forget the caller’s short-term memory after entry afterId (0: all), e.g. an answer to regenerate',
    }),

    'memory.stm.compress': define(obj({ targetTokens: int({ min: 0 }) }), {
      cap: 'models',
      who: 'agent',
      blocking: true,
      handler: (k, c, a) =>
        k
          .compressMemory(c.pid, undefined, a.targetTokens)
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
        handler: async (k, c, a) => {
          const items = a.items.map((it) => {
            const ns = !it.namespace || it.namespace === 'private' ? privateNamespace(c.pid) : it.namespace;
            if (!mayWriteNamespace(c.caps, c.pid, ns)) {
              k.log(c.pid, 'deny', `memory write to namespace "${ns}" denied`);
              throw new SysError('EPERM', `no write access to memory namespace "${ns}"`);
            }
            return {
              namespace: ns,
              text: it.text,
              metadata: (it.metadata ?? {}) as Record<string, unknown>,
              ...(it.vector ? { vector: it.vector } : {}),
            };
          });
          const spaces = [...new Set(items.map((i) => i.namespace))].join(', ');
          const refund = chargeMemoryWrites(k, c, items.length);
          // The log record of this write is stored in the same transaction as the memories.
          let episode: ReturnType<typeof k.episodes.prepare> | null = null;
          const ids = await (await k.memory()).ltm
            .remember(items, (added) => {
              episode = k.episodes.prepare(
                c.pid,
                'memory.write',
                `remembered ${added.length} item(s) in ${spaces}`,
                { ids: added.slice(0, 100) },
              );
              return episode;
            })
            .catch((e: unknown) => {
              refund();
              throw e;
            });
          if (episode) k.episodes.commit(episode);
          return { ids };
        },
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
        handler: async (k, c, a) => {
          const mem = await k.memory();
          const own = privateNamespace(c.pid);
          const asked = (a.namespaces ?? ['private', ...c.caps.memoryRead]).map((n) =>
            n === 'private' ? own : n,
          );
          // '*' means every namespace the store has, for callers granted it.
          const expanded = asked.includes('*') ? [...new Set([own, ...mem.ltm.namespaces()])] : asked;
          for (const ns of expanded) {
            if (!mayReadNamespace(c.caps, c.pid, ns)) {
              k.log(c.pid, 'deny', `memory read of namespace "${ns}" denied`);
              throw new SysError('EPERM', `no read access to memory namespace "${ns}"`);
            }
          }
          return mem.ltm.recall(a.query, {
            k: a.k ?? 5,
            namespaces: expanded,
            ...(a.filter ? { filter: a.filter } : {}),
            ...(a.since ? { since: a.since } : {}),
          });
        },
        doc: 'recall(query, {k, namespaces, filter, since}): hybrid search (vector + keyword + recency) in namespaces you may read',
      },
    ),

    'memory.get': define(obj({ ids: arr(int({ min: 1 }), { max: 10_000 }) }), {
      cap: 'memory',
      who: 'any',
      handler: async (k, c, a) => {
        const mem = await k.memory();
        const out = [];
        for (const id of a.ids) {
          const m = await mem.ltm.get(id);
          if (m && !mayReadNamespace(c.caps, c.pid, m.namespace))
            throw new SysError('EPERM', `no read access to memory ${id}`);
          out.push(m);
        }
        return out;
      },
      doc: 'get(ids): memories by id (null where none)',
    }),

    'memory.forget': define(obj({ id: int({ min: 1 }) }), {
      cap: 'memory',
      who: 'any',
      handler: async (k, c, a) => {
        const { mem, ns } = await writableMemory(k, c, a.id);
        await mem.ltm.forget(a.id);
        k.log(c.pid, 'memory.forget', `forgot memory ${a.id} in ${ns}`);
        return null;
      },
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
        handler: async (k, c, a) => {
          const { mem, ns } = await writableMemory(k, c, a.id);
          const patch: { text?: string; metadata?: Record<string, unknown> } = {};
          if (a.text !== undefined) patch.text = a.text;
          if (a.metadata !== undefined) patch.metadata = a.metadata as Record<string, unknown>;
          const refund = chargeMemoryWrites(k, c, 1);
          const m = await mem.ltm.update(a.id, patch).catch((e: unknown) => {
            refund();
            throw e;
          });
          k.log(c.pid, 'memory.write', `updated memory ${a.id} in ${ns}`);
          return m;
        },
        doc: 'update(id, {text, metadata}): change a memory (re-embedded if the text changes)',
      },
    ),

    'memory.embedder': define(obj({ id: str({ min: 1, max: 200 }), allowRemote: opt(bool) }), {
      cap: null,
      who: 'user',
      handler: async (k, _c, a) => {
        const mem = await k.memory();
        // 'transformers:<model>' runs in a worker of a host tab (downloaded once, then cached); 'hash-<dim>-v1' needs nothing.
        // 'hosted:hash-<dim>-v1' is the offline embedder in that worker instead of the kernel.
        const model = a.id.startsWith('transformers:') ? a.id.slice('transformers:'.length) : null;
        const hosted = /^hosted:(hash-(\d+)-v1)$/.exec(a.id);
        const next = model
          ? await k.hostEmbedder('transformers', { model, allowRemote: a.allowRemote ?? true })
          : hosted && offlineEmbedder(hosted[1]!)
            ? await k.hostEmbedder('hash', { dim: Number(hosted[2]) })
            : offlineEmbedder(a.id);
        if (!next)
          throw new SysError(
            'ENOENT',
            `no embedder "${a.id}" (offline: hash-<dim>-v1; or transformers:<model id>)`,
          );
        return mem.switchEmbedder(next, (text) => k.log(0, 'memory.write', text));
      },
      doc: 'switch long-term memory to another embedder (hash-<dim>-v1, or transformers:<model>); re-indexes in the background',
    }),

    'memory.storage': define(obj({ persist: opt(bool) }), {
      cap: null,
      who: 'any',
      handler: async (k, c, a) => {
        const mem = await k.memory();
        if (a.persist && c.kind !== 'user')
          throw new SysError('EPERM', 'only the user asks for persistent storage');
        const persisted = a.persist ? await mem.persist() : undefined;
        return {
          ...(await mem.storage()),
          ...(persisted === undefined ? {} : { persisted }),
          memories: await mem.db.count('ltm'),
          indexed: mem.ltm.size,
          // The namespaces this caller may read (the memory explorer lists them).
          namespaces: mem.ltm.namespaces().filter((ns) => mayReadNamespace(c.caps, c.pid, ns)),
          embedder: mem.ltm.embedder.id,
          reindex: mem.reindex,
        };
      },
      doc: 'storage used against quota, whether it is persistent (persist: true asks for it), memories stored',
    }),

    'bus.register': define(obj({ name: str({ min: 1, max: 100, pattern: /^[\w.:-]+$/ }) }), {
      cap: 'bus',
      who: 'agent',
      handler: (k, c, a) => {
        k.checkBusChannel(c, `name:${a.name}`);
        k.bus.register(c.pid, a.name);
        return null;
      },
      doc: 'register the caller under a name others can send to',
    }),

    'bus.send': define(
      obj({ to: target, body: payload(), wait: opt(bool), timeoutMs: opt(int({ min: 0, max: 3_600_000 })) }),
      {
        cap: 'bus',
        who: 'any',
        handler: (k, c, a) => {
          const to = k.bus.resolve(a.to);
          k.checkBusTarget(c, to);
          const sent = k.bus.send(c.pid, to, a.body, {
            ...(a.wait ? { wait: true } : {}),
            ...(a.timeoutMs !== undefined ? { timeoutMs: a.timeoutMs } : {}),
          });
          return sent ? sent.then(() => null) : null;
        },
        doc: 'send(to: pid | name, body, {wait, timeoutMs}): a full mailbox is EAGAIN, or waits when wait is set',
      },
    ),

    'bus.send_many': define(obj({ to: target, bodies: arr(payload(), { max: 1024 }) }), {
      cap: 'bus',
      who: 'any',
      handler: (k, c, a) => {
        const to = k.bus.resolve(a.to);
        k.checkBusTarget(c, to);
        return { sent: k.bus.sendMany(c.pid, to, a.bodies) };
      },
      doc: 'send_many(to, bodies): in order, as many as the mailbox takes → {sent}; EAGAIN if none fit',
    }),

    'bus.recv_many': define(obj({ max: int({ min: 1, max: 1024 }), ...recvFilter }), {
      cap: 'bus',
      who: 'agent',
      blocking: true,
      handler: async (k, c, a, io) => {
        const { max, ...opts } = a;
        const es = await k.bus.recvMany(c.pid, max, { ...opts, signal: io.signal });
        return new Transfer(
          es,
          es.flatMap((e) => transferables(e.body)),
        );
      },
      doc: 'recv_many({max, timeoutMs, from, topic}): waits for one message, then returns up to max, oldest first',
    }),

    'bus.recv': define(obj(recvFilter), {
      cap: 'bus',
      who: 'agent',
      blocking: true,
      handler: async (k, c, a, io) => {
        const e = await k.bus.recv(c.pid, { ...a, signal: io.signal });
        // Binary parts move on to the receiver rather than being copied.
        return new Transfer(e, transferables(e.body));
      },
      doc: 'recv({timeoutMs, from, topic}): the oldest message, with its true sender; ETIMEDOUT if none came',
    }),

    'bus.subscribe': define(obj({ topic: str({ min: 1, max: 200 }) }), {
      cap: 'bus',
      who: 'agent',
      handler: (k, c, a) => {
        k.checkBusChannel(c, `topic:${a.topic}`);
        k.bus.subscribe(c.pid, a.topic);
        return null;
      },
      doc: 'receive what is published on a topic',
    }),

    'bus.unsubscribe': define(obj({ topic: str({ min: 1, max: 200 }) }), {
      cap: 'bus',
      who: 'agent',
      handler: (k, c, a) => {
        k.bus.unsubscribe(c.pid, a.topic);
        return null;
      },
      doc: 'stop receiving a topic',
    }),

    'bus.publish': define(obj({ topic: str({ min: 1, max: 200 }), body: payload() }), {
      cap: 'bus',
      who: 'any',
      handler: (k, c, a) => {
        k.checkBusChannel(c, `topic:${a.topic}`);
        return k.bus.publish(c.pid, a.topic, a.body);
      },
      doc: 'publish(topic, body) → {delivered, dropped}: subscribers with a full mailbox miss it',
    }),

    'bus.request': define(
      obj({ to: target, body: payload(), timeoutMs: opt(int({ min: 1, max: 3_600_000 })) }),
      {
        cap: 'bus',
        who: 'agent',
        blocking: true,
        handler: async (k, c, a) => {
          const to = k.bus.resolve(a.to);
          k.checkBusTarget(c, to);
          const e = await k.bus.request(c.pid, to, a.body, a.timeoutMs ?? 30_000);
          return new Transfer(e, transferables(e.body));
        },
        doc: 'request(to, body, timeoutMs) → the reply: the receiver gets a message with a correlation id and answers with reply',
      },
    ),

    'bus.reply': define(obj({ correlation: str({ min: 1, max: 100 }), body: payload() }), {
      cap: 'bus',
      who: 'agent',
      handler: (k, c, a) => {
        k.bus.reply(c.pid, a.correlation, a.body);
        return null;
      },
      doc: 'reply(correlation, body): answer a request sent to you',
    }),

    'tools.list': define(obj({}), {
      cap: 'tools',
      who: 'any',
      handler: (k, c) => k.tools.list((n) => mayUseTool(c.caps, n)),
      doc: 'the tools the caller may call, with their JSON Schemas and who serves them',
    }),

    'tools.search': define(obj({ query: str({ max: 10_000 }), k: opt(int({ min: 1, max: 50 })) }), {
      cap: 'tools',
      who: 'any',
      handler: (k, c, a) =>
        k.tools
          .search(a.query, a.k ?? 5, (n) => mayUseTool(c.caps, n))
          .map((t) => ({ ...toSpec(t), score: t.score })),
      doc: 'tools.search(query, k): the tools closest in meaning, in the OpenAI function shape, ready for a model request',
    }),

    'tools.call': define(obj({ name: str({ min: 1, max: 64 }), args: opt(json({ maxBytes: 1_048_576 })) }), {
      cap: 'tools',
      who: 'any',
      blocking: true,
      handler: async (k, c, a, io) => {
        // The ACL holds whatever a model or a tool result asked for.
        if (!mayUseTool(c.caps, a.name)) {
          k.log(c.pid, 'deny', `tool ${a.name} denied`);
          throw new SysError('EPERM', `tool "${a.name}" is not granted`);
        }
        // Revoking the tool while the call runs ends it with EPERM.
        const guard = guardCall(
          c.kind === 'agent' ? c.proc : null,
          io.signal,
          () => mayUseTool(c.caps, a.name),
          `tool ${a.name}`,
        );
        const revoked = new Promise<never>((_, reject) =>
          guard.signal.addEventListener(
            'abort',
            () => reject(new SysError('EPERM', `tool ${a.name} was revoked`)),
            {
              once: true,
            },
          ),
        );
        revoked.catch(() => {});
        try {
          const result = await Promise.race([k.tools.call(a.name, a.args ?? {}, c), revoked]);
          k.emit({ type: 'tool', pid: c.pid, name: a.name, args: a.args ?? {}, ok: true, result });
          return result;
        } catch (e) {
          k.emit({
            type: 'tool',
            pid: c.pid,
            name: a.name,
            args: a.args ?? {},
            ok: false,
            result: SysError.from(e).message,
          });
          throw e;
        } finally {
          guard.release();
        }
      },
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
        handler: (k, c, a) => {
          const def = {
            name: a.name,
            description: a.description,
            inputSchema: a.inputSchema as Record<string, unknown>,
          };
          // A page (the desktop, or a site embedding the OS) serves it: calls reach the tab as host.tool.
          if (c.kind === 'user') return k.registerTabTool(c.tab, def);
          const pid = c.pid;
          // Calls reach the serving agent as bus requests on the 'tools' topic; its reply is the result.
          return k.tools.register(
            {
              name: a.name,
              description: a.description,
              inputSchema: a.inputSchema as Record<string, unknown>,
            },
            `agent:${pid}`,
            async (args) => {
              const e = await k.bus.request(0, pid, { tool: a.name, args }, 30_000, 'tools');
              const body = e.body as { ok?: boolean; value?: unknown; error?: string };
              if (body?.ok === false)
                throw new SysError('EIO', `${a.name} failed: ${String(body.error).slice(0, 500)}`);
              return body?.value;
            },
          );
        },
        doc: 'serve a tool to others: an agent gets calls as bus requests on the "tools" topic (the SDK’s tools.serve), a page as host.tool commands',
      },
    ),

    'tools.mcp_add': define(
      obj({
        url: str({ min: 8, max: 2048 }),
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
        handler: (k, c, a) =>
          k.toolResult((c as Caller & { kind: 'user' }).tab, a.callId, a.ok, a.value, a.error),
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
        handler: (k, _c, a) => {
          k.allowEmbedding(originOf(a.origin), a.permissions);
          return null;
        },
        doc: 'embed.allow(origin, permissions): a site may embed the OS; its agents get at most these permissions',
      },
    ),

    'embed.disallow': define(obj({ origin: str({ min: 8, max: 300 }) }), {
      cap: null,
      who: 'user',
      handler: (k, _c, a) => {
        if (!k.disallowEmbedding(a.origin)) throw new SysError('ENOENT', `${a.origin} is not allowed`);
        return null;
      },
      doc: 'embed.disallow(origin): that site’s embedded OS stops answering it, at its next message',
    }),

    'embed.policy': define(obj({ origin: opt(str({ max: 300 })) }), {
      cap: null,
      who: 'user',
      handler: (k, _c, a) =>
        a.origin === undefined
          ? [...k.embedOrigins].map(([origin, permissions]) => ({ origin, permissions }))
          : (k.embedOrigins.get(a.origin) ?? null),
      doc: 'embed.policy(origin?): what an embedding origin may do (null if it is not allowed), or the whole allowlist',
    }),

    'tools.remove': define(obj({ name: str({ min: 1, max: 64 }) }), {
      cap: 'tools',
      who: 'any',
      handler: (k, c, a) => {
        const ok = c.kind === 'user' ? k.tools.remove(a.name) : k.tools.remove(a.name, `agent:${c.pid}`);
        if (!ok) throw new SysError('ENOENT', `no tool "${a.name}" of yours`);
        return null;
      },
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
        handler: (k, c, a) => {
          if (a.pid !== undefined && a.pid !== 0) k.visible(c, a.pid);
          const own = c.kind === 'agent' && a.pid === undefined ? { pid: c.pid } : {};
          return k.episodes.query({ ...a, ...own, limit: a.limit ?? 200 } as Parameters<
            typeof k.episodes.query
          >[0]);
        },
        doc: 'the episodic log: what happened, when, to whom',
      },
    ),

    subscribe: define(obj({}), {
      cap: null,
      who: 'user',
      handler: (k, c) => k.subscribe(c),
      doc: 'receive kernel events (process changes, output) on this tab',
    }),

    stats: define(obj({}), { cap: null, who: 'any', handler: (k) => k.stats(), doc: 'kernel counters' }),

    'debug.echo_port': define(obj({}), {
      cap: null,
      who: 'any',
      handler: (k) => k.echoPort(),
      doc: 'a raw MessagePort the kernel echoes on: the baseline for syscall_rtt_ratio',
    }),

    'debug.gpu': define(obj({}), {
      cap: null,
      who: 'user',
      handler: () => probeGpu(),
      doc: 'whether the kernel worker can reach a WebGPU adapter',
    }),
  }),
);

/** Syscalls the SDK knows but whose subsystems are not in the kernel yet. */
export const NOT_YET: readonly string[] = [];

/** The memory `id` and its namespace, if the caller may change it (ENOENT, EPERM otherwise). */
/** Counts `n` memory writes against the agent's cap (EDQUOT past it); returns a refund for a failed write. */
function chargeMemoryWrites(k: Kernel, c: Caller, n: number): () => void {
  const cap = c.caps.memoryWrites;
  if (c.kind !== 'agent' || cap === null) return () => {};
  const p = c.proc;
  if (p.memoryWrites + n > cap) {
    k.log(c.pid, 'quota', `memory-write cap of ${cap} reached (${p.memoryWrites} written, ${n} more asked)`);
    throw new SysError('EDQUOT', `memory-write cap of ${cap} records reached (${p.memoryWrites} written)`);
  }
  p.memoryWrites += n;
  return () => {
    p.memoryWrites -= n;
  };
}

async function writableMemory(k: Kernel, c: Caller, id: number) {
  const mem = await k.memory();
  const ns = mem.ltm.namespaceOf(id);
  if (ns === undefined) throw new SysError('ENOENT', `no memory ${id}`);
  if (!mayWriteNamespace(c.caps, c.pid, ns))
    throw new SysError('EPERM', `no write access to memory namespace "${ns}"`);
  return { mem, ns };
}

export function lookup(name: string): Syscall {
  const s = Object.hasOwn(SYSCALLS, name) ? SYSCALLS[name] : undefined;
  if (!s) {
    const hint = (NOT_YET as readonly string[]).includes(name) ? ' (its subsystem is not built yet)' : '';
    throw new SysError('ENOSYS', `no syscall "${name.slice(0, 64)}"${hint}`);
  }
  return s;
}

async function probeGpu(): Promise<{ available: boolean; adapter: string | null; features: string[] }> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } }).gpu;
  if (!gpu) return { available: false, adapter: null, features: [] };
  const adapter = await gpu.requestAdapter();
  if (!adapter) return { available: false, adapter: null, features: [] };
  const info = adapter.info;
  return {
    available: true,
    adapter: info
      ? [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unknown'
      : 'unknown',
    features: [...adapter.features],
  };
}
interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; description?: string };
  features: Iterable<string>;
}
