// matrix products on the native gemm (row-major, with transpose flags, so no
// transposed copies are ever made). gradients accumulate straight into an
// existing .grad with gemm's beta = 1.
import { native } from '../native';
import { CudalabError } from '../errors';
import { Tensor, formatShape } from '../tensor';
import { accumulate, accumulateWith, record } from '../autograd';
import { call, checkDevices, checkRank, checkTensor } from './check';

/** a [m, k] @ b [k, n] -> [m, n] */
export function matmul(a: Tensor, b: Tensor): Tensor {
  checkTensor('matmul', 'a', a);
  checkTensor('matmul', 'b', b);
  checkRank('matmul', 'a', a, 2, '[m, k]');
  checkRank('matmul', 'b', b, 2, '[k, n]');
  checkDevices('matmul', [['a', a], ['b', b]]);
  const [m, k] = a.shape;
  const [k2, n] = b.shape;
  if (k !== k2) {
    throw new CudalabError('ERR_SHAPE', `matmul: a is ${formatShape(a.shape)}, b is ${formatShape(b.shape)}: inner sizes ${k} and ${k2} differ`);
  }
  const out = Tensor.empty([m, n], { device: a.device });
  call('matmul', () => native().gemm(false, false, m, n, k, 1, a.storage('matmul', 'a'), b.storage('matmul', 'b'), 0, out.storage('matmul')));
  return record(out, 'matmul', [a, b], (g) => {
    const gs = g.storage('matmul backward');
    // da = g @ b^T, db = a^T @ g
    accumulateWith(a, (da, beta) => native().gemm(false, true, m, k, n, 1, gs, b.storage('matmul backward', 'b'), beta, da));
    accumulateWith(b, (db, beta) => native().gemm(true, false, k, n, m, 1, a.storage('matmul backward', 'a'), gs, beta, db));
  });
}

/** x [N, in] @ w^T + bias, w [out, in] in PyTorch's layout, bias [out] or null */
export function linear(x: Tensor, w: Tensor, bias: Tensor | null): Tensor {
  checkTensor('linear', 'input', x);
  checkTensor('linear', 'weight', w);
  if (bias !== null) checkTensor('linear', 'bias', bias);
  checkRank('linear', 'input', x, 2, '[batch, in_features]');
  checkRank('linear', 'weight', w, 2, '[out_features, in_features]');
  const [n, inF] = x.shape;
  const [outF, wIn] = w.shape;
  if (inF !== wIn) {
    throw new CudalabError('ERR_SHAPE', `linear: input has ${inF} features, weight expects ${wIn} (weight shape ${formatShape(w.shape)})`);
  }
  if (bias !== null && (bias.shape.length !== 1 || bias.shape[0] !== outF)) {
    throw new CudalabError('ERR_SHAPE', `linear: bias must have shape [${outF}] for weight ${formatShape(w.shape)}, got ${formatShape(bias.shape)}`);
  }
  checkDevices('linear', [['input', x], ['weight', w], ['bias', bias]]);
  const out = Tensor.empty([n, outF], { device: x.device });
  call('linear', () => {
    const y = out.storage('linear');
    native().gemm(false, true, n, outF, inF, 1, x.storage('linear', 'input'), w.storage('linear', 'weight'), 0, y);
    if (bias !== null) native().biasAdd(n, outF, 1, y, bias.storage('linear', 'bias'), y);
  });
  return record(out, 'linear', [x, w, bias], (g) => {
    const gs = g.storage('linear backward');
    // dx = g @ w, dw = g^T @ x, db = sum of g over the batch
    accumulateWith(x, (dx, beta) => native().gemm(false, false, n, inF, outF, 1, gs, w.storage('linear backward', 'weight'), beta, dx));
    accumulateWith(w, (dw, beta) => native().gemm(true, false, outF, inF, n, 1, gs, x.storage('linear backward', 'input'), beta, dw));
    if (bias !== null && bias.requiresGrad) {
      const db = Tensor.empty([outF], { device: g.device });
      native().sumAxis(1, n, outF, gs, db.storage('linear backward'));
      accumulate(bias, db);
    }
  });
}
