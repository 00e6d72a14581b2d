// loads the native addon (node-gyp-build: build/Release or build/Debug, else
// the matching prebuilds/<platform>-<arch>/ binary shipped in the package) and
// types its surface. every function here is one Node-API call into
// native/addon.cc, which validates its arguments and dispatches to the cpu::
// or cuda:: op table (native/ops.h). ops take whole storages: a tensor view
// (reshape) shares its storage, so no offsets are needed.
import path from 'path';
import { CudalabError } from './errors';

export type DeviceName = 'cpu' | 'cuda';

/** a block of native memory on one device; JavaScript holds the handle. */
export interface NativeStorage {
  readonly device: DeviceName;
  readonly bytes: number;
  readonly freed: boolean;
  /** returns the memory to its allocator now; later use throws ERR_FREED. idempotent. */
  free(): void;
}

/** see ConvShape in native/ops.h */
export interface ConvShape {
  n: number; c: number; h: number; w: number;
  k: number; r: number; s: number;
  strideH: number; strideW: number; padH: number; padW: number;
  p: number; q: number;
}

/** see PoolShape in native/ops.h */
export interface PoolShape {
  n: number; c: number; h: number; w: number;
  kh: number; kw: number; strideH: number; strideW: number; padH: number; padW: number;
  p: number; q: number;
}

export interface CudaDeviceInfo {
  index: number;
  name: string;
  computeCapability: string; // "9.0"
  totalMemory: number; // bytes
  freeMemory: number; // bytes
  multiprocessors: number;
  /** whether this build has code (SASS or PTX) this device can run */
  supported: boolean;
}

export interface CudaInfo {
  /** true when a CUDA device can be used */
  available: boolean;
  /** why not, when available is false (no driver, no device, architecture not compiled in) */
  reason: string;
  driverVersion: string | null; // "13.0", null without a driver
  runtimeVersion: string; // the cudart linked in, "13.0"
  devices: CudaDeviceInfo[];
}

export interface BuildInfo {
  backends: DeviceName[]; // ['cpu'] or ['cpu', 'cuda']
  cuda: { version: string; architectures: string[] } | null; // architectures: ["90", "120"]
  compiler: string;
  debug: boolean;
  sanitizers: boolean;
  napiVersion: number;
}

export interface MemoryStats {
  /** bytes handed out to live storages */
  allocated: number;
  /** bytes held by the caching allocator (cuda), in use or cached */
  reserved: number;
  /** number of live storages */
  storages: number;
}

/** one argument of an op in the binding table (native/addon.cc), as opTable() gives it */
export interface OpArg {
  name: string;
  kind: 'boolean' | 'integer' | 'float' | 'number' | 'bigint' | 'ConvShape' | 'PoolShape' | 'f32' | 'i32' | 'u8';
  /** integer and float: the accepted range */
  min?: number;
  max?: number;
  /** storages: the elements needed, over the integer arguments and shape fields ("m*k") */
  size?: string;
  role?: 'in' | 'out' | 'inout';
  nullable?: boolean;
  /** outputs: the inputs it may share a storage with, space-separated */
  mayAlias?: string;
}

export interface OpRow {
  name: string;
  args: OpArg[];
}

export interface Addon {
  Storage: new (device: DeviceName, bytes: number) => NativeStorage;

  /** the binding table: every op's arguments, in order (the methods below follow it) */
  opTable(): OpRow[];
  /** one side of a convolution's output, (input + 2*padding - kernel) / stride + 1; ERR_SHAPE when the window does not fit */
  convOutputSize(input: number, kernel: number, stride: number, padding: number): number;
  /** the same for pooling, whose padding must also be at most half the window (ERR_ARG) */
  poolOutputSize(input: number, kernel: number, stride: number, padding: number): number;

  buildInfo(): BuildInfo;
  /** never throws: reports why CUDA cannot be used instead */
  cudaInfo(): CudaInfo;
  memoryStats(device: DeviceName): MemoryStats;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  /** waits until all queued work on the device is done (a no-op on cpu) */
  synchronize(device: DeviceName): void;

  /** host -> storage. copies src's bytes to dst at dstOffset (bytes) */
  write(dst: NativeStorage, src: ArrayBufferView, dstOffset?: number): void;
  /** storage -> host, waits for queued work. fills dst from src at srcOffset (bytes) */
  read(src: NativeStorage, dst: ArrayBufferView, srcOffset?: number): void;
  /**
   * a Storage aliasing `bytes` bytes of `storage` from `byteOffset`: ops given
   * the view touch only that range of the parent's memory. the view keeps its
   * parent alive and owns nothing: freeing the view frees nothing, freeing the
   * parent makes the view unusable (ERR_FREED). used to put guard zones around
   * a buffer (src/spec/buffers.ts).
   */
  view(storage: NativeStorage, byteOffset: number, bytes: number): NativeStorage;

  /** storage -> storage, across devices too */
  copy(dst: NativeStorage, src: NativeStorage, bytes: number, dstOffset?: number, srcOffset?: number): void;

  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
       a: NativeStorage, b: NativeStorage, beta: number, c: NativeStorage): void;

  conv2dForward(s: ConvShape, x: NativeStorage, w: NativeStorage, bias: NativeStorage | null, y: NativeStorage): void;
  conv2dBackwardInput(s: ConvShape, dy: NativeStorage, w: NativeStorage, dx: NativeStorage): void;
  conv2dBackwardWeight(s: ConvShape, x: NativeStorage, dy: NativeStorage, dw: NativeStorage, db: NativeStorage | null): void;

  maxpool2dForward(s: PoolShape, x: NativeStorage, y: NativeStorage, argmax: NativeStorage): void;
  maxpool2dBackward(s: PoolShape, dy: NativeStorage, argmax: NativeStorage, dx: NativeStorage): void;
  avgpool2dForward(s: PoolShape, x: NativeStorage, y: NativeStorage): void;
  avgpool2dBackward(s: PoolShape, dy: NativeStorage, dx: NativeStorage): void;

  reluForward(n: number, x: NativeStorage, y: NativeStorage): void;
  reluBackward(n: number, dy: NativeStorage, y: NativeStorage, dx: NativeStorage): void;
  add(n: number, a: NativeStorage, b: NativeStorage, out: NativeStorage): void;
  mul(n: number, a: NativeStorage, b: NativeStorage, out: NativeStorage): void;
  scale(n: number, x: NativeStorage, alpha: number, out: NativeStorage): void;
  axpby(n: number, alpha: number, a: NativeStorage, beta: number, b: NativeStorage, out: NativeStorage): void;
  biasAdd(outer: number, channels: number, inner: number, x: NativeStorage, bias: NativeStorage, y: NativeStorage): void;
  sumAxis(outer: number, reduce: number, inner: number, x: NativeStorage, y: NativeStorage): void;

  /** labels: int32 storage; probs: n*classes floats; loss: 1 float */
  softmaxXentForward(n: number, classes: number, logits: NativeStorage, labels: NativeStorage,
                     probs: NativeStorage, loss: NativeStorage): void;
  softmaxXentBackward(n: number, classes: number, probs: NativeStorage, labels: NativeStorage,
                      dloss: NativeStorage, dlogits: NativeStorage): void;
  /** out: int32 storage of n */
  argmax(n: number, classes: number, x: NativeStorage, out: NativeStorage): void;
  /** count: int32 storage of 1 */
  correctCount(n: number, classes: number, logits: NativeStorage, labels: NativeStorage, count: NativeStorage): void;

  adamStep(n: number, param: NativeStorage, grad: NativeStorage, m: NativeStorage, v: NativeStorage,
           lr: number, beta1: number, beta2: number, eps: number, weightDecay: number,
           decoupled: boolean, step: number): void;
  sgdStep(n: number, param: NativeStorage, grad: NativeStorage, momentumBuf: NativeStorage,
          lr: number, momentum: number, dampening: number, weightDecay: number,
          nesterov: boolean, firstStep: boolean): void;

  /** seed and offset are bigint (uint64) */
  dropoutForward(n: number, x: NativeStorage, y: NativeStorage, mask: NativeStorage, p: number,
                 seed: bigint, offset: bigint): void;
  dropoutBackward(n: number, dy: NativeStorage, mask: NativeStorage, dx: NativeStorage): void;
  fill(n: number, x: NativeStorage, value: number): void;
  uniform(n: number, x: NativeStorage, lo: number, hi: number, seed: bigint, offset: bigint): void;
  normal(n: number, x: NativeStorage, mean: number, std: number, seed: bigint, offset: bigint): void;

  /**
   * a batch from a data set in native memory (gather_images in native/ops.h):
   * images: uint8 storage of count*channels*plane (CHW per image); labels: uint8, count;
   * order: int32 indices into the images, read at [first, first+batch), or null for
   * images first .. first+batch-1; table: channels*256 floats;
   * out[i][c][p] = table[c*256 + images[idx][c][p]] (batch*channels*plane floats),
   * outLabels[i] = labels[idx] (int32). on cpu an index outside [0, count) is an
   * ERR_ARG; on cuda it gives NaN pixels and label -1.
   */
  gatherImages(batch: number, count: number, channels: number, plane: number, images: NativeStorage,
               labels: NativeStorage, order: NativeStorage | null, first: number, table: NativeStorage,
               out: NativeStorage, outLabels: NativeStorage): void;

  /**
   * training augmentation of a gathered batch (augment_images in native/ops.h):
   * x and out batch*channels*height*width floats; ids: int32, batch, the data-set
   * index of each image, which with seed (bigint) and epoch keys its philox draws:
   * a translation by up to `translate` pixels with reflect padding (translate <
   * height and width), flip 0 none, 1 random, 2 alternating, and a cutout square of
   * side `cutout` set to 0 (0: none). copies only: bit-identical on every backend.
   */
  augmentImages(batch: number, channels: number, height: number, width: number, x: NativeStorage, ids: NativeStorage,
                seed: bigint, epoch: number, translate: number, flip: number, cutout: number, out: NativeStorage): void;
  /** every image translated by (dy, dx) with reflect padding, then mirrored when flip (test-time views) */
  shiftFlipImages(batch: number, channels: number, height: number, width: number, x: NativeStorage, dy: number,
                  dx: number, flip: boolean, out: NativeStorage): void;

  /**
   * batch norm over x viewed as n*c*hw, per channel (batch_norm2d_* in native/ops.h).
   * stats: the batch's mean and invstd = 1/sqrt(biased var + eps); runningMean and
   * runningVar (both or neither) are updated in place, PyTorch's momentum convention,
   * the unbiased variance; n*hw must be at least 2 (ERR_SHAPE).
   */
  batchNorm2dStats(n: number, c: number, hw: number, x: NativeStorage, eps: number, momentum: number,
                   runningMean: NativeStorage | null, runningVar: NativeStorage | null,
                   mean: NativeStorage, invstd: NativeStorage): void;
  /** invstd = 1/sqrt(var + eps), for eval mode's running variance */
  batchNorm2dInvstd(c: number, variance: NativeStorage, eps: number, invstd: NativeStorage): void;
  /** y = (x - mean)*invstd*weight + bias; weight and bias may be null (1 and 0) */
  batchNorm2dForward(n: number, c: number, hw: number, x: NativeStorage, mean: NativeStorage, invstd: NativeStorage,
                     weight: NativeStorage | null, bias: NativeStorage | null, y: NativeStorage): void;
  /** dx (through the batch statistics when batchStats), dweight and dbias (each may be null) */
  batchNorm2dBackward(n: number, c: number, hw: number, x: NativeStorage, dy: NativeStorage, mean: NativeStorage,
                      invstd: NativeStorage, weight: NativeStorage | null, batchStats: boolean, dx: NativeStorage,
                      dweight: NativeStorage | null, dbias: NativeStorage | null): void;

  /** gelu, exact (erf) form; the backward reads the forward input x */
  geluForward(n: number, x: NativeStorage, y: NativeStorage): void;
  geluBackward(n: number, dy: NativeStorage, x: NativeStorage, dx: NativeStorage): void;

  /**
   * softmax cross-entropy with label smoothing in [0, 1] (target (1 - s) * onehot + s / classes);
   * sum: the loss is the sum over rows, else their mean
   */
  softmaxXentSmoothForward(n: number, classes: number, logits: NativeStorage, labels: NativeStorage, smoothing: number,
                           sum: boolean, probs: NativeStorage, loss: NativeStorage): void;
  softmaxXentSmoothBackward(n: number, classes: number, probs: NativeStorage, labels: NativeStorage, smoothing: number,
                            sum: boolean, dloss: NativeStorage, dlogits: NativeStorage): void;

  /**
   * the instruction set the CPU kernels run with, picked when the addon loads:
   * the widest this processor has, or the one CUDALAB_CPU names
   * (native/cpu/dispatch.h)
   */
  cpuPath(): CpuPath;
}

/** the CPU kernels' builds: AVX-512 (x86-64-v4), AVX2 + FMA (x86-64-v3), baseline */
export type CpuPath = 'avx512' | 'avx2' | 'generic';

/** the error every native call throws on bad input; code is stable, message is for people */
export interface NativeError extends Error {
  code: 'ERR_SHAPE' | 'ERR_ARG' | 'ERR_DEVICE' | 'ERR_FREED' | 'ERR_NO_CUDA' | 'ERR_CUDA' | 'ERR_OOM' | 'ERR_CPU';
}

let cached: Addon | null = null;
let loadedFrom: AddonOrigin | null = null;

/** which binary native() loaded: a build made here, a prebuilt one shipped in the package, or CUDALAB_ADDON's */
export interface AddonOrigin {
  kind: 'source build' | 'prebuild' | 'CUDALAB_ADDON';
  path: string;
}

const PACKAGE_ROOT = path.resolve(__dirname, '..');

// node-gyp-build's order: build/Release, build/Debug (a developer's own build
// wins), then the prebuilds/<platform>-<arch>/ binary that matches this node
function resolveAddon(): AddonOrigin {
  const override = process.env.CUDALAB_ADDON;
  if (override) return { kind: 'CUDALAB_ADDON', path: path.resolve(override) };
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const file: string = require('node-gyp-build').path(PACKAGE_ROOT);
  const inPrebuilds = path.relative(path.join(PACKAGE_ROOT, 'prebuilds'), file);
  return { kind: inPrebuilds.startsWith('..') || path.isAbsolute(inPrebuilds) ? 'source build' : 'prebuild', path: file };
}

/** the addon, loaded once. CUDALAB_ADDON=path/to/cudalab.node loads another build (e.g. build-asan). */
export function native(): Addon {
  if (cached) return cached;
  try {
    const origin = resolveAddon();
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    cached = require(origin.path);
    loadedFrom = origin;
  } catch (err) {
    const e = err as Error & { code?: unknown };
    // the addon is there but refused to load: CUDALAB_CPU names an instruction
    // set this processor lacks, or none at all (the message says which)
    if (e.code === 'ERR_CPU') throw new CudalabError('ERR_CPU', `cudalab: ${e.message}`);
    throw new Error(
      `cudalab: the native addon could not be loaded (${e.message.split('\n')[0]}). ` +
        'Build it with `npm run build:native` (needs cmake and a C++17 compiler; CUDA 12.8+ optional).',
    );
  }
  return cached!;
}

/** the binary native() loaded (loading it if it was not yet) */
export function addonOrigin(): AddonOrigin {
  native();
  return loadedFrom!;
}
