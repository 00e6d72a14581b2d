// central differences in float64 on a reference forward: the gradient of the
// scalar L(x) = sum_i f(x)_i * dy_i, the same quantity a backward kernel
// computes from an upstream gradient dy (a vector-Jacobian product). central
// differences in double are accurate to ~1e-9 here, so they judge float32
// kernels cleanly.

/** d/dx of sum(forward(x) * dy), by central differences with step eps */
export function numericGradient(
  forward: (x: Float64Array) => ArrayLike<number>,
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  eps = 1e-6,
): Float64Array {
  const xs = Float64Array.from(x);
  const grad = new Float64Array(xs.length);
  const dot = (y: ArrayLike<number>): number => {
    if (y.length !== dy.length) throw new Error(`numericGradient: forward gave ${y.length} values, dy has ${dy.length}`);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * dy[i];
    return s;
  };
  for (let i = 0; i < xs.length; i++) {
    const keep = xs[i];
    xs[i] = keep + eps;
    const up = dot(forward(xs));
    xs[i] = keep - eps;
    const down = dot(forward(xs));
    xs[i] = keep;
    grad[i] = (up - down) / (2 * eps);
  }
  return grad;
}

/** d/dx of a scalar function, by central differences */
export function numericGradientScalar(f: (x: Float64Array) => number, x: ArrayLike<number>, eps = 1e-6): Float64Array {
  return numericGradient((v) => [f(v)], x, [1], eps);
}
