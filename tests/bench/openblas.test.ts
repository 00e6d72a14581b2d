// the OpenBLAS yardstick bench prints beside the square cpu gemms, and the
// cpu build bench names in its header
import { spawnSync } from 'child_process';
import { describe, expect, it } from 'vitest';
import { squareSize, timeOpenBlas } from '../../src/bench/openblas';
import { native } from '../../src/native';
import { runCli } from '../helpers/run-cli';

const python = process.env.PYTHON ?? 'python3';
const numpy = spawnSync(python, ['-c', 'import numpy']).status === 0;

describe('bench beside OpenBLAS', () => {
  it('knows a square gemm case by its shape', () => {
    expect(squareSize('2048x2048x2048')).toBe(2048);
    expect(squareSize('1000x1000x1000')).toBe(1000);
    expect(squareSize('64x256x2048')).toBeNull();
    expect(squareSize('fc1 fwd n64 2048->256')).toBeNull();
  });

  it.skipIf(!numpy)('times numpy at the sizes asked for (python with numpy)', () => {
    const t = timeOpenBlas([64, 96], 0.01, python);
    if ('reason' in t) expect.fail(t.reason);
    expect([...t.gflops.keys()]).toEqual([64, 96]);
    for (const g of t.gflops.values()) expect(g).toBeGreaterThan(0);
    expect(t.kernel).toMatch(/\w/);
  });

  it('says why when there is no python to ask', () => {
    const t = timeOpenBlas([64], 0.01, '/nonexistent/python3');
    expect('reason' in t && t.reason).toContain('could not run /nonexistent/python3');
  });

  it('names the cpu kernels in use in its header', async () => {
    const r = await runCli('bench', '--device', 'cpu', '--ops', 'relu', '--min-seconds', '0.01');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`CPU kernels ${native().cpuPath()}`);
  });
});
