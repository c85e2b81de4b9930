/** Tools: the registry, each tool's schema and who serves it. */
import { html } from 'lit';
import type { KernelClient } from '../../kernel-client';
import { AppElement } from '../app';

interface ToolInfo {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  source: string;
}

export class AosTools extends AppElement {
  static override properties = { ...AppElement.properties, tools: { state: true } };
  declare tools: ToolInfo[];

  constructor() {
    super();
    this.tools = [];
  }

  protected override connected(k: KernelClient): void {
    void this.refresh(k);
  }

  private async refresh(k: KernelClient): Promise<void> {
    const t = await this.run(() => k.call<ToolInfo[]>('tools.list', {}));
    if (t) this.tools = t.sort((a, b) => a.name.localeCompare(b.name));
  }

  override render() {
    return html`
      <div class="row">
        <span class="grow muted">${this.tools.length} tools. Agents call only those granted to them.</span>
        <button @click=${() => this.client && this.refresh(this.client)}>Refresh</button>
      </div>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
      <table aria-label="tools">
        <thead><tr><th>Name</th><th>Served by</th><th>Description and schema</th></tr></thead>
        <tbody>
          ${this.tools.map(
            (t) => html`<tr>
              <td>${t.name}</td>
              <td>${t.source}</td>
              <td>${t.description}
                <details><summary>input schema</summary><pre>${JSON.stringify(t.inputSchema, null, 2)}</pre></details>
              </td>
            </tr>`,
          )}
        </tbody>
      </table>
    `;
  }
}

customElements.define('aos-app-tools', AosTools);
