/** What every app gets: the tab's kernel client, its window's saved props, and shared styles. */
import { type CSSResultGroup, css, LitElement } from 'lit';
import type { KernelEvent } from '../../abi/protocol';
import type { KernelClient } from '../kernel-client';

export class AppElement extends LitElement {
  static override properties = {
    client: { attribute: false },
    error: { state: true },
  };
  declare client: KernelClient | null;
  declare error: string;
  props: Record<string, unknown> = {};
  private offEvents: (() => void) | null = null;

  constructor() {
    super();
    this.client = null;
    this.error = '';
  }

  /** Called when the kernel client arrives (or changes): load data, subscribe. */
  protected connected(_k: KernelClient): void {}
  protected onEvent(_e: KernelEvent): void {}

  override updated(changed: Map<string, unknown>): void {
    if (changed.has('client') && this.client) {
      this.offEvents?.();
      this.offEvents = this.client.on((e) => this.onEvent(e));
      this.connected(this.client);
    }
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.offEvents?.();
  }

  /** Runs a kernel call, showing its error in the app instead of throwing. */
  protected async run<T>(f: (k: KernelClient) => Promise<T>): Promise<T | undefined> {
    if (!this.client) return undefined;
    try {
      this.error = '';
      return await f(this.client);
    } catch (e) {
      this.error = (e as Error).message ?? String(e);
      return undefined;
    }
  }

  static override styles: CSSResultGroup = css`
    :host {
      display: flex;
      flex-direction: column;
      gap: 8px;
      padding: 10px 12px;
      overflow: auto;
      font: 13px system-ui, sans-serif;
      color: var(--fg);
      background: var(--term-bg);
    }
    h2 {
      font-size: 13px;
      margin: 6px 0 2px;
    }
    table {
      border-collapse: collapse;
      width: 100%;
    }
    th,
    td {
      text-align: left;
      padding: 4px 6px;
      border-bottom: 1px solid var(--line);
      vertical-align: top;
    }
    th {
      font-weight: 600;
      position: sticky;
      top: 0;
      background: var(--term-bg);
    }
    button,
    input,
    select,
    textarea {
      font: inherit;
      color: inherit;
      background: var(--chrome);
      border: 1px solid var(--line);
      border-radius: 6px;
      padding: 4px 8px;
    }
    button {
      cursor: pointer;
    }
    button:focus-visible,
    input:focus-visible,
    select:focus-visible,
    textarea:focus-visible {
      outline: 2px solid var(--term-accent);
    }
    .row {
      display: flex;
      gap: 8px;
      align-items: center;
      flex-wrap: wrap;
    }
    .grow {
      flex: 1;
      min-width: 120px;
    }
    .error {
      color: var(--term-err);
    }
    .muted {
      opacity: 0.7;
    }
    pre {
      margin: 0;
      white-space: pre-wrap;
      word-break: break-word;
      font: 12px ui-monospace, monospace;
    }
  `;
}
