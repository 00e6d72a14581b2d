import crypto from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterEach, describe, expect, it } from 'vitest';
import { addPath } from '../../src/dvc/add';
import { formatIni, loadRepoConfig, parseIni, resolveRemote, writeIniFile } from '../../src/dvc/config';
import { formatDvcFile, makeOut, outHashName, readDvcFile } from '../../src/dvc/dvcfile';
import { Progress } from '../../src/dvc/progress';
import { collectOuts, findDvcFiles, openRepo } from '../../src/dvc/repo';
import { status } from '../../src/dvc/status';

const temps: string[] = [];
function tempRepo(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cudalab-dvc-repo-'));
  temps.push(dir);
  fs.mkdirSync(path.join(dir, '.dvc'));
  return dir;
}
afterEach(() => {
  for (const dir of temps.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('.dvc files', () => {
  it('writes the DVC 3 layout', () => {
    const out = makeOut({ md5: '5a4dac22e9efa9601e85168028da3631.dir', size: 9, nfiles: 2, path: 'd' });
    expect(formatDvcFile({ outs: [out] })).toBe(
      'outs:\n- md5: 5a4dac22e9efa9601e85168028da3631.dir\n  size: 9\n  nfiles: 2\n  hash: md5\n  path: d\n',
    );
    const file = makeOut({ md5: 'b1946ac92492d2347c6235b4d2611184', size: 6, path: 'a.txt' }, { desc: 'kept', md5: 'old' });
    expect(formatDvcFile({ outs: [file] })).toBe('outs:\n- md5: b1946ac92492d2347c6235b4d2611184\n  size: 6\n  hash: md5\n  path: a.txt\n  desc: kept\n');
  });

  it('reads DVC 2 files (no hash: field) as legacy', () => {
    const dir = tempRepo();
    fs.writeFileSync(path.join(dir, 'old.dvc'), 'outs:\n- md5: 0b1d4d6bd1e8e4d2eb5b7a4cbcf1a69e.dir\n  size: 12\n  nfiles: 1\n  path: old\n');
    const f = readDvcFile(path.join(dir, 'old.dvc'));
    expect(outHashName(f.outs[0])).toBe('md5-dos2unix');
    const [out] = collectOuts(openRepo(dir), ['old'], dir);
    expect(out).toMatchObject({ legacy: true, isDir: true, display: 'old', oid: '0b1d4d6bd1e8e4d2eb5b7a4cbcf1a69e.dir' });
  });

  it('names the file and the problem on bad input', () => {
    const dir = tempRepo();
    const bad = path.join(dir, 'bad.dvc');
    fs.writeFileSync(bad, 'outs:\n- md5: nothex\n  path: x\n');
    expect(() => readDvcFile(bad)).toThrow(`${bad}: outs[0] (x): md5 'nothex' is not 32 hex digits`);
    fs.writeFileSync(bad, 'outs: [\n');
    expect(() => readDvcFile(bad)).toThrow(`${bad}: not valid YAML`);
    fs.writeFileSync(bad, 'outs:\n- md5: b1946ac92492d2347c6235b4d2611184\n  hash: sha256\n  path: x\n');
    expect(() => readDvcFile(bad)).toThrow(/hash 'sha256' is not supported/);
    // a tag DVC never writes is refused, not read as plain text with a warning on stderr
    fs.writeFileSync(bad, 'outs:\n- md5: !!python/object:os.system b1946ac92492d2347c6235b4d2611184\n  path: x\n');
    expect(() => readDvcFile(bad)).toThrow(new RegExp(`${bad}: not valid YAML \\(.*python/object:os\\.system`));
    expect(() => collectOuts(openRepo(dir), ['nothing'], dir)).toThrow(/nothing: not a .dvc file and not tracked/);
  });
});

describe('.dvc/config', () => {
  it("reads configobj's INI as DVC writes it, config.local overriding", () => {
    const dir = tempRepo();
    fs.writeFileSync(
      path.join(dir, '.dvc', 'config'),
      "[core]\n    remote = storage\n    autostage = true\n['remote \"storage\"']\n    url = s3://bucket/some/path/ # where\n    region = eu-west-1\n; a comment\n# another\n[\"remote \\\"other\\\"\"]\n",
    );
    writeIniFile(path.join(dir, '.dvc', 'config.local'), {
      'remote "storage"': { access_key_id: 'AKIDEXAMPLE', secret_access_key: 'se#cret,value', endpointurl: 'http://127.0.0.1:9000' },
    });
    expect(fs.readFileSync(path.join(dir, '.dvc', 'config.local'), 'utf8')).toBe(
      '[\'remote "storage"\']\n    access_key_id = AKIDEXAMPLE\n    secret_access_key = "se#cret,value"\n    endpointurl = http://127.0.0.1:9000\n',
    );
    const remote = resolveRemote(loadRepoConfig(dir));
    expect(remote).toMatchObject({
      name: 'storage',
      bucket: 'bucket',
      prefix: 'some/path',
      region: 'eu-west-1',
      endpointUrl: 'http://127.0.0.1:9000',
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'se#cret,value',
    });
  });

  it('round-trips and reports bad lines by file and line', () => {
    const sections = { core: { remote: 'r' }, 'remote "r"': { url: 's3://b/p', note: " padded " } };
    expect(parseIni(formatIni(sections), 'x')).toEqual(sections);
    expect(() => parseIni('[core\nremote = x\n', '.dvc/config')).toThrow('.dvc/config:1: expected a section header');
    expect(() => parseIni('remote = x\n', '.dvc/config')).toThrow(".dvc/config:1: 'key = value' before any [section]");
    expect(() => parseIni('[core]\nremote x\n', '.dvc/config')).toThrow(".dvc/config:2: expected 'key = value'");
  });

  it('explains missing or unsupported remotes', () => {
    expect(() => resolveRemote({})).toThrow(/no remote given and no default remote/);
    expect(() => resolveRemote({ core: { remote: 'x' } })).toThrow("remote 'x' is not defined");
    expect(() => resolveRemote({ 'remote "g"': { url: 'gs://b/p' } }, 'g')).toThrow(/only S3 remotes are supported/);
  });

  it('parses the shipped .dvc/config', () => {
    const remote = resolveRemote(loadRepoConfig(path.join(__dirname, '..', '..')));
    expect(remote.name).toBe('storage');
    expect(remote.url.startsWith('s3://')).toBe(true);
  });
});

describe('progress', () => {
  it('redraws one line on a terminal and clears it at the end', () => {
    const written: string[] = [];
    const p = new Progress('pull', 2, 2_000_000, { isTTY: true, write: (t) => void written.push(t) });
    p.bytes(1_000_000);
    p.objectDone();
    p.bytes(1_000_000);
    p.objectDone();
    p.finish();
    expect(written[0]).toBe('\rpull: 0/2 objects, 1.0/2.0 MB\x1b[K');
    expect(written).toContain('\rpull: 2/2 objects, 2.0/2.0 MB\x1b[K');
    expect(written[written.length - 1]).toBe('\r\x1b[K');
    const quiet: string[] = [];
    const q = new Progress('push', 1, null, { isTTY: false, write: (t) => void quiet.push(t) });
    q.objectDone();
    q.finish();
    expect(quiet).toEqual([]); // logs only get lines for transfers that take a while
  });
});

describe('add', () => {
  it('caches a directory in the DVC 3 layout, writes the .dvc file and .gitignore', async () => {
    const dir = tempRepo();
    const d = path.join(dir, 'data', 'd');
    fs.mkdirSync(path.join(d, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(d, 'a.txt'), 'hello\n');
    fs.writeFileSync(path.join(d, 'sub', 'b.bin'), Buffer.from([0, 1, 2]));
    fs.writeFileSync(path.join(dir, 'data', '.gitignore'), '/other');
    const repo = openRepo(dir);
    const result = await addPath(repo, 'data/d', { cwd: dir, progress: null });
    expect(fs.readFileSync(path.join(dir, 'data', 'd.dvc'), 'utf8')).toBe(
      'outs:\n- md5: 5a4dac22e9efa9601e85168028da3631.dir\n  size: 9\n  nfiles: 2\n  hash: md5\n  path: d\n',
    );
    expect(fs.readFileSync(path.join(dir, 'data', '.gitignore'), 'utf8')).toBe('/other\n/d\n');
    expect(result.gitignore).toBe(path.join(dir, 'data', '.gitignore'));
    const cache = path.join(dir, '.dvc', 'cache', 'files', 'md5');
    expect(fs.readFileSync(path.join(cache, 'b1', '946ac92492d2347c6235b4d2611184'), 'utf8')).toBe('hello\n');
    expect(fs.readFileSync(path.join(cache, 'b9', '5f67f61ebb03619622d798f45fc2d3'))).toEqual(Buffer.from([0, 1, 2]));
    expect(fs.readFileSync(path.join(cache, '5a', '4dac22e9efa9601e85168028da3631.dir'), 'utf8')).toBe(
      '[{"md5": "b1946ac92492d2347c6235b4d2611184", "relpath": "a.txt"}, {"md5": "b95f67f61ebb03619622d798f45fc2d3", "relpath": "sub/b.bin"}]',
    );
    // cache objects are read-only; no temporary files remain
    expect(fs.statSync(path.join(cache, 'b1', '946ac92492d2347c6235b4d2611184')).mode & 0o222).toBe(0);
    const leftovers = fs.readdirSync(path.join(dir, '.dvc', 'cache')).filter((n) => n.endsWith('.tmp'));
    expect(leftovers).toEqual([]);

    // adding again changes nothing and does not duplicate the .gitignore line
    await addPath(repo, 'data/d/', { cwd: dir, progress: null });
    expect(fs.readFileSync(path.join(dir, 'data', '.gitignore'), 'utf8')).toBe('/other\n/d\n');
    expect(findDvcFiles(dir)).toEqual([path.join(dir, 'data', 'd.dvc')]);

    const [st] = await status(repo, [], { cwd: dir });
    expect(st).toMatchObject({ path: 'data/d', workspace: 'ok', notInCache: [], remote: null });
    fs.writeFileSync(path.join(d, 'a.txt'), 'changed\n');
    fs.writeFileSync(path.join(d, 'new.txt'), 'x');
    fs.rmSync(path.join(d, 'sub', 'b.bin'));
    const [changed] = await status(repo, ['data/d.dvc'], { cwd: dir });
    expect(changed.workspace).toBe('modified');
    expect(changed.changes).toEqual([
      { path: 'data/d/a.txt', change: 'modified' },
      { path: 'data/d/new.txt', change: 'new' },
      { path: 'data/d/sub/b.bin', change: 'deleted' },
    ]);
  });

  it('tracks a single file and refuses what it cannot track', async () => {
    const dir = tempRepo();
    fs.writeFileSync(path.join(dir, 'f.csv'), 'a,b\n');
    const repo = openRepo(dir);
    await addPath(repo, 'f.csv', { cwd: dir, progress: null });
    const md5 = crypto.createHash('md5').update('a,b\n').digest('hex');
    expect(fs.readFileSync(path.join(dir, 'f.csv.dvc'), 'utf8')).toBe(`outs:\n- md5: ${md5}\n  size: 4\n  hash: md5\n  path: f.csv\n`);
    expect(fs.readFileSync(path.join(dir, '.gitignore'), 'utf8')).toBe('/f.csv\n');
    await expect(addPath(repo, 'nope', { cwd: dir, progress: null })).rejects.toThrow('nope: no such file or directory');
    fs.writeFileSync(path.join(dir, '.dvc', 'config'), '');
    await expect(addPath(repo, '.dvc/config', { cwd: dir, progress: null })).rejects.toThrow(/cannot be tracked/);
    fs.mkdirSync(path.join(dir, 'd'));
    fs.writeFileSync(path.join(dir, 'd', 'x'), 'x');
    await addPath(repo, 'd', { cwd: dir, progress: null });
    await expect(addPath(repo, 'd/x', { cwd: dir, progress: null })).rejects.toThrow('d/x: inside d, which d.dvc already tracks');
    await expect(addPath(repo, '.', { cwd: dir, progress: null })).rejects.toThrow(/not a path inside it/);
    fs.mkdirSync(path.join(dir, 'outer', 'inner'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'outer', 'inner', 'y'), 'y');
    await addPath(repo, 'outer/inner', { cwd: dir, progress: null });
    await expect(addPath(repo, 'outer', { cwd: dir, progress: null })).rejects.toThrow('outer: holds .dvc files (inner.dvc); its outputs would be tracked twice');
  });
});
