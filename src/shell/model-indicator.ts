/**
 * <aos-model-indicator>: the taskbar's "which model agents use" — the kernel's
 * default model, updated when it changes; a click opens the welcome app to
 * choose another.
 */
import { css, html, LitElement } from 'lit';
import type { KernelClient } from './kernel-client';

interface DefaultModel {
  id: string;
  label: string | null;
  chosen: boolean;
}

export class AosModelIndicator extends LitElement {
  static override properties = {
    client: { attribute: false },
    model: { state: true },
  };
  declare client: KernelClient | null;
  declare model: DefaultModel | null;
  private off: (() => void) | null = null;

  constructor() {
    super();
    this.client = null;
    this.model = null;
  }

  override updated(changed: Map<string, unknown>): void {
    if (!changed.has('client')) return;
    this.off?.();
    const k = this.client;
    if (!k) return;
    this.off = k.on((e) => {
      if (e.type === 'model.default') this.model = { id: e.model, label: e.label, chosen: true };
    });
    void k
      .call<DefaultModel>('models.default')
      .then((m) => {
        this.model = m;
      })
      .catch(() => {});
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.off?.();
  }

  override render() {
    const m = this.model;
    if (!m) return html``;
    // On phones only the id shows; the rest stays in the name (screen readers, the tooltip).
    return html`<button
      title=${`Agents use ${m.id}${m.label ? `: ${m.label}` : ''}. Click to choose another model.`}
      @click=${() =>
        this.dispatchEvent(new CustomEvent('aos-open', { detail: 'welcome', bubbles: true, composed: true }))}
    >
      <span class="more">Agents use: </span>${m.id}${m.chosen ? '' : html`<span class="more"> (test engine)</span>`}
    </button>`;
  }

  static override styles = css`
    button {
      font: 12px system-ui, sans-serif;
      padding: 4px 10px;
      border: 1px solid var(--line);
      border-radius: 6px;
      background: transparent;
      color: inherit;
      cursor: pointer;
      white-space: nowrap;
      max-width: 40vw;
      overflow: hidden;
      text-overflow: ellipsis;
    }
    /* Phones: the window buttons need the taskbar's width more. */
    @media (max-width: 639px) {
      button {
        padding: 8px 10px;
        max-width: 24vw;
      }
      .more {
        position: absolute;
        width: 1px;
        height: 1px;
        overflow: hidden;
        clip-path: inset(50%);
      }
    }
    button:focus-visible {
      outline: 2px solid var(--term-accent);
    }
  `;
}

customElements.define('aos-model-indicator', AosModelIndicator);
