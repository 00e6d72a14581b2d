// runs bench/torch_ops.py to time the same cases through PyTorch on the same
// GPU, so `cudalab bench --compare-torch` can print ratios measured in one run.
import { spawnSync } from 'child_process';
import path from 'path';
import { BenchCase } from './cases';

export interface TorchTimes {
  torch: string;
  device: string;
  ms: Array<number | null>;
}

export function timeWithTorch(cases: BenchCase[], python = process.env.PYTHON ?? 'python3'): TorchTimes {
  const script = path.resolve(__dirname, '../../bench/torch_ops.py');
  const r = spawnSync(python, [script], {
    input: JSON.stringify(cases.map((c) => c.spec)),
    encoding: 'utf8',
    maxBuffer: 16 << 20,
  });
  if (r.error) throw new Error(`--compare-torch: could not run ${python} (${r.error.message})`);
  if (r.status !== 0) {
    const last = (r.stderr || '').trim().split('\n').slice(-3).join(' | ');
    throw new Error(`--compare-torch: ${script} failed (exit ${r.status}): ${last || 'no message'}. It needs python3 with torch and a CUDA GPU.`);
  }
  return JSON.parse(r.stdout) as TorchTimes;
}
