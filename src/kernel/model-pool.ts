/**
 * The model pool: which engine serves a request. In this first cut it holds
 * the engines that are loaded and routes by model id; loading under a memory
 * budget, routing by need and context reservations build on this.
 */
import type { ChatEngine, ModelInfo } from './engine';
import { DeterministicEngine, type DeterministicOptions } from './engines/deterministic';
import { SysError } from './errors';

export class ModelPool {
  private readonly engines = new Map<string, ChatEngine>();
  defaultModel = 'deterministic';

  constructor() {
    // A demo-speed engine so a new user sees tokens stream, and a fast one for tests.
    this.add(
      new DeterministicEngine({
        id: 'deterministic',
        prefillTokensPerSecond: 2000,
        decodeTokensPerSecond: 40,
      }),
    );
    this.add(new DeterministicEngine({ id: 'deterministic-fast' }));
  }

  add(engine: ChatEngine): void {
    this.engines.set(engine.info.id, engine);
  }

  loadDeterministic(opts: DeterministicOptions & { id: string }): ModelInfo {
    const engine = new DeterministicEngine(opts);
    this.add(engine);
    return engine.info;
  }

  unload(id: string): void {
    if (!this.engines.delete(id)) throw this.unknown(id);
  }

  get(id: string | undefined): ChatEngine {
    const key = id ?? this.defaultModel;
    const engine = this.engines.get(key);
    if (!engine) throw this.unknown(key);
    return engine;
  }

  list(): ModelInfo[] {
    return [...this.engines.values()].map((e) => e.info);
  }

  private unknown(id: string): SysError {
    return new SysError(
      'ENOENT',
      `no model "${id}"; available: ${[...this.engines.keys()].join(', ') || 'none'}`,
    );
  }
}
