/**
 * Welcome: the first run, and later the place to choose the model agents use.
 * It measures the device, recommends one chat model that fits and downloads it
 * with progress; or connects an Ollama / OpenAI-compatible server (and says
 * the exact fix when the browser blocks it); or continues with the built-in
 * offline story model, a tiny demo. The choice becomes the kernel's default
 * model for new agents.
 */
import { css, html, nothing } from 'lit';
import type { KernelEvent } from '../../../abi/protocol';
import { estimateVram } from '../../../abi/vram-estimate';
import type { KernelClient } from '../../kernel-client';
import { AppElement } from '../app';
import { formatBytes, formatSeconds, type Measured, measureDevice, Rate } from './device';
import { type Recommendation, recommend } from './recommend';

export const WELCOME_KEY = 'agentos.welcome';
/** A download started but not finished: offered again after a reload (WebLLM keeps finished files). */
const PENDING_KEY = 'agentos.welcome.pending';
export const BUILTIN_MODEL = 'stories260K';

interface Download {
  id: string;
  totalBytes: number;
  loaded: number;
  rate: Rate;
  phase: string;
}

interface ServerState {
  url: string;
  testing: boolean;
  models: string[];
  problem: { why: string; fix?: string } | null;
}

export class AosWelcome extends AppElement {
  static override properties = {
    ...AppElement.properties,
    device: { state: true },
    rec: { state: true },
    download: { state: true },
    server: { state: true },
    current: { state: true },
    done: { state: true },
    cancelledNote: { state: true },
  };
  /** Said after the user cancelled a download. */
  declare cancelledNote: string;
  declare device: Measured | null;
  declare rec: Recommendation | null;
  declare download: Download | null;
  declare server: ServerState;
  /** The default model now. */
  declare current: { id: string; label: string | null; chosen: boolean } | null;
  /** What was just chosen (shown with a way on). */
  declare done: string;
  /** Set by the desktop (before this element upgrades, so no initializer may overwrite it), to open a chat. */
  declare desktop: { open(app: string, props?: Record<string, unknown>): void } | undefined;

  constructor() {
    super();
    this.device = null;
    this.rec = null;
    this.download = null;
    this.server = { url: 'http://localhost:11434/v1', testing: false, models: [], problem: null };
    this.current = null;
    this.done = '';
    this.cancelledNote = '';
  }

  protected override connected(k: KernelClient): void {
    void k.call<{ id: string; label: string | null; chosen: boolean }>('models.default').then((d) => {
      this.current = d;
    });
    void this.measure();
  }

  private async measure(): Promise<void> {
    this.device = await measureDevice();
    let records: Parameters<typeof recommend>[1] = [];
    if (this.device.webgpu) {
      try {
        records = (await import('@mlc-ai/web-llm')).prebuiltAppConfig.model_list;
      } catch (e) {
        this.error = `WebLLM's model list could not be loaded: ${(e as Error).message ?? e}`;
      }
    }
    this.rec = recommend(this.device, records);
  }

  protected override onEvent(e: KernelEvent): void {
    if (e.type === 'model.default') this.current = { id: e.model, label: e.label, chosen: true };
    const d = this.download;
    if (!d || e.type !== 'model.progress' || e.model !== d.id) return;
    // WebLLM reports a fraction (0–1) of its work, transformers.js bytes: both become bytes here.
    const loaded = e.total > 1 ? e.loaded : e.loaded * d.totalBytes;
    const total = e.total > 1 ? e.total : d.totalBytes;
    d.rate.add(loaded);
    this.download = { ...d, loaded, totalBytes: total, phase: e.text ?? d.phase };
  }

  private finish(id: string, what: string): void {
    try {
      localStorage.setItem(WELCOME_KEY, 'done');
      localStorage.removeItem(PENDING_KEY);
    } catch {
      /* storage blocked: the welcome shows again next time */
    }
    this.done = what;
    this.current = { id, label: null, chosen: true };
    void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>('.done button')?.focus());
  }

  private async useBuiltin(): Promise<void> {
    const r = await this.run((k) => k.call('models.default', { id: BUILTIN_MODEL }));
    if (r) this.finish(BUILTIN_MODEL, `Agents now use ${BUILTIN_MODEL}, the built-in story model.`);
  }

  private async downloadRecommended(): Promise<void> {
    const rec = this.rec;
    if (!rec?.ok) return;
    this.download = {
      id: rec.id,
      totalBytes: rec.downloadMB * 2 ** 20,
      loaded: 0,
      rate: new Rate(),
      phase: 'starting',
    };
    try {
      localStorage.setItem(PENDING_KEY, rec.id);
    } catch {
      /* not resumable then */
    }
    this.cancelledNote = '';
    let cancelled = false;
    const ok = await this.run(async (k) => {
      const listed = await k.call<{ registered: string[] }>('models.webllm', { vramMB: rec.vramMB + 256 });
      if (!listed.registered.includes(rec.id))
        throw new Error(
          `the OS could not list ${rec.id} for this GPU (its kernel sees no WebGPU adapter here). Connect a server, or use the built-in model.`,
        );
      try {
        await k.call('models.load', { id: rec.id });
      } catch (e) {
        cancelled = (e as { code?: string }).code === 'ECANCELED';
        throw e;
      }
      await k.call('models.default', { id: rec.id });
      return true;
    });
    this.download = null;
    if (ok) this.finish(rec.id, `${rec.id} is downloaded and loaded: agents use it now.`);
    else if (cancelled) {
      // What the user asked for: no error, and the way to start again.
      this.error = '';
      this.cancelledNote = `Download cancelled. Files that finished downloading are kept: “Resume the download” continues from them.`;
    } else this.error = explainLoadError(this.error);
  }

  private async cancelDownload(): Promise<void> {
    const d = this.download;
    if (!d) return;
    this.download = { ...d, phase: 'cancelling…' };
    // The load settles with ECANCELED, which downloadRecommended turns into the note.
    await this.client?.call('models.cancel', { id: d.id }).catch(() => {});
  }

  private async testServer(ev: Event): Promise<void> {
    ev.preventDefault();
    const url = normaliseServerUrl(this.server.url);
    this.server = { ...this.server, url, testing: true, models: [], problem: null };
    const k = this.client;
    if (!k) return;
    try {
      const r = await k.call<{ baseUrl: string; models: string[] }>('models.add_remote', { baseUrl: url });
      this.server = { ...this.server, testing: false, models: r.models };
    } catch (e) {
      this.server = { ...this.server, testing: false, problem: await diagnoseServer(url, e) };
    }
  }

  private async useServerModel(id: string): Promise<void> {
    const r = await this.run((k) => k.call('models.default', { id }));
    if (r) this.finish(id, `Agents now use ${id} on ${this.server.url}.`);
  }

  override render() {
    const d = this.device;
    const pending = safeGet(PENDING_KEY);
    return html`
      <h1>Welcome to AgentOS</h1>
      <p>Agents here need a language model. Choose one of three ways; you can change it later from the taskbar.</p>
      ${
        this.current
          ? html`<p class="muted">Agents use now: <strong>${this.current.id}</strong>${this.current.chosen ? '' : ' (the built-in test engine: it is not a language model)'}</p>`
          : nothing
      }
      ${this.done ? html`<div class="done" role="status"><p>${this.done}</p><button @click=${() => this.desktop?.open('chat')}>Open a chat</button></div>` : nothing}
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}

      <section aria-labelledby="w-device">
        <h2 id="w-device">This device</h2>
        ${d ? this.renderDevice(d) : html`<p class="muted" role="status">Checking this device…</p>`}
      </section>

      <section aria-labelledby="w-local">
        <h2 id="w-local">1. Download a model to run here</h2>
        ${this.renderRecommendation(pending)}
      </section>

      <section aria-labelledby="w-server">
        <h2 id="w-server">2. Connect a model server (Ollama, or any OpenAI-compatible one)</h2>
        ${this.renderServer()}
      </section>

      <section aria-labelledby="w-builtin">
        <h2 id="w-builtin">3. Continue with the built-in model</h2>
        <p>
          <strong>stories260K</strong> (1.3 MB, included, works offline) is a real trained model, but a
          <strong>tiny demo</strong>: it writes children’s stories (“Once upon a time…”) and does not
          follow instructions or answer questions.
        </p>
        <button @click=${() => this.useBuiltin()}>Use the built-in story model</button>
      </section>
    `;
  }

  private renderDevice(d: Measured) {
    return html`<ul class="facts">
      <li>
        GPU (WebGPU):
        ${
          d.webgpu
            ? html`${d.webgpu.adapter}; 16-bit floats ${d.webgpu.f16 ? 'yes' : 'no'}; largest buffer ${formatBytes(d.webgpu.maxBufferBytes)}`
            : html`<span class="warn">none</span> — ${d.webgpuProblem}`
        }
      </li>
      <li>Memory: ${d.deviceMemoryGB !== null ? `at least ${d.deviceMemoryGB} GB` : 'not told by this browser'}</li>
      ${d.webgpu ? this.renderVram(d) : nothing}
      <li>
        Free storage for this site:
        ${d.storage ? `${formatBytes(d.freeStorageBytes ?? 0)} (${formatBytes(d.storage.usage)} used)` : 'not told by this browser'}
      </li>
      <li>
        Model hosts:
        ${
          d.hostsReachable
            ? 'reachable'
            : html`<span class="warn">${d.online ? 'cannot be reached' : 'offline'}</span> — ${d.hosts
                .filter((h) => !h.reachable)
                .map((h) => new URL(h.url).host)
                .join(
                  ', ',
                )} did not answer. ${d.online ? 'A firewall or proxy may block them, or the network is down.' : 'This browser says it is offline.'}`
        }
      </li>
    </ul>`;
  }

  private renderVram(d: Measured) {
    const gpu = d.webgpu;
    if (!gpu) return nothing;
    // Browsers do not tell GPU memory: the estimate and the rule behind it, so a surprising pick can be understood.
    const est = estimateVram(gpu.facts ?? { description: gpu.adapter }, d.deviceMemoryGB);
    return html`<li>GPU memory for models: about ${formatBytes(est.bytes)} (estimated: ${est.why})</li>`;
  }

  private renderRecommendation(pending: string | null) {
    const r = this.rec;
    if (!r) return html`<p class="muted">Finding the model that fits…</p>`;
    if (!r.ok)
      return html`<p class="problem" role="note"><strong>No download recommended.</strong> ${r.why} ${r.todo}</p>`;
    const dl = this.download;
    const offline = !this.device?.hostsReachable;
    return html`
      <p>
        Recommended: <strong>${r.id}</strong>, about ${formatBytes(r.downloadMB * 2 ** 20)} to download
        (${r.vramMB} MB of GPU memory). Good for: ${r.goodFor}.
      </p>
      ${r.note ? html`<p class="problem" role="note">${r.note}</p>` : nothing}
      ${
        dl
          ? this.renderProgress(dl)
          : html`<button ?disabled=${offline} @click=${() => this.downloadRecommended()}>
              ${pending === r.id ? 'Resume the download' : `Download ${r.id}`}
            </button>
            ${pending === r.id ? html`<span class="muted">Files already downloaded are kept.</span>` : nothing}`
      }
      ${this.cancelledNote && !dl ? html`<p role="status">${this.cancelledNote}</p>` : nothing}
    `;
  }

  private renderProgress(dl: Download) {
    const speed = dl.rate.speed();
    const left = dl.rate.secondsLeft(dl.totalBytes);
    return html`<div class="progress" role="status" aria-live="polite">
      <progress max=${dl.totalBytes} value=${dl.loaded} aria-label="downloading ${dl.id}"></progress>
      <span>${formatBytes(dl.loaded)} of ${formatBytes(dl.totalBytes)}${speed ? ` · ${formatBytes(speed)}/s` : ''}${left !== null ? ` · ${formatSeconds(left)} left` : ''}</span>
      <span class="muted">${dl.phase}</span>
      <button @click=${() => this.cancelDownload()} ?disabled=${dl.phase === 'cancelling…'}>Cancel download</button>
    </div>`;
  }

  private renderServer() {
    const s = this.server;
    return html`
      <form class="row" @submit=${(e: Event) => this.testServer(e)}>
        <label class="grow">Server URL
          <input class="grow" name="url" .value=${s.url} @input=${(e: Event) => {
            this.server = { ...s, url: (e.target as HTMLInputElement).value };
          }} />
        </label>
        <button type="submit" ?disabled=${s.testing}>${s.testing ? 'Testing…' : 'Test'}</button>
      </form>
      ${
        s.problem
          ? html`<div class="problem" role="alert">
              <p>${s.problem.why}</p>
              ${s.problem.fix ? html`<p>Fix: run <code class="fix">${s.problem.fix}</code>, then Test again.</p>` : nothing}
            </div>`
          : nothing
      }
      ${
        s.models.length
          ? html`<p>It answers, with ${s.models.length} model(s):</p>
              <ul class="models">
                ${s.models.map(
                  (m) => html`<li><button @click=${() => this.useServerModel(m)}>Use ${m}</button></li>`,
                )}
              </ul>`
          : nothing
      }
    `;
  }

  static override styles = [
    AppElement.styles,
    css`
      h1 {
        font-size: 18px;
        margin: 4px 0;
      }
      section {
        border-top: 1px solid var(--line);
        padding-top: 4px;
      }
      p {
        margin: 4px 0;
      }
      .facts {
        margin: 0;
        padding-left: 18px;
      }
      .warn,
      .problem {
        color: var(--term-err);
      }
      .fix {
        user-select: all;
        padding: 1px 4px;
        border: 1px solid var(--line);
        border-radius: 4px;
      }
      .progress {
        display: flex;
        flex-wrap: wrap;
        gap: 8px;
        align-items: center;
      }
      progress {
        flex: 1;
        min-width: 140px;
      }
      .models {
        list-style: none;
        padding: 0;
        display: flex;
        flex-wrap: wrap;
        gap: 6px;
      }
      .done {
        border: 1px solid var(--term-accent);
        border-radius: 8px;
        padding: 6px 10px;
      }
      label {
        display: flex;
        gap: 6px;
        align-items: center;
        flex-wrap: wrap;
      }
    `,
  ];
}

function safeGet(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

/** Ollama's OpenAI-compatible API is under /v1: a bare host gets it. */
export function normaliseServerUrl(raw: string): string {
  try {
    const u = new URL(raw.trim());
    if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1';
    return u.href.replace(/\/+$/, '');
  } catch {
    return raw.trim();
  }
}

/**
 * Why a server did not answer, in words. A browser hides the reason of a failed cross-origin request,
 * so a second request without CORS tells the cases apart: if that one gets through, the server is up
 * and refuses this page's origin.
 */
async function diagnoseServer(url: string, e: unknown): Promise<{ why: string; fix?: string }> {
  const msg = (e as Error).message ?? String(e);
  if (/EINVAL/.test(msg) || /^EINVAL/.test((e as { code?: string }).code ?? ''))
    return { why: `That is not a server URL: ${msg}` };
  if (/401|403|unauthori[sz]ed|forbidden/i.test(msg))
    return {
      why: `The server refuses without an API key (${msg}). Add the key in the terminal: models add <url> <key>.`,
    };
  const up = await fetch(`${url}/models`, {
    mode: 'no-cors',
    cache: 'no-store',
    signal: AbortSignal.timeout(5000),
  }).then(
    () => true,
    () => false,
  );
  if (up) {
    const origin = location.origin;
    return {
      why: `The server at ${url} answers, but the browser blocks this page from reading it: it does not allow the origin ${origin} (CORS).`,
      fix: `OLLAMA_ORIGINS=${origin} ollama serve`,
    };
  }
  return {
    why: `Nothing answers at ${url}. Is the server running? For Ollama: start it with “ollama serve” (and “ollama pull llama3.2” for a model). (${msg})`,
  };
}

/** A failed download or load, in the user's words with what to do. */
function explainLoadError(msg: string): string {
  if (/quota|EDQUOT|QuotaExceeded/i.test(msg))
    return `The browser's storage for this site is full, so the model could not be saved. Free disk space or clear other sites' data, then try again. (${msg})`;
  if (/fetch|network|ENETUNREACH|EIO.*(download|load)/i.test(msg) && !navigator.onLine)
    return `The download stopped: this browser is offline. Connect to the internet and press Resume; files already downloaded are kept. (${msg})`;
  if (/fetch|network/i.test(msg))
    return `The download failed: the model hosts could not be reached. Check the connection and press Resume; files already downloaded are kept. (${msg})`;
  if (/webgpu|gpu|device/i.test(msg))
    return `The GPU could not run this model (${msg}). Connect a server, or use the built-in model.`;
  return `The model could not be loaded: ${msg}`;
}

customElements.define('aos-app-welcome', AosWelcome);
