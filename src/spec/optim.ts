// the optimizer steps (native/cpu/optim.cc, native/cuda/optim.cu): Adam with
// weight decay coupled (L2 in the gradient) and decoupled (AdamW), SGD with
// momentum, dampening, nesterov and the first step's buffer. the references
// transcribe PyTorch's single-tensor updates (torch/optim/adam.py, sgd.py) in
// float64; the nn tests drive the same references through the Optimizer
// classes. each case runs a few steps with a fresh gradient each, from a fresh
// state (step 1) or from a state mid-training.
import type { HostData, InputRng, OpSpec, OutputDecl } from './types';
import { f32 } from './float32';

type Vec = ArrayLike<number>;

export interface AdamConfig {
  lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; decoupled: boolean;
}

/** one Adam (decoupled: AdamW) step in place on param, m, v; step counts from 1 */
export function adamStepRef(param: Float64Array, grad: Vec, m: Float64Array, v: Float64Array, c: AdamConfig, step: number): void {
  const bc1 = 1 - c.beta1 ** step;
  const bc2 = 1 - c.beta2 ** step;
  const stepSize = c.lr / bc1;
  const bc2Sqrt = Math.sqrt(bc2);
  for (let i = 0; i < param.length; i++) {
    let g = grad[i];
    if (c.weightDecay !== 0) {
      if (c.decoupled) param[i] *= 1 - c.lr * c.weightDecay;
      else g += c.weightDecay * param[i];
    }
    m[i] = c.beta1 * m[i] + (1 - c.beta1) * g;
    v[i] = c.beta2 * v[i] + (1 - c.beta2) * g * g;
    const denom = Math.sqrt(v[i]) / bc2Sqrt + c.eps;
    param[i] -= (stepSize * m[i]) / denom;
  }
}

export interface SgdConfig {
  lr: number; momentum: number; dampening: number; weightDecay: number; nesterov: boolean;
}

/** one SGD step in place on param and buf; first: the buffer starts as the gradient */
export function sgdStepRef(param: Float64Array, grad: Vec, buf: Float64Array, c: SgdConfig, first: boolean): void {
  for (let i = 0; i < param.length; i++) {
    let g = grad[i];
    if (c.weightDecay !== 0) g += c.weightDecay * param[i];
    if (c.momentum !== 0) {
      buf[i] = first ? g : c.momentum * buf[i] + (1 - c.dampening) * g;
      g = c.nesterov ? g + c.momentum * buf[i] : buf[i];
    }
    param[i] -= c.lr * g;
  }
}

// the addon hands hyperparameters to the kernels as float32 (0.999 arrives as
// 0.99900001): the reference takes the same rounded values, or 1 - beta2
// would differ by 1.3e-5 relative before any arithmetic happens
function asFloat32<T extends object>(c: T): T {
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, typeof v === 'number' ? f32(v) : v])) as T;
}

const STEPS = 3;
const gradNames = Array.from({ length: STEPS }, (_, t) => `grad${t + 1}`);

// parameters of about 10 lr: an update is a tenth of the parameter, so an
// update wrong by 1e-4 of itself moves the parameter by 1e-5 and fails
function paramsAndGrads(n: number, lr: number, rng: InputRng): Record<string, HostData> {
  const out: Record<string, HostData> = { param0: rng.floats(n, -10 * lr, 10 * lr) };
  for (const g of gradNames) out[g] = rng.floats(n, -0.2, 0.2);
  return out;
}

interface AdamCase {
  n: number;
  config: AdamConfig;
  /** the step number of the first of the case's steps (1: a fresh state) */
  start: number;
}

const ADAM_DEFAULTS: AdamConfig = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false };
const ADAM_CONFIGS: AdamConfig[] = [
  ADAM_DEFAULTS,
  { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5, decoupled: false },
  { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5, decoupled: true },
  { lr: 3e-3, beta1: 0.5, beta2: 0.9, eps: 1e-3, weightDecay: 0.01, decoupled: true },
  { lr: 3e-3, beta1: 0.6, beta2: 0.99, eps: 1e-6, weightDecay: 0, decoupled: false }, // lerp's other branch (1 - beta1 < 0.5 is false)
];

function adamLabel(p: AdamCase): string {
  const c = p.config;
  const decay = c.weightDecay ? ` wd ${c.weightDecay}${c.decoupled ? ' decoupled' : ''}` : '';
  return `n${p.n} lr ${c.lr} betas ${c.beta1},${c.beta2} eps ${c.eps}${decay} steps ${p.start}..${p.start + STEPS - 1}`;
}

export const adamStep: OpSpec<AdamCase> = {
  name: 'adam',
  family: 'optim',
  cases: [
    ...ADAM_CONFIGS.map((config) => ({ n: 1023, config, start: 1 })),
    ...ADAM_CONFIGS.slice(0, 3).map((config) => ({ n: 1000, config, start: 100 })),
    ...[1, 7, 8, 9, 15, 16, 17, 16385].map((n) => ({ n, config: ADAM_DEFAULTS, start: 1 })),
    // the seed CNN's parameters, AdamW as the experiments run it
    { n: 532202, config: { ...ADAM_DEFAULTS, weightDecay: 0.01, decoupled: true }, start: 1 },
  ],
  label: adamLabel,
  inputs(p, rng) {
    const fresh = p.start === 1;
    return {
      ...paramsAndGrads(p.n, p.config.lr, rng),
      // mid-training: a first moment of gradient size, a second of its square
      m0: fresh ? new Float32Array(p.n) : rng.floats(p.n, -0.1, 0.1),
      v0: fresh ? new Float32Array(p.n) : rng.floats(p.n, 0, 0.01),
    };
  },
  outputs: (p): Record<string, OutputDecl> => ({
    param: { length: p.n, dtype: 'f32', from: 'param0' },
    m: { length: p.n, dtype: 'f32', from: 'm0' },
    v: { length: p.n, dtype: 'f32', from: 'v0' },
  }),
  call(addon, p, s) {
    const c = p.config;
    gradNames.forEach((g, t) =>
      addon.adamStep(p.n, s.param, s[g], s.m, s.v, c.lr, c.beta1, c.beta2, c.eps, c.weightDecay, c.decoupled, p.start + t));
  },
  reference(p, inputs) {
    const c = asFloat32(p.config);
    const param = Float64Array.from(inputs.param0), m = Float64Array.from(inputs.m0), v = Float64Array.from(inputs.v0);
    gradNames.forEach((g, t) => adamStepRef(param, inputs[g], m, v, c, p.start + t));
    return { param, m, v };
  },
  // per element and step about ten float32 operations (lerp, square, sqrt,
  // two divisions, the addcdiv), each rounding 2^-24 of its value: over three
  // steps 30 roundings, 1.8e-6, for the state and the parameter alike (its
  // update is a tenth of it); measured: 1.5e-7. cuda rounds mi / denom before
  // the product where the cpu rounds the product first: 1e-5 between them, as
  // measured on an H200
  tolerance: { reference: 2e-6, backends: 1e-5 },
  bench: {
    cases: [{ n: 532202, config: ADAM_DEFAULTS, start: 1 }],
    flops: (p) => 12 * p.n * STEPS,
    bytes: (p) => 4 * 7 * p.n * STEPS,
  },
};

interface SgdCase {
  n: number;
  config: SgdConfig;
  start: number;
}

const SGD_CONFIGS: SgdConfig[] = [
  { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
  { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false },
  { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 1e-2, nesterov: false },
  { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 5e-4, nesterov: true },
  { lr: 0.01, momentum: 0, dampening: 0, weightDecay: 0.1, nesterov: false },
];

function sgdLabel(p: SgdCase): string {
  const c = p.config;
  const momentum = c.momentum ? ` momentum ${c.momentum}${c.dampening ? ` dampening ${c.dampening}` : ''}${c.nesterov ? ' nesterov' : ''}` : '';
  return `n${p.n} lr ${c.lr}${momentum}${c.weightDecay ? ` wd ${c.weightDecay}` : ''} steps ${p.start}..${p.start + STEPS - 1}`;
}

export const sgdStep: OpSpec<SgdCase> = {
  name: 'sgd',
  family: 'optim',
  cases: [
    ...SGD_CONFIGS.map((config) => ({ n: 1023, config, start: 1 })),
    ...SGD_CONFIGS.slice(1, 4).map((config) => ({ n: 1000, config, start: 50 })),
    ...[1, 7, 8, 9, 15, 16, 17, 16385].map((n) => ({ n, config: SGD_CONFIGS[3], start: 1 })),
    { n: 532202, config: SGD_CONFIGS[1], start: 1 },
  ],
  label: sgdLabel,
  inputs(p, rng) {
    const out = paramsAndGrads(p.n, p.config.lr, rng);
    // a buffer mid-training; a fresh one is never read (the checker poisons it)
    if (p.start > 1 || p.config.momentum === 0) out.buf0 = rng.floats(p.n, -0.2, 0.2);
    return out;
  },
  outputs: (p): Record<string, OutputDecl> => ({
    param: { length: p.n, dtype: 'f32', from: 'param0' },
    // the first step must write the buffer without reading it (so it starts
    // poisoned); without momentum the buffer must not be touched at all
    buf: p.start > 1 || p.config.momentum === 0 ? { length: p.n, dtype: 'f32', from: 'buf0' } : { length: p.n, dtype: 'f32' },
  }),
  call(addon, p, s) {
    const c = p.config;
    gradNames.forEach((g, t) =>
      addon.sgdStep(p.n, s.param, s[g], s.buf, c.lr, c.momentum, c.dampening, c.weightDecay, c.nesterov, p.start + t === 1));
  },
  reference(p, inputs) {
    const c = asFloat32(p.config);
    const param = Float64Array.from(inputs.param0);
    const buf = inputs.buf0 ? Float64Array.from(inputs.buf0) : new Float64Array(p.n);
    gradNames.forEach((g, t) => sgdStepRef(param, inputs[g], buf, c, p.start + t === 1));
    return { param, buf };
  },
  // per element and step up to six float32 operations (decay, the buffer's
  // two products and sum, nesterov's, the update): over three steps 18
  // roundings, 1.1e-6 (the parameter is ten times its update); measured:
  // 1.5e-7. the backends may contract products into fmas differently
  tolerance: { reference: 2e-6, backends: 1e-5 },
};

export const optimSpecs = [adamStep, sgdStep];
