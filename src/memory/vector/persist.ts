/**
 * Persists serialised vector indexes in IndexedDB as raw binary chunks (never JSON), each a Blob.
 *
 * Blobs: Chromium keeps a stored Blob as a file and reads it back as one, about 20× faster than
 * the same bytes stored as ArrayBuffers (48 MB: ~50 ms against ~1 s, measured in headless
 * Chromium here), which is most of a returning user's wait for the first recall.
 * Chunks: one huge value is risky (a 1M×384 int8 index is ~390 MB); 16 MB pieces cost nothing.
 * Chunks stored as ArrayBuffers by earlier versions still load.
 * A save replaces the old chunks and the meta record in ONE readwrite transaction and
 * resolves only on `tx.done` (the `complete` event), so a crash mid-write leaves the
 * previous index intact and a resolved save is durable.
 */
import { type DBSchema, type IDBPDatabase, openDB } from 'idb';
import { SysError } from '../../abi/errors';
import { loadVectorIndex } from './factory';
import type { VectorIndex } from './vector-index';

const CHUNK_BYTES = 16 * 1024 * 1024;
const MAX_CHUNK = Number.MAX_SAFE_INTEGER;

interface VectorDB extends DBSchema {
  meta: { key: string; value: { name: string; byteLength: number; chunks: number; savedAt: number } };
  chunks: { key: [string, number]; value: Blob | ArrayBuffer };
}

export interface VectorStore {
  /** Writes the index (or its bytes) under `name`; resolves after the transaction completes. */
  save(name: string, index: VectorIndex | Uint8Array): Promise<void>;
  loadBytes(name: string): Promise<Uint8Array | undefined>;
  /** Loads and rebuilds the index, or undefined if nothing is stored under `name`. */
  load(name: string): Promise<VectorIndex | undefined>;
  delete(name: string): Promise<void>;
  close(): void;
}

function ioError(e: unknown, what: string): SysError {
  if (e instanceof SysError) return e;
  const name = e instanceof DOMException ? e.name : '';
  const msg = e instanceof Error ? e.message : String(e);
  return new SysError(name === 'QuotaExceededError' ? 'EDQUOT' : 'EIO', `${what}: ${msg}`);
}

const range = (name: string) => IDBKeyRange.bound([name, 0], [name, MAX_CHUNK]);

export async function openVectorStore(dbName = 'agentos-vectors'): Promise<VectorStore> {
  let db: IDBPDatabase<VectorDB>;
  try {
    db = await openDB<VectorDB>(dbName, 1, {
      upgrade(d) {
        d.createObjectStore('meta');
        d.createObjectStore('chunks');
      },
    });
  } catch (e) {
    throw ioError(e, `cannot open IndexedDB '${dbName}'`);
  }

  const store: VectorStore = {
    async save(name, index) {
      const bytes = index instanceof Uint8Array ? index : index.serialize();
      const chunks = Math.ceil(bytes.length / CHUNK_BYTES);
      try {
        const tx = db.transaction(['meta', 'chunks'], 'readwrite');
        const cs = tx.objectStore('chunks');
        // Queue every request synchronously so the transaction cannot auto-commit between them.
        const reqs: Promise<unknown>[] = [cs.delete(range(name))];
        for (let i = 0; i < chunks; i++) {
          // A Blob copies just this piece of the buffer.
          const piece = bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES) as Uint8Array<ArrayBuffer>;
          reqs.push(cs.put(new Blob([piece]), [name, i]));
        }
        reqs.push(
          tx.objectStore('meta').put({ name, byteLength: bytes.length, chunks, savedAt: Date.now() }, name),
        );
        await Promise.all([...reqs, tx.done]);
      } catch (e) {
        throw ioError(e, `cannot save vector index '${name}'`);
      }
    },

    async loadBytes(name) {
      let meta: VectorDB['meta']['value'] | undefined;
      let parts: ArrayBuffer[];
      try {
        const tx = db.transaction(['meta', 'chunks'], 'readonly');
        let stored: (Blob | ArrayBuffer)[];
        [meta, stored] = await Promise.all([
          tx.objectStore('meta').get(name),
          tx.objectStore('chunks').getAll(range(name)),
          tx.done,
        ]);
        performance.mark?.('boot:vectors.listed');
        // Blobs read as one: the browser fills a single buffer from the files, with no copy in this
        // thread (joining 46 MB of pieces here took 30–150 ms of the kernel's time on a returning boot).
        parts =
          meta && stored.length === meta.chunks && stored.every((p) => p instanceof Blob)
            ? [await new Blob(stored).arrayBuffer()]
            : await Promise.all(stored.map((p) => (p instanceof ArrayBuffer ? p : p.arrayBuffer())));
      } catch (e) {
        throw ioError(e, `cannot read vector index '${name}'`);
      }
      performance.mark?.('boot:vectors.read');
      if (!meta) return undefined;
      if (parts.length === 1 && parts[0]!.byteLength === meta.byteLength) return new Uint8Array(parts[0]!);
      const out = new Uint8Array(meta.byteLength);
      let at = 0;
      for (const p of parts) {
        if (at + p.byteLength > out.length) break;
        out.set(new Uint8Array(p), at);
        at += p.byteLength;
      }
      if (parts.length !== meta.chunks || at !== meta.byteLength)
        throw new SysError(
          'EIO',
          `vector index '${name}' is incomplete in IndexedDB (${at}/${meta.byteLength} bytes)`,
        );
      return out;
    },

    async load(name) {
      const bytes = await store.loadBytes(name);
      return bytes && loadVectorIndex(bytes);
    },

    async delete(name) {
      try {
        const tx = db.transaction(['meta', 'chunks'], 'readwrite');
        await Promise.all([
          tx.objectStore('chunks').delete(range(name)),
          tx.objectStore('meta').delete(name),
          tx.done,
        ]);
      } catch (e) {
        throw ioError(e, `cannot delete vector index '${name}'`);
      }
    },

    close() {
      db.close();
    },
  };
  return store;
}
