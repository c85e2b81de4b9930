/**
 * The kernel's memory subsystem, opened lazily on first use: the IndexedDB
 * store, long-term memory over it, and the episodic log's persistence (records
 * are batched into one transaction every 200 ms; on start the recent ones are
 * loaded back, so logs continue across reloads).
 */
import { SysError } from '../kernel/errors';
import type { Embedder } from './embedder';
import { HashingEmbedder } from './embedder';
import type { Episode, EpisodicLog } from './episodic';
import { LongTermMemory } from './long-term';
import { type DB, openStore, requestPersistence, type StorageReport, storageReport, writeTx } from './store';

export interface MemoryServiceOptions {
  dbName?: string;
  embedder?: Embedder;
}

export class MemoryService {
  private pending: Episode[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | null = null;

  private constructor(
    readonly db: DB,
    readonly ltm: LongTermMemory,
  ) {}

  static async open(episodes: EpisodicLog, opts: MemoryServiceOptions = {}): Promise<MemoryService> {
    if (!globalThis.indexedDB) throw new SysError('ENOSYS', 'this context has no IndexedDB');
    const db = await openStore(opts.dbName);
    const ltm = await LongTermMemory.open(db, opts.embedder ?? new HashingEmbedder(), { snapshots: true });
    const svc = new MemoryService(db, ltm);
    // Earlier sessions' episodes come back first, so the log reads in order.
    const recent = await db.getAll('episodes', null, 5000).catch(() => []);
    episodes.restore(
      recent.map((r) => ({
        seq: r.seq!,
        t: r.t,
        pid: r.pid,
        kind: r.kind as Episode['kind'],
        text: r.text,
        data: r.data,
      })),
    );
    episodes.sink = (e) => svc.queue(e);
    return svc;
  }

  private queue(e: Episode): void {
    this.pending.push(e);
    this.flushTimer ??= setTimeout(() => void this.flush(), 50);
  }

  /** Writes queued episodes in one transaction. */
  async flush(): Promise<void> {
    this.flushTimer = null;
    const batch = this.pending.splice(0);
    if (!batch.length) return;
    await writeTx(this.db, ['episodes'], 'episodic log', async (tx) => {
      const store = tx.objectStore('episodes');
      await Promise.all(batch.map((e) => store.put(cloneable(e))));
    }).catch((err: unknown) => console.error('[memory] episodic log write failed', err));
  }

  /** A tab is leaving (perhaps the last): write out the log and the index snapshot while the kernel runs. */
  async onBye(): Promise<void> {
    await this.flush();
    await this.ltm.snapshotIfChanged().catch((e: unknown) => console.error('[memory] snapshot failed', e));
  }

  storage(): Promise<StorageReport> {
    return storageReport();
  }

  persist(): Promise<boolean> {
    return requestPersistence();
  }
}

/** Episode data may hold anything a handler logged; keep what structured clone accepts. */
function cloneable(e: Episode): Episode {
  try {
    structuredClone(e.data);
    return e;
  } catch {
    return { ...e, data: String(e.data) };
  }
}
