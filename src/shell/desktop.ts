/**
 * <aos-desktop>: the desktop. It paints at once and connects to the kernel in
 * the background, so nothing the user sees waits on workers or models. Windows
 * (window-manager.ts) hold apps (apps/); a taskbar lists them and a launcher
 * opens more; notifications say when agents finish, ask, or models arrive.
 * Keyboard: Ctrl+Alt+→/← switch windows, Ctrl+Alt+W close, Ctrl+Alt+M minimize,
 * Ctrl+Alt+↑ maximize, Ctrl+Alt+L the launcher (arrow keys move in it).
 * On narrow screens (phones) one app at a time fills the desk; the taskbar
 * switches between them. Notifications never cover an app: on wide screens they
 * sit in the taskbar, on narrow ones in a row above it (the full-screen app shrinks).
 */
import { css, html, LitElement } from 'lit';
import { APPS, appInfo } from './apps/registry';
import type { KernelClient } from './kernel-client';
import './model-indicator';
import './permission-prompt';
import './window';
import type { WindowEvent } from './window';
import { type Layout, WindowManager } from './window-manager';

const LAYOUT_KEY = 'agentos.layout';
/** The taskbar's height before it is measured (first layout, restored windows). */
const TASKBAR_H = 40;

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
    this.wm = new WindowManager(() => this.deskSize(), saved);
    if (!this.wm.windows.length) this.wm.open('terminal', 'Terminal');
    if (firstVisit()) this.open('welcome');
  }

  /** The desk: the screen less the taskbar (notifications come and go, so they are not subtracted). */
  private deskSize(): { w: number; h: number } {
    const bar = this.renderRoot?.querySelector?.('.taskbar')?.getBoundingClientRect().height;
    return { w: innerWidth, h: Math.max(120, innerHeight - (bar || TASKBAR_H)) };
  }

  override connectedCallback(): void {
    super.connectedCallback();
    addEventListener('keydown', this.onKey);
    addEventListener('resize', this.onResize);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    removeEventListener('keydown', this.onKey);
    removeEventListener('resize', this.onResize);
    this.off?.();
  }

  /** A rotation or a resized window: keep every window on screen; narrow and wide layouts switch here. */
  private readonly onResize = (): void => {
    this.wm.fit();
    this.requestUpdate();
  };

  /** At boot the focused app takes the keyboard (the terminal's prompt), so typing works at once. */
  override firstUpdated(): void {
    const id = this.wm.focused ?? this.wm.topVisible()?.id;
    const el = id ? this.appEls.get(id) : undefined;
    if (!el) return;
    void (el as HTMLElement & { updateComplete?: Promise<unknown> }).updateComplete?.then(() => {
      if (!this.renderRoot.querySelector('.launcher')) el.focus();
    });
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
    this.toasts = [...this.toasts.slice(-2), { id, text }];
    setTimeout(() => this.dismiss(id), 8000);
  }

  private dismiss(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
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

  private toggleLauncher(open = !this.launcherOpen): void {
    this.launcherOpen = open;
    if (open)
      void this.updateComplete.then(() =>
        this.renderRoot.querySelector<HTMLElement>('[role=menuitem]')?.focus(),
      );
    else void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>('.start')?.focus());
  }

  /** The launcher is a menu: arrows, Home and End move; Escape and Tab close it. */
  private launcherKey(ev: KeyboardEvent): void {
    const items = [...this.renderRoot.querySelectorAll<HTMLElement>('.launcher [role=menuitem]')];
    const at = items.indexOf(this.shadowRoot?.activeElement as HTMLElement);
    const go = (i: number) => items[(i + items.length) % items.length]?.focus();
    if (ev.key === 'ArrowDown') go(at + 1);
    else if (ev.key === 'ArrowUp') go(at < 0 ? -1 : at - 1);
    else if (ev.key === 'Home') go(0);
    else if (ev.key === 'End') go(-1);
    else if (ev.key === 'Escape') this.toggleLauncher(false);
    else if (ev.key === 'Tab') {
      this.launcherOpen = false;
      return;
    } else return;
    ev.preventDefault();
    ev.stopPropagation();
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
    if (this.launcherOpen && e.kind === 'focus') this.launcherOpen = false;
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
          this.toggleLauncher();
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
    const narrow = wm.narrow;
    const ok = this.status.endsWith('ready');
    const failed = this.status.includes('failed');
    const toasts = html`<div class="toasts" role="status" aria-live="polite" aria-label="notifications">${this.toasts.map(
      (t) =>
        html`<div class="toast" title=${t.text}><span>${t.text}</span><button aria-label="Dismiss: ${t.text}" @click=${() => this.dismiss(t.id)}>×</button></div>`,
    )}</div>`;
    return html`
      <main class="desk" aria-label="desktop" @pointerdown=${() => {
        if (this.launcherOpen) this.launcherOpen = false;
      }}>
        ${wm.windows.map((w) => {
          const full = narrow || w.maximized;
          return html`<aos-window
            data-id=${w.id}
            .win=${{ ...w, maximized: full }}
            ?fixed=${narrow}
            ?focused=${wm.focused === w.id}
            ?hidden=${!wm.shown(w)}
            class=${full ? 'max' : ''}
            style=${full ? `z-index:${w.z}` : `left:${w.x}px;top:${w.y}px;width:${w.w}px;height:${w.h}px;z-index:${w.z}`}
            @win=${(e: CustomEvent<WindowEvent>) => this.onWindow(w.id, e.detail)}
            >${this.appElement(w.id, w.app, w.props)}</aos-window
          >`;
        })}
      </main>
      <aos-permission-prompt .client=${this.client}></aos-permission-prompt>
      ${narrow ? toasts : ''}
      ${
        this.launcherOpen
          ? html`<div class="launcher" role="menu" aria-label="apps" @keydown=${(e: KeyboardEvent) => this.launcherKey(e)}>
              ${APPS.map(
                (a) =>
                  html`<button role="menuitem" tabindex="-1" @click=${() => this.open(a.id)}>${a.title}</button>`,
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
          @click=${() => this.toggleLauncher()}
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
        <aos-model-indicator
          .client=${this.client}
          @aos-open=${(e: CustomEvent<string>) => this.open(e.detail)}
        ></aos-model-indicator>
        ${narrow ? '' : toasts}
        <span class="status ${ok ? 'ok' : failed ? 'failed' : ''}" role="status" aria-label="kernel status" title=${this.status}
          ><span class="dot" aria-hidden="true"></span><span class="text">${this.status}</span></span
        >
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
      grid-template-rows: minmax(0, 1fr) auto auto;
      height: 100%;
    }
    .desk {
      position: relative;
      overflow: hidden;
      min-height: 0;
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
      min-width: 0;
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
    /* The window buttons scroll among themselves: they never run under the kernel status. */
    .running {
      display: flex;
      gap: 6px;
      flex: 1;
      min-width: 0;
      overflow-x: auto;
      scrollbar-width: thin;
    }
    .status {
      display: flex;
      align-items: center;
      gap: 6px;
      flex: none;
      white-space: nowrap;
    }
    .status .text {
      opacity: 0.8;
    }
    .dot {
      width: 8px;
      height: 8px;
      border-radius: 50%;
      background: var(--line);
    }
    .status.ok .dot {
      background: #2e9d57;
    }
    .status.failed .dot {
      background: var(--term-err);
    }
    /* Phones: the status shrinks to its dot (the words stay for screen readers and as a tooltip). */
    @media (max-width: 639px) {
      .status:not(.failed) .text {
        position: absolute;
        width: 1px;
        height: 1px;
        overflow: hidden;
        clip-path: inset(50%);
      }
      .taskbar button {
        padding: 8px 10px;
      }
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
    /* Wide: in the taskbar, newest last. Narrow: a row between the desk and the taskbar. */
    .toasts {
      display: flex;
      gap: 6px;
      min-width: 0;
      max-width: 60%;
    }
    :host > .toasts {
      display: grid;
      max-width: none;
      padding: 0 8px;
    }
    .toast {
      display: flex;
      align-items: center;
      justify-content: space-between;
      gap: 6px;
      min-width: 0;
      padding: 2px 2px 2px 10px;
      border-radius: 8px;
      background: var(--fg);
      color: var(--bg);
      font: 12px system-ui, sans-serif;
    }
    .toast span {
      overflow: hidden;
      text-overflow: ellipsis;
      white-space: nowrap;
    }
    :host > .toasts .toast {
      margin-top: 4px;
      padding: 4px 4px 4px 12px;
      font-size: 13px;
    }
    :host > .toasts .toast span {
      white-space: normal;
    }
    .toast button,
    .taskbar .toast button {
      font: 16px system-ui, sans-serif;
      min-width: 24px;
      min-height: 24px;
      padding: 0 4px;
      border: 0;
      border-radius: 6px;
      background: transparent;
      color: inherit;
      cursor: pointer;
    }
    .toast button:focus-visible {
      outline: 2px solid var(--term-accent);
    }
  `;
}

/** The first visit opens the welcome app once (key shared with apps/welcome). */
function firstVisit(): boolean {
  try {
    if (localStorage.getItem('agentos.welcome')) return false;
    localStorage.setItem('agentos.welcome', 'seen');
    return true;
  } catch {
    return false;
  }
}

customElements.define('aos-desktop', AosDesktop);
