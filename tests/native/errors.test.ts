// bad input never reaches a kernel: every entry point throws a JavaScript
// error with a stable code and a message naming the op, the argument and what
// was expected, and the process carries on.
import { describe, expect, it } from 'vitest';
import type { NativeError } from '../../src/native';
import { addon, cudaAvailable, cudaReason, expectNativeError, useScopes } from '../helpers/native';
import { convShape } from '../../src/spec/conv';
import { poolShape } from '../../src/spec/pool';

const scopes = useScopes();


describe('argument checking', () => {
  it('rejects wrong argument counts and types', () => {
    const cpu = scopes.cpu;
    const x = cpu.floats([1, 2, 3, 4]), y = cpu.out(4);
    expectNativeError(() => (addon.reluForward as Function)(4, x), 'ERR_ARG', 'reluForward', 'expected 3 arguments');
    expectNativeError(() => (addon.reluForward as Function)(4, x, y, y), 'ERR_ARG', 'expected 3 arguments');
    expectNativeError(() => addon.reluForward('4' as unknown as number, x, y), 'ERR_ARG', "'n'", 'number', 'string');
    expectNativeError(() => addon.reluForward(NaN, x, y), 'ERR_ARG', "'n'", 'integer');
    expectNativeError(() => addon.reluForward(2.5, x, y), 'ERR_ARG', "'n'", 'integer');
    expectNativeError(() => addon.reluForward(-1, x, y), 'ERR_ARG', "'n'");
    expectNativeError(() => addon.scale(4, x, Infinity, y), 'ERR_ARG', "'alpha'", 'finite');
    expectNativeError(() => addon.gemm(1 as unknown as boolean, false, 2, 2, 1, 1, x, x, 0, y), 'ERR_ARG', 'gemm', "'transA'", 'boolean');
    expectNativeError(() => addon.gemm(false, false, 0, 2, 1, 1, x, x, 0, y), 'ERR_ARG', "'m'");
    expectNativeError(() => addon.memoryStats('gpu' as 'cpu'), 'ERR_ARG', "'cpu' or 'cuda'");
    expectNativeError(() => addon.setNumThreads(-2), 'ERR_ARG', 'setNumThreads');
  });

  it('rejects things that are not storages, look-alikes included', () => {
    const cpu = scopes.cpu;
    const y = cpu.out(4);
    const fake = { device: 'cpu', bytes: 16, freed: false, free() {} };
    expectNativeError(() => addon.reluForward(4, fake, y), 'ERR_ARG', "'x'", 'Storage', 'object');
    expectNativeError(() => addon.reluForward(4, Object.create(addon.Storage.prototype), y), 'ERR_ARG', 'Storage');
    expectNativeError(() => addon.reluForward(4, null as unknown as typeof y, y), 'ERR_ARG', 'Storage', 'null');
    expectNativeError(() => addon.write(y, [1, 2] as unknown as Float32Array), 'ERR_ARG', 'ArrayBufferView');
  });

  it('rejects storages too small for the shape', () => {
    const cpu = scopes.cpu;
    const small = cpu.out(5);
    const big = cpu.out(10000);
    expectNativeError(() => addon.reluForward(6, small, big), 'ERR_SHAPE', "'x'", '20 bytes', '24 bytes');
    expectNativeError(() => addon.gemm(false, false, 3, 3, 3, 1, big, big.bytes ? cpu.out(9) : big, 0, small), 'ERR_SHAPE', 'gemm', "'c'", 'm*n');
    const s = convShape(1, 3, 8, 8, 4, 3, 3, 1, 1);
    expectNativeError(() => addon.conv2dForward(s, cpu.out(3 * 64), cpu.out(4 * 27), cpu.out(3), cpu.out(4 * 64)), 'ERR_SHAPE', "'bias'", 'k');
    const ps = poolShape(1, 2, 4, 4, 2, 2);
    expectNativeError(() => addon.maxpool2dForward(ps, cpu.out(32), cpu.out(8), cpu.raw(28)), 'ERR_SHAPE', "'argmax'");
    expectNativeError(() => addon.softmaxXentForward(4, 10, cpu.out(40), cpu.ints([0, 1, 2]), cpu.out(40), cpu.out(1)), 'ERR_SHAPE', "'labels'");
    expectNativeError(() => addon.write(small, new Float32Array(6)), 'ERR_SHAPE', 'write', "'dst'");
    expectNativeError(() => addon.write(small, new Float32Array(2), 16), 'ERR_SHAPE', 'write');
    expectNativeError(() => addon.read(small, new Float32Array(5), 4), 'ERR_SHAPE', 'read', "'src'");
    expectNativeError(() => addon.copy(small, big, 24), 'ERR_SHAPE', 'copy', "'dst'");
    expectNativeError(() => addon.copy(big, small, 8, 0, 16), 'ERR_SHAPE', 'copy', "'src'");
  });

  it('rejects inconsistent convolution and pooling shapes', () => {
    const cpu = scopes.cpu;
    const t = cpu.out(10000);
    const s = convShape(1, 3, 8, 8, 4, 3, 3, 1, 1);
    expectNativeError(() => addon.conv2dForward({ ...s, p: 7 }, t, cpu.out(108), null, cpu.out(400)), 'ERR_SHAPE', "field 'p'", '8');
    expectNativeError(() => addon.conv2dForward({ ...s, q: 9 }, t, cpu.out(108), null, cpu.out(400)), 'ERR_SHAPE', "field 'q'");
    expectNativeError(() => addon.conv2dForward({ ...convShape(1, 1, 2, 2, 1, 1, 1), r: 5 }, t, t, null, cpu.out(4)), 'ERR_SHAPE', 'window');
    const { strideH: _drop, ...missing } = s;
    expectNativeError(() => addon.conv2dForward(missing as typeof s, t, t, null, t), 'ERR_ARG', "field 'strideH'", 'undefined');
    expectNativeError(() => addon.conv2dForward({ ...s, strideH: 0 }, t, t, null, t), 'ERR_ARG', "field 'strideH'");
    expectNativeError(() => addon.conv2dForward(5 as unknown as typeof s, t, t, null, t), 'ERR_ARG', "'s'", 'object');
    // PyTorch's rule: padding at most half the window
    expectNativeError(() => addon.maxpool2dForward(poolShape(1, 1, 4, 4, 2, 2, 2, 2), t, cpu.out(100), cpu.outInts(100)), 'ERR_SHAPE', 'half the window');
    expectNativeError(() => addon.avgpool2dForward({ ...poolShape(1, 1, 4, 4, 2, 2), p: 3 }, t, cpu.out(100)), 'ERR_SHAPE', "field 'p'");
  });

  it('rejects outputs that alias inputs where the op cannot work in place', () => {
    const cpu = scopes.cpu;
    const a = cpu.out(16), b = cpu.out(16);
    expectNativeError(() => addon.gemm(false, false, 4, 4, 4, 1, a, b, 0, a), 'ERR_ARG', "'c'", "'a'", 'different');
    expectNativeError(() => addon.sumAxis(1, 4, 4, a, a), 'ERR_ARG', "'y'", "'x'");
    expectNativeError(() => addon.adamStep(16, a, b, a, b, 1e-3, 0.9, 0.999, 1e-8, 0, false, 1), 'ERR_ARG', "'param'", "'m'");
    // a view shares its parent's memory: it counts as the same storage
    expectNativeError(() => addon.gemm(false, false, 2, 2, 2, 1, a, b, 0, addon.view(a, 16, 16)), 'ERR_ARG', "'c'", "'a'", 'different');
  });

  it('rejects freed storages', () => {
    const cpu = scopes.cpu;
    const x = cpu.floats([1, 2]), y = cpu.out(2);
    x.free();
    expectNativeError(() => addon.reluForward(2, x, y), 'ERR_FREED', "'x'", 'freed');
    expectNativeError(() => addon.read(x, new Float32Array(2)), 'ERR_FREED', 'read');
    expectNativeError(() => addon.copy(y, x, 4), 'ERR_FREED', "'src'");
  });

  it('checks hyperparameters, seeds and labels', () => {
    const cpu = scopes.cpu;
    const a = cpu.out(4), b = cpu.out(4), c = cpu.out(4), d = cpu.out(4);
    expectNativeError(() => addon.adamStep(4, a, b, c, d, 1e-3, 1, 0.999, 1e-8, 0, false, 1), 'ERR_ARG', "'beta1'");
    expectNativeError(() => addon.adamStep(4, a, b, c, d, -1, 0.9, 0.999, 1e-8, 0, false, 1), 'ERR_ARG', "'lr'");
    expectNativeError(() => addon.adamStep(4, a, b, c, d, 1e-3, 0.9, 0.999, 1e-8, 0, false, 0), 'ERR_ARG', "'step'");
    expectNativeError(() => addon.sgdStep(4, a, b, c, 0.1, 0.9, 0.1, 0, true, true), 'ERR_ARG', 'nesterov');
    expectNativeError(() => addon.dropoutForward(4, a, b, c, 1, 0n, 0n), 'ERR_ARG', "'p'", '[0, 1)');
    expectNativeError(() => addon.dropoutForward(4, a, b, c, 0.5, 1 as unknown as bigint, 0n), 'ERR_ARG', "'seed'", 'bigint');
    expectNativeError(() => addon.uniform(4, a, 0, 1, -1n, 0n), 'ERR_ARG', "'seed'", '2^64');
    expectNativeError(() => addon.uniform(4, a, 0, 1, 0n, 1n << 64n), 'ERR_ARG', "'offset'");
    expectNativeError(() => addon.uniform(4, a, 1, 0, 0n, 0n), 'ERR_ARG', "'lo'");
    expectNativeError(() => addon.normal(4, a, 0, -1, 0n, 0n), 'ERR_ARG', "'std'");
    expectNativeError(() => addon.softmaxXentForward(2, 3, cpu.out(6), cpu.ints([0, 3]), cpu.out(6), cpu.out(1)), 'ERR_ARG', 'labels[1] = 3', '[0, 3)');
    expectNativeError(() => addon.softmaxXentBackward(2, 3, cpu.out(6), cpu.ints([-1, 0]), cpu.out(1), cpu.out(6)), 'ERR_ARG', 'labels[0] = -1');
  });

  it('rejects bad storage requests', () => {
    expectNativeError(() => new addon.Storage('tpu' as 'cpu', 16), 'ERR_ARG', "'cpu' or 'cuda'");
    expectNativeError(() => new addon.Storage('cpu', -1), 'ERR_ARG', "'bytes'");
    expectNativeError(() => new addon.Storage('cpu', 1.5), 'ERR_ARG', "'bytes'");
    expectNativeError(() => (addon.Storage as unknown as (d: string) => unknown)('cpu'), 'ERR_ARG');
    // far more than any machine has (4 PiB)
    expectNativeError(() => new addon.Storage('cpu', 2 ** 52), 'ERR_OOM', 'out of host memory');
  });

  it.skipIf(cudaAvailable)(`asking for cuda without a usable GPU is ERR_NO_CUDA with the reason${cudaAvailable ? '' : ` (${cudaReason})`}`, () => {
    expectNativeError(() => new addon.Storage('cuda', 16), 'ERR_NO_CUDA', cudaReason);
    expectNativeError(() => addon.synchronize('cuda'), 'ERR_NO_CUDA', cudaReason);
    expect(addon.memoryStats('cuda')).toEqual({ allocated: 0, reserved: 0, storages: 0 });
  });

  it.skipIf(!cudaAvailable)(`storages of one call must share a device${cudaAvailable ? '' : ` (skipped: ${cudaReason})`}`, () => {
    const x = scopes.cpu.floats([1, 2]);
    const y = scopes.cuda.out(2);
    expectNativeError(() => addon.reluForward(2, x, y), 'ERR_DEVICE', "'x' is on cpu", "'y' is on cuda");
  });

  it('still works after all of that', () => {
    const cpu = scopes.cpu;
    const y = cpu.out(3);
    addon.reluForward(3, cpu.floats([-1, 0, 2]), y);
    expect(Array.from(cpu.read(y))).toEqual([0, 0, 2]);
  });
});
