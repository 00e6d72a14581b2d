// gather_images beyond its values (src/spec/data.ts checks those against a
// float64 lookup on every backend, with and without an order, batch 1, ragged
// last batches, repeats): bits that do not depend on the thread count, the
// DataLoader's own table, every bad argument rejected (out-of-range order
// values on the cpu above all), the CUDA kernel against the cpu on the spec's
// cases, and what CUDA makes of an out-of-range order value.
import { describe, expect, it } from 'vitest';
import type { NativeError, NativeStorage } from '../../src/native';
import { compareBackends, formatResult } from '../../src/spec/checker';
import { gatherImages } from '../../src/spec/data';
import { normalizationTable, type Normalization } from '../../src/data/loader';
import { expectExact, expectSameBits } from '../helpers/compare';
import { addon, cudaAvailable, cudaReason, expectNativeError, Scope, useScopes, withThreads } from '../helpers/native';
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

describe('gather_images (cpu)', () => {
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
  it.skipIf(!cudaAvailable)('matches the cpu bit for bit on every case of the spec, ordered and in sequence, both kernels', () => {
    gatherImages.cases.forEach((_, index) => {
      const r = compareBackends(gatherImages, index, 'cuda', 'cpu');
      if (!r.ok) expect.fail(formatResult(r));
    });
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
