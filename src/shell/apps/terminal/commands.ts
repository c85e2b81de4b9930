/**
 * The terminal's commands: each turns words into syscalls through the tab's
 * kernel client and prints the result. Kept apart from the component so they
 * can be tested without a page.
 */
import { SysError } from '../../../abi/errors';
import type { ProcInfo } from '../../../abi/protocol';
import type { KernelClient } from '../../kernel-client';
import { formatHelp, formatTable, splitWords, takeFlags, wrap } from './command-line';

export interface Terminal {
  print(text: string, kind?: 'out' | 'err'): void;
  /** Shows the live output of an agent in the scrollback. */
  attach(pid: number): void;
  clear(): void;
  /** How many characters fit on a line (help fits itself to it); 80 when unknown. */
  readonly columns?: number;
  /** A line that changes in place (progress); returns its setter. */
  live?(text: string): (text: string) => void;
}

type Kernel = Pick<
  KernelClient,
  'spawn' | 'ps' | 'kill' | 'wait' | 'suspend' | 'resume' | 'renice' | 'models' | 'output' | 'call'
> &
  Partial<Pick<KernelClient, 'on'>>;

interface Command {
  usage: string;
  help: string;
  run(k: Kernel, t: Terminal, words: string[]): Promise<void>;
}

const pidArg = (w: string | undefined): number => {
  const n = Number(w);
  if (!w || !Number.isSafeInteger(n) || n < 1) throw new SysError('EINVAL', `not a pid: ${w ?? '(missing)'}`);
  return n;
};

const LIST_CAPS = ['tools', 'models', 'net', 'bus', 'memoryRead', 'memoryWrite'];

/** A priority as the user typed it: a whole number from -20 to 19, or an error saying so. */
function priorityArg(w: string | undefined): number {
  const n = Number(w);
  if (w === undefined || w.trim() === '' || !Number.isInteger(n) || n < -20 || n > 19)
    throw new SysError(
      'EINVAL',
      `priority must be a whole number from -20 (most urgent) to 19 (least), not ${JSON.stringify(w ?? '')}`,
    );
  return n;
}

/** The process as ps shows it, or ESRCH; refuses one that has exited, saying how it ended. */
async function liveProc(k: Kernel, pid: number, doing: string): Promise<ProcInfo> {
  const p = (await k.ps()).find((x) => x.pid === pid);
  if (!p) throw new SysError('ESRCH', `no process ${pid} (ps -a lists them all)`);
  if (p.state === 'exited')
    throw new SysError(
      'ESRCH',
      `process ${pid} has already exited (code ${p.exitCode}${p.exitReason ? `, ${p.exitReason}` : ''}): nothing to ${doing}${p.restartable ? `; restart ${pid} starts it again` : ''}`,
    );
  return p;
}

/** `tools a b` → { tools: ['a', 'b'] }; `spawn` → { spawn: true }. */
function permissionArg(words: string[]): Record<string, unknown> {
  const [kind, ...values] = words;
  if (kind && LIST_CAPS.includes(kind)) {
    if (!values.length) throw new SysError('EINVAL', `${kind} needs at least one value`);
    return { [kind]: values };
  }
  if (kind === 'spawn' || kind === 'modelAdmin') return { [kind]: true };
  throw new SysError(
    'EINVAL',
    `not a capability: ${kind ?? '(missing)'} (one of ${[...LIST_CAPS, 'spawn', 'modelAdmin'].join(', ')})`,
  );
}

/** grant and revoke: the same command, widening or narrowing a running agent's capabilities. */
function changeCapabilities(syscall: 'grant' | 'revoke', done: string, help: string): Command {
  return {
    usage: `${syscall} <pid> <tools|models|net|bus|memoryRead|memoryWrite|spawn|modelAdmin> [values…]`,
    help,
    async run(k, t, words) {
      const pid = pidArg(words[0]);
      // Granting to an agent that has ended says so (and how to start it again), not "granted".
      if (syscall === 'grant') await liveProc(k, pid, 'grant');
      const caps = await k.call<Record<string, unknown>>(syscall, {
        pid,
        permissions: permissionArg(words.slice(1)),
      });
      t.print(`${done}; ${pid} now has ${words[1]}: ${JSON.stringify(caps[words[1] ?? ''])}`);
    },
  };
}

export const COMMANDS: Record<string, Command> = {
  help: {
    usage: 'help',
    help: 'list commands',
    async run(_k, t) {
      const cols = t.columns ?? 80;
      const keys =
        "Tab completes a command's name (Tab on an empty line moves on); ↑/↓ recall earlier lines; Ctrl+L clears.";
      t.print(
        `${formatHelp(
          Object.values(COMMANDS).map((c) => [c.usage, c.help]),
          cols,
        )}\n\n${wrap(keys, cols).join('\n')}`,
      );
    },
  },
  spawn: {
    usage: 'spawn [--priority N] [--program P] [--model M] <task>',
    help: 'start an agent on a task; its output streams here',
    async run(k, t, words) {
      const { flags, rest } = takeFlags(words, ['priority', 'program', 'model']);
      const task = rest.join(' ');
      if (!task) throw new SysError('EINVAL', 'spawn needs a task, e.g. spawn "say hello"');
      const options: { priority?: number; program?: string; args?: unknown } = {};
      if (typeof flags.priority === 'string') options.priority = priorityArg(flags.priority);
      if (typeof flags.program === 'string') options.program = flags.program;
      if (typeof flags.model === 'string') {
        // Checked before starting anything: a process that can only fail is not started.
        // Hidden test models run when named; the list offered in the error leaves them out.
        const all = await k.models({ all: true });
        if (!all.some((m) => m.id === flags.model))
          throw new SysError(
            'ENOENT',
            `no model ${JSON.stringify(flags.model)}; the models are ${all
              .filter((m) => !m.tags?.includes('hidden'))
              .map((m) => m.id)
              .join(', ')}`,
          );
        options.args = { model: flags.model };
      }
      const pid = await k.spawn(task, undefined, options);
      t.print(`[${pid}] started`);
      t.attach(pid);
    },
  },
  ps: {
    usage: 'ps [-a]',
    help: 'list processes (-a includes exited ones)',
    async run(k, t, words) {
      const all = words.includes('-a');
      const procs = (await k.ps()).filter((p) => all || p.state !== 'exited');
      t.print(psTable(procs));
    },
  },
  kill: {
    usage: 'kill [-9] <pid>',
    help: 'ask an agent to exit (TERM); -9 ends it at once',
    async run(k, t, words) {
      const hard = words.includes('-9');
      const pid = pidArg(words.find((w) => w !== '-9'));
      await liveProc(k, pid, 'kill');
      await k.kill(pid, hard ? 'KILL' : 'TERM');
      t.print(hard ? `killed ${pid}` : `asked ${pid} to exit (TERM); kill -9 ${pid} ends it at once`);
    },
  },
  wait: {
    usage: 'wait <pid>',
    help: 'wait for an agent to exit and show its exit code',
    async run(k, t, words) {
      const e = await k.wait(pidArg(words[0]));
      t.print(`[${e.pid}] exited with code ${e.exitCode}${e.exitReason ? ` (${e.exitReason})` : ''}`);
    },
  },
  suspend: {
    usage: 'suspend <pid>',
    help: 'pause an agent (its syscalls and streams wait)',
    async run(k, t, words) {
      await k.suspend(pidArg(words[0]));
      t.print(`suspended ${words[0]}`);
    },
  },
  resume: {
    usage: 'resume <pid>',
    help: 'continue a suspended agent',
    async run(k, t, words) {
      await k.resume(pidArg(words[0]));
      t.print(`resumed ${words[0]}`);
    },
  },
  nice: {
    usage: 'nice <pid> <priority>',
    help: 'change priority: -20 most urgent … 19 least',
    async run(k, t, words) {
      const pid = pidArg(words[0]);
      const prio = priorityArg(words[1]);
      await k.renice(pid, prio);
      t.print(`priority of ${pid} is now ${prio}`);
    },
  },
  models: {
    usage: 'models [webllm]',
    help: 'list the models in the pool (loaded or loadable); "models webllm" adds WebLLM’s chat models that fit this GPU',
    async run(k, t, words) {
      if (words[0] === 'webllm') await listWebLLM(k, t);
      const models = await k.models();
      t.print(
        formatTable([
          ['ID', 'ENGINE', 'LOADED', 'CONTEXT', 'RESERVED', 'SIZE', 'NOTE'],
          ...models.map((m) => [
            m.id,
            m.engine,
            m.loaded ? 'yes' : 'no',
            String(m.contextWindow),
            String(m.reservedTokens),
            m.sizeBytes ? `${Math.round(m.sizeBytes / 2 ** 20)} MiB` : '-',
            m.label ?? '',
          ]),
        ]),
      );
    },
  },
  load: {
    usage: 'load <model>',
    help: 'load a model into the pool (unloading idle ones if the memory budget needs it)',
    async run(k, t, words) {
      const id = words[0];
      if (!id) throw new SysError('EINVAL', 'load needs a model id (see models)');
      // Downloads take a while: one line that shows how far it has got.
      const set = t.live?.(`loading ${id}…`);
      const off = k.on?.((e) => {
        if (e.type !== 'model.progress' || e.model !== id || !set) return;
        const mb = (n: number) => (n / 2 ** 20).toFixed(1);
        set(
          e.total
            ? `loading ${id}: ${mb(e.loaded)} of ${mb(e.total)} MB (${Math.floor((e.loaded / e.total) * 100)}%)${e.text ? ` · ${e.text}` : ''}`
            : `loading ${id}: ${e.text ?? `${mb(e.loaded)} MB`}`,
        );
      });
      try {
        let info: { id: string; contextWindow: number };
        try {
          info = await k.call('models.load', { id });
        } catch (e) {
          // A WebLLM id is not in the catalogue until WebLLM's list is read: read it, then load.
          if (!SysError.is(e, 'ENOENT') || !/-MLC(-\w+)?$/.test(id)) throw e;
          const added = await listWebLLM(k, t);
          if (!added.includes(id))
            throw new SysError(
              'ENOENT',
              `${id} is not one of WebLLM's models that fit this GPU (see: models webllm)`,
            );
          info = await k.call('models.load', { id });
        }
        set?.(`loaded ${info.id} (context ${info.contextWindow})`);
        if (!set) t.print(`loaded ${info.id} (context ${info.contextWindow})`);
      } catch (e) {
        set?.(`could not load ${id}`);
        throw e;
      } finally {
        off?.();
      }
    },
  },
  unload: {
    usage: 'unload <model>',
    help: 'unload a model (refused while it serves requests)',
    async run(k, t, words) {
      if (!words[0]) throw new SysError('EINVAL', 'unload needs a model id');
      await k.call('models.unload', { id: words[0] });
      t.print(`unloaded ${words[0]}`);
    },
  },
  remote: {
    usage: 'remote <base-url> [api-key]',
    help: 'add an OpenAI-compatible server (Ollama, vLLM, llama.cpp, OpenAI) to the pool',
    async run(k, t, words) {
      if (!words[0])
        throw new SysError('EINVAL', 'remote needs a base URL, e.g. remote http://127.0.0.1:11434/v1');
      const args: { baseUrl: string; apiKey?: string } = { baseUrl: words[0] };
      if (words[1]) args.apiKey = words[1];
      const r = await k.call<{ baseUrl: string; models: string[] }>('models.add_remote', args);
      t.print(`added ${r.models.join(', ')} from ${r.baseUrl}`);
    },
  },
  sched: {
    usage: 'sched [fifo|round-robin|priority]',
    help: 'show or set the inference scheduling policy',
    async run(k, t, words) {
      const args = words[0] ? { policy: words[0] } : {};
      const r = await k.call<{
        policy: string;
        contextPolicy: string;
        models: { model: string; queued: number; preemptions: number }[];
      }>('sched.policy', args);
      t.print(`policy: ${r.policy}; context policy: ${r.contextPolicy}`);
      if (r.models.length)
        t.print(
          formatTable([
            ['MODEL', 'QUEUED', 'PREEMPTIONS'],
            ...r.models.map((m) => [m.model, String(m.queued), String(m.preemptions)]),
          ]),
        );
    },
  },
  logs: {
    usage: 'logs [pid]',
    help: 'the episodic log (of one process, or all)',
    async run(k, t, words) {
      const args = words[0] ? { pid: pidArg(words[0]), limit: 50 } : { limit: 50 };
      const eps = await k.call<{ t: number; pid: number; kind: string; text: string }[]>('logs', args);
      t.print(
        eps
          .map(
            (e) =>
              `${new Date(e.t).toLocaleTimeString()}  ${String(e.pid).padStart(3)}  ${e.kind.padEnd(16)} ${e.text}`,
          )
          .join('\n') || '(nothing yet)',
      );
    },
  },
  remember: {
    usage: 'remember [--ns NAME] <text>',
    help: 'store a text in long-term memory (namespace "user" by default)',
    async run(k, t, words) {
      const { flags, rest } = takeFlags(words, ['ns']);
      const text = rest.join(' ');
      if (!text) throw new SysError('EINVAL', 'remember needs a text');
      const item: { text: string; namespace?: string } = { text };
      if (typeof flags.ns === 'string') item.namespace = flags.ns;
      const { ids } = await k.call<{ ids: number[] }>('memory.remember', { items: [item] });
      t.print(`remembered #${ids[0]} in ${item.namespace ?? 'user'}`);
    },
  },
  recall: {
    usage: 'recall [-k N] [--ns NAME] <query>',
    help: 'search long-term memory (hybrid: meaning, keywords, recency)',
    async run(k, t, words) {
      const { flags, rest } = takeFlags(words, ['k', 'ns']);
      const query = rest.join(' ');
      if (!query) throw new SysError('EINVAL', 'recall needs a query');
      const args: Record<string, unknown> = { query, k: typeof flags.k === 'string' ? Number(flags.k) : 5 };
      args.namespaces = typeof flags.ns === 'string' ? [flags.ns] : ['*'];
      const hits = await k.call<{ id: number; namespace: string; text: string; score: number }[]>(
        'memory.recall',
        args,
      );
      t.print(
        hits.length
          ? formatTable([
              ['ID', 'SCORE', 'NAMESPACE', 'TEXT'],
              ...hits.map((h) => [
                `#${h.id}`,
                h.score.toFixed(3),
                h.namespace,
                h.text.length > 60 ? `${h.text.slice(0, 59)}…` : h.text,
              ]),
            ])
          : '(nothing found)',
      );
    },
  },
  forget: {
    usage: 'forget <id>',
    help: 'delete a memory',
    async run(k, t, words) {
      const id = Number((words[0] ?? '').replace(/^#/, ''));
      if (!Number.isSafeInteger(id) || id < 1)
        throw new SysError('EINVAL', `not a memory id: ${words[0] ?? '(missing)'}`);
      await k.call('memory.forget', { id });
      t.print(`forgot #${id}`);
    },
  },
  cat: {
    usage: 'cat <pid>',
    help: 'show what an agent has written so far',
    async run(k, t, words) {
      t.print((await k.output(pidArg(words[0]))) || '(no output)');
    },
  },
  tools: {
    usage: 'tools [query]',
    help: 'list the tools in the registry, or the few closest in meaning to a query',
    async run(k, t, words) {
      const q = words.join(' ');
      const list = q
        ? await k.call<{ name: string; description: string; source: string }[]>('tools.search', {
            query: q,
            k: 5,
          })
        : await k.call<{ name: string; description: string; source: string }[]>('tools.list', {});
      t.print(
        formatTable([
          ['NAME', 'SOURCE', 'DESCRIPTION'],
          ...list.map((x) => [x.name, x.source, x.description]),
        ]),
      );
    },
  },
  caps: {
    usage: 'caps <pid>',
    help: 'show what a process may do',
    async run(k, t, words) {
      const pid = pidArg(words[0]);
      const p = (await k.ps()).find((x) => x.pid === pid);
      if (!p) throw new SysError('ESRCH', `no process ${pid}`);
      t.print(
        formatTable(
          Object.entries(p.capabilities).map(([key, v]) => [
            key,
            Array.isArray(v) ? v.join(' ') || '-' : String(v),
          ]),
        ),
      );
    },
  },
  grant: changeCapabilities(
    'grant',
    'granted',
    'give a running agent more, e.g. grant 3 tools http.fetch, grant 3 net https://api.example.com',
  ),
  revoke: changeCapabilities(
    'revoke',
    'revoked',
    'take something away at once (calls in flight that need it end with EPERM)',
  ),
  top: {
    usage: 'top',
    help: 'running agents by tokens used, with mailbox depth and context reserved',
    async run(k, t) {
      const ps = (await k.ps()).filter((p) => p.state !== 'exited');
      const used = (p: ProcInfo) => p.usage.prompt_tokens + p.usage.completion_tokens;
      ps.sort((a, b) => used(b) - used(a));
      t.print(
        formatTable([
          ['PID', 'STATE', 'PRI', 'TOKENS', 'QUOTA', 'MODEL', 'CONTEXT', 'MAILBOX', 'TASK'],
          ...ps.map((p) => [
            String(p.pid),
            p.state,
            String(p.priority),
            String(used(p)),
            p.capabilities.tokenQuota === null ? '-' : String(p.capabilities.tokenQuota),
            p.model ?? '-',
            String(p.contextReserved ?? 0),
            String(p.mailbox ?? 0),
            p.task.length > 30 ? `${p.task.slice(0, 29)}…` : p.task,
          ]),
        ]),
      );
    },
  },
  send: {
    usage: 'send <pid|name> <message>',
    help: 'put a message in an agent’s mailbox (from you, pid 0)',
    async run(k, t, words) {
      const [to, ...rest] = words;
      if (!to || !rest.length) throw new SysError('EINVAL', 'send needs a pid or name and a message');
      const target = /^\d+$/.test(to) ? Number(to) : to;
      await k.call('bus.send', { to: target, body: rest.join(' ') });
      t.print(`sent to ${to}`);
    },
  },
  mcp: {
    usage: 'mcp [add <url> [prefix] | remove <url>]',
    help: 'MCP servers whose tools join the registry',
    async run(k, t, words) {
      const [verb, url, prefix] = words;
      if ((verb === 'add' && words.length > 3) || (verb === 'remove' && words.length > 2))
        throw new SysError(
          'EINVAL',
          `mcp ${verb} takes one URL${verb === 'add' ? ' and an optional prefix' : ''}, e.g. mcp add https://mcp.example/mcp; got ${words.length - 1} words: ${words.slice(1).join(' ')}`,
        );
      if (verb === 'add' && url) {
        const r = await k.call<{ prefix: string; tools: string[] }>('tools.mcp_add', {
          url,
          ...(prefix ? { prefix } : {}),
        });
        t.print(`added ${url}: ${r.tools.join(', ') || 'no tools'}`);
      } else if (verb === 'remove' && url) {
        await k.call('tools.mcp_remove', { url });
        t.print(`removed ${url}`);
      } else {
        const list = await k.call<{ url: string; prefix: string; tools: string[] }[]>('tools.mcp_list', {});
        t.print(
          list.length
            ? formatTable([
                ['URL', 'PREFIX', 'TOOLS'],
                ...list.map((m) => [m.url, m.prefix, String(m.tools.length)]),
              ])
            : 'no MCP servers',
        );
      }
    },
  },
  restart: {
    usage: 'restart <pid>',
    help: 'start again an agent that was running when the OS closed (same pid)',
    async run(k, t, words) {
      await k.call('restart', { pid: pidArg(words[0]) });
      t.print(`restarted ${words[0]}`);
    },
  },
  embed: {
    usage: 'embed [allow <origin> [tools…] | deny <origin>]',
    help: 'sites that may embed this OS (besides embed-policy.json), and the tools their agents may get',
    async run(k, t, words) {
      const [verb, origin, ...tools] = words;
      if (verb === 'allow' && origin) {
        await k.call('embed.allow', { origin, permissions: { tools: tools.length ? tools : ['host.*'] } });
        t.print(`${origin} may embed this OS`);
      } else if (verb === 'deny' && origin) {
        await k.call('embed.disallow', { origin });
        t.print(`${origin} may no longer embed this OS`);
      } else {
        const list = await k.call<{ origin: string; permissions: Record<string, unknown> }[]>(
          'embed.policy',
          {},
        );
        t.print(
          list.length
            ? formatTable([
                ['ORIGIN', 'AT MOST'],
                ...list.map((e) => [e.origin, JSON.stringify(e.permissions)]),
              ])
            : 'no origins in settings (see public/embed-policy.json for the deployment’s list)',
        );
      }
    },
  },
  clear: {
    usage: 'clear',
    help: 'clear the screen',
    async run(_k, t) {
      t.clear();
    },
  },
};

export function psTable(procs: ProcInfo[]): string {
  const rows = procs.map((p) => [
    String(p.pid),
    p.adoptedFrom !== undefined ? `0 (was ${p.adoptedFrom})` : String(p.ppid),
    p.state + (p.exitCode !== null ? `(${p.exitCode})` : ''),
    String(p.priority),
    `${p.usage.prompt_tokens}+${p.usage.completion_tokens}`,
    p.program,
    p.task.length > 40 ? `${p.task.slice(0, 39)}…` : p.task,
  ]);
  return formatTable([['PID', 'PPID', 'STATE', 'PRI', 'TOKENS', 'PROGRAM', 'TASK'], ...rows]);
}

export async function runLine(k: Kernel, t: Terminal, line: string): Promise<void> {
  let words: string[];
  try {
    words = splitWords(line.trim());
  } catch (e) {
    t.print((e as Error).message, 'err');
    return;
  }
  const [name, ...rest] = words;
  if (!name) return;
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!cmd) {
    t.print(`${name}: command not found (try help)`, 'err');
    return;
  }
  try {
    await cmd.run(k, t, rest);
  } catch (e) {
    t.print(e instanceof SysError ? e.message : `${name}: ${(e as Error).message ?? e}`, 'err');
  }
}

export function complete(prefix: string): string[] {
  return Object.keys(COMMANDS).filter((c) => c.startsWith(prefix));
}

/** Adds WebLLM's models that fit this GPU to the catalogue; says how many. */
async function listWebLLM(k: Kernel, t: Terminal): Promise<string[]> {
  const r = await k.call<{ registered: string[] }>('models.webllm', {});
  t.print(
    r.registered.length
      ? `WebLLM: ${r.registered.length} model(s) fit this GPU`
      : 'WebLLM: no model fits (no WebGPU adapter in the kernel, or too little GPU memory)',
  );
  return r.registered;
}
