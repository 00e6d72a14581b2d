// shapes whose derived sizes would overflow the kernels' int arithmetic are
// refused by the binding (ERR_SHAPE or ERR_ARG, naming the argument, the
// quantity and the limit) before any kernel runs: without the check these
// tiny tensors gave Infinity (an average pool's divisor kh*kw wrapped to 0) or
// wrote outside the tensors (padded heights and window starts that wrap).
// next to each refusal, the largest shape on the right side of the limit runs
// and matches a float64 reference.
import { describe, expect, it } from 'vitest';
import type { ConvShape, PoolShape } from '../../src/native';
import { addon, expectNativeError, useScopes } from '../helpers/native';

const scopes = useScopes();
const INT_MAX = 2 ** 31 - 1;
// the largest dimension or product extent: 2^17 below 2^31 leaves the tiled
// cuda gemm room to round up to whole tiles and K chunks
const MAX_EXTENT = INT_MAX - 2 ** 17;

function conv(over: Partial<ConvShape>): ConvShape {
  return { n: 1, c: 1, h: 1, w: 1, k: 1, r: 1, s: 1, strideH: 1, strideW: 1, padH: 0, padW: 0, p: 1, q: 1, ...over };
}

function pool(over: Partial<PoolShape>): PoolShape {
  return { n: 1, c: 1, h: 1, w: 1, kh: 1, kw: 1, strideH: 1, strideW: 1, padH: 0, padW: 0, p: 1, q: 1, ...over };
}

describe('shapes past the int limits', () => {
  it("refuses an average pool whose window size kh*kw overflows int (its divisor)", () => {
    const cpu = scopes.cpu;
    // a 1x1 image padded to 65537 a side: 2x2 windows of 65536^2 = 2^32 elements each
    const s = pool({ kh: 65536, kw: 65536, padH: 32768, padW: 32768, p: 2, q: 2 });
    expectNativeError(() => addon.avgpool2dForward(s, cpu.floats([3]), cpu.out(4)), 'ERR_SHAPE', 'avgpool2dForward', "'s'", 'kh*kw = 4294967296', String(INT_MAX));
    expectNativeError(() => addon.avgpool2dBackward(s, cpu.floats([1, 1, 1, 1]), cpu.out(1)), 'ERR_SHAPE', 'kh*kw');
    // 46340^2 = 2147395600 fits: every window holds the one pixel, padding counts in the divisor
    const fits = pool({ kh: 46340, kw: 46340, padH: 23170, padW: 23170, p: 2, q: 2 });
    const y = cpu.out(4);
    addon.avgpool2dForward(fits, cpu.floats([3]), y);
    for (const v of cpu.read(y)) expect(Math.abs(v - 3 / (46340 * 46340)) / (3 / (46340 * 46340))).toBeLessThan(1e-6);
  });

  it('refuses a convolution whose padded height (h + 2*padH + strideH - 1) overflows int', () => {
    const cpu = scopes.cpu;
    // p = (1 + 2^31 - 1) / 2^30 + 1 = 3 rows, from a 1x16 image: the padded copy's height wrapped
    const s = conv({ w: 16, strideH: 2 ** 30, padH: 2 ** 30, p: 3, q: 16 });
    expectNativeError(() => addon.conv2dForward(s, cpu.floats(new Float32Array(16).fill(1)), cpu.floats([2]), null, cpu.out(48)),
      'ERR_SHAPE', 'conv2dForward', "'s'", `h + 2*padH + strideH - 1 = ${1 + 2 ** 31 + 2 ** 30 - 1}`, String(INT_MAX));
    // the same along w, for the input gradient: the first valid output column, (padW + strideW - 1) / strideW, wrapped
    const t = conv({ strideW: INT_MAX, padW: 2 ** 29 });
    expectNativeError(() => addon.conv2dBackwardInput(t, cpu.floats([5]), cpu.floats([2]), cpu.out(1)), 'ERR_SHAPE', "'s'", 'w + 2*padW + strideW - 1');
    expectNativeError(() => addon.conv2dBackwardWeight(t, cpu.floats([1]), cpu.floats([5]), cpu.out(1), null), 'ERR_SHAPE', 'w + 2*padW + strideW - 1');
    expectNativeError(() => addon.maxpool2dForward(pool({ strideH: INT_MAX, padH: 1, kh: 2, p: 1 }), cpu.floats([1]), cpu.out(1), cpu.outInts(1)), 'ERR_SHAPE', 'h + 2*padH + strideH - 1');
    // right at the limit: a stride of 2^31-1 over an unpadded 1-pixel image (y = w*x + bias)
    const edge = conv({ strideH: INT_MAX, strideW: INT_MAX });
    const y = cpu.out(1);
    addon.conv2dForward(edge, cpu.floats([1.5]), cpu.floats([2]), cpu.floats([0.25]), y);
    expect(Array.from(cpu.read(y))).toEqual([3.25]);
  });

  it("refuses a weight gradient whose product has more than the limit's columns (c*r*s + 1, the bias column)", () => {
    const cpu = scopes.cpu;
    // c*r*s = 2^16 * (2^15 - 1) = 2147418112: below 2^31-1 (k*c*r*s alone would pass), past the extent limit
    const s = conv({ c: 65536, h: 32767, r: 32767, p: 1 });
    const t = cpu.out(1);
    expectNativeError(() => addon.conv2dBackwardWeight(s, t, t, t, null), 'ERR_SHAPE', 'conv2dBackwardWeight', "'s'", 'c*r*s + 1 = 2147418113', String(MAX_EXTENT));
  });

  it('refuses gemm extents the tiled kernels cannot round up to whole tiles in int', () => {
    const cpu = scopes.cpu;
    const t = cpu.out(1);
    for (const [m, n, k, name] of [[MAX_EXTENT + 1, 1, 1, 'm'], [1, MAX_EXTENT + 1, 1, 'n'], [1, 1, MAX_EXTENT + 1, 'k']] as const)
      expectNativeError(() => addon.gemm(false, false, m, n, k, 1, t, t, 0, t), 'ERR_ARG', 'gemm', `'${name}'`, String(MAX_EXTENT));
  });
});
