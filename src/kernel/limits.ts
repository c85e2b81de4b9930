/**
 * Resource limits: how much of the kernel one agent may consume. Each limit is
 * part of the agent's capabilities (`capabilities.limits`), with a default; a
 * child gets at most its parent's, the user may grant more. Every refusal is a
 * typed error (EAGAIN for rates and things that drain, EDQUOT for lifetime
 * totals, E2BIG for a single oversized thing) and an audit record in the
 * episodic log — at most one record per second per process and limit, with a
 * count, so a flood of refusals cannot flood the log too.
 */

import type { Limits } from '../abi/capabilities';
import { SysError } from '../abi/errors';
import { type Check, int, nullable, obj, opt } from './check';

export type { Limits };

export const LIMIT_NAMES = [
  'procs',
  'spawnsPerSec',
  'callsInFlight',
  'callsPerSec',
  'mailboxBytes',
  'memoryWriteBytes',
  'memoryBytes',
  'outputBytes',
] as const satisfies readonly (keyof Limits)[];

const MiB = 1_048_576;

/** What an agent gets unless its spawner or the user says otherwise. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  procs: 64,
  spawnsPerSec: 20,
  callsInFlight: 256,
  callsPerSec: 10_000,
  mailboxBytes: 32 * MiB,
  memoryWriteBytes: 4 * MiB,
  memoryBytes: 256 * MiB,
  outputBytes: 128 * 1024,
});

/** The user has no limits of its own: what it grants is bounded only by what it chooses. */
export const NO_LIMITS: Readonly<Limits> = Object.freeze({
  procs: null,
  spawnsPerSec: null,
  callsInFlight: null,
  callsPerSec: null,
  mailboxBytes: null,
  memoryWriteBytes: null,
  memoryBytes: null,
  outputBytes: null,
});

/** Hard ceilings that hold even for what the user grants: the kernel's own safety. */
export const CEILING: Readonly<Record<keyof Limits, number>> = Object.freeze({
  procs: 10_000,
  spawnsPerSec: 10_000,
  callsInFlight: 100_000,
  callsPerSec: 10_000_000,
  mailboxBytes: 4096 * MiB,
  memoryWriteBytes: 256 * MiB,
  memoryBytes: 1_000_000 * MiB,
  outputBytes: 64 * MiB,
});

export const checkLimits: Check<Partial<Limits>> = obj(
  Object.fromEntries(LIMIT_NAMES.map((n) => [n, opt(nullable(int({ min: 0 })))])) as Record<
    keyof Limits,
    Check<number | null | undefined>
  >,
) as Check<Partial<Limits>>;

/** A process's limits: what its capabilities name, the defaults for the rest. */
export function limitsOf(caps: { limits?: Partial<Limits> | undefined }): Limits {
  return { ...DEFAULT_LIMITS, ...(caps.limits ?? {}) };
}

/** The limit that applies, never past the kernel's ceiling (null: only the ceiling). */
export function effective(l: Limits, name: keyof Limits): number {
  const v = l[name];
  return v === null ? CEILING[name] : Math.min(v, CEILING[name]);
}

const min = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
const max = (a: number | null, b: number | null) => (a === null || b === null ? null : Math.max(a, b));

/** Per limit, the smaller (a child under its parent; a clamp). Missing means the default. */
export function meetLimits(a: Partial<Limits> | undefined, b: Partial<Limits> | undefined): Limits {
  const x = { ...DEFAULT_LIMITS, ...(a ?? {}) };
  const y = { ...DEFAULT_LIMITS, ...(b ?? {}) };
  return Object.fromEntries(LIMIT_NAMES.map((n) => [n, min(x[n], y[n])])) as unknown as Limits;
}

/** Per limit, the larger (a grant). */
export function joinLimits(a: Partial<Limits> | undefined, more: Partial<Limits> | undefined): Limits {
  const x = { ...DEFAULT_LIMITS, ...(a ?? {}) };
  const out = { ...x };
  for (const n of LIMIT_NAMES) if (more && n in more) out[n] = max(x[n], more[n] ?? null);
  return out;
}

/** Per limit named in `less`, lowered to it (a revoke). */
export function lowerLimits(a: Partial<Limits> | undefined, less: Partial<Limits> | undefined): Limits {
  const out = { ...DEFAULT_LIMITS, ...(a ?? {}) };
  for (const n of LIMIT_NAMES) {
    const v = less?.[n];
    if (v !== undefined && v !== null) out[n] = min(out[n], v);
  }
  return out;
}

/** The limits in `a` past those in `b` (names, for an EPERM on spawn). */
export function limitsExceeding(a: Partial<Limits> | undefined, b: Partial<Limits> | undefined): string[] {
  const x = { ...DEFAULT_LIMITS, ...(a ?? {}) };
  const y = { ...DEFAULT_LIMITS, ...(b ?? {}) };
  return LIMIT_NAMES.filter((n) => y[n] !== null && (x[n] === null || x[n]! > y[n]!)).map(
    (n) => `limits.${n}`,
  );
}

/** A token bucket: `rate` per second, holding at most `burst`. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    public rate: number,
    public burst: number,
    now = performance.now(),
  ) {
    this.tokens = burst;
    this.last = now;
  }

  take(n = 1, now = performance.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}

/**
 * The gate every call frame of an agent passes before it is dispatched: at most
 * `callsInFlight` in flight, at most `callsPerSec`. Refusals are counted; an
 * agent that keeps sending after `floodAfter` refusals within a second is
 * flooding (it ignores EAGAIN), and the kernel stops it and drops its backlog.
 *
 * In flight is counted two ways, the larger wins: calls the kernel has not answered, and
 * frames of one kernel task epoch (TaskClock) — all sent before any answer of that epoch
 * could be read, so from the agent's side all in flight at once. Chromium queues one task
 * per message in arrival order whatever port it came on, so every frame an agent has
 * pipelined is read before a frame the user sends after it: the kernel cannot read ports
 * fairly once a backlog is queued, only refuse it cheaply and stop it early. A port with
 * more than `callsInFlight + FLOOD_GRACE` frames in one epoch is a flood (the SDK never
 * sends past the cap: it queues), and closing it is the only way to cancel its backlog.
 */
export class CallGate {
  inFlight = 0;
  private bucket: TokenBucket | null = null;
  private windowStart = 0;
  private refusedInWindow = 0;
  /** All refusals, for the audit record and stats. */
  refused = 0;

  constructor(readonly floodAfter = 2_000) {}

  /** The kernel task (TaskClock epoch) of this agent's last frame: a second frame in it was pipelined. */
  lastEpoch = -1;
  /** Frames (of any kind) this agent sent in `lastEpoch`. */
  epochFrames = 0;

  /**
   * Counts one frame of any kind (calls, cancels, beats) in its epoch; true when the agent is
   * past `cap + FLOOD_GRACE` frames sent without reading a single answer: a flood.
   */
  count(cap: number, epoch: number): { pipelined: boolean; depth: number; flood: boolean } {
    const pipelined = epoch === this.lastEpoch;
    if (!pipelined) {
      this.lastEpoch = epoch;
      this.epochFrames = 0;
    }
    const depth = ++this.epochFrames;
    return { pipelined, depth, flood: depth > cap + FLOOD_GRACE };
  }

  /**
   * A ping sent to probe the agent's event loop (past `PROBE_AFTER` frames in a second) and not
   * yet answered: an agent reads its port in order, so what it sends before the answer was sent
   * before it read the ping — a sync loop posting frames answers none, and every frame counts.
   */
  probing = false;
  framesInWindow = 0;
  frameWindowStart = 0;
  /** The frame count in this window at which the next probe goes out (one per PROBE_AFTER frames). */
  nextProbe = 0;

  admit(l: Limits, epoch: number, now = performance.now()): 'ok' | 'busy' | 'rate' | 'flood' {
    const inFlight = effective(l, 'callsInFlight');
    const rate = effective(l, 'callsPerSec');
    if (!this.bucket || this.bucket.rate !== rate)
      this.bucket = new TokenBucket(rate, Math.max(64, rate / 10), now);
    const c = this.count(inFlight, epoch);
    if (c.flood) {
      this.refused++;
      return 'flood';
    }
    const pipelined = c.pipelined || this.probing;
    const why =
      this.inFlight >= inFlight || c.depth > inFlight
        ? 'busy'
        : pipelined && !this.bucket.take(1, now)
          ? 'rate'
          : null;
    if (!why) return 'ok';
    this.refused++;
    if (now - this.windowStart > 1000) {
      this.windowStart = now;
      this.refusedInWindow = 0;
    }
    return ++this.refusedInWindow > this.floodAfter ? 'flood' : why;
  }
}

/**
 * Frames past `callsInFlight` one epoch may carry before the agent counts as flooding: room for
 * its beats and cancels, and for a few calls it sent past the cap before it could read an EAGAIN.
 */
export const FLOOD_GRACE = 64;

/** Frames per second past which the kernel probes an agent's event loop with a ping. */
export const PROBE_AFTER = 1000;

/**
 * Counts the kernel's tasks: the epoch changes once the current task (and the batch of
 * port messages Chromium dispatches in it) is over. Two frames of one agent in one epoch
 * mean the second was sent before the answer to the first could have been read.
 */
export class TaskClock {
  epoch = 0;
  private pending = false;
  // A message to itself is a task queued behind the port messages already waiting (no timer clamping).
  private readonly ch = typeof MessageChannel === 'function' ? new MessageChannel() : null;

  constructor() {
    if (!this.ch) return;
    this.ch.port1.onmessage = () => this.tick();
    (this.ch.port1 as { unref?: () => void }).unref?.(); // never keep a Node test process alive
  }

  private tick(): void {
    this.pending = false;
    this.epoch++;
  }

  /** The current epoch; a new one starts with the next task. */
  now(): number {
    if (!this.pending) {
      this.pending = true;
      if (this.ch) this.ch.port2.postMessage(null);
      else setTimeout(() => this.tick(), 0);
    }
    return this.epoch;
  }
}

/** At most one audit record per second per (pid, limit); the rest are counted into the next one. */
export class AuditThrottle {
  private readonly last = new Map<string, { t: number; skipped: number }>();

  constructor(private readonly write: (pid: number, text: string, data: unknown) => void) {}

  record(pid: number, limit: string, text: string, now = performance.now()): void {
    const key = `${pid}:${limit}`;
    const s = this.last.get(key);
    if (s && now - s.t < 1000) {
      s.skipped++;
      return;
    }
    const skipped = s?.skipped ?? 0;
    this.last.set(key, { t: now, skipped: 0 });
    if (this.last.size > 10_000) this.last.clear(); // bounded: old keys matter only for a second
    this.write(pid, skipped ? `${text} (and ${skipped} more refusals since the last record)` : text, {
      limit,
      skipped,
    });
  }

  forget(pid: number): void {
    for (const k of this.last.keys()) if (k.startsWith(`${pid}:`)) this.last.delete(k);
  }
}

/**
 * Bytes a value costs to hold and to clone: strings by their UTF-16 length × 2,
 * binary data by its whole buffer — structured clone copies the buffer under a
 * view, not the view — so a 1-byte view of 256 MiB counts 256 MiB.
 */
export function byteSize(v: unknown, depth = 0): number {
  if (depth > 64) return 0;
  if (v === null || v === undefined || typeof v === 'boolean' || typeof v === 'number') return 8;
  if (typeof v === 'string') return 2 * v.length;
  if (v instanceof ArrayBuffer) return v.byteLength;
  if (ArrayBuffer.isView(v)) return v.buffer.byteLength;
  if (Array.isArray(v)) {
    let n = 8;
    for (const x of v) n += byteSize(x, depth + 1);
    return n;
  }
  if (typeof v === 'object') {
    let n = 8;
    // for…in over own keys: no array of entries allocated per message (bus hot path).
    for (const k in v)
      if (Object.hasOwn(v, k)) n += 2 * k.length + byteSize((v as Record<string, unknown>)[k], depth + 1);
    return n;
  }
  return 8;
}

export const fmtBytes = (n: number): string =>
  n >= MiB
    ? `${(n / MiB).toFixed(n % MiB ? 1 : 0)} MiB`
    : n >= 1024
      ? `${Math.round(n / 1024)} KiB`
      : `${n} B`;

/** A refusal: the error to throw. */
export const refuse = (code: 'EAGAIN' | 'EDQUOT' | 'E2BIG', text: string): SysError =>
  new SysError(code, text);
