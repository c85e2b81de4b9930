/**
 * An agent process. The host tab starts this worker inside a sandboxed frame
 * (src/shell/agent-frame.ts) and hands it a port to the kernel; from then on
 * the agent speaks only to the kernel. It asks the kernel what to run (boot),
 * loads the program, runs it, and reports its exit. It is bundled to one
 * script (src/build/agent-bundle.ts): the frame can load nothing from a server,
 * so programs arrive as source from the kernel, and the built-ins are inside.
 */
import { SysError } from '../abi/errors';
import type { AgentBoot } from '../abi/protocol';
import { SyscallClient } from '../abi/syscall-client';
import chatAgent from './programs/chat-agent';
import llmAgent from './programs/llm-agent';
import { sealAgentScope } from './sandbox';
import { type AgentProgram, createContext, ExitRequest } from './sdk';

/** Built-in programs: part of the bundle (a sandboxed frame can fetch nothing). */
const BUILTINS: Record<string, AgentProgram> = {
  'llm-agent': llmAgent,
  'chat-agent': chatAgent,
};

declare const self: DedicatedWorkerGlobalScope;

// The bundle has been evaluated (the spawn benchmark's breakdown: worker created → code loaded → init).
performance.mark('agentos:loaded');
// Tell the host (through the frame): a spawn's slot counts as started from now on, and the host's pool
// makes its next spare only then, not beside this worker while it loads (spare-pool.ts). Said before
// the seal, which takes postMessage away.
self.postMessage({ t: 'loaded' });

// A worker started ahead of need (spare-pool.ts) starts its module loader now, with an empty
// module: a program's import (a blob: module) then pays for its own evaluation only.
const WARM_URL = URL.createObjectURL(new Blob([''], { type: 'text/javascript' }));
void import(/* @vite-ignore */ WARM_URL).catch(() => {}).finally(() => URL.revokeObjectURL(WARM_URL));

self.onmessage = (ev: MessageEvent<{ t: 'init'; port: MessagePort; source?: unknown; marks?: unknown }>) => {
  if (ev.data?.t !== 'init' || !(ev.data.port instanceof MessagePort)) return;
  self.onmessage = null; // the host speaks once; everything else comes from the kernel
  // Phase marks for the spawn benchmark's breakdown (worker created → init → boot → program), with
  // the host's and the frame's (absolute ms: when the slot was made, the frame's document started...).
  performance.mark('agentos:init', { detail: ev.data.marks ?? null });
  const sys = new SyscallClient(ev.data.port);
  // Before any program code runs: storage, network, nested workers and the page become unreachable.
  sealAgentScope(self);
  // The program's source, when the kernel sent it with the start: imported while boot is answered.
  const early = typeof ev.data.source === 'string' ? importEarly(ev.data.source) : null;
  void run(sys, early);
};

/** A program imported ahead of its boot answer; its failure is reported after boot, as a late import's would be. */
interface EarlyImport {
  source: string;
  module: Promise<{ default?: unknown }>;
}

function importEarly(source: string): EarlyImport {
  const module = importSource(source);
  module.catch(() => {}); // handled when awaited, after boot
  return { source, module };
}

async function importSource(source: string): Promise<{ default?: unknown }> {
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  try {
    return await import(/* @vite-ignore */ url);
  } finally {
    URL.revokeObjectURL(url);
  }
}

async function run(sys: SyscallClient, early: EarlyImport | null): Promise<void> {
  let exiting = false;
  const terminate = (code: number) => {
    if (exiting) return;
    exiting = true;
    // The kernel ends the worker once it has recorded the exit.
    void sys.call('exit', { code }).catch(() => self.close());
  };
  let boot: AgentBoot;
  try {
    boot = await sys.call<AgentBoot>('boot');
    sys.maxInFlight = boot.callsInFlight ?? null;
    sys.callsPerSec = boot.callsPerSec ?? null;
    sys.batchFrames = true; // the calls of one turn leave as one message (kernel/frame-batch.ts)
    performance.mark('agentos:boot');
  } catch {
    self.close();
    return;
  }
  try {
    const program = await load(boot, early);
    const ctx = createContext(sys, boot, terminate);
    const result = await program(ctx);
    terminate(
      typeof result === 'number' && Number.isInteger(result) && result >= 0 && result <= 255 ? result : 0,
    );
  } catch (e) {
    if (e instanceof ExitRequest) return terminate(e.code);
    const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    await sys.call('write', { fd: 2, data: `${msg}\n` }).catch(() => {});
    terminate(1);
  }
}

async function load(boot: AgentBoot, early: EarlyImport | null): Promise<AgentProgram> {
  let mod: { default?: unknown };
  if (boot.source !== null) {
    // The kernel's boot answer is what runs: an early import of other text is not used.
    mod = await (early?.source === boot.source ? early.module : importSource(boot.source));
  } else if (Object.hasOwn(BUILTINS, boot.program)) {
    mod = { default: BUILTINS[boot.program] };
  } else {
    // The kernel hands every program that is not built in as source (it fetched it): nothing is imported by URL.
    throw new SysError(
      'ENOENT',
      `no program "${boot.program}" (built-ins: ${Object.keys(BUILTINS).join(', ')})`,
    );
  }
  if (typeof mod.default !== 'function')
    throw new SysError('EINVAL', 'an agent program must export a default function');
  return mod.default as AgentProgram;
}
