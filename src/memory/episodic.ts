/**
 * The episodic log: what happened, when, to whom. Append-only records the
 * kernel writes for every decision worth explaining later (spawns, exits,
 * model calls, context decisions, denials). In memory for now, bounded; the
 * IndexedDB store persists it (issue 5).
 */
export type EpisodeKind =
  | 'spawn'
  | 'exit'
  | 'model.call'
  | 'model.load'
  | 'model.unload'
  | 'context.grant'
  | 'context.queue'
  | 'context.evict'
  | 'context.compress'
  | 'context.deny'
  | 'context.release'
  | 'quota'
  | 'memory.compress'
  | 'memory.write'
  | 'memory.forget'
  | 'memory.quarantine'
  | 'net'
  | 'grant'
  | 'revoke'
  | 'deny'
  /** A checkpoint could not be used (corrupt) or a resume was given up. */
  | 'checkpoint'
  /** An agent moved to another tab, went to sleep with the OS, or resumed. */
  | 'migrate'
  /** A sandbox process of agent frames crashed, and whom it was blamed on. */
  | 'crash';

export interface Episode {
  seq: number;
  t: number;
  pid: number;
  kind: EpisodeKind;
  text: string;
  data?: unknown;
}

export interface EpisodeQuery {
  pid?: number;
  kind?: EpisodeKind;
  since?: number;
  until?: number;
  text?: string;
  limit?: number;
}

export class EpisodicLog {
  private records: Episode[] = [];
  private seq = 0;
  /** Where appended records also go (the IndexedDB store, once it is open). */
  sink: ((e: Episode) => void) | null = null;
  constructor(private readonly keep = 50_000) {}

  /** Puts back records of earlier sessions (from storage) before this session's, renumbering this session's after them. */
  restore(older: Episode[]): void {
    if (!older.length) return;
    this.continueAfter(Math.max(...older.map((e) => e.seq)));
    this.prepend(older);
  }

  /**
   * Numbers this session's records after `maxSeq`, the newest stored one (so none overwrites an
   * earlier session's): those logged so far (before storage opened) are renumbered and handed to the sink.
   */
  continueAfter(maxSeq: number): void {
    if (maxSeq > 0) {
      this.records = this.records.map((e, i) => ({ ...e, seq: maxSeq + i + 1 }));
      this.seq = maxSeq + this.records.length;
    }
    for (const e of this.records) this.sink?.(e);
  }

  /** Earlier sessions' records (oldest first, numbered before this session's), put back in front. */
  prepend(older: Episode[]): void {
    if (!older.length) return;
    const first = this.records[0]?.seq ?? Number.POSITIVE_INFINITY;
    this.records = [...older.filter((e) => e.seq < first), ...this.records].slice(-this.keep);
  }

  /**
   * Makes a record without logging it yet: for a writer that stores it in its
   * own transaction (atomically with what it describes) and then calls `commit`.
   */
  prepare(pid: number, kind: EpisodeKind, text: string, data?: unknown): Episode {
    return { seq: ++this.seq, t: Date.now(), pid, kind, text, ...(data === undefined ? {} : { data }) };
  }

  /** Adds a prepared record that its writer already stored. */
  commit(e: Episode): void {
    this.records.push(e);
    if (this.records.length > this.keep) this.records.splice(0, this.records.length - this.keep);
  }

  append(pid: number, kind: EpisodeKind, text: string, data?: unknown): Episode {
    const e: Episode = {
      seq: ++this.seq,
      t: Date.now(),
      pid,
      kind,
      text,
      ...(data === undefined ? {} : { data }),
    };
    this.records.push(e);
    if (this.records.length > this.keep) this.records.splice(0, this.records.length - this.keep);
    this.sink?.(e);
    return e;
  }

  query(q: EpisodeQuery = {}): Episode[] {
    const needle = q.text?.toLowerCase();
    const out = this.records.filter(
      (e) =>
        (q.pid === undefined || e.pid === q.pid) &&
        (q.kind === undefined || e.kind === q.kind) &&
        (q.since === undefined || e.t >= q.since) &&
        (q.until === undefined || e.t <= q.until) &&
        (!needle || e.text.toLowerCase().includes(needle)),
    );
    return q.limit ? out.slice(-q.limit) : out;
  }
}
