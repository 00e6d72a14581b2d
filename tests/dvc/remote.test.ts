// push, pull and status against a real S3-protocol server (s3rver behind a
// signature-checking front, see s3-server.ts), in temporary repositories.
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Command } from 'commander';
import fs from 'fs';
import path from 'path';
import { describe, expect, it } from 'vitest';
import { registerDataVersioning } from '../../src/cli/data-dvc';
import { addPath } from '../../src/dvc/add';
import { pull } from '../../src/dvc/pull';
import { push } from '../../src/dvc/push';
import { formatStatus, status } from '../../src/dvc/status';
import { runCli } from '../helpers/run-cli';
import { addAll, BUCKET, client, dropWorkspaceAndCache, filesUnder, fixture, md5, quiet, remoteKeys, s3, useS3Repos, writeData } from './s3-repos';

useS3Repos();

describe('push and pull through S3', () => {
  it('round-trips: add, push, delete data and cache, pull gives identical bytes', async () => {
    const f = fixture();
    const files = writeData(f.dir);
    await addAll(f);
    const pushed = await push(f.repo(), [], { cwd: f.dir, jobs: 3, ...quiet });
    expect(pushed).toMatchObject({ uploaded: 6, alreadyOnRemote: 0, outputs: 2 });

    // the remote holds exactly the DVC 3 layout
    const dirOid = fs.readFileSync(path.join(f.dir, 'data', 'd.dvc'), 'utf8').match(/md5: ([0-9a-f]{32}\.dir)/)![1];
    // and push counted every byte it sent, though three uploads ran at once
    const manifestSize = fs.statSync(path.join(f.dir, '.dvc', 'cache', 'files', 'md5', dirOid.slice(0, 2), dirOid.slice(2))).size;
    expect(pushed.bytes).toBe(Object.values(files).reduce((sum, b) => sum + b.length, 0) + manifestSize);
    const expectedKeys = [...Object.values(files).map(md5), dirOid].map((oid) => `${f.prefix}/files/md5/${oid.slice(0, 2)}/${oid.slice(2)}`);
    expect(await remoteKeys(f.prefix)).toEqual(expectedKeys.sort());
    // the manifest is uploaded after every file it lists
    const putsHere = s3().puts.filter((p) => p.includes(f.prefix));
    expect(putsHere.findIndex((p) => p.endsWith('.dir'))).toBe(putsHere.length - 1 - putsHere.slice().reverse().findIndex((p) => p.endsWith('.dir')));
    const dirPut = putsHere.findIndex((p) => p.endsWith('.dir'));
    for (const name of ['a.txt', 'sub/b.bin', 'big.bin']) {
      const oid = md5(files[`data/d/${name}`]);
      expect(putsHere.findIndex((p) => p.endsWith(`${oid.slice(0, 2)}/${oid.slice(2)}`))).toBeLessThan(dirPut);
    }

    dropWorkspaceAndCache(f.dir);
    const pulled = await pull(f.repo(), [], { cwd: f.dir, jobs: 3, ...quiet });
    expect(pulled).toMatchObject({ fetched: 6, checkedOut: 5, upToDate: 0 });
    for (const [rel, bytes] of Object.entries(files)) expect(fs.readFileSync(path.join(f.dir, rel)).equals(bytes)).toBe(true);
    expect(fs.existsSync(path.join(f.dir, '.dvc', 'cache', 'files', 'md5', dirOid.slice(0, 2), dirOid.slice(2)))).toBe(true);

    // nothing left to do, and status agrees
    expect(await push(f.repo(), [], { cwd: f.dir, ...quiet })).toMatchObject({ uploaded: 0, alreadyOnRemote: 6 });
    expect(await pull(f.repo(), ['data/d'], { cwd: f.dir, ...quiet })).toMatchObject({ fetched: 0, checkedOut: 0, upToDate: 4 });
    const st = await status(f.repo(), [], { cwd: f.dir });
    expect(st.map((s) => [s.path, s.workspace, s.notInCache.length, s.remote])).toEqual([
      ['data/d', 'ok', 0, { name: 'storage', missing: [], damaged: [] }],
      ['data/f.bin', 'ok', 0, { name: 'storage', missing: [], damaged: [] }],
    ]);
    expect(formatStatus(st)).toBe("data/d: up to date (workspace, cache, remote 'storage')\ndata/f.bin: up to date (workspace, cache, remote 'storage')\n");
  });

  it('reports what is missing or modified, locally and on the remote', async () => {
    const f = fixture();
    writeData(f.dir);
    await addAll(f);
    let [d] = await status(f.repo(), ['data/d'], { cwd: f.dir });
    expect(d.remote).toEqual({ name: 'storage', missing: ['data/d (manifest)', 'data/d/a.txt', 'data/d/big.bin', 'data/d/sub/b.bin', 'data/d/sub/deeper/é ü.txt'], damaged: [] });
    await push(f.repo(), ['data/d.dvc'], { cwd: f.dir, ...quiet });
    [d] = await status(f.repo(), ['data/d'], { cwd: f.dir });
    expect(d.remote).toEqual({ name: 'storage', missing: [], damaged: [] });
    const [fbin] = await status(f.repo(), ['data/f.bin'], { cwd: f.dir });
    expect(fbin.remote).toEqual({ name: 'storage', missing: ['data/f.bin'], damaged: [] });

    // an object damaged on the remote (its size differs from the cached copy) is reported, and push replaces it
    const aKey = `${f.prefix}/files/md5/b1/946ac92492d2347c6235b4d2611184`;
    await client().send(new PutObjectCommand({ Bucket: BUCKET, Key: aKey, Body: Buffer.from('hell') }));
    [d] = await status(f.repo(), ['data/d'], { cwd: f.dir });
    expect(d.remote).toEqual({ name: 'storage', missing: [], damaged: ['data/d/a.txt'] });
    expect(formatStatus([d])).toContain("remote 'storage': 1 object(s) differ in size from the cached copy (damaged; push replaces them)\n    data/d/a.txt");
    expect(await push(f.repo(), ['data/d'], { cwd: f.dir, ...quiet })).toMatchObject({ uploaded: 1 });
    [d] = await status(f.repo(), ['data/d'], { cwd: f.dir });
    expect(d.remote).toEqual({ name: 'storage', missing: [], damaged: [] });

    // modified and missing in the workspace
    fs.writeFileSync(path.join(f.dir, 'data', 'd', 'a.txt'), 'edited\n');
    fs.rmSync(path.join(f.dir, 'data', 'f.bin'));
    const st = await status(f.repo(), [], { cwd: f.dir, local: true });
    expect(st.map((s) => [s.path, s.workspace, s.changes, s.remote])).toEqual([
      ['data/d', 'modified', [{ path: 'data/d/a.txt', change: 'modified' }], null],
      ['data/f.bin', 'missing', [], null],
    ]);
    expect(formatStatus(st)).toBe('data/d:\n  workspace: modified\n    modified: data/d/a.txt\ndata/f.bin:\n  workspace: missing\n');

    // pull refuses to overwrite the edit without --force, and writes nothing
    await expect(pull(f.repo(), [], { cwd: f.dir, ...quiet })).rejects.toThrow(/differ from what their .dvc files record; pull with --force[\s\S]*data\/d\/a.txt/);
    expect(fs.existsSync(path.join(f.dir, 'data', 'f.bin'))).toBe(false);
    expect(await pull(f.repo(), [], { cwd: f.dir, force: true, ...quiet })).toMatchObject({ checkedOut: 2, upToDate: 3 });
    expect(fs.readFileSync(path.join(f.dir, 'data', 'd', 'a.txt'), 'utf8')).toBe('hello\n');
  });

  it('names objects missing from the remote and checks out the rest', async () => {
    const f = fixture();
    const files = writeData(f.dir);
    await addAll(f);
    await push(f.repo(), [], { cwd: f.dir, ...quiet });
    const oid = md5(files['data/d/a.txt']);
    const key = `${f.prefix}/files/md5/${oid.slice(0, 2)}/${oid.slice(2)}`;
    await client().send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    dropWorkspaceAndCache(f.dir);
    await expect(pull(f.repo(), [], { cwd: f.dir, ...quiet })).rejects.toThrow(`1 object(s) missing from the remote:\n  data/d/a.txt (${key})`);
    expect(fs.existsSync(path.join(f.dir, 'data', 'd', 'a.txt'))).toBe(false);
    expect(fs.readFileSync(path.join(f.dir, 'data', 'd', 'big.bin')).equals(files['data/d/big.bin'])).toBe(true);
    const [d] = await status(f.repo(), ['data/d'], { cwd: f.dir });
    expect(d.remote).toEqual({ name: 'storage', missing: ['data/d/a.txt'], damaged: [] });
    expect(d.notInCache).toEqual(['data/d/a.txt']);
  });

  it('never stores or checks out a corrupted or truncated object', async () => {
    const f = fixture();
    const files = writeData(f.dir);
    await addAll(f);
    await push(f.repo(), [], { cwd: f.dir, ...quiet });
    const keyOf = (rel: string) => {
      const oid = md5(files[rel]);
      return `${f.prefix}/files/md5/${oid.slice(0, 2)}/${oid.slice(2)}`;
    };
    // same length, one byte flipped
    const flipped = Buffer.from(files['data/d/big.bin']);
    flipped[12345] ^= 0xff;
    await client().send(new PutObjectCommand({ Bucket: BUCKET, Key: keyOf('data/d/big.bin'), Body: flipped }));
    // cut short on the server
    await client().send(new PutObjectCommand({ Bucket: BUCKET, Key: keyOf('data/f.bin'), Body: files['data/f.bin'].subarray(0, 100) }));
    dropWorkspaceAndCache(f.dir);
    const err = await pull(f.repo(), [], { cwd: f.dir, ...quiet }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message).toContain(`object ${keyOf('data/d/big.bin')} (data/d/big.bin) is corrupted`);
    expect(message).toContain(`object ${keyOf('data/f.bin')} (data/f.bin) is corrupted: its 100 bytes hash to`);
    for (const rel of ['data/d/big.bin', 'data/f.bin']) {
      expect(fs.existsSync(path.join(f.dir, rel))).toBe(false);
      const oid = md5(files[rel]);
      expect(fs.existsSync(path.join(f.dir, '.dvc', 'cache', 'files', 'md5', oid.slice(0, 2), oid.slice(2)))).toBe(false);
    }
    // the intact files made it
    expect(fs.readFileSync(path.join(f.dir, 'data', 'd', 'a.txt'), 'utf8')).toBe('hello\n');

    // a connection dropped mid-object leaves nothing behind either
    await client().send(new PutObjectCommand({ Bucket: BUCKET, Key: keyOf('data/f.bin'), Body: files['data/f.bin'] }));
    s3().truncate.add(`/${BUCKET}/${keyOf('data/f.bin')}`);
    try {
      await expect(pull(f.repo(), ['data/f.bin'], { cwd: f.dir, ...quiet })).rejects.toThrow(`the download of ${keyOf('data/f.bin')} (data/f.bin) broke off`);
    } finally {
      s3().truncate.clear();
    }
    expect(fs.existsSync(path.join(f.dir, 'data', 'f.bin'))).toBe(false);
    const leftovers = filesUnder(path.join(f.dir, '.dvc', 'cache')).filter((n) => n.endsWith('.tmp'));
    expect(leftovers).toEqual([]);
    // and once the remote serves it whole, pull completes
    expect(await pull(f.repo(), ['data/f.bin'], { cwd: f.dir, ...quiet })).toMatchObject({ fetched: 1, checkedOut: 1 });

    // a cache object damaged after the fact is not checked out: it is fetched again
    const cached = path.join(f.dir, '.dvc', 'cache', 'files', 'md5', md5(files['data/f.bin']).slice(0, 2), md5(files['data/f.bin']).slice(2));
    fs.chmodSync(cached, 0o644);
    fs.writeFileSync(cached, 'garbage');
    fs.rmSync(path.join(f.dir, 'data', 'f.bin'));
    await pull(f.repo(), ['data/f.bin'], { cwd: f.dir, ...quiet });
    expect(fs.readFileSync(path.join(f.dir, 'data', 'f.bin')).equals(files['data/f.bin'])).toBe(true);
  });

  it('refuses to push a damaged cache object', async () => {
    const f = fixture();
    fs.mkdirSync(path.join(f.dir, 'data'));
    fs.writeFileSync(path.join(f.dir, 'data', 'x.txt'), 'original\n');
    await addPath(f.repo(), 'data/x.txt', { cwd: f.dir, ...quiet });
    const oid = md5('original\n');
    const cached = path.join(f.dir, '.dvc', 'cache', 'files', 'md5', oid.slice(0, 2), oid.slice(2));
    fs.chmodSync(cached, 0o644);
    fs.writeFileSync(cached, 'tampered\n');
    await expect(push(f.repo(), [], { cwd: f.dir, ...quiet })).rejects.toThrow(`${cached} (data/x.txt) is corrupted in the cache`);
    expect(await remoteKeys(f.prefix)).toEqual([]);
  });

  it('explains a wrong bucket', async () => {
    const f = fixture({ url: 's3://no-such-bucket/x' });
    writeData(f.dir);
    await addAll(f);
    const expected = "remote 'storage' (s3://no-such-bucket/x at " + s3().endpoint + "): bucket 'no-such-bucket' does not exist";
    await expect(push(f.repo(), [], { cwd: f.dir, ...quiet })).rejects.toThrow(expected);
    fs.rmSync(path.join(f.dir, '.dvc', 'cache'), { recursive: true });
    await expect(pull(f.repo(), [], { cwd: f.dir, force: true, ...quiet })).rejects.toThrow(expected);
    const [d] = await status(f.repo(), ['data/d'], { cwd: f.dir });
    expect(d.remote).toEqual({ name: 'storage', error: expected });
  });

  it('rejects bad credentials without ever printing them', async () => {
    const badSecret = 'WRONG-secret-value-do-not-print';
    const f = fixture({}, { secret_access_key: badSecret });
    writeData(f.dir);
    await addAll(f);
    const err = (await push(f.repo(), [], { cwd: f.dir, ...quiet }).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/the request signature was rejected, the secret access key is wrong/);
    expect(err.message).not.toContain(badSecret);
    expect(err.message).not.toContain(s3().accessKeyId);
    expect(await remoteKeys(f.prefix)).toEqual([]);

    const badKeyId = 'AKIA-UNKNOWN-KEY-ID-1234';
    const g = fixture({}, { access_key_id: badKeyId });
    writeData(g.dir);
    await addAll(g);
    const err2 = (await push(g.repo(), [], { cwd: g.dir, ...quiet }).catch((e: Error) => e)) as Error;
    expect(err2.message).toMatch(/the server does not know this access key id/);
    expect(err2.message).not.toContain(badKeyId);
    expect(err2.message).not.toContain(s3().secretAccessKey);
    const [d] = await status(g.repo(), ['data/d'], { cwd: g.dir });
    expect(d.remote && 'error' in d.remote && d.remote.error).toMatch(/does not know this access key id/);

    // and the CLI surfaces the same message, with nothing secret on stdout
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
    try {
      const program = new Command().exitOverride();
      registerDataVersioning(program.command('data'));
      await expect(program.parseAsync(['node', 'cudalab', 'data', 'push', '-C', f.dir], { from: 'node' })).rejects.toThrow(/secret access key is wrong/);
    } finally {
      process.stdout.write = write;
    }
    expect(out.join('')).not.toContain(badSecret);
  });
});

describe('DVC 2 repositories', () => {
  it('pulls and verifies the legacy layout and text hashing', async () => {
    const f = fixture();
    // what DVC 2 would have pushed: CRLF text named by its LF md5, binary as is
    const text = Buffer.from('line one\r\nline two\r\n');
    const binary = Buffer.from([0, 13, 10, 13, 10, 255]);
    const single = Buffer.from('x\r\ny\r\n');
    const textOid = md5('line one\nline two\n');
    const binOid = md5(binary);
    const singleOid = md5('x\ny\n');
    const manifest = `[{"md5": "${textOid}", "relpath": "notes.txt"}, {"md5": "${binOid}", "relpath": "raw/blob.bin"}]`;
    const dirOid = md5(manifest) + '.dir';
    const legacyKey = (oid: string) => `${f.prefix}/${oid.slice(0, 2)}/${oid.slice(2)}`;
    for (const [oid, body] of [[textOid, text], [binOid, binary], [singleOid, single], [dirOid, Buffer.from(manifest)]] as const) {
      await client().send(new PutObjectCommand({ Bucket: BUCKET, Key: legacyKey(oid), Body: body }));
    }
    fs.writeFileSync(path.join(f.dir, 'old.dvc'), `outs:\n- md5: ${dirOid}\n  size: ${text.length + binary.length}\n  nfiles: 2\n  path: old\n`);
    fs.writeFileSync(path.join(f.dir, 'single.txt.dvc'), `md5: 0123\nouts:\n- md5: ${singleOid}\n  path: single.txt\n`);

    expect(await pull(f.repo(), [], { cwd: f.dir, ...quiet })).toMatchObject({ fetched: 4, checkedOut: 3 });
    // raw bytes come back untouched; the cache uses the legacy layout
    expect(fs.readFileSync(path.join(f.dir, 'old', 'notes.txt')).equals(text)).toBe(true);
    expect(fs.readFileSync(path.join(f.dir, 'old', 'raw', 'blob.bin')).equals(binary)).toBe(true);
    expect(fs.readFileSync(path.join(f.dir, 'single.txt')).equals(single)).toBe(true);
    expect(fs.existsSync(path.join(f.dir, '.dvc', 'cache', textOid.slice(0, 2), textOid.slice(2)))).toBe(true);
    expect(fs.existsSync(path.join(f.dir, '.dvc', 'cache', dirOid.slice(0, 2), dirOid.slice(2)))).toBe(true);
    const st = await status(f.repo(), [], { cwd: f.dir });
    expect(st.map((s) => [s.path, s.workspace, s.notInCache, s.remote])).toEqual([
      ['old', 'ok', [], { name: 'storage', missing: [], damaged: [] }],
      ['single.txt', 'ok', [], { name: 'storage', missing: [], damaged: [] }],
    ]);

    // a legacy object whose bytes do not match its (dos2unix) name is refused
    await client().send(new PutObjectCommand({ Bucket: BUCKET, Key: legacyKey(textOid), Body: Buffer.from('line one\r\nline 2\r\n') }));
    fs.rmSync(path.join(f.dir, '.dvc', 'cache'), { recursive: true });
    fs.rmSync(path.join(f.dir, 'old'), { recursive: true });
    await expect(pull(f.repo(), ['old'], { cwd: f.dir, ...quiet })).rejects.toThrow(`object ${legacyKey(textOid)} (old/notes.txt) is corrupted`);
    expect(fs.existsSync(path.join(f.dir, 'old', 'notes.txt'))).toBe(false);

    // pushing a DVC 2 output writes the legacy layout
    await client().send(new PutObjectCommand({ Bucket: BUCKET, Key: legacyKey(textOid), Body: text }));
    await pull(f.repo(), ['old'], { cwd: f.dir, ...quiet });
    for (const oid of [textOid, binOid, dirOid]) await client().send(new DeleteObjectCommand({ Bucket: BUCKET, Key: legacyKey(oid) }));
    expect(await push(f.repo(), ['old.dvc'], { cwd: f.dir, ...quiet })).toMatchObject({ uploaded: 3 });
    expect(await remoteKeys(f.prefix)).toEqual([dirOid, textOid, binOid, singleOid].map(legacyKey).sort());
  });
});

describe('the command line', () => {
  it('registers add, push, pull and status with help and options', async () => {
    const program = new Command().exitOverride();
    const data = program.command('data');
    registerDataVersioning(data);
    const names = data.commands.map((c) => c.name());
    expect(names).toEqual(['add', 'push', 'pull', 'status']);
    for (const c of data.commands) {
      expect(c.description().length).toBeGreaterThan(20);
      const flags = c.options.map((o) => o.long);
      expect(flags).toContain('--repo');
      if (c.name() !== 'add') expect(flags).toEqual(expect.arrayContaining(['--remote', '--jobs']));
    }

    const f = fixture();
    writeData(f.dir);
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
    const stderrWrite = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      await program.parseAsync(['node', 'cudalab', 'data', 'add', '-C', f.dir, 'data/d', 'data/f.bin'], { from: 'node' });
      await program.parseAsync(['node', 'cudalab', 'data', 'push', '-C', f.dir, '-j', '2'], { from: 'node' });
      fs.rmSync(path.join(f.dir, 'data', 'f.bin'));
      await program.parseAsync(['node', 'cudalab', 'data', 'status', '-C', f.dir, '--local'], { from: 'node' });
      await program.parseAsync(['node', 'cudalab', 'data', 'pull', '-C', f.dir, 'data/f.bin.dvc'], { from: 'node' });
      await expect(program.parseAsync(['node', 'cudalab', 'data', 'pull', '-C', f.dir, '-j', '0'], { from: 'node' })).rejects.toThrow('--jobs: expected an integer from 1 to 256, got 0');
    } finally {
      process.stdout.write = write;
      process.stderr.write = stderrWrite;
    }
    const text = out.join('');
    expect(text).toMatch(/added data\/d \(4 files, 3\.1 MB\) as [0-9a-f]{32}\.dir/);
    expect(text).toContain('pushed 6 object(s)');
    expect(text).toContain('data/f.bin:\n  workspace: missing\n');
    expect(text).toContain('fetched 0 object(s), 0.0 MB; checked out 1 file(s), 0 already up to date');
  });

  it('exits 2 on a bad --jobs, and 1 on a remote no config defines', async () => {
    const f = fixture();
    writeData(f.dir);
    await addAll(f);
    for (const command of ['push', 'pull', 'status']) {
      for (const jobs of ['0', '257', 'abc', '1.5']) {
        const r = await runCli('data', command, '-C', f.dir, '-j', jobs);
        expect([command, jobs, r.code]).toEqual([command, jobs, 2]);
        expect(r.stderr).toContain(`--jobs: expected an integer from 1 to 256, got ${jobs}`);
      }
      const r = await runCli('data', command, '-C', f.dir, '-r', 'nosuch');
      expect([command, r.code]).toEqual([command, 1]);
      expect(r.stderr).toContain("remote 'nosuch' is not defined in .dvc/config or .dvc/config.local (defined: storage)");
    }
    await expect(status(f.repo(), [], { cwd: f.dir, remote: 'nosuch' })).rejects.toMatchObject({ code: 'ERR_DVC_UNKNOWN_REMOTE' });
    // so is a default remote that names nothing
    fs.writeFileSync(path.join(f.dir, '.dvc', 'config'), fs.readFileSync(path.join(f.dir, '.dvc', 'config'), 'utf8').replace('remote = storage', 'remote = gone'));
    const r = await runCli('data', 'status', '-C', f.dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("remote 'gone' is not defined in .dvc/config or .dvc/config.local (defined: storage)");
    expect(await remoteKeys(f.prefix)).toEqual([]);
  });
});
