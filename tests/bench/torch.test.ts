// the --compare-torch plumbing without a GPU: a stand-in for python prints
// what bench/torch_ops.py prints, and the legend names what PyTorch ran once
// per op, so a ratio is never shown without its counterpart.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { timeWithTorch, torchCounterparts } from '../../src/bench/torch';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-torch-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// a "python" that ignores the script it is given, checks the specs it reads
// on stdin and answers like torch_ops.py
function fakePython(answer: object): string {
  const file = path.join(dir, `python-${Math.random().toString(16).slice(2)}`);
  fs.writeFileSync(file, `#!/bin/sh\ngrep -q '"op":"adam"' || exit 3\necho '${JSON.stringify(answer)}'\n`, { mode: 0o755 });
  return file;
}

describe('timeWithTorch', () => {
  const cases = [
    { op: 'softmax_xent', spec: { op: 'softmax_xent', n: 64, classes: 10 } },
    { op: 'softmax_xent', spec: { op: 'softmax_xent', n: 128, classes: 10 } },
    { op: 'gather_images', spec: { op: 'gather_images', n: 64, count: 10000 } },
    { op: 'adam', spec: { op: 'adam', params: 532202 } },
  ];

  it('passes the case specs in and reads each time and what PyTorch ran for it', () => {
    const answer = {
      torch: '2.11.0', device: 'NVIDIA H200', ms: [0.1, 0.2, null, 0.05],
      what: ['loss and gradient written out, torch.compile', 'loss and gradient written out, torch.compile', null, 'torch._fused_adam_'],
    };
    const t = timeWithTorch(cases, fakePython(answer));
    expect(t).toEqual(answer);
    // one line an op, none for an op PyTorch has no counterpart for
    expect(torchCounterparts(cases, t)).toEqual([
      'softmax_xent: loss and gradient written out, torch.compile',
      'adam: torch._fused_adam_',
    ]);
  });

  it('says which script failed and why', () => {
    expect(() => timeWithTorch([{ spec: { op: 'relu' } }], fakePython({}))).toThrow(/torch_ops\.py failed \(exit 3\)/);
  });
});
