// the inputs that once found a bug, kept under tests/fixtures/fuzz-corpus/<parser>/,
// replayed through the same checks the fuzz tests make
import * as fs from 'fs';
import { describe, expect, it } from 'vitest';
import { CORPUS, corpus } from './fuzz';
import { CHECKS } from './parsers';

const folders = fs.readdirSync(CORPUS, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();

describe('fuzz corpus replay', () => {
  for (const parser of folders) {
    it(`${parser}: every kept input ends in a value or a project error, within bounds`, async () => {
      const check = CHECKS[parser];
      expect(check, `a check for fuzz-corpus/${parser}/ in tests/fuzz/parsers.ts`).toBeDefined();
      for (const { name, bytes } of corpus(parser)) {
        try {
          await check(bytes);
        } catch (err) {
          throw new Error(`fuzz-corpus/${parser}/${name}: ${(err as Error).message}`);
        }
      }
    });
  }
});
