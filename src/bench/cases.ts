// the shapes `cudalab bench` times: GEMM at 1000, 2048 and 4096, and every op
// at the seed CNN's layer shapes (batch 64 and 128). each case allocates its
// own random inputs (never zeros: they hide bugs and can run faster), and
// knows its arithmetic (flops) and the fewest bytes it must move.
import { native, DeviceName, NativeStorage, ConvShape, PoolShape } from '../native';

export interface BenchCase {
  op: string;
  shape: string;
  flops: number;
  bytes: number;
  /** the op and its dimensions, for timing the same thing elsewhere (bench/torch_ops.py) */
  spec: Record<string, number | string | boolean>;
  /** allocates inputs on the device; run() enqueues one execution */
  make(device: DeviceName): { run: () => void; free: () => void };
}

let seedCounter = 1n;

function buffers(device: DeviceName, sizes: Record<string, number>, int32: string[] = []) {
  const addon = native();
  const out: Record<string, NativeStorage> = {};
  for (const [name, n] of Object.entries(sizes)) {
    out[name] = new addon.Storage(device, Math.max(1, n) * 4);
    if (!int32.includes(name)) addon.uniform(n, out[name], -1, 1, seedCounter++, 0n);
  }
  return { s: out, free: () => Object.values(out).forEach((b) => b.free()) };
}

function gemmCase(m: number, n: number, k: number, ta = false, tb = false, label?: string): BenchCase {
  return {
    op: 'gemm',
    shape: label ?? `${m}x${n}x${k}${ta ? ' At' : ''}${tb ? ' Bt' : ''}`,
    flops: 2 * m * n * k,
    bytes: 4 * (m * k + k * n + m * n),
    spec: { op: 'gemm', m, n, k, ta, tb },
    make(device) {
      const { s, free } = buffers(device, { a: m * k, b: k * n, c: m * n });
      return { run: () => native().gemm(ta, tb, m, n, k, 1, s.a, s.b, 0, s.c), free };
    },
  };
}

function convShape(n: number, c: number, h: number, k: number, r: number, pad: number): ConvShape {
  const p = h + 2 * pad - r + 1;
  return { n, c, h, w: h, k, r, s: r, strideH: 1, strideW: 1, padH: pad, padW: pad, p, q: p };
}

function convCases(label: string, cs: ConvShape): BenchCase[] {
  const flops = 2 * cs.n * cs.k * cs.p * cs.q * cs.c * cs.r * cs.s;
  const xN = cs.n * cs.c * cs.h * cs.w, wN = cs.k * cs.c * cs.r * cs.s, yN = cs.n * cs.k * cs.p * cs.q;
  const shape = `${label} n${cs.n} ${cs.c}->${cs.k} ${cs.h}x${cs.w} k${cs.r}`;
  const bytes = 4 * (xN + wN + yN);
  const dims = { n: cs.n, c: cs.c, h: cs.h, k: cs.k, r: cs.r, pad: cs.padH };
  return [
    {
      op: 'conv2d', shape, flops, bytes, spec: { op: 'conv2d', ...dims },
      make(device) {
        const { s, free } = buffers(device, { x: xN, w: wN, b: cs.k, y: yN });
        return { run: () => native().conv2dForward(cs, s.x, s.w, s.b, s.y), free };
      },
    },
    {
      op: 'conv2d_bwd_input', shape, flops, bytes, spec: { op: 'conv2d_bwd_input', ...dims },
      make(device) {
        const { s, free } = buffers(device, { dy: yN, w: wN, dx: xN });
        return { run: () => native().conv2dBackwardInput(cs, s.dy, s.w, s.dx), free };
      },
    },
    {
      op: 'conv2d_bwd_weight', shape, flops, bytes, spec: { op: 'conv2d_bwd_weight', ...dims },
      make(device) {
        const { s, free } = buffers(device, { x: xN, dy: yN, dw: wN, db: cs.k });
        return { run: () => native().conv2dBackwardWeight(cs, s.x, s.dy, s.dw, s.db), free };
      },
    },
  ];
}

function poolCases(label: string, n: number, c: number, h: number): BenchCase[] {
  const ps: PoolShape = { n, c, h, w: h, kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, p: h / 2, q: h / 2 };
  const xN = n * c * h * h, yN = xN / 4;
  const shape = `${label} n${n} c${c} ${h}x${h}`;
  const dims = { n, c, h };
  return [
    {
      op: 'maxpool2d', shape, flops: xN, bytes: 4 * (xN + 2 * yN), spec: { op: 'maxpool2d', ...dims },
      make(device) {
        const { s, free } = buffers(device, { x: xN, y: yN, idx: yN }, ['idx']);
        return { run: () => native().maxpool2dForward(ps, s.x, s.y, s.idx), free };
      },
    },
    {
      op: 'maxpool2d_bwd', shape, flops: 0, bytes: 4 * (xN + 2 * yN), spec: { op: 'maxpool2d_bwd', ...dims },
      make(device) {
        const { s, free } = buffers(device, { x: xN, y: yN, idx: yN, dx: xN }, ['idx']);
        native().maxpool2dForward(ps, s.x, s.y, s.idx);
        return { run: () => native().maxpool2dBackward(ps, s.y, s.idx, s.dx), free };
      },
    },
    {
      op: 'relu', shape, flops: xN, bytes: 8 * xN, spec: { op: 'relu', ...dims },
      make(device) {
        const { s, free } = buffers(device, { x: xN, y: xN });
        return { run: () => native().reluForward(xN, s.x, s.y), free };
      },
    },
  ];
}

function lossCase(n: number, classes: number): BenchCase {
  return {
    op: 'softmax_xent', shape: `n${n} c${classes}`, flops: 5 * n * classes, bytes: 4 * (2 * n * classes + n),
    spec: { op: 'softmax_xent', n, classes },
    make(device) {
      const { s, free } = buffers(device, { logits: n * classes, labels: n, probs: n * classes, loss: 1, dl: n * classes, one: 1 }, ['labels']);
      const labels = Int32Array.from({ length: n }, (_, i) => (i * 7) % classes);
      native().write(s.labels, labels);
      native().fill(1, s.one, 1);
      return {
        run: () => {
          native().softmaxXentForward(n, classes, s.logits, s.labels, s.probs, s.loss);
          native().softmaxXentBackward(n, classes, s.probs, s.labels, s.one, s.dl);
        },
        free,
      };
    },
  };
}

function adamCase(params: number, label: string): BenchCase {
  return {
    op: 'adam', shape: `${label} ${params} params`, flops: 12 * params, bytes: 4 * 7 * params,
    spec: { op: 'adam', params },
    make(device) {
      const { s, free } = buffers(device, { p: params, g: params, m: params, v: params });
      native().fill(params, s.m, 0);
      native().fill(params, s.v, 0);
      let step = 0;
      return { run: () => native().adamStep(params, s.p, s.g, s.m, s.v, 1e-3, 0.9, 0.999, 1e-8, 0, false, ++step), free };
    },
  };
}

// a training batch gathered from a resident data set (gather_images): 10,000
// cifar images, shuffled; the bytes are the batch's floats plus its source bytes
function gatherCase(n: number): BenchCase {
  const count = 10000, image = 3 * 32 * 32;
  return {
    op: 'gather_images', shape: `n${n} of ${count} cifar images`, flops: 0, bytes: n * image * 5 + n * 9,
    spec: { op: 'gather_images', n, count },
    make(device) {
      // random words are random bytes: any image and label byte is valid; the order is not
      const { s, free } = buffers(device, { images: (count * image) / 4, labels: count / 4, order: count, table: 3 * 256, out: n * image, labels_out: n },
        ['order', 'labels_out']);
      const order = Int32Array.from({ length: count }, (_, i) => (i * 7919) % count);
      native().write(s.order, order);
      let first = 0;
      return {
        run: () => {
          native().gatherImages(n, count, 3, 32 * 32, s.images, s.labels, s.order, first, s.table, s.out, s.labels_out);
          first = (first + n) % (count - n);
        },
        free,
      };
    },
  };
}

/** every case, in the order they print */
export function benchCases(): BenchCase[] {
  const cases: BenchCase[] = [gemmCase(1000, 1000, 1000), gemmCase(2048, 2048, 2048), gemmCase(4096, 4096, 4096)];
  for (const n of [64, 128]) {
    // the seed CNN (c16-32-p1-fc256): conv 3->16 at 32x32, conv 16->32 at 16x16, fc 2048->256->10
    cases.push(...convCases('conv1', convShape(n, 3, 32, 16, 3, 1)));
    cases.push(...convCases('conv2', convShape(n, 16, 16, 32, 3, 1)));
    cases.push(...poolCases('pool1', n, 16, 32));
    cases.push(gemmCase(n, 256, 2048, false, true, `fc1 fwd n${n} 2048->256`));
    cases.push(gemmCase(256, 2048, n, true, false, `fc1 dW n${n} 2048->256`));
    cases.push(lossCase(n, 10));
    cases.push(gatherCase(n));
  }
  cases.push(adamCase(532202, 'seedcnn'));
  return cases;
}

/** the op names, for --ops */
export function benchOpNames(): string[] {
  return [...new Set(benchCases().map((c) => c.op))];
}
