// gather_images (native/cpu/data.cc, native/cuda/data.cu): a batch from a data
// set in native memory, each byte mapped through its channel's 256-entry table
// and each label widened to int32. cases: cifar batches (planes of 1024, the
// four-float kernel), planes that are not a whole number of words (the
// one-float kernel), batch 1, a last batch that does not fill up, in sequence
// (no order), shuffled, and an order with repeats.
import type { OpSpec } from './types';

interface GatherCase {
  count: number;
  channels: number;
  plane: number;
  batch: number;
  first: number;
  order: 'none' | 'shuffled' | 'repeats';
}

export const gatherImages: OpSpec<GatherCase> = {
  name: 'gather_images',
  family: 'data',
  cases: ([
    [1000, 3, 1024, 64, 128, 'shuffled'], [1000, 3, 1024, 128, 872, 'shuffled'], [1000, 3, 1024, 250, 750, 'none'],
    [10, 3, 1024, 10, 0, 'shuffled'], [7, 3, 6, 1, 3, 'shuffled'], [7, 3, 6, 5, 2, 'none'], [13, 2, 5, 5, 8, 'shuffled'],
    [9, 1, 7, 9, 0, 'none'], [3, 3, 1024, 1, 2, 'none'], [1, 3, 4, 1, 0, 'shuffled'], [13, 4, 12, 4, 9, 'shuffled'],
    [8, 3, 17, 6, 1, 'repeats'], [6, 3, 1024, 4, 2, 'repeats'],
  ] as const).map(([count, channels, plane, batch, first, order]) => ({ count, channels, plane, batch, first, order })),
  label: (p) => `count ${p.count} c${p.channels} plane ${p.plane} batch ${p.batch} at ${p.first}${p.order === 'none' ? '' : ` ${p.order}`}`,
  inputs(p, rng) {
    const images = Uint8Array.from(rng.ints(p.count * p.channels * p.plane, 256));
    // every byte value, where there are enough bytes
    for (let i = 0; i < Math.min(256, images.length); i++) images[i] = i;
    const order = p.order === 'repeats' ? rng.ints(p.count, p.count) : Int32Array.from({ length: p.count }, (_, i) => i);
    if (p.order === 'shuffled') {
      for (let i = p.count - 1; i > 0; i--) {
        const j = Math.floor(rng.next() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
    }
    return {
      images,
      labels: Uint8Array.from(rng.ints(p.count, 10)),
      order,
      // any float32 table: the op is a lookup, whatever the normalisation
      table: rng.floats(p.channels * 256, -3, 3),
    };
  },
  outputs: (p) => ({
    out: { length: p.batch * p.channels * p.plane, dtype: 'f32' },
    outLabels: { length: p.batch, dtype: 'i32' },
  }),
  call: (addon, p, s) =>
    addon.gatherImages(p.batch, p.count, p.channels, p.plane, s.images, s.labels, p.order === 'none' ? null : s.order, p.first,
      s.table, s.out, s.outLabels),
  reference(p, { images, labels, order, table }) {
    const image = p.channels * p.plane;
    const out = new Float64Array(p.batch * image);
    const outLabels = new Int32Array(p.batch);
    for (let b = 0; b < p.batch; b++) {
      const idx = p.order === 'none' ? p.first + b : order[p.first + b];
      outLabels[b] = labels[idx];
      for (let c = 0; c < p.channels; c++)
        for (let q = 0; q < p.plane; q++) out[b * image + c * p.plane + q] = table[c * 256 + images[idx * image + c * p.plane + q]];
    }
    return { out, outLabels };
  },
  // a lookup and a copy: bit for bit
  tolerance: { reference: 0, backends: 0 },
  bench: {
    // a training batch of cifar images (3 x 32 x 32) from a resident set
    cases: [64, 128].map((batch) => ({ count: 10000, channels: 3, plane: 1024, batch, first: 0, order: 'shuffled' as const })),
    bytes: (p) => p.batch * p.channels * p.plane * 5 + p.batch * 9,
  },
};

export const dataSpecs = [gatherImages];
