// `cudalab worker --upload`: a worker without shared storage pushes each
// finished run directory to the DVC S3 remote of the repository holding its
// --out; the waiting sweep writes the .dvc file beside its results, and
// `cudalab data pull` there brings back the run, byte for byte
import fs from 'fs';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSplit, writeTinyCifarBin } from '../train/tiny-cifar';
import { fixture, remoteKeys, tempDir, useS3Repos } from '../dvc/s3-repos';
import { built, runCliProcess, startCli, type CliProcess } from './cli-process';
import { RedisServer, redisServerBinary } from './redis-server';

const redisBinary = redisServerBinary();
const skipReason = !built ? 'no dist/: run `npm run build`' : redisBinary === null ? 'redis-server is not installed (apt-get install redis-server; .ci/run does)' : '';

useS3Repos();
let redis: RedisServer | null = null;
let worker: CliProcess | null = null;
beforeAll(async () => {
  if (!skipReason) redis = await RedisServer.start(redisBinary!);
});
afterAll(async () => {
  if (worker && worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
  await worker?.exited;
  await redis?.dispose();
});

const filesOf = (dir: string) => Object.fromEntries(
  (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort().map((f) => [f, fs.readFileSync(path.join(dir, f)).toString('base64')]),
);

describe.skipIf(skipReason !== '')(`worker --upload${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('pushes a finished run to the DVC remote, and the sweep side pulls it from its .dvc file', async () => {
    const data = tempDir('cudalab-upload-data-');
    writeTinyCifarBin(data, makeSplit(40, 5), makeSplit(20, 6));
    // two repositories on the same remote prefix: the worker's and the sweep's, no folder shared
    const w = fixture();
    const s = tempDir('cudalab-upload-sweep-');
    fs.cpSync(path.join(w.dir, '.dvc'), path.join(s, '.dvc'), { recursive: true });
    const file = path.join(s, 'up.json');
    fs.writeFileSync(file, JSON.stringify({ name: 'up', base: { epochs: 1, batch: 8 }, grid: { lr: [0.001] } }));

    const notRepo = await runCliProcess(['worker', '--redis', redis!.url, '--out', path.join(data, 'runs'), '--upload']);
    expect(notRepo.code).toBe(2);
    expect(notRepo.stderr).toMatch(/--upload: not a DVC repository/);

    worker = startCli(['worker', '--redis', redis!.url, '--device', 'cpu', '--data', data, '--out', path.join(w.dir, 'runs'), '--no-download', '--upload']);
    const r = await runCliProcess(['sweep', file, '--redis', redis!.url, '--out', path.join(s, 'runs'), '--json']);
    expect(r.code, r.stderr + worker.stderr()).toBe(0);
    const [row] = JSON.parse(r.stdout);
    expect(row.status).toBe('done');
    const dvcFile = path.join(s, 'runs', 'up', `${row.name}.dvc`);
    expect(fs.readFileSync(dvcFile, 'utf8')).toBe(fs.readFileSync(path.join(w.dir, 'runs', 'up', `${row.name}.dvc`), 'utf8'));
    expect((await remoteKeys(w.prefix)).length).toBeGreaterThan(3);
    expect(fs.existsSync(path.join(s, 'runs', 'up', row.name))).toBe(false);

    const pulled = await runCliProcess(['data', 'pull', dvcFile], {}, s);
    expect(pulled.code, pulled.stderr).toBe(0);
    const ours = filesOf(path.join(s, 'runs', 'up', row.name));
    expect(ours).toEqual(filesOf(path.join(w.dir, 'runs', 'up', row.name)));
    expect(Object.keys(ours)).toEqual(expect.arrayContaining(['config.json', 'metrics.jsonl', 'summary.json', 'checkpoint-epoch-1.safetensors']));
    expect(JSON.parse(Buffer.from(ours['summary.json'], 'base64').toString()).test_accuracy).toBe(row.test_accuracy);
  }, 60_000);
});
