/**
 * What a tab does for agents that outlive it (issue 15): it tells the kernel
 * when it is hidden (a throttled tab is a poor host), asks before closing only
 * when it is the last tab that can host the running agents, and turns process
 * events into notices — once per event: an exit once per process life, a move
 * only in the tab the agent moved to.
 */
import type { KernelEvent, ProcInfo } from '../abi/protocol';
import type { KernelClient } from './kernel-client';

export interface DurabilityView {
  /** Host tabs open now (this one included), from the kernel's `tabs` events. */
  hosts: number;
  /** Processes not exited. */
  agents: number;
}

/** Whether closing this tab would leave running agents without a host. */
export function shouldAskBeforeClosing(thisTabHosts: boolean, v: DurabilityView): boolean {
  return thisTabHosts && v.hosts <= 1 && v.agents > 0;
}

/** Turns `proc` events into notices, each at most once. */
export class Notices {
  private readonly exited = new Set<string>();
  private readonly moves = new Map<number, number>();
  private readonly states = new Map<number, string>();

  constructor(
    private readonly tabId: string,
    private readonly show: (text: string) => void,
  ) {}

  onProc(p: ProcInfo): void {
    const before = this.states.get(p.pid);
    this.states.set(p.pid, p.state);
    if (p.state === 'exited') {
      const key = `${p.pid}:${p.restarts}`;
      if (p.ppid === 0 && !this.exited.has(key)) {
        this.exited.add(key);
        this.show(`Agent ${p.pid} finished (exit ${p.exitCode}): ${p.task.slice(0, 60)}`);
      }
      return;
    }
    const moves = p.migrations ?? 0;
    const seen = this.moves.get(p.pid) ?? moves;
    if (p.hostTab === this.tabId && moves > seen && (p.state === 'running' || p.state === 'waiting')) {
      this.moves.set(p.pid, moves);
      this.show(`Agent ${p.pid} moved to this tab (its tab closed) and resumed from its checkpoint`);
    } else if (!this.moves.has(p.pid) || p.hostTab !== this.tabId) {
      // Only remember the count once it is settled here or elsewhere, so the move into this tab is still news.
      if (p.state === 'running' || p.state === 'waiting') this.moves.set(p.pid, moves);
    }
    if (before === 'resuming' && p.state === 'running' && p.hostTab === this.tabId && moves === seen)
      this.show(`Agent ${p.pid} resumed where it was when the OS closed`);
  }
}

/** Wires a tab's client: visibility reports, the beforeunload question and the notices. */
export function watchDurability(client: KernelClient, notify: (text: string) => void): () => void {
  const view: DurabilityView = { hosts: 1, agents: 0 };
  const notices = new Notices(client.tabId, notify);
  const off = client.on((e: KernelEvent) => {
    if (e.type === 'tabs') {
      if (e.hosts !== undefined) view.hosts = e.hosts;
      if (e.agents !== undefined) view.agents = e.agents;
    } else if (e.type === 'proc') notices.onProc(e.proc);
  });
  const report = () => void client.call('tab.visibility', { hidden: document.hidden }).catch(() => {});
  document.addEventListener('visibilitychange', report);
  if (document.hidden) report();
  const ask = (e: BeforeUnloadEvent) => {
    if (!shouldAskBeforeClosing(client.host, view)) return;
    e.preventDefault();
    e.returnValue = ''; // older Chromium needs it set to show the question
  };
  addEventListener('beforeunload', ask);
  return () => {
    off();
    document.removeEventListener('visibilitychange', report);
    removeEventListener('beforeunload', ask);
  };
}
