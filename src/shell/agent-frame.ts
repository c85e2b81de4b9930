/**
 * Where a tab runs its agents. By default each agent's worker lives inside its
 * own sandboxed iframe: `sandbox="allow-scripts"` (no allow-same-origin) gives
 * it an opaque origin, so the OS's IndexedDB, caches, storage buckets, OPFS,
 * locks, channels and service worker do not exist for it; a CSP in the frame's
 * own document (`default-src 'none'`, scripts only from blob:) closes the
 * network. Both travel with the document, not with the server's headers. The
 * frame loads nothing: the agent's code (one bundle, src/build/agent-bundle.ts)
 * is handed to it as text, and the agent reaches the kernel only through the
 * MessagePort the kernel made for it. Chromium runs sandboxed frames in another
 * renderer process than the page (IsolateSandboxedIframes), so an agent that
 * exhausts its process's memory ends that process, not the desktop or kernel.
 *
 * A crashed frame process says nothing to the page, so the host pings every
 * frame's document (not the worker: a busy agent is the kernel's heartbeat's
 * business) and reports the frames that stopped answering together, as one
 * crash: the kernel decides whom to blame (src/kernel/crash-blame.ts).
 *
 * `worker` hosting (plain same-origin workers, sealed only by sandbox.ts) is
 * kept for comparison (the bench's spawn_frame_ratio) and for `?hosting=worker`.
 */
import AGENT_SOURCE, { FRAME_BOOT_SHA256 } from 'virtual:agent-bundle';
import { FRAME_BOOT } from '../workers/frame-boot';

export type HostingKind = 'frame' | 'worker';

/** One agent's place: started with its kernel port, ended by terminate. */
export interface AgentSlot {
  start(port: MessagePort): void;
  terminate(): void;
  /** An uncaught error in the agent (the agent alone ends). */
  onError: ((reason: string) => void) | null;
}

export interface AgentHosting {
  readonly kind: HostingKind;
  /** A slot for a new agent (a ready one when there is one). */
  take(): AgentSlot;
  /** Keeps one slot ready, so a spawn does not wait for a frame and a module to load. */
  prepare(): void;
  /** Slots whose process died, all reported at once (set by the owner). */
  onCrash: ((slots: AgentSlot[]) => void) | null;
}

/** The frame's policy, in its own document: nothing from any server, scripts only from blob: (the agent). */
export function frameCsp(bootHash: string): string {
  return [
    "default-src 'none'",
    `script-src 'sha256-${bootHash}' blob: 'wasm-unsafe-eval'`,
    'worker-src blob:',
    "connect-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

/** The frame's whole document: its policy, then the one script that policy allows. */
export const FRAME_SRCDOC = `<!doctype html><meta http-equiv="Content-Security-Policy" content="${frameCsp(FRAME_BOOT_SHA256)}"><script>${FRAME_BOOT}</script>`;

/** Rounds of pings a frame may miss before its process counts as gone (rounds, not time: timers throttle). */
const MISSED_ROUNDS = 2;
const PING_MS = 1000;
/**
 * And this long without any answer (the kernel's heartbeat timeout for an agent): a frame process
 * that is merely busy (hundreds of agents streaming, frames still starting) answers late, and
 * taking it for a crash would end all its agents.
 */
const SILENT_MS = 10_000;

class FrameSlot implements AgentSlot {
  onError: ((reason: string) => void) | null = null;
  readonly el: HTMLIFrameElement;
  private readonly ctl: MessagePort;
  private pending: MessagePort | null = null;
  ready = false;
  started = false;
  ended = false;
  /** The last ping sent, and the last answered. */
  sent = 0;
  answered = 0;
  missed = 0;
  /** When the frame last answered (or became ready). */
  heardAt = performance.now();

  constructor(
    container: HTMLElement,
    srcdoc: string,
    private readonly onEnd: () => void,
  ) {
    const ch = new MessageChannel();
    this.ctl = ch.port1;
    this.ctl.onmessage = (ev) => {
      const m = ev.data as { t?: string; n?: number; message?: string } | null;
      if (m?.t === 'pong' && typeof m.n === 'number') {
        this.answered = Math.max(this.answered, m.n);
        this.heardAt = performance.now();
      } else if (m?.t === 'ready') {
        this.ready = true;
        this.heardAt = performance.now();
        this.answered = this.sent;
        if (this.pending) this.deliver(this.pending);
      } else if (m?.t === 'error' && !this.ended) this.onError?.(String(m.message ?? 'uncaught error'));
    };
    this.el = document.createElement('iframe');
    this.el.setAttribute('sandbox', 'allow-scripts');
    // Nothing a page feature could give it: no camera, GPU, USB, payment...: the kernel serves what agents need.
    this.el.setAttribute(
      'allow',
      "camera 'none'; microphone 'none'; geolocation 'none'; usb 'none'; serial 'none'; hid 'none'; payment 'none'; display-capture 'none'; fullscreen 'none'",
    );
    this.el.setAttribute('referrerpolicy', 'no-referrer');
    this.el.setAttribute('aria-hidden', 'true');
    this.el.tabIndex = -1;
    this.el.srcdoc = srcdoc;
    this.el.addEventListener(
      'load',
      () =>
        this.el.contentWindow?.postMessage({ t: 'code', code: AGENT_SOURCE, ctl: ch.port2 }, '*', [ch.port2]),
      { once: true },
    );
    container.append(this.el);
  }

  start(port: MessagePort): void {
    this.started = true;
    if (this.ready) this.deliver(port);
    else this.pending = port;
  }

  private deliver(port: MessagePort): void {
    this.pending = null;
    this.ctl.postMessage({ t: 'init', port }, [port]);
  }

  ping(): void {
    if (!this.ready) return;
    this.missed = this.answered >= this.sent ? 0 : this.missed + 1;
    this.ctl.postMessage({ t: 'ping', n: ++this.sent });
  }

  terminate(): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd();
    this.ctl.close();
    this.el.remove(); // the worker ends with its document
  }
}

export class FrameHosting implements AgentHosting {
  readonly kind = 'frame' as const;
  onCrash: ((slots: AgentSlot[]) => void) | null = null;
  private readonly live = new Set<FrameSlot>();
  private spare: FrameSlot | null = null;
  private container: HTMLElement | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;

  private box(): HTMLElement {
    if (!this.container) {
      this.container = document.createElement('div');
      this.container.hidden = true;
      this.container.dataset.agentFrames = '';
      document.body.append(this.container);
    }
    return this.container;
  }

  private make(): FrameSlot {
    const slot = new FrameSlot(this.box(), FRAME_SRCDOC, () => this.live.delete(slot));
    this.live.add(slot);
    this.timer ??= setInterval(() => this.round(), PING_MS);
    return slot;
  }

  take(): AgentSlot {
    const slot = this.spare && !this.spare.ended ? this.spare : this.make();
    this.spare = null;
    return slot;
  }

  prepare(): void {
    if (!this.spare || this.spare.ended) this.spare = this.make();
  }

  /** One round of pings; frames that missed too many are reported together, as one crash. */
  private round(): void {
    const gone: FrameSlot[] = [];
    for (const s of this.live) {
      s.ping();
      if (s.missed >= MISSED_ROUNDS && performance.now() - s.heardAt >= SILENT_MS) gone.push(s);
    }
    if (!gone.length) return;
    for (const s of gone) s.terminate();
    const lost = gone.filter((s) => s.started);
    if (lost.length) this.onCrash?.(lost);
    this.prepare();
  }
}

class WorkerSlot implements AgentSlot {
  onError: ((reason: string) => void) | null = null;
  constructor(private readonly worker: Worker) {
    worker.onerror = (e) => {
      e.preventDefault();
      this.onError?.(e.message || 'uncaught error');
    };
    worker.onmessageerror = () => this.onError?.('message could not be deserialized');
  }
  start(port: MessagePort): void {
    this.worker.postMessage({ t: 'init', port }, [port]);
  }
  terminate(): void {
    this.worker.terminate();
  }
}

/** Plain same-origin workers: the in-worker seal (and the agent script's CSP header, where served) only. */
export class WorkerHosting implements AgentHosting {
  readonly kind = 'worker' as const;
  onCrash: ((slots: AgentSlot[]) => void) | null = null;
  private spare: WorkerSlot | null = null;

  private make(): WorkerSlot {
    return new WorkerSlot(
      new Worker(new URL('../workers/agent.worker.ts', import.meta.url), { type: 'module', name: 'agent' }),
    );
  }

  take(): AgentSlot {
    const s = this.spare ?? this.make();
    this.spare = null;
    return s;
  }

  prepare(): void {
    this.spare ??= this.make();
  }
}

export function createHosting(kind: HostingKind): AgentHosting {
  return kind === 'worker' ? new WorkerHosting() : new FrameHosting();
}
