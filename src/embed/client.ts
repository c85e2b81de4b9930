/**
 * The host page's side of embedding AgentOS: import this module, put the OS's
 * embed.html in an iframe, and `connect` to it.
 *
 *   import { connect } from 'https://os.example/embed/client.js';
 *   const os = await connect(document.querySelector('iframe'));
 *   await os.registerTool({ name: 'selection', description: '…', inputSchema: { type: 'object' } },
 *                         () => String(getSelection()));
 *   const agent = await os.spawn('Summarise the selected text', { permissions: { tools: ['host.selection'] } });
 *   for await (const text of agent.output()) console.log(text);
 *
 * One readable file, no dependencies. Every request carries a fresh correlation
 * id; errors are EmbedErrors with the kernel's Unix-like codes.
 */
import { EMBED_VERSIONS, type HostMessage, type OsMessage, type SpawnRequest, TAG } from './protocol';

export class EmbedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'EmbedError';
  }
}

export interface ConnectOptions {
  /** The OS's origin; default: the iframe's src. Messages go to it alone and are accepted from it alone. */
  origin?: string;
  /** How long the handshake may take (the OS boots its kernel first), default 20 s. */
  timeoutMs?: number;
}

export interface ToolDef {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export interface EmbeddedAgent {
  pid: number;
  /** The agent's output as it is written (stdout and stderr), until it exits. */
  output(): AsyncIterable<string>;
  /** Resolves with its exit. */
  wait(timeoutMs?: number): Promise<{ exitCode: number | null; exitReason: string | null }>;
  send(body: unknown): Promise<void>;
  kill(): Promise<void>;
}

export interface EmbeddedOS {
  version: number;
  /** What the OS owner lets this page's agents have, at most. */
  permissions: Record<string, unknown>;
  spawn(task: string, o?: Omit<SpawnRequest, 'task'>): Promise<EmbeddedAgent>;
  /** Serves a tool to the page's agents (named `host.<name>`); the handler's value is the result. */
  registerTool(def: ToolDef, handler: (args: unknown, pid: number) => unknown): Promise<string>;
  close(): void;
}

type Body<T> = T extends unknown ? Omit<T, typeof TAG | 'id'> : never;

export async function connect(iframe: HTMLIFrameElement, o: ConnectOptions = {}): Promise<EmbeddedOS> {
  const origin = o.origin ?? new URL(iframe.src, location.href).origin;
  const target = () => {
    const w = iframe.contentWindow;
    if (!w) throw new EmbedError('EIO', 'the OS iframe is gone');
    return w;
  };
  const pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: EmbedError) => void }>();
  const outputs = new Map<number, { chunks: string[]; wake: (() => void) | null; exit: OsMessage | null }>();
  const tools = new Map<string, (args: unknown, pid: number) => unknown>();
  let refused: string | null = null;

  const stream = (pid: number) => {
    let s = outputs.get(pid);
    if (!s) {
      s = { chunks: [], wake: null, exit: null };
      outputs.set(pid, s);
    }
    return s;
  };

  const onMessage = (ev: MessageEvent) => {
    // Only the OS's own frame, from its own origin.
    if (ev.source !== iframe.contentWindow || ev.origin !== origin) return;
    const m = ev.data as OsMessage;
    if (m?.[TAG] !== 1) return;
    switch (m.type) {
      case 'welcome':
      case 'result': {
        const p = m.id !== null ? pending.get(m.id) : undefined;
        if (!p) return;
        pending.delete(m.id!);
        if (m.type === 'welcome') p.resolve(m);
        else if (m.ok) p.resolve(m.value);
        else p.reject(new EmbedError(m.error.code, m.error.message));
        return;
      }
      case 'refused':
        refused = m.reason;
        for (const p of pending.values()) p.reject(new EmbedError('EPERM', m.reason));
        pending.clear();
        return;
      case 'output': {
        const s = stream(m.pid);
        s.chunks.push(m.data);
        s.wake?.();
        return;
      }
      case 'exit': {
        const s = stream(m.pid);
        s.exit = m;
        s.wake?.();
        return;
      }
      case 'tool.call': {
        const handler = tools.get(m.name);
        void Promise.resolve()
          .then(() => {
            if (!handler) throw new Error(`this page serves no tool ${m.name}`);
            return handler(m.args, m.pid);
          })
          .then(
            (value) => request({ type: 'tool.result', callId: m.callId, ok: true, value: value ?? null }),
            (e: unknown) =>
              request({
                type: 'tool.result',
                callId: m.callId,
                ok: false,
                error: String((e as Error)?.message ?? e),
              }),
          )
          .catch(() => {});
        return;
      }
    }
  };
  addEventListener('message', onMessage);

  function request<T = unknown>(body: Body<HostMessage>): Promise<T> {
    if (refused) return Promise.reject(new EmbedError('EPERM', refused));
    const id = crypto.randomUUID();
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      target().postMessage({ [TAG]: 1, id, ...body }, origin);
    });
  }

  // The handshake: the iframe may still be loading, so say hello until it answers.
  const welcome = await new Promise<Extract<OsMessage, { type: 'welcome' }>>((resolve, reject) => {
    const deadline = setTimeout(() => {
      clearInterval(retry);
      reject(new EmbedError('ETIMEDOUT', `no answer from the OS at ${origin}`));
    }, o.timeoutMs ?? 20_000);
    const hello = () => {
      const id = crypto.randomUUID();
      pending.set(id, {
        resolve: (v) => {
          clearTimeout(deadline);
          clearInterval(retry);
          for (const k of pending.keys()) pending.delete(k); // the other hellos
          resolve(v as Extract<OsMessage, { type: 'welcome' }>);
        },
        reject: (e) => {
          clearTimeout(deadline);
          clearInterval(retry);
          reject(e);
        },
      });
      try {
        target().postMessage({ [TAG]: 1, id, type: 'hello', versions: [...EMBED_VERSIONS] }, origin);
      } catch {
        /* not loaded yet */
      }
    };
    const retry = setInterval(hello, 250);
    hello();
  });

  const agent = (pid: number): EmbeddedAgent => ({
    pid,
    async *output() {
      const s = stream(pid);
      for (;;) {
        while (s.chunks.length) yield s.chunks.shift()!;
        if (s.exit) return;
        await new Promise<void>((r) => (s.wake = r));
        s.wake = null;
      }
    },
    wait: (timeoutMs) =>
      request<{ exitCode: number | null; exitReason: string | null }>({
        type: 'wait',
        pid,
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      }),
    send: (body) => request({ type: 'send', pid, body }).then(() => {}),
    kill: () => request({ type: 'kill', pid }).then(() => {}),
  });

  return {
    version: welcome.version,
    permissions: welcome.permissions as Record<string, unknown>,
    async spawn(task, so = {}) {
      const r = await request<{ pid: number }>({ type: 'spawn', task, ...so });
      stream(r.pid);
      return agent(r.pid);
    },
    async registerTool(def, handler) {
      const r = await request<{ name: string }>({ type: 'tool.register', ...def });
      tools.set(r.name, handler);
      return r.name;
    },
    close() {
      removeEventListener('message', onMessage);
      for (const p of pending.values()) p.reject(new EmbedError('EIO', 'closed'));
      pending.clear();
    },
  };
}
