// gather_images: a batch from a data set in native memory, each byte mapped
// through its channel's table. checked against a float64 normalisation
// (x/255 - mean)/std on odd image sizes (planes that are and are not a whole
// number of words), with an order (a shuffled epoch) and without one (images
// in sequence), batch 1 and a last batch that does not fill up; bits that do
// not depend on the thread count; every bad argument rejected, out-of-range
// order values on the cpu above all; and the CUDA kernel against the cpu.
import { describe, expect, it } from 'vitest';
import type { NativeError, NativeStorage } from '../../src/native';
import { checkBackends } from '../../src/check/backends';
import { normalizationTable, type Normalization } from '../../src/data/loader';
import { expectExact, expectSameBits } from '../helpers/compare';
import { addon, cudaAvailable, cudaReason, Scope, useScopes, withThreads } from '../helpers/native';
import { Rng } from '../helpers/rng';

const scopes = useScopes();
const suffix = cudaAvailable ? '' : ` (skipped: ${cudaReason})`;

const NORM: Normalization = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] };

// channels 1..3 only (the table's mean/std); the table for other channel counts repeats them
function tableFor(channels: number, n: Normalization = NORM): Float32Array {
  const rgb = normalizationTable(n);
  const t = new Float32Array(channels * 256);
  for (let c = 0; c < channels; c++) t.set(rgb.subarray((c % 3) * 256, (c % 3 + 1) * 256), c * 256);
  return t;
}

interface DataSet {
  count: number;
  channels: number;
  plane: number;
  images: Uint8Array;
  labels: Uint8Array;
}

function makeData(rng: Rng, count: number, channels: number, plane: number): DataSet {
  const images = new Uint8Array(count * channels * plane);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(256);
  // every byte value appears at least once in a large enough set
  for (let i = 0; i < Math.min(256, images.length); i++) images[i] = i;
  const labels = Uint8Array.from({ length: count }, () => rng.int(10));
  return { count, channels, plane, images, labels };
}

function bytes(s: Scope, data: Uint8Array): NativeStorage {
  const st = s.raw(Math.max(4, data.byteLength));
  if (data.byteLength > 0) addon.write(st, data);
  return st;
}

// the float64 reference: (x/255 - mean[c]) / std[c] for the image at each batch position
function reference(d: DataSet, indices: number[], n: Normalization = NORM): { images: Float64Array; labels: Int32Array } {
  const image = d.channels * d.plane;
  const images = new Float64Array(indices.length * image);
  const labels = new Int32Array(indices.length);
  indices.forEach((idx, i) => {
    labels[i] = d.labels[idx];
    for (let c = 0; c < d.channels; c++) {
      for (let p = 0; p < d.plane; p++) {
        const v = d.images[idx * image + c * d.plane + p];
        images[i * image + c * d.plane + p] = (v / 255 - n.mean[c % 3]) / n.std[c % 3];
      }
    }
  });
  return { images, labels };
}

interface Gathered {
  images: Float32Array;
  labels: Int32Array;
}

// gathers [first, first+batch) of order (or of the images, when order is null) on scope's device
function gather(s: Scope, d: DataSet, order: Int32Array | null, first: number, batch: number, table = tableFor(d.channels)): Gathered {
  const image = d.channels * d.plane;
  const out = s.out(batch * image);
  const outLabels = s.outInts(batch);
  addon.gatherImages(batch, d.count, d.channels, d.plane, bytes(s, d.images), bytes(s, d.labels), order ? s.ints(order) : null, first,
    s.floats(table), out, outLabels);
  return { images: s.read(out, batch * image), labels: s.readInts(outLabels, batch) };
}

function shuffled(rng: Rng, n: number): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

// [count, channels, plane]: cifar's shape, planes of a word multiple and not, single channel, one image
const SHAPES: Array<[number, number, number]> = [
  [10, 3, 1024],
  [7, 3, 6],
  [5, 2, 5],
  [9, 1, 7],
  [1, 3, 4],
  [13, 4, 12],
];

function expectMatchesReference(got: Gathered, ref: { images: Float64Array; labels: Int32Array }, label: string): void {
  expectExact(got.labels, ref.labels, `${label} labels`);
  // the table holds the float64 value rounded to float32: exactly that, so within 2^-24 relative
  expectExact(got.images, Float32Array.from(ref.images), `${label} images`);
  let worst = 0;
  for (let i = 0; i < ref.images.length; i++) {
    if (ref.images[i] !== 0) worst = Math.max(worst, Math.abs(got.images[i] - ref.images[i]) / Math.abs(ref.images[i]));
  }
  expect(worst, label).toBeLessThanOrEqual(1e-6);
}

describe('gather_images (cpu)', () => {
  it('matches the float64 normalisation with and without an order, for batch 1 and ragged last batches', () => {
    const rng = new Rng(71);
    for (const [count, channels, plane] of SHAPES) {
      const d = makeData(rng, count, channels, plane);
      const order = shuffled(rng, count);
      // batch sizes: 1, one that does not divide count, the whole set
      for (const batch of [...new Set([1, Math.max(1, count - 2), count])]) {
        for (let first = 0; first < count; first += batch) {
          const size = Math.min(batch, count - first);
          const label = `count ${count} c${channels} plane ${plane} batch ${batch} at ${first}`;
          const positions = Array.from({ length: size }, (_, i) => first + i);
          expectMatchesReference(gather(scopes.cpu, d, order, first, size), reference(d, positions.map((k) => order[k])), `${label} ordered`);
          expectMatchesReference(gather(scopes.cpu, d, null, first, size), reference(d, positions), `${label} in sequence`);
        }
      }
    }
  });

  it('reads the order at first..first+batch of a longer order storage, repeats included', () => {
    const rng = new Rng(72);
    const d = makeData(rng, 6, 3, 6);
    const order = Int32Array.of(5, 5, 0, 3, 3, 1, 2, 4);
    const got = gather(scopes.cpu, d, order, 3, 4);
    expectMatchesReference(got, reference(d, [3, 3, 1, 2]), 'order[3..7)');
  });

  it('gives the same bits for any thread count', () => {
    const rng = new Rng(73);
    const d = makeData(rng, 300, 3, 1024);
    const order = shuffled(rng, 300);
    const one = withThreads(1, () => gather(scopes.cpu, d, order, 17, 250));
    for (const threads of [2, 3, 8]) {
      const many = withThreads(threads, () => gather(scopes.cpu, d, order, 17, 250));
      expectSameBits(many.images, one.images, `${threads} threads`);
      expectExact(many.labels, one.labels, `${threads} threads labels`);
    }
  });

  it('agrees bit for bit with the DataLoader table for the default normalisation', () => {
    const d = makeData(new Rng(74), 3, 3, 1024);
    const table = normalizationTable();
    const got = gather(scopes.cpu, d, null, 0, 3, table);
    for (let i = 0; i < got.images.length; i++) {
      const c = Math.floor((i % 3072) / 1024);
      if (!Object.is(got.images[i], table[c * 256 + d.images[i]])) expect.fail(`element ${i}`);
    }
  });
});

function expectNativeError(fn: () => unknown, code: NativeError['code'], ...mentions: string[]): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  if (caught === null) expect.fail(`expected ${code}, but nothing was thrown`);
  const err = caught as NativeError;
  expect(err.code, err.message).toBe(code);
  for (const m of mentions) expect(err.message).toContain(m);
}

describe('gather_images argument checking', () => {
  function parts(count = 4, channels = 3, plane = 8, batch = 2) {
    const s = scopes.cpu;
    const d = makeData(new Rng(75), count, channels, plane);
    return {
      images: bytes(s, d.images),
      labels: bytes(s, d.labels),
      table: s.floats(tableFor(channels)),
      out: s.out(batch * channels * plane),
      outLabels: s.outInts(batch),
    };
  }

  it('rejects order values outside [0, count) on the cpu, naming the position, and writes nothing', () => {
    const p = parts();
    for (const bad of [4, -1, 1 << 30]) {
      const order = scopes.cpu.ints([0, 1, bad, 2]);
      expectNativeError(() => addon.gatherImages(2, 4, 3, 8, p.images, p.labels, order, 1, p.table, p.out, p.outLabels),
        'ERR_ARG', 'gatherImages', "'order'", 'order[2]', `${bad}`, 'outside [0, 4)');
      expect(scopes.cpu.read(p.out).every(Number.isNaN)).toBe(true);
    }
    // positions outside [first, first+batch) are not looked at
    const order = scopes.cpu.ints([9, 1, 2, -5]);
    addon.gatherImages(2, 4, 3, 8, p.images, p.labels, order, 1, p.table, p.out, p.outLabels);
    expect(Array.from(scopes.cpu.readInts(p.outLabels)).every((l) => l >= 0 && l < 10)).toBe(true);
  });

  it('rejects storages too small for the sizes and reads past the order or the images', () => {
    const p = parts();
    const cpu = scopes.cpu;
    const order = cpu.ints([0, 1, 2]);
    expectNativeError(() => addon.gatherImages(2, 5, 3, 8, p.images, p.labels, null, 0, p.table, p.out, p.outLabels), 'ERR_SHAPE', "'images'");
    expectNativeError(() => addon.gatherImages(2, 4, 3, 8, p.images, cpu.raw(3), null, 0, p.table, p.out, p.outLabels), 'ERR_SHAPE', "'labels'");
    expectNativeError(() => addon.gatherImages(2, 4, 3, 8, p.images, p.labels, order, 2, p.table, p.out, p.outLabels), 'ERR_SHAPE', "'order'", 'first+batch');
    expectNativeError(() => addon.gatherImages(2, 4, 3, 8, p.images, p.labels, null, 3, p.table, p.out, p.outLabels), 'ERR_SHAPE', 'without an order', '[3, 5)');
    expectNativeError(() => addon.gatherImages(2, 4, 3, 8, p.images, p.labels, null, 0, cpu.out(3 * 256 - 1), p.out, p.outLabels), 'ERR_SHAPE', "'table'");
    expectNativeError(() => addon.gatherImages(2, 4, 3, 8, p.images, p.labels, null, 0, p.table, cpu.out(47), p.outLabels), 'ERR_SHAPE', "'out'");
    expectNativeError(() => addon.gatherImages(2, 4, 3, 8, p.images, p.labels, null, 0, p.table, p.out, cpu.outInts(1)), 'ERR_SHAPE', "'outLabels'");
  });

  it('rejects bad sizes, aliasing and mixed devices', () => {
    const p = parts();
    expectNativeError(() => addon.gatherImages(0, 4, 3, 8, p.images, p.labels, null, 0, p.table, p.out, p.outLabels), 'ERR_ARG', "'batch'");
    expectNativeError(() => addon.gatherImages(2, 4, 0, 8, p.images, p.labels, null, 0, p.table, p.out, p.outLabels), 'ERR_ARG', "'channels'");
    expectNativeError(() => addon.gatherImages(2, 4, 3, 8, p.images, p.labels, null, -1, p.table, p.out, p.outLabels), 'ERR_ARG', "'first'");
    expectNativeError(() => addon.gatherImages(2, 4, 3, 8, p.images, p.labels, null, 0.5, p.table, p.out, p.outLabels), 'ERR_ARG', "'first'");
    expectNativeError(() => addon.gatherImages(2, 4, 3, 8, p.images, p.labels, null, 0, p.table, p.table, p.outLabels), 'ERR_ARG', "'out'", "'table'");
    expectNativeError(() => addon.gatherImages(2, 4, 3, 8, p.images, p.labels, null, 0, p.table, p.out, p.out), 'ERR_ARG', "'out'", "'outLabels'");
    const labels = bytes(scopes.cpu, new Uint8Array(8));
    expectNativeError(() => addon.gatherImages(2, 4, 3, 8, p.images, labels, null, 0, p.table, p.out, labels), 'ERR_ARG', "'outLabels'", "'labels'");
    if (cudaAvailable) {
      const g = scopes.cuda.out(48);
      expectNativeError(() => addon.gatherImages(2, 4, 3, 8, p.images, p.labels, null, 0, p.table, g, p.outLabels), 'ERR_DEVICE', 'one device');
    }
  });
});

describe(`gather_images (cuda)${suffix}`, () => {
  it('has check-ops cases that run (cuda against cpu where there is a GPU, cpu against itself here)', () => {
    const results = checkBackends(cudaAvailable ? 'cuda' : 'cpu', 'cpu', ['gather_images']);
    expect(results.length).toBeGreaterThanOrEqual(4);
    for (const r of results) expect(r.relError, `${r.op} ${r.shape}`).toBe(0);
  });

  it.skipIf(!cudaAvailable)('matches the cpu bit for bit, ordered and in sequence, both kernels', () => {
    for (const [count, channels, plane] of SHAPES) {
      const rng = new Rng(76);
      const d = makeData(rng, count, channels, plane);
      const order = shuffled(rng, count);
      for (const batch of [...new Set([1, Math.max(1, count - 2), count])]) {
        // the last `batch` positions: an offset into the order, and the whole set when batch = count
        const first = count - batch;
        for (const o of [order, null]) {
          const cpu = gather(scopes.cpu, d, o, first, batch);
          const gpu = gather(scopes.cuda, d, o, first, batch);
          const label = `count ${count} c${channels} plane ${plane} batch ${batch}${o ? ' ordered' : ''}`;
          expectSameBits(gpu.images, cpu.images, label);
          expectExact(gpu.labels, cpu.labels, `${label} labels`);
        }
      }
    }
  });

  it.skipIf(!cudaAvailable)('turns an out-of-range order value into NaN pixels and label -1, touching nothing else', () => {
    // plane 1024: the four-float kernel; plane 6: the one-float kernel
    for (const plane of [1024, 6]) {
      const d = makeData(new Rng(77), 4, 3, plane);
      const got = gather(scopes.cuda, d, Int32Array.of(1, -3, 4, 2), 0, 4);
      const ok = gather(scopes.cpu, d, Int32Array.of(1, 0, 0, 2), 0, 4);
      const image = 3 * plane;
      expect(Array.from(got.labels)).toEqual([ok.labels[0], -1, -1, ok.labels[3]]);
      expect(got.images.subarray(image, 3 * image).every(Number.isNaN)).toBe(true);
      expectSameBits(got.images.subarray(0, image), ok.images.subarray(0, image), `plane ${plane} image 0`);
      expectSameBits(got.images.subarray(3 * image), ok.images.subarray(3 * image), `plane ${plane} image 3`);
    }
  });
});
