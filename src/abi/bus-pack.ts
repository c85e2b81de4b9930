/**
 * Packed bus batches. `send_many` through the SDK carries its bodies as one text: each body's
 * JSON, joined by ',', with where each ends. The kernel checks the shape, counts and sizes once
 * per batch and forwards the text without parsing it (a structured clone of one string, not of
 * every message, in and out); the receiver's SDK rebuilds the same envelopes the kernel would have
 * sent. The receiver treats the text as hostile: the sender may have posted anything, so what does
 * not decode to a body the bus allows (JSON values: plain objects without `__proto__`/
 * `constructor`/`prototype` keys, arrays, strings, finite numbers, booleans, null; at most 32
 * deep) is refused with EPROTO, never thrown as anything else.
 *
 * Bodies a JSON text cannot carry exactly (binary data, NaN, ±Infinity, -0, or anything the bus
 * refuses) are not packed: the SDK sends those batches as before, structured, and the kernel
 * checks them as before.
 */
import { SysError } from './errors';
import type { Envelope } from './protocol';

/** Consecutive messages of one packed send_many, as the kernel holds and forwards them. */
export interface PackedRun {
  packed: 1;
  /** The first message's seq; message i has seq + i. */
  seq: number;
  from: number;
  to: number;
  t: number;
  /** Each message's JSON, joined by ','. */
  text: string;
  /** Where message i ends in `text` (exclusive); it starts after the ',' that ends message i - 1. */
  ends: number[];
}

/** A mailbox item: one message, or a run of packed ones. */
export type BusItem = Envelope | PackedRun;

export const isRun = (x: BusItem): x is PackedRun => (x as PackedRun).packed === 1;

/** Messages an item holds. */
export const itemCount = (x: BusItem): number => (isRun(x) ? x.ends.length : 1);

/** Nesting the bus allows in a body (the kernel's payload check: check.ts). */
export const MAX_BODY_DEPTH = 32;
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/** Whether a JSON text carries `v` exactly and the bus allows it (the sender's side: anything else goes structured). */
function jsonExact(v: unknown, depth: number): boolean {
  if (depth > MAX_BODY_DEPTH) return false;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0);
  if (typeof v !== 'object') return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!jsonExact(v[i], depth + 1)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  // A symbol key is dropped by structured clone and JSON alike; toJSON would be called by JSON only.
  for (const k in v) {
    if (!Object.hasOwn(v, k)) continue;
    if (FORBIDDEN.has(k) || !jsonExact((v as Record<string, unknown>)[k], depth + 1)) return false;
  }
  return true;
}

/** Packs bodies for send_many, or null when one of them is not exactly a JSON value the bus allows. */
export function pack(bodies: readonly unknown[]): { text: string; ends: number[] } | null {
  const parts = new Array<string>(bodies.length);
  const ends = new Array<number>(bodies.length);
  let at = 0;
  for (let i = 0; i < bodies.length; i++) {
    const b = bodies[i];
    if (!jsonExact(b, 0)) return null;
    const s = JSON.stringify(b);
    parts[i] = s;
    at += s.length;
    ends[i] = at;
    at++; // the ','
  }
  return { text: parts.join(','), ends };
}

/**
 * The kernel's check of a packed batch, without parsing it: at most `max` messages, each
 * non-empty, ending where a ',' follows (the last at the end of the text). Returns what is wrong,
 * or null.
 */
export function runShapeError(text: string, ends: readonly number[], max: number): string | null {
  if (!ends.length) return 'no messages to send';
  if (ends.length > max) return `${ends.length} messages exceed ${max}`;
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    const e = ends[i]!;
    if (!Number.isSafeInteger(e) || e <= start || e > text.length) return `ends[${i}] is out of place`;
    if (i < ends.length - 1 ? text.charCodeAt(e) !== 44 /* , */ : e !== text.length)
      return `ends[${i}] does not end a message`;
    start = e + 1;
  }
  return null;
}

/** Where message i of a run starts in its text. */
export const runStart = (r: PackedRun, i: number): number => (i === 0 ? 0 : r.ends[i - 1]! + 1);

/** Messages [a, b) of a run, as a run of their own (the text is shared, not copied, until it is sent). */
export function sliceRun(r: PackedRun, a: number, b: number): PackedRun {
  if (a === 0 && b === r.ends.length) return r;
  const s = runStart(r, a);
  const ends = new Array<number>(b - a);
  for (let i = a; i < b; i++) ends[i - a] = r.ends[i]! - s;
  return {
    packed: 1,
    seq: r.seq + a,
    from: r.from,
    to: r.to,
    t: r.t,
    text: r.text.slice(s, r.ends[b - 1]),
    ends,
  };
}

/** Whether a decoded JSON value is a body the bus allows (JSON.parse gives only JSON types: keys and depth remain). */
function allowedBody(v: unknown, depth: number): boolean {
  if (depth > MAX_BODY_DEPTH) return false;
  if (v === null || typeof v !== 'object') return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!allowedBody(v[i], depth + 1)) return false;
    return true;
  }
  for (const k in v)
    if (FORBIDDEN.has(k) || !allowedBody((v as Record<string, unknown>)[k], depth + 1)) return false;
  return true;
}

const envelope = (r: PackedRun, i: number, body: unknown): Envelope => ({
  seq: r.seq + i,
  from: r.from,
  to: r.to,
  topic: null,
  body,
  correlation: null,
  inReplyTo: null,
  t: r.t,
});

/**
 * The envelopes of a run, in order, as if they had been sent one by one; messages that do not
 * decode to an allowed body are left out and counted in `bad` (with an EPROTO `error` saying so).
 */
export function unpackRun(r: PackedRun): { envelopes: Envelope[]; bad: number; error: SysError | null } {
  const n = r.ends.length;
  const out: Envelope[] = [];
  // The usual case: one parse for the whole run.
  let all: unknown;
  try {
    all = JSON.parse(`[${r.text}]`);
  } catch {
    all = null;
  }
  if (Array.isArray(all) && all.length === n) {
    let ok = true;
    for (let i = 0; i < n && ok; i++) ok = allowedBody(all[i], 0);
    if (ok) {
      for (let i = 0; i < n; i++) out.push(envelope(r, i, all[i]));
      return { envelopes: out, bad: 0, error: null };
    }
  }
  // Something in it is not a message: decode each on its own, keep the good ones.
  let bad = 0;
  for (let i = 0; i < n; i++) {
    let body: unknown;
    let ok = false;
    try {
      body = JSON.parse(r.text.slice(runStart(r, i), r.ends[i]));
      ok = allowedBody(body, 0);
    } catch {
      ok = false;
    }
    if (ok) out.push(envelope(r, i, body));
    else bad++;
  }
  const error = bad
    ? new SysError(
        'EPROTO',
        `${bad} message${bad === 1 ? '' : 's'} from process ${r.from} ${bad === 1 ? 'was' : 'were'} not a valid bus message (JSON values only, at most ${MAX_BODY_DEPTH} deep, no __proto__/constructor/prototype keys) and ${bad === 1 ? 'was' : 'were'} dropped`,
      )
    : null;
  return { envelopes: out, bad, error };
}

/** The messages of mailbox items as envelopes; what a packed run's sender got wrong is dropped and said in `error` (EPROTO). */
export function unpackItems(items: readonly BusItem[]): { envelopes: Envelope[]; error: SysError | null } {
  const envelopes: Envelope[] = [];
  let error: SysError | null = null;
  for (const x of items) {
    if (!isRun(x)) {
      envelopes.push(x);
      continue;
    }
    const r = unpackRun(x);
    for (const e of r.envelopes) envelopes.push(e);
    error ??= r.error;
  }
  return { envelopes, error };
}
