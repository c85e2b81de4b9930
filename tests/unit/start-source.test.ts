/**
 * host.start carries a program's source when the kernel has it (the agent imports it while its
 * boot call is answered: one round trip off a spawn), and the boot answer carries the same text,
 * which is what the agent runs; a built-in, whose code is in the agent bundle, gets none.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentBoot, HostCommand } from '../../src/abi/protocol';
import { SyscallClient } from '../../src/abi/syscall-client';
import { bootKernel } from '../../src/kernel/boot';

type Start = Extract<HostCommand, { t: 'host.start' }>;

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

/** A fake tab that hosts agents: records each host.start and answers the agent's boot on its port. */
async function tab() {
  const kernel = bootKernel({ locks: null });
  const ch = new MessageChannel();
  kernel.attachTab(ch.port1);
  const user = new SyscallClient(ch.port2);
  const starts: { cmd: Start; boot: Promise<AgentBoot> }[] = [];
  user.onOther = (frame) => {
    if (frame.t !== 'host.start') return;
    const cmd = frame as unknown as Start;
    starts.push({ cmd, boot: new SyscallClient(cmd.port).call<AgentBoot>('boot') });
  };
  ch.port2.postMessage({ t: 'hello', tabId: 'test-tab', lock: null, host: true, version: 1 });
  await user.call('subscribe');
  cleanup.push(() => {
    ch.port1.close();
    ch.port2.close();
    for (const s of starts) s.cmd.port.close();
  });
  const started = async (n: number) => {
    for (let i = 0; i < 200 && starts.length < n; i++) await new Promise((r) => setTimeout(r, 5));
    expect(starts.length).toBe(n);
    return starts[n - 1]!;
  };
  return { user, started };
}

describe('host.start', () => {
  it('carries the source of a program given as text, the same text boot answers', async () => {
    const { user, started } = await tab();
    const source = 'export default async (ctx) => { await ctx.print("hi"); }';
    await user.call('spawn', { task: 'text program', options: { source } });
    const { cmd, boot } = await started(1);
    expect(cmd.source).toBe(source);
    expect((await boot).source).toBe(source);
  });

  it('carries no source for a built-in program (its code is in the agent bundle)', async () => {
    const { user, started } = await tab();
    await user.call('spawn', { task: 'say hi', options: { program: 'llm-agent' } });
    const { cmd, boot } = await started(1);
    expect(cmd.source).toBeUndefined();
    const b = await boot;
    expect(b.program).toBe('llm-agent');
    expect(b.source).toBeNull();
  });
});
