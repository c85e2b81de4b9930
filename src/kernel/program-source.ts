/**
 * Where an agent's program comes from. Agents run in sandboxed frames that can
 * load nothing by URL, so the kernel fetches every program named by URL and
 * hands it over as source. A name is a built-in; anything with a slash, a
 * colon or a backslash is a URL, resolved the way the browser would resolve it
 * against the OS's origin: `//host/x` and `/\host/x` are other hosts, not this
 * origin's paths, and need the `net` capability like any other origin.
 */
import { SysError } from '../abi/errors';

export type ProgramSource =
  | { kind: 'builtin'; name: string }
  | { kind: 'url'; url: string; origin: string; sameOrigin: boolean };

/** Resolves a program name against the OS's origin; EINVAL for what cannot be a program. */
export function resolveProgram(program: string, osOrigin: string): ProgramSource {
  if (!/[/:\\]/.test(program) && !program.startsWith('.')) return { kind: 'builtin', name: program };
  let url: URL;
  try {
    url = new URL(program, `${osOrigin}/`);
  } catch {
    throw new SysError('EINVAL', `program "${program.slice(0, 200)}" is neither a built-in nor a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new SysError('EINVAL', `program "${program.slice(0, 200)}": only http(s) URLs can be programs`);
  if (url.username || url.password) throw new SysError('EINVAL', 'a program URL may not carry credentials');
  return { kind: 'url', url: url.href, origin: url.origin, sameOrigin: url.origin === osOrigin };
}

/** A program's source, fetched by the kernel: agent frames load nothing themselves. */
export async function fetchProgram(url: string): Promise<string> {
  const MAX = 2 * 2 ** 20;
  const res = await fetch(url, {
    signal: AbortSignal.timeout(15_000),
    credentials: 'omit',
    redirect: 'error', // a same-origin path must not be redirected to another host
  }).catch((e: unknown) => {
    const timeout = (e as Error)?.name === 'TimeoutError';
    throw new SysError(
      timeout ? 'ETIMEDOUT' : 'EIO',
      `fetching program ${url}: ${(e as Error).message ?? e}`,
    );
  });
  if (!res.ok)
    throw new SysError(res.status === 404 ? 'ENOENT' : 'EIO', `program ${url}: HTTP ${res.status}`);
  const text = await res.text();
  if (text.length > MAX) throw new SysError('E2BIG', `program ${url} is over ${MAX} bytes`);
  return text;
}
