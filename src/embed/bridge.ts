/**
 * The OS side of embedding, running in embed.html inside a host page's iframe.
 * It connects to the kernel like any tab (and hosts agents), and speaks the
 * embedding protocol (protocol.ts) to its parent page only, and only while the
 * OS owner allows that page's origin: the origin is checked on every message,
 * not just at the handshake, against the allowlist the kernel keeps (settings, then the
 * deployment's embed-policy.json). What the page's agents may do is clamped to what the owner
 * gave its origin by the kernel itself (kernel/embedders.ts): this frame says hello as an
 * embedded OS and binds to the page's origin; it passes the page's asks through unclamped.
 */

import type { Capabilities } from '../abi/capabilities';
import { SysError } from '../abi/errors';
import type { KernelEvent } from '../abi/protocol';
import { KernelClient } from '../shell/kernel-client';
import { EMBED_VERSIONS, type HostMessage, isCorrelationId, type OsMessage, TAG } from './protocol';

const statusEl = document.getElementById('status');
const setStatus = (s: string) => {
  if (statusEl) statusEl.textContent = s;
};

interface Peer {
  origin: string;
  version: number;
}

async function main(): Promise<void> {
  if (window.parent === window) {
    setStatus('This page is the embeddable AgentOS: open it inside an iframe (see the README).');
    return;
  }
  // This tab joins the kernel as a host of agents only once a page the owner allows has said hello: a frame
  // on a refused origin hosts nothing (its agents would end when that page closes it). Until then it is a
  // plain, non-hosting client that answers the allowlist checks (enableHosting below).
  // A frame no page talks to does not connect at all.
  const early: MessageEvent[] = [];
  const hold = (ev: MessageEvent) => {
    if (ev.source === window.parent) early.push(ev);
  };
  window.addEventListener('message', hold);
  setStatus('AgentOS: waiting for the page to connect');
  await new Promise<void>((r) => window.addEventListener('message', () => r(), { once: true }));
  const k = await KernelClient.connect({ mode: 'auto', host: false, embed: true });
  // Who may embed: the allowlist in this kernel's settings, then the deployment's embed-policy.json (the
  // site owner's list, the same for every visitor), both read by the kernel. An embedded OS on another site
  // has its own, partitioned kernel: its settings start empty, so the file is what usually decides.
  // Asked of the kernel for every message, so removing a site in settings stops its very next one.
  const policyFor = async (origin: string): Promise<Partial<Capabilities> | null> =>
    (await k.call<Partial<Capabilities> | null>('embed.policy', { origin }).catch(() => null)) || null;
  let peer: Peer | null = null;
  const owned = new Set<number>();
  const ended = new Set<number>();
  const seen = new Set<string>(); // correlation ids in use: a reused one is refused

  const send = (m: OsMessage) => {
    if (peer) window.parent.postMessage(m, peer.origin); // never '*'
  };
  // The frame's one line says what is going on now, not what was true at boot.
  const showConnected = () => {
    if (!peer) return;
    const running = [...owned].filter((pid) => !ended.has(pid)).length;
    setStatus(
      `AgentOS: connected to ${peer.origin}${running ? ` · ${running} agent${running === 1 ? '' : 's'} running` : ''}`,
    );
  };
  k.on((e: KernelEvent) => {
    if (e.type === 'output' && owned.has(e.pid)) {
      send({ [TAG]: 1, type: 'output', pid: e.pid, fd: e.fd, data: e.data });
    } else if (
      e.type === 'proc' &&
      owned.has(e.proc.pid) &&
      e.proc.state === 'exited' &&
      !ended.has(e.proc.pid)
    ) {
      ended.add(e.proc.pid); // still the page's: it may wait for it or read its exit
      send({
        [TAG]: 1,
        type: 'exit',
        pid: e.proc.pid,
        exitCode: e.proc.exitCode,
        exitReason: e.proc.exitReason,
      });
      showConnected();
    }
  });

  const receive = (ev: MessageEvent) => {
    if (ev.source !== window.parent) return;
    const m = ev.data as Partial<HostMessage> | null;
    if (!m || typeof m !== 'object' || m[TAG] !== 1) return;
    // The kernel answers in order, so messages are handled in the order they came.
    void policyFor(ev.origin).then((policy) => onMessage(ev, m, policy));
  };
  window.removeEventListener('message', hold);
  window.addEventListener('message', receive);
  for (const ev of early.splice(0)) receive(ev);

  function onMessage(ev: MessageEvent, m: Partial<HostMessage>, policy: Partial<Capabilities> | null) {
    const reply = (v: OsMessage) => (ev.source as Window).postMessage(v, ev.origin);
    if (!policy) {
      // Nothing else, to anyone not allowed: not even whether an agent exists.
      reply({
        [TAG]: 1,
        type: 'refused',
        reason: `${ev.origin} may not embed this AgentOS (its owner can allow it)`,
      });
      if (peer?.origin === ev.origin) peer = null;
      setStatus(`AgentOS: ${ev.origin} may not embed this OS`);
      return;
    }
    const id = m.id;
    const fail = (code: string, message: string, cid: string | null = isCorrelationId(id) ? id : null) =>
      reply({ [TAG]: 1, type: 'result', id: cid, ok: false, error: { code, message } });
    if (!isCorrelationId(id))
      return fail('EINVAL', 'every message needs a correlation id (1–100 printable characters)', null);
    if (m.type === 'hello') {
      const theirs = Array.isArray(m.versions) ? m.versions.filter((v) => typeof v === 'number') : [];
      const version = Math.max(
        ...theirs.filter((v) => (EMBED_VERSIONS as readonly number[]).includes(v)),
        -1,
      );
      if (version < 0)
        return fail(
          'EPROTO',
          `no common protocol version: this OS speaks ${EMBED_VERSIONS.join(', ')}, the page ${theirs.join(', ') || 'none'}`,
        );
      // The kernel binds this frame to the page's origin: from now on it clamps what the page does.
      void k.call('embed.bind', { origin: ev.origin }).then(
        () => {
          peer = { origin: ev.origin, version };
          k.enableHosting();
          showConnected();
          reply({ [TAG]: 1, type: 'welcome', id, version, permissions: policy });
        },
        (e: unknown) => {
          const s = SysError.from(e);
          fail(s.code, s.message);
        },
      );
      return;
    }
    if (!peer || peer.origin !== ev.origin) return fail('EPROTO', 'say hello first');
    if (seen.has(id)) return fail('EINVAL', `correlation id ${id} was already used`);
    seen.add(id);
    const ok = (value: unknown) => send({ [TAG]: 1, type: 'result', id, ok: true, value: value ?? null });
    const err = (e: unknown) => {
      const s = SysError.from(e);
      send({ [TAG]: 1, type: 'result', id, ok: false, error: { code: s.code, message: s.message } });
    };
    void handle(m as HostMessage).then(ok, err);
  }

  async function handle(m: HostMessage): Promise<unknown> {
    const ownedPid = (pid: unknown) => {
      if (typeof pid !== 'number' || !owned.has(pid))
        throw new SysError('EPERM', `process ${String(pid)} was not started by this page`);
      return pid;
    };
    switch (m.type) {
      case 'spawn': {
        if (typeof m.task !== 'string') throw new SysError('EINVAL', 'spawn needs a task');
        // The kernel derives the agent from this origin's ceiling (kernel/embedders.ts): past it is EPERM.
        const o = m.options ?? {};
        const pid = await k.spawn(m.task, m.permissions, {
          ...(o.program !== undefined ? { program: o.program } : {}),
          ...(o.source !== undefined ? { source: o.source } : {}),
          ...(o.args !== undefined ? { args: o.args } : {}),
          ...(o.priority !== undefined ? { priority: Math.max(0, o.priority) } : {}),
        });
        owned.add(pid);
        showConnected();
        const info = (await k.ps()).find((p) => p.pid === pid);
        return { pid, capabilities: info?.capabilities ?? null };
      }
      case 'send':
        return k.call('bus.send', { to: ownedPid(m.pid), body: m.body });
      case 'wait':
        return k.wait(ownedPid(m.pid), m.timeoutMs);
      case 'kill':
        return k.kill(ownedPid(m.pid));
      case 'tool.register': {
        const name = String(m.name).startsWith('host.') ? String(m.name) : `host.${String(m.name)}`;
        await k.serveTool(
          { name, description: String(m.description ?? ''), inputSchema: m.inputSchema },
          (args, pid) => {
            // Ask the page; its tool.result (with this call id) answers.
            const callId = crypto.randomUUID();
            return new Promise((resolve, reject) => {
              toolWaiters.set(callId, { resolve, reject });
              send({ [TAG]: 1, type: 'tool.call', callId, name, args, pid });
            });
          },
        );
        return { name };
      }
      case 'tool.result': {
        const w = toolWaiters.get(m.callId);
        if (!w) throw new SysError('EINVAL', `no tool call ${String(m.callId)} is waiting for this page`);
        toolWaiters.delete(m.callId);
        if (m.ok) w.resolve(m.value ?? null);
        else w.reject(new SysError('EIO', String(m.error ?? 'the page’s tool failed').slice(0, 500)));
        return null;
      }
      default:
        throw new SysError('ENOSYS', `unknown message type ${String((m as { type?: unknown }).type)}`);
    }
  }
  const toolWaiters = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
}

main().catch((e: unknown) => setStatus(`AgentOS could not start: ${(e as Error).message ?? e}`));
