import { describe, expect, it } from 'vitest';
import { native } from '../../src/native';
import { runCli } from './run-cli';
import { checkBackends } from '../../src/check/backends';

const cuda = native().cudaInfo();

describe('cudalab check-env', () => {
  it('reports the build, the versions and a checked 1000x1000 product on the cpu', async () => {
    const r = await runCli('check-env', '--json');
    const report = JSON.parse(r.stdout);
    expect(report.build.backends).toContain('cpu');
    expect(report.versions.node).toBe(process.versions.node);
    expect(report.versions.typescript).toMatch(/^\d+\.\d+/);
    const cpu = report.matmul.find((m: any) => m.device === 'cpu');
    expect(cpu.size).toBe(1000);
    expect(cpu.relError).toBeLessThanOrEqual(1e-5);
    expect(cpu.gflops).toBeGreaterThan(0);
    // on a machine without a GPU the report says why, and that alone is no failure
    if (!cuda.available) expect(report.cuda.reason).toMatch(/\w/);
    expect(r.code).toBe(report.problems.length ? 1 : 0);
  });

  it('prints a human-readable report', async () => {
    const r = await runCli('check-env', '--no-matmul');
    expect(r.stdout).toMatch(/^addon\s+backends cpu/m);
    expect(r.stdout).toMatch(/versions/);
  });
});

describe('cudalab check-ops', () => {
  it.skipIf(cuda.available)('refuses --device cuda without a GPU and says why', async () => {
    const r = await runCli('check-ops', '--device', 'cuda');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('CUDA is not available');
    expect(r.stderr).toContain(cuda.reason);
  });

  it('runs every op and compares outputs; the cpu backend agrees with itself bit for bit', () => {
    const results = checkBackends('cpu', 'cpu', ['gemm', 'conv2d', 'maxpool2d', 'softmax_xent', 'adam', 'uniform']);
    expect(results.length).toBeGreaterThan(40);
    for (const r of results) expect(r.relError, `${r.op} ${r.shape}`).toBe(0);
  });

  it.skipIf(!cuda.available)('cuda matches the cpu backend on every op (GPU only)', () => {
    const failed = checkBackends('cuda', 'cpu').filter((r) => !r.ok);
    expect(failed.map((r) => `${r.op} ${r.shape}: ${r.relError}`)).toEqual([]);
  }, 300_000);
});

describe('cudalab bench', () => {
  it('prints one JSON row per case with time and rates', async () => {
    const r = await runCli('bench', '--device', 'cpu', '--ops', 'relu,softmax_xent', '--json', '--min-seconds', '0.01');
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout);
    expect(rows.length).toBe(4); // each op at batch 64 and 128
    for (const row of rows) {
      expect(['relu', 'softmax_xent']).toContain(row.op);
      expect(row.device).toBe('cpu');
      expect(row.ms).toBeGreaterThan(0);
      expect(Number.isFinite(row.gflops)).toBe(true);
    }
  });

  it('rejects an unknown op with a usage error', async () => {
    const r = await runCli('bench', '--ops', 'gemm,frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown op frobnicate');
  });
});
