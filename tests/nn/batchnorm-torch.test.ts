// BatchNorm2d against PyTorch itself, where python3 has torch (Debian's
// python3-torch will do): the state dict cudalab saves loads into
// torch.nn.BatchNorm2d with load_state_dict(strict=True), and PyTorch, replaying
// the same batches from the same start, gives the same outputs and running
// statistics. skipped, saying why, where torch is missing.
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { describe, expect, it } from 'vitest';
import { BatchNorm2d, Tensor, tidy } from '../../src';
import { encodeSafetensors, type SafetensorsTensor } from '../../src/train/safetensors';
import { Rng } from '../../src/spec/rng';

const python = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);
const script = path.resolve(__dirname, '../../bench/torch_batchnorm.py');

function entry(t: Tensor): SafetensorsTensor {
  return { dtype: t.dtype === 'int32' ? 'I32' : 'F32', shape: t.shape.slice(), data: t.toArray() };
}

describe('BatchNorm2d against PyTorch', () => {
  it.skipIf(!python)(`trains and evaluates as torch.nn.BatchNorm2d does, and its state dict loads strictly there${python ? '' : ' (skipped: no python3 with torch)'}`, () => {
    const eps = 1e-3, momentum = 0.4;
    const bn = new BatchNorm2d(3, { eps, momentum });
    const rng = new Rng(5);
    const tensors: Record<string, SafetensorsTensor> = {};
    tidy(() => {
      bn.loadStateDict({ ...bn.stateDict(), weight: Tensor.fromArray([0.5, 1.5, -1], [3]), bias: Tensor.fromArray([0.1, 0, -0.2], [3]) });
    });
    for (const [k, t] of Object.entries(bn.stateDict())) tensors[`initial.${k}`] = entry(t);
    const batch = (shape: number[]) => Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => 1 + 3 * rng.normal());
    for (let i = 0; i < 3; i++) {
      const x = batch([4, 3, 5, 3]);
      tensors[`x${i}`] = { dtype: 'F32', shape: [4, 3, 5, 3], data: x };
      tensors[`y${i}`] = { dtype: 'F32', shape: [4, 3, 5, 3], data: tidy(() => bn.forward(Tensor.fromArray(x, [4, 3, 5, 3])).toArray()) };
    }
    for (const [k, t] of Object.entries(bn.stateDict())) tensors[`final.${k}`] = entry(t);
    bn.eval();
    const xe = batch([2, 3, 4, 4]);
    tensors.xe = { dtype: 'F32', shape: [2, 3, 4, 4], data: xe };
    tensors.ye = { dtype: 'F32', shape: [2, 3, 4, 4], data: tidy(() => bn.forward(Tensor.fromArray(xe, [2, 3, 4, 4])).toArray()) };
    bn.dispose();

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-bn-torch-'));
    try {
      const file = path.join(dir, 'bn.safetensors');
      fs.writeFileSync(file, encodeSafetensors(tensors));
      const r = spawnSync(python!, [script, file, String(eps), String(momentum)], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
      // both float32, summing in different orders: a few roundings apart
      for (const e of report.train) expect(e).toBeLessThan(1e-5);
      expect(report.running_mean).toBeLessThan(1e-5);
      expect(report.running_var).toBeLessThan(1e-5);
      expect(report.eval).toBeLessThan(1e-5);
      expect(report.num_batches_tracked).toBe(3);
      // our int32 count lands in PyTorch's int64 buffer
      expect(report.num_batches_tracked_dtype).toBe('torch.int64');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
