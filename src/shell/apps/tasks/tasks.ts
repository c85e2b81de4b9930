/**
 * Task manager: live processes — state, priority (editable), model, context
 * reserved, tokens against quota, mailbox depth; kill, suspend, resume; and a
 * chart of tokens per second across all agents.
 */
import { css, html, svg } from 'lit';
import { guard } from 'lit/directives/guard.js';
import { repeat } from 'lit/directives/repeat.js';
import { styleMap } from 'lit/directives/style-map.js';
import type { KernelEvent, ProcInfo } from '../../../abi/protocol';
import type { KernelClient } from '../../kernel-client';
import { AppElement } from '../app';
import { LiveProcs } from './live-procs';
import { rowWindow } from './row-window';

/** Live figures (tokens, tok/s) change many times a second per process: shown at most this often. */
const LIVE_MS = 250;

/** A process's state, with what its model request is doing while it streams (live-usage.ts). */
function stateText(p: ProcInfo) {
  const g = p.generation;
  if (!g || p.state === 'exited' || p.state === 'suspended') return p.state;
  const live =
    g.phase === 'waiting' ? 'waiting for the model' : `generating · ${Math.round(g.tokensPerSecond)} tok/s`;
  // A phone shows the plain state so the row's controls still fit (the chart shows the rate).
  return html`<span class="live">${live}</span><span class="plain">${p.state}</span>`;
}

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
  private readonly live = new LiveProcs();
  private renderQueued = false;
  private lastRender = 0;
  /** Mean height of a rendered row, for the spacers that stand in for rows out of view. */
  private rowHeight = 34;
  private readonly onScroll = () => {
    if (this.procs.length > 0) this.renderSoon();
  };

  override connectedCallback(): void {
    super.connectedCallback();
    // The table's scroller is inside the shadow root; scroll events do not bubble, so listen in capture.
    this.renderRoot.addEventListener('scroll', this.onScroll, { capture: true, passive: true });
  }

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
      // Events that came before this answer are older than it (the kernel sends them first).
      this.live.replace(ps);
      this.renderNow();
      const total = this.live.completionTokens();
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
    this.renderRoot.removeEventListener('scroll', this.onScroll, { capture: true });
  }

  protected override onEvent(e: KernelEvent): void {
    if (e.type !== 'proc') return;
    this.live.update(e.proc);
    this.renderSoon();
  }

  /** One render for all the events of a while: at the next animation frame, at most every LIVE_MS. */
  private renderSoon(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    const wait = Math.max(0, this.lastRender + LIVE_MS - performance.now());
    setTimeout(() => requestAnimationFrame(() => this.renderNow()), wait);
  }

  private renderNow(): void {
    this.renderQueued = false;
    this.lastRender = performance.now();
    this.procs = this.live.list();
    this.requestUpdate(); // a scroll moves the window even when no process changed
  }

  override updated(changed: Map<string, unknown>): void {
    super.updated(changed);
    const rows = this.renderRoot.querySelectorAll<HTMLElement>('tbody tr[data-pid]');
    if (rows.length) {
      let h = 0;
      for (const r of rows) h += r.offsetHeight;
      this.rowHeight = h / rows.length;
    }
  }

  /** Tokens per second over the last minute: a filled area on a framed grid, right-aligned to now. */
  private chart() {
    const W = 300;
    const H = 64;
    const max = Math.max(1, ...this.rates);
    const peak = Math.max(0, ...this.rates);
    const x = (i: number) => W - ((this.rates.length - 1 - i) / 59) * W;
    const y = (r: number) => H - 2 - (r / max) * (H - 6);
    const line = this.rates.map((r, i) => `${x(i).toFixed(1)},${y(r).toFixed(1)}`).join(' ');
    const area = this.rates.length ? `${x(0).toFixed(1)},${H} ${line} ${W},${H}` : '';
    return html`<figure class="chart">
      <svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="tokens per second over the last minute, now ${this.rates.at(-1) ?? 0}, peak ${peak}">
        ${svg`<line x1="0" y1=${H / 2} x2=${W} y2=${H / 2} class="grid" />
          <polygon points=${area} class="area" />
          <polyline points=${line} class="line" />`}
      </svg>
      <figcaption><strong>${this.rates.at(-1) ?? 0}</strong> tokens/s now · peak ${peak} in the last minute</figcaption>
    </figure>`;
  }

  override render() {
    const rows = this.procs
      // A restartable agent is the user's to restart: never hidden behind "show exited".
      .filter((p) => this.showExited || p.state !== 'exited' || p.restartable);
    // Hundreds of rows: only those in view (and a margin) are in the DOM.
    const scroller = this.renderRoot.querySelector<HTMLElement>('.scroller');
    const body = this.renderRoot.querySelector<HTMLElement>('tbody');
    const win = rowWindow(
      rows.length,
      { scrollTop: scroller?.scrollTop ?? 0, height: scroller?.clientHeight || 600 },
      body && scroller
        ? body.getBoundingClientRect().top - scroller.getBoundingClientRect().top + scroller.scrollTop
        : 0,
      this.rowHeight,
    );
    return html`
      <div class="row top">
        ${this.chart()}
        <label class="row"><input type="checkbox" .checked=${this.showExited} @change=${(e: Event) => {
          this.showExited = (e.target as HTMLInputElement).checked;
        }} /> show exited</label>
      </div>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
      <div class="scroller" tabindex="0" role="region" aria-label="process table">
      <table aria-label="processes">
        <thead>
          <tr><th>PID</th><th>Task</th><th>State</th><th>Runs in</th><th>Priority</th><th>Model</th><th>Context</th><th>Tokens</th><th>Mailbox</th><th>Actions</th></tr>
        </thead>
        <tbody>
          ${spacer(win.start * this.rowHeight)}
          ${repeat(
            rows.slice(win.start, win.end),
            (p) => p.pid,
            // A row whose process did not change is not rendered again.
            (p) => guard([p, this.client?.tabId], () => this.row(p)),
          )}
          ${spacer((rows.length - win.end) * this.rowHeight)}
        </tbody>
      </table>
      </div>
      ${rows.length ? '' : html`<p class="muted">No processes. Start one from the terminal or Agent chat.</p>`}
    `;
  }

  private row(p: ProcInfo) {
    const used = p.usage.prompt_tokens + p.usage.completion_tokens;
    const quota = p.capabilities.tokenQuota;
    return html`<tr data-pid=${p.pid}>
              <td>${p.pid}</td>
              <td title=${p.task}>${p.task.length > 40 ? `${p.task.slice(0, 39)}…` : p.task}</td>
              <td class="state">${stateText(p)}${p.exitCode !== null ? ` (${p.exitCode})` : ''}${
                p.adoptedFrom !== undefined
                  ? html` <span title="its parent ${p.adoptedFrom} exited; the kernel adopted it">(adopted from ${p.adoptedFrom})</span>`
                  : ''
              }</td>
              <td>${hostLabel(p.hostTab, this.client?.tabId)}${p.migrations ? html` <span class="muted" title="times it moved to another tab">· moved ${p.migrations}×</span>` : ''}</td>
              <td>
                ${
                  p.state === 'exited'
                    ? html`<span class="muted">${p.priority}</span>`
                    : html`<input type="number" min="-20" max="19" step="1" .value=${String(p.priority)} aria-label="priority of ${p.pid}"
                  @change=${(e: Event) => {
                    const v = Number((e.target as HTMLInputElement).value);
                    void this.run((k) => k.renice(p.pid, v));
                  }} />`
                }
              </td>
              <td>${p.model ?? '—'}</td>
              <td>${p.contextReserved ?? 0}</td>
              <td>${used}${quota !== null ? ` / ${quota}` : ''}</td>
              <td>${p.mailbox ?? 0}</td>
              <td><div class="actions">
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
              </div></td>
            </tr>`;
  }

  static override styles = [
    AppElement.styles,
    css`
      input[type='number'] {
        width: 4.5em;
      }
      .top {
        align-items: flex-end;
        justify-content: space-between;
      }
      .chart {
        margin: 0;
        flex: 1 1 240px;
        max-width: 420px;
        color: var(--term-accent);
      }
      .chart svg {
        display: block;
        width: 100%;
        height: 64px;
        border: 1px solid var(--line);
        border-radius: 6px;
        background: var(--chrome);
      }
      .chart .area {
        fill: currentColor;
        fill-opacity: 0.25;
      }
      .chart .line {
        fill: none;
        stroke: currentColor;
        stroke-width: 2;
        vector-effect: non-scaling-stroke;
      }
      .chart .grid {
        stroke: var(--line);
        stroke-dasharray: 4 4;
        vector-effect: non-scaling-stroke;
      }
      figcaption {
        font-size: 12px;
        margin-top: 2px;
      }
      /* A wide table scrolls inside the window on narrow screens instead of squeezing its cells. */
      .scroller {
        overflow-x: auto;
      }
      td {
        vertical-align: middle;
        white-space: nowrap;
      }
      /* The live state ("generating · 12 tok/s") wraps rather than push the actions out of the window. */
      td.state {
        white-space: normal;
        max-width: 10em;
      }
      td[title] {
        white-space: normal;
        min-width: 10em;
      }
      .actions {
        display: flex;
        gap: 6px;
        flex-wrap: nowrap;
      }
      .plain {
        display: none;
      }
      /* Phones: where it runs, model, context and mailbox give way (top in the terminal shows them) so
         the controls fit. */
      @media (max-width: 639px) {
        th:nth-child(4),
        td:nth-child(4),
        th:nth-child(6),
        td:nth-child(6),
        th:nth-child(7),
        td:nth-child(7),
        th:nth-child(9),
        td:nth-child(9) {
          display: none;
        }
        td[title] {
          min-width: 5em;
        }
        .live {
          display: none;
        }
        .plain {
          display: inline;
        }
        th,
        td {
          padding: 4px 3px;
        }
        input[type='number'] {
          width: 3.5em;
        }
        .actions {
          flex-direction: column;
        }
      }
    `,
  ];
}

/** Stands in for rows out of view, so the scrollbar stays true to the whole table. */
function spacer(px: number) {
  return px > 0
    ? html`<tr class="spacer" aria-hidden="true" style=${styleMap({ height: `${px}px` })}></tr>`
    : '';
}

/** Where an agent runs: this tab, another tab (short id), or nowhere yet. */
function hostLabel(tab: string | null, mine: string | undefined): string {
  if (!tab) return '—';
  return tab === mine ? 'this tab' : `tab ${tab.slice(0, 8)}`;
}

customElements.define('aos-app-tasks', AosTasks);
