/**
 * The agent SDK: what an agent program receives. Everything it does goes
 * through syscalls to the kernel; the SDK only gives them a friendly shape
 * (the model API mirrors OpenAI's chat.completions.create, as WebLLM's does).
 */

import type { Capabilities } from '../abi/capabilities';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatMessage,
  ChatRequest,
  ModelInfo,
  ToolSpec,
  Usage,
} from '../abi/chat';
import { collect } from '../abi/chat';
import { serialize } from '../abi/checkpoint';
import { SysError } from '../abi/errors';
import type {
  AgentBoot,
  Envelope,
  Exit,
  ProcInfo,
  RecallHit,
  SignalFrame,
  SpawnOptions,
} from '../abi/protocol';

import { BusClient } from './bus-client';

export type { SpawnOptions };

import type { SyscallClient } from '../abi/syscall-client';
import { READS, retryRead, retryStream } from './retry';
import { stdio } from './stdout';

export interface AgentContext {
  readonly pid: number;
  readonly ppid: number;
  readonly task: string;
  readonly args: unknown;
  /** Aborted when the kernel sends TERM; pass it to long calls so they stop promptly. */
  readonly signal: AbortSignal;
  /**
   * The state of the last acknowledged `checkpoint()` when this program starts
   * again (its tab closed and it moved, or the OS reopened); null on a first
   * start, or when the checkpoint was unusable (the episodic log says why).
   */
  readonly restored: unknown;
  /**
   * Stores `state` (JSON-serialisable, at most 1 MiB of JSON) durably as this
   * process's checkpoint; resolves after it committed. EINVAL when it does not
   * serialise, E2BIG when too large: the previous checkpoint is kept either way.
   */
  checkpoint(state: unknown): Promise<{ seq: number }>;
  llm: {
    chat: {
      completions: {
        /** `opts.signal` ends this one request (as in OpenAI's SDK); TERM ends every request. */
        create(
          req: ChatRequest & { stream: true },
          opts?: { signal?: AbortSignal },
        ): Promise<AsyncIterable<ChatCompletionChunk>>;
        create(
          req: ChatRequest & { stream?: false },
          opts?: { signal?: AbortSignal },
        ): Promise<ChatCompletion>;
      };
    };
    models(): Promise<ModelInfo[]>;
  };
  /**
   * Writes to the agent's stdout, which the desktop shows as it streams. Written behind: it
   * resolves once sent, in order; a failure is thrown by the next print (stdout.ts).
   */
  print(text: string): Promise<void>;
  /** Writes to stderr. */
  error(text: string): Promise<void>;
  spawn(task: string, permissions?: Partial<Capabilities>, options?: SpawnOptions): Promise<number>;
  wait(pid: number, timeoutMs?: number): Promise<Exit>;
  kill(pid: number, signal?: 'TERM' | 'KILL'): Promise<void>;
  ps(): Promise<ProcInfo[]>;
  /** Ends the agent now with `code`. */
  exit(code?: number): Promise<never>;
  /**
   * Asks the user for more than it was given (the desktop shows allow once / always / deny).
   * Resolves with the answer and the capabilities it now holds; 'deny' when no one answers.
   */
  requestPermission(
    permissions: Partial<Capabilities>,
    reason: string,
    timeoutMs?: number,
  ): Promise<{ answer: 'once' | 'always' | 'deny'; capabilities: Capabilities }>;
  /** Replaces the default TERM action (exit 143) with the program's own. */
  onSignal(handler: (sig: SignalFrame['sig']) => void): void;
  /** The raw syscall interface, for syscalls the SDK has no wrapper for. */
  syscall<T = unknown>(name: string, args?: unknown): Promise<T>;
  memory: {
    /** Stores a text in long-term memory (your private namespace unless you name a granted one); resolves after commit. */
    remember(
      text: string,
      opts?: { namespace?: string; metadata?: Record<string, unknown> },
    ): Promise<number>;
    rememberMany(
      items: {
        text: string;
        namespace?: string;
        metadata?: Record<string, unknown>;
        vector?: Float32Array | number[];
      }[],
    ): Promise<number[]>;
    recall(
      query: string,
      opts?: {
        k?: number;
        namespaces?: string[];
        filter?: Record<string, string | number | boolean>;
        since?: number;
      },
    ): Promise<RecallHit[]>;
    forget(id: number): Promise<void>;
    update(id: number, patch: { text?: string; metadata?: Record<string, unknown> }): Promise<void>;
    /** Short-term memory: the working context the kernel keeps (and compresses) for you. */
    shortTerm: {
      append(message: ChatMessage, pinned?: boolean): Promise<{ id: number; tokens: number; total: number }>;
      list(): Promise<{
        tokens: number;
        entries: { id: number; message: ChatMessage; pinned: boolean; tokens: number }[];
      }>;
      compress(targetTokens: number): Promise<{ before: number; after: number; replaced: number }>;
      /** Forgets everything after entry `afterId` (0: all). */
      truncate(afterId: number): Promise<{ removed: number; total: number }>;
    };
  };
  tools: {
    /** The tools closest in meaning to `query`, in the OpenAI function shape (pass them as `tools`). */
    search(query: string, k?: number): Promise<ToolSpec[]>;
    call(name: string, args: unknown): Promise<unknown>;
    /** Serves a tool to other agents: the handler answers each call (through the kernel). */
    serve(
      def: { name: string; description: string; inputSchema: Record<string, unknown> },
      handler: (args: Record<string, unknown>) => unknown,
    ): Promise<void>;
  };
  /** The message bus: every message goes through the kernel, which stamps its true sender. */
  bus: {
    send(to: number | string, body: unknown, opts?: { wait?: boolean; timeoutMs?: number }): Promise<void>;
    recv(opts?: { timeoutMs?: number; from?: number; topic?: string }): Promise<Envelope>;
    /** Many messages in one syscall: sends in order as many as fit, and returns how many. */
    sendMany(to: number | string, bodies: unknown[]): Promise<number>;
    /** Waits for one message, then returns up to `max` (one syscall). */
    recvMany(opts: { max: number; timeoutMs?: number; from?: number; topic?: string }): Promise<Envelope[]>;
    publish(topic: string, body: unknown): Promise<{ delivered: number; dropped: number }>;
    subscribe(topic: string): Promise<void>;
    unsubscribe(topic: string): Promise<void>;
    request(to: number | string, body: unknown, timeoutMs?: number): Promise<Envelope>;
    reply(correlation: string, body: unknown): Promise<void>;
    register(name: string): Promise<void>;
  };
}

export type AgentProgram = (ctx: AgentContext) => unknown;

/** Raised inside the program by `exit()` so its stack unwinds without running more code. */
export class ExitRequest extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

export function createContext(
  sys: SyscallClient,
  boot: AgentBoot,
  terminate: (code: number) => void,
): AgentContext {
  const term = new AbortController();
  const write = stdio(sys);
  let handler: ((sig: SignalFrame['sig']) => void) | null = null;
  sys.onOther = (frame) => {
    if (frame.t !== 'signal') return;
    const sig = (frame as SignalFrame).sig;
    if (sig === 'TERM') term.abort(new SysError('ECANCELED', 'terminated'));
    if (handler) handler(sig);
    else if (sig === 'TERM') terminate(143);
  };

  // Every tool this agent serves shares ONE receive loop on the 'tools' topic: a loop per tool would
  // take the other tools' requests off the queue and drop them.
  const busClient = new BusClient(sys);
  // The tools loop receives on its own: an error meant for the program's receives is never its.
  const toolsBus = new BusClient(sys);
  const served = new Map<string, (args: Record<string, unknown>) => unknown>();
  let serving = false;
  const answer = async (m: Envelope): Promise<void> => {
    const { tool, args } = (m.body ?? {}) as { tool?: string; args?: Record<string, unknown> };
    const handler = typeof tool === 'string' ? served.get(tool) : undefined;
    const body = await Promise.resolve()
      .then(() => {
        if (!handler) throw new SysError('ENOENT', `this agent serves no tool "${tool}"`);
        return handler(args ?? {});
      })
      .then(
        (value) => ({ ok: true, value }),
        (e: unknown) => ({ ok: false, error: String((e as Error)?.message ?? e) }),
      );
    await sys.call('bus.reply', { correlation: m.correlation, body }).catch(() => {});
  };
  const startServing = (): void => {
    if (serving) return;
    serving = true;
    void (async () => {
      for (;;) {
        const m = await toolsBus.recv({ topic: 'tools' }).catch(() => null);
        // Calls are answered concurrently: one slow tool does not hold up the others.
        if (m?.correlation) void answer(m);
      }
    })();
  };

  async function create(
    req: ChatRequest,
    opts?: { signal?: AbortSignal },
  ): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    const { stream, ...rest } = req as ChatRequest & { stream?: boolean };
    const signal = opts?.signal ? AbortSignal.any([term.signal, opts.signal]) : term.signal;
    // A generation is a read: started again if its engine's tab went before the first chunk.
    const chunks = retryStream(() => sys.stream<ChatCompletionChunk, Usage | null>('llm.chat', rest, signal));
    if (stream) return chunks;
    return collect(chunks);
  }

  return {
    pid: boot.pid,
    ppid: boot.ppid,
    task: boot.task,
    args: boot.args,
    signal: term.signal,
    restored: boot.restored ?? null,
    checkpoint: async (state) => {
      const json = serialize(state); // EINVAL / E2BIG here, before anything leaves the agent
      return sys.call<{ seq: number }>('checkpoint', { json });
    },
    llm: {
      chat: { completions: { create: create as AgentContext['llm']['chat']['completions']['create'] } },
      models: () => retryRead(() => sys.call<ModelInfo[]>('models.list')),
    },
    print: (text) => write(1, text),
    error: (text) => write(2, text),
    spawn: (task, permissions, options) =>
      sys.call<{ pid: number }>('spawn', clean({ task, permissions, options })).then((r) => r.pid),
    wait: (pid, timeoutMs) => sys.call<Exit>('wait', clean({ pid, timeoutMs })),
    kill: (pid, signal) => sys.call('kill', clean({ pid, signal })).then(() => {}),
    ps: () => retryRead(() => sys.call<ProcInfo[]>('ps')),
    exit: (code = 0) => {
      terminate(code);
      return Promise.reject(new ExitRequest(code));
    },
    requestPermission: (permissions, reason, timeoutMs) =>
      sys.call('permission.request', clean({ permissions, reason, timeoutMs })),
    onSignal: (fn) => {
      handler = fn;
    },
    syscall: (name, args) =>
      READS.has(name) ? retryRead(() => sys.call(name, args ?? {})) : sys.call(name, args ?? {}),
    memory: {
      remember: (text, opts) =>
        sys
          .call<{ ids: number[] }>('memory.remember', { items: [clean({ text, ...opts })] })
          .then((r) => r.ids[0]!),
      rememberMany: (items) =>
        sys
          .call<{ ids: number[] }>('memory.remember', { items: items.map((i) => clean({ ...i })) })
          .then((r) => r.ids),
      recall: (query, opts) =>
        retryRead(() => sys.call<RecallHit[]>('memory.recall', clean({ query, ...opts }))),
      forget: (id) => sys.call('memory.forget', { id }).then(() => {}),
      update: (id, patch) => sys.call('memory.update', clean({ id, ...patch })).then(() => {}),
      shortTerm: {
        append: (message, pinned) => sys.call('memory.stm.append', clean({ message, pinned })),
        list: () => sys.call('memory.stm.list'),
        compress: (targetTokens) => sys.call('memory.stm.compress', { targetTokens }),
        truncate: (afterId) => sys.call('memory.stm.truncate', { afterId }),
      },
    },
    tools: {
      // Plain specs (no scores), so they can go straight into a model request.
      search: (query, k) =>
        sys
          .call<(ToolSpec & { score: number })[]>('tools.search', clean({ query, k }))
          .then((ts) => ts.map(({ type, function: f }) => ({ type, function: f }))),
      call: (name, args) => sys.call('tools.call', { name, args }),
      serve: async (def, handler) => {
        await sys.call('tools.register', def);
        served.set(def.name, handler);
        startServing();
      },
    },
    bus: {
      send: (to, body, opts) => sys.call('bus.send', clean({ to, body, ...opts })).then(() => {}),
      recv: (opts) => busClient.recv(opts),
      sendMany: (to, bodies) => busClient.sendMany(to, bodies),
      recvMany: (opts) => busClient.recvMany(opts),
      publish: (topic, body) => sys.call('bus.publish', { topic, body }),
      subscribe: (topic) => sys.call('bus.subscribe', { topic }).then(() => {}),
      unsubscribe: (topic) => sys.call('bus.unsubscribe', { topic }).then(() => {}),
      request: (to, body, timeoutMs) => sys.call<Envelope>('bus.request', clean({ to, body, timeoutMs })),
      reply: (correlation, body) => sys.call('bus.reply', { correlation, body }).then(() => {}),
      register: (name) => sys.call('bus.register', { name }).then(() => {}),
    },
  };
}

/** Drops undefined fields: the kernel's checks refuse unknown keys but allow absent ones. */
function clean<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}
