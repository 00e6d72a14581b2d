// the seeded generator for test inputs lives with the op specs, which draw every case's inputs from it
export { Rng } from '../../src/spec/rng';
