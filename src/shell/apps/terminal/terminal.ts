/**
 * <aos-terminal>: the OS's shell. Commands become syscalls; agents started
 * here have their output streamed into the scrollback as it arrives.
 * Tab completes a command's name; when there is nothing (more) to complete it
 * moves focus on like anywhere else, so the keyboard is never trapped here.
 */
import { css, html, LitElement } from 'lit';
import type { KernelEvent } from '../../../abi/protocol';
import type { KernelClient } from '../../kernel-client';
import { complete, runLine, type Terminal } from './commands';

interface Entry {
  kind: 'cmd' | 'out' | 'err' | 'proc';
  text: string;
  pid?: number;
  done?: boolean;
}

const MAX_ENTRIES = 2000;

/** Characters of a process's live output the terminal keeps (the kernel keeps its own tail). */
const TERMINAL_KEEP_CHARS = 256 * 1024;
export class AosTerminal extends LitElement implements Terminal {
  static override properties = {
    client: { attribute: false },
    entries: { state: true },
    busy: { state: true },
  };

  declare client: KernelClient | null;
  declare entries: Entry[];
  declare busy: boolean;
  private history: string[] = [];
  private historyAt = 0;
  private readonly procEntries = new Map<number, Entry>();
  private off: (() => void) | null = null;
  /** The line whose completions were last listed: a second Tab on it moves on. */
  private listedFor: string | null = null;

  constructor() {
    super();
    this.client = null;
    this.entries = [
      { kind: 'out', text: 'AgentOS terminal. Type help for commands; try: spawn "say hello"' },
    ];
    this.busy = false;
  }

  override updated(changed: Map<string, unknown>): void {
    if (changed.has('client')) {
      this.off?.();
      this.off = this.client?.on((e) => this.onKernelEvent(e)) ?? null;
    }
    const out = this.renderRoot.querySelector('.scroll');
    if (out) out.scrollTop = out.scrollHeight;
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.off?.();
  }

  private onKernelEvent(e: KernelEvent): void {
    if (e.type === 'output') {
      const entry = this.procEntries.get(e.pid);
      if (!entry) return;
      entry.text += e.data;
      // The page keeps the tail only: an agent printing without end must not grow the desktop without end.
      if (entry.text.length > TERMINAL_KEEP_CHARS) entry.text = entry.text.slice(-TERMINAL_KEEP_CHARS);
      this.requestUpdate();
    } else if (e.type === 'proc' && e.proc.state === 'exited') {
      const entry = this.procEntries.get(e.proc.pid);
      if (!entry || entry.done) return;
      entry.done = true;
      this.procEntries.delete(e.proc.pid);
      this.print(
        `[${e.proc.pid}] exited with code ${e.proc.exitCode}${e.proc.exitReason ? ` (${e.proc.exitReason})` : ''}`,
        e.proc.exitCode ? 'err' : 'out',
      );
    }
  }

  print(text: string, kind: 'out' | 'err' = 'out'): void {
    this.push({ kind, text });
  }

  live(text: string): (text: string) => void {
    const entry: Entry = { kind: 'out', text };
    this.push(entry);
    return (next) => {
      entry.text = next;
      this.requestUpdate();
    };
  }

  /** Characters per line of the scrollback, from its width and the font's advance. */
  get columns(): number {
    const scroll = this.renderRoot.querySelector<HTMLElement>('.scroll');
    const probe = this.renderRoot.querySelector<HTMLElement>('.probe');
    const ch = probe?.getBoundingClientRect().width ?? 0;
    if (!scroll || !ch) return 80;
    const style = getComputedStyle(scroll);
    const inner = scroll.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return Math.max(20, Math.floor(inner / (ch / 10)));
  }

  /** Focusing the terminal focuses its prompt. */
  override focus(options?: FocusOptions): void {
    this.input()?.focus(options);
  }

  attach(pid: number): void {
    const entry: Entry = { kind: 'proc', text: '', pid };
    this.procEntries.set(pid, entry);
    this.push(entry);
  }

  clear(): void {
    this.entries = [];
  }

  private push(e: Entry): void {
    const next = [...this.entries, e];
    this.entries = next.length > MAX_ENTRIES ? next.slice(-MAX_ENTRIES) : next;
  }

  private async submit(line: string): Promise<void> {
    this.push({ kind: 'cmd', text: line });
    if (line.trim()) {
      this.history.push(line);
      this.historyAt = this.history.length;
    }
    if (!this.client) {
      this.print('the kernel is still starting…', 'err');
      return;
    }
    this.busy = true;
    try {
      await runLine(this.client, this, line);
    } finally {
      this.busy = false;
      await this.updateComplete;
      this.input()?.focus();
    }
  }

  private input(): HTMLInputElement | null {
    return this.renderRoot.querySelector('input');
  }

  private onKey(ev: KeyboardEvent): void {
    const input = ev.target as HTMLInputElement;
    if (ev.key === 'Enter') {
      const line = input.value;
      input.value = '';
      void this.submit(line);
    } else if (ev.key === 'ArrowUp' || ev.key === 'ArrowDown') {
      ev.preventDefault();
      this.historyAt = Math.max(
        0,
        Math.min(this.history.length, this.historyAt + (ev.key === 'ArrowUp' ? -1 : 1)),
      );
      input.value = this.history[this.historyAt] ?? '';
    } else if (ev.key === 'Tab' && !ev.shiftKey && !ev.altKey && !ev.ctrlKey && !ev.metaKey) {
      // Only a command's name, being typed, is completed; otherwise Tab leaves as it does everywhere.
      const word = input.value;
      if (!word || /\s/.test(word) || this.listedFor === word) return;
      const options = complete(word);
      if (!options.length || (options.length === 1 && options[0] === word)) return;
      ev.preventDefault();
      if (options.length === 1) input.value = `${options[0]} `;
      else {
        const common = commonPrefix(options);
        if (common.length > word.length) input.value = common;
        else {
          this.print(options.join('  '));
          this.listedFor = word;
        }
      }
    } else if (ev.key === 'l' && ev.ctrlKey) {
      ev.preventDefault();
      this.clear();
    }
  }

  override render() {
    return html`<span class="probe" aria-hidden="true">0000000000</span>
      <div class="scroll" role="log" aria-live="polite" aria-label="terminal output" @click=${() => this.input()?.focus()}>
        ${this.entries.map(
          (e) =>
            html`<div class="line ${e.kind}" data-pid=${e.pid ?? ''}>${e.kind === 'cmd' ? html`<span class="prompt">$</span> ` : ''}${
              e.kind === 'proc' ? html`<span class="pid">[${e.pid}]</span> ` : ''
            }${e.text}</div>`,
        )}
      </div>
      <label class="in">
        <span class="prompt" aria-hidden="true">$</span>
        <input
          aria-label="command"
          autocomplete="off"
          spellcheck="false"
          ?disabled=${this.busy && false}
          @keydown=${this.onKey}
          placeholder=${this.client ? '' : 'starting kernel…'}
        />
      </label>
    `;
  }

  static override styles = css`
    :host {
      display: flex;
      flex-direction: column;
      height: 100%;
      font: 13px/1.45 ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace;
      color: var(--term-fg);
      background: var(--term-bg);
    }
    .scroll {
      flex: 1;
      overflow: auto;
      padding: 8px 10px;
      /* The width help is fitted to must not shrink when a scrollbar appears. */
      scrollbar-gutter: stable;
    }
    /* Only lines keep their whitespace: the template's own indentation must not render. */
    .line {
      white-space: pre-wrap;
      word-break: break-word;
    }
    .line.err {
      color: var(--term-err);
    }
    .line.cmd {
      color: var(--term-cmd);
    }
    .pid,
    .prompt {
      color: var(--term-accent);
    }
    .in {
      display: flex;
      gap: 6px;
      align-items: center;
      padding: 6px 10px;
      border-top: 1px solid var(--line);
    }
    .probe {
      position: absolute;
      visibility: hidden;
      white-space: pre;
    }
    input {
      flex: 1;
      font: inherit;
      color: inherit;
      background: transparent;
      border: none;
      outline: none;
    }
  `;
}

function commonPrefix(words: string[]): string {
  let p = words[0] ?? '';
  for (const w of words) while (!w.startsWith(p)) p = p.slice(0, -1);
  return p;
}

customElements.define('aos-terminal', AosTerminal);
