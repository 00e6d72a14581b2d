// test-time augmentation: the logits evaluate() averages equal a float64
// re-computation on a tiny model of airbench94's views and weights, written
// as its script writes them (reflect-pad by one, slice [0:h, 0:w] and
// [2:h+2, 2:w+2], mirror each, 0.5 * mirror-average of the image + 0.5 *
// the mean of the two translated mirror-averages), and the accuracy counts
// follow those logits. on the cpu always, on cuda too when a GPU is there.
import { describe, expect, it } from 'vitest';
import type { TensorBatch, TensorBatches } from '../../src/data/batches';
import type { DeviceName } from '../../src/native';
import { Flatten, Linear, ReLU, Sequential } from '../../src/nn';
import { Generator } from '../../src/random';
import { Tensor, tidy } from '../../src/tensor';
import { noGrad } from '../../src/autograd';
import { evaluate, ttaLogits } from '../../src/train/evaluate';
import { cudaAvailable } from '../helpers/native';

const devices: DeviceName[] = cudaAvailable ? ['cpu', 'cuda'] : ['cpu'];
const N = 7, C = 3, H = 6, W = 5, HIDDEN = 9, CLASSES = 4;

type Images = Float64Array; // N*C*H*W

function mirror(x: Images): Images {
  const out = new Float64Array(x.length);
  for (let i = 0; i < N * C; i++)
    for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) out[(i * H + y) * W + xx] = x[(i * H + y) * W + (W - 1 - xx)];
  return out;
}

// F.pad(x, (1, 1, 1, 1), 'reflect')[:, :, top:top+H, left:left+W]
function padSlice(x: Images, top: number, left: number): Images {
  const ph = H + 2, pw = W + 2;
  const padded = new Float64Array(N * C * ph * pw);
  const reflect = (j: number, n: number) => (j < 0 ? -j : j >= n ? 2 * n - 2 - j : j);
  for (let i = 0; i < N * C; i++)
    for (let y = 0; y < ph; y++)
      for (let xx = 0; xx < pw; xx++) padded[(i * ph + y) * pw + xx] = x[(i * H + reflect(y - 1, H)) * W + reflect(xx - 1, W)];
  const out = new Float64Array(x.length);
  for (let i = 0; i < N * C; i++)
    for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) out[(i * H + y) * W + xx] = padded[(i * ph + y + top) * pw + xx + left];
  return out;
}

// the two-layer net in float64: relu(x W1^T + b1) W2^T + b2
function net(x: Images, w1: Float32Array, b1: Float32Array, w2: Float32Array, b2: Float32Array): Float64Array {
  const d = C * H * W;
  const out = new Float64Array(N * CLASSES);
  for (let n = 0; n < N; n++) {
    const h = new Float64Array(HIDDEN);
    for (let j = 0; j < HIDDEN; j++) {
      let s = b1[j];
      for (let k = 0; k < d; k++) s += w1[j * d + k] * x[n * d + k];
      h[j] = Math.max(0, s);
    }
    for (let c = 0; c < CLASSES; c++) {
      let s = b2[c];
      for (let j = 0; j < HIDDEN; j++) s += w2[c * HIDDEN + j] * h[j];
      out[n * CLASSES + c] = s;
    }
  }
  return out;
}

const combine = (pairs: Array<[number, Float64Array]>) => {
  const out = new Float64Array(N * CLASSES);
  for (const [w, l] of pairs) for (let i = 0; i < out.length; i++) out[i] += w * l[i];
  return out;
};

describe.each(devices)('test-time augmentation on %s', (device) => {
  const g = new Generator(17);
  const model = new Sequential(new Flatten(), new Linear(C * H * W, HIDDEN, { generator: g, device }), new ReLU(),
    new Linear(HIDDEN, CLASSES, { generator: g, device }));
  const params = model.parameters().map((p) => p.toArray() as Float32Array);
  const [w1, b1, w2, b2] = params;
  const host = Float32Array.from({ length: N * C * H * W }, () => g.uniform() * 2 - 1);
  const x = Float64Array.from(host);
  const f = (v: Images) => net(v, w1, b1, w2, b2);

  // airbench94's infer(): basic, mirror, mirror + translate
  const mirrorAvg = (v: Images) => combine([[0.5, f(v)], [0.5, f(mirror(v))]]);
  const expected = [
    f(x),
    mirrorAvg(x),
    combine([[0.5, mirrorAvg(x)], [0.25, mirrorAvg(padSlice(x, 0, 0))], [0.25, mirrorAvg(padSlice(x, 2, 2))]]),
  ];
  const labels = Int32Array.from({ length: N }, (_, i) => i % CLASSES);

  for (const level of [0, 1, 2]) {
    it(`level ${level}: the weighted view average of a float64 re-computation`, () => {
      const got = noGrad(() =>
        tidy(() => {
          const images = Tensor.fromArray(host, [N, C, H, W], { device });
          return ttaLogits(model, images, level).toArray() as Float32Array;
        }),
      );
      const want = expected[level];
      const scale = Math.max(...want.map(Math.abs));
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]) / scale, `logit ${i}`).toBeLessThan(1e-5);
    });
  }

  it('counts the right answers of the averaged logits, and the levels differ where the views do', () => {
    const batches: TensorBatches = {
      batches: 1,
      *[Symbol.iterator](): Iterator<TensorBatch> {
        yield {
          images: Tensor.fromArray(host, [N, C, H, W], { device }),
          labels: Tensor.fromArray(labels, [N], { device, dtype: 'int32' }),
          size: N,
          index: 0,
        };
      },
    };
    const argmaxRight = (l: Float64Array) =>
      Array.from({ length: N }, (_, n) => {
        const row = Array.from(l.subarray(n * CLASSES, (n + 1) * CLASSES));
        return row.indexOf(Math.max(...row)) === labels[n] ? 1 : 0;
      }).reduce((a: number, b) => a + b, 0);
    for (const level of [0, 1, 2]) {
      const ev = evaluate(model, batches, device, level);
      expect(ev.count).toBe(N);
      expect(ev.correct, `level ${level}`).toBe(argmaxRight(expected[level]));
    }
    // the views are not the image: the averages are other logits
    expect(Math.max(...expected[2].map((v, i) => Math.abs(v - expected[0][i])))).toBeGreaterThan(1e-3);
  });

  it('refuses a level outside 0..2', () => {
    expect(() => noGrad(() => tidy(() => ttaLogits(model, Tensor.fromArray(host, [N, C, H, W], { device }), 3)))).toThrow(/0, 1 or 2, got 3/);
  });
});
