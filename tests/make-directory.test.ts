// makeDirectory walks the path itself: what it makes, what it refuses and how
// it names it. (under /proc, where node's own recursive mkdir never returns,
// it is tested through the CLI in a child process: tests/train/cli.test.ts.)
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryError, makeDirectory } from '../src/make-directory';

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-mkdir-'));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

function directoryError(fn: () => void): DirectoryError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DirectoryError);
    return err as DirectoryError;
  }
  throw new Error('expected a DirectoryError');
}

describe('makeDirectory', () => {
  it('makes the missing parents, and takes an existing directory as it is', () => {
    const deep = path.join(root, 'a', 'b', 'c');
    makeDirectory(deep);
    expect(fs.statSync(deep).isDirectory()).toBe(true);
    fs.writeFileSync(path.join(deep, 'keep'), 'x');
    makeDirectory(deep);
    makeDirectory(path.join(root, 'a'));
    expect(fs.readFileSync(path.join(deep, 'keep'), 'utf8')).toBe('x');
  });

  it('takes a relative path', () => {
    const cwd = process.cwd();
    process.chdir(root);
    try {
      makeDirectory(path.join('rel', 'x'));
    } finally {
      process.chdir(cwd);
    }
    expect(fs.statSync(path.join(root, 'rel', 'x')).isDirectory()).toBe(true);
  });

  it('names the directory and the file in the way', () => {
    fs.writeFileSync(path.join(root, 'file'), 'x');
    const e = directoryError(() => makeDirectory(path.join(root, 'file', 'run')));
    expect(e.code).toBe('ENOTDIR');
    expect(e.message).toBe(`cannot create the directory ${path.join(root, 'file', 'run')}: ${path.join(root, 'file')} is a file, not a directory`);
  });

  it.skipIf(process.getuid?.() === 0)('names the directory and the part it may not make', () => {
    const locked = path.join(root, 'locked');
    fs.mkdirSync(locked, { mode: 0o500 });
    try {
      const e = directoryError(() => makeDirectory(path.join(locked, 'x', 'y')));
      expect(e.code).toBe('EACCES');
      expect(e.message).toMatch(new RegExp(`mkdir ${path.join(locked, 'x').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} failed \\(EACCES\\)`));
    } finally {
      fs.chmodSync(locked, 0o700);
    }
  });
});
