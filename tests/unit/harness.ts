/**
 * The real kernel in Node, over real MessageChannels: a fake tab that hosts
 * agents in-process. Agent programs are functions looked up by program name.
 */

import type { AgentBoot, HostCommand, KernelEvent } from '../../src/abi/protocol';
import { SyscallClient } from '../../src/abi/syscall-client';
import { bootKernel } from '../../src/kernel/boot';
import type { Kernel, KernelOptions } from '../../src/kernel/kernel';
import { type AgentContext, createContext, ExitRequest } from '../../src/workers/sdk';

export type TestProgram = (ctx: AgentContext) => unknown;

export interface Harness {
  kernel: Kernel;
  user: SyscallClient;
  events: KernelEvent[];
  /** Agent ports by pid, for sending raw frames as the agent. */
  agentPorts: Map<number, MessagePort>;
  terminated: number[];
  close(): void;
}

export async function boot(
  programs: Record<string, TestProgram>,
  opts: KernelOptions = {},
): Promise<Harness> {
  const kernel = bootKernel({ locks: null, ...opts });
  const ch = new MessageChannel();
  kernel.attachTab(ch.port1);
  const user = new SyscallClient(ch.port2);
  const events: KernelEvent[] = [];
  const agentPorts = new Map<number, MessagePort>();
  const terminated: number[] = [];
  user.onOther = (frame) => {
    if (frame.t === 'event') events.push((frame as { event: KernelEvent }).event);
    if (frame.t === 'events') events.push(...(frame as unknown as { events: KernelEvent[] }).events);
    if (frame.t === 'host.terminate')
      terminated.push((frame as Extract<HostCommand, { t: 'host.terminate' }>).pid);
    if (frame.t !== 'host.start') return;
    const cmd = frame as Extract<HostCommand, { t: 'host.start' }>;
    agentPorts.set(cmd.pid, cmd.port);
    void runAgent(cmd.port, programs);
  };
  ch.port2.postMessage({ t: 'hello', tabId: 'test-tab', lock: null, host: true, version: 1 });
  await user.call('subscribe');
  return {
    kernel,
    user,
    events,
    agentPorts,
    terminated,
    close() {
      ch.port1.close();
      ch.port2.close();
      for (const p of agentPorts.values()) p.close();
    },
  };
}

export async function runAgent(port: MessagePort, programs: Record<string, TestProgram>): Promise<void> {
  const sys = new SyscallClient(port);
  const b = await sys.call<AgentBoot>('boot');
  sys.maxInFlight = b.callsInFlight ?? null; // as agent.worker.ts does
  sys.callsPerSec = b.callsPerSec ?? null;
  let exited = false;
  const terminate = (code: number) => {
    if (exited) return;
    exited = true;
    void sys.call('exit', { code }).catch(() => {});
  };
  const program = programs[b.program];
  if (!program) return terminate(127);
  try {
    const r = await program(createContext(sys, b, terminate));
    terminate(typeof r === 'number' ? r : 0);
  } catch (e) {
    if (e instanceof ExitRequest) return terminate(e.code);
    await sys.call('write', { fd: 2, data: String(e) }).catch(() => {});
    terminate(1);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
