/**
 * Long-term memory's snapshot: everything a reopened memory needs before its first recall, in one
 * binary blob written in one transaction (so its parts can never disagree): the vector index, the
 * keyword index, every indexed record's namespace, the ids set aside as unindexable, and the
 * watermark (records above `maxId`, and records changed after `savedAt`, are read on top of it).
 *
 * Layout (little-endian): magic u32 "AOLS", version u32, savedAt f64, maxId u32, vector bytes u32,
 * keyword bytes u32, indexed u32, quarantined u32, namespace-name bytes u32; then the vector index
 * and the keyword index (each padded to 4 bytes), u32 arrays (indexed ids, their namespace numbers,
 * quarantined ids), and the namespace names as UTF-8 separated by newlines.
 */
import { SysError } from '../abi/errors';

const MAGIC = 0x534c_4f41; // "AOLS"
const VERSION = 1;
const HEADER = 40;
const pad4 = (n: number) => (n + 3) & ~3;

export interface LtmSnapshot {
  savedAt: number;
  /** Highest record id the snapshot covers: records above it are newer. */
  maxId: number;
  vectors: Uint8Array;
  keywords: Uint8Array;
  /** Namespace of each indexed record. */
  namespaces: Map<number, string>;
  /** Records at or below the watermark that could not be indexed: read again on load. */
  quarantined: number[];
}

export function encodeSnapshot(s: LtmSnapshot): Uint8Array {
  const names = [...new Set(s.namespaces.values())];
  const number = new Map(names.map((n, i) => [n, i]));
  const nameBytes = new TextEncoder().encode(names.join('\n'));
  const n = s.namespaces.size;
  const q = s.quarantined.length;
  const vAt = HEADER;
  const kAt = vAt + pad4(s.vectors.length);
  const uAt = kAt + pad4(s.keywords.length);
  const tAt = uAt + 4 * (2 * n + q);
  const out = new Uint8Array(tAt + nameBytes.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, VERSION, true);
  dv.setFloat64(8, s.savedAt, true);
  dv.setUint32(16, s.maxId, true);
  dv.setUint32(20, s.vectors.length, true);
  dv.setUint32(24, s.keywords.length, true);
  dv.setUint32(28, n, true);
  dv.setUint32(32, q, true);
  dv.setUint32(36, nameBytes.length, true);
  out.set(s.vectors, vAt);
  out.set(s.keywords, kAt);
  const u = new Uint32Array(out.buffer, uAt, 2 * n + q);
  let i = 0;
  for (const [id, ns] of s.namespaces) {
    u[i] = id;
    u[n + i] = number.get(ns)!;
    i++;
  }
  u.set(s.quarantined, 2 * n);
  out.set(nameBytes, tAt);
  return out;
}

/** Reads a snapshot back; EINVAL for anything else (an older format, or damage): the caller rebuilds. */
export function decodeSnapshot(bytes: Uint8Array): LtmSnapshot {
  const bad = (why: string) => new SysError('EINVAL', `memory snapshot: ${why}`);
  const b = bytes.byteOffset % 4 ? bytes.slice() : bytes;
  if (b.length < HEADER) throw bad('shorter than its header');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint32(0, true) !== MAGIC || dv.getUint32(4, true) !== VERSION)
    throw bad('not a snapshot of this version');
  const vLen = dv.getUint32(20, true);
  const kLen = dv.getUint32(24, true);
  const n = dv.getUint32(28, true);
  const q = dv.getUint32(32, true);
  const tLen = dv.getUint32(36, true);
  const kAt = HEADER + pad4(vLen);
  const uAt = kAt + pad4(kLen);
  const tAt = uAt + 4 * (2 * n + q);
  if (tAt + tLen !== b.length) throw bad('its length does not match its header');
  const u = new Uint32Array(b.buffer, b.byteOffset + uAt, 2 * n + q);
  const names = new TextDecoder().decode(b.subarray(tAt)).split('\n');
  const namespaces = new Map<number, string>();
  for (let i = 0; i < n; i++) {
    const ns = names[u[n + i]!];
    if (ns === undefined) throw bad(`record ${u[i]} has an unknown namespace`);
    namespaces.set(u[i]!, ns);
  }
  return {
    savedAt: dv.getFloat64(8, true),
    maxId: dv.getUint32(16, true),
    vectors: b.subarray(HEADER, HEADER + vLen),
    keywords: b.subarray(kAt, kAt + kLen),
    namespaces,
    quarantined: Array.from(u.subarray(2 * n)),
  };
}
