/**
 * The default model: the one new agents use when they name none (the welcome
 * app sets it, the taskbar shows it). It is a kernel setting, kept in the OS's
 * IndexedDB with how to bring the model back into the catalogue after a
 * restart: a remote server's models are not in the catalogue until the server
 * is added again, WebLLM's until they are listed again.
 */
import { SysError } from '../abi/errors';
import type { KernelEvent } from '../abi/protocol';
import type { ModelPool } from './pool';

export const DEFAULT_MODEL_KEY = 'models.default';

/** Where the default model comes from, so a restart can register it again. */
export type ModelSource = { kind: 'catalogue' } | { kind: 'remote'; baseUrl: string } | { kind: 'webllm' };

export interface SavedDefault {
  id: string;
  source: ModelSource;
}

export interface DefaultModelInfo {
  id: string;
  label: string | null;
  engine: string | null;
  location: string | null;
  /** Whether the user chose it (false: the kernel's built-in default). */
  chosen: boolean;
}

export interface DefaultModelDeps {
  pool: ModelPool;
  emit: (e: KernelEvent) => void;
  /** Persistence (absent when the kernel does not persist). */
  load?: () => Promise<unknown>;
  save?: (v: SavedDefault) => Promise<void>;
}

/** Registers the models of a source again (add the remote server, list WebLLM's models). */
export type ReRegister = (source: ModelSource) => Promise<void>;

const isSaved = (v: unknown): v is SavedDefault =>
  !!v &&
  typeof (v as SavedDefault).id === 'string' &&
  typeof (v as SavedDefault).source === 'object' &&
  (v as SavedDefault).source !== null;

export class DefaultModel {
  /** Remote servers added this session, by the model ids they brought. */
  private readonly remoteOf = new Map<string, string>();
  private chosen = false;

  constructor(private readonly deps: DefaultModelDeps) {}

  /** addRemoteServer tells which server each model came from. */
  noteRemote(baseUrl: string, ids: string[]): void {
    for (const id of ids) this.remoteOf.set(id, baseUrl);
  }

  get(): DefaultModelInfo {
    const id = this.deps.pool.defaultModel;
    const entry = this.deps.pool.catalog().find((m) => m.id === id);
    return {
      id,
      label: entry?.label ?? null,
      engine: entry?.engine ?? null,
      location: entry?.location ?? null,
      chosen: this.chosen,
    };
  }

  /** Makes `id` (a model of the catalogue) the default for new agents. */
  async set(id: string): Promise<DefaultModelInfo> {
    const entry = this.deps.pool.catalog().find((m) => m.id === id);
    if (!entry)
      throw new SysError('ENOENT', `no model "${id}" in the catalogue (add its server or list it first)`);
    const remote = this.remoteOf.get(id);
    const source: ModelSource = remote
      ? { kind: 'remote', baseUrl: remote }
      : entry.engine === 'webllm'
        ? { kind: 'webllm' }
        : { kind: 'catalogue' };
    this.apply(id);
    await this.deps.save?.({ id, source });
    return this.get();
  }

  /**
   * Brings back the choice of an earlier session (after the catalogue is built); never throws.
   * `reRegister` brings its source's models back first (drivers.ts does that; this module imports no driver).
   */
  async restore(reRegister?: ReRegister): Promise<void> {
    try {
      const saved = await this.deps.load?.();
      if (!isSaved(saved)) return;
      if (!this.deps.pool.catalog().some((m) => m.id === saved.id) && saved.source.kind !== 'catalogue')
        await reRegister?.(saved.source);
      if (this.deps.pool.catalog().some((m) => m.id === saved.id)) this.apply(saved.id);
    } catch (e) {
      console.warn('[kernel] the default model could not be restored:', e);
    }
  }

  private apply(id: string): void {
    this.deps.pool.defaultModel = id;
    this.chosen = true;
    const info = this.get();
    this.deps.emit({ type: 'model.default', model: info.id, label: info.label });
  }
}
