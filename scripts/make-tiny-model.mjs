#!/usr/bin/env node
// Generates agentos-tiny: a 1-layer, single-head causal transformer with random weights (fixed seed)
// and a GPT-2 byte-level tokenizer, in the layout transformers.js loads from a local path
// (public/models/agentos-tiny/{config,generation_config,tokenizer,tokenizer_config}.json, onnx/model.onnx).
// It is a real model run by the real runtime (tokenizer, ONNX Runtime, generation), only untrained:
// what it writes is noise. `--check` exits 1 if the committed files differ from what this makes.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const OUT = 'public/models/agentos-tiny';
const D = 32; // model width
const FF = 128; // MLP width
const V = 257; // 256 byte tokens + <|endoftext|>
const P = 512; // positions
const EOS = 256;

let seed = 20261125;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const normal = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const floats = (name, dims, fill) => {
  const a = new Float32Array(dims.reduce((x, y) => x * y, 1));
  for (let i = 0; i < a.length; i++) a[i] = fill(i);
  return onnx.TensorProto.create({ name, dims, dataType: FLOAT, rawData: new Uint8Array(a.buffer) });
};
const int64s = (name, values, dims = [values.length]) => {
  const a = new BigInt64Array(values.map((v) => BigInt(v)));
  return onnx.TensorProto.create({ name, dims, dataType: INT64, rawData: new Uint8Array(a.buffer) });
};
const node = (opType, input, output, attrs = {}) =>
  onnx.NodeProto.create({
    opType,
    input,
    output,
    name: `${opType}_${output[0]}`,
    attribute: Object.entries(attrs).map(([name, v]) =>
      Array.isArray(v)
        ? onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v })
        : v instanceof onnx.TensorProto
          ? onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.TENSOR, t: v })
          : onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: v }),
    ),
  });
const valueInfo = (name, elemType, dims) =>
  onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });

// Printable ASCII (and newline) are likely, other bytes not, so the noise it writes is readable noise.
const printable = (b) => b === 10 || (b >= 32 && b < 127);
const initializers = [
  floats('wte', [V, D], () => normal() * 0.5),
  floats('wpe', [P, D], () => normal() * 0.1),
  floats('wq', [D, D], () => normal() / Math.sqrt(D)),
  floats('wk', [D, D], () => normal() / Math.sqrt(D)),
  floats('wv', [D, D], () => normal() / Math.sqrt(D)),
  floats('wo', [D, D], () => normal() / Math.sqrt(D)),
  floats('w1', [D, FF], () => normal() / Math.sqrt(D)),
  floats('w2', [FF, D], () => normal() / Math.sqrt(FF)),
  floats('wout', [D, V], () => normal() * 0.7),
  floats('bias', [V], (i) => (i === EOS ? -3 : printable(i) ? 0 : -12)),
  floats('scale', [], () => 1 / Math.sqrt(D)),
  floats('one_f', [], () => 1),
  floats('big', [], () => 1e9),
  int64s('i1', [1], []),
  int64s('i0', [0], []),
  int64s('s1', [1]),
  int64s('s2', [2]),
];

const nodes = [
  node('Gather', ['wte', 'input_ids'], ['tok']),
  node('Shape', ['input_ids'], ['shp']),
  node('Gather', ['shp', 'i1'], ['seq'], { axis: 0 }),
  node('Range', ['i0', 'seq', 'i1'], ['pos']),
  node('Gather', ['wpe', 'pos'], ['pe']),
  node('Add', ['tok', 'pe'], ['x']),
  node('MatMul', ['x', 'wq'], ['q']),
  node('MatMul', ['x', 'wk'], ['k']),
  node('MatMul', ['x', 'wv'], ['v']),
  node('Transpose', ['k'], ['kt'], { perm: [0, 2, 1] }),
  node('MatMul', ['q', 'kt'], ['sc']),
  node('Mul', ['sc', 'scale'], ['scs']),
  // Causal mask: 0 on and below the diagonal, -1e9 above.
  node('Slice', ['shp', 's1', 's2'], ['seq1']),
  node('Concat', ['seq1', 'seq1'], ['ss'], { axis: 0 }),
  node('ConstantOfShape', ['ss'], ['ones'], { value: floats('v', [1], () => 1) }),
  node('Trilu', ['ones'], ['tri'], { upper: 0 }),
  node('Sub', ['tri', 'one_f'], ['trim']),
  node('Mul', ['trim', 'big'], ['madd']),
  node('Add', ['scs', 'madd'], ['masked']),
  node('Softmax', ['masked'], ['p'], { axis: -1 }),
  node('MatMul', ['p', 'v'], ['att']),
  node('MatMul', ['att', 'wo'], ['ao']),
  node('Add', ['x', 'ao'], ['h']),
  node('MatMul', ['h', 'w1'], ['m1']),
  node('Tanh', ['m1'], ['m2']),
  node('MatMul', ['m2', 'w2'], ['m3']),
  node('Add', ['h', 'm3'], ['h2']),
  node('MatMul', ['h2', 'wout'], ['lg']),
  node('Add', ['lg', 'bias'], ['logits']),
];

const model = onnx.ModelProto.create({
  irVersion: 8,
  producerName: 'agentos make-tiny-model',
  opsetImport: [{ domain: '', version: 14 }],
  graph: onnx.GraphProto.create({
    name: 'agentos-tiny',
    node: nodes,
    initializer: initializers,
    input: [valueInfo('input_ids', INT64, ['batch_size', 'sequence_length'])],
    output: [valueInfo('logits', FLOAT, ['batch_size', 'sequence_length', V])],
  }),
});

// GPT-2's byte ↔ unicode table: every byte gets a printable character, so BPE runs on text.
function bytesToUnicode() {
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const map = {};
  bs.forEach((b, i) => {
    map[b] = String.fromCodePoint(cs[i]);
  });
  return map;
}
const byteChars = bytesToUnicode();
const vocab = {};
for (let b = 0; b < 256; b++) vocab[byteChars[b]] = b;
vocab['<|endoftext|>'] = EOS;

const files = {
  'config.json': {
    model_type: 'gpt2',
    architectures: ['GPT2LMHeadModel'],
    vocab_size: V,
    n_positions: P,
    n_ctx: P,
    n_embd: D,
    n_layer: 1,
    n_head: 1,
    bos_token_id: EOS,
    eos_token_id: EOS,
    use_cache: false,
  },
  'generation_config.json': { bos_token_id: EOS, eos_token_id: EOS, max_length: P },
  'tokenizer.json': {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      {
        id: EOS,
        content: '<|endoftext|>',
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: [],
    },
  },
  'tokenizer_config.json': {
    model_max_length: P,
    bos_token: '<|endoftext|>',
    eos_token: '<|endoftext|>',
    unk_token: '<|endoftext|>',
    tokenizer_class: 'GPT2Tokenizer',
    chat_template:
      "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}",
  },
};

const outputs = new Map();
for (const [name, json] of Object.entries(files))
  outputs.set(name, Buffer.from(`${JSON.stringify(json, null, 1)}\n`));
outputs.set('onnx/model.onnx', Buffer.from(onnx.ModelProto.encode(model).finish()));

if (process.argv.includes('--check')) {
  let stale = 0;
  for (const [name, bytes] of outputs) {
    let old = null;
    try {
      old = readFileSync(join(OUT, name));
    } catch {}
    if (!old?.equals(bytes)) {
      console.error(`stale: ${join(OUT, name)} (run node scripts/make-tiny-model.mjs)`);
      stale++;
    }
  }
  process.exit(stale ? 1 : 0);
}
mkdirSync(join(OUT, 'onnx'), { recursive: true });
for (const [name, bytes] of outputs) writeFileSync(join(OUT, name), bytes);
console.log(`wrote ${OUT}: ${[...outputs].map(([n, b]) => `${n} ${b.length} B`).join(', ')}`);
