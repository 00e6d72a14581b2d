import { describe, expect, it } from 'vitest';
import { channelHistograms, channelMoments, classCounts, mergeHistograms } from '../../src/report/pixel-stats';
import { makeSplit } from './synthetic-data';

describe('pixel statistics', () => {
  const split = makeSplit(37, 3);

  it('counts every pixel of every channel once, in the right bin', () => {
    const h = channelHistograms(split);
    expect(h.pixelsPerChannel).toBe(37 * 1024);
    for (let c = 0; c < 3; c++) {
      expect(h.counts[c].reduce((a, b) => a + b, 0)).toBe(37 * 1024);
      // recount one value directly from the plane
      const v = split.images[c * 1024 + 5];
      let n = 0;
      for (let i = 0; i < 37; i++) for (let p = 0; p < 1024; p++) if (split.images[i * 3072 + c * 1024 + p] === v) n++;
      expect(h.counts[c][v]).toBe(n);
    }
  });

  it('gives the mean and population std of each channel, as a direct pass does', () => {
    const m = channelMoments(channelHistograms(split));
    for (let c = 0; c < 3; c++) {
      let s = 0, n = 0;
      for (let i = 0; i < 37; i++) for (let p = 0; p < 1024; p++) { s += split.images[i * 3072 + c * 1024 + p]; n++; }
      const mean = s / n;
      let ss = 0;
      for (let i = 0; i < 37; i++) for (let p = 0; p < 1024; p++) ss += (split.images[i * 3072 + c * 1024 + p] - mean) ** 2;
      expect(m.mean[c]).toBeCloseTo(mean, 9);
      expect(m.std[c]).toBeCloseTo(Math.sqrt(ss / n), 9);
    }
    // the synthetic images differ by channel, so must the numbers
    expect(new Set(m.mean.map((v) => v.toFixed(3))).size).toBe(3);
  });

  it('merges two splits as if they were one', () => {
    const a = makeSplit(10, 4), b = makeSplit(15, 5);
    const joined = { images: new Uint8Array(25 * 3072), labels: new Uint8Array(25), count: 25 };
    joined.images.set(a.images, 0);
    joined.images.set(b.images, 10 * 3072);
    const merged = mergeHistograms(channelHistograms(a), channelHistograms(b));
    const direct = channelHistograms(joined);
    expect(merged.pixelsPerChannel).toBe(direct.pixelsPerChannel);
    for (let c = 0; c < 3; c++) expect(Array.from(merged.counts[c])).toEqual(Array.from(direct.counts[c]));
  });

  it('reports progress and counts classes, rejecting labels past the class list', () => {
    const seen: number[] = [];
    channelHistograms(makeSplit(2500, 6), { start() {}, update: (d) => seen.push(d), end() {} });
    expect(seen).toEqual([1000, 2000, 2500]);
    expect(classCounts(split, 10)).toEqual([4, 4, 4, 4, 4, 4, 4, 3, 3, 3]);
    expect(() => classCounts(split, 5)).toThrow(/image 5 has label 5, but there are only 5 classes/);
  });

  it('gives no numbers, rather than wrong ones, for an empty split', () => {
    const m = channelMoments(channelHistograms({ images: new Uint8Array(0), labels: new Uint8Array(0), count: 0 }));
    expect(m.mean.every(Number.isNaN)).toBe(true);
  });
});
