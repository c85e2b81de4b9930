/**
 * Where the kernel applies the limits of limits.ts: at spawn (processes per
 * tree, spawns per second), at every frame from an agent's port (calls in
 * flight, call frames per second, and a flood stop), at long-term-memory writes
 * (bytes per write and in total) and at output. Each refusal is a typed error
 * and an audit record (throttled: one per second per process and limit).
 */

import { SysError } from '../abi/errors';
import type { EpisodeKind } from '../memory/episodic';
import {
  AuditThrottle,
  effective,
  fmtBytes,
  type Limits,
  limitsOf,
  PROBE_AFTER,
  TaskClock,
  TokenBucket,
} from './limits';
import type { Process, ProcessTable } from './process';

export interface LimiterHooks {
  procs: ProcessTable;
  log(pid: number, kind: EpisodeKind, text: string, data?: unknown): void;
}

/** Output bytes per second an agent's output is shown live in the tabs (a burst of 4 s' worth). */
export const LIVE_OUTPUT_BYTES_PER_SEC = 1_048_576;

export type FrameVerdict = { ok: true } | { ok: false; error: SysError | null; flood: boolean };

export class Limiter {
  readonly audit: AuditThrottle;
  private readonly clock = new TaskClock();

  constructor(private readonly k: LimiterHooks) {
    this.audit = new AuditThrottle((pid, text, data) => k.log(pid, 'quota', text, data));
  }

  /** Refuses (and records) past a limit. */
  refuse(p: { pid: number }, limit: keyof Limits | string, code: SysError['code'], text: string): never {
    this.audit.record(p.pid, limit, `refused: ${text}`);
    throw new SysError(code, text);
  }

  /** Before an agent spawns: every tree it belongs to has room, and no spawn rate on the way is spent. */
  checkSpawn(spawner: Process): void {
    const chain = [spawner, ...spawner.lineage.map((pid) => this.k.procs.find(pid))].filter(
      (a): a is Process => !!a?.alive,
    );
    const all = this.k.procs.all();
    for (const a of chain) {
      const cap = effective(limitsOf(a.info.capabilities), 'procs');
      let n = 0;
      for (const q of all) if (q.alive && (q === a || q.lineage.includes(a.pid))) n++;
      if (n + 1 > cap)
        this.refuse(
          spawner,
          'procs',
          'EAGAIN',
          `the process tree of ${a.pid} has ${n} processes, its limit (limits.procs ${cap})`,
        );
    }
    for (const a of chain) {
      const rate = effective(limitsOf(a.info.capabilities), 'spawnsPerSec');
      if (!a.spawnBucket || a.spawnBucket.rate !== rate) a.spawnBucket = new TokenBucket(rate, 2 * rate);
      if (!a.spawnBucket.take())
        this.refuse(
          spawner,
          'spawnsPerSec',
          'EAGAIN',
          `spawning faster than ${rate} per second in the tree of ${a.pid} (limits.spawnsPerSec); try again shortly`,
        );
    }
  }

  /**
   * Every frame an agent sends passes here first. A call past its limits is
   * answered EAGAIN; one that keeps coming after many refusals is a flood.
   */
  admitFrame(p: Process, isCall: boolean): FrameVerdict {
    const l = limitsOf(p.info.capabilities);
    const g = p.gate;
    const now = performance.now();
    if (now - g.frameWindowStart > 1000) {
      g.frameWindowStart = now;
      g.framesInWindow = 0;
      g.nextProbe = PROBE_AFTER;
    }
    if (++g.framesInWindow > g.nextProbe && !g.probing && p.port) {
      g.probing = true;
      g.nextProbe = g.framesInWindow + PROBE_AFTER;
      try {
        p.port.postMessage({ t: 'ping' });
      } catch {
        /* a closed port: it is going away */
      }
    }
    const v = g.admit(l, this.clock.now(), now);
    if (v === 'ok') {
      if (isCall) p.gate.inFlight++;
      return { ok: true };
    }
    if (v === 'flood') return this.flood(p, l);
    const text =
      v === 'busy'
        ? `${effective(l, 'callsInFlight')} calls already in flight (limits.callsInFlight): await some first`
        : `more than ${effective(l, 'callsPerSec')} pipelined calls per second (limits.callsPerSec): await answers before sending more`;
    this.audit.record(p.pid, v === 'busy' ? 'callsInFlight' : 'callsPerSec', `refused: ${text}`);
    return { ok: false, error: isCall ? new SysError('EAGAIN', text) : null, flood: false };
  }

  /** The agent answered a ping: its event loop turns, so it reads its answers. A flood of beats is a flood too. */
  beat(p: Process): FrameVerdict {
    p.gate.probing = false;
    const l = limitsOf(p.info.capabilities);
    if (p.gate.count(effective(l, 'callsInFlight'), this.clock.now()).flood) return this.flood(p, l);
    return { ok: true };
  }

  /** The audit record of a flood; the caller ends the agent, and closing its port drops its backlog. */
  private flood(p: Process, l: Limits): FrameVerdict {
    const g = p.gate;
    const cap = effective(l, 'callsInFlight');
    const deep = g.epochFrames > cap;
    const text = deep
      ? `killed: flooding the kernel (${g.epochFrames} frames sent without reading one answer; limits.callsInFlight ${cap})`
      : `killed: flooding the kernel (${g.refused} frames refused; it ignores EAGAIN)`;
    this.k.log(p.pid, 'quota', text, {
      limit: deep ? 'callsInFlight' : 'callsPerSec',
      refused: g.refused,
      frames: g.epochFrames,
    });
    return { ok: false, error: null, flood: true };
  }

  /** A call admitted by admitFrame was answered. */
  callDone(p: Process): void {
    if (p.gate.inFlight > 0) p.gate.inFlight--;
  }

  /**
   * Charges a long-term-memory write of `records` records and `bytes` bytes against
   * the agent's caps; returns a refund for a write that failed.
   */
  chargeMemory(
    p: Process,
    caps: { memoryWrites: number | null; limits?: Partial<Limits> },
    records: number,
    bytes: number,
  ): () => void {
    const l = limitsOf(caps);
    const perWrite = effective(l, 'memoryWriteBytes');
    if (bytes > perWrite)
      this.refuse(
        p,
        'memoryWriteBytes',
        'E2BIG',
        `a memory write of ${fmtBytes(bytes)} is over ${fmtBytes(perWrite)} (limits.memoryWriteBytes); write less at once`,
      );
    // Records and bytes count for its spawners' quotas too (quota-account.ts): children cannot multiply them.
    const fail = (limit: string) => (text: string) => this.refuse(p, limit, 'EDQUOT', text);
    const undoBytes = p.account.charge('memoryBytes', bytes, fail('memoryBytes'));
    let undoWrites: () => void;
    try {
      undoWrites = p.account.charge('memoryWrites', records, fail('memoryWrites'));
    } catch (e) {
      undoBytes();
      throw e;
    }
    return () => {
      undoBytes();
      undoWrites();
    };
  }

  private readonly live = new Map<number, { bucket: TokenBucket; dropped: number; noted: number }>();

  /**
   * What of an agent's output goes to the tabs live: at most the kept tail of one write, and at
   * most LIVE_OUTPUT_BYTES_PER_SEC (the rest is kept, not shown live; a note says so, once a second).
   * A sequential loop of 1 MB writes would otherwise have the kernel clone megabytes into every tab.
   */
  liveOutput(p: Process, data: string, now = performance.now()): string | null {
    let s = this.live.get(p.pid);
    if (!s) {
      s = {
        bucket: new TokenBucket(LIVE_OUTPUT_BYTES_PER_SEC, 4 * LIVE_OUTPUT_BYTES_PER_SEC, now),
        dropped: 0,
        noted: -1e9,
      };
      this.live.set(p.pid, s);
    }
    const keep = Math.floor(this.outputKeep(p) / 2);
    const shown = data.length > keep ? data.slice(-keep) : data;
    if (s.bucket.take(2 * shown.length, now)) {
      if (!s.dropped) return shown;
      const note = `\n[${fmtBytes(s.dropped)} of output not shown live (over ${fmtBytes(LIVE_OUTPUT_BYTES_PER_SEC)}/s); the output call has the tail]\n`;
      s.dropped = 0;
      return note + shown;
    }
    s.dropped += 2 * data.length;
    if (now - s.noted < 1000) return null;
    s.noted = now;
    this.audit.record(
      p.pid,
      'liveOutput',
      `output past ${fmtBytes(LIVE_OUTPUT_BYTES_PER_SEC)}/s not shown live`,
    );
    return `\n[output past ${fmtBytes(LIVE_OUTPUT_BYTES_PER_SEC)}/s is not shown live; the output call has the tail]\n`;
  }

  /** How many bytes of output the kernel keeps for `p`. */
  outputKeep(p: Process): number {
    return effective(limitsOf(p.info.capabilities), 'outputBytes');
  }

  /** How many bytes may wait in `p`'s mailbox. */
  mailboxBytes(p: Process | undefined): number {
    return p ? effective(limitsOf(p.info.capabilities), 'mailboxBytes') : Number.POSITIVE_INFINITY;
  }

  exited(pid: number): void {
    this.audit.forget(pid);
    this.live.delete(pid);
  }
}
