#!/usr/bin/env node
// cudalab's side of bench/torch_resnet18_check.py: loads a resnet18 run's
// checkpoint into cudalab's ResNet18 through the library (dist/), in eval
// mode, and writes the logits of the first N test images, normalised as the
// run's config.json says, as JSON: { checkpoint, normalization, count, logits: [[10 numbers], ...] }
//   node bench/resnet18-logits.js RUN_DIR DATA_DIR [N=64] > logits.json
// needs dist/ (npx tsc -p tsconfig.json).
'use strict';
const fs = require('fs');
const path = require('path');
const dist = path.join(__dirname, '..', 'dist');
const { Tensor, Generator, createModel, noGrad, tidy } = require(dist);
const { readSafetensors } = require(path.join(dist, 'train', 'safetensors'));
const { loadCifar10 } = require(path.join(dist, 'data', 'cifar10'));

/** the checkpoint of the highest epoch in the run directory */
function latestCheckpoint(runDir) {
  const epochs = fs.readdirSync(runDir)
    .map((f) => /^checkpoint-epoch-(\d+)\.safetensors$/.exec(f))
    .filter(Boolean)
    .map((m) => Number(m[1]));
  if (epochs.length === 0) throw new Error(`${runDir}: no checkpoint-epoch-N.safetensors`);
  return path.join(runDir, `checkpoint-epoch-${Math.max(...epochs)}.safetensors`);
}

async function main() {
  const [runDir, dataDir, nArg] = process.argv.slice(2);
  if (!runDir || !dataDir) {
    process.stderr.write('usage: node bench/resnet18-logits.js RUN_DIR DATA_DIR [N=64]\n');
    process.exit(2);
  }
  const n = nArg ? Number(nArg) : 64;
  const config = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8'));
  if (config.model !== 'resnet18') throw new Error(`${runDir}/config.json: model is "${config.model}", expected resnet18`);
  const { mean, std } = config.normalization;
  const file = latestCheckpoint(runDir);

  const model = createModel('resnet18', { generator: new Generator(0), device: 'cpu' });
  const { tensors } = readSafetensors(file);
  const sd = {};
  for (const [name, t] of Object.entries(tensors)) {
    sd[name] = Tensor.fromArray(t.data, t.shape, { dtype: t.dtype === 'I32' ? 'int32' : 'float32' });
  }
  model.loadStateDict(sd);
  model.eval();

  const { test } = await loadCifar10(dataDir);
  const plane = 32 * 32;
  const images = new Float32Array(n * 3 * plane);
  for (let i = 0; i < n * 3 * plane; i++) {
    const c = Math.floor(i / plane) % 3;
    images[i] = (test.images[i] / 255 - mean[c]) / std[c];
  }
  const logits = tidy(() => noGrad(() => model.forward(Tensor.fromArray(images, [n, 3, 32, 32])).toArray()));
  const rows = [];
  for (let i = 0; i < n; i++) rows.push(Array.from(logits.subarray(i * 10, i * 10 + 10)));
  process.stdout.write(JSON.stringify({ checkpoint: file, normalization: { mean, std }, count: n, logits: rows }) + '\n');
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
