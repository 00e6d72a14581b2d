// an op's one definition: what it computes (a float64 reference written as
// plain loops, independent of the kernels), the cases it is checked on, how
// to call it, how close it must come, and how its gradient is judged. one
// device-parameterised checker (src/spec/checker.ts) consumes every spec: the
// test suite runs it on every backend present against the reference,
// `cudalab check-ops` runs it CUDA against CPU, and `cudalab bench` times
// the cases marked for it. adding an op means: the CPU kernel, the CUDA
// kernel, the differentiable op and one spec.
import type { Addon, NativeStorage } from '../native';

/** a seeded source of test inputs, independent of the generators under test */
export interface InputRng {
  /** uniform in [0, 1) */
  next(): number;
  /** n float32 values uniform in [lo, hi) */
  floats(n: number, lo?: number, hi?: number): Float32Array;
  /** n int32 values in [0, bound) */
  ints(n: number, bound: number): Int32Array;
}

export type HostData = Float32Array | Int32Array | Uint8Array;
export type DType = 'f32' | 'i32' | 'u8';

/** an output buffer the checker allocates (with poisoned guard zones around it) */
export interface OutputDecl {
  length: number;
  dtype: DType;
  /** the input whose values an in-place output starts from (optimizer state); else poisoned */
  from?: string;
}

/** what the reference gives for one output */
export type Expected = Float64Array | Int32Array | Uint8Array;

export interface Tolerance {
  /** relative error (max |a - ref| / max |ref|) against the float64 reference; 0: bit for bit */
  reference: number;
  /** cuda against the cpu backend on the same inputs; 0: bit for bit */
  backends: number;
}

/**
 * the gradient check: the backward kernels' outputs are compared with central
 * differences of the forward reference in float64, taken against a random
 * upstream gradient (a vector-Jacobian product), so no code under test is used
 * to judge itself.
 */
export interface GradientCheck<P> {
  /** the cases small enough for central differences (all by default) */
  cases?: (p: P) => boolean;
  /** which forward inputs are differentiated, and the backward output holding each gradient (inputs a case leaves out are skipped) */
  wrt: Record<string, string>;
  /** the forward output the upstream gradient flows into */
  of: string;
  /** the backward kernels' call: reads the forward inputs, outputs and `d<of>`, writes the gradients */
  call(addon: Addon, p: P, s: Record<string, NativeStorage>): void;
  /** backward outputs besides the gradients (scratch the kernels write), allocated poisoned */
  outputs?: (p: P) => Record<string, OutputDecl>;
  /** relative error allowed against central differences */
  tolerance: number;
  /** central-difference step (1e-6 by default); piecewise-linear ops need inputs away from their kinks */
  step?: number;
}

export interface OpSpec<P = any> {
  /** the op's name as check-ops and bench print it ("conv2d_bwd_input"); unique */
  name: string;
  /** the native family it lives in (native/cpu/<family>.cc, native/cuda/<family>.cu) */
  family: string;
  /** the parameters of each case: odd sizes, batch 1, the models' layer shapes */
  cases: P[];
  /** a case's label for reports ("b64 3->16 32x32 k3 p1") */
  label(p: P): string;
  /** the inputs of a case, from a seeded generator */
  inputs(p: P, rng: InputRng): Record<string, HostData>;
  /** the outputs the op writes */
  outputs(p: P): Record<string, OutputDecl>;
  /** runs the op on storages holding the inputs and outputs (all on one device) */
  call(addon: Addon, p: P, s: Record<string, NativeStorage>): void;
  /**
   * the float64 reference of the outputs it covers (outputs it leaves out, such
   * as scratch, are not compared), from the same float32 inputs; the gradient
   * check calls it with one input widened to float64 and nudged
   */
  reference(p: P, inputs: Record<string, ArrayLike<number>>): Record<string, Expected>;
  tolerance: Tolerance;
  gradient?: GradientCheck<P>;
  /** the cases `cudalab bench` times, with the work each does (for GFLOP/s and GB/s) */
  bench?: {
    cases: P[];
    flops?(p: P): number;
    bytes?(p: P): number;
    /** the label bench prints (label() by default), e.g. naming the model layer */
    label?(p: P): string;
    /** the op and its dimensions as bench/torch_ops.py reads them, to time the same case through PyTorch */
    torch?(p: P): Record<string, number | string | boolean>;
  };
}

/** a spec with its parameter type erased, for lists of every op */
export type AnyOpSpec = OpSpec<any>;
