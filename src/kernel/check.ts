/**
 * Argument checks for syscalls. Each check takes untrusted data that came
 * through structured clone and returns it typed, or throws EINVAL/E2BIG. Objects
 * must be plain and may carry only the keys the check names, so `__proto__`,
 * `constructor` and friends are refused rather than interpreted.
 */
import { SysError } from '../abi/errors';

export type Check<T> = (v: unknown, path: string) => T;

const fail = (path: string, what: string): never => {
  throw new SysError('EINVAL', `${path || 'args'}: ${what}`);
};

export const str =
  (opts: { min?: number; max?: number; pattern?: RegExp } = {}): Check<string> =>
  (v, path) => {
    if (typeof v !== 'string') return fail(path, `expected a string, got ${typeName(v)}`);
    const max = opts.max ?? 65_536;
    if (v.length > max) throw new SysError('E2BIG', `${path}: string of ${v.length} chars exceeds ${max}`);
    if (v.length < (opts.min ?? 0)) return fail(path, `must have at least ${opts.min} characters`);
    if (opts.pattern && !opts.pattern.test(v)) return fail(path, `does not match ${opts.pattern}`);
    return v;
  };

export const int =
  (opts: { min?: number; max?: number } = {}): Check<number> =>
  (v, path) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v))
      return fail(path, `expected an integer, got ${typeName(v)}`);
    if (opts.min !== undefined && v < opts.min) return fail(path, `must be ≥ ${opts.min}`);
    if (opts.max !== undefined && v > opts.max) return fail(path, `must be ≤ ${opts.max}`);
    return v;
  };

export const num =
  (opts: { min?: number; max?: number } = {}): Check<number> =>
  (v, path) => {
    if (typeof v !== 'number' || Number.isNaN(v)) return fail(path, `expected a number, got ${typeName(v)}`);
    if (opts.min !== undefined && v < opts.min) return fail(path, `must be ≥ ${opts.min}`);
    if (opts.max !== undefined && v > opts.max) return fail(path, `must be ≤ ${opts.max}`);
    return v;
  };

export const bool: Check<boolean> = (v, path) =>
  typeof v === 'boolean' ? v : fail(path, `expected a boolean, got ${typeName(v)}`);

export const oneOf =
  <T extends string>(...values: T[]): Check<T> =>
  (v, path) =>
    typeof v === 'string' && (values as string[]).includes(v)
      ? (v as T)
      : fail(path, `expected one of ${values.join(', ')}`);

export const arr =
  <T>(item: Check<T>, opts: { max?: number } = {}): Check<T[]> =>
  (v, path) => {
    if (!Array.isArray(v)) return fail(path, `expected an array, got ${typeName(v)}`);
    const max = opts.max ?? 1024;
    if (v.length > max) throw new SysError('E2BIG', `${path}: ${v.length} items exceeds ${max}`);
    // Checks are pure: run each item without building its path, and only on a failure run it
    // again with the path, for the error (a batch of 1024 builds no 1024 strings).
    const out = new Array<T>(v.length);
    for (let i = 0; i < v.length; i++) {
      try {
        out[i] = item(v[i], path);
      } catch {
        out[i] = item(v[i], `${path}[${i}]`);
      }
    }
    return out;
  };

export const opt =
  <T>(c: Check<T>): Check<T | undefined> =>
  (v, path) =>
    v === undefined ? undefined : c(v, path);

export const nullable =
  <T>(c: Check<T>): Check<T | null> =>
  (v, path) =>
    v === null ? null : c(v, path);

/** Any JSON-like value (what structured clone gives), bounded in depth and size. */
export const json =
  (opts: { maxBytes?: number } = {}): Check<unknown> =>
  (v, path) => {
    walkChecked(v, path, opts.maxBytes ?? 1_048_576, false);
    return v;
  };

/** Like json(), but binary leaves (ArrayBuffer, typed arrays) are allowed too: bus messages may carry data. */
export const payload =
  (opts: { maxBytes?: number } = {}): Check<unknown> =>
  (v, path) => {
    walkChecked(v, path, opts.maxBytes ?? 16 * 1_048_576, true);
    return v;
  };

/** The ArrayBuffers in a value, so it can be transferred (moved, not copied) onward. */
export function transferables(v: unknown, out: ArrayBuffer[] = [], depth = 0): ArrayBuffer[] {
  if (depth > 32 || v === null || typeof v !== 'object') return out;
  if (v instanceof ArrayBuffer) out.push(v);
  else if (ArrayBuffer.isView(v)) {
    if (v.buffer instanceof ArrayBuffer && !out.includes(v.buffer)) out.push(v.buffer);
  } else if (Array.isArray(v)) for (const x of v) transferables(x, out, depth + 1);
  else
    for (const k in v)
      if (Object.hasOwn(v, k)) transferables((v as Record<string, unknown>)[k], out, depth + 1);
  return out;
}

/** Whether a value holds binary data (what `transferables` would find), allocating nothing: the bus's hot path. */
export function hasBinary(v: unknown, depth = 0): boolean {
  if (depth > 32 || v === null || typeof v !== 'object') return false;
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return true;
  if (Array.isArray(v)) {
    for (const x of v) if (hasBinary(x, depth + 1)) return true;
    return false;
  }
  for (const k in v)
    if (Object.hasOwn(v, k) && hasBinary((v as Record<string, unknown>)[k], depth + 1)) return true;
  return false;
}

/** A failure seen by the fast walk: walk again with paths, for the error. */
const RETRY = new Error('check again with paths');

/** walk() without a path string per element; on any failure, walk() again to throw the error with its path. */
function walkChecked(v: unknown, path: string, left: number, binary: boolean): void {
  try {
    walk(v, null, 0, { left, binary });
  } catch (e) {
    if (e !== RETRY) throw e;
    walk(v, path, 0, { left, binary });
    throw new SysError('EINVAL', `${path || 'args'}: not a valid value`); // (walk threw above)
  }
}

/** `path` null: the fast walk, which throws RETRY instead of building an error's path. */
function walk(
  v: unknown,
  path: string | null,
  depth: number,
  budget: { left: number; binary?: boolean },
): void {
  if (path === null) {
    walkFast(v, depth, budget);
    return;
  }
  if (depth > 32) fail(path, 'nested too deeply');
  if (budget.binary && (v instanceof ArrayBuffer || ArrayBuffer.isView(v))) {
    // Structured clone copies a view's whole buffer, so the buffer is what is sent and held.
    const held = ArrayBuffer.isView(v) ? v.buffer.byteLength : v.byteLength;
    budget.left -= held;
    if (budget.left < 0 && ArrayBuffer.isView(v) && held > v.byteLength)
      throw new SysError(
        'E2BIG',
        `${path || 'args'}: a view of ${v.byteLength} bytes over a buffer of ${held}: the whole buffer would be copied; send view.slice() instead`,
      );
  } else if (v === null || typeof v === 'boolean' || typeof v === 'number') {
    budget.left -= 8;
  } else if (typeof v === 'string') {
    budget.left -= v.length;
  } else if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) walk(v[i], `${path}[${i}]`, depth + 1, budget);
  } else if (isPlain(v)) {
    for (const k of Object.keys(v)) {
      if (FORBIDDEN_KEYS.has(k)) fail(path, `key "${k}" is not allowed`);
      budget.left -= k.length;
      walk((v as Record<string, unknown>)[k], `${path}.${k}`, depth + 1, budget);
    }
  } else {
    fail(path, `unsupported value of type ${typeName(v)}`);
  }
  if (budget.left < 0) throw new SysError('E2BIG', `${path || 'args'}: value too large`);
}

/** The same rules as walk(), no strings built; any failure is RETRY. */
function walkFast(v: unknown, depth: number, budget: { left: number; binary?: boolean }): void {
  if (depth > 32) throw RETRY;
  if (budget.binary && (v instanceof ArrayBuffer || ArrayBuffer.isView(v))) {
    const held = ArrayBuffer.isView(v) ? v.buffer.byteLength : v.byteLength;
    budget.left -= held;
  } else if (v === null || typeof v === 'boolean' || typeof v === 'number') {
    budget.left -= 8;
  } else if (typeof v === 'string') {
    budget.left -= v.length;
  } else if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) walkFast(v[i], depth + 1, budget);
  } else if (isPlain(v)) {
    for (const k of Object.keys(v)) {
      if (FORBIDDEN_KEYS.has(k)) throw RETRY;
      budget.left -= k.length;
      walkFast((v as Record<string, unknown>)[k], depth + 1, budget);
    }
  } else {
    throw RETRY;
  }
  if (budget.left < 0) throw RETRY;
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function isPlain(v: unknown): v is object {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

type Shape = Record<string, Check<unknown>>;
type Out<S extends Shape> = { [K in keyof S]: ReturnType<S[K]> };

/** A plain object with exactly the named keys (missing optional ones allowed). */
export const obj =
  <S extends Shape>(shape: S): Check<Out<S>> =>
  (v, path) => {
    if (v === undefined) v = {};
    if (!isPlain(v)) return fail(path, `expected an object, got ${typeName(v)}`);
    const src = v as Record<string, unknown>;
    for (const k of Object.keys(src)) {
      if (!Object.hasOwn(shape, k) || FORBIDDEN_KEYS.has(k)) fail(path, `unknown key "${k}"`);
    }
    const out = Object.create(null) as Record<string, unknown>;
    for (const k of Object.keys(shape)) {
      const value = shape[k]!(src[k], path ? `${path}.${k}` : k);
      if (value !== undefined) out[k] = value;
    }
    return out as Out<S>;
  };

function typeName(v: unknown): string {
  if (v === null) return 'null';
  // A number that is not the right kind says which number it was (NaN: what Number('abc') gives).
  if (typeof v === 'number') return Number.isNaN(v) ? 'something that is not a number' : String(v);
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/**
 * A vector: a Float32Array or an array of finite numbers, at most `max` long, not all zero.
 * Returned as a Float32Array of its own, so a view over a larger buffer never keeps (or
 * stores) that buffer.
 */
export const vector =
  (max = 4096): Check<Float32Array> =>
  (v, path) => {
    if (v instanceof Float32Array || Array.isArray(v)) {
      if (v.length > max) throw new SysError('E2BIG', `${path}: vector of ${v.length} exceeds ${max}`);
      for (let i = 0; i < v.length; i++)
        if (typeof v[i] !== 'number') return fail(`${path}[${i}]`, 'expected a finite number');
      // Checked as stored (32-bit): 1e39 becomes Infinity there, 1e-50 becomes 0.
      const out = Float32Array.from(v as ArrayLike<number>);
      let nonzero = false;
      for (let i = 0; i < out.length; i++) {
        if (!Number.isFinite(out[i])) return fail(`${path}[${i}]`, 'expected a finite 32-bit number');
        if (out[i] !== 0) nonzero = true;
      }
      if (out.length && !nonzero) return fail(path, 'is the zero vector (it has no direction to compare)');
      return out;
    }
    return fail(path, `expected a Float32Array or number[], got ${typeName(v)}`);
  };

/** A flat object of string/number/boolean values (metadata filters). */
export const primitives: Check<Record<string, string | number | boolean>> = (v, path) => {
  if (!isPlain(v)) return fail(path, `expected an object, got ${typeName(v)}`);
  const out = Object.create(null) as Record<string, string | number | boolean>;
  for (const [k, x] of Object.entries(v)) {
    if (FORBIDDEN_KEYS.has(k)) fail(path, `key "${k}" is not allowed`);
    if (typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean')
      fail(`${path}.${k}`, 'expected a string, number or boolean');
    out[k] = x as string | number | boolean;
  }
  return out;
};
