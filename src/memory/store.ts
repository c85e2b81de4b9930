/**
 * The kernel's storage: one IndexedDB database (through idb) with a versioned
 * schema. Each version's migration is a step in MIGRATIONS, applied in order,
 * so any older database opens to the current shape. A write is acknowledged
 * only after its transaction has committed (`tx.done`, the `complete` event).
 * A full quota is ENOSPC and the transaction is rolled back: what was stored stays intact.
 */
import { type DBSchema, type IDBPDatabase, type IDBPTransaction, openDB, type StoreNames } from 'idb';
import { SysError } from '../abi/errors';

export interface LtmRecord {
  id?: number;
  namespace: string;
  text: string;
  metadata: Record<string, unknown>;
  /** Which embedder made `vector`: vectors of two embedders never mix. */
  embedder: string;
  vector: ArrayBuffer;
  createdAt: number;
  updatedAt: number;
}

export interface EpisodeRecord {
  seq?: number;
  t: number;
  pid: number;
  kind: string;
  text: string;
  data?: unknown;
}

export interface AgentOSDB extends DBSchema {
  ltm: { key: number; value: LtmRecord };
  episodes: { key: number; value: EpisodeRecord; indexes: { pid: number; t: number; kind: string } };
  /** Small kernel state: settings, grants, the process table snapshot. */
  kv: { key: string; value: unknown };
}

export const DB_NAME = 'agentos';
export const DB_VERSION = 3;

type Upgrade = (
  db: IDBPDatabase<AgentOSDB>,
  tx: IDBPTransaction<AgentOSDB, StoreNames<AgentOSDB>[], 'versionchange'>,
) => void;

/** MIGRATIONS[v - 1] upgrades a database from version v - 1 to v. */
const MIGRATIONS: Upgrade[] = [
  (db) => {
    const ltm = db.createObjectStore('ltm', {
      keyPath: 'id',
      autoIncrement: true,
    }) as unknown as IDBPObjectStoreAny;
    ltm.createIndex('namespace', 'namespace');
    db.createObjectStore('episodes', { keyPath: 'seq', autoIncrement: true });
    db.createObjectStore('kv');
  },
  (_db, tx) => {
    // v2: episodes become queryable by agent, time and kind; records store which embedder made them.
    const ep = tx.objectStore('episodes');
    ep.createIndex('pid', 'pid');
    ep.createIndex('t', 't');
    ep.createIndex('kind', 'kind');
    (tx.objectStore('ltm') as unknown as IDBPObjectStoreAny).createIndex('embedder', 'embedder');
  },
  (_db, tx) => {
    // v3: memories need no secondary indexes (namespaces are held in memory, the embedder is read while
    // rebuilding); each one cost a write per record, halving remember() throughput.
    const ltm = tx.objectStore('ltm') as unknown as IDBPObjectStoreAny;
    for (const name of ['namespace', 'embedder']) if (ltm.indexNames.contains(name)) ltm.deleteIndex(name);
  },
];

/** Earlier schema versions had indexes the current typed schema no longer names. */
interface IDBPObjectStoreAny {
  indexNames: DOMStringList;
  createIndex(name: string, keyPath: string): unknown;
  deleteIndex(name: string): void;
}

export type DB = IDBPDatabase<AgentOSDB>;

export async function openStore(name = DB_NAME, version = DB_VERSION): Promise<DB> {
  try {
    return await openDB<AgentOSDB>(name, version, {
      upgrade(db, oldVersion, newVersion, tx) {
        for (let v = oldVersion; v < (newVersion ?? version); v++) MIGRATIONS[v]!(db, tx);
      },
      blocking() {
        // Another context wants a newer schema: let it, this connection reopens on its next use.
      },
    });
  } catch (e) {
    throw storageError(e, `opening ${name}`);
  }
}

/** Maps IndexedDB failures to typed errors: a full quota is ENOSPC. */
export function storageError(e: unknown, what: string): SysError {
  if (e instanceof SysError) return e;
  const name = (e as { name?: string })?.name ?? '';
  const msg = (e as Error)?.message ?? String(e);
  if (name === 'QuotaExceededError' || /quota/i.test(msg))
    return new SysError('ENOSPC', `${what}: storage quota reached (${msg})`);
  return new SysError('EIO', `${what}: ${name ? `${name}: ` : ''}${msg}`);
}

/** Runs `fn` in one readwrite transaction and resolves only once it has committed. */
export async function writeTx<S extends StoreNames<AgentOSDB>, T>(
  db: DB,
  stores: S[],
  what: string,
  fn: (tx: IDBPTransaction<AgentOSDB, S[], 'readwrite'>) => Promise<T>,
): Promise<T> {
  const tx = db.transaction(stores, 'readwrite', { durability: 'strict' });
  try {
    const result = await fn(tx);
    await tx.done;
    return result;
  } catch (e) {
    try {
      tx.abort();
    } catch {
      /* already finished */
    }
    await tx.done.catch(() => {});
    throw storageError(e, what);
  }
}

export interface StorageReport {
  usage: number | null;
  quota: number | null;
  persisted: boolean | null;
}

/** Usage against quota, and whether the browser promised not to evict us. */
export async function storageReport(): Promise<StorageReport> {
  const s = globalThis.navigator?.storage;
  if (!s) return { usage: null, quota: null, persisted: null };
  const est = await s.estimate().catch(() => ({}) as StorageEstimate);
  const persisted = s.persisted ? await s.persisted().catch(() => null) : null;
  return { usage: est.usage ?? null, quota: est.quota ?? null, persisted };
}

/** Asks for persistent storage (the browser may decide by engagement or ask the user). */
export async function requestPersistence(): Promise<boolean> {
  return (await globalThis.navigator?.storage?.persist?.().catch(() => false)) ?? false;
}
