// runs bench/torch_ops.py to time the same cases through PyTorch on the same
// GPU, so `cudalab bench --compare-torch` can print ratios measured in one run.
// a ratio only means something beside what PyTorch ran: `what` says it per
// case (for the loss and Adam, PyTorch's fused paths rather than autograd and
// optimizer.step(), since cudalab does those in one or two kernel calls).
import { spawnSync } from 'child_process';
import path from 'path';
import { BenchCase } from './cases';

export interface TorchTimes {
  torch: string;
  device: string;
  ms: Array<number | null>;
  /** per case, what PyTorch ran (e.g. "torch.mm (cuBLAS)"); null where it has no counterpart */
  what: Array<string | null>;
}

/** what PyTorch ran for each op, one line an op, for the table's legend */
export function torchCounterparts(cases: Array<Pick<BenchCase, 'op'>>, times: TorchTimes): string[] {
  const seen = new Set<string>();
  const lines: string[] = [];
  cases.forEach((c, i) => {
    const what = times.what[i];
    if (what && !seen.has(c.op)) {
      seen.add(c.op);
      lines.push(`${c.op}: ${what}`);
    }
  });
  return lines;
}

export function timeWithTorch(cases: Array<Pick<BenchCase, 'spec'>>, python = process.env.PYTHON ?? 'python3'): TorchTimes {
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
