/**
 * <aos-desktop>: the desktop. It paints at once and connects to the kernel in
 * the background, so nothing the user sees waits on workers or models.
 */
import { css, html, LitElement } from 'lit';
import type { KernelClient } from './kernel-client';
import './permission-prompt';
import './terminal/terminal';

export class AosDesktop extends LitElement {
  static override properties = {
    client: { attribute: false },
    status: { state: true },
    pendingUpdate: { attribute: false },
  };
  /** A new version is waiting (service worker): shown in the taskbar, applied only when the user says so. */
  declare pendingUpdate: { agents: number; apply: () => void } | null;
  declare client: KernelClient | null;
  declare status: string;

  constructor() {
    super();
    this.client = null;
    this.status = 'starting kernel…';
    this.pendingUpdate = null;
  }

  override render() {
    return html`
      <main class="desk">
        <section class="window" role="dialog" aria-label="Terminal">
          <header class="title"><span>Terminal</span></header>
          <aos-terminal .client=${this.client}></aos-terminal>
        </section>
      </main>
      <aos-permission-prompt .client=${this.client}></aos-permission-prompt>
      <footer class="taskbar" role="toolbar" aria-label="taskbar">
        <strong>AgentOS</strong>
        <span class="status" role="status">${this.status}</span>
        ${
          this.pendingUpdate
            ? html`<button
                class="update"
                title=${this.pendingUpdate.agents ? `restarts this tab: its ${this.pendingUpdate.agents} agent(s) move to other tabs or stop` : 'reload into the new version'}
                @click=${() => this.pendingUpdate?.apply()}
              >
                Update ready — restart
              </button>`
            : ''
        }
      </footer>
    `;
  }

  static override styles = css`
    :host {
      display: grid;
      grid-template-rows: 1fr auto;
      height: 100%;
    }
    .desk {
      position: relative;
      padding: 24px;
      overflow: hidden;
    }
    .window {
      display: flex;
      flex-direction: column;
      width: min(900px, 100%);
      height: min(560px, 100%);
      margin: 0 auto;
      border: 1px solid var(--line);
      border-radius: 10px;
      overflow: hidden;
      background: var(--term-bg);
      box-shadow: 0 12px 40px rgb(0 0 0 / 0.25);
    }
    .title {
      padding: 6px 12px;
      font: 600 12px system-ui, sans-serif;
      background: var(--chrome);
      border-bottom: 1px solid var(--line);
    }
    aos-terminal {
      flex: 1;
      min-height: 0;
    }
    .taskbar {
      display: flex;
      gap: 16px;
      align-items: center;
      padding: 6px 14px;
      font: 12px system-ui, sans-serif;
      background: var(--chrome);
      border-top: 1px solid var(--line);
    }
    .status {
      opacity: 0.8;
    }
  `;
}

customElements.define('aos-desktop', AosDesktop);
