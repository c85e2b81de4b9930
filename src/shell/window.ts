/**
 * <aos-window>: one window's frame — title bar (drag to move; arrow keys move,
 * Shift+arrows resize when it has focus), minimize, maximize and close buttons,
 * a resize grip. State flows down (`win`), changes go up as events the desktop
 * applies to its WindowManager.
 */
import { css, html, LitElement } from 'lit';
import type { Win } from './window-manager';

export type WindowEvent =
  | { kind: 'focus' }
  | { kind: 'move'; x: number; y: number }
  | { kind: 'resize'; w: number; h: number }
  | { kind: 'minimize' }
  | { kind: 'maximize' }
  | { kind: 'close' };

export class AosWindow extends LitElement {
  static override properties = {
    win: { attribute: false },
    focused: { type: Boolean, reflect: true },
    fixed: { type: Boolean },
  };
  declare win: Win;
  declare focused: boolean;
  /** Filling a narrow desk: no moving, resizing or maximizing. */
  declare fixed: boolean;

  private send(e: WindowEvent): void {
    this.dispatchEvent(new CustomEvent<WindowEvent>('win', { detail: e, bubbles: true, composed: true }));
  }

  private drag(ev: PointerEvent, what: 'move' | 'resize'): void {
    if (this.fixed || ev.button !== 0 || (what === 'move' && (ev.target as HTMLElement).closest('button')))
      return;
    ev.preventDefault();
    const el = ev.currentTarget as HTMLElement;
    el.setPointerCapture(ev.pointerId);
    const start = {
      px: ev.clientX,
      py: ev.clientY,
      x: this.win.x,
      y: this.win.y,
      w: this.win.w,
      h: this.win.h,
    };
    this.send({ kind: 'focus' });
    const onMove = (e: PointerEvent) => {
      const dx = e.clientX - start.px;
      const dy = e.clientY - start.py;
      if (what === 'move') this.send({ kind: 'move', x: start.x + dx, y: start.y + dy });
      else this.send({ kind: 'resize', w: start.w + dx, h: start.h + dy });
    };
    const onUp = () => {
      el.removeEventListener('pointermove', onMove);
      el.removeEventListener('pointerup', onUp);
      el.removeEventListener('pointercancel', onUp);
    };
    el.addEventListener('pointermove', onMove);
    el.addEventListener('pointerup', onUp);
    el.addEventListener('pointercancel', onUp);
  }

  private key(ev: KeyboardEvent): void {
    const step = 16;
    const d = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[
      ev.key
    ];
    if (!d || this.fixed || ev.ctrlKey || ev.altKey || ev.metaKey) return;
    ev.preventDefault();
    if (ev.shiftKey) this.send({ kind: 'resize', w: this.win.w + d[0]!, h: this.win.h + d[1]! });
    else this.send({ kind: 'move', x: this.win.x + d[0]!, y: this.win.y + d[1]! });
  }

  constructor() {
    super();
    this.focused = false;
    this.fixed = false;
  }

  override render() {
    const w = this.win;
    const titleId = `title-${w.id}`;
    return html`
      <section
        class="frame"
        role="dialog"
        aria-labelledby=${titleId}
        @pointerdown=${() => !this.focused && this.send({ kind: 'focus' })}
        @focusin=${() => !this.focused && this.send({ kind: 'focus' })}
      >
        <header
          class="title"
          tabindex="0"
          aria-label=${this.fixed ? w.title : `${w.title}: arrow keys move, Shift+arrow keys resize`}
          @pointerdown=${(e: PointerEvent) => this.drag(e, 'move')}
          @dblclick=${() => !this.fixed && this.send({ kind: 'maximize' })}
          @keydown=${(e: KeyboardEvent) => this.key(e)}
        >
          <span id=${titleId} class="name">${w.title}</span>
          <span class="buttons">
            <button aria-label="Minimize ${w.title}" title="Minimize (Ctrl+Alt+M)" @click=${() => this.send({ kind: 'minimize' })}>–</button>
            ${
              this.fixed
                ? ''
                : html`<button aria-label="${w.maximized ? 'Restore' : 'Maximize'} ${w.title}" title="Maximize (Ctrl+Alt+↑)" @click=${() => this.send({ kind: 'maximize' })}>
              ${w.maximized ? '❐' : '□'}
            </button>`
            }
            <button aria-label="Close ${w.title}" title="Close (Ctrl+Alt+W)" @click=${() => this.send({ kind: 'close' })}>×</button>
          </span>
        </header>
        <div class="body"><slot></slot></div>
        ${w.maximized ? '' : html`<div class="grip" aria-hidden="true" @pointerdown=${(e: PointerEvent) => this.drag(e, 'resize')}></div>`}
      </section>
    `;
  }

  static override styles = css`
    :host {
      position: absolute;
      display: block;
    }
    :host([hidden]) {
      display: none;
    }
    .frame {
      box-sizing: border-box;
      display: flex;
      flex-direction: column;
      width: 100%;
      height: 100%;
      border: 1px solid var(--line);
      border-radius: 10px;
      overflow: hidden;
      background: var(--term-bg);
      color: var(--fg);
      box-shadow: 0 10px 32px rgb(0 0 0 / 0.22);
    }
    :host(.max) .frame {
      border-radius: 0;
    }
    :host([focused]) .frame {
      border-color: var(--term-accent);
      box-shadow: 0 14px 44px rgb(0 0 0 / 0.32);
    }
    .title {
      display: flex;
      align-items: center;
      justify-content: space-between;
      gap: 8px;
      padding: 4px 6px 4px 12px;
      font: 600 12px system-ui, sans-serif;
      background: var(--chrome);
      border-bottom: 1px solid var(--line);
      cursor: grab;
      user-select: none;
      touch-action: none;
    }
    .title:focus-visible {
      outline: 2px solid var(--term-accent);
      outline-offset: -2px;
    }
    .name {
      overflow: hidden;
      text-overflow: ellipsis;
      white-space: nowrap;
    }
    .buttons {
      display: flex;
      flex: none;
    }
    .buttons button {
      width: 28px;
      height: 24px;
      border: 0;
      border-radius: 5px;
      background: transparent;
      color: inherit;
      font: 14px system-ui, sans-serif;
      cursor: pointer;
    }
    @media (max-width: 639px) {
      .buttons button {
        width: 40px;
        height: 34px;
      }
    }
    .buttons button:hover,
    .buttons button:focus-visible {
      background: var(--line);
      outline: none;
    }
    .body {
      flex: 1;
      min-height: 0;
      display: flex;
      flex-direction: column;
    }
    ::slotted(*) {
      flex: 1;
      min-height: 0;
    }
    .grip {
      position: absolute;
      right: 0;
      bottom: 0;
      width: 16px;
      height: 16px;
      cursor: nwse-resize;
      touch-action: none;
    }
  `;
}

customElements.define('aos-window', AosWindow);
