// the data commands in a child process, SIGKILLed between writing a complete
// temporary file and renaming it into place (CUDALAB_TEST_KILL_AT, see
// atomic-file.ts): each leaves exactly one temporary of the one naming
// scheme, and the next command, whichever it is, leaves none behind. needs
// the compiled program (dist/, built by `npm install` / `npm run build`).
import { spawn } from 'child_process';
import fs from 'fs';
import path from 'path';
import { describe, expect, it } from 'vitest';
import { isTemporaryName } from '../../src/atomic-file';
import { push } from '../../src/dvc/push';
import { addAll, dropWorkspaceAndCache, filesUnder, fixture, quiet, useS3Repos, writeData } from './s3-repos';

useS3Repos();

const root = path.join(__dirname, '..', '..');
const bin = path.join(root, 'bin', 'cudalab.js');
const built = fs.existsSync(path.join(root, 'dist', 'cli', 'index.js'));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

// asynchronous: the S3 server the child talks to runs in this process
function cudalab(args: string[], killAt?: string): Promise<Run> {
  const env = { ...process.env };
  delete env.CUDALAB_TEST_KILL_AT;
  if (killAt) env.CUDALAB_TEST_KILL_AT = killAt;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

async function killed(args: string[]): Promise<void> {
  const r = await cudalab(args, 'before-rename');
  expect(r.signal, r.stderr).toBe('SIGKILL');
}

async function completes(args: string[]): Promise<void> {
  const r = await cudalab(args);
  expect(r.code, r.stderr).toBe(0);
}

/** every temporary file in the repository (the cache included), by relative path */
function temporaries(dir: string): string[] {
  return filesUnder(dir).filter((p) => isTemporaryName(path.basename(p)) || p.endsWith('.tmp'));
}

const hex12 = '[0-9a-f]{12}';

describe.skipIf(!built)('a data command killed mid-write (skipped without dist/: run `npm run build`)', () => {
  it('add: one temporary in the cache, removed by the next status', async () => {
    const f = fixture();
    writeData(f.dir);
    await killed(['data', 'add', '-C', f.dir, 'data/f.bin']);
    const left = temporaries(f.dir);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(new RegExp(`^\\.dvc/cache/\\.incoming\\.${hex12}\\.tmp$`));
    expect(fs.existsSync(path.join(f.dir, 'data', 'f.bin.dvc'))).toBe(false);

    await completes(['data', 'status', '--local', '-C', f.dir]);
    expect(temporaries(f.dir)).toEqual([]);
    await completes(['data', 'add', '-C', f.dir, 'data/f.bin']);
    expect(temporaries(f.dir)).toEqual([]);
  });

  it('pull: into the cache, into the workspace, and inside a tracked directory', async () => {
    const f = fixture();
    const files = writeData(f.dir);
    await addAll(f);
    await push(f.repo(), [], { cwd: f.dir, ...quiet });
    dropWorkspaceAndCache(f.dir);

    // a download, beside the object it was to become
    await killed(['data', 'pull', '-C', f.dir, 'data/f.bin']);
    let left = temporaries(f.dir);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(new RegExp(`^\\.dvc/cache/files/md5/[0-9a-f]{2}/\\.[0-9a-f]{30}\\.${hex12}\\.tmp$`));
    await completes(['data', 'pull', '-C', f.dir]);
    expect(temporaries(f.dir)).toEqual([]);
    for (const [rel, bytes] of Object.entries(files)) expect(fs.readFileSync(path.join(f.dir, rel)).equals(bytes)).toBe(true);

    // a checkout, beside the workspace file; the next status removes it
    fs.rmSync(path.join(f.dir, 'data', 'f.bin'));
    await killed(['data', 'pull', '-C', f.dir, 'data/f.bin']);
    left = temporaries(f.dir);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(new RegExp(`^data/\\.f\\.bin\\.${hex12}\\.tmp$`));
    await completes(['data', 'status', '--local', '-C', f.dir]);
    expect(temporaries(f.dir)).toEqual([]);

    // a checkout deep in a tracked directory; the next push removes it
    fs.rmSync(path.join(f.dir, 'data', 'd', 'sub', 'b.bin'));
    await killed(['data', 'pull', '-C', f.dir, 'data/d']);
    left = temporaries(f.dir);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(new RegExp(`^data/d/sub/\\.b\\.bin\\.${hex12}\\.tmp$`));
    await completes(['data', 'push', '-C', f.dir]);
    expect(temporaries(f.dir)).toEqual([]);
    await completes(['data', 'pull', '-C', f.dir]);
    expect(fs.readFileSync(path.join(f.dir, 'data', 'd', 'sub', 'b.bin')).equals(files['data/d/sub/b.bin'])).toBe(true);
  });
});
