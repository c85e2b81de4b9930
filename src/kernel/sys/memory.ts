/**
 * Long-term memory syscalls: every read and write is checked against the
 * caller's namespaces here (the kernel's memory tools reach these through
 * dispatch's invoke, so the checks hold for them too), writes are counted
 * against the agent's cap, and a write's log record commits with it.
 */
import { SysError } from '../../abi/errors';
import { offlineEmbedder } from '../../memory/service';
import { mayReadNamespace, mayWriteNamespace, privateNamespace } from '../access-control';
import type { Caller } from '../dispatch';
import type { Kernel } from '../kernel';

export interface RememberArgs {
  items: { text: string; namespace?: string; metadata?: unknown; vector?: Float32Array | number[] }[];
}

export async function remember(k: Kernel, c: Caller, a: RememberArgs) {
  const items = a.items.map((it) => {
    const ns = !it.namespace || it.namespace === 'private' ? privateNamespace(c.pid) : it.namespace;
    if (!mayWriteNamespace(c.caps, c.pid, ns)) {
      k.log(c.pid, 'deny', `memory write to namespace "${ns}" denied`);
      throw new SysError('EPERM', `no write access to memory namespace "${ns}"`);
    }
    return {
      namespace: ns,
      text: it.text,
      metadata: (it.metadata ?? {}) as Record<string, unknown>,
      ...(it.vector ? { vector: it.vector } : {}),
    };
  });
  const spaces = [...new Set(items.map((i) => i.namespace))].join(', ');
  const refund = chargeWrites(k, c, items.length);
  // The log record of this write is stored in the same transaction as the memories.
  let episode: ReturnType<typeof k.episodes.prepare> | null = null;
  const ids = await (await k.memory()).ltm
    .remember(items, (added) => {
      episode = k.episodes.prepare(c.pid, 'memory.write', `remembered ${added.length} item(s) in ${spaces}`, {
        ids: added.slice(0, 100),
      });
      return episode;
    })
    .catch((e: unknown) => {
      refund();
      throw e;
    });
  if (episode) k.episodes.commit(episode);
  return { ids };
}

export async function recall(
  k: Kernel,
  c: Caller,
  a: {
    query: string;
    k?: number;
    namespaces?: string[];
    filter?: Record<string, string | number | boolean>;
    since?: number;
  },
) {
  const mem = await k.memory();
  const own = privateNamespace(c.pid);
  const asked = (a.namespaces ?? ['private', ...c.caps.memoryRead]).map((n) => (n === 'private' ? own : n));
  // '*' means every namespace the store has, for callers granted it.
  const expanded = asked.includes('*') ? [...new Set([own, ...mem.ltm.namespaces()])] : asked;
  for (const ns of expanded) {
    if (!mayReadNamespace(c.caps, c.pid, ns)) {
      k.log(c.pid, 'deny', `memory read of namespace "${ns}" denied`);
      throw new SysError('EPERM', `no read access to memory namespace "${ns}"`);
    }
  }
  return mem.ltm.recall(a.query, {
    k: a.k ?? 5,
    namespaces: expanded,
    ...(a.filter ? { filter: a.filter } : {}),
    ...(a.since ? { since: a.since } : {}),
  });
}

export async function get(k: Kernel, c: Caller, ids: number[]) {
  const mem = await k.memory();
  const out = [];
  for (const id of ids) {
    const m = await mem.ltm.get(id);
    if (m && !mayReadNamespace(c.caps, c.pid, m.namespace))
      throw new SysError('EPERM', `no read access to memory ${id}`);
    out.push(m);
  }
  return out;
}

export async function forget(k: Kernel, c: Caller, id: number): Promise<null> {
  const { mem, ns } = await writable(k, c, id);
  await mem.ltm.forget(id);
  k.log(c.pid, 'memory.forget', `forgot memory ${id} in ${ns}`);
  return null;
}

export async function update(k: Kernel, c: Caller, a: { id: number; text?: string; metadata?: unknown }) {
  const { mem, ns } = await writable(k, c, a.id);
  const patch: { text?: string; metadata?: Record<string, unknown> } = {};
  if (a.text !== undefined) patch.text = a.text;
  if (a.metadata !== undefined) patch.metadata = a.metadata as Record<string, unknown>;
  const refund = chargeWrites(k, c, 1);
  const m = await mem.ltm.update(a.id, patch).catch((e: unknown) => {
    refund();
    throw e;
  });
  k.log(c.pid, 'memory.write', `updated memory ${a.id} in ${ns}`);
  return m;
}

/**
 * Switches long-term memory to another embedder. 'transformers:<model>' runs in a worker of a host
 * tab (downloaded once, then cached); 'hash-<dim>-v1' needs nothing; 'hosted:hash-<dim>-v1' is the
 * offline embedder in that worker instead of the kernel.
 */
export async function switchEmbedder(k: Kernel, a: { id: string; allowRemote?: boolean }) {
  const mem = await k.memory();
  const model = a.id.startsWith('transformers:') ? a.id.slice('transformers:'.length) : null;
  const hosted = /^hosted:(hash-(\d+)-v1)$/.exec(a.id);
  const next = model
    ? await k.hostEmbedder('transformers', { model, allowRemote: a.allowRemote ?? true })
    : hosted && offlineEmbedder(hosted[1]!)
      ? await k.hostEmbedder('hash', { dim: Number(hosted[2]) })
      : offlineEmbedder(a.id);
  if (!next)
    throw new SysError(
      'ENOENT',
      `no embedder "${a.id}" (offline: hash-<dim>-v1; or transformers:<model id>)`,
    );
  return mem.switchEmbedder(next, (text) => k.log(0, 'memory.write', text));
}

export async function storage(k: Kernel, c: Caller, a: { persist?: boolean }) {
  const mem = await k.memory();
  if (a.persist && c.kind !== 'user')
    throw new SysError('EPERM', 'only the user asks for persistent storage');
  const persisted = a.persist ? await mem.persist() : undefined;
  return {
    ...(await mem.storage()),
    ...(persisted === undefined ? {} : { persisted }),
    memories: await mem.db.count('ltm'),
    indexed: mem.ltm.size,
    // The namespaces this caller may read (the memory explorer lists them).
    namespaces: mem.ltm.namespaces().filter((ns) => mayReadNamespace(c.caps, c.pid, ns)),
    embedder: mem.ltm.embedder.id,
    reindex: mem.reindex,
  };
}

/** Counts `n` memory writes against the agent's cap (EDQUOT past it); returns a refund for a failed write. */
function chargeWrites(k: Kernel, c: Caller, n: number): () => void {
  const cap = c.caps.memoryWrites;
  if (c.kind !== 'agent' || cap === null) return () => {};
  const p = c.proc;
  if (p.memoryWrites + n > cap) {
    k.log(c.pid, 'quota', `memory-write cap of ${cap} reached (${p.memoryWrites} written, ${n} more asked)`);
    throw new SysError('EDQUOT', `memory-write cap of ${cap} records reached (${p.memoryWrites} written)`);
  }
  p.memoryWrites += n;
  return () => {
    p.memoryWrites -= n;
  };
}

/** The memory `id` and its namespace, if the caller may change it (ENOENT, EPERM otherwise). */
async function writable(k: Kernel, c: Caller, id: number) {
  const mem = await k.memory();
  const ns = mem.ltm.namespaceOf(id);
  if (ns === undefined) throw new SysError('ENOENT', `no memory ${id}`);
  if (!mayWriteNamespace(c.caps, c.pid, ns))
    throw new SysError('EPERM', `no write access to memory namespace "${ns}"`);
  return { mem, ns };
}
