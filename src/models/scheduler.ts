/**
 * The scheduler: who goes next. Priorities follow Unix nice values: -20 is the
 * most urgent, 19 the least, 0 the default. Waiting raises a job's effective
 * priority (aging) so low-priority work is never starved.
 */

import { SysError } from '../abi/errors';
import {
  type ChatCompletionChunk,
  type ChatEngine,
  type ChatRequest,
  chunkMaker,
  isFatalEngineError,
  type Usage,
} from './engine';

export const PRIORITY_MIN = -20;
export const PRIORITY_MAX = 19;
export const PRIORITY_DEFAULT = 0;

export interface Schedulable {
  priority: number;
  /** When the job entered the queue (ms). */
  enqueuedAt: number;
  /** Tie-breaker: lower first (FIFO among equals). */
  seq: number;
}

/** One priority step gained per `agingMs` spent waiting. */
export function effectivePriority(job: Schedulable, now: number, agingMs: number): number {
  return job.priority - Math.floor((now - job.enqueuedAt) / agingMs);
}

/** A small run queue: pick the most urgent job, considering age. */
export class RunQueue<T extends Schedulable> {
  private jobs: T[] = [];
  constructor(private readonly agingMs = 1000) {}

  get size(): number {
    return this.jobs.length;
  }

  push(job: T): void {
    this.jobs.push(job);
  }

  remove(pred: (job: T) => boolean): T[] {
    const out = this.jobs.filter(pred);
    if (out.length) this.jobs = this.jobs.filter((j) => !pred(j));
    return out;
  }

  /** Removes and returns the most urgent job, or undefined. */
  pop(now = performance.now()): T | undefined {
    let best = -1;
    let bestKey = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.jobs.length; i++) {
      const j = this.jobs[i]!;
      const key = effectivePriority(j, now, this.agingMs) * 1e12 + j.seq;
      if (key < bestKey) {
        bestKey = key;
        best = i;
      }
    }
    if (best < 0) return undefined;
    return this.jobs.splice(best, 1)[0];
  }

  list(): readonly T[] {
    return this.jobs;
  }
}

// ───────────────────────────── inference ─────────────────────────────

export type Policy = 'fifo' | 'round-robin' | 'priority';
export const POLICIES: readonly Policy[] = ['fifo', 'round-robin', 'priority'];

export interface SchedulerOptions {
  policy: Policy;
  /** Round-robin: tokens a job may generate before it yields to a waiting one. */
  quantumTokens: number;
  /** Priority: one step of urgency gained per this many ms of waiting. */
  agingMs: number;
  /** Preempt only if the urgent job would otherwise wait this many times longer than the switch costs. */
  switchCostFactor: number;
}

export const DEFAULT_SCHEDULER: SchedulerOptions = {
  policy: 'priority',
  quantumTokens: 32,
  agingMs: 2000,
  switchCostFactor: 1,
};

/** One agent's inference request, from submission to its last token. */
export interface InferenceJob extends Schedulable {
  pid: number;
  /** Read live, so renicing a running process takes effect at the next decision. */
  livePriority(): number;
  req: ChatRequest;
  emit(chunk: ChatCompletionChunk): void;
  /** The caller gave up (cancel, exit). */
  signal: AbortSignal;
  /** True while the process is suspended: the job is parked and not picked. */
  parked(): boolean;
}

interface Running {
  job: InferenceJob;
  slice: AbortController;
  sliceTokens: number;
  startedAt: number;
  reason: 'preempt' | 'park' | null;
}

interface JobState {
  job: InferenceJob;
  generated: string;
  completionTokens: number;
  promptTokens: number | null;
  /** The engine's own figures of the latest slice. */
  extra: Usage['extra'];
  firstTokenAt: number | null;
  preemptions: number;
  resolve(u: Usage): void;
  reject(e: unknown): void;
}

export interface SchedulerStats {
  policy: Policy;
  queued: number;
  running: number | null;
  preemptions: number;
  /** Measured engine speeds (EWMA), used to weigh a switch against a wait. */
  prefillMsPerToken: number;
  decodeMsPerToken: number;
}

/**
 * Serves one loaded model: one generation at a time (as one GPU serves one
 * batch), chosen by policy. Preemption happens at a chunk boundary: the slice
 * is aborted and the job re-queued with what it generated as its continuation.
 */
export class InferenceScheduler {
  private readonly waiting = new Map<InferenceJob, JobState>();
  private running: Running | null = null;
  private preemptions = 0;
  private seq = 0;
  private prefillMs = 1;
  private decodeMs = 10;
  /** Told when the engine failed for good (the pool drops the model). */
  onFatal: ((e: unknown) => void) | null = null;

  constructor(
    private readonly engine: ChatEngine,
    public opts: SchedulerOptions = { ...DEFAULT_SCHEDULER },
  ) {}

  get busy(): boolean {
    return this.running !== null || this.waiting.size > 0;
  }

  /**
   * Expected ms until a new job of default priority would start (for routing): what the jobs
   * ahead still have to decode, plus the prefill of those that have not started — on a long
   * conversation prefill, not decode, is most of a turn's cost.
   */
  expectedWaitMs(): number {
    let decode = 0;
    let prefill = 0;
    for (const s of [...this.waiting.values(), ...(this.running ? [this.stateOf(this.running.job)] : [])]) {
      if (!s) continue;
      decode += Math.max(1, (s.job.req.max_tokens ?? 64) - s.completionTokens);
      if (s.firstTokenAt === null) prefill += s.promptTokens ?? this.promptEstimate(s);
    }
    return decode * this.decodeMs + prefill * this.prefillMs;
  }

  /** A job's prompt tokens before the engine has said (counted once, then kept). */
  private promptEstimate(s: JobState): number {
    let n = this.promptGuesses.get(s);
    if (n === undefined) {
      n = s.job.req.messages.reduce((t, m) => t + this.engine.countTokens(m.content ?? ''), 0);
      this.promptGuesses.set(s, n);
    }
    return n;
  }

  private readonly promptGuesses = new WeakMap<JobState, number>();

  stats(): SchedulerStats {
    return {
      policy: this.opts.policy,
      queued: this.waiting.size - (this.running ? 1 : 0),
      running: this.running?.job.pid ?? null,
      preemptions: this.preemptions,
      prefillMsPerToken: this.prefillMs,
      decodeMsPerToken: this.decodeMs,
    };
  }

  submit(job: InferenceJob): Promise<Usage> {
    return new Promise<Usage>((resolve, reject) => {
      const state: JobState = {
        job,
        generated: '',
        completionTokens: 0,
        promptTokens: null,
        extra: undefined,
        firstTokenAt: null,
        preemptions: 0,
        resolve,
        reject,
      };
      job.seq = this.seq++;
      this.waiting.set(job, state);
      job.signal.addEventListener('abort', () => this.cancel(job), { once: true });
      this.pump();
    });
  }

  /** Called when a process is suspended, resumed or reniced: re-decide now. */
  poke(): void {
    const r = this.running;
    if (r && !r.reason && r.job.parked() && this.canResume()) {
      r.reason = 'park';
      r.slice.abort();
    }
    this.pump();
  }

  /**
   * Whether a generation stopped now can be resumed later. An engine that cannot continue
   * (WebLLM drops `continuation`) would start over and garble the answer: a suspended
   * process's generation then runs to its end instead of being parked mid-answer.
   */
  private canResume(): boolean {
    return this.engine.info.supportsContinuation === true;
  }

  private stateOf(job: InferenceJob): JobState | undefined {
    return this.waiting.get(job);
  }

  private cancel(job: InferenceJob): void {
    if (this.running?.job === job) {
      this.running.slice.abort();
      return; // the slice loop settles it
    }
    const s = this.waiting.get(job);
    if (!s) return;
    this.waiting.delete(job);
    s.reject(new SysError('ECANCELED', 'inference canceled'));
  }

  private key(job: InferenceJob, now: number): number {
    switch (this.opts.policy) {
      case 'fifo':
        return job.seq;
      case 'round-robin':
        return job.enqueuedAt * 1e6 + job.seq;
      case 'priority':
        return (
          effectivePriority(
            { priority: job.livePriority(), enqueuedAt: job.enqueuedAt, seq: job.seq },
            now,
            this.opts.agingMs,
          ) *
            1e12 +
          job.seq
        );
    }
  }

  private pick(now: number): InferenceJob | null {
    let best: InferenceJob | null = null;
    let bestKey = Number.POSITIVE_INFINITY;
    for (const job of this.waiting.keys()) {
      if (job === this.running?.job || job.parked()) continue;
      const k = this.key(job, now);
      if (k < bestKey) {
        bestKey = k;
        best = job;
      }
    }
    return best;
  }

  private pump(): void {
    if (this.running) return;
    const now = performance.now();
    const job = this.pick(now);
    if (!job) return;
    void this.runSlice(job);
  }

  /** Whether a waiting job should take the engine from the running one, now. */
  private shouldPreempt(r: Running, now: number): boolean {
    if (!this.engine.info.supportsContinuation) return false;
    if (!this.pick(now)) return false;
    if (this.opts.policy === 'round-robin') return r.sliceTokens >= this.opts.quantumTokens;
    if (this.opts.policy !== 'priority') return false;
    // Aging orders the queue (no starvation) but never preempts: only a truly more urgent job takes the
    // engine, or equal-priority jobs would churn, each switch paying a re-prefill.
    const mine = r.job.livePriority();
    let theirs = Number.POSITIVE_INFINITY;
    for (const j of this.waiting.keys())
      if (j !== r.job && !j.parked()) theirs = Math.min(theirs, j.livePriority());
    if (theirs >= mine) return false;
    // Weigh the switch: re-prefilling the preempted job against the urgent job's wait.
    const s = this.waiting.get(r.job)!;
    const remaining = Math.max(1, (r.job.req.max_tokens ?? 256) - s.completionTokens);
    const waitMs = remaining * this.decodeMs;
    const switchMs = ((s.promptTokens ?? 0) + s.completionTokens) * this.prefillMs;
    return waitMs > switchMs * this.opts.switchCostFactor;
  }

  private async runSlice(job: InferenceJob): Promise<void> {
    const s = this.waiting.get(job)!;
    const r: Running = {
      job,
      slice: new AbortController(),
      sliceTokens: 0,
      startedAt: performance.now(),
      reason: null,
    };
    this.running = r;
    const req: ChatRequest = { ...job.req };
    if (s.generated) req.continuation = s.generated;
    if (job.req.max_tokens !== undefined)
      req.max_tokens = Math.max(1, job.req.max_tokens - s.completionTokens);
    const t0 = performance.now();
    let firstAt = 0;
    let lastAt = 0;
    let usage: Usage | null = null;
    let finish: ChatCompletionChunk['choices'][0]['finish_reason'] = null;
    try {
      for await (const chunk of this.engine.stream(req, r.slice.signal)) {
        const choice = chunk.choices[0];
        if (chunk.usage) usage = chunk.usage;
        if (choice?.finish_reason) {
          finish = choice.finish_reason;
          continue; // the scheduler sends the job's own final chunk
        }
        const now = performance.now();
        if (!firstAt) firstAt = now;
        lastAt = now;
        if (choice?.delta.content) s.generated += choice.delta.content;
        if (choice?.delta.content || choice?.delta.tool_calls) {
          s.completionTokens++;
          r.sliceTokens++;
          s.firstTokenAt ??= now;
        }
        job.emit(chunk);
        if (!r.reason && job.parked() && this.canResume()) r.reason = 'park';
        if (!r.reason && this.shouldPreempt(r, now)) r.reason = 'preempt';
        if (r.reason) r.slice.abort();
      }
    } catch (e) {
      this.running = null;
      this.waiting.delete(job);
      s.reject(e);
      if (this.engine.alive === false || isFatalEngineError(e)) {
        // The engine is beyond use: everyone queued on it gets the error now, not one by one.
        for (const other of this.waiting.values()) other.reject(e);
        this.waiting.clear();
        this.onFatal?.(e);
        return;
      }
      this.pump();
      return;
    }
    // Chunks may carry several tokens (word-wise streamers, batched servers): the engine's own count wins.
    if (usage && usage.completion_tokens !== r.sliceTokens) {
      s.completionTokens += usage.completion_tokens - r.sliceTokens;
      r.sliceTokens = usage.completion_tokens;
    }
    this.learn(usage, t0, firstAt, lastAt, r.sliceTokens);
    if (usage?.extra) s.extra = usage.extra;
    if (s.promptTokens === null && usage)
      s.promptTokens =
        usage.prompt_tokens - (req.continuation ? this.engine.countTokens(req.continuation) : 0);
    this.running = null;
    if (job.signal.aborted) {
      this.waiting.delete(job);
      this.finish(s, 'abort');
    } else if (r.reason && finish === 'abort') {
      // Preempted or parked: back in the queue with what it has so far.
      s.preemptions++;
      this.preemptions++;
      // Round-robin sends it to the back; under priority it keeps its place (and its age).
      if (this.opts.policy === 'round-robin') job.enqueuedAt = performance.now();
    } else {
      this.waiting.delete(job);
      this.finish(s, finish ?? 'stop');
    }
    this.pump();
  }

  private finish(s: JobState, reason: NonNullable<ChatCompletionChunk['choices'][0]['finish_reason']>): void {
    const prompt = s.promptTokens ?? 0;
    const usage: Usage = {
      prompt_tokens: prompt,
      completion_tokens: s.completionTokens,
      total_tokens: prompt + s.completionTokens,
      ...(s.extra ? { extra: s.extra } : {}),
    };
    s.job.emit(chunkMaker(`sched-${s.job.seq}`, this.engine.info.id)({}, reason, usage));
    s.resolve(usage);
  }

  /** Keeps running estimates of prefill and decode speed (EWMA) for switch decisions and routing. */
  private learn(usage: Usage | null, t0: number, firstAt: number, lastAt: number, tokens: number): void {
    if (!usage || !firstAt) return;
    const a = 0.3;
    // The engine's own speeds (WebLLM's usage.extra) when it gives them: they leave out queueing and
    // transport, and a prefill that reused the KV cache is not mistaken for a fast one per token.
    const x = usage.extra;
    const prefill =
      x?.prefill_tokens_per_s && x.prefill_tokens_per_s > 0
        ? 1000 / x.prefill_tokens_per_s
        : usage.prompt_tokens > 0
          ? (firstAt - t0) / usage.prompt_tokens
          : null;
    const decode =
      x?.decode_tokens_per_s && x.decode_tokens_per_s > 0
        ? 1000 / x.decode_tokens_per_s
        : tokens > 1
          ? (lastAt - firstAt) / (tokens - 1)
          : null;
    if (prefill !== null) this.prefillMs = (1 - a) * this.prefillMs + a * prefill;
    if (decode !== null) this.decodeMs = (1 - a) * this.decodeMs + a * decode;
  }
}
