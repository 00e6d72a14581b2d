// what float32 arithmetic can be held to: a correctly rounded float32 result
// is within 2^-24 of the exact value, relative to it. the specs state their
// tolerances as a count of such roundings per element, so a tolerance says
// how much arithmetic the kernel does rather than how lucky a case was.

/** float32's unit roundoff: one rounding moves a value by at most this, relative */
export const UNIT_ROUNDOFF = 2 ** -24;

/** a number as the float32 the addon hands to the kernels (scalars are float32 there) */
export const f32 = Math.fround;
