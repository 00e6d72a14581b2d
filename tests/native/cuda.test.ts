// the CUDA backend against the cpu backend, op by op (ggml's test-backend-ops):
// the same random inputs go through a 'cuda' storage and a 'cpu' one, with
// outputs poisoned with NaN on both sides. relative error <= 1e-5; relu,
// pooling's max and argmax, argmax, counts, copies and dropout masks must be
// exact. needs a usable GPU; skipped otherwise, with the reason in the name.
import { describe, it } from 'vitest';
import type { ConvShape, PoolShape } from '../../src/native';
import { TOL, expectClose, expectExact } from '../helpers/compare';
import { addon, cudaAvailable, cudaReason, Scope, useScopes } from '../helpers/native';
import { convShape } from '../../src/spec/conv';
import { poolShape } from '../../src/spec/pool';
import { Rng } from '../helpers/rng';

const scopes = useScopes();
const suffix = cudaAvailable ? '' : ` (skipped: ${cudaReason})`;
const gpuIt = it.skipIf(!cudaAvailable);

type Out = Float32Array | Int32Array;

// runs `run` on both backends with identically seeded inputs and compares every output
function compareBackends(label: string, tol: number, run: (s: Scope, rng: Rng) => Out[], seed = 1): void {
  const ref = run(scopes.cpu, new Rng(seed));
  const got = run(scopes.cuda, new Rng(seed));
  ref.forEach((r, i) => {
    const what = `${label} output ${i}`;
    if (tol === 0 || r instanceof Int32Array) expectExact(got[i], r, what);
    else expectClose(got[i], r, tol, what);
  });
}

const SIZES = [1, 7, 33, 65, 130];

const CONVS: ConvShape[] = [
  convShape(1, 1, 1, 1, 1, 1, 1),
  convShape(2, 3, 32, 32, 16, 3, 3, 1, 1),
  convShape(3, 5, 9, 11, 7, 3, 5, [2, 1], [1, 2]),
  convShape(1, 33, 7, 7, 65, 3, 3, 1, 1),
  convShape(2, 4, 8, 8, 6, 1, 1),
  convShape(4, 64, 16, 16, 64, 3, 3, 1, 1),
];

const POOLS: PoolShape[] = [
  poolShape(1, 1, 1, 1, 1, 1),
  poolShape(2, 16, 32, 32, 2, 2),
  poolShape(1, 4, 7, 9, 3, 3, 2, 1),
  poolShape(3, 2, 11, 6, 3, 2, [2, 1], [1, 1]),
  poolShape(1, 1, 33, 65, 4, 4, 4, 0),
];

describe(`cuda vs cpu${suffix}`, () => {
  gpuIt('transfers: write, read, copy across devices at offsets', () => {
    compareBackends('transfers', 0, (s, rng) => {
      const data = rng.floats(1000);
      const a = s.floats(data);
      const b = s.out(1000);
      addon.copy(b, a, 2000, 400, 800);
      const host = scopes.cpu.out(300);
      addon.copy(host, b, 1200, 0, 0); // to the cpu, whichever device b is on
      const back = s.out(300);
      addon.copy(back, host, 800, 400, 0); // and back
      addon.synchronize(s.device);
      return [s.read(b).subarray(100, 600), scopes.cpu.read(host), s.read(back).subarray(100, 300)];
    });
  });

  gpuIt('gemm: every m, n, k in {1, 7, 33, 65, 130}, every transpose, alpha and beta', () => {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const)
      for (const m of SIZES) for (const n of SIZES) for (const k of SIZES) {
        const beta = (m + n + k) % 3 === 0 ? 0.5 : 0;
        compareBackends(`gemm ta=${ta} tb=${tb} ${m}x${n}x${k} beta=${beta}`, TOL.cuda, (s, rng) => {
          const c = beta === 0 ? s.out(m * n) : s.floats(rng.floats(m * n));
          addon.gemm(ta, tb, m, n, k, 1.25, s.floats(rng.floats(m * k)), s.floats(rng.floats(k * n)), beta, c);
          return [s.read(c)];
        }, m * 10000 + n * 100 + k);
        scopes.cpu.dispose();
        scopes.cuda.dispose();
      }
  });

  gpuIt('gemm: the seed CNN\'s linear layers, batch 1 and 64', () => {
    for (const batch of [1, 64])
      for (const [ta, tb, m, n, k] of [[false, true, batch, 256, 4096], [true, false, 256, 4096, batch], [false, false, batch, 4096, 256]] as const)
        compareBackends(`gemm ${m}x${n}x${k}`, TOL.cuda, (s, rng) => {
          const c = s.out(m * n);
          addon.gemm(ta, tb, m, n, k, 1, s.floats(rng.floats(m * k)), s.floats(rng.floats(k * n)), 0, c);
          return [s.read(c)];
        });
  });

  gpuIt('conv2d forward, backward input, backward weight (with and without bias)', () => {
    for (const cs of CONVS) {
      const nx = cs.n * cs.c * cs.h * cs.w, nw = cs.k * cs.c * cs.r * cs.s, ny = cs.n * cs.k * cs.p * cs.q;
      compareBackends(`conv n${cs.n} c${cs.c} ${cs.h}x${cs.w} k${cs.k} ${cs.r}x${cs.s}`, TOL.cuda, (s, rng) => {
        const x = s.floats(rng.floats(nx)), w = s.floats(rng.floats(nw)), bias = s.floats(rng.floats(cs.k));
        const dy = s.floats(rng.floats(ny));
        const y = s.out(ny), y2 = s.out(ny), dx = s.out(nx), dw = s.out(nw), db = s.out(cs.k), dw2 = s.out(nw);
        addon.conv2dForward(cs, x, w, bias, y);
        addon.conv2dForward(cs, x, w, null, y2);
        addon.conv2dBackwardInput(cs, dy, w, dx);
        addon.conv2dBackwardWeight(cs, x, dy, dw, db);
        addon.conv2dBackwardWeight(cs, x, dy, dw2, null);
        return [y, y2, dx, dw, db, dw2].map((t) => s.read(t));
      });
    }
  });

  gpuIt('max pooling is exact (values and argmax); its backward and average pooling match', () => {
    for (const ps of POOLS) {
      const nx = ps.n * ps.c * ps.h * ps.w, ny = ps.n * ps.c * ps.p * ps.q;
      const label = `pool n${ps.n} c${ps.c} ${ps.h}x${ps.w} ${ps.kh}x${ps.kw}`;
      compareBackends(`${label} max`, 0, (s, rng) => {
        const x = s.floats(rng.floats(nx)), dy = s.floats(rng.floats(ny));
        const y = s.out(ny), am = s.outInts(ny), dx = s.out(nx);
        addon.maxpool2dForward(ps, x, y, am);
        addon.maxpool2dBackward(ps, dy, am, dx);
        return [s.read(y), s.readInts(am), s.read(dx)];
      });
      compareBackends(`${label} avg`, TOL.cuda, (s, rng) => {
        const x = s.floats(rng.floats(nx)), dy = s.floats(rng.floats(ny));
        const y = s.out(ny), dx = s.out(nx);
        addon.avgpool2dForward(ps, x, y);
        addon.avgpool2dBackward(ps, dy, dx);
        return [s.read(y), s.read(dx)];
      });
    }
  });

  gpuIt('relu and fill are exact; add, mul, scale, axpby, bias_add match', () => {
    for (const n of [1, 7, 4099, 100003]) {
      compareBackends(`relu n=${n}`, 0, (s, rng) => {
        const x = s.floats(rng.floats(n)), dy = s.floats(rng.floats(n));
        const y = s.out(n), dx = s.out(n), f = s.out(n);
        addon.reluForward(n, x, y);
        addon.reluBackward(n, dy, y, dx);
        addon.fill(n, f, -2.5);
        return [s.read(y), s.read(dx), s.read(f)];
      });
      compareBackends(`arithmetic n=${n}`, TOL.cuda, (s, rng) => {
        const a = s.floats(rng.floats(n)), b = s.floats(rng.floats(n));
        const o = [s.out(n), s.out(n), s.out(n), s.out(n)];
        addon.add(n, a, b, o[0]);
        addon.mul(n, a, b, o[1]);
        addon.scale(n, a, 0.3, o[2]);
        addon.axpby(n, 0.7, a, -1.3, b, o[3]);
        addon.add(n, a, b, a); // in place
        return [...o, a].map((t) => s.read(t));
      });
    }
    for (const [outer, channels, inner] of [[1, 1, 1], [64, 10, 1], [2, 16, 1024], [3, 7, 33]])
      compareBackends(`bias_add ${outer}x${channels}x${inner}`, TOL.cuda, (s, rng) => {
        const n = outer * channels * inner;
        const y = s.out(n);
        addon.biasAdd(outer, channels, inner, s.floats(rng.floats(n)), s.floats(rng.floats(channels)), y);
        return [s.read(y)];
      });
  });

  gpuIt('sum_axis', () => {
    for (const [outer, reduce, inner] of [[1, 1, 1], [1, 64, 10], [7, 33, 65], [1, 100003, 1], [64, 10, 1], [2, 300, 3000]])
      compareBackends(`sum_axis ${outer}x${reduce}x${inner}`, TOL.cuda, (s, rng) => {
        const y = s.out(outer * inner);
        addon.sumAxis(outer, reduce, inner, s.floats(rng.floats(outer * reduce * inner)), y);
        return [s.read(y)];
      });
  });

  gpuIt('softmax cross-entropy forward and backward; argmax and correct_count exact', () => {
    for (const [n, classes] of [[1, 1], [1, 10], [64, 10], [7, 33], [3, 1000], [5000, 10]]) {
      compareBackends(`softmax xent ${n}x${classes}`, TOL.cuda, (s, rng) => {
        const logits = s.floats(rng.floats(n * classes, -6, 6)), labels = s.ints(rng.labels(n, classes));
        const probs = s.out(n * classes), loss = s.out(1), d = s.out(n * classes);
        addon.softmaxXentForward(n, classes, logits, labels, probs, loss);
        addon.softmaxXentBackward(n, classes, probs, labels, s.floats([0.5]), d);
        return [s.read(probs), s.read(loss), s.read(d)];
      });
      compareBackends(`argmax ${n}x${classes}`, 0, (s, rng) => {
        const x = rng.floats(n * classes);
        for (let i = 0; i < n; i += 2) if (classes > 1) x[i * classes] = x[i * classes + 1] = 9; // ties
        const labels = rng.labels(n, classes);
        const out = s.outInts(n), count = s.outInts(1);
        addon.argmax(n, classes, s.floats(x), out);
        addon.correctCount(n, classes, s.floats(x), s.ints(labels), count);
        return [s.readInts(out), s.readInts(count)];
      });
    }
  });

  gpuIt('adam (both weight decays) and sgd (momentum, dampening, nesterov) over several steps', () => {
    const n = 10007;
    compareBackends('adam', TOL.cuda, (s, rng) => {
      const p = s.floats(rng.floats(n)), m = s.floats(new Float32Array(n)), v = s.floats(new Float32Array(n));
      const p2 = s.floats(rng.floats(n)), m2 = s.floats(new Float32Array(n)), v2 = s.floats(new Float32Array(n));
      for (let step = 1; step <= 5; step++) {
        const g = s.floats(rng.floats(n));
        addon.adamStep(n, p, g, m, v, 1e-2, 0.9, 0.999, 1e-8, 0.1, false, step);
        addon.adamStep(n, p2, g, m2, v2, 1e-2, 0.9, 0.999, 1e-8, 0.1, true, step);
      }
      return [p, m, v, p2, m2, v2].map((t) => s.read(t));
    });
    compareBackends('sgd', TOL.cuda, (s, rng) => {
      const p = s.floats(rng.floats(n)), buf = s.out(n), q = s.floats(rng.floats(n)), buf2 = s.out(n), r = s.floats(rng.floats(n));
      for (let step = 1; step <= 5; step++) {
        const g = s.floats(rng.floats(n));
        addon.sgdStep(n, p, g, buf, 0.05, 0.9, 0.1, 1e-3, false, step === 1);
        addon.sgdStep(n, q, g, buf2, 0.05, 0.9, 0, 1e-3, true, step === 1);
        addon.sgdStep(n, r, g, buf2, 0.05, 0, 0, 0, false, false); // no momentum: the buffer is not touched
      }
      return [p, buf, q, buf2, r].map((t) => s.read(t));
    });
  });

  gpuIt('dropout masks are exact; uniform and normal draw the same numbers', () => {
    for (const n of [1, 4097, 100003]) {
      compareBackends(`dropout n=${n}`, 0, (s, rng) => {
        const x = s.floats(rng.floats(n)), dy = s.floats(rng.floats(n));
        const y = s.out(n), mask = s.out(n), dx = s.out(n);
        addon.dropoutForward(n, x, y, mask, 0.3, 0x123456789n, (1n << 32n) - 7n);
        addon.dropoutBackward(n, dy, mask, dx);
        return [s.read(mask), s.read(y), s.read(dx)];
      });
      compareBackends(`uniform/normal n=${n}`, TOL.cuda, (s) => {
        const u = s.out(n), z = s.out(n), u01 = s.out(n);
        addon.uniform(n, u, -2, 3, 99n, 12345n);
        addon.normal(n, z, 1, 0.5, 99n, 12345n);
        addon.uniform(n, u01, 0, 1, 7n, 0n);
        return [s.read(u), s.read(z), s.read(u01)];
      });
    }
  });
});
