// `--device cuda:N` on train, experiments and bench: that GPU through
// CUDA_VISIBLE_DEVICES (this machine has none, so what shows here is the
// variable set before CUDA starts, and then the usual no-GPU error)
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { native } from '../../src/native';
import { runCli } from '../helpers/run-cli';

const hasCuda = native().cudaInfo().available;
let saved: string | undefined;
beforeEach(() => {
  saved = process.env.CUDA_VISIBLE_DEVICES;
});
afterEach(() => {
  if (saved === undefined) delete process.env.CUDA_VISIBLE_DEVICES;
  else process.env.CUDA_VISIBLE_DEVICES = saved;
});

describe('--device cuda:N', () => {
  it('is a usage error when N is no index', async () => {
    for (const cmd of [['train', '--lr', '0.1', '--batch', '8'], ['experiments']]) {
      const r = await runCli(...cmd, '--device', 'cuda:one');
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--device must be cpu, cuda, cuda:N (N = 0, 1, ...) or auto, got "cuda:one"');
    }
    const b = await runCli('bench', '--device', 'cuda:x');
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("expected cpu, cuda, cuda:N or all, got 'cuda:x'");
  });

  it.skipIf(hasCuda)('selects the GPU by CUDA_VISIBLE_DEVICES, counted among the visible ones, then runs as cuda (skipped with a GPU here)', async () => {
    delete process.env.CUDA_VISIBLE_DEVICES;
    const t = await runCli('train', '--lr', '0.1', '--batch', '8', '--device', 'cuda:2', '--no-download', '--data', '/nonexistent');
    expect(process.env.CUDA_VISIBLE_DEVICES).toBe('2');
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/--device cuda: no usable CUDA device/);

    process.env.CUDA_VISIBLE_DEVICES = '5,7';
    const b = await runCli('bench', '--device', 'cuda:1', '--ops', 'relu');
    expect(process.env.CUDA_VISIBLE_DEVICES).toBe('7');
    expect(b.stderr).toMatch(/--device cuda: CUDA is not available/);

    process.env.CUDA_VISIBLE_DEVICES = '5';
    const bad = await runCli('train', '--lr', '0.1', '--batch', '8', '--device', 'cuda:1');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--device cuda:1: CUDA_VISIBLE_DEVICES=5 leaves 1 GPU (cuda:0 to cuda:0)');
    expect(process.env.CUDA_VISIBLE_DEVICES).toBe('5');
  });
});
