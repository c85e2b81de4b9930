/**
 * Tool input schemas come from agents, pages and MCP servers, and the kernel checks every
 * tool call's arguments against one — so no schema may make a check take more than time
 * proportional to the arguments, or one agent stalls the kernel for everyone:
 * - a `pattern` is matched by RE2 (re2js: linear time) instead of the JS engine, whose
 *   backtracking takes about a minute for `^(a+)+$` against thirty a's and a '!';
 * - `patternProperties` (matched by the JS engine inside the validator, on property names)
 *   is refused in agents' and pages' schemas;
 * - nested `anyOf`/`oneOf` through `$ref`s multiply (2^n checks for n levels in a few hundred
 *   bytes): every check of a subschema is counted, and past a budget proportional to the
 *   arguments' size the call is refused with E2BIG, however the schema is built.
 */

import { format, Validator } from '@cfworker/json-schema';
import { RE2JS } from 're2js';
import { SysError } from '../abi/errors';

/** Longest `pattern` accepted. */
const MAX_PATTERN = 1000;
/** Distinct patterns the kernel keeps matchers for (each is a named format of the validator). */
const MAX_PATTERNS = 4096;
/** Subschema checks any call may take, plus this many per value in its arguments. */
const BASE_CHECKS = 20_000;
const CHECKS_PER_VALUE = 8;
/** Keywords whose values are data, not schemas: left as they are. */
const DATA_KEYWORDS = new Set(['const', 'enum', 'default', 'examples']);

const formats = format as Record<string, (s: string) => boolean>;
const known = new Map<string, string>();

/** The validator format that matches `pattern` with RE2 (unanchored, as JSON Schema's pattern). */
function re2Format(pattern: string, where: string): string {
  const have = known.get(pattern);
  if (have) return have;
  if (pattern.length > MAX_PATTERN)
    throw new SysError(
      'E2BIG',
      `${where}: a pattern of ${pattern.length} characters (at most ${MAX_PATTERN})`,
    );
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    throw new SysError(
      'EINVAL',
      `${where}: pattern ${JSON.stringify(pattern.slice(0, 80))} cannot be matched in linear time (${(e as Error).message.slice(0, 120)}); lookarounds and back-references are not supported`,
    );
  }
  if (known.size >= MAX_PATTERNS)
    throw new SysError('EAGAIN', `${where}: the kernel holds ${MAX_PATTERNS} distinct patterns already`);
  const name = `agentos-re2:${known.size}`;
  formats[name] = (s: string) => re.test(s);
  known.set(pattern, name);
  return name;
}

export interface SchemaOptions {
  /** MCP servers (added by the user) may keep patternProperties; agents and pages may not. */
  allowPatternProperties: boolean;
}

/** The schema with every `pattern` matched by RE2 (a copy; the original is what callers are shown). */
export function linearSchema(schema: unknown, opts: SchemaOptions, path = '', depth = 0): unknown {
  if (depth > 64) throw new SysError('EINVAL', `input schema nested too deeply at ${path || '/'}`);
  if (Array.isArray(schema)) return schema.map((x, i) => linearSchema(x, opts, `${path}/${i}`, depth + 1));
  if (schema === null || typeof schema !== 'object') return schema;
  const src = schema as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(src)) {
    if (k === 'pattern' && typeof v === 'string') continue;
    if (k === 'patternProperties' && !opts.allowPatternProperties)
      throw new SysError(
        'EINVAL',
        `input schema at ${path || '/'}: patternProperties is not supported (use properties or additionalProperties)`,
      );
    out[k] = DATA_KEYWORDS.has(k) ? v : linearSchema(v, opts, `${path}/${k}`, depth + 1);
  }
  if (typeof src.pattern === 'string') {
    const matcher = { format: re2Format(src.pattern, `input schema at ${path || '/'}`) };
    out.allOf = Array.isArray(out.allOf) ? [...out.allOf, matcher] : [matcher];
  }
  return out;
}

/** How many values an argument holds (what the check budget grows with). */
function countValues(v: unknown, depth = 0): number {
  if (depth > 64 || v === null || typeof v !== 'object') return 1;
  let n = 1;
  for (const x of Array.isArray(v) ? v : Object.values(v)) n += countValues(x, depth + 1);
  return n;
}

export interface SchemaCheck {
  validate(args: unknown): { valid: boolean; errors: { instanceLocation: string; error: string }[] };
}

/**
 * A validator for a tool's input schema whose checks are linear: patterns by RE2, and the number
 * of subschema checks bounded (every subschema is seen through a Proxy that counts the validator's
 * visits; past the budget the check throws E2BIG).
 */
export function compileSchema(schema: unknown, opts: SchemaOptions): SchemaCheck {
  const budget = { left: Number.POSITIVE_INFINITY };
  const spend = () => {
    if (--budget.left < 0)
      throw new SysError(
        'E2BIG',
        'checking these arguments against the tool’s input schema takes too long (its anyOf/oneOf/$ref nesting multiplies)',
      );
  };
  const counted = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map(counted);
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = DATA_KEYWORDS.has(k) ? x : counted(x);
    // The validator reads `$ref` first each time it checks a value against this subschema.
    return new Proxy(o, {
      get(t, key, r) {
        if (key === '$ref') spend();
        return Reflect.get(t, key, r);
      },
    });
  };
  const validator = new Validator(counted(linearSchema(schema, opts)) as never, '2020-12', true);
  return {
    validate(args) {
      budget.left = BASE_CHECKS + CHECKS_PER_VALUE * countValues(args);
      try {
        return validator.validate(args as never);
      } finally {
        budget.left = Number.POSITIVE_INFINITY;
      }
    },
  };
}
