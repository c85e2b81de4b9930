/**
 * <aos-desktop>: the desktop. It paints at once and connects to the kernel in
 * the background, so nothing the user sees waits on workers or models. Windows
 * (window-manager.ts) hold apps (apps/); a taskbar lists them and a launcher
 * opens more; notifications say when agents finish, ask, or models arrive.
 * Keyboard: Ctrl+Alt+→/← switch windows, Ctrl+Alt+W close, Ctrl+Alt+M minimize,
 * Ctrl+Alt+↑ maximize, Ctrl+Alt+L the launcher.
 */
import { css, html, LitElement } from 'lit';
import { APPS, appInfo } from './apps/registry';
import type { KernelClient } from './kernel-client';
import './permission-prompt';
import './window';
import type { WindowEvent } from './window';
import { type Layout, WindowManager } from './window-manager';

const LAYOUT_KEY = 'agentos.layout';

interface Toast {
  id: number;
  text: string;
}

export class AosDesktop extends LitElement {
  static override properties = {
    client: { attribute: false },
    status: { state: true },
    pendingUpdate: { attribute: false },
    launcherOpen: { state: true },
    toasts: { state: true },
  };
  declare client: KernelClient | null;
  declare status: string;
  /** A new version is waiting (service worker): shown in the taskbar, applied only when the user says so. */
  declare pendingUpdate: { agents: number; apply: () => void } | null;
  declare launcherOpen: boolean;
  declare toasts: Toast[];
  readonly wm: WindowManager;
  private readonly appEls = new Map<string, HTMLElement>();
  private off: (() => void) | null = null;
  private toastSeq = 0;

  constructor() {
    super();
    this.client = null;
    this.status = 'starting kernel…';
    this.pendingUpdate = null;
    this.launcherOpen = false;
    this.toasts = [];
    let saved: Layout | null = null;
    try {
      saved = JSON.parse(localStorage.getItem(LAYOUT_KEY) ?? 'null') as Layout | null;
    } catch {
      saved = null;
    }
    this.wm = new WindowManager(() => ({ w: innerWidth, h: innerHeight }), saved);
    if (!this.wm.windows.length) this.wm.open('terminal', 'Terminal');
  }

  override connectedCallback(): void {
    super.connectedCallback();
    addEventListener('keydown', this.onKey);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    removeEventListener('keydown', this.onKey);
    this.off?.();
  }

  override updated(changed: Map<string, unknown>): void {
    if (changed.has('client')) {
      for (const el of this.appEls.values()) (el as HTMLElement & { client: unknown }).client = this.client;
      this.off?.();
      this.off =
        this.client?.on((e) => {
          // Exits and moves are noticed once each by durability.ts (watchDurability, from main.ts).
          if (e.type === 'ask') this.notify(`Agent ${e.ask.pid} asks for permission`);
          else if (e.type === 'model.loaded' && e.loaded) this.notify(`Model ${e.model} is loaded and ready`);
        }) ?? null;
    }
  }

  notify(text: string): void {
    const id = ++this.toastSeq;
    this.toasts = [...this.toasts.slice(-3), { id, text }];
    setTimeout(() => {
      this.toasts = this.toasts.filter((t) => t.id !== id);
    }, 6000);
  }

  /** Opens an app (from the launcher, a shortcut, or another app). */
  open(app: string, props?: Record<string, unknown>): void {
    const info = appInfo(app);
    if (!info) return;
    this.wm.open(app, info.title, {
      single: info.single,
      ...(info.w ? { w: info.w } : {}),
      ...(info.h ? { h: info.h } : {}),
      props: props ?? {},
    });
    this.launcherOpen = false;
    this.changed(true);
  }

  private changed(focusIt = false): void {
    try {
      localStorage.setItem(LAYOUT_KEY, JSON.stringify(this.wm.layout()));
    } catch {
      /* storage may be full or blocked: the layout just is not kept */
    }
    this.requestUpdate();
    if (focusIt) void this.updateComplete.then(() => this.focusWindow(this.wm.focused));
  }

  private focusWindow(id: string | null): void {
    if (!id) return;
    const el = this.renderRoot.querySelector<HTMLElement>(`aos-window[data-id="${id}"]`);
    const title = el?.shadowRoot?.querySelector<HTMLElement>('.title');
    title?.focus();
  }

  private appElement(id: string, app: string, props?: Record<string, unknown>): HTMLElement {
    let el = this.appEls.get(id);
    if (!el) {
      const info = appInfo(app);
      el = document.createElement(info?.tag ?? 'div');
      void info?.load();
      Object.assign(el, { client: this.client, props: props ?? {}, desktop: this });
      this.appEls.set(id, el);
    }
    return el;
  }

  private onWindow(id: string, e: WindowEvent): void {
    const wm = this.wm;
    if (e.kind === 'focus') wm.focus(id);
    else if (e.kind === 'move') wm.move(id, e.x, e.y);
    else if (e.kind === 'resize') wm.resize(id, e.w, e.h);
    else if (e.kind === 'minimize') wm.minimize(id);
    else if (e.kind === 'maximize') wm.toggleMaximize(id);
    else if (e.kind === 'close') {
      wm.close(id);
      this.appEls.delete(id);
    }
    this.changed(e.kind === 'close' || e.kind === 'minimize');
  }

  private readonly onKey = (ev: KeyboardEvent): void => {
    if (ev.key === 'Escape' && this.launcherOpen) {
      this.launcherOpen = false;
      return;
    }
    if (!(ev.ctrlKey && ev.altKey)) return;
    const id = this.wm.focused;
    const act = () => {
      switch (ev.key) {
        case 'ArrowRight':
          this.wm.cycle(1);
          return true;
        case 'ArrowLeft':
          this.wm.cycle(-1);
          return true;
        case 'ArrowUp':
          if (id) this.wm.toggleMaximize(id);
          return true;
        case 'w':
        case 'W':
          if (id) {
            this.wm.close(id);
            this.appEls.delete(id);
          }
          return true;
        case 'm':
        case 'M':
          if (id) this.wm.minimize(id);
          return true;
        case 'l':
        case 'L':
          this.launcherOpen = !this.launcherOpen;
          if (this.launcherOpen)
            void this.updateComplete.then(() =>
              this.renderRoot.querySelector<HTMLElement>('[role=menuitem]')?.focus(),
            );
          return false;
        default:
          return null;
      }
    };
    const r = act();
    if (r === null) return;
    ev.preventDefault();
    this.changed(r);
  };

  private taskbarClick(id: string): void {
    const w = this.wm.get(id);
    if (!w) return;
    if (this.wm.focused === id && !w.minimized) this.wm.minimize(id);
    else this.wm.focus(id);
    this.changed(!w.minimized);
  }

  override render() {
    const wm = this.wm;
    return html`
      <main class="desk" aria-label="desktop">
        ${wm.windows.map(
          (w) => html`<aos-window
            data-id=${w.id}
            .win=${{ ...w }}
            ?focused=${wm.focused === w.id}
            ?hidden=${w.minimized}
            class=${w.maximized ? 'max' : ''}
            style=${w.maximized ? `z-index:${w.z}` : `left:${w.x}px;top:${w.y}px;width:${w.w}px;height:${w.h}px;z-index:${w.z}`}
            @win=${(e: CustomEvent<WindowEvent>) => this.onWindow(w.id, e.detail)}
            >${this.appElement(w.id, w.app, w.props)}</aos-window
          >`,
        )}
      </main>
      <aos-permission-prompt .client=${this.client}></aos-permission-prompt>
      <div class="toasts" role="status" aria-live="polite" aria-label="notifications">
        ${this.toasts.map((t) => html`<div class="toast">${t.text}</div>`)}
      </div>
      ${
        this.launcherOpen
          ? html`<div class="launcher" role="menu" aria-label="apps">
              ${APPS.map(
                (a) => html`<button role="menuitem" @click=${() => this.open(a.id)}>${a.title}</button>`,
              )}
            </div>`
          : ''
      }
      <footer class="taskbar" role="toolbar" aria-label="taskbar">
        <button
          class="start"
          aria-haspopup="menu"
          aria-expanded=${this.launcherOpen ? 'true' : 'false'}
          title="Apps (Ctrl+Alt+L)"
          @click=${() => {
            this.launcherOpen = !this.launcherOpen;
          }}
        >
          AgentOS
        </button>
        <span class="running">
          ${wm.windows.map(
            (w) =>
              html`<button
                class="task"
                aria-pressed=${wm.focused === w.id && !w.minimized ? 'true' : 'false'}
                @click=${() => this.taskbarClick(w.id)}
              >
                ${w.title}
              </button>`,
          )}
        </span>
        <span class="status" role="status" aria-label="kernel status">${this.status}</span>
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
      overflow: hidden;
    }
    aos-window.max {
      left: 0 !important;
      top: 0 !important;
      width: 100%;
      height: 100%;
    }
    .taskbar {
      display: flex;
      gap: 8px;
      align-items: center;
      padding: 4px 8px;
      font: 12px system-ui, sans-serif;
      background: var(--chrome);
      border-top: 1px solid var(--line);
      overflow-x: auto;
    }
    .taskbar button {
      font: inherit;
      padding: 4px 10px;
      border: 1px solid var(--line);
      border-radius: 6px;
      background: transparent;
      color: inherit;
      cursor: pointer;
      white-space: nowrap;
    }
    .taskbar .start {
      font-weight: 700;
    }
    .taskbar .task[aria-pressed='true'] {
      background: var(--line);
    }
    .running {
      display: flex;
      gap: 6px;
      flex: 1;
      min-width: 0;
    }
    .status {
      opacity: 0.75;
      white-space: nowrap;
    }
    button:focus-visible {
      outline: 2px solid var(--term-accent);
    }
    .launcher {
      position: fixed;
      left: 8px;
      bottom: 44px;
      display: grid;
      min-width: 200px;
      padding: 6px;
      background: var(--chrome);
      border: 1px solid var(--line);
      border-radius: 10px;
      box-shadow: 0 12px 40px rgb(0 0 0 / 0.3);
      z-index: 100000;
    }
    .launcher button {
      font: 13px system-ui, sans-serif;
      text-align: left;
      padding: 8px 10px;
      border: 0;
      border-radius: 6px;
      background: transparent;
      color: var(--fg);
      cursor: pointer;
    }
    .launcher button:hover,
    .launcher button:focus-visible {
      background: var(--line);
      outline: none;
    }
    .toasts {
      position: fixed;
      left: 50%;
      bottom: 48px;
      transform: translateX(-50%);
      display: grid;
      gap: 6px;
      z-index: 100001;
      pointer-events: none;
    }
    .toast {
      padding: 8px 14px;
      border-radius: 8px;
      background: var(--fg);
      color: var(--bg);
      font: 13px system-ui, sans-serif;
      box-shadow: 0 6px 20px rgb(0 0 0 / 0.25);
    }
  `;
}

customElements.define('aos-desktop', AosDesktop);
