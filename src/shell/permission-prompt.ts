/**
 * <aos-permission-prompt>: an agent asks for more than it was given; the user
 * answers allow once / always / deny. One card per pending request; any tab of
 * the OS may answer, and the others drop the card when the kernel says it is done.
 * A request an open chat shows inline (ask-claims.ts) is left out here, and comes back here
 * if that chat closes or moves to another thread before it is answered.
 */
import { css, html, LitElement, nothing } from 'lit';
import type { PermissionAsk } from '../abi/protocol';
import { askClaims } from './ask-claims';
import type { KernelClient } from './kernel-client';

export class AosPermissionPrompt extends LitElement {
  static override properties = {
    client: { attribute: false },
    asks: { state: true },
  };
  declare client: KernelClient | null;
  declare asks: PermissionAsk[];
  private off: (() => void) | null = null;
  private readonly reclaim = () => this.requestUpdate();

  constructor() {
    super();
    this.client = null;
    this.asks = [];
  }

  override updated(changed: Map<string, unknown>): void {
    if (!changed.has('client')) return;
    this.off?.();
    const k = this.client;
    if (!k) return;
    this.off = k.on((e) => {
      if (e.type === 'ask') this.asks = [...this.asks.filter((a) => a.id !== e.ask.id), e.ask];
      else if (e.type === 'ask.done') this.asks = this.asks.filter((a) => a.id !== e.id);
    });
    // Requests made before this tab opened.
    void k.call<PermissionAsk[]>('permission.pending', {}).then((pending) => {
      this.asks = [...pending, ...this.asks.filter((a) => !pending.some((p) => p.id === a.id))];
    });
  }

  override connectedCallback(): void {
    super.connectedCallback();
    askClaims.addEventListener('change', this.reclaim);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.off?.();
    askClaims.removeEventListener('change', this.reclaim);
  }

  private answer(a: PermissionAsk, answer: 'once' | 'always' | 'deny'): void {
    this.asks = this.asks.filter((x) => x.id !== a.id);
    void this.client?.call('permission.answer', { id: a.id, answer }).catch(() => {});
    this.dispatchEvent(
      new CustomEvent('aos-answered', { detail: { id: a.id, answer }, bubbles: true, composed: true }),
    );
  }

  override render() {
    const shown = this.asks.filter((a) => !askClaims.has(a.pid));
    if (!shown.length) return nothing;
    return shown.map(
      (a) => html`
        <section role="alertdialog" aria-labelledby="ask-${a.id}" aria-describedby="ask-${a.id}-why">
          <h2 id="ask-${a.id}">Agent ${a.pid} (${a.program.replace(/^\((.*)\)$/, '$1')}) asks for more</h2>
          <figure class="why">
            <figcaption>Agent ${a.pid} says (its own words, not checked by the OS)${
              a.repeats ? html` — asked ${a.repeats + 1} times` : nothing
            }:</figcaption>
            <blockquote id="ask-${a.id}-why">“${a.reason}”</blockquote>
          </figure>
          <ul>
            ${Object.entries(a.permissions).map(
              ([k, v]) =>
                html`<li>
                  <strong>${k}</strong>:
                  ${Array.isArray(v) ? v.join(', ') : v && typeof v === 'object' ? JSON.stringify(v) : String(v)}
                </li>`,
            )}
          </ul>
          <p class="task">Task: ${a.task}</p>
          <div class="buttons">
            <button @click=${() => this.answer(a, 'once')}>Allow once</button>
            <button @click=${() => this.answer(a, 'always')}>Always allow</button>
            <button class="deny" @click=${() => this.answer(a, 'deny')}>Deny</button>
          </div>
        </section>
      `,
    );
  }

  static override styles = css`
    :host {
      position: fixed;
      right: 16px;
      bottom: 48px;
      display: grid;
      gap: 12px;
      max-width: min(420px, calc(100vw - 32px));
      z-index: 1000;
    }
    section {
      padding: 14px 16px;
      border: 1px solid var(--line);
      border-radius: 10px;
      background: var(--chrome);
      color: inherit;
      box-shadow: 0 12px 40px rgb(0 0 0 / 0.3);
      font: 13px system-ui, sans-serif;
    }
    h2 {
      margin: 0 0 6px;
      font-size: 14px;
    }
    ul {
      margin: 6px 0;
      padding-left: 18px;
    }
    .why {
      margin: 6px 0;
    }
    .why figcaption {
      font-size: 12px;
      opacity: 0.75;
    }
    .why blockquote {
      margin: 4px 0 0;
      padding-left: 8px;
      border-left: 3px solid var(--line);
      font-style: italic;
      overflow-wrap: anywhere;
    }
    .task {
      opacity: 0.75;
    }
    .buttons {
      display: flex;
      gap: 8px;
      justify-content: flex-end;
    }
    button {
      font: inherit;
      padding: 4px 10px;
      border-radius: 6px;
      border: 1px solid var(--line);
      background: transparent;
      color: inherit;
      cursor: pointer;
    }
    button:focus-visible {
      outline: 2px solid #4c8dff;
    }
  `;
}

customElements.define('aos-permission-prompt', AosPermissionPrompt);
