/**
 * <aos-terminal>: the OS's shell. Commands become syscalls; agents started
 * here have their output streamed into the scrollback as it arrives.
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
    } else if (ev.key === 'Tab') {
      ev.preventDefault();
      const options = complete(input.value.trim());
      if (options.length === 1) input.value = `${options[0]} `;
      else if (options.length > 1) this.print(options.join('  '));
    } else if (ev.key === 'l' && ev.ctrlKey) {
      ev.preventDefault();
      this.clear();
    }
  }

  override render() {
    return html`
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

customElements.define('aos-terminal', AosTerminal);
