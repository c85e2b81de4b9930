/**
 * Memory explorer: the newest memories at once (an empty search lists them),
 * search with scores, filter by namespace (changing it re-runs the search),
 * delete with undo; and an agent's episodic timeline.
 */
import { html } from 'lit';
import type { KernelClient } from '../../kernel-client';
import { AppElement } from '../app';

interface Hit {
  id: number;
  text: string;
  namespace: string;
  /** Absent when listed newest-first rather than searched. */
  score?: number;
  metadata?: Record<string, unknown>;
  createdAt?: number;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
interface Episode {
  seq: number;
  t: number;
  pid: number;
  kind: string;
  text: string;
}

export class AosMemory extends AppElement {
  static override properties = {
    ...AppElement.properties,
    hits: { state: true },
    namespaces: { state: true },
    timeline: { state: true },
    stats: { state: true },
    searched: { state: true },
    deleted: { state: true },
  };
  /** The query the list shows ('' = newest first). */
  declare searched: string;
  /** The last deleted memory, while it can still be brought back. */
  declare deleted: Hit | null;
  declare hits: Hit[] | null;
  declare namespaces: string[];
  declare timeline: Episode[] | null;
  declare stats: { memories: number; usage?: number; quota?: number } | null;

  constructor() {
    super();
    this.hits = null;
    this.namespaces = [];
    this.timeline = null;
    this.stats = null;
    this.searched = '';
    this.deleted = null;
  }

  protected override connected(k: KernelClient): void {
    void this.refreshStats(k);
    void this.search();
  }

  private async refreshStats(k: KernelClient): Promise<void> {
    await this.run(async () => {
      const s = await k.call<{ memories: number; usage?: number; quota?: number; namespaces?: string[] }>(
        'memory.storage',
        {},
      );
      this.stats = s;
      this.namespaces = s.namespaces ?? [];
    });
  }

  /** Runs what the form says: a search, or (empty) the newest memories; in the chosen namespace. */
  private async search(ev?: Event): Promise<void> {
    ev?.preventDefault();
    const f = this.renderRoot.querySelector<HTMLFormElement>('form[role=search]');
    const query = (f?.elements.namedItem('q') as HTMLInputElement | null)?.value.trim() ?? '';
    const ns = (f?.elements.namedItem('ns') as HTMLSelectElement | null)?.value ?? '';
    const namespaces = ns ? [ns] : ['*'];
    const hits = await this.run((k) =>
      query
        ? k.call<Hit[]>('memory.recall', { query, k: 20, namespaces })
        : k.call<Hit[]>('memory.list', { namespaces, limit: 50 }),
    );
    if (hits) {
      this.hits = hits;
      this.searched = query;
    }
  }

  private async forget(h: Hit): Promise<void> {
    const done = await this.run((k) => k.call('memory.forget', { id: h.id }).then(() => true));
    if (!done) return;
    this.hits = (this.hits ?? []).filter((x) => x.id !== h.id);
    this.deleted = h;
    if (this.client) await this.refreshStats(this.client);
  }

  /** Brings the last deleted memory back (as a new memory with the same text, namespace and metadata). */
  private async undo(): Promise<void> {
    const h = this.deleted;
    if (!h) return;
    const r = await this.run((k) =>
      k.call<{ ids: number[] }>('memory.remember', {
        items: [{ text: h.text, namespace: h.namespace, ...(h.metadata ? { metadata: h.metadata } : {}) }],
      }),
    );
    if (!r) return;
    this.deleted = null;
    if (this.client) await this.refreshStats(this.client);
    await this.search();
  }

  private async showTimeline(ev: Event): Promise<void> {
    ev.preventDefault();
    const pid = Number(((ev.target as HTMLFormElement).elements.namedItem('pid') as HTMLInputElement).value);
    if (!Number.isInteger(pid) || pid < 0) return;
    const log = await this.run((k) => k.call<Episode[]>('logs', { pid, limit: 500 }));
    if (log) this.timeline = log;
  }

  // A status: aria-label is prohibited on a plain paragraph (axe: aria-prohibited-attr while it is still empty).
  override render() {
    return html`
      <p class="muted" role="status" aria-label="memory count">
        ${this.stats ? plural(this.stats.memories, 'memory', 'memories') : ''}${this.stats?.usage !== undefined ? ` · ${(this.stats.usage / 2 ** 20).toFixed(1)} MB used` : ''}
      </p>
      <form class="row" role="search" @submit=${(e: Event) => this.search(e)}>
        <input name="q" type="search" class="grow" aria-label="search memory" placeholder="Search (empty: newest first)" />
        <select name="ns" aria-label="namespace" @change=${() => this.search()}>
          <option value="">all namespaces</option>
          ${this.namespaces.map((n) => html`<option value=${n}>${n}</option>`)}
        </select>
        <button type="submit">Search</button>
      </form>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
      ${
        this.deleted
          ? html`<p class="row" role="status">Deleted “${this.deleted.text.length > 60 ? `${this.deleted.text.slice(0, 59)}…` : this.deleted.text}”.
              <button @click=${() => this.undo()}>Undo</button></p>`
          : ''
      }
      ${
        this.hits
          ? html`<p class="muted">${this.searched ? `Best matches for “${this.searched}”` : 'Newest first'}</p>
            <table aria-label="search results" ?hidden=${!this.hits.length}>
              <thead><tr><th>${this.searched ? 'Score' : 'When'}</th><th>Namespace</th><th>Memory</th><th></th></tr></thead>
              <tbody>
                ${this.hits.map(
                  (h) => html`<tr>
                    <td>${h.score !== undefined ? h.score.toFixed(3) : h.createdAt ? new Date(h.createdAt).toLocaleString() : ''}</td>
                    <td>${h.namespace}</td>
                    <td>${h.text}</td>
                    <td><button aria-label="Delete memory ${h.id}" @click=${() => this.forget(h)}>Delete</button></td>
                  </tr>`,
                )}
              </tbody>
            </table>
            ${this.hits.length ? '' : html`<p class="muted">${this.searched ? 'Nothing found.' : 'No memories yet: agents (and remember in the terminal) add them.'}</p>`}`
          : ''
      }
      <h2>Episodic timeline</h2>
      <form class="row" @submit=${(e: Event) => this.showTimeline(e)}>
        <input name="pid" type="number" min="0" aria-label="process id" placeholder="pid (0: the user)" />
        <button type="submit">Show</button>
      </form>
      ${
        this.timeline
          ? html`<ol class="timeline" aria-label="timeline">
              ${this.timeline.map(
                (e) =>
                  html`<li><time>${new Date(e.t).toLocaleTimeString()}</time> <strong>${e.kind}</strong> ${e.text}</li>`,
              )}
            </ol>`
          : ''
      }
    `;
  }
}

customElements.define('aos-app-memory', AosMemory);
