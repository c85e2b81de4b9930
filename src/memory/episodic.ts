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
  | 'memory.compress';

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
  private readonly records: Episode[] = [];
  private seq = 0;
  constructor(private readonly keep = 50_000) {}

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
