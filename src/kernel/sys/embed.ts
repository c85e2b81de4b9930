/** Which sites may embed the OS, and the most their agents may get: kept across sessions. */
import type { Capabilities } from '../../abi/capabilities';
import { SysError } from '../../abi/errors';
import type { Kernel, Tab } from '../kernel';

export function allow(k: Kernel, origin: string, permissions: Partial<Capabilities>): null {
  k.embedOrigins.set(origin, permissions);
  k.log(0, 'grant', `embedding allowed for ${origin}: ${JSON.stringify(permissions)}`);
  k.emit({ type: 'embed.origins', origins: [...k.embedOrigins.keys()] });
  k.session?.soon();
  return null;
}

export function disallow(k: Kernel, origin: string): null {
  if (!k.embedOrigins.delete(origin)) throw new SysError('ENOENT', `${origin} is not allowed`);
  k.log(0, 'revoke', `embedding no longer allowed for ${origin}`);
  k.emit({ type: 'embed.origins', origins: [...k.embedOrigins.keys()] });
  k.session?.soon();
  return null;
}

/**
 * What an embedding origin may do (null if it is not allowed: the user's settings, then the
 * deployment's embed-policy.json), or the user's whole allowlist (not for an embedding page).
 */
export async function policy(k: Kernel, tab: Tab, origin: string | undefined): Promise<unknown> {
  if (origin !== undefined) return k.embedders.policy(origin);
  if (tab.embed) throw new SysError('EPERM', 'an embedding page may ask only about one origin');
  return [...k.embedOrigins].map(([o, permissions]) => ({ origin: o, permissions }));
}
