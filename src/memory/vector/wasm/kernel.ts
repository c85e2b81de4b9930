// @ts-nocheck -- AssemblyScript source (v128/usize/f32 are AS builtins), compiled by
// scripts/build-wasm.mjs into kernel.wasm + kernel-wasm.ts; the app's tsc must not check it.
//
// The hot loops of the flat int8 vector index. The JS side (flat-index.ts) owns the memory
// layout and passes raw byte offsets; nothing here allocates, so the stub runtime suffices.
//
// Codes are int8 rows padded with zeros to `stride` bytes (a multiple of 32), one float
// scale per row (the value of one code step, so row ≈ codes × scale, unit length). The
// query is int16 (asymmetric: more precision on the query side costs nothing per row).

/** First free byte after static data; the JS side lays out its regions from here. */
export function heapBase(): usize {
  return __heap_base;
}

/**
 * Normalises `rows` float vectors (`dim` floats each, packed at `src`) to unit length and
 * quantises them to int8 codes (`stride` bytes per row at `dst`, zero padded) with one f32
 * scale per row at `scales`. Returns -1, or the first row whose norm is zero or not finite
 * (NaN/Infinity anywhere makes the sum of squares non-finite) — nothing is committed by the
 * caller in that case, so partial writes here are harmless.
 */
export function quantize(src: usize, rows: i32, dim: i32, dst: usize, stride: i32, scales: usize): i32 {
  const dim4 = dim & ~3;
  const dim16 = dim & ~15;
  for (let r = 0; r < rows; r++) {
    const row = src + <usize>r * <usize>dim * 4;
    let ss = f32x4.splat(0);
    let mx = f32x4.splat(0);
    let j = 0;
    for (; j < dim4; j += 4) {
      const v = v128.load(row + ((<usize>j) << 2));
      ss = f32x4.add(ss, f32x4.mul(v, v));
      mx = f32x4.max(mx, f32x4.abs(v));
    }
    let sumsq: f32 =
      f32x4.extract_lane(ss, 0) +
      f32x4.extract_lane(ss, 1) +
      f32x4.extract_lane(ss, 2) +
      f32x4.extract_lane(ss, 3);
    let maxabs: f32 = max(
      max(f32x4.extract_lane(mx, 0), f32x4.extract_lane(mx, 1)),
      max(f32x4.extract_lane(mx, 2), f32x4.extract_lane(mx, 3)),
    );
    for (; j < dim; j++) {
      const x = load<f32>(row + ((<usize>j) << 2));
      sumsq += x * x;
      maxabs = max(maxabs, abs(x));
    }
    // `!(x > 0)` also catches NaN; x - x is NaN for ±Infinity.
    if (!(sumsq > 0) || sumsq - sumsq !== 0 || !(maxabs > 0) || maxabs - maxabs !== 0) return r;
    const inv: f32 = 1 / sqrt(sumsq);
    store<f32>(scales + ((<usize>r) << 2), (maxabs * inv) / 127);
    // code = round(x / maxabs × 127) ∈ [-127, 127]; the unit-norm factor cancels out.
    const mul: f32 = 127 / maxabs;
    const m = f32x4.splat(mul);
    const out = dst + <usize>r * <usize>stride;
    j = 0;
    for (; j < dim16; j += 16) {
      const p = row + ((<usize>j) << 2);
      const a = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p), m)));
      const b = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p, 16), m)));
      const c = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p, 32), m)));
      const d = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p, 48), m)));
      v128.store(
        out + <usize>j,
        i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(a, b), i16x8.narrow_i32x4_s(c, d)),
      );
    }
    for (; j < dim; j++) {
      store<i8>(out + <usize>j, <i8>(<i32>nearest(load<f32>(row + ((<usize>j) << 2)) * mul)));
    }
    for (; j < stride; j++) store<i8>(out + <usize>j, 0);
  }
  return -1;
}

/**
 * Scores rows [0, n) against the int16 query at `q` (score = dot × scale[row] × qmul, the
 * cosine estimate) and keeps the best `k` in a min-heap of (f32 score, i32 row) pairs at
 * `heap`. Returns how many entries the heap holds (min(k, n)); the caller sorts them.
 * The inner loop is 32 code bytes per step: v128.load8x8_s (load + sign-extend to i16, one
 * pmovsxbw) then i32x4.dot_i16x8_s (pmaddwd), two accumulators to shorten the dependency
 * chain. Measured 1.5× faster than loading 16 codes and extend_low/high. In cache it runs at
 * ~25 ns per 384-d row; beyond L3 (~20k+ rows) it is memory-bound (~8 GB/s here).
 */
export function searchTopK(
  q: usize,
  codes: usize,
  scales: usize,
  n: i32,
  stride: i32,
  qmul: f32,
  k: i32,
  heap: usize,
): i32 {
  return searchMore(q, codes, scales, n, stride, qmul, k, heap, 0, 0);
}

/**
 * As `searchTopK`, but continues a heap that already holds `size` entries (from earlier
 * calls on other row ranges) and records rows as `rowBase + i`: the IVF index scans its
 * probed lists one call each into one heap. Returns the heap's new size.
 */
export function searchMore(
  q: usize,
  codes: usize,
  scales: usize,
  n: i32,
  stride: i32,
  qmul: f32,
  k: i32,
  heap: usize,
  size: i32,
  rowBase: i32,
): i32 {
  let minScore: f32 = size >= k ? load<f32>(heap) : -Infinity;
  let row = codes;
  for (let i = 0; i < n; i++) {
    let acc0 = i32x4.splat(0);
    let acc1 = i32x4.splat(0);
    for (let j = 0; j < stride; j += 32) {
      // load8x8_s sign-extends 8 codes to int16 as it loads (one pmovsxbw on x86).
      const p = row + <usize>j;
      const qp = q + ((<usize>j) << 1);
      acc0 = i32x4.add(acc0, i32x4.dot_i16x8_s(v128.load8x8_s(p), v128.load(qp)));
      acc1 = i32x4.add(acc1, i32x4.dot_i16x8_s(v128.load8x8_s(p, 8), v128.load(qp, 16)));
      acc0 = i32x4.add(acc0, i32x4.dot_i16x8_s(v128.load8x8_s(p, 16), v128.load(qp, 32)));
      acc1 = i32x4.add(acc1, i32x4.dot_i16x8_s(v128.load8x8_s(p, 24), v128.load(qp, 48)));
    }
    const acc = i32x4.add(acc0, acc1);
    const dot =
      i32x4.extract_lane(acc, 0) +
      i32x4.extract_lane(acc, 1) +
      i32x4.extract_lane(acc, 2) +
      i32x4.extract_lane(acc, 3);
    const score: f32 = <f32>dot * load<f32>(scales + ((<usize>i) << 2)) * qmul;
    if (size < k) {
      // Sift up.
      let c = size++;
      while (c > 0) {
        const p = (c - 1) >> 1;
        const ps = load<f32>(heap + ((<usize>p) << 3));
        if (ps <= score) break;
        store<f32>(heap + ((<usize>c) << 3), ps);
        store<i32>(heap + ((<usize>c) << 3), load<i32>(heap + ((<usize>p) << 3), 4), 4);
        c = p;
      }
      store<f32>(heap + ((<usize>c) << 3), score);
      store<i32>(heap + ((<usize>c) << 3), rowBase + i, 4);
      if (size === k) minScore = load<f32>(heap);
    } else if (score > minScore) {
      // Replace the root, sift down.
      let c = 0;
      while (true) {
        const l = 2 * c + 1;
        if (l >= k) break;
        let m = l;
        let ms = load<f32>(heap + ((<usize>l) << 3));
        const r = l + 1;
        if (r < k) {
          const rs = load<f32>(heap + ((<usize>r) << 3));
          if (rs < ms) {
            m = r;
            ms = rs;
          }
        }
        if (ms >= score) break;
        store<f32>(heap + ((<usize>c) << 3), ms);
        store<i32>(heap + ((<usize>c) << 3), load<i32>(heap + ((<usize>m) << 3), 4), 4);
        c = m;
      }
      store<f32>(heap + ((<usize>c) << 3), score);
      store<i32>(heap + ((<usize>c) << 3), rowBase + i, 4);
      minScore = load<f32>(heap);
    }
    row += <usize>stride;
  }
  return size;
}
