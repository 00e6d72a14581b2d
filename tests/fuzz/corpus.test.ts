// the inputs that once found a bug, kept under tests/fixtures/fuzz-corpus/<parser>/,
// replayed through the same checks the fuzz tests make
import { describe, expect, it } from 'vitest';
import { corpus } from './fuzz';
import { CHECKS } from './parsers';

describe('fuzz corpus replay', () => {
  for (const [parser, check] of Object.entries(CHECKS)) {
    it(`${parser}: every kept input ends in a value or a project error, within bounds`, async () => {
      const inputs = corpus(parser);
      expect(inputs.length).toBeGreaterThan(0);
      for (const { name, bytes } of inputs) {
        try {
          await check(bytes);
        } catch (err) {
          throw new Error(`fuzz-corpus/${parser}/${name}: ${(err as Error).message}`);
        }
      }
    });
  }
});
