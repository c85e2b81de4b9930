/**
 * The tool registry: tools described by JSON Schema (the OpenAI function / MCP
 * shape), registered and removed at run time by the kernel (built-ins) and by
 * agents (served through the bus). Arguments are validated against the schema
 * before a call (@cfworker/json-schema: no eval, so it holds under a strict
 * CSP); results are size-limited; `search` ranks tools by meaning, with the
 * embedder long-term memory uses (the kernel wires it), so an agent puts only
 * the relevant few in its context.
 */
import { SysError } from '../abi/errors';
import type { Capabilities } from '../kernel/access-control';
import { type Embedder, HashingEmbedder } from '../memory/embedder';
import type { ToolSpec } from '../models/engine';
import { prefixProblem, refuseName, segmentOf, shadowing, sourceKind, visibleIn } from './names';
import { compileSchema, type SchemaCheck } from './safe-schema';

export interface ToolDef {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export interface ToolInfo extends ToolDef {
  /** Who serves it: 'kernel', or 'agent:<pid>'. */
  source: string;
}

/** Who calls a tool: kernel tools act with exactly the caller's capabilities. */
export interface ToolCaller {
  pid: number;
  caps: Capabilities;
}

export type ToolHandler = (args: Record<string, unknown>, caller: ToolCaller) => Promise<unknown> | unknown;

interface Entry extends ToolInfo {
  validator: SchemaCheck;
  handler: ToolHandler;
}

/** What search embeds for a tool: its name as words, and its description. */
const searchText = (d: ToolDef) => `${d.name.replace(/[._-]/g, ' ')} ${d.description}`;

export const MAX_RESULT_BYTES = 256 * 1024;

/** The registry key: a page's host tools are per page (two pages may each serve host.selection). */
const keyOf = (name: string, source: string): string =>
  sourceKind(source) === 'page' ? `${name}\u0000${source}` : name;

export class ToolRegistry {
  private readonly tools = new Map<string, Entry>();
  /** Until the kernel gives memory's embedder (and when memory cannot open): shared words only. */
  private readonly fallback = new HashingEmbedder();
  private embedder: () => Promise<Embedder> = async () => this.fallback;
  /** Each tool's vector by the embedder that made it, and the text it was made from (by registry key). */
  private vectors = { embedder: '', byKey: new Map<string, { text: string; vector: Float32Array }>() };
  /** MCP servers' prefixes (lower case) → their source: names under them are theirs alone. */
  readonly prefixes = new Map<string, string>();
  /** The page whose host tools a caller sees (the tab that spawned its tree); set by the kernel. */
  scopeOf: (caller: ToolCaller) => string | null = () => null;

  /** Search embeds with this embedder (memory's, the one recall uses); it may change at any time. */
  useEmbedder(source: () => Promise<Embedder>): void {
    this.embedder = source;
  }

  /** An MCP server claims its prefix; agents' tools under it are evicted (returned). */
  claimPrefix(prefix: string, source: string): string[] {
    const why = prefixProblem(prefix, source, this.prefixes);
    if (why) throw refuseName(why);
    const seg = prefix.toLowerCase();
    this.prefixes.set(seg, source);
    const evicted: string[] = [];
    for (const [k, e] of this.tools)
      if (sourceKind(e.source) === 'agent' && e.name.toLowerCase().startsWith(`${seg}.`)) {
        this.tools.delete(k);
        evicted.push(`${e.name} (${e.source})`);
      }
    return evicted;
  }

  releasePrefix(prefix: string, source: string): void {
    if (this.prefixes.get(prefix.toLowerCase()) === source) this.prefixes.delete(prefix.toLowerCase());
  }

  register(def: ToolDef, source: string, handler: ToolHandler): ToolInfo {
    if (!/^[a-zA-Z][\w.-]{0,63}$/.test(def.name)) throw new SysError('EINVAL', `bad tool name "${def.name}"`);
    const why = shadowing(def.name, source, this.prefixes);
    if (why) throw refuseName(why);
    const existing = this.tools.get(keyOf(def.name, source));
    if (existing && existing.source !== source)
      throw new SysError('EAGAIN', `tool "${def.name}" is served by ${existing.source}`);
    let validator: SchemaCheck;
    try {
      // Linear-time checks only (safe-schema.ts): a schema must not let one caller stall the kernel.
      validator = compileSchema(def.inputSchema, { allowPatternProperties: sourceKind(source) === 'mcp' });
      validator.validate({}); // a schema that cannot even be applied fails here, not at the first call
    } catch (e) {
      if (e instanceof SysError) throw e;
      throw new SysError('EINVAL', `input schema of "${def.name}" is not usable: ${(e as Error).message}`);
    }
    this.tools.set(keyOf(def.name, source), { ...def, source, validator, handler });
    return { ...def, source };
  }

  /** Removes a tool; without a source (the user), every tool of that name, pages' included. */
  remove(name: string, source?: string): boolean {
    if (source) {
      const k = keyOf(name, source);
      const e = this.tools.get(k);
      return !!e && e.source === source && this.tools.delete(k);
    }
    let any = false;
    for (const [k, e] of this.tools) if (e.name === name) any = this.tools.delete(k) || any;
    return any;
  }

  /** How many tools a source serves now (pages and agents are limited in how many). */
  countOf(source: string): number {
    let n = 0;
    for (const e of this.tools.values()) if (e.source === source) n++;
    return n;
  }

  /** Whether `source` already serves a tool of this name (registering it again replaces it: no more). */
  serves(name: string, source: string): boolean {
    return this.tools.get(keyOf(name, source))?.source === source;
  }

  /** Removes every tool a source served (an agent exited). */
  removeSource(source: string): void {
    for (const [n, e] of this.tools) if (e.source === source) this.tools.delete(n);
  }

  list(allowed: (name: string) => boolean = () => true, caller?: ToolCaller): ToolInfo[] {
    const scope = caller ? this.scopeOf(caller) : null;
    return [...this.tools.values()]
      .filter((e) => allowed(e.name) && (!caller || visibleIn(e.source, scope)))
      .map(({ name, description, inputSchema, source }) => ({ name, description, inputSchema, source }));
  }

  /** The `k` tools closest in meaning to `query` (cosine over name + description, memory's embedder). */
  async search(
    query: string,
    k: number,
    allowed: (name: string) => boolean = () => true,
    caller?: ToolCaller,
  ): Promise<(ToolInfo & { score: number })[]> {
    const embedder = await this.embedder().catch(() => this.fallback);
    if (this.vectors.embedder !== embedder.id) this.vectors = { embedder: embedder.id, byKey: new Map() };
    const cache = this.vectors.byKey;
    const scope = caller ? this.scopeOf(caller) : null;
    const candidates = [...this.tools.values()]
      .filter((e) => allowed(e.name) && (!caller || visibleIn(e.source, scope)))
      .map((e) => ({ e, key: keyOf(e.name, e.source) }));
    // Tools are embedded once per embedder (again only if a tool's description changed).
    const stale = candidates.filter(({ e, key }) => cache.get(key)?.text !== searchText(e));
    const [q, ...made] = await embedder.embed([query, ...stale.map(({ e }) => searchText(e))]);
    for (const [i, { e, key }] of stale.entries()) cache.set(key, { text: searchText(e), vector: made[i]! });
    return candidates
      .map(({ e, key }) => ({
        name: e.name,
        description: e.description,
        inputSchema: e.inputSchema,
        source: e.source,
        score: cosine(q!, cache.get(key)!.vector),
      }))
      .sort((a, b) => b.score - a.score)
      .slice(0, k);
  }

  /** Validates the arguments, calls the tool, and bounds the result. */
  async call(name: string, args: unknown, caller: ToolCaller): Promise<unknown> {
    // host.* resolves to the caller's own page's tool, never another page's.
    const e =
      segmentOf(name) === 'host'
        ? this.tools.get(keyOf(name, `tab:${this.scopeOf(caller)}`))
        : this.tools.get(name);
    if (!e) throw new SysError('ENOENT', `no tool "${name}"`);
    const v = e.validator.validate(args);
    if (!v.valid) {
      const first = v.errors
        .slice(0, 3)
        .map((x) => `${x.instanceLocation} ${x.error}`)
        .join('; ');
      throw new SysError('EINVAL', `arguments of "${name}" do not match its schema: ${first}`);
    }
    const result = await e.handler(args as Record<string, unknown>, caller);
    // Measured with an early stop, never by JSON.stringify: a 16 MB typed array an agent's tool
    // returns would become a string of 16 million keys in the kernel's thread.
    const size = resultSize(result ?? null, MAX_RESULT_BYTES);
    if (size > MAX_RESULT_BYTES)
      throw new SysError(
        'E2BIG',
        `"${name}" returned more than ${MAX_RESULT_BYTES} bytes (${size} counted before stopping); the limit is ${MAX_RESULT_BYTES}`,
      );
    return result ?? null;
  }
}

/**
 * About how many bytes a result holds (strings by length, binary by its whole buffer), walking
 * it only until `limit` is passed; nesting past 64 levels counts as over.
 */
export function resultSize(v: unknown, limit: number): number {
  let n = 0;
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length && n <= limit) {
    const [x, depth] = stack.pop()!;
    if (depth > 64) return limit + 1;
    if (typeof x === 'string') n += x.length + 2;
    else if (x === null || typeof x !== 'object') n += 8;
    else if (x instanceof ArrayBuffer) n += x.byteLength;
    else if (ArrayBuffer.isView(x)) n += x.buffer.byteLength;
    else if (Array.isArray(x)) {
      n += 2;
      for (let i = 0; i < x.length && n <= limit; i++) {
        n += 1;
        stack.push([x[i], depth + 1]);
      }
    } else {
      n += 2;
      for (const k of Object.keys(x)) {
        n += k.length + 4;
        stack.push([(x as Record<string, unknown>)[k], depth + 1]);
        if (n > limit) break;
      }
    }
  }
  return n;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}

/** The OpenAI function shape of a tool, for a model request. */
export function toSpec(t: ToolDef): ToolSpec {
  return {
    type: 'function',
    function: { name: t.name, description: t.description, parameters: t.inputSchema },
  };
}

/** Arithmetic without eval: + - * / % ^ and parentheses over numbers. */
export function evaluate(expr: string): number {
  const tokens = expr.match(/\d+(?:\.\d+)?(?:e[+-]?\d+)?|[-+*/%^()]/gi);
  if (!tokens || tokens.join('') !== expr.replace(/\s+/g, ''))
    throw new SysError('EINVAL', `not an arithmetic expression: ${expr}`);
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];
  const primary = (): number => {
    const t = next();
    if (t === '(') {
      const v = sum();
      if (next() !== ')') throw new SysError('EINVAL', 'missing )');
      return v;
    }
    if (t === '-') return -primary();
    if (t === '+') return primary();
    const n = Number(t);
    if (t === undefined || Number.isNaN(n)) throw new SysError('EINVAL', `unexpected ${t ?? 'end'}`);
    return n;
  };
  const power = (): number => {
    const b = primary();
    if (peek() !== '^') return b;
    next();
    return b ** power();
  };
  const product = (): number => {
    let v = power();
    while (peek() === '*' || peek() === '/' || peek() === '%') {
      const op = next();
      const r = power();
      v = op === '*' ? v * r : op === '/' ? v / r : v % r;
    }
    return v;
  };
  const sum = (): number => {
    let v = product();
    while (peek() === '+' || peek() === '-') v = next() === '+' ? v + product() : v - product();
    return v;
  };
  const v = sum();
  if (i !== tokens.length) throw new SysError('EINVAL', `unexpected ${tokens[i]}`);
  return v;
}

/** The kernel's own tools. */
export function registerBuiltins(r: ToolRegistry): void {
  r.register(
    {
      name: 'time.now',
      description: 'the current date and time (ISO 8601) and time zone',
      inputSchema: { type: 'object', properties: {}, additionalProperties: false },
    },
    'kernel',
    () => ({ iso: new Date().toISOString(), timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone }),
  );
  r.register(
    {
      name: 'math.evaluate',
      description: 'evaluate an arithmetic expression such as (2+3)*4 exactly, a calculator',
      inputSchema: {
        type: 'object',
        properties: { expression: { type: 'string', maxLength: 1000 } },
        required: ['expression'],
        additionalProperties: false,
      },
    },
    'kernel',
    (a) => ({ value: evaluate(String(a.expression)) }),
  );
}
