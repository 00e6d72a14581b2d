// temporary repositories whose remote is a prefix of a bucket on the test S3
// server (see s3-server.ts). a test file calls useS3Repos() once: the server
// runs for that file's tests, and each fixture's folder is removed after its test.
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import crypto from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { addPath } from '../../src/dvc/add';
import { writeIniFile } from '../../src/dvc/config';
import { openRepo, Repo } from '../../src/dvc/repo';
import { startS3, TestS3 } from './s3-server';

export const BUCKET = 'dvc-test';
let server: TestS3 | undefined;
let sdk: S3Client | undefined;
const temps: string[] = [];
let counter = 0;

export function useS3Repos(): void {
  beforeAll(async () => {
    server = await startS3([BUCKET]);
    sdk = new S3Client({
      endpoint: server.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    });
  });
  afterAll(async () => {
    sdk?.destroy();
    await server?.close();
  });
  afterEach(() => {
    for (const dir of temps.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
}

/** the running test server */
export function s3(): TestS3 {
  if (!server) throw new Error('the test S3 server is not running: call useS3Repos() in the test file');
  return server;
}

/** an SDK client of the test server, to look at or tamper with the bucket directly */
export function client(): S3Client {
  if (!sdk) throw new Error('the test S3 server is not running: call useS3Repos() in the test file');
  return sdk;
}

/** a temporary folder removed after the test */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

export const md5 = (b: Buffer | string) => crypto.createHash('md5').update(b).digest('hex');
export const quiet = { progress: null };

export interface Fixture {
  dir: string;
  prefix: string;
  repo: () => Repo;
}

/** a temporary repository whose default remote is a fresh prefix of the test bucket */
export function fixture(remote: Record<string, string> = {}, local: Record<string, string> = {}): Fixture {
  const dir = tempDir('cudalab-dvc-repo-');
  const prefix = `store-${process.pid}-${++counter}`;
  writeIniFile(path.join(dir, '.dvc', 'config'), {
    core: { remote: 'storage' },
    'remote "storage"': { url: `s3://${BUCKET}/${prefix}`, endpointurl: s3().endpoint, ...remote },
  });
  writeIniFile(path.join(dir, '.dvc', 'config.local'), {
    'remote "storage"': { access_key_id: s3().accessKeyId, secret_access_key: s3().secretAccessKey, ...local },
  });
  return { dir, prefix, repo: () => openRepo(dir) };
}

/** data/d with text, binary, nested, non-ASCII and multi-MiB files, plus data/f.bin */
export function writeData(dir: string): Record<string, Buffer> {
  const files: Record<string, Buffer> = {
    'data/d/a.txt': Buffer.from('hello\n'),
    'data/d/sub/b.bin': Buffer.from([0, 1, 2]),
    'data/d/sub/deeper/é ü.txt': Buffer.from('non-ascii name\n'),
    'data/d/big.bin': crypto.randomBytes(3 * 1024 * 1024 + 17),
    'data/f.bin': crypto.randomBytes(4096),
  };
  for (const [rel, bytes] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), bytes);
  }
  return files;
}

export async function remoteKeys(prefix: string): Promise<string[]> {
  const res = await client().send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/` }));
  return (res.Contents ?? []).map((o) => o.Key!).sort();
}

export function dropWorkspaceAndCache(dir: string): void {
  fs.rmSync(path.join(dir, 'data', 'd'), { recursive: true, force: true });
  fs.rmSync(path.join(dir, 'data', 'f.bin'), { force: true });
  fs.rmSync(path.join(dir, '.dvc', 'cache'), { recursive: true, force: true });
}

export async function addAll(f: Fixture): Promise<void> {
  const repo = f.repo();
  await addPath(repo, 'data/d', { cwd: f.dir, ...quiet });
  await addPath(repo, 'data/f.bin', { cwd: f.dir, ...quiet });
}

/** every file under dir (relative paths), for "nothing was written" checks */
export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)))
    .sort();
}
