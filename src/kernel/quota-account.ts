/**
 * What an agent tree shares: lifetime quotas, and its mailboxes' bytes.
 *
 * `tokenQuota`, `memoryWrites` and `limits.memoryBytes` are totals over a life, and a child gets
 * at most its parent's. Counted per process alone, an agent given 300 tokens spawned children
 * with 300 more each, and a chain of short-lived children wrote memory without end. So each
 * process has an account linked to its spawner's; a charge must fit every account up the chain
 * and is added to each. An account outlives its process while a descendant refers to it (an
 * exited parent's quota still bounds its orphans). A quota the user raises on a process is the
 * user's word: its charges stop there (`independent`). The root's account also holds the gauge
 * of the tree's mailboxes (bus.ts), so 64 children cannot hold 64 mailboxes' worth.
 */
import type { Capabilities } from '../abi/capabilities';
import type { TreeGauge } from './bus';
import { effective, fmtBytes, limitsOf } from './limits';

export type QuotaKind = 'tokens' | 'memoryWrites' | 'memoryBytes';

/** Each quota as the capabilities say it (null: none); memoryBytes has a default and a ceiling. */
const LIMIT_OF: Record<QuotaKind, (c: Capabilities) => number | null> = {
  tokens: (c) => c.tokenQuota,
  memoryWrites: (c) => c.memoryWrites,
  memoryBytes: (c) => effective(limitsOf(c), 'memoryBytes'),
};

export interface Room {
  /** How much more may be charged (the least room up the chain). */
  left: number;
  /** Whose quota that is, and the quota itself. */
  pid: number;
  quota: number;
  used: number;
}

export class QuotaAccount {
  /** Charged by this process and its descendants (what its quotas are held against). */
  readonly spent: Record<QuotaKind, number> = { tokens: 0, memoryWrites: 0, memoryBytes: 0 };
  /** Charged by this process alone (saved with the session; the chain is summed again on reading). */
  readonly own: Record<QuotaKind, number> = { tokens: 0, memoryWrites: 0, memoryBytes: 0 };
  /** Set when the user raised one of this process's quotas: charges stop here. */
  independent = false;
  /** On a tree's root: what the tree's mailboxes hold together (bus.ts), made on first use. */
  private gauge: TreeGauge | null = null;

  constructor(
    readonly pid: number,
    private readonly caps: () => Capabilities,
    readonly parent: QuotaAccount | null,
  ) {}

  private limit(kind: QuotaKind): number | null {
    return LIMIT_OF[kind](this.caps());
  }

  /** The accounts a charge of this process goes to: its own, then its spawners' up to an independent one. */
  private *chain(): Generator<QuotaAccount> {
    for (let a: QuotaAccount | null = this, hops = 0; a && hops < 10_000; hops++) {
      yield a;
      if (a.independent) return;
      a = a.parent;
    }
  }

  /** The gauge the mailboxes of this process's whole tree share: on its root's account, 4 × the root's limits.mailboxBytes. */
  mailboxes(): TreeGauge {
    let root: QuotaAccount = this;
    for (let hops = 0; root.parent && hops < 10_000; hops++) root = root.parent;
    root.gauge ??= {
      bytes: 0,
      max: 4 * effective(limitsOf(root.caps()), 'mailboxBytes'),
      root: root.pid,
    };
    return root.gauge;
  }

  /** The least room for `kind` up the chain, or null when no account on it has a quota. */
  room(kind: QuotaKind): Room | null {
    let best: Room | null = null;
    for (const a of this.chain()) {
      const quota = a.limit(kind);
      if (quota === null) continue;
      const left = Math.max(0, quota - a.spent[kind]);
      if (!best || left < best.left) best = { left, pid: a.pid, quota, used: a.spent[kind] };
    }
    return best;
  }

  /** Adds `n` (negative: a refund) to every account up the chain. The caller checked room. */
  add(kind: QuotaKind, n: number): void {
    this.own[kind] += n;
    for (const a of this.chain()) a.spent[kind] += n;
  }

  /**
   * Charges `n` of `kind` if it fits every quota up the chain, else EDQUOT naming whose quota it is.
   * Returns the refund (for a write that failed).
   */
  charge(kind: QuotaKind, n: number, refused: (text: string) => never): () => void {
    const r = this.room(kind);
    if (r && n > r.left) refused(this.describe(kind, r, n));
    this.add(kind, n);
    return () => this.add(kind, -n);
  }

  /** A readable EDQUOT text: what is used up, whose quota it is, and how much was asked. */
  describe(kind: QuotaKind, r: Room, asked: number): string {
    const whose = r.pid === this.pid ? '' : ` of process ${r.pid}'s tree (it and what it spawns share it)`;
    const fmt = kind === 'memoryBytes' ? fmtBytes : (x: number) => String(x);
    const name = {
      tokens: 'token quota',
      memoryWrites: 'memory-write cap',
      memoryBytes: 'long-term memory quota',
    }[kind];
    const unit = kind === 'memoryWrites' ? ' records' : kind === 'tokens' ? ' tokens' : '';
    const limit = { tokens: 'tokenQuota', memoryWrites: 'memoryWrites', memoryBytes: 'limits.memoryBytes' }[
      kind
    ];
    return `${name}${whose} of ${fmt(r.quota)}${unit} reached (${fmt(r.used)} used; ${fmt(asked)} more asked; ${limit})`;
  }
}

/** What a saved session holds of an account: the process's own charges, read back defensively. */
export function readCharges(v: unknown): Record<QuotaKind, number> | null {
  if (!v || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  const out = { tokens: 0, memoryWrites: 0, memoryBytes: 0 };
  for (const k of Object.keys(out) as QuotaKind[]) {
    const n = o[k];
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return null;
    out[k] = n;
  }
  return out;
}

/** Whether a grant raises one of the lifetime quotas (then the process's account becomes independent). */
export function raisesQuota(before: Capabilities, after: Capabilities): boolean {
  const inf = (v: number | null) => v ?? Number.POSITIVE_INFINITY;
  return (Object.keys(LIMIT_OF) as QuotaKind[]).some(
    (k) => inf(LIMIT_OF[k](before)) < inf(LIMIT_OF[k](after)),
  );
}
