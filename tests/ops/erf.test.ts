// the float64 error function the gelu reference stands on, against known
// values (as Python's math.erf and math.erfc give them, correctly rounded to
// about an ulp) on both sides of the switch between series and fraction
import { describe, expect, it } from 'vitest';
import { erf, erfc, normalCdf, normalPdf } from '../../src/spec/erf';

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

describe('erf (float64)', () => {
  const ERF: Array<[number, number]> = [
    [1e-10, 1.1283791670955126e-10],
    [0.1, 0.1124629160182849],
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [2, 0.9953222650189527],
    [-2.5, -0.999593047982555],
    [3, 0.9999779095030014],
  ];
  it.each(ERF)('erf(%s) to 1e-15 relative', (x, want) => {
    expect(rel(erf(x), want)).toBeLessThan(1e-15);
  });

  const ERFC: Array<[number, number]> = [
    [-1.5, 1.9661051464753108],
    [3, 2.2090496998585438e-5],
    [4, 1.541725790028002e-8],
    [5, 1.5374597944280351e-12],
    [10, 2.088487583762545e-45],
    [26, 5.663192408856143e-296],
  ];
  it.each(ERFC)('erfc(%s) to 1e-15 relative', (x, want) => {
    expect(rel(erfc(x), want)).toBeLessThan(1e-15);
  });

  it('is odd, continuous where the series hands over to the fraction, and saturates', () => {
    for (const x of [0.3, 1.7, 2.9, 3.1, 6]) expect(erf(-x)).toBe(-erf(x));
    expect(Math.abs(erf(3 - 1e-12) - erf(3 + 1e-12))).toBeLessThan(1e-15);
    // below 3, erfc is 1 - erf: good to 1e-16 absolute (of a value near 2e-5)
    expect(Math.abs(erfc(3 - 1e-12) - erfc(3 + 1e-12))).toBeLessThan(1e-15);
    expect(erf(40)).toBe(1);
    expect(erf(-40)).toBe(-1);
    expect(erf(0)).toBe(0);
    expect(erf(NaN)).toBeNaN();
  });

  it('gives the normal distribution: cdf(0) = 1/2, cdf(-x) = 1 - cdf(x), pdf its derivative', () => {
    expect(normalCdf(0)).toBe(0.5);
    // Phi(1.959963984540054) = 0.975
    expect(rel(normalCdf(1.959963984540054), 0.975)).toBeLessThan(1e-15);
    for (const x of [0.2, 1, 2.5, 5]) expect(Math.abs(normalCdf(-x) + normalCdf(x) - 1)).toBeLessThan(1e-15);
    // on the left tail, where the cdf's small values are held to full relative precision
    for (const x of [-5, -2.5, -1, 0.2, 1]) {
      const h = 1e-5;
      expect(rel((normalCdf(x + h) - normalCdf(x - h)) / (2 * h), normalPdf(x))).toBeLessThan(1e-9);
    }
  });
});
