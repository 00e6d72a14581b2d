import { IMAGE_BYTES } from './png';
import { ProgressSink, silentProgress } from './progress';

// the data set's numbers: how many images per class, and the distribution of
// pixel values per channel. mean and std come from the exact 256-bin counts,
// so they are exact (population std over every pixel of the split, the number
// torchvision-style normalisation uses: about 0.247 for R on the train split).

export interface SplitLike {
  images: Uint8Array; // count * 3072, CHW: R plane, G plane, B plane
  labels: Uint8Array;
  count: number;
}

export const CHANNELS = ['R', 'G', 'B'] as const;
const PLANE = IMAGE_BYTES / 3;

export function classCounts(split: SplitLike, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < split.count; i++) {
    const label = split.labels[i];
    if (label >= classes) throw new RangeError(`image ${i} has label ${label}, but there are only ${classes} classes`);
    counts[label]++;
  }
  return counts;
}

export interface ChannelHistograms {
  counts: [Uint32Array, Uint32Array, Uint32Array]; // 256 bins each: R, G, B
  pixelsPerChannel: number;
}

// one pass over the pixels; progress is reported per chunk of images
export function channelHistograms(split: SplitLike, progress: ProgressSink = silentProgress): ChannelHistograms {
  const counts: [Uint32Array, Uint32Array, Uint32Array] = [new Uint32Array(256), new Uint32Array(256), new Uint32Array(256)];
  const chunk = 1000;
  for (let first = 0; first < split.count; first += chunk) {
    const last = Math.min(split.count, first + chunk);
    for (let i = first; i < last; i++) {
      const base = i * IMAGE_BYTES;
      for (let c = 0; c < 3; c++) {
        const h = counts[c];
        const start = base + c * PLANE, end = start + PLANE;
        for (let p = start; p < end; p++) h[split.images[p]]++;
      }
    }
    progress.update(last);
  }
  return { counts, pixelsPerChannel: split.count * PLANE };
}

export function mergeHistograms(a: ChannelHistograms, b: ChannelHistograms): ChannelHistograms {
  const add = (x: Uint32Array, y: Uint32Array) => x.map((v, i) => v + y[i]);
  return {
    counts: [add(a.counts[0], b.counts[0]), add(a.counts[1], b.counts[1]), add(a.counts[2], b.counts[2])],
    pixelsPerChannel: a.pixelsPerChannel + b.pixelsPerChannel,
  };
}

export interface ChannelMoments {
  mean: [number, number, number]; // on the 0..255 scale
  std: [number, number, number];
}

export function channelMoments(h: ChannelHistograms): ChannelMoments {
  const mean: number[] = [], std: number[] = [];
  for (let c = 0; c < 3; c++) {
    // integer sums stay exact in a double: at most 255^2 * 2^32 < 2^53
    let s = 0, s2 = 0;
    const counts = h.counts[c];
    for (let v = 0; v < 256; v++) { s += v * counts[v]; s2 += v * v * counts[v]; }
    const n = h.pixelsPerChannel;
    const m = n > 0 ? s / n : NaN;
    mean.push(m);
    std.push(n > 0 ? Math.sqrt(Math.max(0, s2 / n - m * m)) : NaN);
  }
  return { mean: mean as [number, number, number], std: std as [number, number, number] };
}
