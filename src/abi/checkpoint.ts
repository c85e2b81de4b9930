/**
 * A checkpoint on the wire: the JSON text an agent hands to `checkpoint`, made
 * by `serialize` in the agent (the SDK) and bounded by CHECKPOINT_MAX in the
 * kernel's syscall table.
 */
import { SysError } from './errors';

/** The most JSON text (UTF-16 code units) one checkpoint may hold. */
export const CHECKPOINT_MAX = 1024 * 1024;

/**
 * JSON text of `state`, refusing what JSON would silently drop or change
 * (functions, symbols, undefined fields, NaN, Maps, class instances, cycles):
 * a checkpoint restores exactly what was saved or is refused with EINVAL.
 */
export function serialize(state: unknown, max = CHECKPOINT_MAX): string {
  const seen = new Set<object>();
  const check = (v: unknown, path: string, depth: number): void => {
    if (depth > 200) throw new SysError('EINVAL', `checkpoint: nested deeper than 200 at ${path}`);
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new SysError('EINVAL', `checkpoint: ${path} is ${v}, not a JSON number`);
      return;
    }
    if (typeof v !== 'object')
      throw new SysError('EINVAL', `checkpoint: ${path} is a ${typeof v}, which JSON cannot hold`);
    if (seen.has(v)) throw new SysError('EINVAL', `checkpoint: ${path} refers back to itself (a cycle)`);
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) check(v[i], `${path}[${i}]`, depth + 1);
    } else {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null)
        throw new SysError(
          'EINVAL',
          `checkpoint: ${path} is a ${(v as object).constructor?.name ?? 'non-plain object'}; use plain objects and arrays`,
        );
      for (const [k, x] of Object.entries(v)) {
        if (x === undefined) throw new SysError('EINVAL', `checkpoint: ${path}.${k} is undefined`);
        check(x, `${path}.${k}`, depth + 1);
      }
    }
    seen.delete(v);
  };
  if (state === undefined) throw new SysError('EINVAL', 'checkpoint: no state given');
  check(state, 'state', 0);
  const json = JSON.stringify(state);
  if (json.length > max)
    throw new SysError('E2BIG', `checkpoint of ${json.length} chars exceeds the ${max} allowed`);
  return json;
}
