// the yardstick for the cpu gemm: OpenBLAS through numpy (bench/openblas_sgemm.py)
// timed in the same run as cudalab, so both see the machine under the same load
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

export interface OpenBlasTimes {
  /** the kernel OpenBLAS picked ("SkylakeX", "Haswell", ...) and its threads */
  kernel: string;
  threads: number | null;
  /** GFLOP/s of an n x n x n product, by n */
  gflops: Map<number, number>;
}

/**
 * times numpy's float32 matrix product at each size; null (with the reason)
 * when python or numpy is missing or the script fails
 */
export function timeOpenBlas(sizes: number[], minSeconds: number, python = process.env.PYTHON ?? 'python3'): OpenBlasTimes | { reason: string } {
  const script = path.resolve(__dirname, '../../bench/openblas_sgemm.py');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-openblas-'));
  try {
    const json = path.join(dir, 'openblas.json');
    const r = spawnSync(python, [script, '--sizes', sizes.join(','), '--min-seconds', String(minSeconds), '--json', json], { encoding: 'utf8' });
    if (r.error) return { reason: `could not run ${python} (${r.error.message})` };
    if (r.status !== 0) {
      const last = (r.stderr || '').trim().split('\n').slice(-1)[0];
      return { reason: `${python} ${path.basename(script)} failed: ${last || `exit ${r.status}`} (it needs numpy)` };
    }
    const out = JSON.parse(fs.readFileSync(json, 'utf8')) as { blas: { kernel?: string; threads?: number }; results: Array<{ n: number; gflops: number }> };
    return {
      kernel: out.blas?.kernel ?? 'unknown',
      threads: out.blas?.threads ?? null,
      gflops: new Map(out.results.map((x) => [x.n, x.gflops])),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** n for an n x n x n gemm case ("2048x2048x2048"), else null */
export function squareSize(shape: string): number | null {
  const dims = shape.split('x');
  return dims.length === 3 && dims.every((d) => /^\d+$/.test(d) && d === dims[0]) ? Number(dims[0]) : null;
}
