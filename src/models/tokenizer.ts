/**
 * Real token counts for models that run outside the kernel: the model's own
 * tokenizer.json, run by @huggingface/tokenizers (pure JS, ~8 kB gzipped),
 * so the kernel can count without loading the model or blocking on a worker.
 */
import { SysError } from '../abi/errors';

export type TokenCounter = (text: string) => number;

export async function loadTokenizer(baseUrl: string, fetchImpl: typeof fetch = fetch): Promise<TokenCounter> {
  const get = async (file: string) => {
    const url = new URL(file, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).href;
    const res = await fetchImpl(url).catch((e: unknown) => {
      throw new SysError('EIO', `fetching ${url}: ${(e as Error).message ?? e}`);
    });
    if (!res.ok) throw new SysError(res.status === 404 ? 'ENOENT' : 'EIO', `${url}: HTTP ${res.status}`);
    const body = await res.text();
    try {
      return JSON.parse(body) as Record<string, unknown>;
    } catch {
      // Single-page hosts answer a missing file with index.html.
      throw new SysError('ENOENT', `${url} is not a tokenizer file (${body.slice(0, 15).trim()}…)`);
    }
  };
  const [json, config] = await Promise.all([
    get('tokenizer.json'),
    get('tokenizer_config.json').catch(() => ({})),
  ]);
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const tok = new Tokenizer(json, config);
  return (text) => tok.encode(text, { add_special_tokens: false }).ids.length;
}
