// the cpu thread pool when a worker thread cannot be started (a container's
// process limit), made to happen with CUDALAB_TEST_FAIL_AT=thread-create[:n]
// in a child process: the ops still give the reference's results, the same
// bits as a pool that started every worker, and the failure is reported
// once on stderr, however many ops run afterwards.
import { spawnSync } from 'child_process';
import { describe, expect, it } from 'vitest';
import { gemmRef } from '../../src/spec/gemm';
import { addonPath } from '../helpers/native';
import { Rng } from '../helpers/rng';

const [M, N, K] = [192, 160, 144];
const WARNING = 'could not start a cpu worker thread';

/** runs gemm and sumAxis 5 times each in a child process on 4 threads; returns the results and stderr */
function child(failAt: string | undefined, a: Float32Array, b: Float32Array) {
  const script = `
    const addon = require(${JSON.stringify(addonPath)});
    const store = (v) => { const s = new addon.Storage('cpu', v.length * 4); addon.write(s, Float32Array.from(v)); return s; };
    const read = (s, n) => { const f = new Float32Array(n); addon.read(s, f); return Array.from(f); };
    const [a, b] = JSON.parse(require('fs').readFileSync(0, 'utf8')).map(store);
    const runs = [];
    for (let i = 0; i < 5; i++) {
      const c = store(new Float32Array(${M * N}).fill(NaN));
      addon.gemm(false, false, ${M}, ${N}, ${K}, 1, a, b, 0, c);
      const y = store(new Float32Array(${N}).fill(NaN));
      addon.sumAxis(1, ${M}, ${N}, c, y);
      runs.push({ c: read(c, ${M * N}), y: read(y, ${N}) });
    }
    process.stdout.write(JSON.stringify({ runs, threads: addon.getNumThreads() }));`;
  const env: NodeJS.ProcessEnv = { ...process.env, CUDALAB_NUM_THREADS: '4' };
  delete env.CUDALAB_TEST_FAIL_AT;
  if (failAt !== undefined) env.CUDALAB_TEST_FAIL_AT = failAt;
  const r = spawnSync(process.execPath, ['-e', script], { input: JSON.stringify([Array.from(a), Array.from(b)]), encoding: 'utf8', env, maxBuffer: 1 << 26 });
  expect(r.status, String(r.error ?? r.stderr)).toBe(0);
  return { ...(JSON.parse(r.stdout) as { runs: { c: number[]; y: number[] }[]; threads: number }), stderr: r.stderr };
}

describe('cpu thread pool', () => {
  const rng = new Rng(61);
  const a = rng.floats(M * K), b = rng.floats(K * N);
  const c = gemmRef(false, false, M, N, K, 1, a, b, 0, null);
  const y = new Float64Array(N);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) y[j] += c[i * N + j];
  const healthy = child(undefined, a, b);

  it('starts its workers and matches the reference when nothing fails', () => {
    expect(healthy.stderr).not.toContain(WARNING);
    expectReference(healthy.runs);
  });

  for (const [failAt, left] of [['thread-create:2', 'on 2 threads'], ['thread-create', 'on 1 thread']] as const) {
    it(`carries on with the same results when a worker cannot start (CUDALAB_TEST_FAIL_AT=${failAt}), and says so once`, () => {
      const run = child(failAt, a, b);
      expect(run.stderr.split(WARNING).length - 1, run.stderr).toBe(1);
      expect(run.stderr).toContain(left);
      expect(run.threads).toBe(4);
      expectReference(run.runs);
      // the pieces do not depend on which threads run them: the same bits
      for (const r of run.runs) {
        expect(r.c).toEqual(healthy.runs[0].c);
        expect(r.y).toEqual(healthy.runs[0].y);
      }
    });
  }

  function expectReference(runs: { c: number[]; y: number[] }[]) {
    const scaleC = Math.max(...c.map(Math.abs)), scaleY = Math.max(...y.map(Math.abs));
    for (const r of runs) {
      expect(Math.max(...r.c.map((v, i) => Math.abs(v - c[i])))).toBeLessThan(1e-5 * scaleC);
      expect(Math.max(...r.y.map((v, i) => Math.abs(v - y[i])))).toBeLessThan(1e-5 * scaleY);
    }
  }
});

// the pool's threads live until the process exits, so the library is linked
// never to be unloaded from under them (-z nodelete), whatever the compiler
const readelf = spawnSync('readelf', ['--version']);
const nodeleteSkip = process.platform !== 'linux' ? 'only linux builds link with -z nodelete' : readelf.error ? 'readelf is not installed' : '';
describe.skipIf(nodeleteSkip !== '')(`the built addon${nodeleteSkip ? ` (skipped: ${nodeleteSkip})` : ''}`, () => {
  it('is marked never to be unloaded (readelf -d: FLAGS_1 NODELETE)', () => {
    const r = spawnSync('readelf', ['-d', addonPath], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const flags = r.stdout.split('\n').find((line) => line.includes('(FLAGS_1)'));
    expect(flags, `${addonPath} has no FLAGS_1 entry`).toBeDefined();
    expect(flags).toMatch(/\bNODELETE\b/);
  });
});
