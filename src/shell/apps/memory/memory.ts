/**
 * Memory explorer: search long-term memory (with scores), browse and filter by
 * namespace, delete; and an agent's episodic timeline.
 */
import { html } from 'lit';
import type { KernelClient } from '../../kernel-client';
import { AppElement } from '../app';

interface Hit {
  id: number;
  text: string;
  namespace: string;
  score: number;
  createdAt?: number;
}
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
  };
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
  }

  protected override connected(k: KernelClient): void {
    void this.run(async () => {
      const s = await k.call<{ memories: number; usage?: number; quota?: number; namespaces?: string[] }>(
        'memory.storage',
        {},
      );
      this.stats = s;
      this.namespaces = s.namespaces ?? [];
    });
  }

  private async search(ev: Event): Promise<void> {
    ev.preventDefault();
    const f = ev.target as HTMLFormElement;
    const query = (f.elements.namedItem('q') as HTMLInputElement).value.trim();
    const ns = (f.elements.namedItem('ns') as HTMLSelectElement).value;
    if (!query) return;
    const hits = await this.run((k) =>
      k.call<Hit[]>('memory.recall', { query, k: 20, namespaces: ns ? [ns] : ['*'] }),
    );
    if (hits) this.hits = hits;
  }

  private async forget(h: Hit): Promise<void> {
    await this.run((k) => k.call('memory.forget', { id: h.id }));
    this.hits = (this.hits ?? []).filter((x) => x.id !== h.id);
  }

  private async showTimeline(ev: Event): Promise<void> {
    ev.preventDefault();
    const pid = Number(((ev.target as HTMLFormElement).elements.namedItem('pid') as HTMLInputElement).value);
    if (!Number.isInteger(pid) || pid < 0) return;
    const log = await this.run((k) => k.call<Episode[]>('logs', { pid, limit: 500 }));
    if (log) this.timeline = log;
  }

  override render() {
    return html`
      <p class="muted">
        ${this.stats ? `${this.stats.memories} memories` : ''}${this.stats?.usage !== undefined ? ` · ${(this.stats.usage / 2 ** 20).toFixed(1)} MB used` : ''}
      </p>
      <form class="row" role="search" @submit=${(e: Event) => this.search(e)}>
        <input name="q" type="search" class="grow" aria-label="search memory" placeholder="Search long-term memory…" />
        <select name="ns" aria-label="namespace">
          <option value="">all namespaces</option>
          ${this.namespaces.map((n) => html`<option value=${n}>${n}</option>`)}
        </select>
        <button type="submit">Search</button>
      </form>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
      ${
        this.hits
          ? html`<table aria-label="search results">
              <thead><tr><th>Score</th><th>Namespace</th><th>Memory</th><th></th></tr></thead>
              <tbody>
                ${this.hits.map(
                  (h) => html`<tr>
                    <td>${h.score.toFixed(3)}</td>
                    <td>${h.namespace}</td>
                    <td>${h.text}</td>
                    <td><button aria-label="Delete memory ${h.id}" @click=${() => this.forget(h)}>Delete</button></td>
                  </tr>`,
                )}
              </tbody>
            </table>
            ${this.hits.length ? '' : html`<p class="muted">Nothing found.</p>`}`
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
