#!/usr/bin/env node
'use strict';
// does memory stay flat over a long run? trains the seed CNN for --steps steps
// (random images, so no data set is needed) and prints host memory (RSS) and
// the addon's live native memory every --every steps, then the growth from the
// first report (after warm-up) to the last. each step yields to the event loop,
// as a real program does (finalizers run from there). uses the compiled
// library (dist/).
//   node --expose-gc bench/memory-growth.js [--device cpu|cuda] [--steps 2000] [--batch 64] [--every 200] [--model seedcnn]
const path = require('path');
const lib = require(path.resolve(__dirname, '../dist'));

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const device = arg('device', 'cpu');
const steps = Number(arg('steps', 2000));
const batch = Number(arg('batch', 64));
const every = Number(arg('every', 200));
const modelName = arg('model', 'seedcnn');
if (!['cpu', 'cuda'].includes(device)) throw new Error(`--device: expected cpu or cuda, got ${device}`);
if (!(steps > 0 && batch > 0 && every > 0)) throw new Error('--steps, --batch and --every must be positive integers');

const { native } = lib;
const generator = new lib.Generator(0);
const model = lib.createModel(modelName, { generator, device });
const opt = new lib.Adam(model.parameters(), { lr: 1e-3 });

// a few fixed random batches, cycled: the point is the allocator, not the data
const batches = Array.from({ length: 4 }, (_, b) => ({
  x: Float32Array.from({ length: batch * 3 * 32 * 32 }, () => generator.uniform() * 2 - 1),
  y: Int32Array.from({ length: batch }, (_, i) => (i * 7 + b) % 10),
}));

const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
const rows = [];
function report(step) {
  if (global.gc) global.gc();
  const s = native().memoryStats(device);
  const row = { step, rssMiB: process.memoryUsage().rss / 2 ** 20, nativeMiB: s.allocated / 2 ** 20, reservedMiB: s.reserved / 2 ** 20, storages: s.storages };
  rows.push(row);
  console.log(`step ${String(step).padStart(5)}  rss ${mib(row.rssMiB * 2 ** 20).padStart(7)} MiB  native ${mib(s.allocated).padStart(7)} MiB  reserved ${mib(s.reserved).padStart(7)} MiB  storages ${s.storages}`);
}

async function main() {
  console.log(`memory over ${steps} training steps: ${modelName}, batch ${batch}, ${device}`);
  const t0 = Date.now();
  let loss = NaN;
  for (let step = 1; step <= steps; step++) {
    const b = batches[step % batches.length];
    lib.tidy(() => {
      const x = lib.Tensor.fromArray(b.x, [batch, 3, 32, 32], { device });
      const y = lib.Tensor.fromArray(b.y, [batch], { device, dtype: 'int32' });
      opt.zeroGrad();
      const l = lib.crossEntropy(model.forward(x), y);
      l.backward();
      opt.step();
      if (step % every === 0) loss = l.item();
    });
    if (step % every === 0) report(step);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const first = rows[0], last = rows[rows.length - 1];
  console.log(`growth from step ${first.step} to ${last.step}: rss ${(last.rssMiB - first.rssMiB).toFixed(1)} MiB, native ${(last.nativeMiB - first.nativeMiB).toFixed(2)} MiB, storages ${last.storages - first.storages}; last loss ${loss.toFixed(3)}; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
