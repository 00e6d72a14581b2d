// the package's two entries, as code that depends on it loads them (the
// package resolves its own name through package.json's "exports"): `require`
// gets dist/index.js, `import` gets dist/index.mjs, which must offer every
// name the CommonJS build does, as the same objects.
import { spawnSync } from 'child_process';
import { beforeAll, expect, it } from 'vitest';
import { REPO, ensureDist } from '../helpers/package';

beforeAll(() => ensureDist(), 120_000);

it('import offers every export of require, as the same objects', () => {
  const script = `
    import * as esm from 'cudalab';
    import { createRequire } from 'module';
    const cjs = createRequire(import.meta.url)('cudalab');
    const names = (o) => Object.keys(o).filter((k) => k !== 'default' && k !== '__esModule').sort();
    console.log(JSON.stringify({ esm: names(esm), cjs: names(cjs), same: names(cjs).every((k) => esm[k] === cjs[k]), defaultIsCjs: esm.default === cjs }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  const out = JSON.parse(r.stdout);
  expect(out.esm).toEqual(out.cjs);
  // what a training loop of one's own needs (examples/custom-model.ts)
  for (const name of ['Tensor', 'nn', 'SGD', 'Adam', 'DataLoader', 'HostBatches', 'loadCifar10', 'groupParameters', 'scheduleFactor', 'evaluate', 'saveWeights', 'loadWeights', 'addonOrigin']) {
    expect(out.cjs).toContain(name);
  }
  expect(out.same).toBe(true);
  expect(out.defaultIsCjs).toBe(true);
});
