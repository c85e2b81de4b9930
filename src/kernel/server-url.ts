/**
 * What the user typed as a server's address (a remote model server, an MCP server), read as an
 * http(s) URL — or an EINVAL that says what was wrong with it in their terms and what would work.
 * `localhost:11434` parses as a URL with the scheme "localhost:", so it is caught before parsing.
 */
import { SysError } from './errors';

export function serverUrl(text: string, example: string): URL {
  const typed = text.trim();
  const shown = JSON.stringify(typed.length > 80 ? `${typed.slice(0, 79)}…` : typed);
  if (!typed) throw new SysError('EINVAL', `give the server's address, e.g. ${example}`);
  if (/\s/.test(typed))
    throw new SysError('EINVAL', `${shown} is not a web address (it has spaces); e.g. ${example}`);
  if (!/^[a-z][a-z\d+.-]*:\/\//i.test(typed)) {
    // host:port or a bare host: say what to add rather than "unknown protocol localhost:".
    const guess = /^[\w.-]+(:\d+)?(\/.*)?$/.test(typed)
      ? ` — did you mean http://${typed}?`
      : `; e.g. ${example}`;
    throw new SysError('EINVAL', `${shown} does not start with http:// or https://${guess}`);
  }
  let url: URL;
  try {
    url = new URL(typed);
  } catch {
    throw new SysError('EINVAL', `${shown} is not a web address; e.g. ${example}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new SysError(
      'EINVAL',
      `${shown} uses ${url.protocol.slice(0, -1)}://, but only http:// and https:// servers work here; e.g. ${example}`,
    );
  return url;
}
