import { describe, expect, it } from 'vitest';
import { native } from '../../src/native';
import { runCli } from '../helpers/run-cli';
import { checkBackends } from '../../src/check/backends';
import { specByName } from '../../src/spec';
import { checkAgainstReference, formatResult } from '../../src/spec/checker';

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

  // a sample of each op's first cases (tests/ops runs every case on every backend)
  it("runs the ops' cases on the cpu against their float64 references through the one checker", () => {
    let cases = 0;
    for (const name of ['gemm', 'conv2d', 'maxpool2d', 'softmax_xent', 'adam', 'uniform']) {
      const spec = specByName(name);
      if (!spec) expect.fail(`no spec named ${name}`);
      for (let index = 0; index < Math.min(8, spec.cases.length); index++) {
        const r = checkAgainstReference(spec, index, 'cpu');
        if (!r.ok) expect.fail(formatResult(r));
        expect(r.against).toBe('reference');
        cases++;
      }
    }
    expect(cases).toBeGreaterThan(40);
  });

  it.skipIf(!cuda.available)('cuda matches the cpu backend on every op (GPU only)', () => {
    const failed = checkBackends('cuda', 'cpu').filter((r) => !r.ok);
    expect(failed.map(formatResult)).toEqual([]);
  }, 300_000);
});

describe('cudalab bench', () => {
  it('prints one JSON row per case with time and rates', async () => {
    const r = await runCli('bench', '--device', 'cpu', '--ops', 'relu,softmax_xent', '--json', '--min-seconds', '0.01');
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout);
    // each op at batch 64 and 128, relu also at the 5 sizes it is the bandwidth floor for
    expect(rows.length).toBe(9);
    expect(rows.filter((row: { shape: string }) => row.shape.includes('(floor for ')).length).toBe(5);
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
