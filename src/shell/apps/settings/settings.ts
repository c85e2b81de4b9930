/**
 * Settings and permissions: theme, scheduling and context policies, storage
 * (usage, quota, persistence), each agent's grants (grant and revoke), the
 * sites allowed to embed this OS, and the audit trail.
 */
import { html } from 'lit';
import type { ProcInfo } from '../../../abi/protocol';
import type { KernelClient } from '../../kernel-client';
import { applyTheme, savedTheme, THEME_KEY, type Theme } from '../../theme';
import { AppElement } from '../app';

interface Audit {
  t: number;
  pid: number;
  kind: string;
  text: string;
}

const LISTS = ['tools', 'models', 'net', 'bus', 'memoryRead', 'memoryWrite'] as const;

export class AosSettings extends AppElement {
  static override properties = {
    ...AppElement.properties,
    theme: { state: true },
    sched: { state: true },
    storage: { state: true },
    procs: { state: true },
    selected: { state: true },
    origins: { state: true },
    audit: { state: true },
    resumeOnOpen: { state: true },
  };
  /** durable: whether running agents resume when the OS opens again. */
  declare resumeOnOpen: boolean | null;
  declare theme: Theme;
  declare sched: { policy: string; contextPolicy: string } | null;
  declare storage: { usage?: number; quota?: number; persisted?: boolean; memories?: number } | null;
  declare procs: ProcInfo[];
  declare selected: number | null;
  declare origins: { origin: string; permissions: Record<string, unknown> }[];
  declare audit: Audit[];

  constructor() {
    super();
    this.theme = savedTheme();
    this.sched = null;
    this.storage = null;
    this.procs = [];
    this.selected = null;
    this.origins = [];
    this.audit = [];
    this.resumeOnOpen = null;
  }

  protected override connected(k: KernelClient): void {
    void this.refresh(k);
  }

  private async refresh(k: KernelClient): Promise<void> {
    await this.run(async () => {
      this.sched = await k.call<AosSettings['sched']>('sched.policy', {});
      this.resumeOnOpen = (await k.call<{ resumeOnOpen: boolean }>('session.settings', {})).resumeOnOpen;
      this.storage = await k.call<AosSettings['storage']>('memory.storage', {}).catch(() => null);
      this.procs = (await k.ps()).filter((p) => p.state !== 'exited');
      this.origins = await k.call<AosSettings['origins']>('embed.policy', {});
      const kinds = ['deny', 'grant', 'revoke', 'net'];
      const logs = (
        await Promise.all(kinds.map((kind) => k.call<Audit[]>('logs', { kind, limit: 50 })))
      ).flat();
      this.audit = logs.sort((a, b) => b.t - a.t).slice(0, 80);
    });
  }

  private setTheme(t: Theme): void {
    this.theme = t;
    localStorage.setItem(THEME_KEY, t);
    applyTheme(t);
  }

  private async change(kind: 'grant' | 'revoke', pid: number, cap: string, value: string): Promise<void> {
    const permissions = (LISTS as readonly string[]).includes(cap) ? { [cap]: [value] } : { [cap]: true };
    await this.run((k) => k.call(kind, { pid, permissions }));
    if (this.client) await this.refresh(this.client);
  }

  override render() {
    const p = this.procs.find((x) => x.pid === this.selected) ?? null;
    const pct = this.storage?.quota ? ((this.storage.usage ?? 0) / this.storage.quota) * 100 : 0;
    return html`
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
      <h2>Appearance</h2>
      <div class="row" role="radiogroup" aria-label="theme">
        ${(['system', 'light', 'dark'] as const).map(
          (t) =>
            html`<label><input type="radio" name="theme" .checked=${this.theme === t} @change=${() => this.setTheme(t)} /> ${t}</label>`,
        )}
      </div>

      <h2>Scheduling</h2>
      <div class="row">
        <label>Inference policy
          <select aria-label="inference policy" @change=${(e: Event) =>
            this.run((k) => k.call('sched.policy', { policy: (e.target as HTMLSelectElement).value }))}>
            ${['priority', 'fifo', 'round-robin'].map((x) => html`<option ?selected=${this.sched?.policy === x}>${x}</option>`)}
          </select>
        </label>
        <label>Context policy
          <select aria-label="context policy" @change=${(e: Event) =>
            this.run((k) =>
              k.call('sched.policy', { contextPolicy: (e.target as HTMLSelectElement).value }),
            )}>
            ${['compress', 'evict', 'queue'].map((x) => html`<option ?selected=${this.sched?.contextPolicy === x}>${x}</option>`)}
          </select>
        </label>
      </div>
      <label class="row"><input type="checkbox" .checked=${this.resumeOnOpen ?? true}
        @change=${(e: Event) => {
          const on = (e.target as HTMLInputElement).checked;
          void this.run(async (k) => {
            this.resumeOnOpen = (
              await k.call<{ resumeOnOpen: boolean }>('session.settings', { resumeOnOpen: on })
            ).resumeOnOpen;
          });
        }} /> Resume running agents when the OS opens again (otherwise they sleep until you resume them)</label>

      <h2>Storage</h2>
      ${
        this.storage
          ? html`<div class="row">
              <progress max="100" value=${pct} aria-label="storage used"></progress>
              <span>${((this.storage.usage ?? 0) / 2 ** 20).toFixed(1)} MB of ${((this.storage.quota ?? 0) / 2 ** 20).toFixed(0)} MB ·
                ${this.storage.memories ?? 0} memories · ${this.storage.persisted ? 'persistent' : 'may be evicted under pressure'}</span>
              ${
                this.storage.persisted
                  ? ''
                  : html`<button @click=${async () => {
                      this.storage =
                        (await this.run((k) =>
                          k.call<AosSettings['storage']>('memory.storage', { persist: true }),
                        )) ?? this.storage;
                    }}>Keep my data</button>`
              }
            </div>`
          : html`<p class="muted">No storage in this context.</p>`
      }

      <h2>Permissions</h2>
      <div class="row">
        <label>Agent
          <select aria-label="agent" @change=${(e: Event) => {
            this.selected = Number((e.target as HTMLSelectElement).value) || null;
          }}>
            <option value="">choose…</option>
            ${this.procs.map((x) => html`<option value=${x.pid} ?selected=${x.pid === this.selected}>${x.pid}: ${x.task.slice(0, 40)}</option>`)}
          </select>
        </label>
      </div>
      ${
        p
          ? html`<table aria-label="grants of ${p.pid}">
              <tbody>
                ${LISTS.map(
                  (cap) => html`<tr>
                    <th>${cap}</th>
                    <td class="row">
                      ${p.capabilities[cap].map(
                        (v) =>
                          html`<span class="chip">${v} <button aria-label="Revoke ${cap} ${v}" @click=${() => this.change('revoke', p.pid, cap, v)}>×</button></span>`,
                      )}
                      <form class="row" @submit=${(e: Event) => {
                        e.preventDefault();
                        const input = (e.target as HTMLFormElement).elements.namedItem(
                          'v',
                        ) as HTMLInputElement;
                        if (input.value.trim()) void this.change('grant', p.pid, cap, input.value.trim());
                      }}>
                        <input name="v" aria-label="grant ${cap}" placeholder="add…" size="14" />
                        <button type="submit">Grant</button>
                      </form>
                    </td>
                  </tr>`,
                )}
              </tbody>
            </table>`
          : ''
      }

      <h2>Sites that may embed this OS</h2>
      <p class="muted">Besides the deployment's embed-policy.json.</p>
      <ul>
        ${this.origins.map(
          (o) => html`<li>${o.origin} <span class="muted">${JSON.stringify(o.permissions)}</span>
            <button aria-label="Remove ${o.origin}" @click=${async () => {
              await this.run((k) => k.call('embed.disallow', { origin: o.origin }));
              if (this.client) await this.refresh(this.client);
            }}>Remove</button></li>`,
        )}
      </ul>
      <form class="row" @submit=${async (e: Event) => {
        e.preventDefault();
        const input = (e.target as HTMLFormElement).elements.namedItem('origin') as HTMLInputElement;
        await this.run((k) =>
          k.call('embed.allow', { origin: input.value.trim(), permissions: { tools: ['host.*'] } }),
        );
        if (this.client) await this.refresh(this.client);
      }}>
        <input name="origin" class="grow" aria-label="site origin" placeholder="https://site.example" />
        <button type="submit">Allow</button>
      </form>

      <h2>Audit trail</h2>
      <ol class="muted" aria-label="audit trail">
        ${this.audit.map((a) => html`<li>${new Date(a.t).toLocaleTimeString()} · ${a.pid ? `agent ${a.pid}` : 'user'} · ${a.kind}: ${a.text}</li>`)}
      </ol>
    `;
  }
}

customElements.define('aos-app-settings', AosSettings);
