/**
 * The kernel's memory subsystem, opened lazily on first use: the IndexedDB
 * store, long-term memory over it, and the episodic log's persistence (records
 * are batched into one transaction every 50 ms; on start the recent ones are
 * loaded back, so logs continue across reloads).
 */
import { SysError } from '../abi/errors';
import type { Embedder } from './embedder';
import { HashingEmbedder } from './embedder';
import type { Episode, EpisodicLog } from './episodic';
import { LongTermMemory } from './long-term';
import {
  type DB,
  type EpisodeRecord,
  openStore,
  requestPersistence,
  type StorageReport,
  storageReport,
  writeTx,
} from './store';

export interface MemoryServiceOptions {
  dbName?: string;
  /** An open database to use instead of opening `dbName` (the kernel shares its connection). */
  db?: Promise<DB>;
  embedder?: Embedder;
  /** Makes an embedder that needs more than this worker (e.g. transformers.js, hosted by a tab). */
  resolveEmbedder?: (id: string) => Promise<Embedder | null>;
}

/** A re-index in progress (or the last one), for `memory.storage` and the desktop. */
export interface ReindexStatus {
  from: string;
  to: string;
  done: number;
  total: number;
  state: 'running' | 'done' | 'failed';
  error?: string;
}

export class MemoryService {
  private pending: Episode[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  reindex: ReindexStatus | null = null;
  /** Settles once earlier sessions' newest episodes are back in the log (they load after the memory opens). */
  episodesRestored: Promise<void> = Promise.resolve();

  private constructor(
    readonly db: DB,
    readonly ltm: LongTermMemory,
  ) {}

  static async open(episodes: EpisodicLog, opts: MemoryServiceOptions = {}): Promise<MemoryService> {
    if (!globalThis.indexedDB) throw new SysError('ENOSYS', 'this context has no IndexedDB');
    const db = await (opts.db ?? openStore(opts.dbName));
    mark('memory.db');
    // The embedder chosen last time, if it can be made here without a download; else the offline one.
    const chosen = (await db.get('kv', 'ltm.embedder').catch(() => undefined)) as string | undefined;
    let embedder = opts.embedder ?? (chosen ? offlineEmbedder(chosen) : null);
    if (!embedder && chosen && opts.resolveEmbedder) {
      embedder = await opts.resolveEmbedder(chosen).catch((e: unknown) => {
        // Recall would find nothing of the chosen embedder's vectors: say so loudly.
        console.error(`[memory] embedder ${chosen} unavailable, using the offline one until it is back:`, e);
        return null;
      });
    }
    embedder ??= new HashingEmbedder();
    // Only the newest episode's number is read beside the index: new records number after it. The
    // earlier sessions' records themselves (5,000) come back once the memory is open — read beside
    // the index they held the database and this thread in front of a returning user's first recall.
    const [ltm, newest] = await Promise.all([
      LongTermMemory.open(db, embedder, { snapshots: true }),
      newestEpisode(db).catch(() => 0),
    ]);
    mark('ltm.open');
    const svc = new MemoryService(db, ltm);
    episodes.sink = (e) => svc.queue(e);
    episodes.continueAfter(newest);
    svc.episodesRestored = recentEpisodes(db, 5000, newest)
      .then((recent) =>
        episodes.prepend(
          recent.map((r) => ({
            seq: r.seq!,
            t: r.t,
            pid: r.pid,
            kind: r.kind as Episode['kind'],
            text: r.text,
            data: r.data,
          })),
        ),
      )
      .catch((e: unknown) => console.warn('[memory] earlier episodes not read back:', e))
      .finally(() => mark('episodes.read'));
    // Records that cannot be indexed were set aside, not fatal: say so, once per record (the first 100).
    const bad = [...ltm.quarantined].slice(0, 100);
    for (const [id, why] of bad)
      episodes.append(
        0,
        'memory.quarantine',
        `memory ${id} quarantined: ${why}; forget it or update its text`,
        {
          id,
        },
      );
    mark('memory.ready');
    if (ltm.quarantined.size > bad.length)
      episodes.append(0, 'memory.quarantine', `${ltm.quarantined.size} memories quarantined in all`);
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

  /**
   * Moves long-term memory to another embedder in the background: recall keeps
   * using the current one until every record is re-embedded, then swaps.
   */
  switchEmbedder(next: Embedder, log: (text: string) => void): ReindexStatus {
    if (this.reindex?.state === 'running')
      throw new SysError('EAGAIN', `a re-index to ${this.reindex.to} is running`);
    if (next.id === this.ltm.embedder.id) throw new SysError('EINVAL', `memory already uses ${next.id}`);
    const status: ReindexStatus = {
      from: this.ltm.embedder.id,
      to: next.id,
      done: 0,
      total: 0,
      state: 'running',
    };
    this.reindex = status;
    log(`re-indexing long-term memory from ${status.from} to ${status.to}`);
    this.ltm
      .reindex(next, (done, total) => {
        status.done = done;
        status.total = total;
      })
      .then(
        async () => {
          status.state = 'done';
          await this.db.put('kv', next.id, 'ltm.embedder').catch(() => {});
          await this.ltm.snapshot().catch(() => {});
          log(`re-indexed ${status.total} memories with ${status.to}`);
        },
        (e: unknown) => {
          status.state = 'failed';
          status.error = (e as Error).message ?? String(e);
          log(`re-index to ${status.to} failed: ${status.error}`);
        },
      );
    return status;
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

/** A mark on the kernel's start timeline (kernel/boot-trace.ts reads `boot:*`). */
const mark = (name: string) => performance.mark?.(`boot:${name}`);

/** The embedders that need no download, by id: 'hash-<dim>-v1'. */
export function offlineEmbedder(id: string): Embedder | null {
  const m = /^hash-(\d+)-v1$/.exec(id);
  const dim = m ? Number(m[1]) : 0;
  return dim >= 16 && dim <= 4096 ? new HashingEmbedder(dim) : null;
}

/** The highest episode number stored (0 when none): this session's records number after it. */
async function newestEpisode(db: DB): Promise<number> {
  const last = await db.transaction('episodes').store.openKeyCursor(null, 'prev');
  return last ? Number(last.key) : 0;
}

/**
 * The newest `n` episodes up to `top`, oldest first. Numbers grow with time, so they are the `n`
 * below the highest one: reading them from the start would bring back the oldest instead.
 */
async function recentEpisodes(db: DB, n: number, top: number): Promise<EpisodeRecord[]> {
  if (!(top > 0)) return [];
  return db.getAll('episodes', IDBKeyRange.bound(Math.max(0, top - n + 1), top));
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
