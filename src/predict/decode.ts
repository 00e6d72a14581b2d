// an image file as RGB pixels: PNG through pngjs, JPEG through jpeg-js, told
// apart by their first bytes (not the file's name). both give RGBA, 8 bits a
// channel: grayscale is spread over the three channels, a palette looked up,
// 16-bit PNG scaled down to 8. the alpha channel is dropped, as PIL's
// convert('RGB') (the usual first step of a torchvision pipeline) drops it.
// every failure is a DataError naming the file and what was expected.
import fs from 'fs';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import { DataError } from '../data/errors';

export type ImageFormat = 'png' | 'jpeg';

export interface DecodedImage {
  file: string;
  format: ImageFormat;
  width: number;
  height: number;
  /** width*height*3 bytes, row by row, R G B per pixel */
  rgb: Uint8Array;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const EXPECTED = 'a PNG or JPEG image';
/** the largest image decoded, in megapixels: a 100 MP photo still fits, a decompression bomb does not */
const MAX_MEGAPIXELS = 100;

/** png, jpeg, or null for anything else, by the file's signature */
export function imageFormatOf(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

// what a file starting with these bytes probably is, for the error message
function describeStart(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'an empty file';
  const ascii = Buffer.from(bytes.subarray(0, 4)).toString('latin1');
  if (ascii === 'GIF8') return 'a GIF image';
  if (ascii === 'RIFF' && Buffer.from(bytes.subarray(8, 12)).toString('latin1') === 'WEBP') return 'a WebP image';
  if (ascii.startsWith('BM')) return 'a BMP image';
  if (ascii === 'II*\0' || ascii === 'MM\0*') return 'a TIFF image';
  const hex = Buffer.from(bytes.subarray(0, 8)).toString('hex').replace(/(..)(?!$)/g, '$1 ');
  return `a file starting with bytes ${hex}`;
}

function rgbaToRgb(rgba: Uint8Array, width: number, height: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    rgb[3 * p] = rgba[4 * p];
    rgb[3 * p + 1] = rgba[4 * p + 1];
    rgb[3 * p + 2] = rgba[4 * p + 2];
  }
  return rgb;
}

export function decodeImageBytes(bytes: Uint8Array, file: string): DecodedImage {
  const format = imageFormatOf(bytes);
  if (format === null) throw new DataError({ file, expected: EXPECTED, got: describeStart(bytes) });
  let width: number, height: number, rgba: Uint8Array;
  try {
    if (format === 'png') {
      // pngjs has no size limit of its own: the header (IHDR, always the first chunk) says the size before anything is inflated
      if (bytes.length >= 24) {
        const header = new DataView(bytes.buffer, bytes.byteOffset, 24);
        const megapixels = (header.getUint32(16) * header.getUint32(20)) / 1e6;
        if (megapixels > MAX_MEGAPIXELS) {
          throw new DataError({ file, expected: 'a PNG image that can be decoded', got: `one too large: ${header.getUint32(16)}x${header.getUint32(20)} pixels (at most ${MAX_MEGAPIXELS} megapixels)` });
        }
      }
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      ({ width, height } = png);
      rgba = png.data;
    } else {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_MEGAPIXELS, maxMemoryUsageInMB: 2048 });
      ({ width, height } = img);
      rgba = img.data;
    }
  } catch (err) {
    if (err instanceof DataError) throw err;
    const message = (err as Error).message;
    if (/limit exceeded/.test(message)) {
      throw new DataError({ file, expected: 'a JPEG image that can be decoded', got: `one too large (${message}; at most ${MAX_MEGAPIXELS} megapixels)`, cause: err });
    }
    throw new DataError({ file, expected: `a readable ${format === 'png' ? 'PNG' : 'JPEG'} image`, got: `a damaged one (${message})`, cause: err });
  }
  if (!(width > 0 && height > 0) || rgba.length < width * height * 4) {
    throw new DataError({ file, expected: `a ${format === 'png' ? 'PNG' : 'JPEG'} image with pixels`, got: `${width}x${height} with ${rgba.length} bytes of pixels` });
  }
  return { file, format, width, height, rgb: rgbaToRgb(rgba, width, height) };
}

/** reads and decodes an image file */
export function decodeImageFile(file: string): DecodedImage {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new DataError({
      file,
      code: e.code === 'ENOENT' ? 'ERR_DATA_MISSING' : 'ERR_DATA_ACCESS',
      expected: EXPECTED,
      got: e.code === 'ENOENT' ? 'no such file' : `${e.code ?? 'an error'} (${e.message})`,
      cause: err,
    });
  }
  return decodeImageBytes(bytes, file);
}
