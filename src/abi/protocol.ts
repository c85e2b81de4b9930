/**
 * The wire protocol: every frame that crosses a port between a tab, the kernel
 * and an agent. It is deliberately tiny (like comlink's, but closed): a caller
 * can only name a syscall from the table and pass data — never a property path.
 */

import type { Capabilities } from './capabilities';
import type { ModelInfo } from './chat';
import type { SysErrorShape } from './errors';

export const PROTOCOL_VERSION = 1;

/** Caller → kernel: invoke syscall `name`. `id` correlates the answer. */
export interface CallFrame {
  t: 'call';
  id: number;
  name: string;
  args?: unknown;
  /**
   * The caller wants an answer only if the call fails (an agent's stdout writes, sent behind:
   * half the frames per streamed token). Honoured for syscalls whose entry says `quiet`.
   */
  quiet?: boolean;
}
/** Caller → kernel: abandon a streaming call. */
export interface CancelFrame {
  t: 'cancel';
  id: number;
}
/**
 * Agent → kernel: the calls (and cancels) an agent's SDK made in one turn of its event loop, in
 * order, in one message; each is still its own syscall (its own id, checks and answer). The
 * kernel answers those it can answer at once in one `rets` frame.
 */
export interface CallsFrame {
  t: 'calls';
  frames: unknown[];
}
/** Kernel → agent: answers (ret and chunk frames), in order, in one message. */
export interface RetsFrame {
  t: 'rets';
  frames: (ReturnFrame | ChunkFrame)[];
}
/** The most frames one `calls` message may carry. */
export const MAX_FRAMES_PER_MESSAGE = 1024;
/** Kernel → caller: the final answer of call `id`. */
export type ReturnFrame =
  | { t: 'ret'; id: number; ok: true; value: unknown }
  | { t: 'ret'; id: number; ok: false; error: SysErrorShape };
/** Kernel → caller: one item of a streaming call's output. */
export interface ChunkFrame {
  t: 'chunk';
  id: number;
  value: unknown;
}
/** Kernel → agent: a signal, as in Unix. */
export interface SignalFrame {
  t: 'signal';
  sig: 'TERM' | 'STOP' | 'CONT';
}
/** Kernel → tab: something happened (process table changed, output, …). */
export interface EventFrame {
  t: 'event';
  event: KernelEvent;
}
/** Kernel → tab: the events of one kernel tick, in order (kernel/event-batch.ts). */
export interface EventsFrame {
  t: 'events';
  events: KernelEvent[];
}

/** Tab → kernel, once, after it holds its liveness lock. */
export interface HelloFrame {
  t: 'hello';
  tabId: string;
  /** A Web Lock the tab holds until it dies: the kernel learns of the death when it gets the lock. */
  lock: string | null;
  /** Whether this tab may host agent workers. */
  host: boolean;
  /**
   * An embedded OS (embed.html): the kernel treats it as a page of another site, not as the
   * user — it may do only what the origin it binds to (embed.bind) is allowed (kernel/embedders.ts).
   */
  embed?: boolean;
  version: number;
}
/** Tab → kernel: this tab is going away (pagehide). */
export interface ByeFrame {
  t: 'bye';
}
/** Tab → kernel: keep-alive where Web Locks are missing. */
export interface BeatFrame {
  t: 'beat';
}

/** Kernel → host tab: start or stop an agent worker. */
export type HostCommand =
  /** `source`: the program's, when the kernel has it already: the agent imports it while its boot call is answered. */
  | { t: 'host.start'; pid: number; incarnation: number; port: MessagePort; source?: string }
  | { t: 'host.terminate'; pid: number; incarnation: number }
  | { t: 'host.engine'; key: string; port: MessagePort }
  | { t: 'host.engine.stop'; key: string }
  /**
   * One round of liveness pings to the tab's agent frames, paced by the kernel's timer: a hidden
   * tab's own timers are throttled (to once a minute after five minutes), messages are not.
   */
  | { t: 'host.probe'; urgent?: boolean }
  /** A tool this tab serves was called: answer with the tools.result syscall. */
  | { t: 'host.tool'; callId: number; name: string; args: unknown; pid: number };
/** Host tab → kernel: an agent worker died on its own (error event). */
export interface HostReport {
  t: 'host.died';
  pid: number;
  incarnation: number;
  reason: string;
}
/** Tab → kernel: from now on this tab hosts agents (an embedded OS, once an allowed page said hello). */
export interface HostEnable {
  t: 'host.enable';
}
/** Host tab → kernel: agent frames whose process died together (a crash; crash-blame.ts decides). */
export interface HostCrashed {
  t: 'host.crashed';
  lost: { pid: number; incarnation: number }[];
}
/** Host tab → kernel: an engine worker died on its own. */
export interface EngineDied {
  t: 'host.engine.died';
  key: string;
  reason: string;
}

/** What an agent worker needs to start its program. */
export interface AgentBoot {
  pid: number;
  ppid: number;
  task: string;
  program: string;
  /** ES module source, when the program was given as text rather than a name or URL. */
  source: string | null;
  args: unknown;
  /** Its last checkpoint when it starts again (after a move or the OS reopening); null on a first start. */
  restored?: unknown;
  /** The seq of that checkpoint (0: none). */
  restoredSeq?: number;
  /** Its `limits.callsInFlight`: the SDK sends no more calls at once (the rest wait in the SDK). */
  callsInFlight?: number;
  /** Its `limits.callsPerSec`: the SDK paces calls sent while others are in flight below it. */
  callsPerSec?: number;
}

/** migrating: its host tab went, it waits for another; sleeping: no tab can host it (the OS closed); resuming: starting again from its checkpoint. */
export type ProcState =
  | 'ready'
  | 'running'
  | 'waiting'
  | 'suspended'
  | 'migrating'
  | 'sleeping'
  | 'resuming'
  | 'exited';

export interface ProcInfo {
  pid: number;
  ppid: number;
  task: string;
  program: string;
  priority: number;
  state: ProcState;
  exitCode: number | null;
  exitReason: string | null;
  startTime: number;
  endTime: number | null;
  hostTab: string | null;
  restart: 'never' | 'on-host-loss';
  restarts: number;
  /** Its parent exited and the kernel adopted it (ppid is then 0): the pid of that parent. */
  adoptedFrom?: number;
  /** Times it moved to another tab (its host tab closed or crashed). */
  migrations?: number;
  /** Its last acknowledged checkpoint. */
  checkpoint?: { seq: number; at: number; bytes: number } | null;
  /** It was running when the OS closed: `restart` starts it again under the same pid. */
  restartable?: boolean;
  /** The model of its last request. */
  model?: string | null;
  /** Messages waiting in its mailbox (filled in by ps). */
  mailbox?: number;
  /** Context tokens it holds reserved (filled in by ps). */
  contextReserved?: number;
  capabilities: Capabilities;
  /** Tokens so far, updated while a generation streams. */
  usage: { prompt_tokens: number; completion_tokens: number };
  /** Its model request in progress, if any (live-usage.ts). */
  generation?: GenerationInfo | null;
}

/** A model request in progress: waiting (queued, or the prompt being read) or generating. */
export interface GenerationInfo {
  model: string;
  phase: 'waiting' | 'generating';
  /** Tokens generated in this request so far. */
  tokens: number;
  /** Decode speed of this request so far (0 until the second token). */
  tokensPerSecond: number;
  startedAt: number;
}

export type KernelEvent =
  | { type: 'proc'; proc: ProcInfo }
  | { type: 'output'; pid: number; fd: 1 | 2; data: string }
  /** hosts: tabs that can host agents; agents: processes not exited (for the beforeunload question). */
  | { type: 'tabs'; count: number; hosts?: number; agents?: number }
  /** An agent asks the user for more capabilities; a tab shows it and answers with permission.answer. */
  | { type: 'ask'; ask: PermissionAsk }
  | { type: 'ask.done'; id: number; answer: 'once' | 'always' | 'deny' }
  /** A model is loading (bytes downloaded so far). */
  | {
      type: 'model.progress';
      model: string;
      loaded: number;
      total: number;
      text?: string;
      phase?: 'download' | 'gpu';
    }
  /** The default model for new agents changed (the taskbar shows it). */
  | { type: 'model.default'; model: string; label: string | null }
  /** A model finished loading (or was unloaded). */
  | { type: 'model.loaded'; model: string; loaded: boolean }
  /** An agent called a tool (for the chat app's cards). */
  | { type: 'tool'; pid: number; name: string; args: unknown; ok: boolean; result: unknown }
  /** The embedding allowlist changed: embedded copies of the OS re-check their page's origin. */
  | { type: 'embed.origins'; origins: string[] };

export type InboundFrame =
  | CallFrame
  | CancelFrame
  | HelloFrame
  | ByeFrame
  | BeatFrame
  | HostReport
  | EngineDied
  | HostCrashed
  | HostEnable;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Classifies an untrusted inbound frame. Returns null for anything malformed;
 * the kernel answers those with EINVAL when it can find an id, else drops them.
 */
export function parseInbound(data: unknown): InboundFrame | null {
  if (!isObj(data)) return null;
  switch (data.t) {
    case 'call':
      return isId(data.id) && typeof data.name === 'string' ? (data as unknown as CallFrame) : null;
    case 'cancel':
      return isId(data.id) ? (data as unknown as CancelFrame) : null;
    case 'hello':
      return typeof data.tabId === 'string' &&
        data.tabId.length <= 100 &&
        (data.lock === null || typeof data.lock === 'string') &&
        typeof data.host === 'boolean' &&
        (data.embed === undefined || typeof data.embed === 'boolean') &&
        typeof data.version === 'number'
        ? (data as unknown as HelloFrame)
        : null;
    case 'bye':
    case 'beat':
      return data as unknown as ByeFrame | BeatFrame;
    case 'host.engine.died':
      return typeof data.key === 'string' && typeof data.reason === 'string'
        ? (data as unknown as EngineDied)
        : null;
    case 'host.enable':
      return data as unknown as HostEnable;
    case 'host.crashed':
      return Array.isArray(data.lost) &&
        data.lost.length <= 10_000 &&
        data.lost.every((l: unknown) => isObj(l) && isId(l.pid) && isId(l.incarnation))
        ? (data as unknown as HostCrashed)
        : null;
    case 'host.died':
      return isId(data.pid) && isId(data.incarnation) && typeof data.reason === 'string'
        ? (data as unknown as HostReport)
        : null;
    default:
      return null;
  }
}

/** The id of a malformed call, if one can be recovered, so the caller still gets its EINVAL. */
export function recoverId(data: unknown): number | null {
  return isObj(data) && isId(data.id) ? data.id : null;
}

// ── What syscalls return, as tabs, agents and embedding pages see it ──

/** Exit codes as in Unix shells: 128 + the signal. */
export const EXIT_TERM = 143;
export const EXIT_KILL = 137;
export const EXIT_HOST_LOST = 129;

export interface Exit {
  pid: number;
  exitCode: number;
  exitReason: string | null;
}

/** A bus message, stamped by the kernel with its true sender. */
export interface Envelope {
  /** Kernel-assigned, increasing: per-sender order is delivery order. */
  seq: number;
  from: number;
  to: number;
  topic: string | null;
  body: unknown;
  /** Set on requests; the receiver answers with reply(correlation, body). */
  correlation: string | null;
  /** Set on replies (delivered to the request, never to recv). */
  inReplyTo: string | null;
  t: number;
}

export type Answer = 'once' | 'always' | 'deny';

/** An agent's request for more capabilities, shown to the user. */
export interface PermissionAsk {
  id: number;
  pid: number;
  program: string;
  task: string;
  permissions: Partial<Capabilities>;
  /** In the agent's own words, not the OS's: shown quoted and attributed. */
  reason: string;
  /** How many times the agent asked the same again while this one waited (coalesced). */
  repeats?: number;
}

export interface LoadProgress {
  model: string;
  /** Bytes so far and in all (0 when unknown). */
  loaded: number;
  total: number;
  text?: string;
  /** What is happening: downloading the weights, or putting them on the GPU (WebLLM reports both). */
  phase?: 'download' | 'gpu';
}

/** A model of the pool's catalogue (models.list). */
export interface CatalogEntry extends ModelInfo {
  tags: string[];
  loaded: boolean;
  lastUsed: number | null;
  reservedTokens: number;
  queued: number;
}

/** A long-term memory record. */
export interface Memory {
  id: number;
  namespace: string;
  text: string;
  metadata: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

export interface RecallHit extends Memory {
  score: number;
  vectorScore: number;
  keywordScore: number;
}

/** How `spawn` starts a program (the third argument of the syscall). */
export interface SpawnOptions {
  program?: string;
  source?: string;
  priority?: number;
  args?: unknown;
  /** 'on-host-loss' (the default): it moves to another tab when its host goes; 'never' opts out (exit 129). */
  restart?: 'never' | 'on-host-loss';
}
