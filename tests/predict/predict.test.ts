// `cudalab predict`: image files of any size and kind (PNG RGB, RGBA,
// grayscale, palette, 16-bit; JPEG) classified by short runs trained on the
// fixture data. each image's input is checked against a float64 reference
// resize written here as plain 2-d loops (area coverage to shrink, the tent
// function to enlarge), and the probabilities against the softmax, in
// float64, of the logits cudalab's eval mode gives for that reference input.
// a 32x32 image of a test-set picture must reach the network exactly as the
// data loader hands it over. then the errors.
import fs from 'fs';
import os from 'os';
import path from 'path';
import zlib from 'zlib';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tensor, noGrad } from '../../src';
import type { Module } from '../../src/nn/module';
import { decodeImageFile } from '../../src/predict/decode';
import { imageInput, prepareImage } from '../../src/predict/predict';
import { axisTaps, resizeToCifar } from '../../src/predict/resize';
import { loadTrainedModel } from '../../src/predict/trained-model';
import { runCli } from '../helpers/run-cli';

const FIXTURE = path.resolve('tests/fixtures/cifar10-tiny');
const CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

let root: string;
const runDir = (name: string) => path.join(root, 'runs', name);
const img = (name: string) => path.join(root, 'images', name);

// ---- the images -----------------------------------------------------------

/** a test-set picture of the fixture, CHW bytes */
function fixtureImage(index: number): Uint8Array {
  const file = fs.readFileSync(path.join(FIXTURE, 'cifar-10-batches-bin', 'test_batch.bin'));
  return new Uint8Array(file.subarray(index * 3073 + 1, (index + 1) * 3073));
}

/** an RGB picture (HWC bytes) w x h: the fixture picture stretched (nearest) plus a fine pattern, so shrinking has detail to average */
function picture(w: number, h: number, index: number): Uint8Array {
  const src = fixtureImage(index);
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        const v = src[c * 1024 + Math.floor((y * 32) / h) * 32 + Math.floor((x * 32) / w)] + (((x * 7 + y * 13 + c * 5) % 11) - 5) * 3;
        out[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, v));
      }
    }
  }
  return out;
}

function rgba(rgb: Uint8Array, alpha: (i: number) => number): Buffer {
  const out = Buffer.alloc((rgb.length / 3) * 4);
  for (let i = 0; i < rgb.length / 3; i++) {
    out[4 * i] = rgb[3 * i];
    out[4 * i + 1] = rgb[3 * i + 1];
    out[4 * i + 2] = rgb[3 * i + 2];
    out[4 * i + 3] = alpha(i);
  }
  return out;
}

function writePng(file: string, rgb: Uint8Array, w: number, h: number, opts: { colorType?: 0 | 2 | 4 | 6; alpha?: (i: number) => number } = {}): void {
  const png = new PNG({ width: w, height: h });
  png.data = rgba(rgb, opts.alpha ?? (() => 255));
  fs.writeFileSync(file, PNG.sync.write(png, { colorType: opts.colorType ?? 2 }));
}

/** a PNG put together chunk by chunk (pngjs writes neither palettes nor 16-bit from 8-bit data) */
function pngChunks(w: number, h: number, bitDepth: number, colorType: number, scanlines: Buffer, extra: Array<[string, Buffer]>): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...extra.map(([t, d]) => chunk(t, d)),
    chunk('IDAT', zlib.deflateSync(scanlines)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** a palette PNG of a picture w x h whose colours come from a 16-entry palette; returns its RGB */
function writePalettePng(file: string, w: number, h: number): Uint8Array {
  const palette = Array.from({ length: 16 }, (_, k) => [(k * 53) % 256, (k * 97 + 30) % 256, (255 - k * 16) % 256]);
  const rgb = new Uint8Array(w * h * 3);
  const lines = Buffer.alloc(h * (w + 1));
  for (let y = 0; y < h; y++) {
    lines[y * (w + 1)] = 0; // filter: none
    for (let x = 0; x < w; x++) {
      const k = (x * 3 + y * 5 + ((x * y) % 7)) % 16;
      lines[y * (w + 1) + 1 + x] = k;
      rgb.set(palette[k], (y * w + x) * 3);
    }
  }
  // a tRNS chunk makes some entries see-through: the alpha is dropped, the colour kept
  fs.writeFileSync(file, pngChunks(w, h, 8, 3, lines, [['PLTE', Buffer.from(palette.flat())], ['tRNS', Buffer.from([0, 128, 255])]]));
  return rgb;
}

/** a 16-bit RGB PNG whose samples are the picture's bytes times 257 (so 8 bits hold them exactly) */
function write16BitPng(file: string, rgb: Uint8Array, w: number, h: number): void {
  const lines = Buffer.alloc(h * (1 + w * 6));
  for (let y = 0; y < h; y++) {
    const at = y * (1 + w * 6);
    for (let i = 0; i < w * 3; i++) lines.writeUInt16BE(rgb[y * w * 3 + i] * 257, at + 1 + 2 * i);
  }
  fs.writeFileSync(file, pngChunks(w, h, 16, 2, lines, []));
}

// ---- the references -------------------------------------------------------

/** how much of source pixel i output pixel o of `dst` takes, along an axis of `src` pixels (float64, from the definitions) */
function weight(src: number, dst: number, o: number, i: number): number {
  if (src === dst) return o === i ? 1 : 0;
  if (src > dst) {
    // the share of [o, o + 1) * src / dst that pixel [i, i + 1) covers
    const s = src / dst;
    const overlap = Math.min((o + 1) * s, i + 1) - Math.max(o * s, i);
    return overlap > 0 ? overlap / s : 0;
  }
  // the tent around the output pixel's centre in source coordinates, clamped to the first and last pixel centres
  const centre = Math.min(Math.max((o + 0.5) * (src / dst) - 0.5, 0), src - 1);
  return Math.max(0, 1 - Math.abs(centre - i));
}

/** rgb (HWC) w x h to 32x32 CHW bytes: every output pixel a weighted sum over the whole source, rounded */
function referenceResize(rgb: Uint8Array, w: number, h: number): Uint8Array {
  const out = new Uint8Array(3 * 1024);
  for (let c = 0; c < 3; c++) {
    for (let oy = 0; oy < 32; oy++) {
      for (let ox = 0; ox < 32; ox++) {
        let s = 0;
        for (let y = 0; y < h; y++) {
          const wy = weight(h, 32, oy, y);
          if (wy === 0) continue;
          for (let x = 0; x < w; x++) s += wy * weight(w, 32, ox, x) * rgb[(y * w + x) * 3 + c];
        }
        // half up: a sum within float error of k + 0.5 is that tie (64x48 images have many), rounded to k + 1
        const below = Math.floor(s);
        const rounded = Math.abs(s - below - 0.5) < 1e-9 ? below + 1 : Math.round(s);
        out[c * 1024 + oy * 32 + ox] = Math.min(255, Math.max(0, rounded));
      }
    }
  }
  return out;
}

function referenceInput(chw: Uint8Array, norm: { mean: number[]; std: number[] }): Float32Array {
  return Float32Array.from(chw, (v, i) => (v / 255 - norm.mean[Math.floor(i / 1024)]) / norm.std[Math.floor(i / 1024)]);
}

function referenceProbabilities(model: Module, input: Float32Array): number[] {
  model.eval();
  const logits = Array.from(noGrad(() => model.forward(Tensor.fromArray(input, [1, 3, 32, 32])).toArray()));
  const max = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - max));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

function hwcOf(chw: Uint8Array): Uint8Array {
  const out = new Uint8Array(3072);
  for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) out[p * 3 + c] = chw[c * 1024 + p];
  return out;
}

// ---- the images written, and what each is expected to be ------------------

interface Case {
  file: string;
  /** the RGB pixels the file holds (HWC), as this test wrote them */
  rgb: Uint8Array;
  width: number;
  height: number;
  format: 'png' | 'jpeg';
}
const cases: Case[] = [];

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-predict-'));
  fs.mkdirSync(path.join(root, 'images'));
  for (const [model, extra] of [['seedcnn', []], ['airbench94', ['--normalize', 'cifar']]] as Array<[string, string[]]>) {
    const r = await runCli('train', '--model', model, '--lr', '0.001', '--batch', '10', '--epochs', '2', '--limit', '20', '--data', FIXTURE,
      '--no-download', '--device', 'cpu', '--out', path.join(root, 'runs'), '--name', model, ...extra);
    if (r.code !== 0) throw new Error(`training ${model} failed: ${r.stderr}`);
  }

  const add = (file: string, rgb: Uint8Array, width: number, height: number, format: 'png' | 'jpeg' = 'png') => cases.push({ file: img(file), rgb, width, height, format });
  // a test-set picture as it is: no resizing at all
  const test0 = hwcOf(fixtureImage(0));
  writePng(img('test0.png'), test0, 32, 32);
  add('test0.png', test0, 32, 32);
  // larger: shrunk by area averaging (48 -> 32 covers pixels in part)
  const big = picture(64, 48, 1);
  writePng(img('big.png'), big, 64, 48);
  add('big.png', big, 64, 48);
  // the same as a JPEG: what jpeg-js decodes is what the network gets
  fs.writeFileSync(img('big.jpg'), jpeg.encode({ width: 64, height: 48, data: rgba(big, () => 255) }, 90).data);
  const decoded = jpeg.decode(fs.readFileSync(img('big.jpg')), { useTArray: true, formatAsRGBA: false });
  add('big.jpg', new Uint8Array(decoded.data), 64, 48, 'jpeg');
  // with an alpha channel that varies: dropped, the colours kept
  writePng(img('alpha.png'), big, 64, 48, { colorType: 6, alpha: (i) => (i * 37) % 256 });
  add('alpha.png', big, 64, 48);
  // grayscale, smaller than 32x32: enlarged bilinearly, the gray in all three channels
  const grayValues = picture(20, 24, 2).filter((_, i) => i % 3 === 0);
  const gray = new Uint8Array(20 * 24 * 3).map((_, i) => grayValues[Math.floor(i / 3)]);
  writePng(img('gray.png'), gray, 20, 24, { colorType: 0 });
  expect(fs.readFileSync(img('gray.png'))[25]).toBe(0);
  add('gray.png', gray, 20, 24);
  // a palette image, wider and lower than 32x32: shrunk across, enlarged down
  add('palette.png', writePalettePng(img('palette.png'), 40, 16), 40, 16);
  // 16 bits a sample
  const deep = picture(33, 31, 3);
  write16BitPng(img('deep.png'), deep, 33, 31);
  add('deep.png', deep, 33, 31);
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('the resize, against the float64 reference', () => {
  it('a 2x shrink is the mean of each 2x2 block; the weights are whole numbers; a tie rounds up', () => {
    const w = 64;
    const rgb = new Uint8Array(w * w * 3).map((_, i) => (i * 31 + (i >> 7)) % 256);
    const input = resizeToCifar(rgb, w, w);
    for (const [c, y, x] of [[0, 0, 0], [1, 5, 17], [2, 31, 31], [0, 12, 30]]) {
      let s = 0;
      for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]]) s += rgb[((2 * y + dy) * w + 2 * x + dx) * 3 + c];
      expect(input[c * 1024 + y * 32 + x]).toBe(Math.floor(s / 4 + 0.5));
    }
    // every output pixel's weights are whole numbers summing to the denominator, whatever the sizes
    for (const [src, dst] of [[48, 32], [100, 32], [20, 32], [33, 32], [1, 32], [32, 32], [4000, 32]]) {
      const { denominator, taps } = axisTaps(src, dst);
      expect(taps).toHaveLength(dst);
      for (const t of taps) {
        expect(t.weights.every((v) => Number.isInteger(v) && v > 0)).toBe(true);
        expect(t.weights.reduce((a, b) => a + b, 0)).toBe(denominator);
      }
    }
    // a tie rounds up. 64x48: output pixel (x, 0) averages columns 2x and 2x + 1 of row 0 (weight 2/3)
    // and row 1 (1/3), (2 (a + b) + (c + d)) / 6, in which k + 1/2 is common
    const tie = new Uint8Array(64 * 48 * 3);
    tie[0] = 1; tie[3] = 2; // (2 (1 + 2) + 0) / 6 = 1
    tie[6] = 3; tie[64 * 3 + 6] = 3; // (2 (3 + 0) + (3 + 0)) / 6 = 1.5 -> 2
    const tied = resizeToCifar(tie, 64, 48);
    expect(tied[0]).toBe(1);
    expect(tied[1]).toBe(2);
  });

  it('every image reaches the network as the reference resize and normalisation make it', async () => {
    const trained = await loadTrainedModel(runDir('airbench94'));
    try {
      for (const c of cases) {
        const decoded = decodeImageFile(c.file);
        expect([decoded.width, decoded.height, decoded.format]).toEqual([c.width, c.height, c.format]);
        expect(Buffer.from(decoded.rgb).equals(Buffer.from(c.rgb))).toBe(true);
        const prepared = prepareImage(c.file);
        expect([prepared.width, prepared.height, prepared.format]).toEqual([c.width, c.height, c.format]);
        const expected = referenceInput(referenceResize(c.rgb, c.width, c.height), trained.config.normalization);
        expect(Array.from(imageInput(prepared, trained.config.normalization)), c.file).toEqual(Array.from(expected));
      }
    } finally {
      trained.model.dispose();
    }
  });

  it('a 32x32 test-set picture is exactly what the data loader gives the network', async () => {
    const { loadCifar10 } = await import('../../src/data/cifar10');
    const { normalizationTable } = await import('../../src/data/loader');
    const data = await loadCifar10(FIXTURE);
    const table = normalizationTable({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    const loaderInput = Float32Array.from(data.test.images.subarray(0, 3072), (v, i) => table[Math.floor(i / 1024) * 256 + v]);
    expect(Array.from(imageInput(prepareImage(img('test0.png')), { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }))).toEqual(Array.from(loaderInput));
  });
});

describe('cudalab predict: the probabilities of the reference input through the run\'s eval-mode network', () => {
  for (const run of ['seedcnn', 'airbench94']) {
    it(`${run}: every image, --json`, async () => {
      const r = await runCli('predict', '--run', runDir(run), '--json', '--top', '3', ...cases.map((c) => c.file));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.model).toBe(run);
      expect(out.epoch).toBe(2);
      expect(out.classes).toEqual(CLASSES);
      expect(out.images).toHaveLength(cases.length);
      const trained = await loadTrainedModel(runDir(run));
      expect(trained.config.normalize).toBe(run === 'airbench94' ? 'cifar' : 'half');
      try {
        cases.forEach((c, i) => {
          const got = out.images[i];
          expect(got.file).toBe(c.file);
          expect([got.width, got.height, got.format]).toEqual([c.width, c.height, c.format]);
          const expected = referenceProbabilities(trained.model, referenceInput(referenceResize(c.rgb, c.width, c.height), trained.config.normalization));
          expect(got.probabilities).toHaveLength(10);
          for (let k = 0; k < 10; k++) expect(Math.abs(got.probabilities[k] - expected[k]), `${c.file} class ${k}`).toBeLessThan(1e-6);
          const order = expected.map((p, k) => [p, k]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 3);
          expect(got.top.map((t: { class: string }) => t.class)).toEqual(order.map(([, k]) => CLASSES[k]));
          expect(got.top[0].probability).toBeCloseTo(order[0][0], 6);
        });
        // the alpha channel changes nothing
        const byName = (n: string) => out.images.find((x: { file: string }) => x.file === img(n));
        expect(byName('alpha.png').probabilities).toEqual(byName('big.png').probabilities);
      } finally {
        trained.model.dispose();
      }
    });
  }

  it('text: a line per image with its top classes; --checkpoint picks the weights', async () => {
    const r = await runCli('predict', '--run', runDir('seedcnn'), '--top', '2', img('test0.png'), img('big.jpg'));
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^${img('test0.png').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(32x32 PNG\\): [a-z]+ \\d+\\.\\d\\d%, [a-z]+ \\d+\\.\\d\\d%$`));
    expect(lines[1]).toMatch(/big\.jpg \(64x48 JPEG\): /);
    expect(r.stderr).toMatch(/seedcnn from .*checkpoint-epoch-2\.safetensors/);

    // epoch 1's weights are not epoch 2's: other probabilities; a weights file by path works the same
    const first = JSON.parse((await runCli('predict', '--run', runDir('seedcnn'), '--json', '--checkpoint', '1', img('test0.png'))).stdout);
    const last = JSON.parse((await runCli('predict', '--run', runDir('seedcnn'), '--json', img('test0.png'))).stdout);
    expect(first.epoch).toBe(1);
    expect(first.images[0].probabilities).not.toEqual(last.images[0].probabilities);
    const file = path.join(runDir('seedcnn'), 'checkpoint-epoch-1.safetensors');
    const byPath = JSON.parse((await runCli('predict', '--run', runDir('seedcnn'), '--json', '--checkpoint', file, img('test0.png'))).stdout);
    expect(byPath.epoch).toBe(null);
    expect(byPath.images[0].probabilities).toEqual(first.images[0].probabilities);
  });
});

describe('cudalab predict: errors name the file and what was expected', () => {
  it('files that are not PNG or JPEG images, or are damaged: exit 1', async () => {
    const write = (name: string, data: Buffer | string) => {
      fs.writeFileSync(img(name), data);
      return img(name);
    };
    const png = fs.readFileSync(img('big.png'));
    const jpg = fs.readFileSync(img('big.jpg'));
    const cases: Array<[string, RegExp]> = [
      [write('anim.gif', 'GIF89a\x01\x00\x01\x00'), /anim\.gif: expected a PNG or JPEG image, got a GIF image/],
      [write('notes.txt', 'hello world'), /notes\.txt: expected a PNG or JPEG image, got a file starting with bytes 68 65 6c 6c 6f 20 77 6f/],
      [write('empty.png', ''), /empty\.png: expected a PNG or JPEG image, got an empty file/],
      [write('cut.png', png.subarray(0, 60)), /cut\.png: expected a readable PNG image, got a damaged one/],
      [write('cut.jpg', jpg.subarray(0, 40)), /cut\.jpg: expected a readable JPEG image, got a damaged one/],
      [img('missing.png'), /missing\.png: expected a PNG or JPEG image, got no such file/],
      // a frame header claiming 20000x20000 pixels: refused before any memory is taken for it
      [write('huge.png', pngChunks(20000, 20000, 8, 2, Buffer.alloc(0), [])), /huge\.png: expected a PNG image that can be decoded, got one too large: 20000x20000 pixels \(at most 100 megapixels\)/],
      [write('huge.jpg', Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0, 11, 8, 0x4e, 0x20, 0x4e, 0x20, 1, 1, 0x11, 0, 0xff, 0xd9])), /huge\.jpg: expected a JPEG image that can be decoded, got one too large \(maxResolutionInMP limit exceeded by 300MP; at most 100 megapixels\)/],
    ];
    for (const [file, message] of cases) {
      const r = await runCli('predict', '--run', runDir('seedcnn'), img('test0.png'), file);
      expect(r.code, file).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
  });

  it('a run without a checkpoint, a folder that is no run, bad options', async () => {
    const bare = path.join(root, 'runs', 'bare');
    fs.mkdirSync(bare, { recursive: true });
    fs.copyFileSync(path.join(runDir('seedcnn'), 'config.json'), path.join(bare, 'config.json'));
    const none = await runCli('predict', '--run', bare, img('test0.png'));
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/bare: the run has no complete checkpoint/);
    const notRun = await runCli('predict', '--run', path.join(root, 'images'), img('test0.png'));
    expect(notRun.code).toBe(2);
    expect(notRun.stderr).toMatch(/--run .*images: no config\.json there/);
    for (const [args, message] of [
      [['--top', '0'], /--top must be an integer from 1, got "0"/],
      [['--top', 'x'], /--top must be an integer from 1, got "x"/],
      [['--device', 'tpu'], /--device must be one of auto, cpu, cuda, got "tpu"/],
      [['--checkpoint', 'weights.bin'], /--checkpoint must be an epoch number or a \.safetensors weights file, got "weights\.bin"/],
    ] as Array<[string[], RegExp]>) {
      const r = await runCli('predict', '--run', runDir('seedcnn'), ...args, img('test0.png'));
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    const noImages = await runCli('predict', '--run', runDir('seedcnn'));
    expect(noImages.code).toBe(2);
    expect(noImages.stderr).toMatch(/missing required argument 'images'/);
  });
});
