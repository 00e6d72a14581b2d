// the error function in float64, for the gelu reference (JavaScript has no
// Math.erf). two classic expansions, each used where it converges fast and
// loses nothing to cancellation:
// - |x| < 3: erf(x) = 2/sqrt(pi) * exp(-x^2) * sum over n of 2^n x^(2n+1) / (1*3*...*(2n+1)),
//   a series of positive terms (no cancellation, unlike the Taylor series)
// - |x| >= 3: erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + (2/2)/(x + (3/2)/(x + ...)))),
//   Laplace's continued fraction, evaluated from a fixed depth upwards
// both are good to a few units of 1e-16, relative (tests/ops/erf.test.ts holds
// them to known values).

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const ONE_OVER_SQRT_PI = 0.5641895835477563;
const SERIES_LIMIT = 3;
// at x >= 3 the fraction's truncation error after 60 levels is far below 1e-17
const FRACTION_DEPTH = 60;

/** erf(x) for |x| < 3 by the positive series */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (Math.abs(term) < 1e-17 * Math.abs(sum)) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

/** erfc(x) for x >= 3 by the continued fraction */
function erfcFraction(x: number): number {
  let f = x;
  for (let k = FRACTION_DEPTH; k >= 1; k--) f = x + k / 2 / f;
  return (ONE_OVER_SQRT_PI * Math.exp(-x * x)) / f;
}

/** the error function */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (Math.abs(x) < SERIES_LIMIT) return erfSeries(x);
  return x > 0 ? 1 - erfcFraction(x) : erfcFraction(-x) - 1;
}

/** 1 - erf(x), without losing the small values for large x */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= SERIES_LIMIT) return erfcFraction(x);
  if (x <= -SERIES_LIMIT) return 2 - erfcFraction(-x);
  return 1 - erfSeries(x);
}

/** the standard normal distribution function, 0.5 * (1 + erf(x / sqrt(2))) */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** the standard normal density */
export function normalPdf(x: number): number {
  return Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}
