/**
 * Agent chat: start an agent on a task (or attach to a running one), watch its
 * answer stream in, see each tool call and its result as a card, stop it.
 */
import { css, html } from 'lit';
import type { KernelEvent } from '../../../abi/protocol';
import type { KernelClient } from '../../kernel-client';
import { AppElement } from '../app';

interface Item {
  kind: 'user' | 'agent' | 'tool' | 'status';
  text: string;
  ok?: boolean;
}

export class AosChat extends AppElement {
  static override properties = {
    ...AppElement.properties,
    items: { state: true },
    pid: { state: true },
    running: { state: true },
    models: { state: true },
  };
  declare items: Item[];
  declare pid: number | null;
  declare running: boolean;
  declare models: string[];

  constructor() {
    super();
    this.items = [];
    this.pid = null;
    this.running = false;
    this.models = [];
  }

  protected override connected(k: KernelClient): void {
    void k.models().then((m) => {
      this.models = m.map((x) => x.id);
    });
    const pid = Number(this.props.pid);
    if (pid > 0) void this.attach(pid);
  }

  protected override onEvent(e: KernelEvent): void {
    if (this.pid === null) return;
    if (e.type === 'output' && e.pid === this.pid) this.appendText(e.data);
    else if (e.type === 'tool' && e.pid === this.pid)
      this.items = [
        ...this.items,
        {
          kind: 'tool',
          ok: e.ok,
          text: `${e.name}(${JSON.stringify(e.args)}) → ${JSON.stringify(e.result).slice(0, 800)}`,
        },
      ];
    else if (e.type === 'proc' && e.proc.pid === this.pid && e.proc.state === 'exited') {
      this.running = false;
      this.items = [
        ...this.items,
        {
          kind: 'status',
          text: `exited ${e.proc.exitCode}${e.proc.exitReason ? ` (${e.proc.exitReason})` : ''}`,
        },
      ];
    }
  }

  private appendText(text: string): void {
    const last = this.items.at(-1);
    if (last?.kind === 'agent')
      this.items = [...this.items.slice(0, -1), { ...last, text: last.text + text }];
    else this.items = [...this.items, { kind: 'agent', text }];
  }

  private async start(ev: Event): Promise<void> {
    ev.preventDefault();
    const form = ev.target as HTMLFormElement;
    const task = (form.elements.namedItem('task') as HTMLTextAreaElement).value.trim();
    const model = (form.elements.namedItem('model') as HTMLSelectElement).value;
    if (!task) return;
    if (this.running && this.pid !== null) {
      // Talking to a running agent: the message goes to its mailbox.
      await this.run((k) => k.call('bus.send', { to: this.pid, body: task }));
      this.items = [...this.items, { kind: 'user', text: task }];
      form.reset();
      return;
    }
    const pid = await this.run((k) => k.spawn(task, undefined, { args: model ? { model } : {} }));
    if (pid === undefined) return;
    this.pid = pid;
    this.running = true;
    this.props.pid = pid;
    this.items = [
      { kind: 'user', text: task },
      { kind: 'status', text: `agent ${pid} started` },
    ];
    (form.elements.namedItem('task') as HTMLTextAreaElement).value = '';
  }

  private async attach(pid: number): Promise<void> {
    const k = this.client;
    if (!k) return;
    const p = (await k.ps()).find((x) => x.pid === pid);
    if (!p) return;
    this.pid = pid;
    this.running = p.state !== 'exited';
    this.items = [
      { kind: 'user', text: p.task },
      { kind: 'agent', text: await k.output(pid) },
    ];
  }

  private stop(): void {
    if (this.pid !== null) void this.run((k) => k.kill(this.pid!));
  }

  override render() {
    return html`
      <div class="log" role="log" aria-label="conversation" aria-live="polite">
        ${this.items.length ? '' : html`<p class="muted">Give an agent a task. Its answer streams here; tool calls show as cards.</p>`}
        ${this.items.map(
          (i) => html`<div class="item ${i.kind} ${i.ok === false ? 'failed' : ''}">
            ${i.kind === 'tool' ? html`<strong>tool</strong> ` : ''}<pre>${i.text}</pre>
          </div>`,
        )}
      </div>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
      <form class="row" @submit=${(e: Event) => this.start(e)}>
        <textarea name="task" class="grow" rows="2" aria-label=${this.running ? 'message to the agent' : 'task'}
          placeholder=${this.running ? 'Message the running agent…' : 'A task, e.g. say hello, or: what is 6*7? use math.evaluate expression=6*7'}
          @keydown=${(e: KeyboardEvent) => {
            if (e.key === 'Enter' && !e.shiftKey) {
              e.preventDefault();
              (e.target as HTMLTextAreaElement).form?.requestSubmit();
            }
          }}></textarea>
        <select name="model" aria-label="model" ?disabled=${this.running}>
          <option value="">any model</option>
          ${this.models.map((m) => html`<option value=${m}>${m}</option>`)}
        </select>
        <button type="submit">${this.running ? 'Send' : 'Start agent'}</button>
        <button type="button" ?disabled=${!this.running} @click=${() => this.stop()}>Stop</button>
      </form>
    `;
  }

  static override styles = [
    AppElement.styles,
    css`
      .log {
        flex: 1;
        overflow: auto;
        display: flex;
        flex-direction: column;
        gap: 6px;
      }
      .item {
        padding: 6px 10px;
        border-radius: 8px;
        max-width: 90%;
      }
      .user {
        align-self: flex-end;
        background: var(--term-accent);
        color: #fff;
      }
      .agent {
        background: var(--chrome);
      }
      .tool {
        border: 1px solid var(--line);
        border-left: 4px solid var(--term-accent);
        background: var(--term-bg);
      }
      .tool.failed {
        border-left-color: var(--term-err);
      }
      .status {
        align-self: center;
        opacity: 0.7;
        font-size: 12px;
      }
    `,
  ];
}

customElements.define('aos-app-chat', AosChat);
