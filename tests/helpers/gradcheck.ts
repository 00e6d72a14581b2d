// central differences live with the op specs (the checker judges backward kernels with them)
export { numericGradient, numericGradientScalar } from '../../src/spec/gradient';
