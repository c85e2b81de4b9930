/**
 * The model pool: which model serves a request. It keeps a catalogue of models
 * that can be loaded (local engines, remote servers the user added), loads them
 * under a memory budget (least recently used goes first; a model that is
 * serving or holds reservations is never unloaded), routes requests by id or by
 * need, gives each loaded model its own inference scheduler, and keeps the
 * context reservations agents hold on each model.
 */

import { SysError } from '../abi/errors';
import type { CatalogEntry, LoadProgress } from '../abi/protocol';
import type { ChatEngine, ModelInfo } from './engine';
import { DeterministicEngine, type DeterministicOptions } from './engines/deterministic';
import { DEFAULT_SCHEDULER, InferenceScheduler, type SchedulerOptions } from './scheduler';
import { withPromptedTools } from './tool-calling';

export type { CatalogEntry, LoadProgress };
export interface ModelSpec {
  info: ModelInfo;
  /**
   * 'small', 'large', 'test'…: what an agent may ask for by need. 'hidden' keeps a model out of
   * the catalogue users see and out of routing by need; it stays loadable by its id (test models).
   * 'completion': it continues text and cannot follow instructions, so it calls tools only when
   * told to (tool_choice 'required'; see withPromptedTools).
   */
  tags: string[];
  /** Loads the model; `signal` cancels it (a driver that cannot stop its download is still left behind at once). */
  load(onProgress?: (p: LoadProgress) => void, signal?: AbortSignal): Promise<ChatEngine>;
}

export interface Need {
  model?: string;
  minContext?: number;
  tools?: boolean;
  size?: 'small' | 'large';
}

export interface Reservation {
  id: number;
  pid: number;
  model: string;
  tokens: number;
  priority: number;
}

interface Loaded {
  engine: ChatEngine;
  sched: InferenceScheduler;
  lastUsed: number;
  reservations: Map<number, Reservation>;
}

/** What memory a device can give models when nothing better is known: half of deviceMemory, else 2 GiB. */
export function defaultBudgetBytes(): number {
  const gb = (globalThis.navigator as Navigator & { deviceMemory?: number })?.deviceMemory;
  return gb ? (gb * 2 ** 30) / 2 : 2 * 2 ** 30;
}

export class ModelPool {
  private readonly specs = new Map<string, ModelSpec>();
  private readonly loaded = new Map<string, Loaded>();
  private readonly loading = new Map<string, Promise<Loaded>>();
  /** Cancels each load in progress (models.cancel). */
  private readonly loadAborts = new Map<string, AbortController>();
  private nextReservation = 1;
  defaultModel = 'deterministic';
  schedulerOptions: SchedulerOptions = { ...DEFAULT_SCHEDULER };
  /** Told of every load's progress (the kernel shows downloads on the desktop). */
  onProgress: ((p: LoadProgress) => void) | null = null;
  /** Told of loads and unloads (the kernel logs them). */
  onChange: ((what: 'load' | 'unload', id: string) => void) | null = null;

  constructor(public budgetBytes = defaultBudgetBytes()) {
    // A demo-speed engine so a new user sees tokens stream, and a fast one for tests.
    this.registerDeterministic({
      id: 'deterministic',
      prefillTokensPerSecond: 2000,
      decodeTokensPerSecond: 40,
    });
    this.registerDeterministic({ id: 'deterministic-fast' });
  }

  register(spec: ModelSpec): void {
    this.specs.set(spec.info.id, spec);
  }

  registerDeterministic(
    opts: DeterministicOptions & { id: string },
    tags: string[] = ['test', 'small'],
  ): ModelInfo {
    const info = new DeterministicEngine(opts).info;
    this.register({ info, tags, load: async () => new DeterministicEngine(opts) });
    return info;
  }

  /** The models users are offered; `all` adds the hidden ones (test models). */
  catalog(o: { all?: boolean } = {}): CatalogEntry[] {
    return [...this.specs.values()]
      .filter((s) => o.all || !s.tags.includes('hidden'))
      .map((s) => {
        const l = this.loaded.get(s.info.id);
        return {
          ...(l?.engine.info ?? s.info),
          tags: s.tags,
          loaded: !!l,
          lastUsed: l?.lastUsed ?? null,
          reservedTokens: l ? sum(l.reservations) : 0,
          queued: l ? l.sched.stats().queued : 0,
        };
      });
  }

  /** The model that should serve a request: the one named, or the best fit for the need. */
  route(need: Need = {}): string {
    if (need.model !== undefined) {
      if (!this.specs.has(need.model)) throw this.unknown(need.model);
      return need.model;
    }
    const fits = [...this.specs.values()].filter(
      (s) =>
        !s.tags.includes('hidden') &&
        (need.minContext === undefined || s.info.contextWindow >= need.minContext) &&
        (need.size === undefined || s.tags.includes(need.size)) &&
        s.info.sizeBytes <= this.budgetBytes,
    );
    if (!fits.length)
      throw new SysError('ENOENT', `no model fits ${JSON.stringify(need)}; available: ${this.ids()}`);
    if (!need.minContext && !need.size && fits.some((s) => s.info.id === this.defaultModel))
      return this.defaultModel;
    // Expected wait: queue drain time when loaded, a load time estimate (100 MB/s) when not.
    const cost = (s: ModelSpec) => {
      const l = this.loaded.get(s.info.id);
      return l ? l.sched.expectedWaitMs() : 50 + s.info.sizeBytes / 100_000;
    };
    fits.sort((a, b) => cost(a) - cost(b) || a.info.sizeBytes - b.info.sizeBytes);
    return fits[0]!.info.id;
  }

  info(id: string): ModelInfo {
    const s = this.specs.get(id);
    if (!s) throw this.unknown(id);
    return this.loaded.get(id)?.engine.info ?? s.info;
  }

  /** Counts tokens with the model's own tokenizer once it is loaded; until then an estimate (about 4 characters a token). */
  tokenizer(id: string): (text: string) => number {
    return (text) => this.loaded.get(id)?.engine.countTokens(text) ?? Math.ceil(text.length / 4);
  }

  isLoaded(id: string): boolean {
    return this.loaded.has(id);
  }

  /** The loaded model `id`, loading it (and unloading others under the budget) if needed. */
  async acquire(
    id: string,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<{ engine: ChatEngine; sched: InferenceScheduler }> {
    const l = this.loaded.get(id) ?? (await this.load(id, onProgress));
    l.lastUsed = performance.now();
    return l;
  }

  async load(id: string, onProgress?: (p: LoadProgress) => void): Promise<Loaded> {
    const existing = this.loaded.get(id);
    if (existing) return existing;
    const pending = this.loading.get(id);
    if (pending) return pending;
    const spec = this.specs.get(id);
    if (!spec) throw this.unknown(id);
    const abort = new AbortController();
    const p = (async () => {
      this.makeRoom(spec.info.sizeBytes, id);
      let engine: ChatEngine;
      try {
        engine = await cancellable(
          spec.load((p) => {
            if (abort.signal.aborted) return;
            onProgress?.(p);
            this.onProgress?.(p);
          }, abort.signal),
          abort.signal,
          id,
        );
      } catch (e) {
        throw SysError.is(e) ? e : new SysError('EIO', `loading ${id} failed: ${(e as Error).message ?? e}`);
      }
      // Tools work on every model: those without native tool calls get them through a prompt and a JSON schema.
      if (!engine.info.supportsTools)
        engine = withPromptedTools(engine, { autoAsText: spec.tags.includes('completion') });
      const l: Loaded = {
        engine,
        sched: new InferenceScheduler(engine, this.schedulerOptions),
        lastUsed: performance.now(),
        reservations: new Map(),
      };
      l.sched.onFatal = () => this.drop(id, l.engine);
      this.loaded.set(id, l);
      this.onChange?.('load', id);
      return l;
    })();
    this.loading.set(id, p);
    this.loadAborts.set(id, abort);
    try {
      return await p;
    } finally {
      this.loading.delete(id);
      this.loadAborts.delete(id);
    }
  }

  /** Whether `id` is being loaded now. */
  isLoading(id: string): boolean {
    return this.loading.has(id);
  }

  /**
   * Cancels the load of `id` in progress: every caller waiting on it gets ECANCELED at once,
   * the driver stops its download, and the model can be loaded again. ENOENT when none runs.
   */
  cancel(id: string): void {
    const a = this.loadAborts.get(id);
    if (!a) {
      if (!this.specs.has(id)) throw this.unknown(id);
      throw new SysError(
        'ENOENT',
        `${id} is not being loaded${this.loaded.has(id) ? ' (it is loaded already)' : ''}`,
      );
    }
    a.abort();
  }

  /** Unloads least-recently-used idle models until `bytes` more fit the budget (ENOSPC if they cannot). */
  private makeRoom(bytes: number, forId: string): void {
    if (bytes > this.budgetBytes) {
      throw new SysError(
        'ENOSPC',
        `${forId} needs ${mb(bytes)}, more than the whole model budget of ${mb(this.budgetBytes)}`,
      );
    }
    const used = () => [...this.loaded.values()].reduce((n, l) => n + l.engine.info.sizeBytes, 0);
    const idle = [...this.loaded.entries()]
      .filter(([, l]) => !l.sched.busy && l.reservations.size === 0)
      .sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    while (used() + bytes > this.budgetBytes) {
      const victim = idle.shift();
      if (!victim) {
        throw new SysError(
          'ENOSPC',
          `${forId} needs ${mb(bytes)}; ${mb(used())} of ${mb(this.budgetBytes)} is held by models that are serving`,
        );
      }
      void this.unload(victim[0]);
    }
  }

  /** Forgets a loaded engine that failed (its worker died): the next request loads it afresh. */
  drop(id: string, engine: ChatEngine): void {
    const l = this.loaded.get(id);
    if (l?.engine !== engine) return;
    this.loaded.delete(id);
    this.onChange?.('unload', id);
  }

  async unload(id: string): Promise<void> {
    const l = this.loaded.get(id);
    if (!l) {
      if (!this.specs.has(id)) throw this.unknown(id);
      return;
    }
    if (l.sched.busy) throw new SysError('EAGAIN', `${id} is serving requests; try again when they finish`);
    if (l.reservations.size)
      throw new SysError(
        'EAGAIN',
        `${id} holds context reservations of ${[...l.reservations.values()].map((r) => r.pid).join(', ')}`,
      );
    this.loaded.delete(id);
    this.onChange?.('unload', id);
    await l.engine.dispose?.();
  }

  /** Re-decide every model's queue (a process was suspended, resumed or reniced). */
  poke(): void {
    for (const l of this.loaded.values()) l.sched.poke();
  }

  setSchedulerOptions(opts: Partial<SchedulerOptions>): SchedulerOptions {
    Object.assign(this.schedulerOptions, opts);
    for (const l of this.loaded.values()) l.sched.opts = this.schedulerOptions;
    return this.schedulerOptions;
  }

  schedulerStats() {
    return [...this.loaded.entries()].map(([id, l]) => ({ model: id, ...l.sched.stats() }));
  }

  // ───────── context reservations ─────────

  capacity(id: string): number {
    const info = this.info(id);
    return info.contextCapacity ?? info.contextWindow;
  }

  free(id: string): number {
    const l = this.loaded.get(id);
    return this.capacity(id) - (l ? sum(l.reservations) : 0);
  }

  reservations(id?: string): Reservation[] {
    const out: Reservation[] = [];
    for (const [mid, l] of this.loaded) if (!id || id === mid) out.push(...l.reservations.values());
    return out;
  }

  reserve(pid: number, model: string, tokens: number, priority: number): Reservation {
    const l = this.loaded.get(model);
    if (!l) throw new SysError('EAGAIN', `${model} is not loaded`);
    if (tokens > this.info(model).contextWindow) {
      throw new SysError(
        'EINVAL',
        `${tokens} tokens exceed ${model}'s context window of ${this.info(model).contextWindow}`,
      );
    }
    if (tokens > this.free(model))
      throw new SysError('ENOSPC', `${model} has ${this.free(model)} tokens free, ${tokens} asked`);
    const r: Reservation = { id: this.nextReservation++, pid, model, tokens, priority };
    l.reservations.set(r.id, r);
    return r;
  }

  release(id: number): Reservation | null {
    for (const l of this.loaded.values()) {
      const r = l.reservations.get(id);
      if (r) {
        l.reservations.delete(id);
        return r;
      }
    }
    return null;
  }

  releaseAll(pid: number): Reservation[] {
    const out: Reservation[] = [];
    for (const l of this.loaded.values()) {
      for (const [id, r] of l.reservations) {
        if (r.pid === pid) {
          l.reservations.delete(id);
          out.push(r);
        }
      }
    }
    return out;
  }

  private ids(): string {
    return [...this.specs.keys()].join(', ') || 'none';
  }

  private unknown(id: string): SysError {
    return new SysError('ENOENT', `no model "${id}"; available: ${this.ids()}`);
  }
}

/**
 * A driver's load, settled with ECANCELED as soon as `signal` fires (a driver may take its time
 * to stop, or not stop at all); an engine that still arrives after the cancel is disposed.
 */
function cancellable(load: Promise<ChatEngine>, signal: AbortSignal, id: string): Promise<ChatEngine> {
  return new Promise((resolve, reject) => {
    const onAbort = () =>
      reject(
        new SysError(
          'ECANCELED',
          `loading ${id} was cancelled; load it again to start again (files a download finished are kept)`,
        ),
      );
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    load.then(
      (engine) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) void Promise.resolve(engine.dispose?.()).catch(() => {});
        else resolve(engine);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function sum(rs: Map<number, Reservation>): number {
  let n = 0;
  for (const r of rs.values()) n += r.tokens;
  return n;
}

const mb = (b: number) => `${Math.round(b / 2 ** 20)} MiB`;
