// a .dvc file (or a path given to add) must never make the data commands
// write, or read, outside the repository: not through an absolute path, not
// through ../, not through a symbolic link. each case here is one that,
// unchecked, would check files out (or read them) elsewhere; the command must
// refuse it before fetching or writing anything.
import fs from 'fs';
import path from 'path';
import { describe, expect, it } from 'vitest';
import { addPath } from '../../src/dvc/add';
import { DvcError } from '../../src/dvc/errors';
import { pull } from '../../src/dvc/pull';
import { push } from '../../src/dvc/push';
import { addAll, dropWorkspaceAndCache, filesUnder, Fixture, fixture, md5, quiet, remoteKeys, tempDir, useS3Repos, writeData } from './s3-repos';

useS3Repos();

/** the error `run` rejects with, checked to be the named outside-the-repository one */
async function refusal(run: Promise<unknown>): Promise<DvcError> {
  const err = await run.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DvcError);
  expect((err as DvcError).code).toBe('ERR_DVC_OUTSIDE_REPO');
  return err as DvcError;
}

/** a repository with data/f.bin and data/d added and pushed, then its workspace data and cache dropped */
async function pushedRepo(): Promise<{ f: Fixture; files: Record<string, Buffer> }> {
  const f = fixture();
  const files = writeData(f.dir);
  await addAll(f);
  await push(f.repo(), [], { cwd: f.dir, ...quiet });
  dropWorkspaceAndCache(f.dir);
  return { f, files };
}

/** a hostile .dvc file: one out at `outPath` holding the bytes of data/f.bin (which the remote has) */
function writeHostileDvc(dvcFile: string, outPath: string, content: Buffer): void {
  fs.mkdirSync(path.dirname(dvcFile), { recursive: true });
  fs.writeFileSync(dvcFile, `outs:\n- md5: ${md5(content)}\n  size: ${content.length}\n  hash: md5\n  path: ${JSON.stringify(outPath)}\n`);
}

function expectNothingPulled(f: Fixture): void {
  expect(filesUnder(path.join(f.dir, '.dvc', 'cache'))).toEqual([]);
  expect(fs.existsSync(path.join(f.dir, 'data', 'f.bin'))).toBe(false);
  expect(fs.existsSync(path.join(f.dir, 'data', 'd'))).toBe(false);
}

describe('pull refuses outputs outside the repository', () => {
  it('an absolute path', async () => {
    const { f, files } = await pushedRepo();
    const outside = tempDir('cudalab-outside-');
    const target = path.join(outside, 'elsewhere', 'f.bin');
    const dvcFile = path.join(f.dir, 'evil.dvc');
    writeHostileDvc(dvcFile, target, files['data/f.bin']);
    // every .dvc file, and the hostile one named
    for (const targets of [[], ['evil.dvc']]) {
      const err = await refusal(pull(f.repo(), targets, { cwd: f.dir, ...quiet }));
      expect(err.message).toContain(dvcFile);
      expect(err.message).toContain(`'${target}'`);
      expect(err.message).toContain(`outside the repository at ${f.dir}`);
      expect(filesUnder(outside)).toEqual([]);
      expectNothingPulled(f);
    }
  });

  it('a ../ path', async () => {
    const { f, files } = await pushedRepo();
    const outside = tempDir('cudalab-outside-');
    const dvcFile = path.join(f.dir, 'sub', 'evil.dvc');
    const rel = path.relative(path.dirname(dvcFile), path.join(outside, 'x'));
    expect(rel.startsWith(`..${path.sep}..${path.sep}`)).toBe(true);
    writeHostileDvc(dvcFile, rel, files['data/f.bin']);
    const err = await refusal(pull(f.repo(), [], { cwd: f.dir, ...quiet }));
    expect(err.message).toContain(dvcFile);
    expect(err.message).toContain(`'${rel}'`);
    expect(err.message).toContain(f.dir);
    expect(filesUnder(outside)).toEqual([]);
    expectNothingPulled(f);
  });

  it('a symbolic link in the repository that leads out of it', async () => {
    const { f, files } = await pushedRepo();
    const outside = tempDir('cudalab-outside-');
    fs.symlinkSync(outside, path.join(f.dir, 'link'));
    const dvcFile = path.join(f.dir, 'evil.dvc');
    writeHostileDvc(dvcFile, 'link/f.bin', files['data/f.bin']);
    const err = await refusal(pull(f.repo(), [], { cwd: f.dir, ...quiet }));
    expect(err.message).toContain(dvcFile);
    expect(err.message).toContain("'link/f.bin'");
    expect(err.message).toContain(`resolves to ${path.join(fs.realpathSync(outside), 'f.bin')} (following symbolic links), outside the repository at ${f.dir}`);
    expect(filesUnder(outside)).toEqual([]);
    expectNothingPulled(f);
  });

  it('a symbolic link inside a tracked directory that leads out of it', async () => {
    const { f } = await pushedRepo();
    const outside = tempDir('cudalab-outside-');
    // the manifest lists sub/b.bin and sub/deeper/é ü.txt: sub is now a link out
    fs.mkdirSync(path.join(f.dir, 'data', 'd'), { recursive: true });
    fs.symlinkSync(outside, path.join(f.dir, 'data', 'd', 'sub'));
    const err = await refusal(pull(f.repo(), [], { cwd: f.dir, ...quiet }));
    expect(err.message).toContain(path.join(f.dir, 'data', 'd.dvc'));
    expect(err.message).toContain('data/d/sub/b.bin');
    expect(filesUnder(outside)).toEqual([]);
    // the manifest had to be fetched to know the files; none of them was
    expect(filesUnder(path.join(f.dir, '.dvc', 'cache')).filter((p) => !p.endsWith('.dir'))).toEqual([]);
    expect(fs.existsSync(path.join(f.dir, 'data', 'f.bin'))).toBe(false);
  });

  it('.git and the repository root itself', async () => {
    const { f, files } = await pushedRepo();
    writeHostileDvc(path.join(f.dir, 'evil.dvc'), '.git/hooks/pre-commit', files['data/f.bin']);
    await refusal(pull(f.repo(), [], { cwd: f.dir, ...quiet }));
    writeHostileDvc(path.join(f.dir, 'evil.dvc'), '.', files['data/f.bin']);
    await refusal(pull(f.repo(), [], { cwd: f.dir, ...quiet }));
    expect(fs.existsSync(path.join(f.dir, '.git'))).toBe(false);
    expectNothingPulled(f);
  });
});

describe('push and add refuse paths outside the repository', () => {
  it('push does not read (or upload) a file outside through a .dvc file', async () => {
    const f = fixture();
    const outside = tempDir('cudalab-outside-');
    const secret = Buffer.from('not for the remote\n');
    fs.writeFileSync(path.join(outside, 'secret'), secret);
    fs.symlinkSync(outside, path.join(f.dir, 'link'));
    for (const outPath of [path.join(outside, 'secret'), path.relative(f.dir, path.join(outside, 'secret')), 'link/secret']) {
      writeHostileDvc(path.join(f.dir, 'evil.dvc'), outPath, secret);
      const err = await refusal(push(f.repo(), [], { cwd: f.dir, ...quiet }));
      expect(err.message).toContain(`'${outPath}'`);
      expect(await remoteKeys(f.prefix)).toEqual([]);
      expect(filesUnder(path.join(f.dir, '.dvc', 'cache'))).toEqual([]);
    }
  });

  it('add of a path outside, directly or through a symbolic link, writes nothing', async () => {
    const f = fixture();
    const outside = tempDir('cudalab-outside-');
    fs.writeFileSync(path.join(outside, 'secret'), 'x');
    fs.mkdirSync(path.join(outside, 'folder'));
    fs.writeFileSync(path.join(outside, 'folder', 'y'), 'y');
    fs.symlinkSync(outside, path.join(f.dir, 'link'));
    fs.symlinkSync(path.join(outside, 'secret'), path.join(f.dir, 'file-link'));
    for (const target of [path.join(outside, 'secret'), path.join(outside, 'folder'), 'link/secret', 'link/folder', 'file-link', 'link']) {
      const err = await refusal(addPath(f.repo(), target, { cwd: f.dir, ...quiet }));
      expect(err.message).toContain(target);
      expect(err.message).toContain(f.dir);
    }
    expect(filesUnder(outside)).toEqual(['folder/y', 'secret']);
    expect(filesUnder(path.join(f.dir, '.dvc', 'cache'))).toEqual([]);
    expect(fs.readdirSync(f.dir).sort()).toEqual(['.dvc', 'file-link', 'link']);
  });
});
