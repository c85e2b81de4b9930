/**
 * What every HTTP client of the OS shares (remote models, MCP servers, program
 * and http.fetch origins): parsing an http(s) URL the user gave, and turning an
 * HTTP status or a failed fetch into a typed error in the user's terms.
 */
import { type Errno, SysError } from '../abi/errors';

/** An http(s) URL, or EINVAL saying what is wrong with it. `credentialsGoIn` refuses user:pass@ and says where they go. */
export function parseHttpUrl(url: string, credentialsGoIn?: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SysError('EINVAL', `not a URL: ${url.slice(0, 200)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new SysError('EINVAL', `only http(s) URLs, not ${u.protocol}`);
  if (credentialsGoIn && (u.username || u.password))
    throw new SysError('EINVAL', `put credentials in ${credentialsGoIn}, not in the URL`);
  return u;
}

/** The errno an HTTP error status means. */
export function errnoOfStatus(status: number): Errno {
  if (status === 401 || status === 403) return 'EPERM';
  if (status === 404) return 'ENOENT';
  if (status === 408 || status === 504) return 'ETIMEDOUT';
  if (status === 413) return 'E2BIG';
  if (status === 429 || status === 503) return 'EAGAIN';
  if (status === 400 || status === 422) return 'EINVAL';
  return 'EIO';
}

/** The server's own words in an error body: `{error: {message}}`, `{error: "…"}` (OpenAI, JSON-RPC), or the text. */
export function errorDetail(body: string): string {
  try {
    const j: unknown = JSON.parse(body);
    const err = typeof j === 'object' && j !== null ? (j as { error?: unknown }).error : undefined;
    if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string')
      return (err as { message: string }).message.slice(0, 300);
    if (typeof err === 'string') return err.slice(0, 300);
  } catch {
    // Not JSON: the text itself.
  }
  return body.slice(0, 300);
}

/** A fetch that failed before any answer: a timeout, or the server unreachable (with the reason where Node gives one). */
export function fetchError(e: unknown, url: string, what: string): SysError {
  if (e instanceof SysError) return e;
  if ((e as Error)?.name === 'TimeoutError')
    return new SysError('ETIMEDOUT', `${what} on ${url} did not finish in time`);
  // Node says why in `cause` (ECONNREFUSED, ENOTFOUND…); a browser only says "Failed to fetch".
  const cause = (e as { cause?: { code?: unknown; message?: unknown } })?.cause;
  const detail =
    (typeof cause?.code === 'string' && cause.code) ||
    (typeof cause?.message === 'string' && cause.message) ||
    (e instanceof Error ? e.message : String(e));
  return new SysError(
    'EIO',
    `cannot reach ${url}: ${detail} (server down, wrong address, a redirect, or CORS)`,
  );
}
