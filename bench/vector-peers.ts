/**
 * Our vector index beside the in-browser peers a user would pick, in one run, in this page:
 * EdgeVec (Rust→WASM; HNSW and flat) and hnswlib-wasm (C++→WASM HNSW). Same 384-d data and
 * queries, k = 10, at 10k and 100k, on two datasets: isotropic gaussian clusters, and vectors
 * of low intrinsic dimension (like real text embeddings: no clusters, neighbours very close).
 * Recall@10 is against exact float search. Also the 1M×384 run of our IVF.
 */
import initEdgeVec, { EdgeVec, EdgeVecConfig, JsIndexType, MetricType, VectorType } from 'edgevec';
import { loadHnswlib } from 'hnswlib-wasm';
import { FlatI8Index } from '../src/memory/vector/flat-index';
import { IvfI8Index } from '../src/memory/vector/ivf-index';
import { ClusteredData, exactTopK, LowRankData, recallAt } from '../src/memory/vector/synthetic';
import type { BenchResults } from './types';

const DIM = 384;
const K = 10;
const Q_TIME = 200;
const Q_RECALL = 100;
/** HNSW build parameters for both peers (hnswlib's M default; efConstruction halved from 200 to keep builds bearable). */
const HNSW_M = 16;
const HNSW_EFC = 100;
const EF_SWEEP = [16, 24, 32, 48, 64, 96, 128, 192, 256];

const now = () => performance.now();
const tick = () => new Promise((r) => setTimeout(r, 0));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)]!;
const row = (d: Float32Array, i: number) => d.subarray(i * DIM, (i + 1) * DIM);

interface Candidate {
  name: string;
  build(data: Float32Array, n: number): Promise<void> | void;
  search(q: Float32Array): ArrayLike<number>;
  /** Bytes the index holds, and how that figure was obtained. */
  bytes(): { bytes: number; how: string };
  /** Optional: a speed/recall knob, swept to the cheapest setting with recall ≥ 0.95. */
  knob?: { name: string; values: number[]; set(v: number): void };
  dispose(): void;
}

export interface NotFinished {
  dataset: string;
  n: number;
  name: string;
  done: number;
  ms: number;
}

export interface PeerRow {
  dataset: string;
  n: number;
  name: string;
  buildMs: number;
  p50: number;
  p95: number;
  recall: number;
  bytes: number;
  bytesHow: string;
  setting: string;
}

type HnswLib = Awaited<ReturnType<typeof loadHnswlib>>;
let hnswlib: HnswLib | undefined;
let edgevecReady: Promise<unknown> | undefined;

function candidates(): Candidate[] {
  let ivf: IvfI8Index | undefined;
  let flat: FlatI8Index | undefined;
  const ours: Candidate = {
    name: 'ours (auto: int8 flat < 20k, IVF above)',
    async build(data, n) {
      ivf = await IvfI8Index.create(DIM);
      ivf.add(
        Uint32Array.from({ length: n }, (_, i) => i),
        data.subarray(0, n * DIM),
      );
      await ivf.idle(); // its k-means training runs in the background, in time slices
    },
    search: (q) => ivf!.search(q, K).map((h) => h.id),
    bytes: () => ({ bytes: ivf!.memoryBytes + 4 * ivf!.size, how: 'WASM memory + id array' }),
    dispose: () => ivf?.dispose(),
  };
  const oursFlat: Candidate = {
    name: 'ours int8 flat (exact scan)',
    async build(data, n) {
      flat = await FlatI8Index.create(DIM);
      flat.add(
        Uint32Array.from({ length: n }, (_, i) => i),
        data.subarray(0, n * DIM),
      );
    },
    search: (q) => flat!.search(q, K).map((h) => h.id),
    bytes: () => ({ bytes: flat!.memoryBytes + 4 * flat!.size, how: 'WASM memory + id array' }),
    dispose: () => flat?.dispose(),
  };
  /** The sign bits of a vector, packed: EdgeVec's flat index takes only binary vectors. */
  const signBits = (v: Float32Array) => {
    const b = new Uint8Array(Math.ceil(DIM / 8));
    for (let j = 0; j < DIM; j++) if (v[j]! > 0) b[j >> 3]! |= 1 << (j & 7);
    return b;
  };
  const edge = (type: 'hnsw' | 'flat'): Candidate => {
    let db: EdgeVec | undefined;
    let rowOf = new Int32Array(0);
    const map = (ids: ArrayLike<number>) => {
      let max = 0;
      for (let i = 0; i < ids.length; i++) max = Math.max(max, ids[i]!);
      rowOf = new Int32Array(max + 1).fill(-1);
      for (let i = 0; i < ids.length; i++) rowOf[ids[i]!] = i;
    };
    return {
      name: type === 'hnsw' ? 'EdgeVec HNSW' : 'EdgeVec flat (binary: its only flat mode)',
      async build(data, n) {
        edgevecReady ??= initEdgeVec();
        await edgevecReady;
        const cfg = new EdgeVecConfig(DIM);
        if (type === 'hnsw') {
          // L2 (its default): on unit vectors it ranks as cosine does. Its 'cosine' metric
          // returned wrong neighbours in 0.9.0 (a vector's own row was not its nearest).
          cfg.indexType = JsIndexType.Hnsw;
          cfg.m = HNSW_M;
          cfg.m0 = 2 * HNSW_M;
          cfg.ef_construction = HNSW_EFC;
          cfg.ef_search = 64;
          db = new EdgeVec(cfg);
          const ids = new Uint32Array(n);
          const t0 = now();
          for (let s = 0; s < n; s += 1000) {
            const e = Math.min(n, s + 1000);
            ids.set(db.insertBatchFlat(data.slice(s * DIM, e * DIM), e - s), s);
            if (now() - t0 > BUILD_BUDGET_MS && e < n) throw new OverBudget(e);
          }
          map(ids);
        } else {
          cfg.indexType = JsIndexType.Flat;
          cfg.vector_type = VectorType.Binary;
          cfg.setMetricType(MetricType.Hamming);
          db = new EdgeVec(cfg);
          const ids = new Uint32Array(n);
          for (let i = 0; i < n; i++) ids[i] = db.insertBinary(signBits(row(data, i)));
          map(ids);
        }
      },
      search: (q) =>
        ((type === 'hnsw' ? db!.search(q, K) : db!.searchBinary(signBits(q), K)) as { id: number }[]).map(
          (h) => rowOf[h.id]!,
        ),
      bytes: () => ({ bytes: db!.memoryUsage(), how: 'EdgeVec memoryUsage()' }),
      dispose: () => db?.free(),
    };
  };
  let hnsw: InstanceType<HnswLib['HierarchicalNSW']> | undefined;
  let hnswN = 0;
  const hnswlibPeer: Candidate = {
    name: 'hnswlib-wasm HNSW',
    async build(data, n) {
      hnswlib ??= await loadHnswlib();
      hnsw = new hnswlib.HierarchicalNSW('cosine', DIM, '');
      hnsw.initIndex(n, HNSW_M, HNSW_EFC, 100);
      hnswN = n;
      // Batches, so the array of row views stays small; labels are row numbers.
      const t0 = now();
      for (let s = 0; s < n; s += 1000) {
        if (now() - t0 > BUILD_BUDGET_MS) throw new OverBudget(s);
        const e = Math.min(n, s + 1000);
        const items = Array.from({ length: e - s }, (_, i) => row(data, s + i));
        hnsw.addPoints(
          items,
          Array.from({ length: e - s }, (_, i) => s + i),
          false,
        );
      }
    },
    search: (q) => hnsw!.searchKnn(q, K, undefined).neighbors,
    bytes: () => {
      // hnswlib's own layout: level-0 links (2M+1 u32) + the vector (f32) + label (u64) per
      // element, plus upper levels on ~1/M of elements (M+1 u32 each).
      const per = (2 * HNSW_M + 1) * 4 + DIM * 4 + 8;
      return {
        bytes: hnswN * per + Math.ceil(hnswN / HNSW_M) * (HNSW_M + 1) * 4,
        how: "computed from hnswlib's memory layout (its WASM heap is not exposed)",
      };
    },
    knob: { name: 'efSearch', values: EF_SWEEP, set: (v) => hnsw!.setEfSearch(v) },
    dispose: () => {
      hnsw = undefined; // embind frees on GC of the module's handles; the module is reused
    },
  };
  return [ours, oursFlat, edge('hnsw'), edge('flat'), hnswlibPeer];
}

/**
 * The page's clock has 0.1 ms resolution (not cross-origin isolated), too coarse for one
 * sub-millisecond query: each query is repeated until ≥ 1 ms has passed and its time is the
 * mean of the repeats (warm caches for every index alike).
 */
function timeQuery(c: Candidate, q: Float32Array): number {
  let reps = 0;
  const t = now();
  let el = 0;
  do {
    c.search(q);
    reps++;
    el = now() - t;
  } while (el < 1);
  return el / reps;
}

function measure(
  c: Candidate,
  queries: Float32Array,
  truth: number[][],
): { p50: number; p95: number; recall: number } {
  for (let i = 0; i < 20; i++) c.search(row(queries, i)); // warm-up (tier-up)
  const each: number[] = [];
  for (let i = 0; i < Q_TIME; i++) each.push(timeQuery(c, row(queries, i)));
  let recall = 0;
  for (let i = 0; i < Q_RECALL; i++) recall += recallAt(Array.from(c.search(row(queries, i))), truth[i]!);
  return { p50: pct(each, 0.5), p95: pct(each, 0.95), recall: recall / Q_RECALL };
}

/** A build past this is stopped and reported as not finished (with the rate it reached). */
const BUILD_BUDGET_MS = 150_000;

class OverBudget extends Error {
  constructor(readonly done: number) {
    super(`over the ${BUILD_BUDGET_MS / 1000} s build budget after ${done} vectors`);
  }
}

export async function vectorPeers(
  log: (s: string) => void,
): Promise<{ rows: PeerRow[]; dnf: NotFinished[]; results: BenchResults }> {
  const rows: PeerRow[] = [];
  const dnf: NotFinished[] = [];
  const N = 100_000;
  const datasets = [
    { name: 'clustered', gen: new ClusteredData({ dim: DIM, clusters: 1000, spread: 1, seed: 20_240_601 }) },
    { name: 'low-rank', gen: new LowRankData({ dim: DIM, rank: 16, seed: 20_240_602 }) },
  ];
  for (const ds of datasets) {
    const data = ds.gen.sample(N);
    const queries = ds.gen.sample(Q_TIME);
    for (const n of [10_000, N]) {
      const sub = data.subarray(0, n * DIM);
      const truth: number[][] = [];
      for (let i = 0; i < Q_RECALL; i++) {
        truth.push(exactTopK(sub, DIM, row(queries, i), K));
        if (i % 10 === 9) await tick();
      }
      for (const c of candidates()) {
        await tick();
        const t = now();
        try {
          await c.build(data, n);
        } catch (e) {
          const ms = now() - t;
          const why = e instanceof Error ? e.message : JSON.stringify(e);
          log(`peers ${ds.name} ${n / 1000}k ${c.name}: NOT BUILT: ${why}`);
          if (e instanceof OverBudget) dnf.push({ dataset: ds.name, n, name: c.name, done: e.done, ms });
          c.dispose();
          continue;
        }
        const buildMs = now() - t;
        let m = measure(c, queries, truth);
        let setting = '';
        if (c.knob) {
          // The cheapest setting that reaches recall 0.95 (or the best one if none does).
          for (const v of c.knob.values) {
            c.knob.set(v);
            m = measure(c, queries, truth);
            setting = `${c.knob.name}=${v}`;
            if (m.recall >= 0.95) break;
          }
        }
        const { bytes, how } = c.bytes();
        c.dispose();
        const r: PeerRow = {
          dataset: ds.name,
          n,
          name: c.name,
          buildMs,
          ...m,
          bytes,
          bytesHow: how,
          setting,
        };
        rows.push(r);
        log(
          `peers ${ds.name} ${n / 1000}k ${c.name}: build ${buildMs.toFixed(0)} ms, p50 ${m.p50.toFixed(3)} p95 ${m.p95.toFixed(3)} ms, recall ${m.recall.toFixed(3)}, ${(bytes / n).toFixed(0)} B/vector ${setting}`,
        );
      }
    }
  }
  const results: BenchResults = {};
  const peerNames = ['EdgeVec HNSW', 'EdgeVec flat (binary: its only flat mode)', 'hnswlib-wasm HNSW'];
  const ours = (ds: string, n: number) =>
    rows.find((r) => r.dataset === ds && r.n === n && r.name.startsWith('ours (auto'))!;
  let worstRatio = 0;
  let worstNote = '';
  let worstBuild = Number.POSITIVE_INFINITY;
  let buildNote = '';
  for (const ds of datasets.map((d) => d.name)) {
    const o = ours(ds, N);
    const peers = rows.filter((r) => r.dataset === ds && r.n === N && peerNames.includes(r.name));
    let good = peers.filter((r) => r.recall >= 0.95);
    let at = '100k';
    if (!good.length) {
      // No peer reached recall 0.95 at 100k within its build budget: its 10k time is a lower
      // bound on its 100k time (graph search cost grows with n), so ours ÷ that bounds the ratio from above.
      good = rows.filter(
        (r) => r.dataset === ds && r.n === 10_000 && peerNames.includes(r.name) && r.recall >= 0.95,
      );
      at =
        '10k (no peer with recall ≥ 0.95 finished building 100k within the budget; its 10k p50 is a lower bound of its 100k p50)';
    }
    const best = (good.length ? good : peers).reduce((a, b) => (b.p50 < a.p50 ? b : a));
    const ratio = o.p50 / best.p50;
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worstNote = `${ds}: ours p50 ${o.p50.toFixed(3)} ms at recall ${o.recall.toFixed(3)} ÷ best peer ${best.name} at ${at}: ${best.p50.toFixed(3)} ms at recall ${best.recall.toFixed(3)} ${best.setting}`;
    }
    // Fastest approximate peer build: a 100k build that did not finish counts at its budget (a lower bound).
    const builds = [
      ...peers
        .filter((r) => r.name.includes('HNSW'))
        .map((r) => ({ name: r.name, ms: r.buildMs, done: true })),
      ...dnf
        .filter((d) => d.dataset === ds && d.n === N)
        .map((d) => ({ name: d.name, ms: d.ms, done: false })),
    ];
    if (builds.length) {
      const fastest = builds.reduce((a, b) => (b.ms < a.ms ? b : a));
      const bRatio = fastest.ms / o.buildMs;
      if (bRatio < worstBuild) {
        worstBuild = bRatio;
        buildNote = `${ds}: fastest approximate peer ${fastest.name} ${fastest.done ? 'builds' : 'had NOT finished (a lower bound)'} 100k in ${(fastest.ms / 1000).toFixed(1)} s, ours in ${(o.buildMs / 1000).toFixed(2)} s`;
      }
    }
    results[`vec_recall10_100k_${ds.replace('-', '')}`] = {
      value: Math.round(o.recall * 1000) / 1000,
      unit: 'recall',
      goal: '>= 0.95',
      note: `ours (IVF at 100k), ${Q_RECALL} held-out queries vs exact float search, ${ds} data`,
    };
  }
  results.vec_query_ratio_vs_best_peer_100k = {
    value: Math.round(worstRatio * 1000) / 1000,
    unit: 'x',
    goal: '<= 1',
    note: `query p50 at 100k×384, k=10, ours ÷ the fastest peer whose recall@10 ≥ 0.95 (EdgeVec HNSW/flat, hnswlib-wasm with efSearch swept), worse of the two datasets — ${worstNote}. Full table: README performance section`,
  };
  results.vec_build_ratio_vs_fastest_peer_100k = {
    value: Math.round(worstBuild * 10) / 10,
    unit: 'x',
    goal: '>= 5',
    note: `fastest HNSW peer's build time ÷ ours at 100k×384 (HNSW M=${HNSW_M}, efConstruction=${HNSW_EFC}), worse of the two datasets — ${buildNote}`,
  };
  return { rows, dnf, results };
}

/** Markdown table of the peer rows (for the README's performance section). */
export function peerTable(rows: PeerRow[], dnf: NotFinished[] = []): string {
  const lines = [
    '| data | n | index | build | p50 ms | p95 ms | recall@10 | bytes/vector |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows)
    lines.push(
      `| ${r.dataset} | ${r.n / 1000}k | ${r.name}${r.setting ? ` (${r.setting})` : ''} | ${r.buildMs >= 1000 ? `${(r.buildMs / 1000).toFixed(1)} s` : `${r.buildMs.toFixed(0)} ms`} | ${r.p50.toFixed(3)} | ${r.p95.toFixed(3)} | ${r.recall.toFixed(3)} | ${(r.bytes / r.n).toFixed(0)} |`,
    );
  for (const d of dnf)
    lines.push(
      `| ${d.dataset} | ${d.n / 1000}k | ${d.name} | not finished: ${d.done} vectors in ${(d.ms / 1000).toFixed(0)} s (≈ ${(((d.ms / Math.max(1, d.done)) * d.n) / 1000).toFixed(0)} s for all) | – | – | – | – |`,
    );
  return lines.join('\n');
}

/**
 * 1M×384 clustered vectors through our IVF, added in 100k batches as a user's memory would
 * grow (generated on the fly: the floats never all exist at once). Exact float top-10 of 50
 * held-out queries is computed chunk by chunk from the same floats.
 */
export async function vector1m(log: (s: string) => void): Promise<BenchResults> {
  const N = 1_000_000;
  const CH = 100_000;
  const NQ = 50;
  const gen = new ClusteredData({ dim: DIM, clusters: 1000, spread: 1, seed: 77 });
  const queries = gen.sample(NQ);
  const best: { i: number; s: number }[][] = Array.from({ length: NQ }, () => []);
  const index = await IvfI8Index.create(DIM);
  let buildMs = 0;
  for (let c = 0; c < N; c += CH) {
    const chunk = gen.sample(CH);
    const t = now();
    index.add(
      Uint32Array.from({ length: CH }, (_, i) => c + i),
      chunk,
    );
    await index.idle(); // a training the add started (time-sliced, in the background) counts in the build
    buildMs += now() - t;
    for (let q = 0; q < NQ; q++) {
      const qv = row(queries, q);
      for (const i of exactTopK(chunk, DIM, qv, K)) {
        let s = 0;
        for (let j = 0; j < DIM; j++) s += chunk[i * DIM + j]! * qv[j]!;
        best[q]!.push({ i: c + i, s });
      }
      best[q]!.sort((a, b) => b.s - a.s);
      best[q]!.length = Math.min(K, best[q]!.length);
      if (q % 10 === 9) await tick();
    }
    log(
      `vec1m: ${c + CH} added, ${(buildMs / 1000).toFixed(1)} s in add() and training, ${index.lists} lists, nprobe ${index.nprobe}`,
    );
  }
  for (let i = 0; i < 10; i++) index.search(row(queries, i), K);
  const each: number[] = [];
  let recall = 0;
  for (let q = 0; q < NQ; q++) {
    // Repeated until ≥ 1 ms has passed: one query is below the page clock's 0.1 ms resolution.
    let reps = 0;
    const t = now();
    do {
      index.search(row(queries, q), K);
      reps++;
    } while (now() - t < 1);
    each.push((now() - t) / reps);
    const hits = index.search(row(queries, q), K);
    recall += recallAt(
      hits.map((h) => h.id),
      best[q]!.map((b) => b.i),
    );
  }
  recall /= NQ;
  const held = index.memoryBytes + 4 * index.size;
  let t = now();
  const bytes = index.serialize();
  const serMs = now() - t;
  index.dispose();
  await tick();
  t = now();
  const back = await IvfI8Index.load(bytes);
  back.search(row(queries, 0), K);
  const loadMs = now() - t;
  const { lists, nprobe } = back;
  back.dispose();
  log(
    `vec1m: recall ${recall.toFixed(3)}, p50 ${pct(each, 0.5).toFixed(2)} ms, held ${(held / N).toFixed(0)} B/vector, load ${loadMs.toFixed(0)} ms`,
  );
  const p = `1M×384 clustered (1000 gaussian clusters), added in 10 batches of 100k, ${N / 1000}k ids`;
  return {
    vec_recall10_1m: {
      value: Math.round(recall * 1000) / 1000,
      unit: 'recall',
      goal: '>= 0.95',
      note: `${p}: mean recall@10 of ${NQ} held-out queries vs exact float search (computed chunk by chunk), nprobe ${nprobe} of ${lists} lists (tuned at the last training)`,
    },
    vec_query_p50_ms_1m: {
      value: Math.round(pct(each, 0.5) * 1000) / 1000,
      unit: 'ms',
      goal: '<= 3',
      note: `${p}: p50 of ${NQ} queries, k=10, each repeated until ≥ 1 ms had passed (the page clock's resolution is 0.1 ms) (p95 ${pct(each, 0.95).toFixed(3)} ms)`,
    },
    vec_build_s_1m: {
      value: Math.round(buildMs / 100) / 10,
      unit: 's',
      note: `${p}: total time inside add() plus the background training each add started (awaited with idle(); time-sliced, so this is wall time with the page otherwise idle), excluding data generation: k-means trainings when the size first passes 20k (here at the first batch, 100k) and at each 4× growth since (400k), list relayouts in between`,
    },
    vec_bytes_per_vector_1m: {
      value: Math.round(held / N),
      unit: 'B',
      baseline: DIM,
      goal: `<= ${Math.round(1.2 * DIM)}`,
      note: `WASM memory held + the id array, ÷ 1M (baseline: the int8 codes alone, ${DIM} B); the id→slot Map is JS heap, not counted. Serialized ${(bytes.length / 1e6).toFixed(0)} MB in ${serMs.toFixed(0)} ms`,
    },
    vec_cold_load_1m_ms: {
      value: Math.round(loadMs),
      unit: 'ms',
      note: `${p}: IvfI8Index.load of the ${(bytes.length / 1e6).toFixed(0)} MB serialized form (no retraining) + the first query, in memory (no IndexedDB read)`,
    },
  };
}
