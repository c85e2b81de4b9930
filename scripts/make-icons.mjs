#!/usr/bin/env node
// Renders the app icons (PNG) the web app manifest needs, from the same design as
// public/favicon.svg: a rounded square with a prompt glyph. No image library: a few
// shapes rasterised with 4×4 supersampling and written with node:zlib.
// `--check` exits 1 if the committed icons differ from what this makes.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const BG = [47, 111, 222];
const FG = [255, 255, 255];

/** Coverage of pixel (x, y) of a `size` icon by the shape; `pad` shrinks it into the maskable safe zone. */
function shade(size, pad, x, y) {
  const u = (x / size - pad) / (1 - 2 * pad);
  const v = (y / size - pad) / (1 - 2 * pad);
  const inSquare = (r) => {
    const cx = Math.min(Math.max(u, r), 1 - r);
    const cy = Math.min(Math.max(v, r), 1 - r);
    return u >= 0 && u <= 1 && v >= 0 && v <= 1 && (u - cx) ** 2 + (v - cy) ** 2 <= r * r;
  };
  // The ">" of a prompt and an underscore cursor.
  const seg = (ax, ay, bx, by, w) => {
    const dx = bx - ax;
    const dy = by - ay;
    const t = Math.max(0, Math.min(1, ((u - ax) * dx + (v - ay) * dy) / (dx * dx + dy * dy)));
    return (u - ax - t * dx) ** 2 + (v - ay - t * dy) ** 2 <= w * w;
  };
  const glyph =
    seg(0.26, 0.3, 0.48, 0.5, 0.055) || seg(0.48, 0.5, 0.26, 0.7, 0.055) || seg(0.55, 0.7, 0.76, 0.7, 0.05);
  if (pad > 0) return glyph ? FG : BG; // maskable: full bleed background
  if (!inSquare(0.2)) return null;
  return glyph ? FG : BG;
}

function png(size, pad) {
  const S = 4;
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      const acc = [0, 0, 0, 0];
      for (let sy = 0; sy < S; sy++)
        for (let sx = 0; sx < S; sx++) {
          const c = shade(size, pad, x + (sx + 0.5) / S, y + (sy + 0.5) / S);
          if (!c) continue;
          acc[0] += c[0];
          acc[1] += c[1];
          acc[2] += c[2];
          acc[3] += 255;
        }
      const n = S * S;
      const a = acc[3] / n;
      const o = y * (size * 4 + 1) + 1 + x * 4;
      raw[o] = a ? Math.round(acc[0] / (acc[3] / 255)) : 0;
      raw[o + 1] = a ? Math.round(acc[1] / (acc[3] / 255)) : 0;
      raw[o + 2] = a ? Math.round(acc[2] / (acc[3] / 255)) : 0;
      raw[o + 3] = Math.round(a);
    }
  }
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8;
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const ICONS = [
  ['public/icons/icon-192.png', 192, 0],
  ['public/icons/icon-512.png', 512, 0],
  ['public/icons/maskable-512.png', 512, 0.1],
  ['public/icons/apple-touch-icon.png', 180, 0.06],
];
const check = process.argv.includes('--check');
let stale = 0;
mkdirSync('public/icons', { recursive: true });
for (const [file, size, pad] of ICONS) {
  const data = png(size, pad);
  if (check) {
    let old = null;
    try {
      old = readFileSync(file);
    } catch {}
    if (!old?.equals(data)) {
      console.error(`${file} is not what scripts/make-icons.mjs makes`);
      stale++;
    }
  } else writeFileSync(file, data);
}
process.exit(stale ? 1 : 0);
