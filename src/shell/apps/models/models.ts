/**
 * Models: the catalogue that fits this device, load and unload with a progress
 * bar (bytes, speed, time left), what the browser has cached for models (and
 * deleting it), and remote engines (add a base URL: adding it tests it).
 */
import { css, html } from 'lit';
import type { CatalogEntry, KernelEvent } from '../../../abi/protocol';
import type { KernelClient } from '../../kernel-client';
import { AppElement } from '../app';

interface Progress {
  loaded: number;
  total: number;
  startedAt: number;
  text?: string;
  phase?: 'download' | 'gpu';
}

/** Cache Storage caches that hold model weights: ours and the engines'. */
const MODEL_CACHES = /model|transformers|webllm|agentos-engines/i;

const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;

export class AosModels extends AppElement {
  static override properties = {
    ...AppElement.properties,
    catalog: { state: true },
    progress: { state: true },
    caches: { state: true },
    busy: { state: true },
    remoteError: { state: true },
    notice: { state: true },
  };
  /** What just happened that is no error (a load the user cancelled). */
  declare notice: string;
  /** What went wrong adding a remote engine: shown under its form, where the user is looking. */
  declare remoteError: string;
  declare catalog: CatalogEntry[];
  declare progress: Record<string, Progress>;
  declare caches: { name: string; entries: number; bytes: number }[];
  declare busy: string;
  private refreshing = false;

  constructor() {
    super();
    this.catalog = [];
    this.progress = {};
    this.caches = [];
    this.busy = '';
    this.remoteError = '';
    this.notice = '';
  }

  protected override connected(k: KernelClient): void {
    void this.refresh(k);
  }

  private async refresh(k: KernelClient): Promise<void> {
    this.catalog = await k.models().catch(() => this.catalog);
    this.caches = await listCaches();
  }

  protected override onEvent(e: KernelEvent): void {
    if (
      e.type === 'model.loaded' ||
      (e.type === 'model.progress' && !this.catalog.some((m) => m.id === e.model))
    ) {
      // A model this list has not seen yet (registered elsewhere), or one that changed state.
      if (this.client && !this.refreshing) {
        this.refreshing = true;
        void this.refresh(this.client).finally(() => {
          this.refreshing = false;
        });
      }
    }
    if (e.type !== 'model.progress') return;
    const prev = this.progress[e.model];
    this.progress = {
      ...this.progress,
      [e.model]: {
        loaded: e.loaded,
        total: e.total,
        // A new phase (WebLLM: download, then onto the GPU) starts its own clock.
        startedAt: prev && prev.phase === e.phase ? prev.startedAt : performance.now(),
        ...(e.text ? { text: e.text } : {}),
        ...(e.phase ? { phase: e.phase } : {}),
      },
    };
  }

  private async load(id: string): Promise<void> {
    const k = this.client;
    if (!k) return;
    this.busy = id;
    this.notice = '';
    this.error = '';
    try {
      await k.call('models.load', { id });
    } catch (e) {
      // A cancel is what the user asked for: said as a status, not as an error.
      if ((e as { code?: string }).code === 'ECANCELED')
        this.notice = `Loading ${id} was cancelled. Files that finished downloading are kept: Load resumes from them.`;
      else this.error = (e as Error).message ?? String(e);
    }
    this.busy = '';
    const { [id]: _done, ...rest } = this.progress;
    this.progress = rest;
    await this.refresh(k);
  }

  private async cancel(id: string): Promise<void> {
    await this.run((k) => k.call('models.cancel', { id }));
  }

  private async unload(id: string): Promise<void> {
    await this.run((k) => k.call('models.unload', { id }));
    if (this.client) await this.refresh(this.client);
  }

  private async addRemote(ev: Event): Promise<void> {
    ev.preventDefault();
    const input = (ev.target as HTMLFormElement).elements.namedItem('url') as HTMLInputElement;
    this.remoteError = '';
    this.busy = `testing ${input.value.trim()}…`;
    const r = await this.run((k) =>
      k.call<{ models: string[] }>('models.add_remote', { baseUrl: input.value.trim() }),
    );
    this.busy = '';
    if (!r) {
      // The error belongs next to the form (a long catalogue would push the top of the app out of view).
      this.remoteError = this.error;
      this.error = '';
      await this.updateComplete;
      this.renderRoot.querySelector('#remote-error')?.scrollIntoView({ block: 'nearest' });
      input.focus();
    }
    if (r) {
      input.value = '';
      this.busy = `added ${r.models.length} model(s): ${r.models.join(', ')}`;
      if (this.client) await this.refresh(this.client);
    }
  }

  private async listWebLLM(): Promise<void> {
    const r = await this.run((k) => k.call<{ registered: string[] }>('models.webllm', {}));
    this.busy = r ? `${r.registered.length} WebLLM model(s) fit this GPU` : '';
    if (this.client) await this.refresh(this.client);
  }

  private bar(id: string) {
    const p = this.progress[id];
    if (!p?.total || p.loaded >= p.total) return '';
    const secs = (performance.now() - p.startedAt) / 1000;
    const speed = secs > 0 ? p.loaded / secs : 0;
    const left = speed > 0 ? (p.total - p.loaded) / speed : Number.POSITIVE_INFINITY;
    const doing = p.phase === 'gpu' ? 'loading onto the GPU' : 'downloading';
    return html`<div class="progress">
      <progress max=${p.total} value=${p.loaded} aria-label="${doing} ${id}"></progress>
      <span>${p.phase === 'gpu' ? 'on the GPU: ' : ''}${mb(p.loaded)} / ${mb(p.total)} · ${mb(speed)}/s · ${Number.isFinite(left) ? `${Math.ceil(left)} s left` : '…'}</span>
    </div>`;
  }

  override render() {
    return html`
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
      ${
        this.busy && !this.busy.startsWith('testing')
          ? html`<p class="muted" role="status">${this.busy.startsWith('added') || this.busy.includes('fit') ? this.busy : `loading ${this.busy}…`}</p>`
          : this.notice
            ? html`<p class="muted" role="status">${this.notice}</p>`
            : ''
      }
      <table aria-label="models">
        <thead><tr><th>Model</th><th>Size</th><th>State</th><th></th></tr></thead>
        <tbody>
          ${this.catalog.map(
            (m) => html`<tr>
              <td><strong>${m.id}</strong><div class="muted">${m.label ? `${m.label} · ` : ''}${m.engine} · context ${m.contextWindow}</div>${this.bar(m.id)}</td>
              <td>${m.sizeBytes ? mb(m.sizeBytes) : '—'}</td>
              <td>${m.loaded ? `loaded${m.reservedTokens ? `, ${m.reservedTokens} reserved` : ''}` : 'not loaded'}</td>
              <td>
                ${
                  m.loaded
                    ? html`<button @click=${() => this.unload(m.id)}>Unload</button>`
                    : this.busy === m.id
                      ? html`<button disabled>Load</button>
                          <button aria-label="Cancel loading ${m.id}" @click=${() => this.cancel(m.id)}>Cancel</button>`
                      : html`<button @click=${() => this.load(m.id)}>Load</button>`
                }
              </td>
            </tr>`,
          )}
        </tbody>
      </table>
      <div class="row"><button @click=${() => this.listWebLLM()}>List WebLLM models for this GPU</button></div>
      <h2>Remote engines</h2>
      <form class="row" @submit=${(e: Event) => this.addRemote(e)} novalidate>
        <input name="url" class="grow" required aria-label="base URL of an OpenAI-compatible server"
          aria-describedby="remote-error" aria-invalid=${this.remoteError ? 'true' : 'false'}
          placeholder="http://127.0.0.1:11434/v1 (Ollama, vLLM, llama.cpp, OpenAI)" />
        <button type="submit" ?disabled=${this.busy.startsWith('testing')}>Add and test</button>
      </form>
      <p id="remote-error" class="error" role=${this.remoteError ? 'alert' : 'none'}>${this.remoteError}</p>
      ${this.busy.startsWith('testing') ? html`<p class="muted" role="status">${this.busy}</p>` : ''}
      <h2>Cached on this device</h2>
      ${
        this.caches.length
          ? html`<table aria-label="model caches">
              <thead><tr><th>Model</th><th>Files</th><th>Size</th><th></th></tr></thead>
              <tbody>
                ${this.caches.map((c) => {
                  // A model being loaded or in use keeps its files (one model's delete never touches another's).
                  const busy = this.catalog.some((m) => m.id === c.name && m.loaded) || this.loading(c.name);
                  return html`<tr>
                    <td>${c.name}</td><td>${c.entries}</td><td>${mb(c.bytes)}</td>
                    <td><button aria-label="Delete cache ${c.name}" ?disabled=${busy}
                      title=${busy ? 'in use: unload it first' : 'delete its files from this device'}
                      @click=${async () => {
                        await deleteModelFiles(c.name);
                        this.caches = await listCaches();
                      }}>Delete</button></td>
                  </tr>`;
                })}
              </tbody>
            </table>`
          : html`<p class="muted">No model files cached yet.</p>`
      }
    `;
  }

  private loading(id: string): boolean {
    const p = this.progress[id];
    return !!p && (!p.total || p.loaded < p.total);
  }

  static override styles = [
    AppElement.styles,
    css`
      .progress {
        display: flex;
        gap: 8px;
        align-items: center;
        font-size: 11px;
      }
      progress {
        width: 160px;
      }
      td:nth-child(n + 2) {
        white-space: nowrap;
      }
      td:first-child {
        overflow-wrap: anywhere;
      }
    `,
  ];
}

/**
 * The model a cached file belongs to: a Hugging Face layout URL (WebLLM, transformers.js:
 * `<org>/<model>/resolve/…`) or this origin's /models/<name>/; else the cache's own name.
 */
function modelOf(url: string, cache: string): string {
  const hub = /\/([^/]+)\/resolve\//.exec(url);
  if (hub) return decodeURIComponent(hub[1]!);
  const local = /\/models\/([^/]+)\//.exec(new URL(url).pathname);
  return local ? decodeURIComponent(local[1]!) : cache;
}

/** Cached model files, by model (across the engines' caches). */
async function listCaches(): Promise<{ name: string; entries: number; bytes: number }[]> {
  if (!globalThis.caches) return [];
  const by = new Map<string, { name: string; entries: number; bytes: number }>();
  for (const name of await caches.keys()) {
    if (!MODEL_CACHES.test(name)) continue;
    const c = await caches.open(name);
    for (const r of await c.keys()) {
      const res = await c.match(r);
      const len = Number(res?.headers.get('content-length'));
      const bytes =
        Number.isFinite(len) && len > 0 ? len : ((await res?.clone().arrayBuffer())?.byteLength ?? 0);
      const model = modelOf(r.url, name);
      const row = by.get(model) ?? { name: model, entries: 0, bytes: 0 };
      row.entries++;
      row.bytes += bytes;
      by.set(model, row);
    }
  }
  return [...by.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Deletes one model's files from every model cache, and nothing else. */
async function deleteModelFiles(model: string): Promise<void> {
  for (const name of await caches.keys()) {
    if (!MODEL_CACHES.test(name)) continue;
    const c = await caches.open(name);
    for (const r of await c.keys()) if (modelOf(r.url, name) === model) await c.delete(r);
  }
}

customElements.define('aos-app-models', AosModels);
