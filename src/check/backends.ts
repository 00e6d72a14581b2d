// every native op, run on two backends with the same random inputs and
// compared (ggml's test-backend-ops idea): the CPU backend is the reference
// the CUDA kernels are checked against. outputs are poisoned with NaN before
// each run, so an element a kernel forgot to write fails the comparison.
// used by `cudalab check-ops` (the GPU check) and by the test suite.
import { native, DeviceName, NativeStorage, ConvShape, PoolShape } from '../native';

type Data = Float32Array | Int32Array;
type Spec = { f32?: Record<string, Float32Array>; i32?: Record<string, Int32Array>; out: Record<string, [number, 'f32' | 'i32']> };

export interface OpCheck {
  op: string;
  shape: string;
  /** max |a - b| / max |b| over every output, b the reference backend's */
  relError: number;
  tolerance: number;
  ok: boolean;
  ms: { [device: string]: number };
}

interface CheckCase {
  op: string;
  shape: string;
  tolerance: number; // 0: must match bit for bit
  spec: () => Spec;
  call: (s: Record<string, NativeStorage>) => void;
}

// a small deterministic generator for inputs (xorshift32): no zeros, no repeats across cases
let state = 0x9e3779b9;
function rand(): number {
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state / 4294967296;
}
function randn(n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
  return a;
}
function randLabels(n: number, classes: number): Int32Array {
  return Int32Array.from({ length: n }, () => Math.floor(rand() * classes));
}

function runOn(device: DeviceName, c: CheckCase, spec: Spec): { out: Record<string, Data>; ms: number } {
  const addon = native();
  const storages: Record<string, NativeStorage> = {};
  try {
    for (const [name, data] of [...Object.entries(spec.f32 ?? {}), ...Object.entries(spec.i32 ?? {})]) {
      storages[name] = new addon.Storage(device, Math.max(4, data.byteLength));
      addon.write(storages[name], data);
    }
    for (const [name, [n, type]] of Object.entries(spec.out)) {
      if (storages[name]) continue; // an in-place output (optimizer state) starts from its input
      storages[name] = new addon.Storage(device, Math.max(4, n * 4));
      if (type === 'f32') addon.fill(n, storages[name], NaN);
      else addon.write(storages[name], new Int32Array(n).fill(-7));
    }
    addon.synchronize(device);
    const t0 = process.hrtime.bigint();
    c.call(storages);
    addon.synchronize(device);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const out: Record<string, Data> = {};
    for (const [name, [n, type]] of Object.entries(spec.out)) {
      out[name] = type === 'f32' ? new Float32Array(n) : new Int32Array(n);
      addon.read(storages[name], out[name]);
    }
    return { out, ms };
  } finally {
    for (const s of Object.values(storages)) s.free();
  }
}

function relError(a: Data, b: Data): number {
  let maxErr = 0, maxRef = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) !== Number.isNaN(b[i]) || (Number.isNaN(a[i]) && Number.isNaN(b[i]))) return Infinity;
    maxErr = Math.max(maxErr, Math.abs(a[i] - b[i]));
    maxRef = Math.max(maxRef, Math.abs(b[i]));
  }
  return maxErr === 0 ? 0 : maxErr / Math.max(maxRef, 1e-30);
}

function convOut(h: number, r: number, stride: number, pad: number): number {
  return Math.floor((h + 2 * pad - r) / stride) + 1;
}

function gemmCases(): CheckCase[] {
  const out: CheckCase[] = [];
  const shapes: Array<[number, number, number]> = [[1, 1, 1], [7, 33, 65], [130, 65, 257], [64, 256, 2048], [256, 2048, 64], [129, 127, 131]];
  for (const [m, n, k] of shapes) {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      for (const beta of [0, 0.5]) {
        out.push({
          op: 'gemm', shape: `${m}x${n}x${k}${ta ? ' At' : ''}${tb ? ' Bt' : ''} beta ${beta}`, tolerance: 1e-5,
          spec: () => ({ f32: { a: randn(m * k), b: randn(k * n), ...(beta ? { c: randn(m * n) } : {}) }, out: { c: [m * n, 'f32'] } }),
          call: (s) => native().gemm(ta, tb, m, n, k, 1.25, s.a, s.b, beta, s.c),
        });
      }
    }
  }
  return out;
}

function convCases(): CheckCase[] {
  const out: CheckCase[] = [];
  // [n, c, h, w, k, r, s, stride, pad]
  const shapes: number[][] = [[1, 3, 32, 32, 16, 3, 3, 1, 1], [5, 16, 16, 16, 32, 3, 3, 1, 1], [3, 3, 13, 11, 6, 5, 5, 2, 0],
    [2, 64, 4, 4, 64, 3, 3, 1, 0], [64, 3, 32, 32, 16, 3, 3, 1, 1], [4, 7, 9, 10, 5, 3, 2, 2, 1]];
  for (const [n, c, h, w, k, r, sw, stride, pad] of shapes) {
    const cs: ConvShape = { n, c, h, w, k, r, s: sw, strideH: stride, strideW: stride, padH: pad, padW: pad,
      p: convOut(h, r, stride, pad), q: convOut(w, sw, stride, pad) };
    const xN = n * c * h * w, wN = k * c * r * sw, yN = n * k * cs.p * cs.q;
    const shape = `n${n} ${c}->${k} ${h}x${w} k${r}x${sw} s${stride} p${pad}`;
    out.push(
      { op: 'conv2d', shape, tolerance: 1e-5, spec: () => ({ f32: { x: randn(xN), w: randn(wN), b: randn(k) }, out: { y: [yN, 'f32'] } }),
        call: (s) => native().conv2dForward(cs, s.x, s.w, s.b, s.y) },
      { op: 'conv2d_bwd_input', shape, tolerance: 1e-5, spec: () => ({ f32: { dy: randn(yN), w: randn(wN) }, out: { dx: [xN, 'f32'] } }),
        call: (s) => native().conv2dBackwardInput(cs, s.dy, s.w, s.dx) },
      { op: 'conv2d_bwd_weight', shape, tolerance: 1e-5, spec: () => ({ f32: { x: randn(xN), dy: randn(yN) }, out: { dw: [wN, 'f32'], db: [k, 'f32'] } }),
        call: (s) => native().conv2dBackwardWeight(cs, s.x, s.dy, s.dw, s.db) },
    );
  }
  return out;
}

function poolCases(): CheckCase[] {
  const out: CheckCase[] = [];
  // [n, c, h, w, kernel, stride, pad]
  for (const [n, c, h, w, kk, stride, pad] of [[1, 1, 2, 2, 2, 2, 0], [64, 16, 32, 32, 2, 2, 0], [3, 5, 7, 9, 2, 2, 0], [2, 3, 11, 10, 3, 2, 1]]) {
    const ps: PoolShape = { n, c, h, w, kh: kk, kw: kk, strideH: stride, strideW: stride, padH: pad, padW: pad,
      p: convOut(h, kk, stride, pad), q: convOut(w, kk, stride, pad) };
    const xN = n * c * h * w, yN = n * c * ps.p * ps.q;
    const shape = `n${n} c${c} ${h}x${w} k${kk} s${stride} p${pad}`;
    out.push(
      { op: 'maxpool2d', shape, tolerance: 0, spec: () => ({ f32: { x: randn(xN) }, out: { y: [yN, 'f32'], idx: [yN, 'i32'] } }),
        call: (s) => native().maxpool2dForward(ps, s.x, s.y, s.idx) },
      { op: 'maxpool2d_bwd', shape, tolerance: 1e-6, spec: () => ({ f32: { x: randn(xN), dy: randn(yN) }, out: { dx: [xN, 'f32'], y: [yN, 'f32'], idx: [yN, 'i32'] } }),
        call: (s) => { native().maxpool2dForward(ps, s.x, s.y, s.idx); native().maxpool2dBackward(ps, s.dy, s.idx, s.dx); } },
      { op: 'avgpool2d', shape, tolerance: 1e-6, spec: () => ({ f32: { x: randn(xN) }, out: { y: [yN, 'f32'] } }),
        call: (s) => native().avgpool2dForward(ps, s.x, s.y) },
      { op: 'avgpool2d_bwd', shape, tolerance: 1e-6, spec: () => ({ f32: { dy: randn(yN) }, out: { dx: [xN, 'f32'] } }),
        call: (s) => native().avgpool2dBackward(ps, s.dy, s.dx) },
    );
  }
  return out;
}

function elementwiseCases(): CheckCase[] {
  const out: CheckCase[] = [];
  for (const n of [1, 1000, 65537]) {
    const shape = `n${n}`;
    out.push(
      { op: 'relu', shape, tolerance: 0, spec: () => ({ f32: { x: randn(n) }, out: { y: [n, 'f32'] } }), call: (s) => native().reluForward(n, s.x, s.y) },
      { op: 'relu_bwd', shape, tolerance: 0, spec: () => ({ f32: { dy: randn(n), y: randn(n) }, out: { dx: [n, 'f32'] } }), call: (s) => native().reluBackward(n, s.dy, s.y, s.dx) },
      { op: 'add', shape, tolerance: 0, spec: () => ({ f32: { a: randn(n), b: randn(n) }, out: { o: [n, 'f32'] } }), call: (s) => native().add(n, s.a, s.b, s.o) },
      { op: 'mul', shape, tolerance: 0, spec: () => ({ f32: { a: randn(n), b: randn(n) }, out: { o: [n, 'f32'] } }), call: (s) => native().mul(n, s.a, s.b, s.o) },
      { op: 'scale', shape, tolerance: 0, spec: () => ({ f32: { a: randn(n) }, out: { o: [n, 'f32'] } }), call: (s) => native().scale(n, s.a, -0.75, s.o) },
      { op: 'axpby', shape, tolerance: 1e-6, spec: () => ({ f32: { a: randn(n), b: randn(n) }, out: { o: [n, 'f32'] } }), call: (s) => native().axpby(n, 0.3, s.a, -1.7, s.b, s.o) },
      { op: 'dropout', shape, tolerance: 0, spec: () => ({ f32: { x: randn(n), dy: randn(n) }, out: { y: [n, 'f32'], mask: [n, 'f32'], dx: [n, 'f32'] } }),
        call: (s) => { native().dropoutForward(n, s.x, s.y, s.mask, 0.3, 42n, 1000n); native().dropoutBackward(n, s.dy, s.mask, s.dx); } },
      { op: 'fill', shape, tolerance: 0, spec: () => ({ out: { x: [n, 'f32'] } }), call: (s) => native().fill(n, s.x, 3.5) },
      { op: 'uniform', shape, tolerance: 0, spec: () => ({ out: { x: [n, 'f32'] } }), call: (s) => native().uniform(n, s.x, -2, 3, 7n, 123n) },
      { op: 'normal', shape, tolerance: 1e-6, spec: () => ({ out: { x: [n, 'f32'] } }), call: (s) => native().normal(n, s.x, 0.5, 2, 9n, 77n) },
    );
  }
  // [outer, channels/reduce, inner]
  for (const [o, c, i] of [[1, 1, 1], [64, 16, 1024], [7, 33, 5], [1, 50000, 1], [130, 3, 1]]) {
    const shape = `${o}x${c}x${i}`;
    out.push(
      { op: 'bias_add', shape, tolerance: 0, spec: () => ({ f32: { x: randn(o * c * i), b: randn(c) }, out: { y: [o * c * i, 'f32'] } }),
        call: (s) => native().biasAdd(o, c, i, s.x, s.b, s.y) },
      { op: 'sum_axis', shape, tolerance: 1e-5, spec: () => ({ f32: { x: randn(o * c * i) }, out: { y: [o * i, 'f32'] } }),
        call: (s) => native().sumAxis(o, c, i, s.x, s.y) },
    );
  }
  return out;
}

function lossCases(): CheckCase[] {
  const out: CheckCase[] = [];
  for (const [n, classes] of [[1, 10], [64, 10], [128, 10], [33, 7], [5, 1000]]) {
    const shape = `n${n} c${classes}`;
    out.push(
      { op: 'softmax_xent', shape, tolerance: 1e-5,
        spec: () => ({ f32: { logits: randn(n * classes, 8), dloss: Float32Array.of(0.7) }, i32: { labels: randLabels(n, classes) },
          out: { probs: [n * classes, 'f32'], loss: [1, 'f32'], dlogits: [n * classes, 'f32'] } }),
        call: (s) => { native().softmaxXentForward(n, classes, s.logits, s.labels, s.probs, s.loss); native().softmaxXentBackward(n, classes, s.probs, s.labels, s.dloss, s.dlogits); } },
      { op: 'argmax', shape, tolerance: 0, spec: () => ({ f32: { x: randn(n * classes) }, out: { i: [n, 'i32'] } }),
        call: (s) => native().argmax(n, classes, s.x, s.i) },
      { op: 'correct_count', shape, tolerance: 0, spec: () => ({ f32: { x: randn(n * classes) }, i32: { labels: randLabels(n, classes) }, out: { c: [1, 'i32'] } }),
        call: (s) => native().correctCount(n, classes, s.x, s.labels, s.c) },
    );
  }
  return out;
}

function optimizerCases(): CheckCase[] {
  const out: CheckCase[] = [];
  for (const n of [1, 1001, 532202]) {
    for (const [wd, decoupled] of [[0, false], [0.01, false], [0.01, true]] as const) {
      out.push({ op: 'adam', shape: `n${n} wd ${wd}${decoupled ? ' decoupled' : ''} x3 steps`, tolerance: 1e-5,
        spec: () => ({ f32: { p: randn(n), g: randn(n), m: new Float32Array(n), v: new Float32Array(n) }, out: { p: [n, 'f32'], m: [n, 'f32'], v: [n, 'f32'] } }),
        call: (s) => { for (let t = 1; t <= 3; t++) native().adamStep(n, s.p, s.g, s.m, s.v, 1e-3, 0.9, 0.999, 1e-8, wd, decoupled, t); } });
    }
    for (const nesterov of [false, true]) {
      out.push({ op: 'sgd', shape: `n${n} momentum 0.9${nesterov ? ' nesterov' : ''} x3 steps`, tolerance: 1e-5,
        spec: () => ({ f32: { p: randn(n), g: randn(n), buf: new Float32Array(n) }, out: { p: [n, 'f32'], buf: [n, 'f32'] } }),
        call: (s) => { for (let t = 1; t <= 3; t++) native().sgdStep(n, s.p, s.g, s.buf, 0.1, 0.9, 0, 1e-4, nesterov, t === 1); } });
    }
  }
  return out;
}

// uint8 data travels as int32 words (the bytes as they are, the tail padded with zeros)
function packBytes(n: number, byte: (i: number) => number): Int32Array {
  const words = new Int32Array(Math.max(1, Math.ceil(n / 4)));
  const bytes = new Uint8Array(words.buffer);
  for (let i = 0; i < n; i++) bytes[i] = byte(i);
  return words;
}

function dataCases(): CheckCase[] {
  const out: CheckCase[] = [];
  // [count, channels, plane, batch, first, ordered]: cifar batches (the four-float
  // kernel), planes that are not whole words (the one-float kernel), batch 1
  const shapes: Array<[number, number, number, number, number, boolean]> = [
    [1000, 3, 1024, 64, 128, true], [1000, 3, 1024, 250, 750, false], [7, 3, 6, 1, 3, true],
    [13, 2, 5, 5, 8, true], [9, 1, 7, 9, 0, false], [3, 3, 1024, 1, 2, false]];
  for (const [count, channels, plane, batch, first, ordered] of shapes) {
    const image = channels * plane;
    out.push({
      op: 'gather_images', shape: `count ${count} c${channels} plane ${plane} batch ${batch} at ${first}${ordered ? ' ordered' : ''}`, tolerance: 0,
      spec: () => {
        // a shuffled order (fisher-yates on the case generator), longer than the batch
        const order = Int32Array.from({ length: count }, (_, i) => i);
        for (let i = count - 1; i > 0; i--) {
          const j = Math.floor(rand() * (i + 1));
          [order[i], order[j]] = [order[j], order[i]];
        }
        return {
          f32: { table: randn(channels * 256, 3) },
          i32: { images: packBytes(count * image, () => Math.floor(rand() * 256)), labels: packBytes(count, () => Math.floor(rand() * 10)), order },
          out: { out: [batch * image, 'f32'], labels_out: [batch, 'i32'] },
        };
      },
      call: (s) => native().gatherImages(batch, count, channels, plane, s.images, s.labels, ordered ? s.order : null, first, s.table, s.out, s.labels_out),
    });
  }
  return out;
}

export function checkCases(): CheckCase[] {
  return [...gemmCases(), ...convCases(), ...poolCases(), ...elementwiseCases(), ...lossCases(), ...optimizerCases(), ...dataCases()];
}

export function checkOpNames(): string[] {
  return [...new Set(checkCases().map((c) => c.op))];
}

/** runs every case (or those of `ops`) on `device` and on `reference`, and compares */
export function checkBackends(device: DeviceName, reference: DeviceName = 'cpu', ops?: string[], onResult?: (r: OpCheck) => void): OpCheck[] {
  const results: OpCheck[] = [];
  for (const c of checkCases()) {
    if (ops && !ops.includes(c.op)) continue;
    const spec = c.spec();
    const a = runOn(device, c, spec);
    const b = runOn(reference, c, spec);
    let err = 0;
    for (const name of Object.keys(spec.out)) err = Math.max(err, relError(a.out[name], b.out[name]));
    const r: OpCheck = { op: c.op, shape: c.shape, relError: err, tolerance: c.tolerance, ok: err <= c.tolerance,
      ms: { [device]: a.ms, [reference]: b.ms } };
    results.push(r);
    onResult?.(r);
  }
  return results;
}
