/** Tools: the registry, each tool's schema and who serves it; MCP servers added and removed. */
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
  static override properties = { ...AppElement.properties, tools: { state: true }, servers: { state: true } };
  declare tools: ToolInfo[];
  declare servers: { url: string; prefix: string; tools: string[] }[];

  constructor() {
    super();
    this.tools = [];
    this.servers = [];
  }

  protected override connected(k: KernelClient): void {
    void this.refresh(k);
  }

  private async refresh(k: KernelClient): Promise<void> {
    const t = await this.run(() => k.call<ToolInfo[]>('tools.list', {}));
    if (t) this.tools = t.sort((a, b) => a.name.localeCompare(b.name));
    this.servers = (await k.call<AosTools['servers']>('tools.mcp_list', {}).catch(() => null)) ?? [];
  }

  private async addServer(ev: Event): Promise<void> {
    ev.preventDefault();
    const input = (ev.target as HTMLFormElement).elements.namedItem('url') as HTMLInputElement;
    const r = await this.run((k) => k.call('tools.mcp_add', { url: input.value.trim() }));
    if (r && this.client) {
      input.value = '';
      await this.refresh(this.client);
    }
  }

  override render() {
    return html`
      <div class="row">
        <span class="grow muted">${this.tools.length} tools. Agents call only those granted to them.</span>
        <button @click=${() => this.client && this.refresh(this.client)}>Refresh</button>
      </div>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
      <h2>MCP servers</h2>
      ${
        this.servers.length
          ? ''
          : html`<p class="muted">None yet. Add one by its address (Streamable HTTP); the server must allow this origin with CORS. Its tools join the list below.</p>`
      }
      <ul aria-label="MCP servers" ?hidden=${!this.servers.length}>
        ${this.servers.map(
          (m) => html`<li>${m.url} → ${m.prefix}.* (${m.tools.length} tools)
            <button aria-label="Remove ${m.url}" @click=${async () => {
              await this.run((k) => k.call('tools.mcp_remove', { url: m.url }));
              if (this.client) await this.refresh(this.client);
            }}>Remove</button></li>`,
        )}
      </ul>
      <form class="row" @submit=${(e: Event) => this.addServer(e)}>
        <input name="url" class="grow" type="url" required aria-label="MCP server URL" placeholder="https://mcp.example/mcp (Streamable HTTP)" />
        <button type="submit">Add server</button>
      </form>
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
