import { PNG } from 'pngjs';

// cifar images as png: each image is 3072 bytes, the R plane, then G, then B
// (32x32 each). grids are scaled up by whole pixels (nearest neighbour) so the
// 32x32 images stay sharp, and embedded in the page as data: urls.

export const IMAGE_SIDE = 32;
export const IMAGE_BYTES = 3 * IMAGE_SIDE * IMAGE_SIDE;

export interface GridOptions {
  scale?: number; // each source pixel becomes scale x scale pixels
  gap?: number; // pixels between images (and around them)
  background?: [number, number, number];
}

// rows of image indices into `images`; a row may be shorter than the longest
// one, and -1 leaves a cell empty
export function imageGrid(images: Uint8Array, rows: number[][], opts: GridOptions = {}): Buffer {
  const scale = opts.scale ?? 2;
  const gap = opts.gap ?? 2;
  const [br, bg, bb] = opts.background ?? [255, 255, 255];
  if (!Number.isInteger(scale) || scale < 1) throw new RangeError(`imageGrid: scale must be a positive integer, got ${scale}`);
  const count = Math.floor(images.length / IMAGE_BYTES);
  const cols = Math.max(1, ...rows.map((r) => r.length));
  const cell = IMAGE_SIDE * scale;
  const width = gap + cols * (cell + gap);
  const height = gap + Math.max(1, rows.length) * (cell + gap);
  const png = new PNG({ width, height, colorType: 6 });
  const out = png.data;
  for (let i = 0; i < out.length; i += 4) {
    out[i] = br; out[i + 1] = bg; out[i + 2] = bb; out[i + 3] = 255;
  }
  const plane = IMAGE_SIDE * IMAGE_SIDE;
  rows.forEach((row, r) => {
    row.forEach((index, c) => {
      if (index < 0) return;
      if (!Number.isInteger(index) || index >= count) throw new RangeError(`imageGrid: image ${index} out of range (0..${count - 1})`);
      const base = index * IMAGE_BYTES;
      const ox = gap + c * (cell + gap), oy = gap + r * (cell + gap);
      for (let y = 0; y < cell; y++) {
        const sy = Math.floor(y / scale);
        let o = ((oy + y) * width + ox) * 4;
        for (let x = 0; x < cell; x++, o += 4) {
          const p = base + sy * IMAGE_SIDE + Math.floor(x / scale);
          out[o] = images[p];
          out[o + 1] = images[p + plane];
          out[o + 2] = images[p + 2 * plane];
        }
      }
    });
  });
  return PNG.sync.write(png);
}

export function pngDataUrl(png: Buffer): string {
  return `data:image/png;base64,${png.toString('base64')}`;
}

export function pngSize(png: Buffer): { width: number; height: number } {
  // the IHDR chunk follows the 8-byte signature: length, type, then width and height
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}
