import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { imageGrid, pngDataUrl, pngSize } from '../../src/report/png';
import { makeSplit } from './synthetic-data';

describe('image grid', () => {
  const split = makeSplit(6, 7);

  it('places each image scaled by nearest neighbour, channels from the R, G and B planes', () => {
    const scale = 3, gap = 2;
    const png = imageGrid(split.images, [[0, 1, 2], [3, 4]], { scale, gap, background: [1, 2, 3] });
    const img = PNG.sync.read(png);
    expect(img.width).toBe(gap + 3 * (32 * scale + gap));
    expect(img.height).toBe(gap + 2 * (32 * scale + gap));
    expect(pngSize(png)).toEqual({ width: img.width, height: img.height });
    const at = (x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 4));
    const source = (i: number, sx: number, sy: number) => {
      const p = i * 3072 + sy * 32 + sx;
      return [split.images[p], split.images[p + 1024], split.images[p + 2048], 255];
    };
    for (const [row, col, index] of [[0, 0, 0], [0, 2, 2], [1, 1, 4]]) {
      for (const [sx, sy] of [[0, 0], [31, 0], [5, 17], [31, 31]]) {
        const ox = gap + col * (32 * scale + gap), oy = gap + row * (32 * scale + gap);
        // every pixel of the scale x scale block is the source pixel
        for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) {
          expect(at(ox + sx * scale + dx, oy + sy * scale + dy)).toEqual(source(index, sx, sy));
        }
      }
    }
    // the gap and the missing sixth cell stay background
    expect(at(0, 0)).toEqual([1, 2, 3, 255]);
    expect(at(img.width - 10, img.height - 10)).toEqual([1, 2, 3, 255]);
  });

  it('leaves cells marked -1 empty and rejects images that are not there', () => {
    const img = PNG.sync.read(imageGrid(split.images, [[-1, 0]], { scale: 1, gap: 0 }));
    expect(Array.from(img.data.subarray(0, 4))).toEqual([255, 255, 255, 255]);
    expect(() => imageGrid(split.images, [[6]])).toThrow(/image 6 out of range \(0\.\.5\)/);
    expect(() => imageGrid(split.images, [[0]], { scale: 1.5 })).toThrow(/scale/);
  });

  it('embeds as a base64 data url that decodes to the same png', () => {
    const png = imageGrid(split.images, [[0]]);
    const url = pngDataUrl(png);
    expect(url.startsWith('data:image/png;base64,')).toBe(true);
    expect(Buffer.from(url.slice('data:image/png;base64,'.length), 'base64').equals(png)).toBe(true);
  });
});
