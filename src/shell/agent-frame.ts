/**
 * Where a tab runs its agents. By default each agent's worker lives inside its
 * own sandboxed iframe: `sandbox="allow-scripts"` (no allow-same-origin) gives
 * it an opaque origin, so the OS's IndexedDB, caches, storage buckets, OPFS,
 * locks, channels and service worker do not exist for it; a CSP in the frame's
 * own document (`default-src 'none'`, scripts only from blob:) closes the
 * network. Both travel with the document, not with the server's headers. The
 * frame loads nothing: the agent's code (one bundle, src/build/agent-bundle.ts)
 * is part of its document, as text, and the agent reaches the kernel only through the
 * MessagePort the kernel made for it. Chromium runs sandboxed frames in another
 * renderer process than the page (IsolateSandboxedIframes), so an agent that
 * exhausts its process's memory ends that process, not the desktop or kernel.
 *
 * A crashed frame process says nothing to the page, so the host pings every
 * frame's document (not the worker: a busy agent is the kernel's heartbeat's
 * business) and reports the frames that stopped answering together, as one
 * crash: the kernel decides whom to blame (src/kernel/crash-blame.ts). The
 * rounds are paced by the kernel (`host.probe`), not by this page's timers,
 * which Chromium throttles in a hidden tab; a MessagePort has no close event in
 * Chromium 156, so pings are the only way to learn a frame's process is gone.
 *
 * `worker` hosting (plain same-origin workers, sealed only by sandbox.ts) is
 * kept for comparison (the bench's spawn_frame_ratio) and for `?hosting=worker`.
 */
import AGENT_SOURCE, { FRAME_BOOT_SHA256 } from 'virtual:agent-bundle';
import { FRAME_BOOT } from '../workers/frame-boot';
import { type PooledSlot, SparePool, type SparePoolOptions } from './spare-pool';

export type HostingKind = 'frame' | 'worker';

/** One agent's place: started with its kernel port (and its program's source when the kernel sent it), ended by terminate. */
export interface AgentSlot {
  start(port: MessagePort, source?: string): void;
  terminate(): void;
  /** An uncaught error in the agent (the agent alone ends). */
  onError: ((reason: string) => void) | null;
}

export interface AgentHosting {
  readonly kind: HostingKind;
  /** A slot for a new agent (a ready one when there is one). */
  take(): AgentSlot;
  /** Keeps slots ready (as many as recent demand, spare-pool.ts), so a spawn does not wait for a frame and a script to load. */
  prepare(): void;
  /** Ends every ready slot and makes none until the next take: the next spawn starts from nothing (bench, tests). */
  drain(): void;
  /** Slots ready now. */
  readonly spares: number;
  /** Changes how the ready slots are sized (spare-pool.ts). */
  configure(opts: Partial<SparePoolOptions>): void;
  /** Slots whose process died, all reported at once (set by the owner). */
  onCrash: ((slots: AgentSlot[]) => void) | null;
  /**
   * One round of liveness checks (the kernel sends `host.probe` every FRAME_PROBE_MS); `urgent`
   * when an agent here missed its heartbeats: frames that missed rounds are judged now, silent or not.
   */
  probe(urgent?: boolean): void;
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

/** The agent's code as inert JSON in the frame's document (no `<` left to end the element early). */
const AGENT_JSON = JSON.stringify(AGENT_SOURCE).replaceAll('<', '\\u003c');

/** The frame's whole document: its policy, the agent's code (text, not run), then the one script that policy allows. */
export const FRAME_SRCDOC = `<!doctype html><meta http-equiv="Content-Security-Policy" content="${frameCsp(FRAME_BOOT_SHA256)}"><script type="application/json" id="agent">${AGENT_JSON}</script><script>${FRAME_BOOT}</script>`;

/** When the host made the slot and handed it its agent (absolute ms): the start of the spawn benchmark's breakdown. */
function hostMarks(made: number): { made: number; start: number } {
  return { made, start: performance.timeOrigin + performance.now() };
}

/** Rounds of pings a frame may miss before its process counts as gone (rounds, not time: timers throttle). */
const MISSED_ROUNDS = 2;
/**
 * Rounds closer than this are one round: probes queued while this page was busy arrive
 * together, and the frames must have had time to answer the last one (the kernel sends
 * one a second; reading the clock is not a timer, so it is not throttled).
 */
const MIN_ROUND_MS = 500;
/** Rounds a spare may take to load before it is replaced (one made as its process died never loads, nor answers pings). */
const SPARE_LOAD_ROUNDS = 10;
/**
 * And this long without any answer (half the kernel's heartbeat timeout, so a real crash is
 * still told by this path, which restarts innocents, before the heartbeat would kill them): a frame process
 * that is merely busy (hundreds of agents streaming, frames still starting) answers late, and
 * taking it for a crash would end all its agents.
 */
const SILENT_MS = 5_000;

class FrameSlot implements AgentSlot {
  onError: ((reason: string) => void) | null = null;
  readonly el: HTMLIFrameElement;
  private readonly ctl: MessagePort;
  /** The frame has its control port and its worker has loaded the agent's code (frame-boot.ts). */
  ready = false;
  started = false;
  ended = false;
  /** The last ping sent, and the last answered. */
  sent = 0;
  answered = 0;
  missed = 0;
  /** Rounds seen before it became ready. */
  unready = 0;
  /** When the frame last answered (or became ready). */
  heardAt = performance.now();
  /** When this slot was made (absolute ms), for the spawn benchmark's breakdown. */
  private readonly madeAt = performance.timeOrigin + performance.now();

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
      () => this.el.contentWindow?.postMessage({ t: 'ctl', ctl: ch.port2 }, '*', [ch.port2]),
      { once: true },
    );
    container.append(this.el);
  }

  start(port: MessagePort, source?: string): void {
    this.started = true;
    // Not waiting for 'ready': messages on the control channel queue until the frame takes its
    // end of it, so the port reaches the frame with the channel, one cross-process hop sooner.
    this.ctl.postMessage({ t: 'init', port, source, marks: hostMarks(this.madeAt) }, [port]);
  }

  ping(): void {
    if (!this.ready) {
      this.unready++;
      return;
    }
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

/** What both hostings share: slots made ready ahead of spawns by a pool sized by demand (spare-pool.ts). */
abstract class PooledHosting<S extends AgentSlot & PooledSlot> {
  onCrash: ((slots: AgentSlot[]) => void) | null = null;
  protected readonly pool: SparePool<S>;

  constructor(pool: Partial<SparePoolOptions>) {
    // make() runs only on take/prepare, after the subclass's fields exist.
    this.pool = new SparePool(() => this.make(), pool);
  }

  protected abstract make(): S;

  take(): AgentSlot {
    return this.pool.take();
  }

  prepare(): void {
    this.pool.soon();
  }

  drain(): void {
    this.pool.drain();
  }

  configure(opts: Partial<SparePoolOptions>): void {
    this.pool.configure(opts);
  }

  get spares(): number {
    return this.pool.size;
  }
}

export class FrameHosting extends PooledHosting<FrameSlot> implements AgentHosting {
  readonly kind = 'frame' as const;
  private readonly live = new Set<FrameSlot>();
  private container: HTMLElement | null = null;
  private lastRound = Number.NEGATIVE_INFINITY;

  constructor(pool: Partial<SparePoolOptions> = {}) {
    super(pool);
  }

  private box(): HTMLElement {
    if (!this.container) {
      this.container = document.createElement('div');
      this.container.hidden = true;
      this.container.dataset.agentFrames = '';
      document.body.append(this.container);
    }
    return this.container;
  }

  protected make(): FrameSlot {
    const slot = new FrameSlot(this.box(), FRAME_SRCDOC, () => this.live.delete(slot));
    this.live.add(slot);
    return slot;
  }

  /** One round of pings; frames that missed too many are reported together, as one crash. */
  probe(urgent = false): void {
    const now = performance.now();
    if (urgent) {
      // An agent's own heartbeats stopped too (they come from its worker, not the frame's page):
      // a frame that also misses pings is not merely busy.
      const gone = [...this.live].filter((s) => s.started && s.missed >= MISSED_ROUNDS);
      for (const s of gone) s.terminate();
      if (gone.length) {
        this.onCrash?.(gone);
        this.prepare();
      }
      return;
    }
    if (now - this.lastRound < MIN_ROUND_MS) return;
    this.lastRound = now;
    const gone: FrameSlot[] = [];
    let stale = false;
    for (const s of this.live) {
      s.ping();
      if (s.missed >= MISSED_ROUNDS && now - s.heardAt >= SILENT_MS) gone.push(s);
      else if (!s.started && s.unready > SPARE_LOAD_ROUNDS) {
        // A spare that never loaded holds no agent: replace it quietly rather than hand it out.
        s.terminate();
        stale = true;
      }
    }
    if (stale && !gone.length) this.prepare();
    if (!gone.length) return;
    for (const s of gone) s.terminate();
    const lost = gone.filter((s) => s.started);
    if (lost.length) this.onCrash?.(lost);
    this.prepare();
  }
}

class WorkerSlot implements AgentSlot {
  onError: ((reason: string) => void) | null = null;
  ended = false;
  /** Its worker has loaded the agent's code (it says so once, agent.worker.ts). */
  ready = false;
  constructor(private readonly worker: Worker) {
    worker.onmessage = (e) => {
      if ((e.data as { t?: string } | null)?.t !== 'loaded') return;
      this.ready = true;
      worker.onmessage = null;
    };
    worker.onerror = (e) => {
      e.preventDefault();
      this.onError?.(e.message || 'uncaught error');
    };
    worker.onmessageerror = () => this.onError?.('message could not be deserialized');
  }
  private readonly madeAt = performance.timeOrigin + performance.now();
  start(port: MessagePort, source?: string): void {
    this.worker.postMessage({ t: 'init', port, source, marks: hostMarks(this.madeAt) }, [port]);
  }
  terminate(): void {
    this.ended = true;
    this.worker.terminate();
  }
}

/** Plain same-origin workers: the in-worker seal (and the agent script's CSP header, where served) only. */
export class WorkerHosting extends PooledHosting<WorkerSlot> implements AgentHosting {
  readonly kind = 'worker' as const;
  /** A worker's death is its error event; there is no process of its own to watch. */
  probe(_urgent?: boolean): void {}

  constructor(pool: Partial<SparePoolOptions> = {}) {
    super(pool);
  }

  protected make(): WorkerSlot {
    return new WorkerSlot(
      new Worker(new URL('../workers/agent.worker.ts', import.meta.url), { type: 'module', name: 'agent' }),
    );
  }
}

export function createHosting(kind: HostingKind, pool: Partial<SparePoolOptions> = {}): AgentHosting {
  return kind === 'worker' ? new WorkerHosting(pool) : new FrameHosting(pool);
}
