import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { loadCifar10, Split } from '../../src/data/cifar10';
import { Batch, DataLoader, normalizationTable } from '../../src/data/loader';
import { Generator } from '../../src/random';
import { FIXTURE } from './writers';

// a split where image i is recognisable: every pixel of it is
// (i*7 + plane*31 + y*3 + x) mod 256, label i mod 10
function synthetic(count: number): Split {
  const images = new Uint8Array(count * 3072);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % 10;
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) images[i * 3072 + c * 1024 + y * 32 + x] = (i * 7 + c * 31 + y * 3 + x) % 256;
      }
    }
  }
  return { images, labels, count };
}

const f32 = (x: number) => Math.fround(x);
const norm = (v: number) => f32((v / 255 - 0.5) / 0.5);

function epoch(loader: DataLoader): Batch[] {
  return [...loader];
}

// which source image a plain (unaugmented) output image is, from its first pixel
function sourceOf(split: Split, out: Float32Array, at: number): number {
  for (let i = 0; i < split.count; i++) {
    let same = true;
    for (let k = 0; k < 3072 && same; k += 97) same = out[at + k] === norm(split.images[i * 3072 + k]);
    if (same) return i;
  }
  return -1;
}

describe('DataLoader', () => {
  it('batch counts: ragged last batch, dropLast, limit', () => {
    const s = synthetic(50);
    expect(new DataLoader(s, { batchSize: 16, shuffle: false }).batches).toBe(4);
    expect(new DataLoader(s, { batchSize: 16, shuffle: false, dropLast: true }).batches).toBe(3);
    expect(new DataLoader(s, { batchSize: 10, shuffle: false }).batches).toBe(5);
    const limited = new DataLoader(s, { batchSize: 8, shuffle: false, limit: 20 });
    expect(limited.batches).toBe(3);
    const bs = epoch(limited);
    expect(bs.map((b) => b.size)).toEqual([8, 8, 4]);
    expect(bs.map((b) => b.index)).toEqual([0, 1, 2]);
    expect(bs[2].images.length).toBe(4 * 3072);
    expect(bs[2].labels.length).toBe(4);
    expect(epoch(new DataLoader(s, { batchSize: 16, shuffle: false, dropLast: true })).map((b) => b.size)).toEqual([16, 16, 16]);
    expect(new DataLoader(s, { batchSize: 8, shuffle: false, limit: 500 }).batches).toBe(7);
  });

  it('no shuffle: the split in order, normalised as (x/255 - 0.5)/0.5', async () => {
    const data = await loadCifar10(path.join(FIXTURE, 'cifar-10-batches-bin'));
    const loader = new DataLoader(data.train, { batchSize: 32, shuffle: false });
    let row = 0;
    for (const b of loader) {
      for (let i = 0; i < b.size; i++, row++) {
        expect(b.labels[i]).toBe(data.train.labels[row]);
        for (let k = 0; k < 3072; k++) {
          if (b.images[i * 3072 + k] !== norm(data.train.images[row * 3072 + k])) {
            throw new Error(`image ${row} value ${k}: ${b.images[i * 3072 + k]} != ${norm(data.train.images[row * 3072 + k])}`);
          }
        }
      }
    }
    expect(row).toBe(100);
    const t = normalizationTable();
    expect([t[0], t[255], t[256 + 255], t[512 + 128]]).toEqual([-1, 1, 1, f32(128 / 255 / 0.5 - 1)]);
  });

  it('per-channel mean and std', () => {
    const s = synthetic(3);
    const mean: [number, number, number] = [0.4914, 0.4822, 0.4465];
    const std: [number, number, number] = [0.247, 0.2435, 0.2616];
    const [b] = epoch(new DataLoader(s, { batchSize: 3, shuffle: false, normalization: { mean, std } }));
    for (let i = 0; i < 3; i++) {
      for (let c = 0; c < 3; c++) {
        for (const k of [0, 1, 500, 1023]) {
          const v = s.images[i * 3072 + c * 1024 + k];
          expect(b.images[i * 3072 + c * 1024 + k]).toBe(f32((v / 255 - mean[c]) / std[c]));
        }
      }
    }
    expect(() => new DataLoader(s, { batchSize: 1, shuffle: false, normalization: { mean, std: [1, 0, 1] } })).toThrow(/channel 1/);
  });

  it('shuffle: each epoch a permutation, reshuffled, the same for the same seed', () => {
    const s = synthetic(40);
    const orderOf = (bs: Batch[]) => bs.flatMap((b) => Array.from({ length: b.size }, (_, i) => sourceOf(s, b.images, i * 3072)));
    const a = new DataLoader(s, { batchSize: 16, shuffle: true, generator: new Generator(7) });
    const b = new DataLoader(s, { batchSize: 16, shuffle: true, generator: new Generator(7) });
    const a1 = orderOf(epoch(a));
    const a2 = orderOf(epoch(a));
    expect([...a1].sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect([...a2].sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(a1).not.toEqual(a2);
    expect(a1).not.toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(orderOf(epoch(b))).toEqual(a1);
    expect(orderOf(epoch(b))).toEqual(a2);
    // labels travel with their images
    for (const batch of epoch(new DataLoader(s, { batchSize: 16, shuffle: true, generator: new Generator(3) }))) {
      for (let i = 0; i < batch.size; i++) expect(batch.labels[i]).toBe(sourceOf(s, batch.images, i * 3072) % 10);
    }
    const other = orderOf(epoch(new DataLoader(s, { batchSize: 16, shuffle: true, generator: new Generator(8) })));
    expect(other).not.toEqual(a1);
    // the order is the generator's permutation
    expect(a1).toEqual(Array.from(new Generator(7).permutation(40)));
  });

  it('the generator moves by a whole epoch when one starts, however far it is read', () => {
    const s = synthetic(30);
    const opts = { batchSize: 8, shuffle: true, augment: { crop: 2, flip: true } };
    const g1 = new Generator(11);
    const g2 = new Generator(11);
    epoch(new DataLoader(s, { ...opts, generator: g1 }));
    const it2 = new DataLoader(s, { ...opts, generator: g2 })[Symbol.iterator]();
    it2.next();
    expect(g2.state()).toEqual(g1.state());
  });

  it('augmentation keeps shapes, is deterministic, and crops and flips the image it came from', () => {
    const s = synthetic(64);
    const pad = 3;
    const run = (seed: number) =>
      epoch(new DataLoader(s, { batchSize: 20, shuffle: false, generator: new Generator(seed), augment: { crop: pad, flip: true } }));
    const a = run(5);
    const b = run(5);
    const c = run(6);
    expect(a.map((x) => x.size)).toEqual([20, 20, 20, 4]);
    for (let k = 0; k < a.length; k++) {
      expect(a[k].images.length).toBe(a[k].size * 3072);
      expect(Array.from(a[k].images)).toEqual(Array.from(b[k].images));
    }
    expect(Array.from(a[0].images)).not.toEqual(Array.from(c[0].images));

    // a plain reference: pad with zero pixels, crop at (dy, dx), then mirror
    const reference = (img: number, dy: number, dx: number, flip: boolean) => {
      const out = new Float32Array(3072);
      for (let ch = 0; ch < 3; ch++) {
        for (let y = 0; y < 32; y++) {
          for (let x = 0; x < 32; x++) {
            const sy = y + dy - pad;
            const sx = (flip ? 31 - x : x) + dx - pad;
            const v = sy >= 0 && sy < 32 && sx >= 0 && sx < 32 ? s.images[img * 3072 + ch * 1024 + sy * 32 + sx] : 0;
            out[ch * 1024 + y * 32 + x] = norm(v);
          }
        }
      }
      return out;
    };
    const seen = new Set<string>();
    let row = 0;
    for (const batch of a) {
      for (let i = 0; i < batch.size; i++, row++) {
        const got = batch.images.subarray(i * 3072, (i + 1) * 3072);
        let match: string | null = null;
        for (let dy = 0; dy <= 2 * pad && !match; dy++) {
          for (let dx = 0; dx <= 2 * pad && !match; dx++) {
            for (const flip of [false, true]) {
              const ref = reference(row, dy, dx, flip);
              if (ref.every((v, k) => v === got[k])) {
                match = `${dy},${dx},${flip}`;
                break;
              }
            }
          }
        }
        expect(match, `image ${row} is no crop/flip of its source`).not.toBeNull();
        seen.add(match as string);
        expect(batch.labels[i]).toBe(row % 10);
      }
    }
    // 64 draws over 98 outcomes: many different ones, flips both ways
    expect(seen.size).toBeGreaterThan(30);
    expect([...seen].some((m) => m.endsWith('true'))).toBe(true);
    expect([...seen].some((m) => m.endsWith('false'))).toBe(true);
  });

  it('flip alone mirrors or keeps; crop alone never mirrors', () => {
    const s = synthetic(32);
    const [flipped] = epoch(new DataLoader(s, { batchSize: 32, shuffle: false, generator: new Generator(1), augment: { flip: true } }));
    let mirrored = 0;
    for (let i = 0; i < 32; i++) {
      const same = (k: number, src: number) => flipped.images[i * 3072 + k] === norm(s.images[i * 3072 + src]);
      const y = 5, c = 2;
      const kept = Array.from({ length: 32 }, (_, x) => same(c * 1024 + y * 32 + x, c * 1024 + y * 32 + x)).every(Boolean);
      const mirror = Array.from({ length: 32 }, (_, x) => same(c * 1024 + y * 32 + x, c * 1024 + y * 32 + 31 - x)).every(Boolean);
      expect(kept || mirror).toBe(true);
      if (mirror) mirrored++;
    }
    expect(mirrored).toBeGreaterThan(4);
    expect(mirrored).toBeLessThan(28);
  });

  it('bad options are refused by name', () => {
    const s = synthetic(4);
    expect(() => new DataLoader(s, { batchSize: 0, shuffle: false })).toThrow(/batchSize/);
    expect(() => new DataLoader(s, { batchSize: 2.5, shuffle: false })).toThrow(/batchSize/);
    expect(() => new DataLoader(s, { batchSize: 2, shuffle: true })).toThrow(/generator/);
    expect(() => new DataLoader(s, { batchSize: 2, shuffle: false, augment: { flip: true } })).toThrow(/generator/);
    expect(() => new DataLoader(s, { batchSize: 2, shuffle: false, limit: -1 })).toThrow(/limit/);
    expect(() => new DataLoader(s, { batchSize: 2, shuffle: false, generator: new Generator(), augment: { crop: 1.5 } })).toThrow(/crop/);
    expect(() => new DataLoader({ images: new Uint8Array(10), labels: new Uint8Array(1), count: 1 }, { batchSize: 1, shuffle: false })).toThrow(
      /3072 image bytes/,
    );
  });

  it('images that do not start on a 4-byte boundary load the same, augmented or not (the byte-wise path)', () => {
    const s = synthetic(5);
    const shifted = new Uint8Array(s.images.length + 1).subarray(1);
    shifted.set(s.images);
    const a = epoch(new DataLoader(s, { batchSize: 5, shuffle: false }))[0];
    const b = epoch(new DataLoader({ ...s, images: shifted }, { batchSize: 5, shuffle: false }))[0];
    expect(Array.from(b.images)).toEqual(Array.from(a.images));
    const augment = { crop: 4, flip: true };
    for (const seed of [1, 2, 3]) {
      const c = epoch(new DataLoader(s, { batchSize: 5, shuffle: false, generator: new Generator(seed), augment }))[0];
      const d = epoch(new DataLoader({ ...s, images: shifted }, { batchSize: 5, shuffle: false, generator: new Generator(seed), augment }))[0];
      expect(Array.from(d.images)).toEqual(Array.from(c.images));
    }
  });
});
