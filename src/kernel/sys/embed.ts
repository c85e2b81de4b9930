/** Which sites may embed the OS, and the most their agents may get: kept across sessions. */
import type { Capabilities } from '../../abi/capabilities';
import { SysError } from '../../abi/errors';
import type { Kernel } from '../kernel';

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

/** What an embedding origin may do (null if it is not allowed), or the whole allowlist. */
export function policy(k: Kernel, origin: string | undefined) {
  return origin === undefined
    ? [...k.embedOrigins].map(([o, permissions]) => ({ origin: o, permissions }))
    : (k.embedOrigins.get(origin) ?? null);
}
