/**
 * Constrained decoding: a JSON schema (or plain JSON) turned into a per-token mask, so
 * a model can only write output that the schema accepts. XGrammar compiles the
 * schema against the model's vocabulary once; a matcher then follows the tokens as
 * they are generated and says which may come next. Used by the transformers.js
 * driver as a logits processor; WebLLM has the same engine built in.
 */

import { SysError } from '../../abi/errors';
import type { ChatRequest } from '../engine';
import { loadXGrammar, type XGrammar } from './xgrammar';

type Compiler = Awaited<ReturnType<XGrammar['GrammarCompiler']['createGrammarCompiler']>>;
type Compiled = Awaited<ReturnType<Compiler['compileJSONSchema']>>;
type Matcher = Awaited<ReturnType<XGrammar['GrammarMatcher']['createGrammarMatcher']>>;

/** What XGrammar needs to know of a tokenizer. */
export interface VocabInfo {
  /** Each token's text as the tokenizer stores it, by id ('' for ids without a token). */
  tokens: string[];
  /** How stored text maps to bytes: GPT-2 style ('byte_level'), SentencePiece with <0xNN> ('byte_fallback'), or as is. */
  vocabType: 'byte_level' | 'byte_fallback' | 'raw';
  /** The tokenizer puts a word-start mark before the text (SentencePiece's dummy prefix). */
  prependSpace: boolean;
  /** The model's logits width (config.vocab_size), which may exceed the token count. */
  vocabSize: number;
  /** Tokens that end an answer (EOS). */
  stopIds: number[];
}

interface TokenizerJson {
  model?: { byte_fallback?: boolean };
  decoder?: unknown;
  normalizer?: unknown;
  pre_tokenizer?: unknown;
}

/** Every component of a (possibly Sequence) tokenizer part, flattened. */
function parts(x: unknown): Array<Record<string, unknown>> {
  if (!x || typeof x !== 'object') return [];
  const o = x as Record<string, unknown>;
  const nested = [o.decoders, o.normalizers, o.pretokenizers].find(Array.isArray) as unknown[] | undefined;
  return nested ? nested.flatMap(parts) : [o];
}

/** Reads XGrammar's view of a tokenizer from its tokenizer.json and its vocabulary (token → id). */
export function vocabInfo(
  json: TokenizerJson | undefined,
  vocab: Map<string, number>,
  vocabSize: number,
  stopIds: number[],
): VocabInfo {
  const size = Math.max(vocabSize, ...[...vocab.values()].map((i) => i + 1));
  const tokens = new Array<string>(size).fill('');
  for (const [t, i] of vocab) tokens[i] = t;
  const decoders = parts(json?.decoder);
  const byteLevel = decoders.some((d) => d.type === 'ByteLevel') || (!json && vocab.has('Ġ'));
  const byteFallback =
    json?.model?.byte_fallback === true ||
    decoders.some((d) => d.type === 'ByteFallback') ||
    (!json && vocab.has('<0x0A>'));
  const prependSpace =
    parts(json?.normalizer).some((n) => n.type === 'Prepend') ||
    parts(json?.pre_tokenizer).some(
      (p) => p.type === 'Metaspace' && p.prepend_scheme !== 'never' && p.add_prefix_space !== false,
    );
  return {
    tokens,
    vocabType: byteLevel ? 'byte_level' : byteFallback ? 'byte_fallback' : 'raw',
    prependSpace,
    vocabSize: size,
    stopIds,
  };
}

/** The grammar a request asks for: a JSON schema's text, 'json' for any JSON, or null for free text. */
export function grammarOf(req: Pick<ChatRequest, 'response_format'>): string | null {
  const f = req.response_format;
  if (!f || f.type === 'text') return null;
  if (f.type === 'json_object') return 'json';
  if (f.type === 'json_schema') {
    const schema = f.json_schema?.schema;
    if (!schema || typeof schema !== 'object' || Array.isArray(schema))
      throw new SysError('EINVAL', 'response_format json_schema needs json_schema.schema, an object');
    return JSON.stringify(schema);
  }
  throw new SysError('EINVAL', `response_format type "${(f as { type?: unknown }).type}" is not supported`);
}

/** GPT-2's byte ↔ printable-character table, reversed: what byte each character of a byte-level token stands for. */
function byteLevelDecoder(): Map<string, number> {
  const bytes: number[] = [];
  for (let b = 33; b <= 126; b++) bytes.push(b);
  for (let b = 161; b <= 172; b++) bytes.push(b);
  for (let b = 174; b <= 255; b++) bytes.push(b);
  const chars = [...bytes];
  let n = 0;
  for (let b = 0; b < 256; b++)
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(256 + n++);
    }
  return new Map(bytes.map((b, i) => [String.fromCharCode(chars[i]!), b]));
}

/** A token's text as the model's output would show it (bytes as Latin-1 characters; enough to classify). */
export function tokenText(token: string, type: VocabInfo['vocabType']): string {
  if (type === 'byte_fallback') {
    const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
    return m ? String.fromCharCode(Number.parseInt(m[1]!, 16)) : token.replace(/▁/g, ' ');
  }
  if (type === 'byte_level') {
    byteTable ??= byteLevelDecoder();
    const table = byteTable;
    return [...token].map((c) => String.fromCharCode(table.get(c) ?? 63)).join('');
  }
  return token;
}
let byteTable: Map<string, number> | null = null;

/**
 * How much a token helps an answer end, for the last tokens of the budget: 0 a stop
 * token, 1 only closing marks (`"`, `}`, `]`), 2 those and separators (`,`, `:`), 3 a
 * token that opens nothing, 4 one that opens an object or array. With each token's
 * length (longer first, within a tier), this orders the closing path (Constraint).
 */
export function closingOrder(vocab: VocabInfo): { tiers: Uint8Array; lengths: Uint16Array } {
  const tiers = new Uint8Array(vocab.vocabSize).fill(4);
  const lengths = new Uint16Array(vocab.vocabSize);
  const stops = new Set(vocab.stopIds);
  vocab.tokens.forEach((t, i) => {
    const text = t ? tokenText(t, vocab.vocabType) : '';
    lengths[i] = Math.min(text.length, 65535);
    if (stops.has(i)) tiers[i] = 0;
    else if (!text) tiers[i] = 4;
    else if (/^[\s"}\]]+$/.test(text) && /\S/.test(text)) tiers[i] = 1;
    else if (/^[\s"}\],:]+$/.test(text) && /\S/.test(text)) tiers[i] = 2;
    else if (!/[[{]/.test(text)) tiers[i] = 3;
  });
  return { tiers, lengths };
}

/** One model's grammar compiler, with the latest compiled grammars kept (tool loops reuse the same schema). */
export class GrammarCompiler {
  private readonly cache = new Map<string, Compiled>();
  private order: { tiers: Uint8Array; lengths: Uint16Array } | null = null;

  private constructor(
    private readonly xg: XGrammar,
    private readonly compiler: Compiler,
    readonly vocab: VocabInfo,
  ) {}

  static async create(vocab: VocabInfo): Promise<GrammarCompiler> {
    const xg = await loadXGrammar();
    const info = await xg.TokenizerInfo.createTokenizerInfo(
      vocab.tokens,
      vocab.vocabType,
      vocab.prependSpace,
      vocab.vocabSize,
      vocab.stopIds,
    );
    return new GrammarCompiler(xg, await xg.GrammarCompiler.createGrammarCompiler(info), vocab);
  }

  /** Compiles `grammar` (from grammarOf); a schema XGrammar cannot read is EINVAL. */
  async compile(grammar: string): Promise<Compiled> {
    const hit = this.cache.get(grammar);
    if (hit) {
      this.cache.delete(grammar);
      this.cache.set(grammar, hit);
      return hit;
    }
    let compiled: Compiled;
    try {
      // One line, fixed separators: a small model cannot wander off into endless whitespace.
      compiled =
        grammar === 'json'
          ? await this.compiler.compileBuiltinJSONGrammar()
          : await this.compiler.compileJSONSchema(grammar, false, -1, [', ', ': '], true);
    } catch (e) {
      throw new SysError('EINVAL', `the JSON schema cannot be used for constrained output: ${errText(e)}`);
    }
    this.cache.set(grammar, compiled);
    while (this.cache.size > 8) {
      const [k, old] = this.cache.entries().next().value as [string, Compiled];
      this.cache.delete(k);
      old.dispose();
    }
    return compiled;
  }

  /** A matcher for one generation of at most `budget` tokens. */
  async start(grammar: string, budget: number): Promise<Constraint> {
    const compiled = await this.compile(grammar);
    this.order ??= closingOrder(this.vocab);
    return new Constraint(
      await this.xg.GrammarMatcher.createGrammarMatcher(compiled),
      this.vocab,
      this.order,
      budget,
    );
  }

  dispose(): void {
    for (const c of this.cache.values()) c.dispose();
    this.cache.clear();
    this.compiler.dispose();
  }
}

/**
 * Follows one generation: `prepare()` computes which tokens may come next (async, so it
 * runs between forward passes), `apply()` masks the logits, `accept()` advances.
 *
 * A small model may write inside a JSON string until it runs out of tokens, so the
 * matcher also keeps the answer finishable. Now and then it measures how many tokens
 * the shortest way to a complete answer takes from here (it walks the closing path —
 * closingOrder's best allowed token at each step — and rolls back). Near the end of the
 * budget it checks each token the model would take (greedily there) against what is
 * left, and takes the closing path instead when the model's token would not leave
 * room to finish. The answer then ends as valid JSON, cut short (`closedEarly`).
 */
export class Constraint {
  private mask: Int32Array | null = null;
  /** Seconds spent computing masks (reported as usage.extra.grammar_per_token_s). */
  maskSeconds = 0;
  steps = 0;
  private accepted = 0;
  /** Tokens the closing path needs from the current state (measured now and then), or null before the first look. */
  private need: number | null = null;
  /**
   * How far from the end checking starts: the first measure (one minimal answer) and some,
   * widened to the most the way to the end has grown between two measures.
   */
  private margin = 8;
  private lastLook = -1;
  /** The one token allowed now, near the end of the budget. */
  private forced = -1;
  /** The budget ran low and the answer was steered to its end. */
  closedEarly = false;

  constructor(
    private readonly matcher: Matcher,
    private readonly vocab: VocabInfo,
    private readonly order: { tiers: Uint8Array; lengths: Uint16Array },
    private readonly budget: number,
  ) {}

  /** True once the grammar is complete and a stop token was accepted. */
  get terminated(): boolean {
    return this.matcher.isTerminated();
  }

  /** Computes the next token's mask; `logits` (the model's, for the next token) let it check the model's pick near the end. */
  async prepare(logits?: ArrayLike<number>): Promise<void> {
    if (this.matcher.isTerminated()) return;
    const t0 = performance.now();
    const mask = await this.matcher.getNextTokenBitmask();
    this.mask = mask;
    this.steps++;
    this.forced = -1;
    const left = this.budget - this.accepted;
    const since = this.accepted - this.lastLook;
    if (this.need === null) {
      this.need = await this.closingPath(left + 1);
      this.margin = Math.min(128, this.need + 8);
      this.lastLook = this.accepted;
    } else if (left <= this.need + 2 * this.margin || since >= 16) {
      const before = this.need;
      this.need = await this.closingPath(left + 1);
      this.lastLook = this.accepted;
      // The way to the end grew (the model opened something): check that much earlier from now on.
      const grew = this.need - (before - since);
      if (grew > 0) this.margin = Math.min(160, Math.max(this.margin, grew + 8));
    }
    if (left <= this.need + this.margin) {
      const pick = logits ? this.modelToken(mask, logits) : -1;
      const closing = this.closingToken(mask);
      this.forced = pick >= 0 && (await this.fits(pick, left)) ? pick : closing;
      if (this.forced === closing && pick !== closing && this.order.tiers[closing] !== 0)
        this.closedEarly = true;
    }
    this.maskSeconds += (performance.now() - t0) / 1000;
  }

  /** The allowed token the model scores highest. */
  private modelToken(mask: Int32Array, logits: ArrayLike<number>): number {
    let best = -1;
    const n = Math.min(this.vocab.vocabSize, logits.length, mask.length * 32);
    for (let i = 0; i < n; i++)
      if ((mask[i >> 5]! >>> (i & 31)) & 1 && (best < 0 || logits[i]! > logits[best]!)) best = i;
    return best;
  }

  /** Whether, after `token`, the answer can still be completed within `left - 1` tokens. */
  private async fits(token: number, left: number): Promise<boolean> {
    if (this.order.tiers[token]! <= 1) return true; // a stop or a closing mark never makes the way longer
    if (!this.matcher.acceptToken(token)) return false;
    try {
      return (await this.closingPath(left)) <= left - 1;
    } finally {
      this.matcher.rollBack(1);
    }
  }

  /** The closing path's token for this mask: the best tier, then the longest text, then the lowest id. */
  private closingToken(mask: Int32Array): number {
    const { tiers, lengths } = this.order;
    let best = -1;
    const n = Math.min(this.vocab.vocabSize, mask.length * 32);
    for (let i = 0; i < n; i++) {
      if (!((mask[i >> 5]! >>> (i & 31)) & 1)) continue;
      if (best < 0 || tiers[i]! < tiers[best]! || (tiers[i] === tiers[best] && lengths[i]! > lengths[best]!))
        best = i;
    }
    return best;
  }

  /** Walks the closing path from here (at most `limit` tokens), then rolls back: how many tokens it took. */
  private async closingPath(limit: number): Promise<number> {
    let taken = 0;
    let steps = 0;
    try {
      while (!this.matcher.isTerminated() && steps < limit) {
        const t = this.closingToken(await this.matcher.getNextTokenBitmask());
        steps++;
        if (t < 0 || !this.matcher.acceptToken(t)) break;
        taken++;
      }
      return this.matcher.isTerminated() ? steps : limit + 1;
    } finally {
      if (taken) this.matcher.rollBack(taken);
    }
  }

  /** Sets every token the grammar forbids to -Infinity, in place (one row of logits). */
  apply(logits: Float32Array | Float64Array): void {
    const mask = this.mask;
    if (!mask) return;
    if (this.forced >= 0) {
      const keep = logits[this.forced]!;
      logits.fill(Number.NEGATIVE_INFINITY);
      logits[this.forced] = Number.isFinite(keep) ? keep : 0;
      return;
    }
    const n = Math.min(logits.length, this.vocab.vocabSize);
    for (let w = 0; w < mask.length; w++) {
      const bits = mask[w]!;
      if (bits === -1) continue; // all 32 allowed
      for (let b = 0; b < 32; b++) {
        const i = w * 32 + b;
        if (i >= n) break;
        if (!(bits & (1 << b))) logits[i] = Number.NEGATIVE_INFINITY;
      }
    }
    for (let i = n; i < logits.length; i++) logits[i] = Number.NEGATIVE_INFINITY;
  }

  /** Advances by the sampled token; false if the grammar refused it (it cannot, once masked). */
  accept(token: number): boolean {
    this.mask = null;
    if (this.matcher.isTerminated()) return false;
    this.accepted++;
    return this.matcher.acceptToken(token);
  }

  dispose(): void {
    this.matcher.dispose();
  }
}

function errText(e: unknown): string {
  return String((e as Error)?.message ?? e).slice(0, 300);
}
