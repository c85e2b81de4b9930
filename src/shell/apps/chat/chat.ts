/**
 * Agent chat: conversations (threads) kept across reloads, each with its own
 * agent (the chat-agent program) and model. A follow-up goes to the same
 * agent, which keeps the conversation in its short-term memory; when that agent
 * is gone, the thread's history starts it again. Answers stream in as safe
 * Markdown; tool calls show as cards; a tool the agent lacks shows an inline
 * "Allow … for this chat?" card. Stop ends an answer, Regenerate writes it again.
 */
import { css, html, nothing } from 'lit';
import { unsafeHTML } from 'lit/directives/unsafe-html.js';
import type { ToolSpec } from '../../../abi/chat';
import type { CatalogEntry, KernelEvent, PermissionAsk } from '../../../abi/protocol';
import {
  CHAT_AGENT,
  type ChatAgentArgs,
  type ChatControl,
  splitTurns,
} from '../../../workers/programs/chat-protocol';
import { askClaims } from '../../ask-claims';
import type { KernelClient } from '../../kernel-client';
import { AppElement } from '../app';
import {
  type ChatItem,
  historyOf,
  markInterrupted,
  newThread,
  type Thread,
  ThreadStore,
  titleOf,
} from './threads';

/** Models a user may chat with (test-only and embedding models are not). */
const userModel = (m: CatalogEntry) => !m.tags.includes('hidden') && !m.tags.includes('embedding');

/** Story models only continue text: no tools for them. */
const isStoryModel = (m: CatalogEntry | undefined) => !!m?.tags.includes('story');

export class AosChat extends AppElement {
  static override properties = {
    ...AppElement.properties,
    threads: { state: true },
    thread: { state: true },
    streaming: { state: true },
    models: { state: true },
    asks: { state: true },
    md: { state: true },
  };
  declare threads: Thread[];
  declare thread: Thread | null;
  /** An answer is being written in the open thread. */
  declare streaming: boolean;
  declare models: CatalogEntry[];
  declare asks: PermissionAsk[];
  declare md: ((text: string) => string) | null;
  private store: ThreadStore | null = null;
  private stick = true;

  constructor() {
    super();
    this.threads = [];
    this.thread = null;
    this.streaming = false;
    this.models = [];
    this.asks = [];
    this.md = null;
  }

  protected override connected(k: KernelClient): void {
    void import('./markdown').then((m) => {
      this.md = m.renderMarkdown;
    });
    void this.run(async () => {
      this.models = (await k.models()).filter(userModel);
      this.store = await ThreadStore.open();
      this.threads = await this.store.list();
      // Answers this page never saw end were cut when an earlier page went away: say so, for good.
      for (const x of this.threads) if (markInterrupted(x)) await this.store.put(x);
      const wanted = typeof this.props.thread === 'string' ? this.props.thread : null;
      const t = this.threads.find((x) => x.id === wanted) ?? this.threads[0];
      if (t) await this.open(t);
      else await this.newChat();
      this.asks = await k.call<PermissionAsk[]>('permission.pending');
    });
  }

  private async defaultModel(): Promise<string> {
    const d = await this.client?.call<{ id: string }>('models.default').catch(() => null);
    return d?.id ?? this.models[0]?.id ?? 'deterministic';
  }

  /** Threads whose agent is writing an answer now (by id): another thread may be opened meanwhile. */
  private readonly busy = new Set<string>();
  private readonly saveTimers = new Map<string, ReturnType<typeof setTimeout>>();

  private sync(): void {
    this.streaming = !!this.thread && this.busy.has(this.thread.id);
  }

  private async newChat(): Promise<void> {
    const model = await this.defaultModel();
    const t = newThread(model, !isStoryModel(this.models.find((m) => m.id === model)));
    this.thread = t;
    this.props.thread = t.id;
    this.sync();
    void this.updateComplete.then(() => this.composer()?.focus());
  }

  /** Opens a thread; its agent is started again (with the history) if it is gone. */
  private async open(t: Thread): Promise<void> {
    this.thread = t;
    this.props.thread = t.id;
    this.sync();
    this.stick = true;
    const k = this.client;
    if (!k || t.pid === null) return;
    const p = (await k.ps()).find((x) => x.pid === t.pid);
    if (!p || p.state === 'exited' || p.program !== CHAT_AGENT) await this.startAgent(t, '');
  }

  /** Starts the thread's agent with its history; `task` is the message to answer now ('' for none). */
  private async startAgent(t: Thread, task: string, offer?: ToolSpec[]): Promise<void> {
    const k = this.client;
    if (!k) return;
    const items = task ? t.items.slice(0, -2) : t.items; // the new message and its placeholder are not history yet
    const args: ChatAgentArgs = {
      model: t.model,
      tools: t.tools,
      history: historyOf(items),
      ...(offer?.length ? { offer } : {}),
    };
    t.pid = await k.spawn(task, undefined, { program: CHAT_AGENT, args });
    this.touch(t, true);
  }

  private async send(text: string): Promise<void> {
    const t = this.thread;
    const k = this.client;
    if (!t || !k || !text.trim() || this.busy.has(t.id)) return;
    if (!t.items.length) t.title = titleOf(text);
    this.threads = [t, ...this.threads.filter((x) => x.id !== t.id)];
    t.items = [...t.items, { kind: 'user', text }, { kind: 'assistant', text: '', pending: true }];
    this.busy.add(t.id);
    this.sync();
    this.stick = true;
    this.touch(t);
    const offer = t.tools ? await this.offer(text) : [];
    const alive = t.pid !== null && (await this.alive(t.pid));
    try {
      if (alive) await this.control(t, { kind: 'say', text, ...(offer.length ? { offer } : {}) });
      else await this.startAgent(t, text, offer);
    } catch (e) {
      this.fail(t, e);
    }
  }

  /** Tools the user has that fit the message: the agent may ask to be allowed one it lacks. */
  private async offer(text: string): Promise<ToolSpec[]> {
    const found = await this.client
      ?.call<(ToolSpec & { score: number })[]>('tools.search', { query: text, k: 3 })
      .catch(() => []);
    return (found ?? []).map(({ type, function: f }) => ({ type, function: f }));
  }

  private async alive(pid: number): Promise<boolean> {
    const p = (await this.client?.ps())?.find((x) => x.pid === pid);
    return !!p && p.state !== 'exited';
  }

  private control(t: Thread, c: ChatControl): Promise<unknown> {
    return this.client!.call('bus.send', { to: t.pid, body: c });
  }

  private stop(): void {
    const t = this.thread;
    if (t?.pid) void this.run(() => this.control(t, { kind: 'stop' }));
  }

  private async regenerate(): Promise<void> {
    const t = this.thread;
    if (!t || this.busy.has(t.id)) return;
    const lastUser = t.items.findLastIndex((i) => i.kind === 'user');
    if (lastUser < 0) return;
    t.items = [...t.items.slice(0, lastUser + 1), { kind: 'assistant', text: '', pending: true }];
    this.busy.add(t.id);
    this.sync();
    this.touch(t);
    try {
      if (t.pid !== null && (await this.alive(t.pid))) await this.control(t, { kind: 'regenerate' });
      else await this.startAgent(t, t.items[lastUser]!.text);
    } catch (e) {
      this.fail(t, e);
    }
  }

  private fail(t: Thread, e: unknown): void {
    this.busy.delete(t.id);
    // Nothing is being written for this turn: its empty placeholder goes, the error says why.
    t.items = t.items.filter((i) => !(i.pending && !i.text)).map(({ pending: _p, ...i }) => i);
    this.sync();
    this.push(t, { kind: 'error', text: (e as Error).message ?? String(e) });
  }

  private async deleteThread(t: Thread): Promise<void> {
    if (t.pid !== null && (await this.alive(t.pid))) await this.client?.kill(t.pid).catch(() => {});
    await this.store?.delete(t.id);
    this.busy.delete(t.id);
    this.threads = this.threads.filter((x) => x.id !== t.id);
    if (this.thread?.id === t.id) {
      const next = this.threads[0];
      if (next) await this.open(next);
      else await this.newChat();
    }
  }

  private async setModel(id: string): Promise<void> {
    const t = this.thread;
    if (!t || t.model === id) return;
    t.model = id;
    t.tools = !isStoryModel(this.models.find((m) => m.id === id));
    // The agent was started with the old model: the next message starts one with the new model and the history.
    if (t.pid !== null && (await this.alive(t.pid))) await this.client?.kill(t.pid).catch(() => {});
    t.pid = null;
    this.touch(t);
  }

  // ───────── events ─────────

  /** The thread whose agent is `pid` (the open one, or one in the list). */
  private threadOf(pid: number): Thread | undefined {
    if (this.thread?.pid === pid) return this.thread;
    return this.threads.find((x) => x.pid === pid);
  }

  protected override onEvent(e: KernelEvent): void {
    if (e.type === 'model.loaded' || e.type === 'model.default')
      void this.client?.models().then((m) => {
        this.models = m.filter(userModel);
      });
    if (e.type === 'ask') this.asks = [...this.asks.filter((a) => a.id !== e.ask.id), e.ask];
    else if (e.type === 'ask.done') this.asks = this.asks.filter((a) => a.id !== e.id);
    const pid = e.type === 'output' || e.type === 'tool' ? e.pid : e.type === 'proc' ? e.proc.pid : 0;
    const t = pid ? this.threadOf(pid) : undefined;
    if (!t) return;
    if (e.type === 'output') {
      if (e.fd === 2) {
        // Already said by the answer's own notice (this page found it cut when it opened).
        if (t.items.at(-1)?.cut === 'closed' && /cut off when its tab closed/.test(e.data)) return;
        this.push(t, { kind: 'error', text: `The agent could not answer: ${e.data.trim()}` });
        return;
      }
      for (const part of splitTurns(e.data)) {
        if ('text' in part) this.appendText(t, part.text);
        else this.endTurn(t, part.end);
      }
    } else if (e.type === 'tool') {
      const last = t.items.at(-1);
      if (last?.kind === 'assistant' && !last.text) t.items = t.items.slice(0, -1);
      this.push(t, {
        kind: 'tool',
        text: '',
        tool: { name: e.name, args: e.args, result: e.result, ok: e.ok },
      });
    } else if (e.type === 'proc' && e.proc.state === 'exited') {
      if (this.busy.has(t.id))
        this.push(t, {
          kind: 'error',
          text: `the agent ended (exit ${e.proc.exitCode}${e.proc.exitReason ? `: ${e.proc.exitReason}` : ''})`,
        });
      this.busy.delete(t.id);
      this.sync();
      t.pid = null;
      this.touch(t, true);
    }
  }

  private appendText(t: Thread, text: string): void {
    const last = t.items.at(-1);
    if (last?.kind === 'assistant') t.items = [...t.items.slice(0, -1), { ...last, text: last.text + text }];
    else t.items = [...t.items, { kind: 'assistant', text }];
    this.touch(t);
  }

  private endTurn(t: Thread, status: number): void {
    // The turn is over: no answer of it is being written any more.
    t.items = t.items.map((i) => {
      if (!i.pending) return i;
      const { pending: _p, ...rest } = i;
      return rest;
    });
    const last = t.items.at(-1);
    if (last?.kind === 'assistant') {
      if (status === 130) t.items = [...t.items.slice(0, -1), { ...last, stopped: true }];
      else if (status === 2) t.items = [...t.items.slice(0, -1), { ...last, cut: 'length' }];
      else if (!last.text && !last.cut && status !== 0) t.items = t.items.slice(0, -1);
    }
    this.busy.delete(t.id);
    this.sync();
    this.touch(t, true);
    if (t === this.thread) void this.updateComplete.then(() => this.composer()?.focus());
  }

  private push(t: Thread, item: ChatItem): void {
    t.items = [...t.items, item];
    this.touch(t);
  }

  /**
   * A thread changed: re-render and save soon (at once when `now`). Threads are changed in place
   * (an agent's pid lands on the object a send holds, even if another thread is open by then).
   */
  private touch(t: Thread, now = false): void {
    t.updatedAt = Date.now();
    this.requestUpdate();
    if (!t.items.length || !this.store) return;
    const timer = this.saveTimers.get(t.id);
    if (timer) clearTimeout(timer);
    this.saveTimers.delete(t.id);
    const write = () => {
      this.saveTimers.delete(t.id);
      void this.store?.put(t).catch((e: unknown) => {
        this.error = `this chat could not be saved: ${(e as Error).message ?? e}`;
      });
    };
    if (now) write();
    else this.saveTimers.set(t.id, setTimeout(write, 250));
  }

  private answer(a: PermissionAsk, answer: 'once' | 'always' | 'deny'): void {
    this.asks = this.asks.filter((x) => x.id !== a.id);
    void this.run((k) => k.call('permission.answer', { id: a.id, answer }));
  }

  // ───────── view ─────────

  private composer(): HTMLTextAreaElement | null {
    return this.renderRoot.querySelector('textarea');
  }

  private logEl(): HTMLElement | null {
    return this.renderRoot.querySelector('.log');
  }

  override willUpdate(): void {
    const log = this.logEl();
    // Follow the newest text unless the user scrolled up to read.
    if (log) this.stick = log.scrollHeight - log.scrollTop - log.clientHeight < 48;
  }

  override updated(changed: Map<string, unknown>): void {
    super.updated(changed);
    const log = this.logEl();
    if (log && this.stick) log.scrollTop = log.scrollHeight;
    // This chat shows its agent's permission requests inline: the desktop's global prompt does not.
    if (this.isConnected) askClaims.set(this, this.thread?.pid ?? null);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    askClaims.set(this, null);
  }

  private renderItem(i: ChatItem, last: boolean) {
    if (i.kind === 'tool' && i.tool) {
      const r = i.tool;
      return html`<details class="item tool ${r.ok ? '' : 'failed'}">
        <summary><strong>${r.name}</strong> ${r.ok ? 'returned' : 'failed'}</summary>
        <pre>${JSON.stringify(r.args, null, 1)}</pre>
        <pre>${typeof r.result === 'string' ? r.result : JSON.stringify(r.result, null, 1)?.slice(0, 4000)}</pre>
      </details>`;
    }
    if (i.kind === 'assistant') {
      const writing = last && this.streaming;
      return html`<div class="item assistant" aria-busy=${writing ? 'true' : 'false'}>
        ${i.text ? (this.md ? unsafeHTML(this.md(i.text)) : html`<pre>${i.text}</pre>`) : html`<span class="muted">${writing ? 'thinking…' : ''}</span>`}
        ${i.stopped ? html`<div class="muted">(stopped)</div>` : nothing}
        ${
          i.cut
            ? html`<div class="muted" role="note">${
                i.cut === 'length'
                  ? '(cut off: the answer reached its length limit — ask it to go on, or Regenerate)'
                  : '(cut off: the page closed while this answer was being written — Regenerate to answer again)'
              }</div>`
            : nothing
        }
      </div>`;
    }
    return html`<div class="item ${i.kind}" role=${i.kind === 'error' ? 'alert' : nothing}><pre>${i.text}</pre></div>`;
  }

  private renderAsk(a: PermissionAsk) {
    const tools = a.permissions.tools ?? [];
    const what = tools.length ? tools.join(', ') : Object.keys(a.permissions).join(', ');
    return html`<div class="item ask" role="group" aria-label="permission request">
      <p>Allow <code>${what}</code> for this chat?</p>
      <p class="muted">${a.reason}${a.permissions.net?.length ? ` (network: ${a.permissions.net.join(', ')})` : ''}</p>
      <div class="row">
        <button @click=${() => this.answer(a, 'once')}>Allow for this chat</button>
        <button @click=${() => this.answer(a, 'always')}>Always allow</button>
        <button @click=${() => this.answer(a, 'deny')}>Deny</button>
      </div>
    </div>`;
  }

  override render() {
    const t = this.thread;
    const items = t?.items ?? [];
    const model = this.models.find((m) => m.id === t?.model);
    const canRegenerate = !this.streaming && items.some((i) => i.kind === 'user');
    return html`<div class="frame">
      <nav class="threads" aria-label="conversations">
        <button class="new" @click=${() => this.newChat()}>New chat</button>
        <ul>
          ${this.threads.map(
            (x) => html`<li>
              <button class="thread" aria-current=${x.id === t?.id ? 'true' : 'false'} @click=${() => this.open(x)}>
                ${x.title}
              </button>
              <button class="del" aria-label="Delete chat ${x.title}" title="Delete" @click=${() => this.deleteThread(x)}>×</button>
            </li>`,
          )}
        </ul>
      </nav>
      <section class="conv" aria-label="conversation">
        <div class="row head">
          <label class="grow">Model
            <select aria-label="model for this chat" ?disabled=${this.streaming} @change=${(e: Event) => this.setModel((e.target as HTMLSelectElement).value)}>
              ${this.models.map((m) => html`<option value=${m.id} ?selected=${m.id === t?.model}>${m.id}</option>`)}
            </select>
          </label>
          ${model?.label ? html`<span class="muted label">${model.label}</span>` : nothing}
        </div>
        <div class="log" role="log" aria-label="messages" aria-live="polite" aria-busy=${this.streaming ? 'true' : 'false'}
          @scroll=${() => {
            const log = this.logEl();
            if (log) this.stick = log.scrollHeight - log.scrollTop - log.clientHeight < 48;
          }}>
          ${items.length ? nothing : html`<p class="muted">Write a message. ${isStoryModel(model) ? 'This model is a tiny story writer: start a story, e.g. "Once upon a time".' : 'Answers stream here; tool calls show as cards.'}</p>`}
          ${items.map((i, n) => this.renderItem(i, n === items.length - 1))}
          ${this.asks.filter((a) => t?.pid && a.pid === t.pid).map((a) => this.renderAsk(a))}
        </div>
        ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
        <form class="row" @submit=${(ev: Event) => {
          ev.preventDefault();
          const ta = this.composer();
          if (!ta || !this.thread || this.streaming) return;
          const text = ta.value;
          ta.value = '';
          void this.send(text);
        }}>
          <textarea class="grow" rows="2" aria-label="message" ?disabled=${!t} placeholder=${this.streaming ? 'The agent is answering…' : 'Message (Enter sends, Shift+Enter: new line)'}
            @keydown=${(e: KeyboardEvent) => {
              if (e.key === 'Enter' && !e.shiftKey) {
                e.preventDefault();
                (e.target as HTMLTextAreaElement).form?.requestSubmit();
              } else if (e.key === 'Escape' && this.streaming) this.stop();
            }}></textarea>
          <button type="submit" ?disabled=${this.streaming}>Send</button>
          <button type="button" ?disabled=${!this.streaming} @click=${() => this.stop()}>Stop</button>
          <button type="button" ?disabled=${!canRegenerate} @click=${() => this.regenerate()}>Regenerate</button>
        </form>
      </section>
    </div>`;
  }

  static override styles = [
    AppElement.styles,
    css`
      :host {
        padding: 0;
        overflow: hidden;
        container-type: inline-size;
      }
      .frame {
        display: flex;
        flex: 1;
        min-height: 0;
      }
      .threads {
        width: 180px;
        flex: none;
        box-sizing: border-box;
        border-right: 1px solid var(--line);
        padding: 8px;
        overflow: auto;
        display: flex;
        flex-direction: column;
        gap: 6px;
      }
      .threads ul {
        list-style: none;
        margin: 0;
        padding: 0;
        display: flex;
        flex-direction: column;
        gap: 2px;
      }
      .threads li {
        display: flex;
      }
      .thread {
        flex: 1;
        min-width: 0;
        text-align: left;
        border: 0;
        background: transparent;
        overflow: hidden;
        text-overflow: ellipsis;
        white-space: nowrap;
      }
      .thread[aria-current='true'] {
        background: var(--line);
      }
      .del {
        border: 0;
        background: transparent;
      }
      .conv {
        flex: 1;
        min-width: 0;
        display: flex;
        flex-direction: column;
        gap: 8px;
        padding: 8px 10px;
      }
      .head .label {
        font-size: 12px;
      }
      .log {
        flex: 1;
        overflow: auto;
        display: flex;
        flex-direction: column;
        gap: 6px;
        min-height: 60px;
      }
      .item {
        padding: 6px 10px;
        border-radius: 8px;
        max-width: 90%;
        overflow-wrap: anywhere;
      }
      .item p {
        margin: 0.3em 0;
      }
      .item img {
        max-width: 100%;
      }
      .user pre,
      .error pre {
        font: inherit;
      }
      .user {
        align-self: flex-end;
        background: var(--term-accent);
        color: #fff;
      }
      .assistant {
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
      .error {
        color: var(--term-err);
        border: 1px solid var(--term-err);
      }
      .ask {
        border: 1px solid var(--term-accent);
        background: var(--chrome);
      }
      form textarea {
        min-width: 0;
      }
      @container (max-width: 560px) {
        .frame {
          flex-direction: column;
        }
        .threads {
          width: auto;
          flex-direction: row;
          border-right: 0;
          border-bottom: 1px solid var(--line);
          max-height: 44px;
          padding: 4px 8px;
        }
        .threads ul {
          flex-direction: row;
          overflow-x: auto;
        }
        .thread {
          max-width: 140px;
        }
      }
    `,
  ];
}

customElements.define('aos-app-chat', AosChat);
