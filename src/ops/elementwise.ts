// elementwise ops on tensors of one shape (no broadcasting: bias broadcasts
// live in linear and conv2d, where the kernels do them).
import { native } from '../native';
import { CudalabError } from '../errors';
import { Tensor, formatShape } from '../tensor';
import { accumulate, record } from '../autograd';
import { call, checkDevices, checkTensor } from './check';

function checkSameShape(op: string, a: Tensor, b: Tensor): void {
  const sa = a.shape, sb = b.shape;
  let same = sa.length === sb.length;
  for (let i = 0; same && i < sa.length; i++) same = sa[i] === sb[i];
  if (!same) {
    throw new CudalabError('ERR_SHAPE', `${op}: shapes differ: ${formatShape(sa)} and ${formatShape(sb)} (no broadcasting; reshape first)`);
  }
}

function binaryOperands(op: string, a: Tensor, b: Tensor): void {
  checkTensor(op, 'a', a);
  checkTensor(op, 'b', b);
  checkDevices(op, [['a', a], ['b', b]]);
  checkSameShape(op, a, b);
}

// a fresh tensor holding alpha * g (alpha = 1: a plain copy)
function scaled(g: Tensor, shape: number[], alpha: number): Tensor {
  const out = Tensor.empty(shape, { device: g.device });
  native().scale(g.numel, g.storage('backward'), alpha, out.storage('backward'));
  return out;
}

/** a + b */
export function add(a: Tensor, b: Tensor): Tensor {
  binaryOperands('add', a, b);
  const out = Tensor.empty(a.shape, { device: a.device });
  call('add', () => native().add(a.numel, a.storage('add', 'a'), b.storage('add', 'b'), out.storage('add')));
  return record(out, 'add', [a, b], (g) => {
    // each input gets its own buffer: gradients are owned, and accumulate in place later
    if (a.requiresGrad) accumulate(a, b.requiresGrad ? scaled(g, a.shape, 1) : g.view(a.shape.slice()));
    if (b.requiresGrad) accumulate(b, g.view(b.shape.slice()));
  });
}

/** a - b */
export function sub(a: Tensor, b: Tensor): Tensor {
  binaryOperands('sub', a, b);
  const out = Tensor.empty(a.shape, { device: a.device });
  call('sub', () => native().axpby(a.numel, 1, a.storage('sub', 'a'), -1, b.storage('sub', 'b'), out.storage('sub')));
  return record(out, 'sub', [a, b], (g) => {
    if (a.requiresGrad) accumulate(a, scaled(g, a.shape, 1));
    if (b.requiresGrad) accumulate(b, scaled(g, b.shape, -1));
  });
}

/** a * b, elementwise */
export function mul(a: Tensor, b: Tensor): Tensor {
  binaryOperands('mul', a, b);
  const out = Tensor.empty(a.shape, { device: a.device });
  call('mul', () => native().mul(a.numel, a.storage('mul', 'a'), b.storage('mul', 'b'), out.storage('mul')));
  return record(out, 'mul', [a, b], (g) => {
    const n = a.numel;
    if (a.requiresGrad) {
      const da = Tensor.empty(a.shape, { device: a.device });
      native().mul(n, g.storage('mul backward'), b.storage('mul backward', 'b'), da.storage('mul backward'));
      accumulate(a, da);
    }
    if (b.requiresGrad) {
      const db = Tensor.empty(b.shape, { device: b.device });
      native().mul(n, g.storage('mul backward'), a.storage('mul backward', 'a'), db.storage('mul backward'));
      accumulate(b, db);
    }
  });
}

/** alpha * x */
export function scale(x: Tensor, alpha: number): Tensor {
  checkTensor('scale', 'input', x);
  if (typeof alpha !== 'number') throw new CudalabError('ERR_ARG', `scale: alpha must be a number, got ${typeof alpha}`);
  const out = Tensor.empty(x.shape, { device: x.device });
  call('scale', () => native().scale(x.numel, x.storage('scale'), alpha, out.storage('scale')));
  return record(out, 'scale', [x], (g) => accumulate(x, scaled(g, x.shape, alpha)));
}

/** max(x, 0); the backward reads the output, so x can be freed early */
export function relu(x: Tensor): Tensor {
  checkTensor('relu', 'input', x);
  const out = Tensor.empty(x.shape, { device: x.device });
  call('relu', () => native().reluForward(x.numel, x.storage('relu'), out.storage('relu')));
  return record(out, 'relu', [x], (g) => {
    const dx = Tensor.empty(x.shape, { device: x.device });
    native().reluBackward(x.numel, g.storage('relu backward'), out.storage('relu backward', 'output'), dx.storage('relu backward'));
    accumulate(x, dx);
  });
}

/**
 * gelu, exact (erf) form, PyTorch's default: x * Phi(x), Phi the standard
 * normal's distribution function. the backward reads the input x
 */
export function gelu(x: Tensor): Tensor {
  checkTensor('gelu', 'input', x);
  const out = Tensor.empty(x.shape, { device: x.device });
  call('gelu', () => native().geluForward(x.numel, x.storage('gelu'), out.storage('gelu')));
  return record(out, 'gelu', [x], (g) => {
    const dx = Tensor.empty(x.shape, { device: x.device });
    native().geluBackward(x.numel, g.storage('gelu backward'), x.storage('gelu backward', 'input'), dx.storage('gelu backward'));
    accumulate(x, dx);
  });
}
