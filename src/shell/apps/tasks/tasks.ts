/**
 * Task manager: live processes — state, priority (editable), model, context
 * reserved, tokens against quota, mailbox depth; kill, suspend, resume; and a
 * chart of tokens per second across all agents.
 */
import { css, html, svg } from 'lit';
import type { KernelEvent, ProcInfo } from '../../../abi/protocol';
import type { KernelClient } from '../../kernel-client';
import { AppElement } from '../app';

export class AosTasks extends AppElement {
  static override properties = {
    ...AppElement.properties,
    procs: { state: true },
    rates: { state: true },
    showExited: { state: true },
  };
  declare procs: ProcInfo[];
  declare rates: number[];
  declare showExited: boolean;
  private timer: ReturnType<typeof setInterval> | null = null;
  private lastTotal: number | null = null;

  constructor() {
    super();
    this.procs = [];
    this.rates = [];
    this.showExited = false;
  }

  protected override connected(k: KernelClient): void {
    const refresh = async () => {
      const ps = await k.ps().catch(() => null);
      if (!ps) return;
      this.procs = ps;
      const total = ps.reduce((n, p) => n + p.usage.completion_tokens, 0);
      if (this.lastTotal !== null)
        this.rates = [...this.rates.slice(-59), Math.max(0, total - this.lastTotal)];
      this.lastTotal = total;
    };
    void refresh();
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(refresh, 1000);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    if (this.timer) clearInterval(this.timer);
  }

  protected override onEvent(e: KernelEvent): void {
    if (e.type !== 'proc') return;
    const i = this.procs.findIndex((p) => p.pid === e.proc.pid);
    const merged = i >= 0 ? { ...this.procs[i]!, ...e.proc } : e.proc;
    this.procs = i >= 0 ? this.procs.map((p, j) => (j === i ? merged : p)) : [...this.procs, merged];
  }

  private chart() {
    const W = 240;
    const H = 40;
    const max = Math.max(1, ...this.rates);
    const pts = this.rates.map((r, i) => `${(i / 59) * W},${H - (r / max) * (H - 2) - 1}`).join(' ');
    return html`<figure class="chart">
      <svg width=${W} height=${H} role="img" aria-label="tokens per second over the last minute, now ${this.rates.at(-1) ?? 0}">
        ${svg`<polyline points=${pts} fill="none" stroke="currentColor" stroke-width="1.5" />`}
      </svg>
      <figcaption>${this.rates.at(-1) ?? 0} tok/s now · peak ${max}</figcaption>
    </figure>`;
  }

  override render() {
    const rows = this.procs
      // A restartable agent is the user's to restart: never hidden behind "show exited".
      .filter((p) => this.showExited || p.state !== 'exited' || p.restartable)
      .sort((a, b) => a.pid - b.pid);
    return html`
      <div class="row">
        ${this.chart()}
        <label class="row"><input type="checkbox" .checked=${this.showExited} @change=${(e: Event) => {
          this.showExited = (e.target as HTMLInputElement).checked;
        }} /> show exited</label>
      </div>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
      <table aria-label="processes">
        <thead>
          <tr><th>PID</th><th>Task</th><th>State</th><th>Host</th><th>Moves</th><th>Priority</th><th>Model</th><th>Context</th><th>Tokens</th><th>Mailbox</th><th>Actions</th></tr>
        </thead>
        <tbody>
          ${rows.map((p) => {
            const used = p.usage.prompt_tokens + p.usage.completion_tokens;
            const quota = p.capabilities.tokenQuota;
            return html`<tr data-pid=${p.pid}>
              <td>${p.pid}</td>
              <td title=${p.task}>${p.task.length > 40 ? `${p.task.slice(0, 39)}…` : p.task}</td>
              <td>${p.state}${p.exitCode !== null ? ` (${p.exitCode})` : ''}</td>
              <td>${hostLabel(p.hostTab, this.client?.tabId)}</td>
              <td title="times it moved to another tab">${p.migrations ?? 0}</td>
              <td>
                <input type="number" min="-20" max="19" step="1" .value=${String(p.priority)} aria-label="priority of ${p.pid}"
                  ?disabled=${p.state === 'exited'}
                  @change=${(e: Event) => {
                    const v = Number((e.target as HTMLInputElement).value);
                    void this.run((k) => k.renice(p.pid, v));
                  }} />
              </td>
              <td>${p.model ?? '—'}</td>
              <td>${p.contextReserved ?? 0}</td>
              <td>${used}${quota !== null ? ` / ${quota}` : ''}</td>
              <td>${p.mailbox ?? 0}</td>
              <td class="row">
                ${
                  p.state === 'exited'
                    ? p.restartable
                      ? html`<button @click=${() => this.run((k) => k.call('restart', { pid: p.pid }))}>Restart</button>`
                      : ''
                    : p.state === 'sleeping' && !p.hostTab
                      ? html`<button @click=${() => this.run((k) => k.call('restart', { pid: p.pid }))}>Resume</button>
                          <button @click=${() => this.run((k) => k.kill(p.pid))}>Kill</button>`
                      : html`
                      ${
                        p.state === 'suspended'
                          ? html`<button @click=${() => this.run((k) => k.resume(p.pid))}>Resume</button>`
                          : html`<button @click=${() => this.run((k) => k.suspend(p.pid))}>Suspend</button>`
                      }
                      <button @click=${() => this.run((k) => k.kill(p.pid))}>Kill</button>`
                }
              </td>
            </tr>`;
          })}
        </tbody>
      </table>
      ${rows.length ? '' : html`<p class="muted">No processes. Start one from the terminal or Agent chat.</p>`}
    `;
  }

  static override styles = [
    AppElement.styles,
    css`
      input[type='number'] {
        width: 4.5em;
      }
      .chart {
        margin: 0;
        color: var(--term-accent);
      }
      figcaption {
        font-size: 11px;
        color: var(--fg);
        opacity: 0.75;
      }
    `,
  ];
}

/** Where an agent runs: this tab, another tab (short id), or nowhere yet. */
function hostLabel(tab: string | null, mine: string | undefined): string {
  if (!tab) return '—';
  return tab === mine ? 'this tab' : `tab ${tab.slice(0, 8)}`;
}

customElements.define('aos-app-tasks', AosTasks);
