// reverse-mode autograd, micrograd style: every differentiable op that sees an
// input needing a gradient records a GradNode on its output: the inputs and a
// closure that, given the output's gradient, computes the inputs' gradients
// with the native backward kernels and accumulates them into their .grad.
// backward() walks the graph in reverse topological order from a scalar.
//
// gradients are owned by their tensor, not by any tidy scope: a leaf's .grad
// (a parameter's) lives on until zeroGrad() or dispose(); an intermediate
// tensor's gradient is freed as soon as its node has used it.
import { native, type NativeStorage } from './native';
import { CudalabError } from './errors';
import { Tensor, formatShape, untracked } from './tensor';

export interface GradNode {
  /** the op's name, for error messages */
  op: string;
  /** the inputs that may need a gradient (in the op's argument order) */
  inputs: Tensor[];
  /** computes and accumulates the inputs' gradients from the output's gradient */
  backward: (grad: Tensor) => void;
  /** tensors the op made for its backward (argmax, probs, masks): freed after backward */
  saved: Tensor[];
  /** set once a backward pass has used and freed the saved tensors */
  used: boolean;
}

let gradDisabled = 0;

/** whether ops record a graph now (not inside noGrad) */
export function isGradEnabled(): boolean {
  return gradDisabled === 0;
}

/** runs fn without recording any graph: results do not require grad. fn must be synchronous. */
export function noGrad<T>(fn: () => T): T {
  gradDisabled++;
  try {
    return fn();
  } finally {
    gradDisabled--;
  }
}

/** whether an op on these inputs must record its backward */
export function needsGrad(...inputs: Array<Tensor | null | undefined>): boolean {
  if (gradDisabled !== 0) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/**
 * attaches the backward of op to out when any input needs a gradient;
 * otherwise frees the tensors saved for a backward that will never run.
 */
export function record(
  out: Tensor,
  op: string,
  inputs: Array<Tensor | null>,
  backward: (grad: Tensor) => void,
  saved: Tensor[] = [],
): Tensor {
  if (needsGrad(...inputs)) {
    out.requiresGrad = true;
    out.gradNode = { op, inputs: inputs.filter((t): t is Tensor => t !== null), backward, saved, used: false };
  } else {
    for (const s of saved) s.dispose();
  }
  return out;
}

/**
 * adds g to t.grad, taking ownership of g: it becomes t.grad (the first time)
 * or is added in place with the native add and freed. nothing when t needs no gradient.
 */
export function accumulate(t: Tensor, g: Tensor): void {
  if (!t.requiresGrad) {
    g.dispose();
    return;
  }
  if (g.numel !== t.numel) {
    g.dispose();
    throw new CudalabError('ERR_SHAPE', `backward: a gradient of ${g.numel} elements for a tensor of shape ${formatShape(t.shape)}`);
  }
  const cur = t.grad;
  if (cur === null || cur.disposed) {
    if (sameShape(g.shape, t.shape)) {
      t.grad = g;
    } else {
      t.grad = g.view(t.shape.slice());
      g.dispose();
    }
    return;
  }
  const acc = cur.storage('backward', 'gradient');
  native().add(t.numel, acc, g.storage('backward', 'gradient'), acc);
  g.dispose();
}

/**
 * accumulates into t.grad with a kernel that can add to its output (gemm's
 * beta): write(out, beta) writes beta*out + the new gradient. saves a buffer
 * and a pass over memory when the gradient already exists.
 */
export function accumulateWith(t: Tensor, write: (out: NativeStorage, beta: number) => void): void {
  if (!t.requiresGrad) return;
  const cur = t.grad;
  if (cur !== null && !cur.disposed) {
    write(cur.storage('backward', 'gradient'), 1);
    return;
  }
  const g = Tensor.empty(t.shape, { device: t.device });
  try {
    write(g.storage('backward', 'gradient'), 0);
  } catch (err) {
    g.dispose();
    throw err;
  }
  t.grad = g;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// every tensor the root depends on through tensors that need a gradient,
// inputs before the outputs that use them (iterative dfs: deep graphs are fine)
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>([root]);
  const stack: Array<{ t: Tensor; next: number }> = [{ t: root, next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const inputs = top.t.gradNode ? top.t.gradNode.inputs : [];
    if (top.next < inputs.length) {
      const c = inputs[top.next++];
      if (c.requiresGrad && !seen.has(c)) {
        seen.add(c);
        stack.push({ t: c, next: 0 });
      }
    } else {
      stack.pop();
      order.push(top.t);
    }
  }
  return order;
}

/** Tensor.backward: see there */
export function runBackward(root: Tensor, grad?: Tensor): void {
  root.storage('backward', 'the tensor');
  if (!root.requiresGrad) {
    throw new CudalabError(
      'ERR_ARG',
      'backward: the tensor does not require grad (no input of the ops that made it had requiresGrad, or it was made inside noGrad)',
    );
  }
  if (grad === undefined) {
    if (root.numel !== 1) {
      throw new CudalabError('ERR_SHAPE', `backward: a gradient can be implied only for a one-element tensor; this one has shape ${formatShape(root.shape)}, pass grad`);
    }
  } else {
    grad.storage('backward', 'grad');
    if (grad.numel !== root.numel || grad.dtype !== 'float32') {
      throw new CudalabError('ERR_SHAPE', `backward: grad has shape ${formatShape(grad.shape)} (${grad.dtype}), the tensor has shape ${formatShape(root.shape)} (float32)`);
    }
    if (grad.device !== root.device) {
      throw new CudalabError('ERR_DEVICE', `backward: grad is on ${grad.device}, the tensor is on ${root.device}`);
    }
  }

  const order = topologicalOrder(root);
  for (const t of order) {
    if (t.disposed) {
      const what = t.gradNode ? `the output of ${t.gradNode.op}` : 'a leaf tensor';
      throw new CudalabError(
        'ERR_DISPOSED',
        `backward: ${what} (shape ${formatShape(t.shape)}) was disposed before backward; free intermediates after backward (end the tidy after it)`,
      );
    }
    if (t.gradNode && t.gradNode.used) {
      throw new CudalabError('ERR_ARG', `backward: the graph through ${t.gradNode.op} was already used by a backward pass, which freed what it saved; run the forward again`);
    }
  }

  untracked(() =>
    noGrad(() => {
      const seed = Tensor.empty(root.shape, { device: root.device });
      if (grad === undefined) native().fill(seed.numel, seed.storage('backward'), 1);
      else native().copy(seed.storage('backward'), grad.storage('backward', 'grad'), grad.numel * 4);
      accumulate(root, seed);
      try {
        for (let i = order.length - 1; i >= 0; i--) {
          const t = order[i];
          const node = t.gradNode;
          if (!node) continue; // a leaf: its .grad stays
          const g = t.grad;
          t.grad = null;
          if (!g) continue; // nothing flowed back to this tensor
          try {
            node.backward(g);
          } finally {
            g.dispose();
          }
          if (node.saved.length > 0) {
            for (const s of node.saved) s.dispose();
            node.saved = [];
            node.used = true;
          }
        }
      } finally {
        // on an error midway, intermediate gradients must not leak
        for (const t of order) {
          if (t.gradNode && t.grad) {
            t.grad.dispose();
            t.grad = null;
          }
        }
      }
    }),
  );
}
